//! Classes of capture from the field that the shipped captures did not show, each
//! made from a real capture by an edit described where it is made (in memory).

mod common;

use blepake_sniff::Report;
use blepake_sniff::capture::CaptureReader;
use blepake_sniff::codec::frame::crc24;
use blepake_sniff::codec::ll::{AdvPdu, ConnectInd, decode_adv};
use blepake_sniff::crypto::{DEBUG_PRIVATE_KEY, f5, f6, g2, p256_dhkey};
use common::{Btsnoop, Pcapng, analyse_bytes, analyse_file, data, findings};

fn analyse(bytes: &[u8]) -> Report {
    analyse_bytes(
        bytes,
        &blepake_sniff::Options {
            ltks: Vec::new(),
            brute_force: true,
            tks: Vec::new(),
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
    assert_phy_update_93_events_late(&report);
}

/// The report of a capture edited by [`phy_update_93_events_late`] judges its
/// instant against the right event.
fn assert_phy_update_93_events_late(report: &Report) {
    let found = findings(report, "ll.instant_in_past");
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
    assert!(findings(report, "ll.instant_too_close").is_empty());
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
    assert_phy_update_93_events_late(&analyse(&capture.to_bytes()));
}

/// The connection made by an AUX_CONNECT_REQ on LE 2M instead of a CONNECT_IND:
/// packet 44's header moved to RF channel 10 (2422 MHz, secondary advertising
/// channel 9), PHY 2M (flags bits 14-15 = 1), PDU type "auxiliary advertising"
/// (bits 7-9 = 1); every data packet's PHY set to 2M as a sniffer following the
/// connection records it; and every packet after 44 moved 1078 µs later, as the
/// transmit window opens 2.5 ms after an AUX_CONNECT_REQ of 180 µs on 2M
/// instead of 1.25 ms after a CONNECT_IND of 352 µs (Vol 6 Part B §4.5.3).
fn connected_by_aux_connect_req_on_2m(capture: &mut Pcapng) {
    let packet = capture.packet(CONNECT_IND);
    packet.data[0] = 10;
    let flags = packet.rf_flags();
    packet.set_rf_flags((flags & 0x3c7f) | (1 << 14) | (1 << 7));
    let moved_us = (2500 - 1250) - (352 - 180);
    for (number, packet) in capture.packets().enumerate() {
        if number + 1 > CONNECT_IND {
            packet.timestamp += moved_us;
        }
        if !packet.is_advertising() {
            let flags = packet.rf_flags();
            packet.set_rf_flags((flags & 0x3fff) | (1 << 14));
        }
    }
}

#[test]
fn a_connection_made_by_aux_connect_req_starts_on_its_phy() {
    let mut capture = lesc();
    connected_by_aux_connect_req_on_2m(&mut capture);
    // And packet 62 as in phy_update_93_events_late: the event clock must follow
    // the later first anchor to judge the instant.
    phy_update_93_events_late(&mut capture);
    let report = analyse(&capture.to_bytes());
    let conn = &report.connections[0];
    assert_eq!(
        serde_json::to_value(conn.aux_connect_phy).unwrap(),
        serde_json::json!("2M")
    );
    assert_eq!(
        serde_json::to_value(&conn.phy).unwrap(),
        serde_json::json!({"central_to_peripheral": "2M", "peripheral_to_central": "2M"})
    );
    let unedited = analyse_file(LESC);
    assert_eq!(unedited.connections[0].aux_connect_phy, None);
    assert_eq!(conn.central, unedited.connections[0].central);
    assert_phy_update_93_events_late(&report);
}

// --- Passkey entry, OOB and numeric comparison, on Bumble's debug-key pairing
// (bumble/bumble_lesc_passkey_654321_debugkey_ok.btsnoop, the initiator's HCI).
// Its SMP: 32 Pairing Request, 34 Pairing Response, 35-37/41 public keys (initiator,
// responder), round i of 20 at 42+6i (initiator's confirm), 44+6i (responder's
// confirm), 45+6i (initiator's random), 47+6i (responder's random); 162/164 DHKey
// checks Ea/Eb; 165 HCI_LE_Enable_Encryption with the LTK.

const DEBUG_KEY: &str = "bumble/bumble_lesc_passkey_654321_debugkey_ok.btsnoop";

fn round_packet(round: usize, offset: usize) -> usize {
    42 + 6 * round + offset
}

/// The SMP command of an H4 ACL record: code at octet 9, parameters after it.
fn smp(record: &mut common::SnoopRecord) -> &mut [u8] {
    assert_eq!(record.data[0], 2, "an ACL record");
    assert_eq!(&record.data[7..9], &[6, 0], "on the SMP channel");
    &mut record.data[9..]
}

fn reversed<const N: usize>(wire: &[u8]) -> [u8; N] {
    let mut out: [u8; N] = wire[..N].try_into().unwrap();
    out.reverse();
    out
}

fn remove_packets(snoop: &mut Btsnoop, numbers: &[usize]) {
    let mut numbers = numbers.to_vec();
    numbers.sort_unstable();
    for n in numbers.into_iter().rev() {
        snoop.records.remove(n - 1);
    }
}

/// What the unedited pairing's keys and addresses are.
struct DebugKeyPairing {
    report: Report,
    pka_x: [u8; 32],
    pka_y: [u8; 32],
    pkb_x: [u8; 32],
    na: [u8; 16],
    nb: [u8; 16],
}

fn debug_key_pairing() -> (Btsnoop, DebugKeyPairing) {
    let mut snoop = Btsnoop::parse(&data(DEBUG_KEY));
    // The initiator's public key goes down in three ACL fragments (35, 36, 37).
    let pka: Vec<u8> = (35..=37)
        .flat_map(|n| snoop.packet(n).data[5..].to_vec())
        .skip(4)
        .collect();
    let pkb = smp(snoop.packet(41)).to_vec();
    let na = reversed(&smp(snoop.packet(round_packet(19, 3)))[1..]);
    let nb = reversed(&smp(snoop.packet(round_packet(19, 5)))[1..]);
    let pairing = DebugKeyPairing {
        report: analyse_file(DEBUG_KEY),
        pka_x: reversed(&pka[1..]),
        pka_y: reversed(&pka[33..]),
        pkb_x: reversed(&pkb[1..]),
        na,
        nb,
    };
    (snoop, pairing)
}

impl DebugKeyPairing {
    fn controller_ltk(&self) -> String {
        self.report.connections[0]
            .encryption
            .key
            .clone()
            .expect("the LTK given to the controller")
    }

    /// Writes Ea and Eb as f6 gives them for these IO capabilities and r values
    /// (the values a pairing by another method with the same keys and nonces sends).
    fn rewrite_checks(&self, snoop: &mut Btsnoop, ra: [u8; 16], rb: [u8; 16]) {
        let conn = &self.report.connections[0];
        let (a, b) = (
            conn.central.unwrap().typed(),
            conn.peripheral.unwrap().typed(),
        );
        let dhkey = p256_dhkey(&DEBUG_PRIVATE_KEY, &self.pka_x, &self.pka_y).unwrap();
        let (mac_key, _) = f5(&dhkey, &self.na, &self.nb, &a, &b);
        let io_cap = |p: &[u8]| [p[3], p[2], p[1]];
        let io_a = io_cap(smp(snoop.packet(32)));
        let io_b = io_cap(smp(snoop.packet(34)));
        let mut ea = f6(&mac_key, &self.na, &self.nb, &rb, &io_a, &a, &b);
        let mut eb = f6(&mac_key, &self.nb, &self.na, &ra, &io_b, &b, &a);
        ea.reverse();
        eb.reverse();
        smp(snoop.packet(162))[1..17].copy_from_slice(&ea);
        smp(snoop.packet(164))[1..17].copy_from_slice(&eb);
    }
}

#[test]
fn a_missed_confirm_leaves_a_gap_in_its_round_not_a_shift() {
    let (mut snoop, pairing) = debug_key_pairing();
    // The responder's confirm of round 3 (packet 62) removed, as if the sniffer missed it.
    remove_packets(&mut snoop, &[round_packet(3, 2)]);
    let report = analyse(&snoop.to_bytes());
    let p = &report.connections[0].pairings[0];
    assert_eq!(p.passkey.as_deref(), Some("654321"), "{p:#?}");
    assert!(p.learned_bits.is_none() && p.passkey_gaps.is_empty());
    assert_eq!(
        p.derived_ltk.as_deref(),
        Some(pairing.controller_ltk().as_str())
    );
    assert_eq!(findings(&report, "smp.passkey_recovered").len(), 1);
}

#[test]
fn a_round_missed_on_both_sides_is_a_gap_of_one_bit() {
    let (mut snoop, _) = debug_key_pairing();
    // Round 3: the responder's confirm (62) and the initiator's random (63) removed,
    // so neither side's confirm-random pair of that round is in the capture.
    remove_packets(&mut snoop, &[round_packet(3, 2), round_packet(3, 3)]);
    let report = analyse(&snoop.to_bytes());
    let p = &report.connections[0].pairings[0];
    assert_eq!(p.passkey, None);
    assert_eq!(p.passkey_gaps, vec![3]);
    let bits = p.learned_bits.as_ref().expect("19 bits known");
    assert_eq!((bits.count, bits.mask), (19, 0xf_ffff & !(1 << 3)));
    assert_eq!(bits.value, 654_321 & !(1 << 3));
    // 654321 has bit 3 clear; 654329 is the other passkey with these 19 bits.
    assert_eq!(bits.candidates, 2);
    let found = findings(&report, "smp.passkey_bits_leaked");
    assert!(
        found[0].cause.contains("round(s) 3 unknown"),
        "{}",
        found[0].cause
    );
}

/// Keeps round 19's randoms (Na, Nb) and, with `keep_responder_confirm`, its Cb;
/// every other confirm and random is removed.
fn single_round(snoop: &mut Btsnoop, keep_responder_confirm: bool) {
    let mut removed: Vec<usize> = (0..19)
        .flat_map(|round| [0, 2, 3, 5].map(|offset| round_packet(round, offset)))
        .collect();
    removed.push(round_packet(19, 0));
    if !keep_responder_confirm {
        removed.push(round_packet(19, 2));
    }
    // Numbers above are of the unedited file: remove from the highest down.
    remove_packets(snoop, &removed);
}

#[test]
fn secure_connections_oob_derives_the_ltk_the_eb_check_confirms() {
    let (mut snoop, pairing) = debug_key_pairing();
    // Pairing Request (32): OOB data flag set (the initiator received the
    // responder's OOB data, so Ea uses rb = that random, not on the air); the
    // responder's flag stays clear (ra = 0). Ea and Eb rewritten for these values
    // with rb = 0x5a.., then the passkey rounds removed except round 19's randoms.
    smp(snoop.packet(32))[2] = 1;
    pairing.rewrite_checks(&mut snoop, [0; 16], [0x5a; 16]);
    single_round(&mut snoop, false);
    let report = analyse(&snoop.to_bytes());
    let p = &report.connections[0].pairings[0];
    assert_eq!(p.method, Some(blepake_sniff::report::Method::Oob));
    assert_eq!(
        p.derived_ltk.as_deref(),
        Some(pairing.controller_ltk().as_str())
    );
}

#[test]
fn numeric_comparison_reports_the_value_both_devices_showed() {
    let (mut snoop, pairing) = debug_key_pairing();
    // Pairing Request (32) and Response (34): IO capability DisplayYesNo (1) on both
    // sides, so the method is numeric comparison; Ea and Eb rewritten with r = 0;
    // the rounds removed except round 19's responder confirm and randoms.
    smp(snoop.packet(32))[1] = 1;
    smp(snoop.packet(34))[1] = 1;
    pairing.rewrite_checks(&mut snoop, [0; 16], [0; 16]);
    single_round(&mut snoop, true);
    let report = analyse(&snoop.to_bytes());
    let p = &report.connections[0].pairings[0];
    assert_eq!(
        p.method,
        Some(blepake_sniff::report::Method::NumericComparison)
    );
    let expected = g2(&pairing.pka_x, &pairing.pkb_x, &pairing.na, &pairing.nb) % 1_000_000;
    assert_eq!(p.numeric_comparison, Some(format!("{expected:06}")));
    assert_eq!(
        p.derived_ltk.as_deref(),
        Some(pairing.controller_ltk().as_str())
    );
}

// --- Encrypted links: outcome from SMP/LL evidence, links the sniffer decrypted ---

#[test]
fn outcome_follows_the_smp_and_ll_evidence_not_decryption() {
    // Unedited: both DHKey checks (151, 156) and LL_START_ENC_REQ (166) are on the
    // air, the traffic after them cannot be decrypted (no key in the capture).
    let report = analyse_file(LESC);
    let conn = &report.connections[0];
    assert_eq!(conn.encryption.decrypted_pdus, 0);
    assert!(conn.encryption.started);
    assert_eq!(
        conn.pairings[0].outcome,
        blepake_sniff::report::Outcome::Completed
    );
}

#[test]
fn secure_connections_without_bonding_is_not_an_smp_timeout() {
    let mut capture = lesc();
    let crc_init = connect_ind(&mut capture).crc_init;
    // Pairing Request (57) and Response (66): AuthReq bonding bits cleared (CRC
    // recomputed), so no SMP follows the DHKey checks; every packet after the
    // responder's DHKey check (156) moved 62 s later, the link staying up.
    for n in [57, 66] {
        let mut pdu = capture.packet(n).pdu().to_vec();
        assert_eq!(pdu[4], 0x06, "SMP channel");
        pdu[9] &= !0x03;
        capture.packet(n).set_pdu(&pdu, crc_init);
    }
    for packet in capture.packets().skip(156) {
        packet.timestamp += 62_000_000_000 / 1000 * 1000;
    }
    let report = analyse(&capture.to_bytes());
    assert!(!report.connections[0].pairings[0].bonding);
    assert!(
        findings(&report, "smp.timeout").is_empty(),
        "{:#?}",
        report.findings
    );
}

/// crackle's known_ltk.pcap (an encrypted reconnection, 7 encrypted PDUs, LTK
/// 7f62c053f104a5bbe68b1d896a2ed49c) rewritten as LINKTYPE 256: the PPI header
/// replaced by a 10-octet radio header whose flags carry the sniffer's verdicts,
/// CRC checked and valid on every packet; the first `by_sniffer` encrypted PDUs as
/// a sniffer that followed the encryption writes them (plaintext, MIC kept, flags
/// decrypted | MIC checked | MIC valid), the rest as sent with flags MIC checked
/// (not valid), as from a sniffer without the key.
fn known_ltk_decrypted_by_sniffer(by_sniffer: usize) -> Vec<u8> {
    const LTK: &str = "7f62c053f104a5bbe68b1d896a2ed49c";
    let bytes = data("crackle/known_ltk.pcap");
    let opened = analyse_bytes(
        &bytes,
        &blepake_sniff::Options {
            ltks: vec![common::hex(LTK)],
            brute_force: false,
            tks: Vec::new(),
        },
    );
    let decrypted = &opened.connections[0].decrypted;
    assert_eq!(decrypted.len(), 7);
    let mut pcap = common::Pcap::parse(&bytes);
    let le_packet_of = |record: &common::Record| {
        let ppi_len = usize::from(u16::from_le_bytes([record.data[2], record.data[3]]));
        record.data[ppi_len..].to_vec()
    };
    // A retransmission repeats the sealed payload: it gets the same treatment.
    let sealed: Vec<Vec<u8>> = decrypted
        .iter()
        .map(|d| le_packet_of(&pcap.records[d.packet as usize - 1])[6..].to_vec())
        .collect();
    pcap.header[20..24].copy_from_slice(&256u32.to_le_bytes());
    for record in pcap.records.iter_mut() {
        let mut le_packet = le_packet_of(record);
        let mut flags: u16 = 0x0c00;
        if let Some(k) = sealed.iter().position(|s| le_packet.get(6..) == Some(s)) {
            if k < by_sniffer {
                let plain = common::hex_vec(&decrypted[k].plaintext);
                le_packet[6..6 + plain.len()].copy_from_slice(&plain);
                flags |= 0x0008 | 0x1000 | 0x2000;
            } else {
                flags |= 0x1000;
            }
        }
        let mut data = vec![0u8; 8];
        data.extend_from_slice(&flags.to_le_bytes());
        data.extend_from_slice(&le_packet);
        record.data = data;
    }
    pcap.to_bytes()
}

#[test]
fn pdus_the_sniffer_decrypted_count_and_the_rest_decrypt_with_the_key() {
    let with_key = |bytes: &[u8]| {
        analyse_bytes(
            bytes,
            &blepake_sniff::Options {
                ltks: vec![common::hex("7f62c053f104a5bbe68b1d896a2ed49c")],
                brute_force: false,
                tks: Vec::new(),
            },
        )
    };
    // Without the sniffer's help the key opens the 7 encrypted PDUs of the PPI
    // original (LINKTYPE 256 has no radio clock: placed by timestamps alone, 4
    // retransmissions are taken for new PDUs that no key opens).
    let baseline = with_key(&known_ltk_decrypted_by_sniffer(0));
    let all = baseline.connections[0].encryption.encrypted_pdus;
    let opened_alone = baseline.connections[0].encryption.decrypted_pdus;
    assert_eq!(opened_alone, 7);
    let bytes = known_ltk_decrypted_by_sniffer(4);
    let without_key = analyse(&bytes);
    let e = &without_key.connections[0].encryption;
    assert!(e.started);
    assert_eq!(e.encrypted_pdus, all);
    assert_eq!(e.decrypted_pdus, 0);
    let by_sniffer = e.decrypted_by_sniffer;
    assert_eq!(by_sniffer, 4);
    // The ones the sniffer could not open decrypt with the packet counters after its.
    let opened = with_key(&bytes);
    let e = &opened.connections[0].encryption;
    assert_eq!(
        (e.decrypted_by_sniffer, e.decrypted_pdus),
        (by_sniffer, 7 - by_sniffer)
    );
    let summaries = |r: &Report| -> Vec<String> {
        r.connections[0]
            .decrypted
            .iter()
            .map(|d| d.summary.clone())
            .collect()
    };
    assert_eq!(summaries(&opened), summaries(&baseline));
}

// --- The failure this project exists for, shipped as examples/captures/ ---

const WINDOWS_EXAMPLE: &str = "windows-phy-update-instant-passed.pcapng";

/// crackle's le_secure_connections.pcapng with three edits: packet 62 becomes
/// the central's LL_PHY_UPDATE_IND to 2M with its instant 93 events in the past
/// (as a Windows host's controller sent it); everything on the link after packet
/// 140 (the responder's Pairing Confirm) removed, as when the link drops there;
/// the peripheral's first 8 ADV_IND (packets 1-8) sent again 2 s later, as it
/// advertises once the link is gone.
fn windows_failure_capture() -> Vec<u8> {
    let mut capture = lesc();
    phy_update_93_events_late(&mut capture);
    let last_kept = capture.packet(140).timestamp;
    let first = capture.packet(1).timestamp;
    let readvertised: Vec<common::NgPacket> = capture
        .packets()
        .take(8)
        .map(|p| common::NgPacket {
            interface: p.interface,
            timestamp: last_kept + 2_000_000_000 + (p.timestamp - first),
            data: p.data.clone(),
        })
        .collect();
    let mut seen = 0;
    capture.blocks.retain(|block| match block {
        common::NgBlock::Packet(_) => {
            seen += 1;
            seen <= 140
        }
        common::NgBlock::Other { .. } => true,
    });
    capture
        .blocks
        .extend(readvertised.into_iter().map(common::NgBlock::Packet));
    capture.to_bytes()
}

#[test]
fn the_shipped_windows_failure_capture_is_explained() {
    let path = format!(
        "{}/../../examples/captures/{WINDOWS_EXAMPLE}",
        env!("CARGO_MANIFEST_DIR")
    );
    let made = windows_failure_capture();
    if std::env::var_os("BLEPAKE_WRITE_EXAMPLES").is_some() {
        std::fs::write(&path, &made).unwrap();
    }
    let shipped = std::fs::read(&path).unwrap();
    assert!(
        shipped == made,
        "{path} is not the documented edit of {LESC}"
    );
    let report = analyse(&shipped);
    let conn = &report.connections[0];
    let disconnect = conn.disconnect.as_ref().expect("the link was lost");
    assert_eq!(
        (disconnect.reason, disconnect.inferred, disconnect.packet),
        (0x08, true, 140)
    );
    assert_eq!(
        conn.pairings[0].outcome,
        blepake_sniff::report::Outcome::Incomplete
    );
    let past = findings(&report, "ll.instant_in_past");
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].packets, vec![62]);
    let lost = findings(&report, "smp.link_lost");
    assert_eq!(lost.len(), 1, "{:#?}", report.findings);
    assert!(findings(&report, "smp.timeout").is_empty());
    assert!(findings(&report, "smp.pairing_failed").is_empty());
}
