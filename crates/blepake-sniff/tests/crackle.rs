//! crackle's five test captures give crackle's answers (its tests/*/out/expected_output.txt,
//! summarised in tests/data/README.md).

mod common;

use blepake_sniff::Options;
use blepake_sniff::report::{Method, Outcome, Role};
use common::{analyse_bytes, analyse_file, data, findings, hex};

fn distributed_ltks(report: &blepake_sniff::Report) -> Vec<(Role, String)> {
    report.connections[0].pairings[0]
        .distributed
        .iter()
        .filter(|k| k.kind == "ltk")
        .map(|k| (k.sent_by, k.value.clone()))
        .collect()
}

#[test]
fn pairing_and_ltk_exchange_cracks_tk_zero_and_finds_the_ltk() {
    let report = analyse_file("crackle/pairing_and_ltk_exchange.pcap");
    assert_eq!(report.connections.len(), 1, "crackle: Found 1 connection");
    let conn = &report.connections[0];
    // crackle: 08:3e:8e:e1:0b:3e (public) -> 78:c5:e5:6e:dd:e8 (public)
    assert_eq!(
        conn.central.unwrap().to_string(),
        "08:3e:8e:e1:0b:3e (public)"
    );
    assert_eq!(
        conn.peripheral.unwrap().to_string(),
        "78:c5:e5:6e:dd:e8 (public)"
    );
    let pairing = &conn.pairings[0];
    assert!(!pairing.secure_connections);
    assert_eq!(pairing.method, Some(Method::JustWorks));
    assert_eq!(
        pairing.tk.as_deref(),
        Some("000000"),
        "crackle: TK found: 000000"
    );
    assert_eq!(pairing.outcome, Outcome::Completed);
    // crackle: Decrypted 3 packets; LTK found: 7f62c053f104a5bbe68b1d896a2ed49c
    assert_eq!(conn.encryption.encrypted_pdus, 3);
    assert_eq!(conn.encryption.decrypted_pdus, 3);
    assert_eq!(
        distributed_ltks(&report),
        vec![(
            Role::Responder,
            "7f62c053f104a5bbe68b1d896a2ed49c".to_string()
        )]
    );
    assert_eq!(findings(&report, "smp.keys_recovered").len(), 1);
    assert_eq!(findings(&report, "smp.just_works").len(), 1);
    assert_eq!(findings(&report, "smp.legacy_pairing").len(), 1);
}

#[test]
fn missing_confirms_needs_the_stk_brute_force_and_still_gives_tk_zero() {
    let report = analyse_file("crackle/missing_confirms.pcap");
    let conn = &report.connections[0];
    let pairing = &conn.pairings[0];
    // crackle: Cracking with strategy 2, slow STK brute force ... TK found: 000000
    assert_eq!(pairing.tk.as_deref(), Some("000000"));
    // The STK found by its MIC decrypts the key distribution (crackle stops short of it).
    assert_eq!(
        conn.encryption.decrypted_pdus,
        conn.encryption.encrypted_pdus
    );
    assert_eq!(
        distributed_ltks(&report),
        vec![(
            Role::Responder,
            "7f62c053f104a5bbe68b1d896a2ed49c".to_string()
        )]
    );
}

#[test]
fn missing_confirms_without_brute_force_recovers_nothing() {
    let report = analyse_bytes(&data("crackle/missing_confirms.pcap"), &Options::default());
    let conn = &report.connections[0];
    assert_eq!(conn.pairings[0].tk, None);
    assert_eq!(conn.encryption.decrypted_pdus, 0);
    assert_eq!(report.stats.undecrypted, conn.encryption.encrypted_pdus);
}

#[test]
fn known_ltk_decrypts_the_reconnection() {
    let options = Options {
        ltks: vec![hex("7f62c053f104a5bbe68b1d896a2ed49c")],
        brute_force: false,
        tks: Vec::new(),
    };
    let report = analyse_bytes(&data("crackle/known_ltk.pcap"), &options);
    let conn = &report.connections[0];
    // crackle: Decrypted 7 packets (of 10 it counts, retransmissions and a 2-octet packet included).
    assert_eq!(conn.encryption.decrypted_pdus, 7);
    assert_eq!(conn.encryption.key_source.as_deref(), Some("ltk (--ltk)"));
    // Among them the peripheral's device name, read by the central.
    assert!(
        conn.decrypted
            .iter()
            .any(|pdu| pdu.plaintext.ends_with(&hex_of("TI BLE Sensor Tag")))
    );
}

