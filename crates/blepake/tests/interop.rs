//! This implementation against an independent one: the Python reference in
//! `tools/interop`, written from PROTOCOL.md alone, run live as a peer
//! process. Pairing from a code and from a QR secret, 0.5-RTT data, messages
//! both ways, key updates, close, bonds and resume, replayed resumes, the
//! closed pairing window, pairing again over an old bond, wrong codes and
//! malformed alerts, in both roles.
//!
//! Needs the Python virtual environment that `scripts/setup` makes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use blepake::pump::{self, Input, Transport};
use blepake::{
    Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Error, Event, HostConfig,
    HostConnection, Instant, KdfAlgorithm, KdfParams, MemoryStorage, Mode, Password, QrSecret,
    SetupCode, SetupPayload,
};
use common::{Seen, TestDevice};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const NOW: Instant = Instant::from_millis(0);
/// Values as a link with ATT MTU 185 would carry them.
const VALUE_LEN: usize = 182;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The Python peer, driven by the line protocol of `tools/interop/peer.py`.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    out: Vec<u8>,
    /// Every value we gave the peer, in order.
    given: Vec<u8>,
    events: Vec<String>,
    status: Option<String>,
}

impl Peer {
    fn spawn(args: &[&str]) -> Peer {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "the interop tests need {}: run scripts/setup",
            python.display()
        );
        let mut child = Command::new(python)
            .arg(root.join("tools/interop/peer.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut peer = Peer {
            child,
            stdin,
            stdout,
            out: Vec::new(),
            given: Vec::new(),
            events: Vec::new(),
            status: None,
        };
        peer.collect();
        peer
    }

    /// Reads the peer's lines up to READY.
    fn collect(&mut self) {
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "the peer exited"
            );
            let line = line.trim_end();
            if line == "READY" {
                return;
            } else if let Some(bytes) = line.strip_prefix("OUT ") {
                self.out.extend(unhex(bytes));
            } else if let Some(event) = line.strip_prefix("EVENT ") {
                self.events.push(event.to_owned());
            } else if let Some(status) = line.strip_prefix("STATUS ") {
                self.status = Some(status.to_owned());
            } else {
                panic!("the peer said: {line}");
            }
        }
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        self.collect();
    }

    fn has_event(&self, prefix: &str) -> bool {
        self.events.iter().any(|e| e.starts_with(prefix))
    }

    fn messages(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| e.strip_prefix("MESSAGE"))
            .map(|m| unhex(m.trim()))
            .collect()
    }

    /// The bond's bytes from the peer's BONDED event.
    fn bond(&self) -> Vec<u8> {
        let bond = self
            .events
            .iter()
            .find_map(|e| e.strip_prefix("BONDED "))
            .expect("a bond");
        unhex(bond)
    }

    /// The peer's output, taken.
    fn take_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The device peer's state line: `failures=N window=... bonds=...`.
    fn status(&mut self) -> String {
        self.command("STATUS");
        self.status.take().expect("a STATUS line")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "QUIT");
        let _ = self.child.wait();
    }
}

/// The peer is the transport: each value we send is one `IN` line.
impl Transport for Peer {
    type Error = std::convert::Infallible;

    fn now(&self) -> Instant {
        NOW
    }

    fn max_value_len(&self) -> usize {
        VALUE_LEN
    }

