//! The Cortex-M4 firmware (firmware/qemu-m4) under QEMU's mps2-an386,
//! with `blepake connect --uart` on its UART: a fresh pairing with
//! messages, a wrong code counted by the firmware and still counted after
//! a board reset, and a reconnect with the bond. Then the P-256 check
//! image. Needs qemu-system-arm (scripts/setup installs it); the images
//! are built here, in the firmware's own workspace.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use blepake_uart::{FrameType, MAX_ENCODED_LEN};
use serde_json::Value;

mod common;
use common::{BLEPAKE, event, json_lines, provision_one};

/// Builds the images once (release: opt-level s, LTO) and returns their
/// directory.
fn images() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let firmware = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware/qemu-m4");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--locked", "--quiet"])
            .current_dir(&firmware)
            // The firmware's own workspace and target directory.
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the firmware builds");
        firmware.join("target/thumbv7em-none-eabihf/release")
    })
}

fn qemu(image: &Path) -> Command {
    let mut command = Command::new("qemu-system-arm");
    command
        .args(["-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
        .args(["-monitor", "none", "-icount", "shift=0"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(image);
    command
}

/// The emulated device, its console lines read as they come.
struct Board {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Board {
    fn start(record: &Path) -> Self {
        // A free port for QEMU's UART server.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut child = qemu(&images().join("device"))
            .arg("-serial")
            .arg(format!("tcp:127.0.0.1:{port},server=on,wait=on"))
            .arg("-device")
            .arg(format!("loader,file={},addr=0x21000000", record.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-arm runs (scripts/setup installs it)");
        let stdout = child.stdout.take().expect("its console");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let board = Self { child, port, lines };
        // QEMU listens before the guest runs.
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return board;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("QEMU's UART never listened on port {port}");
    }

    /// Waits for a console line that starts with `prefix`, skipping others,
    /// and returns it.
    fn expect(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the firmware printed no line starting {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Sends a board command (the button, a reset) on the UART and returns
    /// the console line that starts with `reply`. The socket closes only
    /// after the reply, so that QEMU has passed the whole frame on.
    fn command(&self, command: u8, reply: &str) -> String {
        let mut frame = [0; MAX_ENCODED_LEN];
        let len = blepake_uart::encode(FrameType::Board(command), &[], &mut frame).unwrap();
        let mut uart = TcpStream::connect(("127.0.0.1", self.port)).expect("the UART");
        uart.write_all(&frame[..len]).expect("the frame goes");
        self.expect(reply)
    }

    /// Runs `blepake connect --json --uart` on the board's UART.
    fn connect(&self, args: &[&str]) -> (Option<i32>, Vec<Value>) {
        let output = Command::new(BLEPAKE)
            .args(["connect", "--json", "--timeout", "20", "--uart"])
            .arg(format!("tcp:127.0.0.1:{}", self.port))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("blepake connect runs");
        (output.status.code(), json_lines(&output.stdout))
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e["event"] == "received")
        .filter_map(|e| e["text"].as_str())
        .collect()
}

#[test]
fn firmware_pairs_counts_a_wrong_code_across_a_reset_and_resumes() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-qemu-m4");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a work directory");
    let made = provision_one(&dir.join("factory"), &["--code", "31415926"]);
    let record = PathBuf::from(made["record_file"].as_str().expect("a record file"));
    let bond = dir.join("bond");
    let bond_arg = bond.to_str().expect("a UTF-8 path");

    let board = Board::start(&record);

    // A fresh pairing with the code, and messages both ways.
    let (status, events) = board.connect(&[
        "--code", "31415926", "--bond", bond_arg, "--send", "hello", "--send", "world", "--recv",
        "2",
    ]);
    assert_eq!(status, Some(0), "{events:?}");
    assert_eq!(event(&events, "connected").unwrap()["mode"], "paired");
    assert_eq!(received(&events), ["hello", "world"]);
    // The firmware checked the RFC 9383 vector on its fast P-256 path.
    assert_eq!(
        board.expect("self-test:"),
        "self-test: RFC 9383 vector ok (fast-p256)"
    );
    assert_eq!(
        board.expect("status:"),
        "status: failures=0 locked=false bonds=0"
    );
    board.expect("connected: paired");
    assert_eq!(
        board.expect("status:"),
        "status: failures=0 locked=false bonds=1"
    );
    assert!(bond.exists(), "the host keeps the bond");

    // With a bond the window is closed: the button opens it, then a wrong
    // code fails on the host and is counted by the firmware.
    assert_eq!(
        board.command(0, "button:"),
        "button: pairing window open=true"
    );
    let stranger = dir.join("stranger-bond");
    let (status, events) =
        board.connect(&["--code", "27182818", "--bond", stranger.to_str().unwrap()]);
    assert_eq!(status, Some(1), "{events:?}");
    assert_eq!(event(&events, "error").unwrap()["kind"], "wrong_code");
    assert!(event(&events, "connected").is_none());
    assert_eq!(
        board.expect("status:"),
        "status: failures=1 locked=false bonds=1"
    );

    // A board reset: the count survives in the firmware's flash.
    board.command(1, "reset");
    board.expect("self-test: RFC 9383 vector ok");
    assert_eq!(board.expect("boot "), "boot 2");
    assert_eq!(
        board.expect("status:"),
        "status: failures=1 locked=false bonds=1"
    );

    // A reconnect with the bond: no code, messages again.
    let (status, events) = board.connect(&["--bond", bond_arg, "--send", "again", "--recv", "1"]);
    assert_eq!(status, Some(0), "{events:?}");
    assert_eq!(event(&events, "connected").unwrap()["mode"], "resumed");
    assert_eq!(received(&events), ["again"]);
    board.expect("connected: resumed");
}

#[test]
fn the_fast_p256_path_matches_p256_on_the_m4() {
    let output = qemu(&images().join("p256-check"))
        .args(["-serial", "null"])
        .stderr(Stdio::null())
        .output()
        .expect("qemu-system-arm runs (scripts/setup installs it)");
    let console = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{console}");
    assert!(
        console
            .contains("p256-check (fast-p256): 92 of 92 products match p256, RFC 9383 vector ok"),
        "{console}"
    );
}
