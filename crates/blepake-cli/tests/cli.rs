//! The `blepake` binary's demo and provision commands, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

use blepake::{
    Device, DevicePolicy, DeviceRecord, HostConfig, HostConnection, Instant, SetupCode,
    SetupPayload,
};
use blepake_sim::driver::{Driver, HostWrite};
use blepake_sim::storage::MemoryStorage;
use blepake_sim::{FaultPlan, Link, LinkConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;

fn blepake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blepake"))
        .args(args)
        .output()
        .expect("runs")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("blepake-cli-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Small Argon2id parameters, for speed.
const CHEAP_KDF: [&str; 6] = [
    "--memory-kib",
    "64",
    "--iterations",
    "1",
    "--parallelism",
    "1",
];

#[test]
fn demo_pairs_refuses_guessers_and_reconnects() {
    let report = json(&blepake(&["demo", "--json", "--mtu", "23", "--seed", "7"]));
    let steps = &report["steps"];
    // The pairing reaches its first protected byte in three flights.
    let pairing = steps["pairing"]["timeline"].as_array().unwrap();
    let frames: Vec<&str> = pairing
        .iter()
        .flat_map(|f| f["frames"].as_array().unwrap())
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        frames,
        ["PairRequest", "PairResponse", "PairConfirm", "record"]
    );
    assert!(steps["pairing"]["cost"]["air_bytes"].as_u64().unwrap() > 0);
    assert_eq!(steps["messages"]["replies"][0], "door unlocked");
    // Three wrong guesses counted, the fourth refused by the backoff.
    let guesses = steps["wrong_codes"]["guesses"].as_array().unwrap();
    let counts: Vec<u64> = guesses
        .iter()
        .map(|g| g["failures"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2, 3, 3]);
    assert!(guesses[3]["outcome"].as_str().unwrap().contains("retry"));
    assert!(
        steps["wrong_codes"]["typo_refused"]
            .as_str()
            .unwrap()
            .contains("check digit")
    );
    // The reconnect: request, response, finish with the record.
    let resume = steps["reconnect"]["timeline"].as_array().unwrap();
    assert_eq!(resume[0]["frames"][0], "ResumeRequest");
    // The payload printed is a valid one, carrying the printed code.
    let payload = SetupPayload::parse(report["qr_payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        payload.code.manual().to_string(),
        report["setup_code"].as_str().unwrap()
    );
}

#[test]
fn demo_text_shows_the_story() {
    let output = blepake(&["demo", "--seed", "3"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "1. Provisioning",
        "2. Pairing",
        "PairConfirm + record",
        "device counter 3/10",
        "5. Bonded reconnect",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn provision_writes_records_labels_and_a_manifest_that_pair() {
    let dir = scratch("batch");
    let out = dir.to_str().unwrap();
    let mut args = vec![
        "provision",
        "--count",
        "3",
        "--out",
        out,
        "--format",
        "json",
        "--json",
    ];
    args.extend(CHEAP_KDF);
    let report = json(&blepake(&args));
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 3);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest, report);
    for device in devices {
        let record_bytes = std::fs::read(device["record_file"].as_str().unwrap()).unwrap();
        let record = DeviceRecord::from_bytes(&record_bytes).unwrap();
        assert_eq!(
            record.device_id.to_string(),
            device["device_id"].as_str().unwrap()
        );
        let png = std::fs::read(device["label_file"].as_str().unwrap()).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // The label's payload carries the code, and a host that derives
        // from it holds the secrets the record verifies.
        let payload = SetupPayload::parse(device["qr_payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload.info, record.setup_info());
        let code: SetupCode = device["setup_code"].as_str().unwrap().parse().unwrap();
        assert_eq!(payload.code, code);
        assert_eq!(
            SetupCode::parse_manual(device["manual_code"].as_str().unwrap()),
            Ok(code.clone())
        );
        let secrets = payload
            .info
            .kdf
            .derive(&code, &payload.info.device_id)
            .unwrap();
        let mut device = Device::new(
            record,
            DevicePolicy::default(),
            MemoryStorage::default(),
            ChaCha20Rng::seed_from_u64(1),
            Instant::from_millis(0),
        );
        let host = HostConnection::pair(
            &payload.info,
            &secrets,
            HostConfig::default(),
            &mut ChaCha20Rng::seed_from_u64(2),
            Instant::from_millis(0),
        );
        let link = Link::new(LinkConfig::default(), FaultPlan::new(), 0).unwrap();
        let mut driver = Driver::new(link, host, &mut device, HostWrite::Command);
        driver.run_until(10_000_000, |d| d.host.is_open() && d.conn.is_open());
        assert!(driver.host.is_open() && driver.conn.is_open());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn provision_csv_with_a_given_code() {
    let dir = scratch("csv");
    let out = dir.to_str().unwrap();
    let mut args = vec![
        "provision",
        "--out",
        out,
        "--code",
        "31415926",
        "--qr",
        "svg",
    ];
    args.extend(CHEAP_KDF);
    let output = blepake(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("314-159-266"));
    let csv = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("device_id,setup_code,manual_code,qr_payload,record")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[1..3], ["31415926", "314-159-266"]);
    assert!(
        std::fs::read_to_string(dir.join(format!("{}.svg", row[0])))
            .unwrap()
            .contains("<svg")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_arguments_get_clear_errors() {
    for (args, expected) in [
        (
            vec![
                "provision",
                "--count",
                "2",
                "--code",
                "31415926",
                "--qr",
                "none",
            ],
            "--code needs --count 1",
        ),
        (
            vec!["provision", "--code", "12345678", "--qr", "none"],
            "too easy to guess",
        ),
        (
            vec!["provision", "--code", "1234", "--qr", "none"],
            "8 digits",
        ),
        (vec!["provision"], "need --out"),
        (
            vec!["provision", "--qr", "none", "--memory-kib", "4"],
            "out of range",
        ),
        (vec!["provision", "--count", "0"], "0 is not in 1..=1000000"),
        (vec!["demo", "--mtu", "22"], "22 is not in 23..=517"),
    ] {
        let output = blepake(&args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
