//! `blepake device --hci` and `blepake connect --hci` end to end on Bumble's
//! virtual controllers, as a person or a script would run them; then
//! `blepake sniff` over the capture of the run.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

#[path = "../../blepake-trouble/tests/support/controllers.rs"]
mod controllers;
use controllers::Controllers;

mod common;
use common::{BLEPAKE, event, json_lines, provision_one};

/// A `blepake device` running, its JSON lines read as they come.
struct DeviceProcess {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
}

impl DeviceProcess {
    fn start(port: u16, record: &Path) -> Self {
        let mut child = Command::new(BLEPAKE)
            .args(["device", "--json", "--hci"])
            .arg(format!("tcp:127.0.0.1:{port}"))
            .arg("--record")
            .arg(record)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("blepake device starts");
        let stdin = child.stdin.take().expect("its input");
        let stdout = child.stdout.take().expect("its output");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value = serde_json::from_str(&line).expect("blepake device prints JSON lines");
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let mut device = Self {
            child,
            stdin,
            lines,
        };
        device.expect("advertising");
        device
    }

    /// Waits for the next event of this kind, skipping others.
    fn expect(&mut self, event: &str) -> Value {
        loop {
            let value = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("blepake device printed no {event:?} event"));
            if value["event"] == event {
                return value;
            }
        }
    }

    /// Presses the device's button: opens the pairing window.
    fn press(&mut self) {
        writeln!(self.stdin).expect("the device reads its input");
        assert_eq!(self.expect("window")["state"], "open");
    }
}

impl Drop for DeviceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `blepake connect --json` on the host's controller.
fn connect(port: u16, config: &Path, args: &[&str]) -> (Output, Vec<Value>) {
    let output = Command::new(BLEPAKE)
        .args(["connect", "--json", "--timeout", "5", "--hci"])
        .arg(format!("tcp:127.0.0.1:{port}"))
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .stdin(Stdio::null())
        .output()
        .expect("blepake connect runs");
    let events = json_lines(&output.stdout);
    (output, events)
}

#[test]
fn device_and_connect_pair_talk_resume_refuse_and_leave_no_secret_on_the_air() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-hci");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a work directory");
    let made = provision_one(&dir.join("factory"), &[]);
    let code = made["manual_code"].as_str().expect("a code").to_string();
    let device_id = made["device_id"].as_str().expect("an id").to_string();
    let record = PathBuf::from(made["record_file"].as_str().expect("a record file"));

    let snoop = dir.join("capture");
    let controllers = Controllers::start(Some(&snoop));
    let (device_port, host_port) = (controllers.device_port, controllers.host_port);
    let config = dir.join("config");

    // Nothing advertises yet: not found.
    let (output, events) = connect(host_port, &config, &["--code", &code]);
    assert_eq!(output.status.code(), Some(1));
    let error = event(&events, "error").expect("an error");
    assert_eq!(error["kind"], "device_not_found", "{events:?}");

    let mut device = DeviceProcess::start(device_port, &record);

    // Pair with the typed code, talk, keep the bond.
    let secret_text = "a message the radio must not carry in clear";
    let (output, events) = connect(
        host_port,
        &config,
        &["--code", &code, "--send", secret_text, "--recv", "1"],
    );
    assert!(
        output.status.success(),
        "{events:?} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        event(&events, "connected").expect("connected")["mode"],
        "paired"
    );
    assert_eq!(
        event(&events, "received").expect("the echo")["text"],
        secret_text
    );
    assert_eq!(device.expect("connected")["mode"], "paired");
    assert_eq!(device.expect("received")["text"], secret_text);
    let bond = config.join("blepake/bonds").join(&device_id);
    let metadata = std::fs::metadata(&bond).expect("the bond is kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            metadata.permissions().mode() & 0o777,
            0o600,
            "only its owner reads it"
        );
    }

    // Reconnect with the bond: no code.
    let (output, events) = connect(host_port, &config, &["--send", "again", "--recv", "1"]);
    assert!(output.status.success(), "{events:?}");
    assert_eq!(
        event(&events, "connected").expect("connected")["mode"],
        "resumed"
    );
    assert_eq!(
        event(&events, "received").expect("the echo")["text"],
        "again"
    );

    // A wrong code: refused while the window is closed, counted once open.
    let wrong = wrong_code(&code);
    let (output, events) = connect(host_port, &config, &["--code", &wrong, "--pair"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        event(&events, "error").expect("an error")["kind"],
        "window_closed"
    );
    device.press();
    let (output, events) = connect(host_port, &config, &["--code", &wrong, "--pair"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        event(&events, "error").expect("an error")["kind"],
        "wrong_code"
    );
    // The right code still pairs, replacing the bond.
    let (output, events) = connect(host_port, &config, &["--code", &code, "--pair"]);
    assert!(output.status.success(), "{events:?}");
    assert_eq!(
        event(&events, "connected").expect("connected")["mode"],
        "paired"
    );

    drop(device);
    drop(controllers);

    // The device's controller saw it all; the capture is kept.
    let capture = dir.join("capture-0.btsnoop");
    let bytes = std::fs::read(&capture).expect("Bumble wrote a capture");
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    for secret in [&digits[..8], &code, secret_text, "again"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the capture carries {secret:?}"
        );
    }
    let sniffed = Command::new(BLEPAKE)
        .args(["sniff", "--json"])
        .arg(&capture)
        .output()
        .expect("blepake sniff runs");
    let report: Value = serde_json::from_slice(&sniffed.stdout).expect("a JSON report");
    assert_eq!(report["stats"]["undecodable"], 0, "every frame decoded");
    let connections = report["connections"].as_array().expect("connections");
    assert_eq!(
        connections.len(),
        5,
        "one per blepake connect that reached the device"
    );
    assert!(
        connections
            .iter()
            .all(|c| c["att_mtu"] == 247 && c["pairings"] == Value::Array(vec![]))
    );
}

/// A code with a valid check digit that is not `code`.
fn wrong_code(code: &str) -> String {
    let digits: String = code.chars().filter(char::is_ascii_digit).take(8).collect();
    let value: u32 = digits.parse().expect("digits");
    format!("{:08}", (value + 1) % 100_000_000)
}
