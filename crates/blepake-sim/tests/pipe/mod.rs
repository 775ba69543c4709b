//! A harness for protocol tests: a lossless pipe that moves bytes between
//! a host and a device in ATT-sized values, flight by flight, without
//! timing (the driver over a simulated link adds that).

#![allow(dead_code)] // each test file uses part of the harness

use blepake::{
    Device, DeviceConnection, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig,
    HostConnection, Instant, KdfParams, MAX_MESSAGE_LEN, SetupInfo, spake2plus::ProverSecrets,
};
pub use blepake_sim::storage::MemoryStorage;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub type TestDevice = Device<MemoryStorage, ChaCha20Rng>;

pub const DEVICE_ID: DeviceId = DeviceId([0xd1, 0xce, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]);

/// Secrets standing in for a code (the KDF is tested on its own).
pub fn secrets(code: u8) -> ProverSecrets {
    ProverSecrets::from_pbkdf_output(&[code; 80]).unwrap()
}

pub fn setup_info() -> SetupInfo {
    SetupInfo {
        device_id: DEVICE_ID,
        kdf: KdfParams::recommended([0x5a; 16]),
    }
}

pub fn record(code: u8) -> DeviceRecord {
    DeviceRecord::new(DEVICE_ID, setup_info().kdf, secrets(code).verifier())
}

pub fn device(policy: DevicePolicy, storage: MemoryStorage, now: Instant) -> TestDevice {
    Device::new(
        record(1),
        policy,
        storage,
        ChaCha20Rng::seed_from_u64(7),
        now,
    )
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Everything one side observed.
#[derive(Default, Debug)]
pub struct Seen {
    pub events: Vec<Event>,
    pub messages: Vec<Vec<u8>>,
    /// Each ATT value this side transmitted.
    pub sent_values: Vec<Vec<u8>>,
}

impl Seen {
    pub fn connected(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Connected(_)))
    }

    pub fn failure(&self) -> Option<blepake::Error> {
        self.events.iter().find_map(|e| match e {
            Event::Failed(error) => Some(*error),
            _ => None,
        })
    }
}

fn drain_host(host: &mut HostConnection, seen: &mut Seen) {
    let mut buf = [0; MAX_MESSAGE_LEN];
    while let Some(event) = host.poll_event() {
        seen.events.push(event);
    }
    while let Some(message) = host.recv(&mut buf) {
        seen.messages.push(message.to_vec());
    }
}

fn drain_device(conn: &mut DeviceConnection, seen: &mut Seen) {
    let mut buf = [0; MAX_MESSAGE_LEN];
    while let Some(event) = conn.poll_event() {
        seen.events.push(event);
    }
    while let Some(message) = conn.recv(&mut buf) {
        seen.messages.push(message.to_vec());
    }
}

/// A host and a device connection joined by a lossless pipe whose ATT
/// values carry at most `mtu - 3` bytes.
pub struct Pipe {
    pub host: HostConnection,
    pub conn: DeviceConnection,
    pub host_seen: Seen,
    pub device_seen: Seen,
    pub mtu: usize,
}

impl Pipe {
    pub fn new(host: HostConnection, device: &mut TestDevice, mtu: usize) -> Self {
        Self {
            host,
            conn: device.accept(),
            host_seen: Seen::default(),
            device_seen: Seen::default(),
            mtu,
        }
    }

    /// Moves the host's pending values to the device; returns whether any moved.
    pub fn host_flight(&mut self, device: &mut TestDevice, now: Instant) -> bool {
        let mut value = vec![0; self.mtu - 3];
        let mut moved = false;
        while let Some(n) = self.host.poll_transmit(&mut value) {
            self.host_seen.sent_values.push(value[..n].to_vec());
            self.conn.handle_input(device, &value[..n], now).unwrap();
            drain_device(&mut self.conn, &mut self.device_seen);
            moved = true;
        }
        drain_host(&mut self.host, &mut self.host_seen);
        moved
    }

    /// Moves the device's pending values to the host.
    pub fn device_flight(&mut self, now: Instant) -> bool {
        let mut value = vec![0; self.mtu - 3];
        let mut moved = false;
        while let Some(n) = self.conn.poll_transmit(&mut value) {
            self.device_seen.sent_values.push(value[..n].to_vec());
            self.host.handle_input(&value[..n], now).unwrap();
            drain_host(&mut self.host, &mut self.host_seen);
            moved = true;
        }
        drain_device(&mut self.conn, &mut self.device_seen);
        moved
    }

    /// Alternates flights until neither side has anything to send.
    pub fn run(&mut self, device: &mut TestDevice, now: Instant) {
        while self.host_flight(device, now) | self.device_flight(now) {}
    }
}

pub fn pair(device: &mut TestDevice, code: u8, seed: u64, now: Instant) -> Pipe {
    pair_with(device, code, seed, now, HostConfig::default(), 23)
}

pub fn pair_with(
    device: &mut TestDevice,
    code: u8,
    seed: u64,
    now: Instant,
    config: HostConfig,
    mtu: usize,
) -> Pipe {
    let host = HostConnection::pair(&setup_info(), &secrets(code), config, &mut rng(seed), now);
    let mut pipe = Pipe::new(host, device, mtu);
    pipe.run(device, now);
    pipe
}