    fn can_send(&self) -> bool {
        true
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Self::Error> {
        self.given.extend_from_slice(value);
        self.command(&format!("IN {}", hex(value)));
        Ok(())
    }

    fn subscribe(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Moves bytes both ways, through the pump, until neither side has
/// anything to send.
fn exchange<C: Connection>(ours: &mut C, seen: &mut Seen, peer: &mut Peer) {
    pump::step(ours, peer, Input::Ready, seen.callback()).unwrap();
    loop {
        let incoming = std::mem::take(&mut peer.out);
        if incoming.is_empty() {
            return;
        }
        for value in incoming.chunks(VALUE_LEN) {
            pump::step(ours, peer, Input::Received(value), seen.callback()).unwrap();
        }
    }
}

fn cheap_kdf() -> KdfParams {
    KdfParams {
        algorithm: KdfAlgorithm::Argon2id,
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        salt: [0x5a; 16],
    }
}

fn code() -> SetupCode {
    SetupCode::new(31_415_926).unwrap()
}

fn record() -> DeviceRecord {
    DeviceRecord::provision(
        &Password::Code(code()),
        DeviceId([0xd1, 0xce, 1, 2, 3, 4, 5, 6]),
        cheap_kdf(),
    )
    .unwrap()
}

fn our_host(code: &SetupCode, rng_seed: u64) -> HostConnection {
    our_host_for(&record(), &Password::Code(code.clone()), None, rng_seed)
}

fn our_host_for(
    record: &DeviceRecord,
    password: &Password,
    previous: Option<&Bond>,
    rng_seed: u64,
) -> HostConnection {
    let info = record.setup_info();
    let secrets = info.kdf.derive(password, &info.device_id).unwrap();
    let config = HostConfig {
        records_per_key: 3,
        ..HostConfig::default()
    };
    HostConnection::pair(
        &info,
        &secrets,
        previous,
        config,
        &mut ChaCha20Rng::seed_from_u64(rng_seed),
        NOW,
    )
}

fn our_resume(bond: &Bond, rng_seed: u64) -> HostConnection {
    HostConnection::resume(
        bond,
        HostConfig::default(),
        &mut ChaCha20Rng::seed_from_u64(rng_seed),
        NOW,
    )
}

fn our_device() -> TestDevice {
    our_device_with(record())
}

fn our_device_with(record: DeviceRecord) -> TestDevice {
    let policy = DevicePolicy {
        records_per_key: 3,
        ..DevicePolicy::default()
    };
    Device::new(
        record,
        policy,
        MemoryStorage::default(),
        ChaCha20Rng::seed_from_u64(3),
        NOW,
    )
}

/// Runs a new link of our device against the peer; what the link saw.
fn on_new_link(device: &mut TestDevice, peer: &mut Peer) -> Seen {
    let id = device.accept(NOW).unwrap();
    let mut seen = Seen::default();
    exchange(&mut device.link(id).unwrap(), &mut seen, peer);
    device.remove(id);
    seen
}

/// Runs our host against the peer; what it saw.
fn run(mut host: HostConnection, peer: &mut Peer) -> Seen {
    let mut seen = Seen::default();
    exchange(&mut host, &mut seen, peer);
    seen
}

fn messages(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix} {i}: {}", "x".repeat(i * 40)).into_bytes())
        .collect()
}

#[test]
fn our_host_pairs_talks_and_resumes_with_their_device() {
    let record_hex = hex(&record().to_bytes());
    let mut peer = Peer::spawn(&["device", "--record", &record_hex]);
    let mut host = our_host(&code(), 1);
    let mut seen = Seen {
        outbox: messages("from our host", 7).into(),
        ..Seen::default()
    };
    exchange(&mut host, &mut seen, &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Paired));
    assert!(peer.has_event("CONNECTED paired"));
    // Seven messages with a key update every third record (ours) arrive.
    assert_eq!(peer.messages(), messages("from our host", 7));

    // Theirs: messages around an explicit key update.
    for (i, message) in messages("from their device", 4).iter().enumerate() {
        if i == 2 {
            peer.command("KEYUPDATE");
        }
        peer.command(&format!("SEND {}", hex(message)));
    }
    exchange(&mut host, &mut seen, &mut peer);
    assert_eq!(seen.messages, messages("from their device", 4));

    // Both derived the same bond, and its bytes are the same.
    let bond = seen.bond().unwrap();
    assert_eq!(peer.bond(), bond.to_bytes());

    host.close(7).unwrap();
    exchange(&mut host, &mut Seen::default(), &mut peer);
    assert!(peer.has_event("CLOSED 1 7"));
    drop(peer);

    // A new link to their device, which keeps the bond: one round trip.
    let bond_arg = hex(&bond.to_bytes());
    let mut peer = Peer::spawn(&["device", "--record", &record_hex, "--bond", &bond_arg]);
    let mut host = HostConnection::resume(
        &bond,
        HostConfig::default(),
        &mut ChaCha20Rng::seed_from_u64(2),
        NOW,
    );
    let mut seen = Seen {
        outbox: vec![b"resumed".to_vec()].into(),
        ..Seen::default()
    };
    exchange(&mut host, &mut seen, &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Resumed));
    assert!(peer.has_event("CONNECTED resumed"));
    assert_eq!(peer.messages(), vec![b"resumed".to_vec()]);
}

