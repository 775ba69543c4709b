//! Every finding on a real capture, or on a real capture with one documented edit
//! made in memory: each test names the packet it changes and how.

mod common;

use blepake_sniff::codec::ll::{AdvPdu, decode_adv};
use blepake_sniff::{Options, Report};
use common::{Btsnoop, Pcap, analyse_bytes, analyse_file, data, findings};

const LL_FAULTS: [&str; 9] = [
    "ll.instant_in_past",
    "ll.instant_too_close",
    "ll.version_ind_repeated",
    "ll.feature_rsp_invalid",
    "ll.procedure_timeout",
    "ll.rejected",
    "ll.mic_failure",
    "ll.supervision_timeout_too_short",
    "capture.truncated",
];

fn analyse_edited(bytes: &[u8]) -> Report {
    analyse_bytes(
        bytes,
        &Options {
            ltks: Vec::new(),
            brute_force: true,
            tks: Vec::new(),
        },
    )
}

#[test]
fn unedited_captures_raise_no_fault_findings() {
    for path in [
        "crackle/pairing_and_ltk_exchange.pcap",
        "crackle/missing_confirms.pcap",
        "crackle/known_ltk.pcap",
        "crackle/numeric_pin.pcap",
        "crackle/le_secure_connections.pcapng",
        "bumble/bumble_lesc_passkey_654321_ok.btsnoop",
        "bumble/bumble_legacy_passkey_654321_ok.pcap",
    ] {
        let report = analyse_file(path);
        for code in LL_FAULTS.iter().chain(&[
            "smp.timeout",
            "smp.link_lost",
            "smp.pairing_failed",
            "ll.connection_timeout",
        ]) {
            assert!(
                findings(&report, code).is_empty(),
                "{path}: unexpected {code}"
            );
        }
    }
}

// --- Instants (Vol 6 Part B §5.5.1), on crackle's pairing_and_ltk_exchange.pcap ---

/// Packet 567 is an empty PDU from the central. The CONNECT_IND (packet 516) has
/// WinOffset 9 and an interval of 54 × 1.25 ms; event 0 is the first anchor,
/// 1.25 ms + WinOffset after the CONNECT_IND ends.
const EDITED_PACKET: usize = 567;

fn connect_ind(pcap: &Pcap) -> blepake_sniff::codec::ll::ConnectInd {
    match decode_adv(pcap.records[515].ppi_pdu()) {
        Ok(AdvPdu::ConnectInd(ind)) => ind,
        other => panic!("packet 516 is not a CONNECT_IND: {other:?}"),
    }
}

fn ubertooth_clock_us(record: &common::Record) -> i64 {
    i64::from(u32::from_le_bytes(record.data[16..20].try_into().unwrap())) / 10
}

/// The connection event of packet 567 by the rule above, from Ubertooth's clock.
fn event_of_edited_packet(pcap: &Pcap) -> u16 {
    let ind = connect_ind(pcap);
    let interval = i64::from(ind.interval) * 1250;
    let first_anchor =
        ubertooth_clock_us(&pcap.records[515]) + 352 + 1250 + i64::from(ind.win_offset) * 1250;
    let elapsed = ubertooth_clock_us(&pcap.records[EDITED_PACKET - 1]) - first_anchor;
    ((elapsed + interval / 4) / interval) as u16
}

/// Replaces packet 567 by an LL control PDU with the given payload (SN/NESN kept).
fn with_control_pdu(payload: &[u8]) -> (Vec<u8>, u16) {
    let mut pcap = Pcap::parse(&data("crackle/pairing_and_ltk_exchange.pcap"));
    let crc_init = connect_ind(&pcap).crc_init;
    let event = event_of_edited_packet(&pcap);
    let record = pcap.packet(EDITED_PACKET);
    let original = record.ppi_pdu().to_vec();
    assert_eq!(original[0] & 3, 1, "an empty PDU");
    assert_eq!(original[1], 0, "an empty PDU");
    let mut pdu = vec![(original[0] & 0xfc) | 3, payload.len() as u8];
    pdu.extend_from_slice(payload);
    record.set_ppi_pdu(&pdu, crc_init);
    (pcap.to_bytes(), event)
}