fn hex_of(text: &str) -> String {
    blepake_sniff::bytes::to_hex(text.as_bytes())
}

#[test]
fn known_ltk_without_the_key_decrypts_nothing() {
    let report = analyse_file("crackle/known_ltk.pcap");
    assert_eq!(report.connections[0].encryption.decrypted_pdus, 0);
}

#[test]
fn numeric_pin_cracks_passkey_461140_and_finds_the_ltk() {
    let report = analyse_file("crackle/numeric_pin.pcap");
    let conn = &report.connections[0];
    // crackle: 5c:f3:70:73:3e:f4 (public) -> 69:5b:fb:2c:3f:a7 (random)
    assert_eq!(
        conn.central.unwrap().to_string(),
        "5c:f3:70:73:3e:f4 (public)"
    );
    assert_eq!(
        conn.peripheral.unwrap().to_string(),
        "69:5b:fb:2c:3f:a7 (random)"
    );
    let pairing = &conn.pairings[0];
    assert_eq!(pairing.method, Some(Method::PasskeyEntry));
    assert_eq!(
        pairing.tk.as_deref(),
        Some("461140"),
        "crackle: TK found: 461140"
    );
    // crackle: Decrypted 55 packets; LTK found: 9c0469262e521d1d40e095e7c542c5ec
    assert_eq!(conn.encryption.decrypted_pdus, 55);
    assert!(distributed_ltks(&report).contains(&(
        Role::Initiator,
        "9c0469262e521d1d40e095e7c542c5ec".to_string()
    )));
}

#[test]
fn le_secure_connections_has_nothing_to_crack() {
    let report = analyse_file("crackle/le_secure_connections.pcapng");
    let conn = &report.connections[0];
    // crackle: 5c:f3:70:73:3e:f4 (public) -> 7d:43:82:42:23:16 (private)
    assert_eq!(
        conn.central.unwrap().to_string(),
        "5c:f3:70:73:3e:f4 (public)"
    );
    assert_eq!(
        conn.peripheral.unwrap().to_string(),
        "7d:43:82:42:23:16 (random)"
    );
    let pairing = &conn.pairings[0];
    assert!(
        pairing.secure_connections,
        "crackle: Unable to crack ... LE Secure Connections"
    );
    assert_eq!(pairing.method, Some(Method::JustWorks));
    assert_eq!(
        (
            pairing.tk.as_ref(),
            pairing.passkey.as_ref(),
            pairing.derived_ltk.as_ref()
        ),
        (None, None, None)
    );
    assert!(conn.encryption.encrypted_pdus > 60);
    assert_eq!(conn.encryption.decrypted_pdus, 0);
    assert_eq!(findings(&report, "smp.just_works").len(), 1);
    assert!(findings(&report, "smp.legacy_pairing").is_empty());
}

#[test]
fn a_repeated_pairing_is_brute_forced_once() {
    // numeric_pin.pcap twice in one file, the copy's timestamps one hour later
    // (Ubertooth's clock left as is: a new CONNECT_IND starts its own link).
    let mut pcap = common::Pcap::parse(&common::data("crackle/numeric_pin.pcap"));
    let copy: Vec<common::Record> = pcap
        .records
        .iter()
        .map(|r| common::Record {
            ts_sec: r.ts_sec + 3600,
            ts_usec: r.ts_usec,
            data: r.data.clone(),
        })
        .collect();
    pcap.records.extend(copy);
    let (mut searches, mut last_done) = (0, u64::MAX);
    let report = blepake_sniff::analyse(
        &pcap.to_bytes(),
        &blepake_sniff::Options {
            ltks: Vec::new(),
            brute_force: true,
            tks: Vec::new(),
        },
        &mut |p| {
            // A search's count of candidates tried only grows: a new search starts lower.
            if let blepake_sniff::Progress::BruteForce { done, .. } = p {
                if done <= last_done {
                    searches += 1;
                }
                last_done = done;
            }
        },
    )
    .unwrap();
    let tks: Vec<_> = report
        .connections
        .iter()
        .flat_map(|c| c.pairings.iter().map(|p| p.tk.clone()))
        .collect();
    assert_eq!(tks, vec![Some("461140".to_string()); 2]);
    assert_eq!(searches, 1);
}