#[test]
fn their_host_pairs_talks_and_resumes_with_our_device() {
    let mut device = our_device();
    let payload = SetupPayload {
        info: record().setup_info(),
        password: Password::Code(code()),
    }
    .to_text();
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    // Their first message rides with their confirmation.
    peer.command(&format!("SEND {}", hex(b"0.5-RTT from their host")));
    let id = device.accept(NOW).unwrap();
    let mut seen = Seen {
        outbox: messages("from our device", 5).into(),
        ..Seen::default()
    };
    exchange(&mut device.link(id).unwrap(), &mut seen, &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Paired));
    assert_eq!(seen.messages, vec![b"0.5-RTT from their host".to_vec()]);
    assert_eq!(peer.messages(), messages("from our device", 5));

    peer.command("KEYUPDATE");
    peer.command(&format!("SEND {}", hex(b"after their key update")));
    peer.command("CLOSE 9");
    exchange(&mut device.link(id).unwrap(), &mut seen, &mut peer);
    assert_eq!(seen.messages.last().unwrap(), b"after their key update");
    assert!(seen.events.iter().any(|e| matches!(
        e,
        Event::Closed {
            by_peer: true,
            reason: 9
        }
    )));
    assert_eq!(device.attempts().failures, 0);
    device.remove(id);

    // Their bond resumes with our device.
    let bond = peer.bond();
    assert!(Bond::from_bytes(&bond).is_ok());
    drop(peer);
    let mut peer = Peer::spawn(&["host", "--bond", &hex(&bond)]);
    peer.command(&format!("SEND {}", hex(b"resumed")));
    let id = device.accept(NOW).unwrap();
    let mut seen = Seen::default();
    exchange(&mut device.link(id).unwrap(), &mut seen, &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Resumed));
    assert_eq!(seen.messages, vec![b"resumed".to_vec()]);
}

#[test]
fn wrong_codes_fail_on_both_sides_in_both_roles() {
    // Their host, a wrong code, our device.
    let mut device = our_device();
    let wrong = SetupCode::new(27_182_818).unwrap();
    let payload = SetupPayload {
        info: record().setup_info(),
        password: Password::Code(wrong.clone()),
    }
    .to_text();
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    let id = device.accept(NOW).unwrap();
    let mut seen = Seen::default();
    exchange(&mut device.link(id).unwrap(), &mut seen, &mut peer);
    assert!(
        peer.has_event("FAILED sent:AuthenticationFailed"),
        "{:?}",
        peer.events
    );
    assert_eq!(seen.failure(), Some((Error::AuthenticationFailed, true)));
    assert_eq!(device.attempts().failures, 1);

    // Our host, a wrong code, their device.
    let mut peer = Peer::spawn(&["device", "--record", &hex(&record().to_bytes())]);
    let mut host = our_host(&wrong, 5);
    let mut seen = Seen::default();
    exchange(&mut host, &mut seen, &mut peer);
    assert_eq!(seen.failure(), Some((Error::AuthenticationFailed, false)));
    assert!(
        peer.has_event("FAILED received:AuthenticationFailed"),
        "{:?}",
        peer.events
    );
}

#[test]
fn qr_secrets_pair_in_both_roles() {
    let password = Password::Secret(QrSecret::from_bytes([0x42; 16]));
    let record = DeviceRecord::provision(
        &password,
        DeviceId([0x5e, 0xc2, 0xe7, 0, 0, 0, 0, 1]),
        KdfParams::for_qr_secret([0x17; 16]),
    )
    .unwrap();

    // Their host scans our device's 75-character payload.
    let payload = SetupPayload {
        info: record.setup_info(),
        password: password.clone(),
    }
    .to_text();
    assert_eq!(payload.as_str().len(), 75);
    let mut device = our_device_with(record.clone());
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    let seen = on_new_link(&mut device, &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Paired));
    assert!(peer.has_event("CONNECTED paired"), "{:?}", peer.events);

    // Our host, their device with the same record.
    let mut peer = Peer::spawn(&["device", "--record", &hex(&record.to_bytes())]);
    let seen = run(our_host_for(&record, &password, None, 11), &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Paired));
    assert!(peer.has_event("CONNECTED paired"), "{:?}", peer.events);

    // A wrong secret fails like a wrong code.
    let wrong = Password::Secret(QrSecret::from_bytes([0x43; 16]));
    let mut peer = Peer::spawn(&["device", "--record", &hex(&record.to_bytes())]);
    let seen = run(our_host_for(&record, &wrong, None, 12), &mut peer);
    assert_eq!(seen.failure(), Some((Error::AuthenticationFailed, false)));
}

#[test]
fn their_device_closes_its_window_and_replaces_a_bond_paired_again() {
    let record_hex = hex(&record().to_bytes());
    let mut peer = Peer::spawn(&["device", "--record", &record_hex]);
    let first = run(our_host(&code(), 21), &mut peer).bond().unwrap();
    assert!(peer.status().starts_with("failures=0 window=closed bonds="));

    // Bonded now: pairing is refused until the button, and counts nothing.
    peer.command("CONNECT");
    let seen = run(our_host(&code(), 22), &mut peer);
    assert_eq!(seen.failure(), Some((Error::PairingClosed, true)));

    // After the button, pairing again with the old bond's host id replaces it.
    peer.command("OPEN_WINDOW");
    peer.command("CONNECT");
    let again = run(
        our_host_for(&record(), &Password::Code(code()), Some(&first), 23),
        &mut peer,
    )
    .bond()
    .unwrap();
    assert_eq!(again.host_id, first.host_id);
    assert_eq!(
        peer.status(),
        format!("failures=0 window=closed bonds={}", hex(&first.host_id.0))
    );
    peer.command("CONNECT");
    let seen = run(our_resume(&first, 24), &mut peer);
    assert_eq!(seen.failure(), Some((Error::ResumeRejected, true)));
    peer.command("CONNECT");
    assert_eq!(
        run(our_resume(&again, 25), &mut peer).mode(),
        Some(Mode::Resumed)
    );
}