fn connection_update(instant: u16) -> Vec<u8> {
    // WinSize 1, WinOffset 0, interval 54, latency 0, timeout 42, then the instant.
    let mut pdu = vec![0x00, 1, 0, 0, 54, 0, 0, 0, 42, 0];
    pdu.extend_from_slice(&instant.to_le_bytes());
    pdu
}

#[test]
fn connection_update_with_instant_in_the_past() {
    let probe = with_control_pdu(&connection_update(0)).1;
    let (bytes, event) = with_control_pdu(&connection_update(probe.wrapping_sub(10)));
    let report = analyse_edited(&bytes);
    let found = findings(&report, "ll.instant_in_past");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![EDITED_PACKET as u64]);
    assert!(
        found[0]
            .cause
            .contains(&format!("connection event {event}")),
        "{}",
        found[0].cause
    );
    assert!(
        found[0].cause.contains("10 event(s) in the past"),
        "{}",
        found[0].cause
    );
}

#[test]
fn connection_update_with_instant_too_close() {
    let event = with_control_pdu(&connection_update(0)).1;
    let report = analyse_edited(&with_control_pdu(&connection_update(event.wrapping_add(3))).0);
    assert_eq!(
        findings(&report, "ll.instant_too_close").len(),
        1,
        "{:#?}",
        report.findings
    );
    assert!(findings(&report, "ll.instant_in_past").is_empty());
}

#[test]
fn connection_update_well_ahead_is_fine() {
    let event = with_control_pdu(&connection_update(0)).1;
    let report = analyse_edited(&with_control_pdu(&connection_update(event.wrapping_add(20))).0);
    assert!(findings(&report, "ll.instant_in_past").is_empty());
    assert!(findings(&report, "ll.instant_too_close").is_empty());
}

#[test]
fn channel_map_with_instant_in_the_past() {
    let event = with_control_pdu(&[0x01, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0]).1;
    let instant = event.wrapping_sub(3).to_le_bytes();
    let report = analyse_edited(
        &with_control_pdu(&[0x01, 0xff, 0xff, 0xff, 0xff, 0x1f, instant[0], instant[1]]).0,
    );
    let found = findings(&report, "ll.instant_in_past");
    assert_eq!(found.len(), 1);
    assert!(found[0].cause.starts_with("LL_CHANNEL_MAP_IND"));
}

#[test]
fn phy_update_with_instant_in_the_past() {
    let event = with_control_pdu(&[0x18, 2, 2, 0, 0]).1;
    let instant = event.wrapping_sub(40).to_le_bytes();
    let report = analyse_edited(&with_control_pdu(&[0x18, 2, 2, instant[0], instant[1]]).0);
    let found = findings(&report, "ll.instant_in_past");
    assert_eq!(found.len(), 1);
    assert!(found[0].cause.starts_with("LL_PHY_UPDATE_IND"));
}

#[test]
fn phy_update_without_a_change_has_no_instant() {
    // Both PHY fields 0: the instant field is meaningless and must not be checked.
    let event = with_control_pdu(&[0x18, 0, 0, 0, 0]).1;
    let instant = event.wrapping_sub(40).to_le_bytes();
    let report = analyse_edited(&with_control_pdu(&[0x18, 0, 0, instant[0], instant[1]]).0);
    assert!(
        findings(&report, "ll.instant_in_past").is_empty(),
        "{:#?}",
        report.findings
    );
    assert!(findings(&report, "ll.instant_too_close").is_empty());
}

// --- Version, features, rejection and procedure timeout, on crackle's numeric_pin.pcap ---
// Its link-layer exchange: 13 LL_VERSION_IND (peripheral), 14 LL_FEATURE_REQ (central),
// 17 LL_VERSION_IND (central), 18 LL_FEATURE_RSP (peripheral), 23 LL_UNKNOWN_RSP (central).

fn numeric_pin() -> (Pcap, u32) {
    let pcap = Pcap::parse(&data("crackle/numeric_pin.pcap"));
    let crc_init = match decode_adv(pcap.records[2].ppi_pdu()) {
        Ok(AdvPdu::ConnectInd(ind)) => ind.crc_init,
        other => panic!("packet 3 is not a CONNECT_IND: {other:?}"),
    };
    (pcap, crc_init)
}

