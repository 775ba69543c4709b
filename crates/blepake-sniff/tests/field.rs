//! Classes of capture from the field that the shipped captures did not show, each
//! made from a real capture by an edit described where it is made (in memory).

mod common;

use blepake_sniff::Report;
use blepake_sniff::capture::CaptureReader;
use blepake_sniff::codec::frame::crc24;
use blepake_sniff::codec::ll::{AdvPdu, ConnectInd, decode_adv};
use common::{Pcapng, analyse_bytes, analyse_file, data, findings};

fn analyse(bytes: &[u8]) -> Report {
    analyse_bytes(
        bytes,
        &blepake_sniff::Options {
            ltks: Vec::new(),
            brute_force: true,
        },
    )
}

// --- crackle's le_secure_connections.pcapng (LINKTYPE 256, CRC octets kept, flags 0x0027/0x0037:
// CRC not checked). Packet 44 is the CONNECT_IND; packet 62 an empty PDU from the
// central at the start of a connection event.

const LESC: &str = "crackle/le_secure_connections.pcapng";
const CONNECT_IND: usize = 44;
const CENTRAL_EMPTY_PDU: usize = 62;

fn lesc() -> Pcapng {
    Pcapng::parse(&data(LESC))
}

fn connect_ind(capture: &mut Pcapng) -> ConnectInd {
    match decode_adv(capture.packet(CONNECT_IND).pdu()) {
        Ok(AdvPdu::ConnectInd(ind)) => ind,
        other => panic!("packet {CONNECT_IND} is not a CONNECT_IND: {other:?}"),
    }
}

/// The connection event of packet 62 by Vol 6 Part B §4.5.3: event 0 is the first
/// anchor, 1.25 ms + WinOffset after the CONNECT_IND (352 µs on LE 1M) ends, and
/// each interval adds one; from the capture timestamps.
fn event_of_central_empty_pdu() -> u16 {
    let bytes = data(LESC);
    let times: Vec<i64> = CaptureReader::new(bytes.as_slice())
        .unwrap()
        .map(|f| f.unwrap().timestamp_ns / 1000)
        .collect();
    let ind = connect_ind(&mut lesc());
    let interval = i64::from(ind.interval) * 1250;
    let first_anchor = times[CONNECT_IND - 1] + 352 + 1250 + i64::from(ind.win_offset) * 1250;
    let elapsed = times[CENTRAL_EMPTY_PDU - 1] - first_anchor;
    ((elapsed + interval / 4) / interval) as u16
}

/// Packet 62 becomes LL_PHY_UPDATE_IND to LE 2M both ways, its instant 93 events
/// before the event it is sent in (SN/NESN kept, CRC recomputed).
fn phy_update_93_events_late(capture: &mut Pcapng) {
    let crc_init = connect_ind(capture).crc_init;
    let instant = event_of_central_empty_pdu().wrapping_sub(93).to_le_bytes();
    let packet = capture.packet(CENTRAL_EMPTY_PDU);
    let header = packet.pdu()[0];
    assert_eq!(packet.pdu(), &[header, 0], "an empty PDU");
    packet.set_pdu(
        &[(header & 0xfc) | 3, 5, 0x18, 2, 2, instant[0], instant[1]],
        crc_init,
    );
}

/// Every record's three CRC octets zeroed after its verdict was put in the header
/// flags, "CRC checked" (0x0400) and, where the CRC was right, "CRC valid"
/// (0x0800), as some capture tools write them. (Two data packets of the capture
/// were received with a bad CRC.)
fn zero_crcs_keeping_the_verdict(capture: &mut Pcapng) {
    let crc_init = connect_ind(capture).crc_init;
    for packet in capture.packets() {
        let init = if packet.is_advertising() {
            0x55_5555
        } else {
            crc_init
        };
        let len = packet.data.len();
        let valid = packet.data[len - 3..] == crc24(init, packet.pdu());
        packet.data[len - 3..].fill(0);
        let flags = packet.rf_flags() | 0x0400;
        packet.set_rf_flags(if valid { flags | 0x0800 } else { flags });
    }
}

