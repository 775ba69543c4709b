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