#[test]
fn version_ind_sent_twice_by_the_central() {
    let (mut pcap, crc_init) = numeric_pin();
    // Packet 35, an empty PDU from the central, becomes a copy of its LL_VERSION_IND (packet 17).
    let version = pcap.packet(17).ppi_pdu()[2..].to_vec();
    let header = pcap.packet(35).ppi_pdu()[0];
    assert_eq!(pcap.packet(35).ppi_pdu()[1], 0, "packet 35 is empty");
    let mut pdu = vec![(header & 0xfc) | 3, version.len() as u8];
    pdu.extend_from_slice(&version);
    pcap.packet(35).set_ppi_pdu(&pdu, crc_init);
    let report = analyse_edited(&pcap.to_bytes());
    let found = findings(&report, "ll.version_ind_repeated");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![17, 35]);
    assert!(found[0].cause.contains("central"));
}

#[test]
fn feature_rsp_claiming_a_feature_the_request_lacks() {
    let (mut pcap, crc_init) = numeric_pin();
    // Packet 18: LL_FEATURE_RSP octet 0 goes from 0x01 to 0x21 (adds LE Data Packet Length Extension).
    let mut pdu = pcap.packet(18).ppi_pdu().to_vec();
    assert_eq!(&pdu[2..4], &[0x09, 0x01]);
    pdu[3] = 0x21;
    pcap.packet(18).set_ppi_pdu(&pdu, crc_init);
    let report = analyse_edited(&pcap.to_bytes());
    let found = findings(&report, "ll.feature_rsp_invalid");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![14, 18]);
    assert!(found[0].cause.contains("0x20"));
}

#[test]
fn reject_ind_reason_is_reported() {
    let (mut pcap, crc_init) = numeric_pin();
    // Packet 23: LL_UNKNOWN_RSP (07 ff) becomes LL_REJECT_IND with 0x1a, Unsupported Remote Feature.
    let mut pdu = pcap.packet(23).ppi_pdu().to_vec();
    assert_eq!(&pdu[2..], &[0x07, 0xff]);
    pdu[2..].copy_from_slice(&[0x0d, 0x1a]);
    pcap.packet(23).set_ppi_pdu(&pdu, crc_init);
    let report = analyse_edited(&pcap.to_bytes());
    let found = findings(&report, "ll.rejected");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![23]);
    assert!(
        found[0].cause.contains("0x1a (Unsupported Remote Feature)"),
        "{}",
        found[0].cause
    );
}

#[test]
fn feature_exchange_left_unanswered_for_40_seconds() {
    let (mut pcap, _) = numeric_pin();
    // Packet 18 (the LL_FEATURE_RSP) is removed and every later packet moved 41 s on
    // (Ubertooth's clock, which the analysis reads, and the pcap timestamp).
    pcap.records.remove(17);
    for record in &mut pcap.records[17..] {
        record.shift_ppi_clock(41);
        record.ts_sec += 41;
    }
    let report = analyse_edited(&pcap.to_bytes());
    let found = findings(&report, "ll.procedure_timeout");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets[0], 14);
    assert!(
        found[0]
            .cause
            .starts_with("LL_FEATURE_REQ from the central")
    );
}

// --- Connection parameters, on crackle's pairing_and_ltk_exchange.pcap ---

#[test]
fn supervision_timeout_too_short_for_the_interval() {
    let mut pcap = Pcap::parse(&data("crackle/pairing_and_ltk_exchange.pcap"));
    // CONNECT_IND (packet 516): timeout 42 (420 ms) becomes 10 (100 ms), below 2 × 67.5 ms.
    let mut pdu = pcap.packet(516).ppi_pdu().to_vec();
    assert_eq!(&pdu[28..30], &[42, 0]);
    pdu[28] = 10;
    pcap.packet(516).set_ppi_pdu(&pdu, 0x55_5555);
    let report = analyse_edited(&pcap.to_bytes());
    let found = findings(&report, "ll.supervision_timeout_too_short");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![516]);
    assert!(
        found[0].cause.contains("100 ms") && found[0].cause.contains("135 ms"),
        "{}",
        found[0].cause
    );
}

// --- SMP and disconnections, on the Bumble host logs ---
// bumble_lesc_passkey_654321_wrong_bit5.btsnoop: 77 Pairing Failed (0x04) from the
// responder, 78 HCI_Disconnect, 79 Command Status, 80 Disconnection Complete (0x13).

