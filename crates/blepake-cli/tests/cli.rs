//! The `blepake` binary's demo and provision commands, run as a user would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use blepake::{
    Connection, Device, DevicePolicy, DeviceRecord, HostConfig, HostConnection, Instant,
    MemoryStorage, Password, SetupCode, SetupPayload,
};
use blepake_sim::driver::{Driver, HostWrite};
use blepake_sim::{FaultPlan, Link, LinkConfig};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::Value;

mod common;
use common::{BLEPAKE, CHEAP_KDF};

fn blepake(args: &[&str]) -> Output {
    Command::new(BLEPAKE).args(args).output().expect("runs")
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
        [
            "PairRequest",
            "PairResponse",
            "PairConfirm",
            "ApplicationData"
        ]
    );
    assert!(steps["pairing"]["cost"]["air_bytes"].as_u64().unwrap() > 0);
    assert_eq!(steps["messages"]["replies"][0], "door unlocked");
    // With a bond held the window is closed: nothing counted. Then, in the
    // window the owner opened, three wrong guesses counted, the fourth
    // refused by the backoff.
    let guesses = steps["wrong_codes"]["guesses"].as_array().unwrap();
    assert!(
        guesses[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("window is closed")
    );
    let counts: Vec<u64> = guesses
        .iter()
        .map(|g| g["failures"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [0, 1, 2, 3, 3]);
    assert!(guesses[4]["outcome"].as_str().unwrap().contains("retry"));
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
    let Password::Code(code) = payload.password else {
        panic!("the demo's label carries a code");
    };
    assert_eq!(
        code.manual().to_string(),
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
        "PairConfirm + ApplicationData",
        "pairing window is closed",
        "device counter 3/10",
        "5. Bonded reconnect",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// A host holding the label's password pairs with a device holding the
/// record, over the simulated link.
fn pairs(record: DeviceRecord, payload: &SetupPayload) -> bool {
    assert_eq!(payload.info, record.setup_info());
    let secrets = payload
        .info
        .kdf
        .derive(&payload.password, &payload.info.device_id)
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
        None,
        HostConfig::default(),
        &mut ChaCha20Rng::seed_from_u64(2),
        Instant::from_millis(0),
    );
    let link = Link::new(LinkConfig::default(), FaultPlan::new(), 0).unwrap();
    let mut driver = Driver::new(link, host, &mut device, HostWrite::Command);
    driver.run_until(10_000_000, |d| d.host.is_open() && d.device_is_open());
    driver.host.is_open() && driver.device_is_open()
}

fn record_at(path: &str) -> DeviceRecord {
    DeviceRecord::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
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
        let record = record_at(device["record_file"].as_str().unwrap());
        assert_eq!(
            record.device_id.to_string(),
            device["device_id"].as_str().unwrap()
        );
        let png = std::fs::read(device["label_file"].as_str().unwrap()).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // The label's payload carries the code, and a host that derives
        // from it holds the secrets the record verifies.
        let payload = SetupPayload::parse(device["qr_payload"].as_str().unwrap()).unwrap();
        let code: SetupCode = device["setup_code"].as_str().unwrap().parse().unwrap();
        assert_eq!(payload.password, Password::Code(code.clone()));
        assert_eq!(
            SetupCode::parse_manual(device["manual_code"].as_str().unwrap()),
            Ok(code)
        );
        assert!(pairs(record, &payload));
    }
    #[cfg(unix)]
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // A second batch into the same folder adds to the manifest.
    let report = json(&blepake(&args));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let listed = manifest["devices"].as_array().unwrap();
    assert_eq!(listed.len(), 6);
    assert_eq!(listed[3..], report["devices"].as_array().unwrap()[..]);
    assert_eq!(listed[..3], devices[..]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_second_csv_batch_keeps_the_first_batchs_codes() {
    let dir = scratch("csv-append");
    let out = dir.to_str().unwrap();
    let mut args = vec!["provision", "--out", out, "--qr", "none", "--count"];
    let mut first = args.clone();
    first.push("2");
    first.extend(CHEAP_KDF);
    assert!(blepake(&first).status.success());
    args.push("3");
    args.extend(CHEAP_KDF);
    assert!(blepake(&args).status.success());
    let csv = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert_eq!(
        csv.lines().filter(|l| l.starts_with("device_id,")).count(),
        1
    );
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        let record = record_at(dir.join(format!("{}.record", fields[0])).to_str().unwrap());
        let payload = SetupPayload::parse(fields[4]).unwrap();
        let code: SetupCode = fields[2].parse().unwrap();
        assert_eq!(payload.password, Password::Code(code));
        assert_eq!(record.setup_info(), payload.info);
    }
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("manifest.csv")), 0o600);
    // A manifest of another layout is refused before anything is made.
    std::fs::write(dir.join("manifest.csv"), "something else\n").unwrap();
    let output = blepake(&args);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a manifest"));
    assert_eq!(
        std::fs::read_to_string(dir.join("manifest.csv")).unwrap(),
        "something else\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_folder_every_device_is_printed_whole() {
    let mut args = vec!["provision", "--count", "12", "--qr", "none"];
    args.extend(CHEAP_KDF);
    let output = blepake(&args);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let devices: Vec<&str> = text.lines().filter(|l| l.starts_with("device ")).collect();
    let records: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  record "))
        .collect();
    assert_eq!((devices.len(), records.len()), (12, 12), "{text}");
    for (device, record) in devices.iter().zip(records) {
        let payload = device.rsplit_once(" (").unwrap().1.trim_end_matches(')');
        let payload = SetupPayload::parse(payload).unwrap();
        let record = record.trim_start_matches("  record ");
        let bytes: Vec<u8> = (0..record.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&record[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            DeviceRecord::from_bytes(&bytes).unwrap().setup_info(),
            payload.info
        );
    }
    assert!(!text.contains("more"));
}

#[test]
fn a_qr_secret_device_pairs_from_its_label_alone() {
    let dir = scratch("secret");
    let out = dir.to_str().unwrap();
    let report = json(&blepake(&[
        "provision",
        "--out",
        out,
        "--qr-secret",
        "--json",
    ]));
    let device = &report["devices"][0];
    assert_eq!(device["password"], "qr-secret");
    assert!(device["setup_code"].is_null() && device["manual_code"].is_null());
    assert_eq!(device["kdf"]["algorithm"], "hkdf-sha256");
    let payload = SetupPayload::parse(device["qr_payload"].as_str().unwrap()).unwrap();
    assert!(matches!(payload.password, Password::Secret(_)));
    assert!(pairs(
        record_at(device["record_file"].as_str().unwrap()),
        &payload
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn provision_csv_with_a_given_code() {
    let dir = scratch("csv");
    let out = dir.to_str().unwrap();
    // The code as the label prints it, check digit and all.
    let mut args = vec![
        "provision",
        "--out",
        out,
        "--code",
        "314-159-266",
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
            .starts_with("device_id,password,setup_code,manual_code,qr_payload,record")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(row[1..4], ["setup-code", "31415926", "314-159-266"]);
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
        (
            vec!["provision", "--code", "314-159-265", "--qr", "none"],
            "check digit",
        ),
        (
            vec!["provision", "--code", "31415926", "--qr-secret"],
            "cannot be used with",
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

#[test]
fn a_closed_pipe_ends_the_demo_quietly() {
    // `blepake demo | head -1`: the reader goes away after one line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_blepake"))
        .args(["demo", "--seed", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("blepake demo"));
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_demo_runs_over_the_whole_interval_range_its_help_gives() {
    for units in ["6", "1599", "1600", "3200"] {
        let report = json(&blepake(&["demo", "--json", "--interval-units", units]));
        assert_eq!(
            report["link"]["interval_ms"].as_f64().unwrap(),
            units.parse::<f64>().unwrap() * 1.25
        );
        assert!(
            report["steps"]["reconnect"]["cost"]["time_ms"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    let output = blepake(&["demo", "--interval-units", "3201"]);
    assert!(!output.status.success());
}
