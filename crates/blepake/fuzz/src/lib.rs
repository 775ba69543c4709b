//! A small world for the state-machine fuzz targets: a device with
//! in-memory storage, a host, and a script interpreter that lets the
//! fuzzer mix arbitrary bytes with genuine messages and time.

use blepake::spake2plus::ProverSecrets;
use blepake::{
    Bond, Device, DeviceConnection, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig,
    HostConnection, Instant, KdfParams, SetupInfo, MAX_MESSAGE_LEN,
};
use blepake_sim::storage::MemoryStorage;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub type FuzzDevice = Device<MemoryStorage, ChaCha20Rng>;

pub fn secrets() -> ProverSecrets {
    ProverSecrets::from_pbkdf_output(&[1; 80]).unwrap()
}

pub fn setup_info() -> SetupInfo {
    SetupInfo { device_id: DeviceId([7; 8]), kdf: KdfParams::recommended([2; 16]) }
}

/// Built once: the verifier costs three scalar multiplications.
fn record() -> DeviceRecord {
    static RECORD: std::sync::OnceLock<DeviceRecord> = std::sync::OnceLock::new();
    RECORD
        .get_or_init(|| {
            let info = setup_info();
            DeviceRecord::new(info.device_id, info.kdf, secrets().verifier())
        })
        .clone()
}

pub fn device() -> FuzzDevice {
    let record = record();
    let policy = DevicePolicy { records_per_key: 3, ..DevicePolicy::default() };
    Device::new(record, policy, MemoryStorage::default(), ChaCha20Rng::seed_from_u64(1), Instant::from_millis(0))
}

pub fn host_config() -> HostConfig {
    HostConfig { records_per_key: 3, ..HostConfig::default() }
}

pub fn pairing_host() -> HostConnection {
    HostConnection::pair(&setup_info(), &secrets(), host_config(), &mut ChaCha20Rng::seed_from_u64(2), Instant::from_millis(0))
}

/// Drains everything a host has queued, in values of `value_len` bytes.
pub fn host_values(host: &mut HostConnection, value_len: usize) -> Vec<Vec<u8>> {
    let mut value = vec![0; value_len];
    std::iter::from_fn(|| host.poll_transmit(&mut value).map(|n| value[..n].to_vec())).collect()
}

pub fn device_values(conn: &mut DeviceConnection, value_len: usize) -> Vec<Vec<u8>> {
    let mut value = vec![0; value_len];
    std::iter::from_fn(|| conn.poll_transmit(&mut value).map(|n| value[..n].to_vec())).collect()
}

/// Runs a genuine pairing between `host` and a connection of `device`.
pub fn pair(device: &mut FuzzDevice, host: &mut HostConnection) -> DeviceConnection {
    let mut conn = device.accept();
    for _ in 0..2 {
        for value in host_values(host, 244) {
            conn.handle_input(device, &value, Instant::from_millis(0)).unwrap();
        }
        for value in device_values(&mut conn, 244) {
            host.handle_input(&value, Instant::from_millis(0)).unwrap();
        }
    }
    assert!(conn.is_open() && host.is_open());
    conn
}

pub fn bond_of(host: &mut HostConnection) -> Bond {
    std::iter::from_fn(|| host.poll_event())
        .find_map(|e| match e {
            Event::Bonded(bond) => Some(bond),
            _ => None,
        })
        .unwrap()
}

/// One step of a fuzz script.
pub enum Step<'a> {
    /// Raw bytes on the link.
    Bytes(&'a [u8]),
    /// The genuine peer sends this message as a record.
    Message(&'a [u8]),
    /// Time passes (seconds) and timeouts are handled.
    Wait(u8),
    /// The link drops.
    Disconnect,
}

/// Reads a script: each step is a tag byte, then for bytes and messages
/// a length byte and that many bytes.
pub fn script(mut data: &[u8]) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        let step = match tag % 4 {
            0 | 1 => {
                let Some((&len, rest)) = data.split_first() else { break };
                let len = usize::from(len).min(rest.len());
                let (bytes, rest) = rest.split_at(len);
                data = rest;
                if tag % 4 == 0 { Step::Bytes(bytes) } else { Step::Message(bytes) }
            }
            2 => Step::Wait(tag >> 2),
            _ => Step::Disconnect,
        };
        steps.push(step);
    }
    steps
}

/// Checks what a connection delivered: only what the genuine peer sent,
/// in order (a prefix of it), and nothing after a failure.
pub struct Delivery {
    pub expected: Vec<Vec<u8>>,
    pub received: Vec<Vec<u8>>,
    pub ended: bool,
}

impl Delivery {
    pub fn new() -> Self {
        Self { expected: Vec::new(), received: Vec::new(), ended: false }
    }

    pub fn take(&mut self, events: impl Iterator<Item = Event>, messages: impl Iterator<Item = Vec<u8>>) {
        for message in messages {
            assert!(!self.ended, "a message after the connection ended");
            self.received.push(message);
        }
        for event in events {
            if matches!(event, Event::Failed(_) | Event::Closed { .. }) {
                self.ended = true;
            }
        }
        assert!(self.received.len() <= self.expected.len(), "more messages than were sent");
        assert_eq!(self.received[..], self.expected[..self.received.len()], "a message that was not sent");
    }
}

pub fn recv_all<'a>(mut recv: impl FnMut(&mut [u8; MAX_MESSAGE_LEN]) -> Option<Vec<u8>> + 'a) -> Vec<Vec<u8>> {
    let mut buf = [0; MAX_MESSAGE_LEN];
    std::iter::from_fn(move || recv(&mut buf)).collect()
}