#[test]
fn our_device_closes_its_window_and_replaces_a_bond_paired_again() {
    let mut device = our_device();
    let payload = SetupPayload {
        info: record().setup_info(),
        password: Password::Code(code()),
    }
    .to_text();
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    assert_eq!(
        on_new_link(&mut device, &mut peer).mode(),
        Some(Mode::Paired)
    );
    let first = peer.bond();

    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    let seen = on_new_link(&mut device, &mut peer);
    assert_eq!(seen.failure(), Some((Error::PairingClosed, false)));
    assert!(
        peer.has_event("FAILED received:PairingClosed"),
        "{:?}",
        peer.events
    );
    assert_eq!(device.attempts().failures, 0);

    device.open_pairing_window(NOW).unwrap();
    let mut peer = Peer::spawn(&[
        "host",
        "--setup-payload",
        payload.as_str(),
        "--previous-bond",
        &hex(&first),
    ]);
    assert_eq!(
        on_new_link(&mut device, &mut peer).mode(),
        Some(Mode::Paired)
    );
    let again = peer.bond();
    assert_eq!(again[9..17], first[9..17], "the same host id");
    let held: Vec<_> = device.bonds().iter().collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].0[..], first[9..17]);

    let mut peer = Peer::spawn(&["host", "--bond", &hex(&first)]);
    let seen = on_new_link(&mut device, &mut peer);
    assert_eq!(seen.failure(), Some((Error::ResumeRejected, false)));
    let mut peer = Peer::spawn(&["host", "--bond", &hex(&again)]);
    assert_eq!(
        on_new_link(&mut device, &mut peer).mode(),
        Some(Mode::Resumed)
    );
}

#[test]
fn replayed_resumes_are_refused_in_both_roles() {
    // Our resume request, replayed into their device on a new connection.
    let record_hex = hex(&record().to_bytes());
    let mut peer = Peer::spawn(&["device", "--record", &record_hex]);
    let bond = run(our_host(&code(), 31), &mut peer).bond().unwrap();
    peer.command("CONNECT");
    peer.given.clear();
    assert_eq!(
        run(our_resume(&bond, 32), &mut peer).mode(),
        Some(Mode::Resumed)
    );
    let request = peer.given[..69].to_vec();
    peer.command("CONNECT");
    peer.command(&format!("IN {}", hex(&request)));
    assert!(
        peer.has_event("FAILED sent:ResumeRejected"),
        "{:?}",
        peer.events
    );
    assert_eq!(peer.take_out(), [0x70, 0x01, 6]);

    // Their resume request, replayed into our device.
    let mut device = our_device();
    let payload = SetupPayload {
        info: record().setup_info(),
        password: Password::Code(code()),
    }
    .to_text();
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    assert_eq!(
        on_new_link(&mut device, &mut peer).mode(),
        Some(Mode::Paired)
    );
    let mut peer = Peer::spawn(&["host", "--bond", &hex(&peer.bond())]);
    let request = peer.out.clone();
    assert_eq!(request.len(), 69);
    assert_eq!(
        on_new_link(&mut device, &mut peer).mode(),
        Some(Mode::Resumed)
    );
    let id = device.accept(NOW).unwrap();
    let mut transport = pump::MemoryTransport::new(VALUE_LEN, NOW);
    let mut seen = Seen::default();
    let mut link = device.link(id).unwrap();
    pump::step(
        &mut link,
        &mut transport,
        Input::Received(&request),
        seen.callback(),
    )
    .unwrap();
    assert_eq!(seen.failure(), Some((Error::ResumeRejected, false)));
}

#[test]
fn their_side_never_answers_a_malformed_alert() {
    for alert in ["700102", "710003fa00", "7002030000"] {
        let mut peer = Peer::spawn(&["device", "--record", &hex(&record().to_bytes())]);
        peer.command(&format!("IN {alert}"));
        assert!(
            peer.has_event("FAILED malformed-alert"),
            "{alert}: {:?}",
            peer.events
        );
        assert!(peer.take_out().is_empty(), "{alert} was answered");
    }
}
