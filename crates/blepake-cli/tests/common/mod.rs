//! What the command-line tests share: the command, light Argon2id, a
//! device provisioned into a folder, and the JSON lines a command prints.

// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub const BLEPAKE: &str = env!("CARGO_BIN_EXE_blepake");

/// Small Argon2id parameters, for speed.
pub const CHEAP_KDF: [&str; 6] = [
    "--memory-kib",
    "64",
    "--iterations",
    "1",
    "--parallelism",
    "1",
];

/// Provisions one device into `out` with light Argon2id, no QR code and
/// `args` besides; its entry of the manifest (`manual_code`, `device_id`,
/// `record_file`, ...).
pub fn provision_one(out: &Path, args: &[&str]) -> Value {
    let output = Command::new(BLEPAKE)
        .args(["provision", "--qr", "none", "--json"])
        .args(CHEAP_KDF)
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("blepake provision runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let manifest: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    manifest["devices"][0].clone()
}

/// What a `--json` command printed: one JSON object a line.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON lines"))
        .collect()
}

/// The first event of this name.
pub fn event<'a>(events: &'a [Value], name: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == name)
}
