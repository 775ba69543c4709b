//! blepake's host and device over a simulated [`Link`]: the thin adapter.
//! The host app is the central: it enables notifications of Outbound,
//! then writes the Inbound characteristic; the device is the peripheral
//! notifying Outbound once the CCCD is set.
//!
//! Each side is a [`Transport`] over the link, driven by the core's
//! [`pump`]; the [`Driver`] only routes link events to the pumps and keeps
//! the clock. It records what each side saw, with times, so tests can
//! check what was delivered and benchmarks what it cost.

use std::collections::VecDeque;

use blepake::pump::{self, Input, Output, Transport};
use blepake::{Connection, Device, Event, HostConnection, Instant, LinkId, MemoryStorage};
use rand_chacha::ChaCha20Rng;

use crate::{DisconnectReason, Link, LinkEvent, Message, Role};

/// The blepake service's attribute handles on the simulated peripheral.
pub mod handles {
    /// Inbound: the host writes the host-to-device stream here.
    pub const INBOUND: u16 = crate::DEFAULT_HANDLE;
    /// Outbound: the device notifies the device-to-host stream here.
    pub const OUTBOUND: u16 = 0x0012;
    /// Outbound's Client Characteristic Configuration descriptor.
    pub const OUTBOUND_CCCD: u16 = 0x0013;
    /// Setup Info, read by a host that has no QR payload.
    pub const SETUP_INFO: u16 = 0x0015;
}

/// The CCCD value that enables notifications.
const NOTIFY: [u8; 2] = [0x01, 0x00];

/// Connection events a side that has ended waits for its last bytes to
/// go out before it disconnects.
const GRACE_EVENTS: u32 = 4;

/// A device as the simulation runs it: one link at a time.
pub type SimDevice = Device<MemoryStorage, ChaCha20Rng>;

/// How the host writes the Inbound characteristic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostWrite {
    /// Write Without Response: several per connection event.
    Command,
    /// Write Request: one at a time, each acknowledged.
    Request,
}

/// How the host enables notifications before its first write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscribe {
    /// The CCCD Write Request and the first writes go in the same
    /// connection event (legal ATT: commands need not wait for a response).
    Pipelined,
    /// The host waits for the CCCD write's response before its first write,
    /// as a bleak app does with `await start_notify()`.
    Waited,
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
            Event::Failed { error, .. } => Some(*error),
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

    /// Whether the connection has ended, closed or failed.
    pub fn ended(&self) -> bool {
        self.events
            .iter()
            .any(|(_, e)| matches!(e, Event::Failed { .. } | Event::Closed { .. }))
    }

    /// Hands queued messages to an open connection until one does not fit.
    fn feed(&mut self, conn: &mut (impl Connection + ?Sized)) {
        while conn.is_open() {
            let Some(message) = self.outbox.front() else {
                return;
            };
            if conn.send(message).is_err() {
                return;
            }
            self.sent.extend(self.outbox.pop_front());
        }
    }

    /// The pump's callback: what arrives at `at_us`, and the outbox.
    fn callback<C: Connection + ?Sized>(
        &mut self,
        at_us: u64,
    ) -> impl FnMut(&mut C, Output<'_>) + '_ {
        move |conn, output| {
            match output {
                Output::Event(event) => self.events.push((at_us, event)),
                Output::Message(message) => self.messages.push((at_us, message.to_vec())),
                // Room to send: the outbox is fed below.
                _ => {}
            }
            self.feed(conn);
        }
    }
}

/// The connections' time at link time `at_us`.
fn instant(epoch: Instant, at_us: u64) -> Instant {
    Instant::from_millis(epoch.as_millis() + at_us / 1000)
}

/// One side's part of the link, for one pump step.
struct SideTransport<'a> {
    link: &'a mut Link,
    epoch: Instant,
    /// Values it may still send in this step.
    budget: usize,
    side: Side,
}

enum Side {
    /// Writes Inbound and subscribes to Outbound.
    Host {
        write: HostWrite,
        /// Whether the host may write yet (its subscription, if waited for).
        may_write: bool,
    },
    /// Notifies Outbound once the host asked.
    Device {
        notifying: bool,
        /// When what the device sends is ready (its CPU time).
        ready_at_us: u64,
    },
}

