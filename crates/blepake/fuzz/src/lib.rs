//! A small world for the state-machine fuzz targets: a device and a host,
//! each run by the core's pump over in-memory transports, and a script
//! interpreter that lets the fuzzer play one side with arbitrary bytes,
//! genuine messages from the other, time and disconnects.

use blepake::pump::{self, Input, MemoryTransport, Output};
use blepake::{
    Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig, HostConnection,
    Instant, KdfParams, LinkId, MemoryStorage, ProverSecrets, SetupInfo,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub type FuzzDevice = Device<MemoryStorage, ChaCha20Rng>;

/// Values as an ATT MTU of 23 carries them.
const VALUE_LEN: usize = 20;

fn secrets() -> ProverSecrets {
    ProverSecrets::from_pbkdf_output(&[1; 80]).unwrap()
}

fn setup_info() -> SetupInfo {
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

fn host_config() -> HostConfig {
    HostConfig { records_per_key: 3, ..HostConfig::default() }
}

fn pairing_host() -> HostConnection {
    HostConnection::pair(&setup_info(), &secrets(), None, host_config(), &mut ChaCha20Rng::seed_from_u64(2), Instant::from_millis(0))
}

/// One step of a fuzz script.
pub enum Step<'a> {
    /// Raw bytes on the link, to the fuzzed side.
    Bytes(&'a [u8]),
    /// The genuine other side sends this message as a record.
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
/// in order (a prefix of it), and nothing after the connection ended.
#[derive(Default)]
struct Delivery {
    expected: Vec<Vec<u8>>,
    received: Vec<Vec<u8>>,
    ended: bool,
}

impl Delivery {
    fn take(&mut self, output: Output<'_>) {
        match output {
            Output::Message(message) => {
                assert!(!self.ended, "a message after the connection ended");
                self.received.push(message.to_vec());
                assert!(self.received.len() <= self.expected.len(), "more messages than were sent");
                assert_eq!(self.received[..], self.expected[..self.received.len()], "a message that was not sent");
            }
            Output::Event(Event::Failed { .. } | Event::Closed { .. }) => self.ended = true,
            _ => {}
        }
    }
}

/// Which side the fuzzer plays against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fuzzed {
    Host,
    Device,
}

/// A host and a device link, each with its transport and what it delivered.
pub struct World {
    device: FuzzDevice,
    link: LinkId,
    host: HostConnection,
    to_device: MemoryTransport,
    to_host: MemoryTransport,
    host_got: Delivery,
    device_got: Delivery,
    bond: Option<Bond>,
    now: Instant,
}

impl World {
    /// A world at one of four starting points: a fresh link; the genuine
    /// pairing request delivered; a genuine resume request delivered (after
    /// a pairing that made the bond); an open session.
    pub fn new(start: u8) -> Self {
        let now = Instant::from_millis(0);
        let policy = DevicePolicy { records_per_key: 3, ..DevicePolicy::default() };
        let device = Device::new(record(), policy, MemoryStorage::default(), ChaCha20Rng::seed_from_u64(1), now);
        let mut world = Self::joining(device, pairing_host(), now);
        match start % 4 {
            0 => {}
            1 => {
                world.host_flight();
            }
            2 => {
                world.run();
                let bond = world.bond.take().expect("the pairing made a bond");
                let host = HostConnection::resume(&bond, host_config(), &mut ChaCha20Rng::seed_from_u64(3), now);
                world = Self::joining(world.device, host, now);
                world.host_flight();
            }
            _ => world.run(),
        }
        world
    }

    fn joining(mut device: FuzzDevice, host: HostConnection, now: Instant) -> Self {
        for old in device.links().collect::<Vec<_>>() {
            device.remove(old);
        }
        let link = device.accept(now).expect("a free link slot");
        Self {
            device,
            link,
            host,
            to_device: MemoryTransport::new(VALUE_LEN, now),
            to_host: MemoryTransport::new(VALUE_LEN, now),
            host_got: Delivery::default(),
            device_got: Delivery::default(),
            bond: None,
            now,
        }
    }

    fn pump_host(&mut self, input: Input<'_>) {
        let (got, bond) = (&mut self.host_got, &mut self.bond);
        let _ = pump::step(&mut self.host, &mut self.to_device, input, |_, output| {
            if let Output::Event(Event::Bonded(new_bond)) = &output {
                *bond = Some(new_bond.clone());
            }
            got.take(output);
        });
    }

    fn pump_device(&mut self, input: Input<'_>) {
        self.to_host.can_send = self.to_device.subscribed;
        let got = &mut self.device_got;
        if let Some(mut link) = self.device.link(self.link) {
            let _ = pump::step(&mut link, &mut self.to_host, input, |_, output| got.take(output));
        }
    }

    /// The host sends what it has; the device takes it.
    fn host_flight(&mut self) -> bool {
        self.pump_host(Input::Ready);
        let values: Vec<Vec<u8>> = self.to_device.values.drain(..).collect();
        for value in &values {
            self.pump_device(Input::Received(value));
        }
        !values.is_empty()
    }

    /// The device sends what it has; the host takes it.
    fn device_flight(&mut self) -> bool {
        self.pump_device(Input::Ready);
        let values: Vec<Vec<u8>> = self.to_host.values.drain(..).collect();
        for value in &values {
            self.pump_host(Input::Received(value));
        }
        !values.is_empty()
    }

    fn run(&mut self) {
        while self.host_flight() | self.device_flight() {}
    }

    /// One step of the script against the `fuzzed` side, the other side
    /// playing genuinely. Asserts that neither side delivers a message its
    /// peer did not send.
    pub fn play(&mut self, fuzzed: Fuzzed, step: Step<'_>) {
        match (step, fuzzed) {
            (Step::Bytes(bytes), Fuzzed::Device) => self.pump_device(Input::Received(bytes)),
            (Step::Bytes(bytes), Fuzzed::Host) => self.pump_host(Input::Received(bytes)),
            (Step::Message(message), Fuzzed::Device) => {
                self.device_flight();
                if self.host.send(message).is_ok() {
                    self.device_got.expected.push(message.to_vec());
                }
                self.host_flight();
            }
            (Step::Message(message), Fuzzed::Host) => {
                self.host_flight();
                let sent = self.device.link(self.link).is_some_and(|mut link| link.send(message).is_ok());
                if sent {
                    self.host_got.expected.push(message.to_vec());
                }
                self.device_flight();
            }
            (Step::Wait(seconds), fuzzed) => {
                self.now = self.now + std::time::Duration::from_secs(u64::from(seconds));
                self.to_device.now = self.now;
                self.to_host.now = self.now;
                match fuzzed {
                    Fuzzed::Device => self.pump_device(Input::Timer),
                    Fuzzed::Host => self.pump_host(Input::Timer),
                }
            }
            (Step::Disconnect, Fuzzed::Device) => self.pump_device(Input::Disconnected),
            (Step::Disconnect, Fuzzed::Host) => self.pump_host(Input::Disconnected),
        }
    }
}