#[test]
fn the_sniffers_crc_verdict_stands_over_zeroed_crc_octets() {
    let unedited = analyse_file(LESC);
    assert_eq!(unedited.stats.crc_errors, 2);
    assert_eq!(
        unedited.stats.crc_not_checked, 0,
        "recomputed: every CRC init is known"
    );
    let mut capture = lesc();
    zero_crcs_keeping_the_verdict(&mut capture);
    let report = analyse(&capture.to_bytes());
    assert_eq!(report.stats.crc_errors, 2, "the sniffer's verdicts stand");
    assert_eq!(report.stats.crc_not_checked, 0);
    // The CONNECT_IND was kept: addresses, parameters and the pairing as before.
    let (conn, before) = (&report.connections[0], &unedited.connections[0]);
    assert_eq!(conn.central, before.central);
    assert!(conn.central.is_some() && conn.peripheral.is_some());
    assert_eq!(conn.parameters, before.parameters);
    assert_eq!(conn.pairings.len(), 1);
    assert_eq!(conn.pairings[0].method, before.pairings[0].method);
}

#[test]
fn a_crc_the_sniffer_marked_invalid_is_an_error_and_one_it_did_not_check_is_counted_apart() {
    let mut capture = lesc();
    // Packet 45, the first data packet: flags say "CRC checked", not valid (its CRC is right).
    let flags = capture.packet(45).rf_flags();
    capture.packet(45).set_rf_flags(flags | 0x0400);
    // Packet 1, an ADV_IND: CRC octets dropped from the record, no verdict.
    let len = capture.packet(1).data.len();
    capture.packet(1).data.truncate(len - 3);
    let report = analyse(&capture.to_bytes());
    assert_eq!(report.stats.crc_errors, 2 + 1);
    assert_eq!(report.stats.crc_not_checked, 1);
}

#[test]
fn phy_update_with_its_instant_in_the_past_under_zeroed_crcs() {
    let mut capture = lesc();
    phy_update_93_events_late(&mut capture);
    zero_crcs_keeping_the_verdict(&mut capture);
    let report = analyse(&capture.to_bytes());
    let found = findings(&report, "ll.instant_in_past");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![CENTRAL_EMPTY_PDU as u64]);
    let event = event_of_central_empty_pdu();
    assert!(
        found[0]
            .cause
            .contains(&format!("connection event {event}"))
            && found[0].cause.contains("93 event(s) in the past"),
        "{}",
        found[0].cause
    );
    assert!(findings(&report, "ll.instant_too_close").is_empty());
}

/// Every data-channel record moved to LE Coded: PHY bits 14-15 of the header
/// flags set to 2 and a coding indicator octet (0x00, S=8) inserted after the
/// access address, where LINKTYPE 256 carries it.
fn on_coded_phy(capture: &mut Pcapng) {
    for packet in capture.packets().filter(|p| !p.is_advertising()) {
        let flags = packet.rf_flags();
        packet.set_rf_flags((flags & 0x3fff) | (2 << 14));
        packet.data.insert(14, 0x00);
    }
}

#[test]
fn coded_phy_packets_skip_their_coding_indicator() {
    let unedited = analyse_file(LESC);
    let mut capture = lesc();
    on_coded_phy(&mut capture);
    let report = analyse(&capture.to_bytes());
    assert_eq!(report.stats.crc_errors, unedited.stats.crc_errors);
    assert_eq!(report.stats.undecodable, unedited.stats.undecodable);
    let conn = &report.connections[0];
    assert_eq!(
        serde_json::to_value(&conn.phy).unwrap(),
        serde_json::json!({"central_to_peripheral": "Coded", "peripheral_to_central": "Coded"})
    );
    assert_eq!(
        serde_json::to_value(&conn.pairings).unwrap(),
        serde_json::to_value(&unedited.connections[0].pairings).unwrap()
    );
}

#[test]
fn phy_update_with_its_instant_in_the_past_sent_over_coded() {
    let mut capture = lesc();
    phy_update_93_events_late(&mut capture);
    on_coded_phy(&mut capture);
    let report = analyse(&capture.to_bytes());
    let found = findings(&report, "ll.instant_in_past");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert!(
        found[0].cause.contains("93 event(s) in the past"),
        "{}",
        found[0].cause
    );
}
