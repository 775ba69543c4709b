//! The Bumble captures (tests/data/README.md): LE Secure Connections passkey entry
//! with static passkey 654321, the same with the SMP debug key, a failed attempt
//! with bit 5 wrong, and legacy passkey entry. Each as btsnoop 1002 and pcap 201.

mod common;

use blepake_sniff::report::{Method, Outcome, Role};
use common::{analyse_file, findings};

const PASSKEY: u32 = 654321;

fn both_formats(name: &str) -> [blepake_sniff::Report; 2] {
    [
        analyse_file(&format!("bumble/{name}.btsnoop")),
        analyse_file(&format!("bumble/{name}.pcap")),
    ]
}

#[test]
fn passive_capture_of_passkey_entry_gives_the_passkey() {
    for report in both_formats("bumble_lesc_passkey_654321_ok") {
        let pairing = &report.connections[0].pairings[0];
        assert!(pairing.secure_connections);
        assert_eq!(pairing.method, Some(Method::PasskeyEntry));
        assert_eq!(pairing.outcome, Outcome::Completed);
        assert_eq!(pairing.passkey.as_deref(), Some("654321"));
        assert_eq!(pairing.passkey_rounds, 20);
        // The initiator typed it: the responder shows (owns) the static passkey.
        assert_eq!(pairing.passkey_shown_by, Some(Role::Responder));
        let recovered = findings(&report, "smp.passkey_recovered");
        assert_eq!(recovered.len(), 1);
        assert!(recovered[0].cause.contains("654321") && recovered[0].cause.contains("responder"));
        assert!(pairing.debug_key.is_empty());
        assert!(findings(&report, "smp.debug_key").is_empty());
    }
}

#[test]
fn debug_key_pairing_gives_the_ltk_the_host_gave_its_controller() {
    for report in both_formats("bumble_lesc_passkey_654321_debugkey_ok") {
        let conn = &report.connections[0];
        let pairing = &conn.pairings[0];
        assert_eq!(pairing.debug_key, vec![Role::Responder]);
        assert_eq!(pairing.passkey.as_deref(), Some("654321"));
        // HCI_LE_Enable_Encryption carries the LTK in the clear: the derived one must match.
        assert_eq!(conn.encryption.key_source.as_deref(), Some("hci"));
        assert!(pairing.derived_ltk.is_some());
        assert_eq!(pairing.derived_ltk, conn.encryption.key);
        assert_eq!(findings(&report, "smp.debug_key").len(), 1);
    }
}

#[test]
fn failed_attempt_reports_the_bits_an_attacker_learned() {
    // Rounds 0-4 passed, round 5 failed on the wrong bit: the low 6 bits are known.
    let known_bits = 6;
    let value = PASSKEY & ((1 << known_bits) - 1);
    let candidates = (0..1_000_000u32)
        .filter(|p| p & ((1 << known_bits) - 1) == value)
        .count() as u32;
    for report in both_formats("bumble_lesc_passkey_654321_wrong_bit5") {
        let pairing = &report.connections[0].pairings[0];
        assert_eq!(pairing.outcome, Outcome::Failed);
        let failure = pairing.failure.as_ref().expect("Pairing Failed");
        assert_eq!((failure.sent_by, failure.reason), (Role::Responder, 0x04));
        assert_eq!(pairing.passkey, None);
        let learned = pairing.learned_bits.as_ref().expect("learned bits");
        assert_eq!(learned.owner, Role::Responder);
        assert_eq!(learned.count, known_bits);
        assert_eq!(learned.value, value);
        assert_eq!(learned.candidates, candidates);
        assert_eq!(findings(&report, "smp.pairing_failed").len(), 1);
        assert_eq!(findings(&report, "smp.passkey_bits_leaked").len(), 1);
        assert!(findings(&report, "smp.passkey_recovered").is_empty());
    }
}

#[test]
fn legacy_passkey_tk_and_stk_match_the_key_given_to_the_controller() {
    for report in both_formats("bumble_legacy_passkey_654321_ok") {
        let conn = &report.connections[0];
        let pairing = &conn.pairings[0];
        assert!(!pairing.secure_connections);
        assert_eq!(pairing.tk, Some(format!("{PASSKEY:06}")));
        // The README: the STK shows in HCI_LE_Enable_Encryption.
        assert_eq!(pairing.stk, conn.encryption.key);
        assert_eq!(findings(&report, "smp.keys_recovered").len(), 1);
        assert_eq!(findings(&report, "smp.legacy_pairing").len(), 1);
    }
}

