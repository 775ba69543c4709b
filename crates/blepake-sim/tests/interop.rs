//! This implementation against an independent one: the Python reference in
//! `tools/interop`, written from PROTOCOL.md alone, run live as a peer
//! process. Pairing, 0.5-RTT data, messages both ways, key updates, close,
//! bonds and resume, and wrong codes, in both roles.
//!
//! Needs the Python virtual environment that `scripts/setup` makes.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use blepake::{
    Alert, Device, DeviceConnection, DeviceId, DevicePolicy, DeviceRecord, Error, Event,
    HostConfig, HostConnection, Instant, KdfAlgorithm, KdfParams, MAX_MESSAGE_LEN, Mode, SetupCode,
    SetupPayload,
};
use blepake_sim::driver::SimDevice;
use blepake_sim::storage::MemoryStorage;
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
    events: Vec<String>,
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
            events: Vec::new(),
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

    /// `device_id host_id secret` from the peer's BONDED event.
    fn bond(&self) -> [Vec<u8>; 3] {
        let fields = self
            .events
            .iter()
            .find_map(|e| e.strip_prefix("BONDED "))
            .expect("a bond");
        let parts: Vec<Vec<u8>> = fields.split(' ').map(unhex).collect();
        [parts[0].clone(), parts[1].clone(), parts[2].clone()]
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "QUIT");
        let _ = self.child.wait();
    }
}

/// One of our connections, host or device, as the exchange loop sees it.
trait Ours {
    fn input(&mut self, bytes: &[u8]);
    fn transmit(&mut self, out: &mut [u8]) -> Option<usize>;
    fn event(&mut self) -> Option<Event>;
    fn message(&mut self, buf: &mut [u8; MAX_MESSAGE_LEN]) -> Option<Vec<u8>>;
    fn send(&mut self, message: &[u8]) -> bool;
}

impl Ours for HostConnection {
    fn input(&mut self, bytes: &[u8]) {
        self.handle_input(bytes, NOW).unwrap();
    }
    fn transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        self.poll_transmit(out)
    }
    fn event(&mut self) -> Option<Event> {
        self.poll_event()
    }
    fn message(&mut self, buf: &mut [u8; MAX_MESSAGE_LEN]) -> Option<Vec<u8>> {
        self.recv(buf).map(<[u8]>::to_vec)
    }
    fn send(&mut self, message: &[u8]) -> bool {
        HostConnection::send(self, message).is_ok()
    }
}

struct OurDevice<'a> {
    device: &'a mut SimDevice,
    conn: DeviceConnection,
}

impl Ours for OurDevice<'_> {
    fn input(&mut self, bytes: &[u8]) {
        self.conn.handle_input(self.device, bytes, NOW).unwrap();
    }
    fn transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        self.conn.poll_transmit(out)
    }
    fn event(&mut self) -> Option<Event> {
        self.conn.poll_event()
    }
    fn message(&mut self, buf: &mut [u8; MAX_MESSAGE_LEN]) -> Option<Vec<u8>> {
        self.conn.recv(buf).map(<[u8]>::to_vec)
    }
    fn send(&mut self, message: &[u8]) -> bool {
        self.conn.send(message).is_ok()
    }
}

/// What our side saw.
#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    messages: Vec<Vec<u8>>,
    /// Messages to send as soon as the session is open.
    outbox: Vec<Vec<u8>>,
}

impl Seen {
    fn mode(&self) -> Option<Mode> {
        self.events.iter().find_map(|e| match e {
            Event::Connected(info) => Some(info.mode),
            _ => None,
        })
    }

    fn failure(&self) -> Option<Error> {
        self.events.iter().find_map(|e| match e {
            Event::Failed(error) => Some(*error),
            _ => None,
        })
    }
}