fn wrong_bit5() -> Btsnoop {
    Btsnoop::parse(&data(
        "bumble/bumble_lesc_passkey_654321_wrong_bit5.btsnoop",
    ))
}

fn last_byte(record: &mut common::SnoopRecord) -> &mut u8 {
    record.data.last_mut().expect("non-empty record")
}

#[test]
fn pairing_failed_reason_is_reported() {
    let report = analyse_file("bumble/bumble_lesc_passkey_654321_wrong_bit5.btsnoop");
    let found = findings(&report, "smp.pairing_failed");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].packets, vec![77]);
    assert!(found[0].cause.contains("responder") && found[0].cause.contains("0x04"));
}

/// The supervision timeout of the Bumble links, 720 ms.
const SUPERVISION_TIMEOUT_US: i64 = 720_000;

/// The responder's Pairing Failed (77) made reason 0x08 (Unspecified); the
/// initiator's HCI_Disconnect and its Command Status (78, 79) removed; the
/// Disconnection Complete (80, now 78) made reason 0x08 (Connection Timeout)
/// and moved to one supervision timeout after the Pairing Failed.
fn unspecified_failure_then_connection_timeout() -> Btsnoop {
    let mut snoop = wrong_bit5();
    assert_eq!(*last_byte(snoop.packet(77)), 0x04);
    *last_byte(snoop.packet(77)) = 0x08;
    let failed_at = snoop.packet(77).timestamp_us;
    assert_eq!(
        snoop.packet(78).data[..3],
        [0x01, 0x06, 0x04],
        "HCI_Disconnect"
    );
    snoop.records.drain(77..79);
    assert_eq!(*last_byte(snoop.packet(78)), 0x13);
    *last_byte(snoop.packet(78)) = 0x08;
    snoop.packet(78).timestamp_us = failed_at + SUPERVISION_TIMEOUT_US;
    snoop
}

#[test]
fn a_peers_pairing_failed_then_a_connection_timeout_are_reported_apart() {
    let report = analyse_edited(&unspecified_failure_then_connection_timeout().to_bytes());
    let failed = findings(&report, "smp.pairing_failed");
    assert_eq!(failed.len(), 1, "{:#?}", report.findings);
    assert_eq!(failed[0].packets, vec![77]);
    assert!(
        failed[0].cause.contains("responder") && failed[0].cause.contains("0x08: Unspecified"),
        "{}",
        failed[0].cause
    );
    let lost = findings(&report, "ll.connection_timeout");
    assert_eq!(lost.len(), 1, "{:#?}", report.findings);
    assert_eq!(lost[0].packets, vec![77, 78]);
    assert!(
        lost[0]
            .cause
            .contains("0.72 s after the responder (peripheral)'s Pairing Failed (packet 77")
            && lost[0].cause.contains("did not cause it"),
        "{}",
        lost[0].cause
    );
    assert!(
        findings(&report, "smp.link_lost").is_empty(),
        "the peer refused before the link died"
    );
}

#[test]
fn a_pairing_the_link_cut_off_is_a_lost_link() {
    let mut snoop = unspecified_failure_then_connection_timeout();
    // As above, and the Pairing Failed (77) removed: nothing refused the pairing on the link.
    snoop.records.remove(76);
    let report = analyse_edited(&snoop.to_bytes());
    let found = findings(&report, "smp.link_lost");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    // The last SMP command (the initiator's Pairing Random) and the loss.
    assert_eq!(found[0].packets, vec![75, 77]);
    assert!(findings(&report, "smp.pairing_failed").is_empty());
    assert!(findings(&report, "ll.connection_timeout").is_empty());
}

#[test]
fn pairing_left_unanswered_for_30_seconds_is_an_smp_timeout() {
    let mut snoop = wrong_bit5();
    // Pairing Failed (77) removed; the disconnection that followed moved 31 s later.
    snoop.records.remove(76);
    for record in &mut snoop.records[76..] {
        record.timestamp_us += 31_000_000;
    }
    let report = analyse_edited(&snoop.to_bytes());
    let found = findings(&report, "smp.timeout");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(
        found[0].packets,
        vec![75],
        "the last SMP command, the initiator's Pairing Random"
    );
    assert!(findings(&report, "smp.pairing_failed").is_empty());
}