// --- Made by tests/data/bumble/make_captures.py ---

/// The TK of bumble_legacy_oob_ok.btsnoop, most significant octet first.
const OOB_TK: &str = "ffeeddccbbaa99887766554433221100";

/// Analyses with the brute force on and `tks` given; also says whether a TK
/// search ran (it reports its progress).
fn analyse_with_tks(path: &str, tks: &[[u8; 16]]) -> (blepake_sniff::Report, bool) {
    let options = blepake_sniff::Options {
        ltks: Vec::new(),
        brute_force: true,
        tks: tks.to_vec(),
    };
    let mut searched = false;
    let report = blepake_sniff::analyse(&common::data(path), &options, &mut |p| {
        searched |= matches!(p, blepake_sniff::Progress::BruteForce { .. })
    })
    .expect("a capture");
    (report, searched)
}

/// The keys the host handed its controller with HCI_LE_Enable_Encryption
/// (opcode 0x2019; the LTK is its last 16 octets, least significant first).
fn keys_given_to_controller(path: &str) -> Vec<String> {
    common::Btsnoop::parse(&common::data(path))
        .records
        .iter()
        .filter(|r| r.data.starts_with(&[0x01, 0x19, 0x20]))
        .map(|r| {
            let ltk: Vec<u8> = r.data[r.data.len() - 16..].iter().rev().copied().collect();
            blepake_sniff::bytes::to_hex(&ltk)
        })
        .collect()
}

#[test]
fn legacy_oob_is_not_brute_forced_and_asks_for_the_tk() {
    let (report, searched) = analyse_with_tks("bumble/bumble_legacy_oob_ok.btsnoop", &[]);
    let pairing = &report.connections[0].pairings[0];
    assert_eq!(pairing.method, Some(Method::Oob));
    assert!(!pairing.secure_connections);
    assert_eq!(pairing.outcome, Outcome::Completed);
    assert!(!searched, "a 128-bit OOB TK is not brute-forced");
    assert!(pairing.oob_tk_needed);
    assert_eq!((&pairing.tk_hex, &pairing.stk), (&None, &None));
    assert!(findings(&report, "smp.keys_recovered").is_empty());
}

#[test]
fn legacy_oob_tk_given_gives_the_stk_the_host_gave_its_controller() {
    let path = "bumble/bumble_legacy_oob_ok.btsnoop";
    let (report, searched) = analyse_with_tks(path, &[common::hex(OOB_TK)]);
    assert!(!searched);
    let pairing = &report.connections[0].pairings[0];
    assert_eq!(pairing.tk_hex.as_deref(), Some(OOB_TK));
    assert_eq!(pairing.tk, None, "not a passkey");
    assert_eq!(pairing.tk_source, Some("--tk"));
    assert!(!pairing.oob_tk_needed && !pairing.given_tk_rejected);
    // The first encryption after pairing uses the STK, handed over in the clear.
    let stk = pairing.stk.clone().expect("STK");
    assert_eq!(keys_given_to_controller(path).first(), Some(&stk));
    // Octets reversed (the order Bumble stores it in): no match, and no search.
    let mut reversed: [u8; 16] = common::hex(OOB_TK);
    reversed.reverse();
    let (report, searched) = analyse_with_tks(path, &[reversed]);
    let pairing = &report.connections[0].pairings[0];
    assert!(!searched);
    assert!(pairing.given_tk_rejected);
    assert_eq!((&pairing.tk_hex, &pairing.stk), (&None, &None));
}

#[test]
fn a_passkey_given_as_tk_replaces_the_brute_force() {
    let path = "bumble/bumble_legacy_passkey_654321_ok.btsnoop";
    let tk = blepake_sniff::crack::tk_from_passkey(PASSKEY);
    let (report, searched) = analyse_with_tks(path, &[[0x42; 16], tk]);
    assert!(!searched);
    let pairing = &report.connections[0].pairings[0];
    assert_eq!(pairing.tk.as_deref(), Some("654321"));
    assert_eq!(pairing.tk_source, Some("--tk"));
    assert_eq!(pairing.stk, report.connections[0].encryption.key);
    // The brute force reports what it found as an exposure; a given TK is not one.
    assert!(findings(&report, "smp.keys_recovered").is_empty());
}

