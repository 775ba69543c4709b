//! blepake's host and device running over a simulated [`Link`]: the host
//! app is the central writing to the Inbound characteristic, the device
//! the peripheral notifying Outbound.
//!
//! The [`Driver`] is the glue every transport adapter has: received values
//! go into the connections, their transmissions onto the link, their
//! timeouts onto the clock. It records what each side saw, with times, so
//! tests can check what was delivered and benchmarks what it cost.

use std::collections::VecDeque;

use blepake::{
    Device, DeviceConnection, Event, HostConnection, Instant, MAX_INPUT_LEN, MAX_MESSAGE_LEN,
};
use rand_chacha::ChaCha20Rng;

use crate::storage::MemoryStorage;
use crate::{DisconnectReason, Link, LinkEvent, Message, Role};

/// Connection events a side that has ended waits for its last bytes to
/// go out before it disconnects.
const GRACE_EVENTS: u32 = 4;

/// A device as the simulation runs it.
pub type SimDevice = Device<MemoryStorage, ChaCha20Rng>;

/// How the host writes the Inbound characteristic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostWrite {
    /// Write Without Response: several per connection event.
    Command,
    /// Write Request: one at a time, each acknowledged.
    Request,
}

/// What one side of the link observed, with the times (µs since the
/// connection) it observed it.
#[derive(Debug, Default)]
pub struct SideLog {
    /// Events from the connection.
    pub events: Vec<(u64, Event)>,
    /// Messages received.
    pub messages: Vec<(u64, Vec<u8>)>,
    /// Messages the application sends as soon as the session opens and
    /// there is room (the first ones travel with the handshake).
    pub outbox: VecDeque<Vec<u8>>,
    /// Messages this side's application handed to `send`.
    pub sent: Vec<Vec<u8>>,
}

impl SideLog {
    /// When the session opened, if it did.
    pub fn connected_at(&self) -> Option<u64> {
        self.events
            .iter()
            .find(|(_, e)| matches!(e, Event::Connected(_)))
            .map(|(at, _)| *at)
    }

    /// How the connection failed, if it did.
    pub fn failure(&self) -> Option<blepake::Error> {
        self.events.iter().find_map(|(_, e)| match e {
            Event::Failed(error) => Some(*error),
            _ => None,
        })
    }

    /// The bond this side got, if any.
    pub fn bond(&self) -> Option<blepake::Bond> {
        self.events.iter().find_map(|(_, e)| match e {
            Event::Bonded(bond) => Some(bond.clone()),
            _ => None,
        })
    }

    /// The messages received, without times.
    pub fn received(&self) -> Vec<&[u8]> {
        self.messages.iter().map(|(_, m)| m.as_slice()).collect()
    }
}

/// A host and a device connection joined by a [`Link`].
pub struct Driver<'d> {
    /// The link; its stats and timeline tell what went over the air.
    pub link: Link,
    /// The host's connection.
    pub host: HostConnection,
    /// The device's connection.
    pub conn: DeviceConnection,
    /// What the host saw.
    pub host_log: SideLog,
    /// What the device saw.
    pub device_log: SideLog,
    /// Every value that crossed the link, in arrival order: when, from
    /// which side, and its bytes.
    pub values: Vec<(u64, Role, Vec<u8>)>,
    device: &'d mut SimDevice,
    /// The connections' time at the link's time 0.
    epoch: Instant,
    write: HostWrite,
    /// Time the device takes to prepare what it sends after an input.
    device_compute_us: u64,
}

impl<'d> Driver<'d> {
    /// Joins `host` and a new connection of `device` over `link`.
    pub fn new(
        link: Link,
        host: HostConnection,
        device: &'d mut SimDevice,
        write: HostWrite,
    ) -> Self {
        let conn = device.accept();
        Self {
            link,
            host,
            conn,
            host_log: SideLog::default(),
            device_log: SideLog::default(),
            values: Vec::new(),
            device,
            epoch: Instant::from_millis(0),
            write,
            device_compute_us: 0,
        }
    }

    /// Starts the link's clock at `epoch` on the connections' clock, so that
    /// several links to one device keep its time moving forward.
    pub fn starting_at(mut self, epoch: Instant) -> Self {
        self.epoch = epoch;
        self
    }

    /// Models the device's CPU: what it sends in answer to an input leaves
    /// `micros` later.
    pub fn with_device_compute(mut self, micros: u64) -> Self {
        self.device_compute_us = micros;
        self
    }

    /// The device (for its attempt status, storage, bonds).
    pub fn device(&mut self) -> &mut SimDevice {
        self.device
    }

    /// Both connections have ended (closed or failed).
    pub fn ended(&self) -> bool {
        self.host.is_closed() && self.conn.is_closed()
    }