impl Transport for SideTransport<'_> {
    type Error = crate::SendError;

    fn now(&self) -> Instant {
        instant(self.epoch, self.link.now_us())
    }

    fn max_value_len(&self) -> usize {
        self.link.config().max_att_value()
    }

    fn can_send(&self) -> bool {
        let (allowed, role) = match self.side {
            Side::Host { may_write, .. } => (may_write, Role::Central),
            Side::Device { notifying, .. } => (notifying, Role::Peripheral),
        };
        self.budget > 0 && allowed && self.link.can_send(role)
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Self::Error> {
        self.budget -= 1;
        match self.side {
            Side::Host { write, .. } => {
                let message = match write {
                    HostWrite::Command => Message::write_command(value),
                    HostWrite::Request => Message::write_request(value),
                };
                self.link
                    .send(Role::Central, message.with_handle(handles::INBOUND))
            }
            Side::Device { ready_at_us, .. } => {
                let message = Message::notification(value).with_handle(handles::OUTBOUND);
                self.link.send_at(Role::Peripheral, message, ready_at_us)
            }
        }
    }

    fn subscribe(&mut self) -> Result<(), Self::Error> {
        match self.side {
            Side::Host { .. } => self.link.send(
                Role::Central,
                Message::write_request(&NOTIFY).with_handle(handles::OUTBOUND_CCCD),
            ),
            Side::Device { .. } => Ok(()),
        }
    }
}

/// One pump step of a side with at most `budget` values to send, its log
/// taking what arrives at `at_us`; returns how many values it sent.
fn pump_side<C: Connection>(
    conn: &mut C,
    log: &mut SideLog,
    mut transport: SideTransport<'_>,
    at_us: u64,
    input: Input<'_>,
) -> usize {
    let budget = transport.budget;
    log.feed(conn);
    // A send refused by a link gone down shows as its Disconnected event.
    let _ = pump::step(conn, &mut transport, input, log.callback(at_us));
    budget - transport.budget
}

/// A host and a device link joined by a [`Link`].
pub struct Driver<'d> {
    /// The link; its stats and timeline tell what went over the air.
    pub link: Link,
    /// The host's connection.
    pub host: HostConnection,
    /// The device's link.
    pub link_id: LinkId,
    /// What the host saw.
    pub host_log: SideLog,
    /// What the device saw.
    pub device_log: SideLog,
    /// Every blepake value that crossed the link, in arrival order: when,
    /// from which side, and its bytes.
    pub values: Vec<(u64, Role, Vec<u8>)>,
    device: &'d mut SimDevice,
    /// The connections' time at the link's time 0.
    epoch: Instant,
    write: HostWrite,
    subscribe: Subscribe,
    /// Whether the CCCD write has been acknowledged (host side).
    subscription_confirmed: bool,
    /// Whether notifications are enabled (device side).
    notifying: bool,
    /// Time the device takes to prepare what it sends after an input.
    device_compute_us: u64,
}

impl<'d> Driver<'d> {
    /// Joins `host` and a new link of `device` over `link`; the host
    /// subscribes in the same event as its first write.
    pub fn new(
        link: Link,
        host: HostConnection,
        device: &'d mut SimDevice,
        write: HostWrite,
    ) -> Self {
        for old in device.links().collect::<Vec<_>>() {
            device.remove(old);
        }
        let epoch = Instant::from_millis(0);
        let link_id = device.accept(epoch).expect("a free link slot");
        Self {
            link,
            host,
            link_id,
            host_log: SideLog::default(),
            device_log: SideLog::default(),
            values: Vec::new(),
            device,
            epoch,
            write,
            subscribe: Subscribe::Pipelined,
            subscription_confirmed: false,
            notifying: false,
            device_compute_us: 0,
        }
    }

    /// Starts the link's clock at `epoch` on the connections' clock, so that
    /// several links to one device keep its time moving forward.
    pub fn starting_at(mut self, epoch: Instant) -> Self {
        self.device.remove(self.link_id);
        self.link_id = self.device.accept(epoch).expect("a free link slot");
        self.epoch = epoch;
        self
    }