/// The responder displayed 654321, the initiator typed 123456: the confirm
/// values prove what the initiator typed, and the responder rejected it.
#[test]
fn failed_legacy_pairing_tk_is_what_the_initiator_entered() {
    let (report, searched) = analyse_with_tks("bumble/bumble_legacy_passkey_wrong.btsnoop", &[]);
    assert!(searched);
    let pairing = &report.connections[0].pairings[0];
    assert_eq!(pairing.method, Some(Method::PasskeyEntry));
    assert_eq!(pairing.passkey_shown_by, Some(Role::Responder));
    assert_eq!(pairing.outcome, Outcome::Failed);
    let failure = pairing.failure.as_ref().expect("Pairing Failed");
    assert_eq!((failure.sent_by, failure.reason), (Role::Responder, 0x04));
    assert_eq!(pairing.tk.as_deref(), Some("123456"));
    assert_eq!(pairing.tk_of, Some(Role::Initiator));
    let found = findings(&report, "smp.keys_recovered");
    assert_eq!(found.len(), 1);
    let cause = &found[0].cause;
    assert!(
        cause.contains("prove only what the initiator (central) entered (123456)")
            && cause.contains("not the responder (peripheral)'s passkey")
            && cause.contains("the passkey it displayed is another value"),
        "{cause}"
    );
    assert!(!cause.contains("654321"), "the capture does not show it");
}

/// The pcap (LINKTYPE 201) form of a Bumble log as LINKTYPE 187, H4 without
/// directions: the link type in the file header changed and each record's
/// 4-octet direction header removed.
fn without_directions(name: &str) -> Vec<u8> {
    let mut pcap = common::Pcap::parse(&common::data(&format!("bumble/{name}.pcap")));
    assert_eq!(pcap.header[20..24], 201u32.to_le_bytes());
    pcap.header[20..24].copy_from_slice(&187u32.to_le_bytes());
    for record in &mut pcap.records {
        record.data.drain(..4);
    }
    pcap.to_bytes()
}

#[test]
fn h4_without_directions_places_smp_by_its_commands() {
    for name in [
        "bumble_lesc_passkey_654321_ok",
        "bumble_lesc_passkey_654321_debugkey_ok",
        "bumble_lesc_passkey_654321_wrong_bit5",
        "bumble_legacy_passkey_654321_ok",
    ] {
        let with = analyse_file(&format!("bumble/{name}.pcap"));
        let without = common::analyse_bytes(
            &without_directions(name),
            &blepake_sniff::Options {
                ltks: Vec::new(),
                brute_force: true,
                tks: Vec::new(),
            },
        );
        assert_eq!(without.link_types, vec![187]);
        // Every SMP command placed as the directions placed it: the same pairings.
        assert_eq!(
            serde_json::to_value(&without.connections[0].pairings).unwrap(),
            serde_json::to_value(&with.connections[0].pairings).unwrap(),
            "{name}"
        );
        assert_eq!(without.stats.direction_unknown, 0, "{name}: SMP only");
    }
}

#[test]
fn h4_without_directions_counts_what_it_cannot_place() {
    // As above, and an ATT_EXCHANGE_MTU_REQ (MTU 247) added on the link's handle
    // after its last ACL record: ATT does not say whether the central sent it.
    let mut pcap = common::Pcap::parse(&without_directions("bumble_legacy_passkey_654321_ok"));
    let last_acl = pcap
        .records
        .iter()
        .rposition(|r| r.data[0] == 0x02)
        .expect("an ACL record");
    let acl = &pcap.records[last_acl];
    let mut att = vec![0x02, acl.data[1], acl.data[2], 7, 0, 3, 0, 0x04, 0x00];
    att.extend_from_slice(&[0x02, 0xf7, 0x00]);
    let added = common::Record {
        ts_sec: acl.ts_sec,
        ts_usec: acl.ts_usec,
        data: att,
    };
    pcap.records.insert(last_acl + 1, added);
    let report = common::analyse_bytes(&pcap.to_bytes(), &blepake_sniff::Options::default());
    assert_eq!(report.stats.direction_unknown, 1);
    assert_eq!(report.connections[0].att_mtu, None);
}