    /// Runs until `done` holds, the link is down, or the clock passes
    /// `limit_us`. Like a real application, a side whose connection has
    /// ended (failed or closed) disconnects the link once its last bytes
    /// have had a few connection events to go out.
    pub fn run_until(&mut self, limit_us: u64, done: impl Fn(&Self) -> bool) {
        let mut grace_events = 0;
        loop {
            self.pump();
            if done(self) || !self.link.is_connected() || self.link.now_us() >= limit_us {
                return;
            }
            let events = if self.host.is_closed() || self.conn.is_closed() {
                grace_events += 1;
                if grace_events > GRACE_EVENTS {
                    self.link
                        .disconnect(DisconnectReason::REMOTE_USER_TERMINATED);
                }
                self.link.run_event()
            } else {
                let deadline = self.next_timeout_us().unwrap_or(u64::MAX).min(limit_us);
                self.link.run_until(deadline)
            };
            for event in events {
                self.handle(event);
            }
            self.handle_timeouts();
            self.collect();
        }
    }

    /// Runs until the link is down or `limit_us`.
    pub fn run(&mut self, limit_us: u64) {
        self.run_until(limit_us, |_| false);
    }

    /// The connections' time at link time `at_us`.
    pub fn now(&self, at_us: u64) -> Instant {
        Instant::from_millis(self.epoch.as_millis() + at_us / 1000)
    }

    fn next_timeout_us(&self) -> Option<u64> {
        [self.host.poll_timeout(), self.conn.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map(|at| {
                at.as_millis()
                    .saturating_sub(self.epoch.as_millis())
                    .saturating_mul(1000)
            })
    }

    fn handle(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Received {
                to: Role::Peripheral,
                value,
                at_us,
                ..
            } => {
                let now = self.now(at_us);
                self.values.push((at_us, Role::Central, value.clone()));
                for chunk in value.chunks(MAX_INPUT_LEN) {
                    let _ = self.conn.handle_input(self.device, chunk, now);
                    self.collect_at(at_us);
                }
            }
            LinkEvent::Received {
                to: Role::Central,
                value,
                at_us,
                ..
            } => {
                let now = self.now(at_us);
                self.values.push((at_us, Role::Peripheral, value.clone()));
                for chunk in value.chunks(MAX_INPUT_LEN) {
                    let _ = self.host.handle_input(chunk, now);
                    self.collect_at(at_us);
                }
            }
            LinkEvent::Disconnected { at_us, .. } => {
                self.host.handle_disconnect();
                self.conn.handle_disconnect(self.device);
                self.collect_at(at_us);
            }
            _ => {}
        }
    }

    fn handle_timeouts(&mut self) {
        let now = self.now(self.link.now_us());
        self.host.handle_timeout(now);
        self.conn.handle_timeout(self.device, now);
    }

    fn collect(&mut self) {
        self.collect_at(self.link.now_us());
    }

    /// Moves events and messages out of both connections into the logs.
    fn collect_at(&mut self, at_us: u64) {
        let mut buf = [0; MAX_MESSAGE_LEN];
        while let Some(event) = self.host.poll_event() {
            self.host_log.events.push((at_us, event));
        }
        while let Some(message) = self.host.recv(&mut buf) {
            self.host_log.messages.push((at_us, message.to_vec()));
        }
        while let Some(event) = self.conn.poll_event() {
            self.device_log.events.push((at_us, event));
        }
        while let Some(message) = self.conn.recv(&mut buf) {
            self.device_log.messages.push((at_us, message.to_vec()));
        }
    }

    /// Sends what the applications have queued and moves both
    /// connections' bytes onto the link.
    fn pump(&mut self) {
        let value_len = self.link.config().max_att_value();
        let mut value = vec![0; value_len];
        // Messages are handed over as transmit room frees up, so that every
        // value but the last is full.
        while self.link.can_send(Role::Central) {
            let open = self.host.is_open();
            send_outbox(&mut self.host_log, |m| self.host.send(m), open);
            let Some(n) = self.host.poll_transmit(&mut value) else {
                break;
            };
            let message = match self.write {
                HostWrite::Command => Message::write_command(&value[..n]),
                HostWrite::Request => Message::write_request(&value[..n]),
            };
            let _ = self.link.send(Role::Central, message);
        }
        let ready_at = self.link.now_us() + self.device_compute_us;
        while self.link.can_send(Role::Peripheral) {
            let open = self.conn.is_open();
            send_outbox(&mut self.device_log, |m| self.conn.send(m), open);
            let Some(n) = self.conn.poll_transmit(&mut value) else {
                break;
            };
            let _ = self.link.send_at(
                Role::Peripheral,
                Message::notification(&value[..n]),
                ready_at,
            );
        }
    }
}

/// Hands queued messages to an open connection until one does not fit.
fn send_outbox(
    log: &mut SideLog,
    mut send: impl FnMut(&[u8]) -> Result<(), blepake::SendError>,
    open: bool,
) {
    if !open {
        return;
    }
    while let Some(message) = log.outbox.front() {
        if send(message).is_err() {
            break;
        }
        log.sent.extend(log.outbox.pop_front());
    }
}