    /// How the host enables notifications.
    pub fn subscribing(mut self, subscribe: Subscribe) -> Self {
        self.subscribe = subscribe;
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

    /// Whether the device's session is open.
    pub fn device_is_open(&mut self) -> bool {
        self.device
            .link(self.link_id)
            .is_some_and(|link| link.is_open())
    }

    fn device_is_closed(&mut self) -> bool {
        self.device
            .link(self.link_id)
            .is_none_or(|link| link.is_closed())
    }

    /// Both connections have ended (closed or failed).
    pub fn ended(&mut self) -> bool {
        self.host.is_closed() && self.device_is_closed()
    }

    /// Runs until `done` holds, the link is down, or the clock passes
    /// `limit_us`. Like a real application, a side whose connection has
    /// ended (failed or closed) disconnects the link once its last bytes
    /// have had a few connection events to go out.
    pub fn run_until(&mut self, limit_us: u64, done: impl Fn(&mut Self) -> bool) {
        let mut grace_events = 0;
        loop {
            self.send_queued();
            if done(self) || !self.link.is_connected() || self.link.now_us() >= limit_us {
                return;
            }
            let events = if self.host.is_closed() || self.device_is_closed() {
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
        }
    }

    /// Runs until the link is down or `limit_us`.
    pub fn run(&mut self, limit_us: u64) {
        self.run_until(limit_us, |_| false);
    }

    /// The connections' time at link time `at_us`.
    pub fn now(&self, at_us: u64) -> Instant {
        instant(self.epoch, at_us)
    }

    fn next_timeout_us(&mut self) -> Option<u64> {
        let device = self
            .device
            .link(self.link_id)
            .and_then(|link| link.poll_timeout());
        [self.host.poll_timeout(), device]
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
                handle: handles::OUTBOUND_CCCD,
                value,
                at_us,
                ..
            } => {
                // A GATT server takes a CCCD write of two bytes only.
                if let [low, high] = value[..] {
                    self.notifying = u16::from_le_bytes([low, high]) & 1 == 1;
                }
                self.pump_device(at_us, Input::Ready);
            }
            LinkEvent::Received {
                to: Role::Peripheral,
                handle: handles::INBOUND,
                value,
                at_us,
                ..
            } => {
                self.values.push((at_us, Role::Central, value.clone()));
                self.pump_device(at_us, Input::Received(&value));
            }
            LinkEvent::Received {
                to: Role::Central,
                handle: handles::OUTBOUND,
                value,
                at_us,
                ..
            } => {
                self.values.push((at_us, Role::Peripheral, value.clone()));
                self.pump_host(at_us, Input::Received(&value));
            }
            LinkEvent::WriteAcknowledged {
                handle: handles::OUTBOUND_CCCD,
                at_us,
            } => {
                self.subscription_confirmed = true;
                self.pump_host(at_us, Input::Ready);
            }
            LinkEvent::Disconnected { at_us, .. } => {
                self.pump_host(at_us, Input::Disconnected);
                self.pump_device(at_us, Input::Disconnected);
            }
            _ => {}
        }
    }

    fn handle_timeouts(&mut self) {
        let now_us = self.link.now_us();
        let now = self.now(now_us);
        if self.host.poll_timeout().is_some_and(|at| at <= now) {
            self.pump_host(now_us, Input::Timer);
        }
        let device_due = self
            .device
            .link(self.link_id)
            .and_then(|link| link.poll_timeout())
            .is_some_and(|at| at <= now);
        if device_due {
            self.pump_device(now_us, Input::Timer);
        }
    }

    /// Both sides send what they have, the applications handing over
    /// their queued messages as room frees up: one value per step, so that
    /// every value but the last is full.
    fn send_queued(&mut self) {
        let now_us = self.link.now_us();
        while self.pump_host_with(now_us, Input::Ready, 1) > 0 {}
        while self.pump_device_with(now_us, Input::Ready, 1) > 0 {}
    }

    fn pump_host(&mut self, at_us: u64, input: Input<'_>) {
        self.pump_host_with(at_us, input, usize::MAX);
    }

    fn pump_device(&mut self, at_us: u64, input: Input<'_>) {
        self.pump_device_with(at_us, input, usize::MAX);
    }

    /// One step of the host's pump, sending at most `budget` values;
    /// returns how many it sent.
    fn pump_host_with(&mut self, at_us: u64, input: Input<'_>, budget: usize) -> usize {
        let transport = SideTransport {
            link: &mut self.link,
            epoch: self.epoch,
            budget,
            side: Side::Host {
                write: self.write,
                may_write: self.subscribe == Subscribe::Pipelined || self.subscription_confirmed,
            },
        };
        pump_side(&mut self.host, &mut self.host_log, transport, at_us, input)
    }

    fn pump_device_with(&mut self, at_us: u64, input: Input<'_>, budget: usize) -> usize {
        let Some(mut link) = self.device.link(self.link_id) else {
            return 0;
        };
        let ready_at_us = self.link.now_us() + self.device_compute_us;
        let transport = SideTransport {
            link: &mut self.link,
            epoch: self.epoch,
            budget,
            side: Side::Device {
                notifying: self.notifying,
                ready_at_us,
            },
        };
        pump_side(&mut link, &mut self.device_log, transport, at_us, input)
    }
}