/// Moves bytes both ways until neither side has anything to send.
fn exchange(ours: &mut dyn Ours, seen: &mut Seen, peer: &mut Peer) {
    let mut value = [0; VALUE_LEN];
    let mut buf = [0; MAX_MESSAGE_LEN];
    loop {
        let mut moved = false;
        let incoming = std::mem::take(&mut peer.out);
        for chunk in incoming.chunks(VALUE_LEN) {
            ours.input(chunk);
            moved = true;
        }
        while let Some(event) = ours.event() {
            seen.events.push(event);
        }
        while let Some(message) = ours.message(&mut buf) {
            seen.messages.push(message);
        }
        while !seen.outbox.is_empty() && ours.send(&seen.outbox[0]) {
            seen.outbox.remove(0);
        }
        while let Some(n) = ours.transmit(&mut value) {
            peer.command(&format!("IN {}", hex(&value[..n])));
            moved = true;
        }
        if !moved {
            return;
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
        &code(),
        DeviceId([0xd1, 0xce, 1, 2, 3, 4, 5, 6]),
        cheap_kdf(),
    )
    .unwrap()
}

fn our_host(code: &SetupCode, rng_seed: u64) -> HostConnection {
    let info = record().setup_info();
    let secrets = info.kdf.derive(code, &info.device_id).unwrap();
    let config = HostConfig {
        records_per_key: 3,
        ..HostConfig::default()
    };
    HostConnection::pair(
        &info,
        &secrets,
        config,
        &mut ChaCha20Rng::seed_from_u64(rng_seed),
        NOW,
    )
}

fn our_device() -> SimDevice {
    let policy = DevicePolicy {
        records_per_key: 3,
        ..DevicePolicy::default()
    };
    Device::new(
        record(),
        policy,
        MemoryStorage::default(),
        ChaCha20Rng::seed_from_u64(3),
        NOW,
    )
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
        outbox: messages("from our host", 7),
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

    // Both derived the same bond.
    let bond = seen
        .events
        .iter()
        .find_map(|e| match e {
            Event::Bonded(bond) => Some(bond.clone()),
            _ => None,
        })
        .unwrap();
    let [device_id, host_id, secret] = peer.bond();
    assert_eq!(
        bond.to_bytes()[1..],
        [device_id, host_id.clone(), secret.clone()].concat()[..]
    );

    host.close(7).unwrap();
    exchange(&mut host, &mut Seen::default(), &mut peer);
    assert!(peer.has_event("CLOSED 1 7"));
    drop(peer);

    // A new link to their device, which keeps the bond: one round trip.
    let bond_arg = format!("{}:{}", hex(&host_id), hex(&secret));
    let mut peer = Peer::spawn(&["device", "--record", &record_hex, "--bond", &bond_arg]);
    let mut host = HostConnection::resume(
        &bond,
        HostConfig::default(),
        &mut ChaCha20Rng::seed_from_u64(2),
        NOW,
    );
    let mut seen = Seen {
        outbox: vec![b"resumed".to_vec()],
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
        code: code(),
    }
    .to_text();
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    // Their first message rides with their confirmation.
    peer.command(&format!("SEND {}", hex(b"0.5-RTT from their host")));
    let conn = device.accept();
    let mut ours = OurDevice {
        device: &mut device,
        conn,
    };
    let mut seen = Seen {
        outbox: messages("from our device", 5),
        ..Seen::default()
    };
    exchange(&mut ours, &mut seen, &mut peer);
    assert_eq!(seen.mode(), Some(Mode::Paired));
    assert_eq!(seen.messages, vec![b"0.5-RTT from their host".to_vec()]);
    assert_eq!(peer.messages(), messages("from our device", 5));

    peer.command("KEYUPDATE");
    peer.command(&format!("SEND {}", hex(b"after their key update")));
    peer.command("CLOSE 9");
    exchange(&mut ours, &mut seen, &mut peer);
    assert_eq!(seen.messages.last().unwrap(), b"after their key update");
    assert!(seen.events.iter().any(|e| matches!(
        e,
        Event::Closed {
            by_peer: true,
            reason: 9
        }
    )));
    assert_eq!(ours.device.attempts().failures, 0);

    // Their bond (device id, host id, secret) resumes with our device.
    let bond = peer.bond().concat();
    drop(peer);
    let mut peer = Peer::spawn(&["host", "--bond", &hex(&bond)]);
    peer.command(&format!("SEND {}", hex(b"resumed")));
    let conn = ours.device.accept();
    let mut ours = OurDevice {
        device: ours.device,
        conn,
    };
    let mut seen = Seen::default();
    exchange(&mut ours, &mut seen, &mut peer);
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
        code: wrong.clone(),
    }
    .to_text();
    let mut peer = Peer::spawn(&["host", "--setup-payload", payload.as_str()]);
    let conn = device.accept();
    let mut ours = OurDevice {
        device: &mut device,
        conn,
    };
    let mut seen = Seen::default();
    exchange(&mut ours, &mut seen, &mut peer);
    assert!(
        peer.has_event("FAILED sent:AuthenticationFailed"),
        "{:?}",
        peer.events
    );
    assert_eq!(
        seen.failure(),
        Some(Error::Rejected(Alert::AuthenticationFailed))
    );
    assert_eq!(device.attempts().failures, 1);

    // Our host, a wrong code, their device.
    let mut peer = Peer::spawn(&["device", "--record", &hex(&record().to_bytes())]);
    let mut host = our_host(&wrong, 5);
    let mut seen = Seen::default();
    exchange(&mut host, &mut seen, &mut peer);
    assert_eq!(seen.failure(), Some(Error::AuthenticationFailed));
    assert!(
        peer.has_event("FAILED received:AuthenticationFailed"),
        "{:?}",
        peer.events
    );
}
