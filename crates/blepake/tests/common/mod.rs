//! A harness for protocol tests: a host and a device link joined by a
//! lossless in-memory pipe, each side run by the core's pump, flight by
//! flight, without link timing (the simulator adds that).

#![allow(dead_code)] // each test file uses part of the harness

use std::collections::VecDeque;

use blepake::pump::{self, Input, MemoryTransport, Output};
use blepake::{
    Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Error, Event, HostConfig,
    HostConnection, Instant, KdfParams, LinkId, MemoryStorage, Mode, ProverSecrets, SetupInfo,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub type TestDevice<const LINKS: usize = 1> = Device<MemoryStorage, ChaCha20Rng, LINKS>;

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

pub fn device<const LINKS: usize>(
    policy: DevicePolicy,
    storage: MemoryStorage,
    now: Instant,
) -> TestDevice<LINKS> {
    Device::new(record(1), policy, storage, rng(7), now)
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn pairing_host(code: u8, seed: u64, now: Instant) -> HostConnection {
    HostConnection::pair(
        &setup_info(),
        &secrets(code),
        None,
        HostConfig::default(),
        &mut rng(seed),
        now,
    )
}

/// Everything one side observed.
#[derive(Default, Debug)]
pub struct Seen {
    pub events: Vec<Event>,
    pub messages: Vec<Vec<u8>>,
    /// Each value this side transmitted.
    pub sent_values: Vec<Vec<u8>>,
    /// Messages to send as soon as the session opens (a host's first ones
    /// ride with its confirmation).
    pub outbox: VecDeque<Vec<u8>>,
}

impl Seen {
    pub fn connected(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Connected(_)))
    }

    pub fn mode(&self) -> Option<Mode> {
        self.events.iter().find_map(|e| match e {
            Event::Connected(info) => Some(info.mode),
            _ => None,
        })
    }

    /// How the connection failed, and whether the peer said so.
    pub fn failure(&self) -> Option<(Error, bool)> {
        self.events.iter().find_map(|e| match e {
            Event::Failed { error, by_peer } => Some((*error, *by_peer)),
            _ => None,
        })
    }

    pub fn bond(&self) -> Option<blepake::Bond> {
        self.events.iter().find_map(|e| match e {
            Event::Bonded(bond) => Some(bond.clone()),
            _ => None,
        })
    }

    /// The pump's callback: records what arrives and sends the outbox once
    /// the session is open.
    pub fn callback<C: Connection + ?Sized>(&mut self) -> impl FnMut(&mut C, Output<'_>) + '_ {
        move |conn, output| {
            match output {
                Output::Event(event) => self.events.push(event),
                Output::Message(message) => self.messages.push(message.to_vec()),
                _ => {}
            }
            while conn.is_open() {
                let Some(message) = self.outbox.front() else {
                    break;
                };
                if conn.send(message).is_err() {
                    break;
                }
                self.outbox.pop_front();
            }
        }
    }
}

/// A host and a device link joined by a lossless pipe whose values carry
/// at most `mtu - 3` bytes.
pub struct Pipe {
    pub host: HostConnection,
    pub link: LinkId,
    /// What the host sent (its transport).
    pub to_device: MemoryTransport,
    /// What the device sent (its transport): it can send once the host has
    /// subscribed.
    pub to_host: MemoryTransport,
    pub host_seen: Seen,
    pub device_seen: Seen,
}

impl Pipe {
    /// Joins `host` to a new link of `device`. When every link slot is
    /// taken, the oldest link is removed first, as when a peripheral's
    /// earlier central has gone.
    pub fn new<const N: usize>(
        host: HostConnection,
        device: &mut TestDevice<N>,
        mtu: usize,
        now: Instant,
    ) -> Self {
        let mut to_host = MemoryTransport::new(mtu - 3, now);
        to_host.can_send = false;
        let link = device.accept(now).unwrap_or_else(|_| {
            let oldest = device.links().next().expect("a link");
            device.remove(oldest);
            device.accept(now).expect("a free link slot")
        });
        Self {
            host,
            link,
            to_device: MemoryTransport::new(mtu - 3, now),
            to_host,
            host_seen: Seen::default(),
            device_seen: Seen::default(),
        }
    }

    /// Moves both sides' clocks.
    pub fn set_now(&mut self, now: Instant) {
        self.to_device.now = now;
        self.to_host.now = now;
    }

    /// Runs one side's pump on `input`.
    pub fn pump_host(&mut self, input: Input<'_>) {
        pump::step(
            &mut self.host,
            &mut self.to_device,
            input,
            self.host_seen.callback(),
        )
        .unwrap();
    }

    pub fn pump_device<const N: usize>(&mut self, device: &mut TestDevice<N>, input: Input<'_>) {
        self.to_host.can_send = self.to_device.subscribed;
        let mut link = device.link(self.link).expect("the link is there");
        pump::step(
            &mut link,
            &mut self.to_host,
            input,
            self.device_seen.callback(),
        )
        .unwrap();
    }

    /// Moves the host's pending values to the device; returns whether any
    /// moved.
    pub fn host_flight<const N: usize>(&mut self, device: &mut TestDevice<N>) -> bool {
        self.pump_host(Input::Ready);
        let moved = !self.to_device.values.is_empty();
        while let Some(value) = self.to_device.values.pop_front() {
            self.pump_device(device, Input::Received(&value));
            self.host_seen.sent_values.push(value);
        }
        moved
    }

    /// Moves the device's pending values to the host.
    pub fn device_flight<const N: usize>(&mut self, device: &mut TestDevice<N>) -> bool {
        self.pump_device(device, Input::Ready);
        let moved = !self.to_host.values.is_empty();
        while let Some(value) = self.to_host.values.pop_front() {
            self.pump_host(Input::Received(&value));
            self.device_seen.sent_values.push(value);
        }
        moved
    }

    /// Alternates flights until neither side has anything to send.
    pub fn run<const N: usize>(&mut self, device: &mut TestDevice<N>) {
        while self.host_flight(device) | self.device_flight(device) {}
    }

    /// Whether the device's link is open.
    pub fn device_open<const N: usize>(&self, device: &mut TestDevice<N>) -> bool {
        device.link(self.link).is_some_and(|link| link.is_open())
    }

    /// Whether the device's link has ended (or is gone).
    pub fn device_closed<const N: usize>(&self, device: &mut TestDevice<N>) -> bool {
        device.link(self.link).is_none_or(|link| link.is_closed())
    }
}

pub fn pair<const N: usize>(device: &mut TestDevice<N>, code: u8, seed: u64, now: Instant) -> Pipe {
    pair_with(device, code, seed, now, HostConfig::default(), 23)
}

pub fn pair_with<const N: usize>(
    device: &mut TestDevice<N>,
    code: u8,
    seed: u64,
    now: Instant,
    config: HostConfig,
    mtu: usize,
) -> Pipe {
    let host = HostConnection::pair(
        &setup_info(),
        &secrets(code),
        None,
        config,
        &mut rng(seed),
        now,
    );
    let mut pipe = Pipe::new(host, device, mtu, now);
    pipe.run(device);
    pipe
}

/// A pairing's bond, with the host it names.
pub fn bond_of(seen: &Seen) -> blepake::Bond {
    seen.bond().expect("a bond")
}

pub fn resume<const N: usize>(
    device: &mut TestDevice<N>,
    bond: &blepake::Bond,
    seed: u64,
    now: Instant,
) -> Pipe {
    let host = HostConnection::resume(bond, HostConfig::default(), &mut rng(seed), now);
    let mut pipe = Pipe::new(host, device, 23, now);
    pipe.run(device);
    pipe
}