fn legacy_with_disconnect_reason(reason: u8) -> Report {
    let mut snoop = Btsnoop::parse(&data("bumble/bumble_legacy_passkey_654321_ok.btsnoop"));
    // Packet 58, Disconnection Complete: reason 0x13 replaced.
    assert_eq!(*last_byte(snoop.packet(58)), 0x13);
    *last_byte(snoop.packet(58)) = reason;
    analyse_edited(&snoop.to_bytes())
}

#[test]
fn disconnection_for_mic_failure() {
    let report = legacy_with_disconnect_reason(0x3d);
    let found = findings(&report, "ll.mic_failure");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![58]);
}

#[test]
fn disconnection_for_ll_response_timeout() {
    let report = legacy_with_disconnect_reason(0x22);
    let found = findings(&report, "ll.procedure_timeout");
    assert_eq!(found.len(), 1, "{:#?}", report.findings);
    assert_eq!(found[0].packets, vec![58]);
}

#[test]
fn security_level_findings_on_real_captures() {
    let just_works = analyse_file("crackle/pairing_and_ltk_exchange.pcap");
    assert_eq!(
        findings(&just_works, "smp.just_works")[0].packets,
        vec![566, 568]
    );
    let legacy = analyse_file("bumble/bumble_legacy_passkey_654321_ok.btsnoop");
    assert_eq!(findings(&legacy, "smp.legacy_pairing").len(), 1);
    assert!(
        findings(&legacy, "smp.just_works").is_empty(),
        "passkey entry is not Just Works"
    );
    let debug = analyse_file("bumble/bumble_lesc_passkey_654321_debugkey_ok.btsnoop");
    let found = findings(&debug, "smp.debug_key");
    assert_eq!(found.len(), 1);
    assert!(found[0].cause.contains("responder"));
    let secure = analyse_file("bumble/bumble_lesc_passkey_654321_ok.btsnoop");
    for code in ["smp.legacy_pairing", "smp.just_works", "smp.debug_key"] {
        assert!(findings(&secure, code).is_empty(), "{code}");
    }
}

#[test]
fn error_findings_decide_the_severity() {
    use blepake_sniff::analysis::findings::Severity;
    let clean = analyse_file("crackle/le_secure_connections.pcapng");
    assert_eq!(clean.worst_severity(), Some(Severity::Warning));
    let failed = analyse_file("bumble/bumble_lesc_passkey_654321_wrong_bit5.btsnoop");
    assert_eq!(failed.worst_severity(), Some(Severity::Error));
}

#[test]
fn extreme_connection_parameters_are_judged_without_overflow() {
    // Found by the analyse fuzz target: interval and latency at their 16-bit maximum
    // overflowed the computation of the minimum timeout. CONNECT_IND (packet 516)
    // of pairing_and_ltk_exchange.pcap gets interval 0xffff and latency 0xffff.
    let mut pcap = Pcap::parse(&data("crackle/pairing_and_ltk_exchange.pcap"));
    let mut pdu = pcap.packet(516).ppi_pdu().to_vec();
    pdu[24..28].copy_from_slice(&[0xff; 4]);
    pcap.packet(516).set_ppi_pdu(&pdu, 0x55_5555);
    let report = analyse_edited(&pcap.to_bytes());
    let found = findings(&report, "ll.supervision_timeout_too_short");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].cause.contains("= 10737254400 ms"),
        "{}",
        found[0].cause
    );
}

#[test]
fn timestamps_at_the_ends_of_the_range_do_not_overflow() {
    // Found by the analyse fuzz target: time differences taken past i64. The
    // wrong_bit5 log without its Pairing Failed (77), the records before it stamped
    // with the earliest btsnoop time and the ones after with the latest.
    let mut snoop = wrong_bit5();
    snoop.records.remove(76);
    for (i, record) in snoop.records.iter_mut().enumerate() {
        record.timestamp_us = if i < 76 { i64::MIN } else { i64::MAX };
    }
    let report = analyse_edited(&snoop.to_bytes());
    assert_eq!(
        findings(&report, "smp.timeout").len(),
        1,
        "{:#?}",
        report.findings
    );
}
