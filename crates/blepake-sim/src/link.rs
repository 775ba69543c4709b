//! The simulated link: connection events, fragmentation, ATT rules and faults.

use std::collections::VecDeque;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::config::{ConfigError, LinkConfig, MAX_ATTRIBUTE_LEN, T_IFS_US};
use crate::fault::{Attack, DisconnectReason, Fault, FaultAction, FaultPlan, LinkFault, Trigger};
use crate::message::{DEFAULT_HANDLE, Intent, Message, Op, PduKind, Role, SendError};
use crate::stats::{Mark, Stats, TimelineEntry};

/// Bytes of the basic L2CAP header: length and channel ID.
const L2CAP_HEADER_LEN: usize = 4;

/// Connection events without any packet after which a new connection counts
/// as failed (Core v5.4 Vol 6 Part B §4.5.2).
const ESTABLISHMENT_EVENTS: u64 = 6;

/// The latest deadline [`Link::run_until`] runs to (about 146 000 years), so
/// that the clock never overflows.
pub const END_OF_TIME_US: u64 = u64::MAX / 4;

/// Something an application (or an observing test) learns from the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// An application message arrived at `to`. For [`Op::Read`] it is the
    /// whole value the central read.
    Received {
        to: Role,
        op: Op,
        handle: u16,
        value: Vec<u8>,
        at_us: u64,
    },
    /// Central: the peripheral's stack acknowledged a write request (for a long
    /// write, the Execute Write).
    WriteAcknowledged { handle: u16, at_us: u64 },
    /// Peripheral: the central's stack confirmed an indication.
    IndicationConfirmed { handle: u16, at_us: u64 },
    /// Peripheral: the central reads `handle` from `offset`. Answer with
    /// [`Message::read_response`] holding the whole value; the stack sends the
    /// part from `offset`.
    ReadRequested {
        handle: u16,
        offset: u16,
        at_us: u64,
    },
    /// The link is down, for both sides.
    Disconnected {
        reason: DisconnectReason,
        at_us: u64,
    },
    /// The fault at `index` in the [`FaultPlan`] took effect. For observers
    /// only: an application never learns of faults this way.
    FaultApplied { index: usize, at_us: u64 },
}

impl LinkEvent {
    /// When it happened, µs since the connection started.
    pub fn at_us(&self) -> u64 {
        match *self {
            LinkEvent::Received { at_us, .. }
            | LinkEvent::WriteAcknowledged { at_us, .. }
            | LinkEvent::IndicationConfirmed { at_us, .. }
            | LinkEvent::ReadRequested { at_us, .. }
            | LinkEvent::Disconnected { at_us, .. }
            | LinkEvent::FaultApplied { at_us, .. } => at_us,
        }
    }
}

/// An upper-layer PDU on its way, with how much of it the peer has received.
#[derive(Clone, Debug)]
struct Sdu {
    kind: PduKind,
    handle: u16,
    offset: u16,
    value: Vec<u8>,
    /// The last PDU of an application message: sending it frees a queue slot.
    ends_message: bool,
    /// LL payload bytes already received by the peer.
    received: usize,
}

impl Sdu {
    fn new(kind: PduKind, handle: u16, offset: u16, value: Vec<u8>) -> Sdu {
        Sdu {
            kind,
            handle,
            offset,
            value,
            ends_message: false,
            received: 0,
        }
    }

    fn att_len(&self) -> usize {
        self.kind.header_len() + self.value.len()
    }

    /// Bytes of LL payload it takes: LL control PDUs go bare, the rest in L2CAP.
    fn ll_len(&self) -> usize {
        match self.kind {
            PduKind::LlControl => self.value.len(),
            _ => L2CAP_HEADER_LEN + self.att_len(),
        }
    }
}

/// An SDU the host holds until its time comes and the ATT rules let it go.
#[derive(Debug)]
struct Held {
    sdu: Sdu,
    ready_at: u64,
}

#[derive(Debug, Default)]
struct Endpoint {
    /// Responses and confirmations the stack generates; never wait behind the
    /// application's data.
    stack_queue: VecDeque<Held>,
    /// The application's messages, in order.
    app_queue: VecDeque<Held>,
    /// Handed to the controller, sent in order, fragment by fragment.
    controller: VecDeque<Sdu>,
    /// Application messages accepted but not yet fully received by the peer.
    unsent_messages: usize,
    /// Operation and handle of the last message delivered to this side; what
    /// garbage imitates.
    usual: Option<(Op, u16)>,
}

/// ATT client state of the central.
#[derive(Debug, Default)]
struct Client {
    request_outstanding: bool,
    /// Parts of a long read so far.
    read_value: Vec<u8>,
}

/// ATT server state of the peripheral.
#[derive(Debug, Default)]
struct Server {
    indication_outstanding: bool,
    /// Handle and offset of the read waiting for the application's value.
    pending_read: Option<(u16, u16)>,
    /// Prepared parts of a long write.
    prepared: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultState {
    Waiting,
    Armed,
    Done,
}

#[derive(Debug)]
struct FaultSlot {
    fault: Fault,
    state: FaultState,
}

/// Places where faults may strike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    EventStart,
    /// Just before the delivery with this (1-based) number.
    BeforeDelivery(u64),
    AfterDelivery,
}

impl Trigger {
    fn arms_at(self, point: Point, at: u64, deliveries: u64) -> bool {
        match (self, point) {
            (Trigger::At { us }, Point::EventStart) => us <= at,
            (Trigger::BeforeDelivery(n), Point::BeforeDelivery(m)) => n == m,
            (Trigger::AfterDelivery(n), Point::AfterDelivery | Point::EventStart) => {
                deliveries >= n
            }
            _ => false,
        }
    }
}

/// How a fault left the connection event in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// Goes on.
    None,
    /// A stall began: the packet in flight and the rest of the event are lost.
    Stalled,
    /// The link is down.
    Down,
}

/// An application message as its receiver gets it.
#[derive(Clone, Debug)]
struct AppMessage {
    to: Role,
    op: Op,
    handle: u16,
    value: Vec<u8>,
}

/// An application message about to reach its receiver, and what an attacker
/// did to it.
#[derive(Clone, Debug)]
struct Arrival {
    message: AppMessage,
    dropped: bool,
    tampered: bool,
}

/// A delivered message an attacker may replay.
#[derive(Clone, Debug)]
struct Delivered {
    index: u64,
    message: AppMessage,
}

/// A simulated BLE connection between a central and a peripheral, on a
/// virtual clock in µs that starts at 0 when the connection is made.
///
/// Both applications share this object: each queues messages with
/// [`send`](Link::send) and learns what arrived from the [`LinkEvent`]s that
/// [`run_event`](Link::run_event) returns. Everything is deterministic: the
/// same configuration, fault plan, seed and calls give the same run.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: ChaCha8Rng,
    faults: Vec<FaultSlot>,
    now_us: u64,
    next_event: u64,
    down: Option<DisconnectReason>,
    termination: Option<DisconnectReason>,
    endpoints: [Endpoint; 2],
    client: Client,
    server: Server,
    /// When a packet last arrived; `None` before the first one.
    last_rx_us: Option<u64>,
    peripheral_listened: u64,
    stall_until_us: u64,
    deliveries: u64,
    delivered: Vec<Delivered>,
    stats: Stats,
    timeline: Vec<TimelineEntry>,
}

impl Link {
    /// A link that has just connected (time 0, before connection event 0).
    /// `seed` drives every random choice (garbage bytes, tampered bits).
    pub fn new(config: LinkConfig, faults: FaultPlan, seed: u64) -> Result<Link, ConfigError> {
        config.validate()?;
        Ok(Link {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            faults: faults
                .faults()
                .iter()
                .map(|&fault| FaultSlot {
                    fault,
                    state: FaultState::Waiting,
                })
                .collect(),
            now_us: 0,
            next_event: 0,
            down: None,
            termination: None,
            endpoints: Default::default(),
            client: Client::default(),
            server: Server::default(),
            last_rx_us: None,
            peripheral_listened: 0,
            stall_until_us: 0,
            deliveries: 0,
            delivered: Vec::new(),
            stats: Stats::default(),
            timeline: Vec::new(),
        })
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The virtual time: the end of the last connection event run, or the
    /// deadline [`run_until`](Link::run_until) last reached.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// When the next connection event starts.
    pub fn next_event_us(&self) -> u64 {
        self.next_event * self.config.interval_us
    }

    pub fn is_connected(&self) -> bool {
        self.down.is_none()
    }

    /// Why the link went down, once it has.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        self.down
    }

    /// Application messages delivered so far, in both directions (dropped ones
    /// included): the count fault triggers refer to.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every upper-layer PDU that arrived, in order.
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }

    /// Whether `role` may queue another message now.
    pub fn can_send(&self, role: Role) -> bool {
        self.is_connected() && self.endpoint(role).unsent_messages < self.config.queue_limit
    }

    /// Queues a message, to go out from the next connection event on.
    pub fn send(&mut self, role: Role, message: Message) -> Result<(), SendError> {
        self.send_at(role, message, self.now_us)
    }

    /// Queues a message that the application finishes preparing at
    /// `ready_at_us` (to model compute time); it goes out from the first
    /// connection event starting at or after then.
    pub fn send_at(
        &mut self,
        role: Role,
        message: Message,
        ready_at_us: u64,
    ) -> Result<(), SendError> {
        if !self.is_connected() {
            return Err(SendError::Disconnected);
        }
        message.validate(role, &self.config)?;
        let ready_at = ready_at_us.max(self.now_us);
        let Message {
            intent,
            handle,
            value,
        } = message;
        let mut sdus = match intent {
            Intent::AnswerRead => {
                let (handle, offset) = self
                    .server
                    .pending_read
                    .take()
                    .ok_or(SendError::NoPendingRead)?;
                let sdu = self.read_response(handle, offset, &value);
                self.endpoints[role.index()]
                    .stack_queue
                    .push_back(Held { sdu, ready_at });
                return Ok(());
            }
            Intent::StartRead => vec![Sdu::new(PduKind::ReadRequest, handle, 0, Vec::new())],
            Intent::Send(Op::WriteRequest) if value.len() > self.config.max_att_value() => {
                self.long_write(handle, &value)
            }
            Intent::Send(op) => vec![Sdu::new(op.pdu_kind(), handle, 0, value)],
        };
        let queue_limit = self.config.queue_limit;
        let endpoint = &mut self.endpoints[role.index()];
        if endpoint.unsent_messages >= queue_limit {
            return Err(SendError::QueueFull);
        }
        if let Some(last) = sdus.last_mut() {
            last.ends_message = true;
        }
        endpoint.unsent_messages += 1;
        endpoint
            .app_queue
            .extend(sdus.into_iter().map(|sdu| Held { sdu, ready_at }));
        Ok(())
    }

    /// Ends the connection from the host: it goes down, with reason `reason`,
    /// at the start of the next connection event (when LL_TERMINATE_IND goes out).
    pub fn disconnect(&mut self, reason: DisconnectReason) {
        if self.is_connected() {
            self.termination = Some(reason);
        }
    }

    /// Runs connection events until one gives the applications something to
    /// handle, or until the next event would start after `deadline_us`
    /// (at most [`END_OF_TIME_US`]); then the clock stands at the deadline, or
    /// at the end of an event that started right at it.
    /// Returns the events (empty at the deadline or once the link is down).
    ///
    /// Stretches of idle events, where nothing is queued and no fault is due,
    /// are counted in one step, so waiting out a long timeout costs nothing.
    pub fn run_until(&mut self, deadline_us: u64) -> Vec<LinkEvent> {
        let deadline_us = deadline_us.min(END_OF_TIME_US);
        while self.is_connected() {
            self.skip_idle_events(deadline_us);
            if self.next_event_us() > deadline_us {
                break;
            }
            let events = self.run_event();
            if !events.is_empty() {
                return events;
            }
        }
        self.now_us = self.now_us.max(deadline_us);
        Vec::new()
    }

    /// Runs the next connection event and returns what happened in it. After
    /// it, [`now_us`](Link::now_us) is the end of the event: messages queued
    /// then go out in the next event at the earliest.
    pub fn run_event(&mut self) -> Vec<LinkEvent> {
        let mut out = Vec::new();
        if !self.is_connected() {
            return out;
        }
        let index = self.next_event;
        let start = self.next_event_us();
        self.next_event += 1;
        self.stats.connection_events += 1;
        if let Some(reason) = self.termination.take() {
            self.go_down(reason, start, &mut out);
            return out;
        }
        if let Some((reason, at)) = self.supervision_loss(index, start) {
            self.go_down(reason, at, &mut out);
            return out;
        }
        if self.apply_faults(Point::EventStart, start, None, &mut out) == Cut::Down {
            return out;
        }
        self.release(Role::Central, start);
        self.release(Role::Peripheral, start);
        if start < self.stall_until_us || !self.peripheral_listens(index) {
            // The central transmits at the anchor point, and nothing answers.
            let len = self.fragment_len(Role::Central, true);
            self.count_pdu(Role::Central, len);
            self.now_us = start + self.config.pdu_air_time_us(len);
            return out;
        }
        self.peripheral_listened = index;
        self.exchange(start, &mut out);
        out
    }

    fn endpoint(&self, role: Role) -> &Endpoint {
        &self.endpoints[role.index()]
    }

    /// Whether the coming connection events can only be empty polls: nothing
    /// held or queued, no termination, no fault about to arm.
    fn is_idle(&self) -> bool {
        self.is_connected()
            && self.termination.is_none()
            && self.endpoints.iter().all(|endpoint| {
                endpoint.stack_queue.is_empty()
                    && endpoint.app_queue.is_empty()
                    && endpoint.controller.is_empty()
            })
            && self
                .faults
                .iter()
                .all(|slot| match (slot.state, slot.fault.trigger) {
                    (FaultState::Waiting, Trigger::AfterDelivery(n)) => n > self.deliveries,
                    // Armed faults left wait for a delivery, which idle events do not make.
                    _ => true,
                })
    }

    /// Counts the idle connection events starting up to `deadline_us` (or up
    /// to a timed fault) as if they had run: an empty PDU from the central in
    /// each, and an empty answer in those the peripheral listens to.
    fn skip_idle_events(&mut self, deadline_us: u64) {
        let interval = self.config.interval_us;
        let first = self.next_event;
        // Event 0 establishes the connection; it always runs.
        if first == 0 || !self.is_idle() {
            return;
        }
        let Some(last_rx) = self.last_rx_us else {
            return;
        };
        let horizon = self.faults.iter().fold(deadline_us, |horizon, slot| {
            match (slot.state, slot.fault.trigger) {
                (FaultState::Waiting, Trigger::At { us }) => horizon.min(us.saturating_sub(1)),
                _ => horizon,
            }
        });
        let last = horizon / interval;
        let period = u64::from(self.config.peripheral_latency) + 1;
        let first_start = first * interval;
        if last < first
            || first_start < self.stall_until_us
            || last_rx + self.config.supervision_timeout_us <= first_start + period * interval
        {
            return;
        }
        // With nothing to send, the peripheral listens exactly every `period` events.
        let since_listened = first - self.peripheral_listened;
        let first_listen =
            self.peripheral_listened + period * since_listened.div_ceil(period).max(1);
        let listens = if first_listen > last {
            0
        } else {
            (last - first_listen) / period + 1
        };
        let events = last - first + 1;
        let (empty_bytes, empty_us) =
            (self.config.pdu_air_bytes(0), self.config.pdu_air_time_us(0));
        self.stats.connection_events += events;
        self.stats.central.empty_pdus += events;
        self.stats.central.air_bytes += events * empty_bytes;
        self.stats.peripheral.empty_pdus += listens;
        self.stats.peripheral.air_bytes += listens * empty_bytes;
        if listens > 0 {
            self.peripheral_listened = first_listen + (listens - 1) * period;
            self.last_rx_us = Some(self.peripheral_listened * interval + 2 * empty_us + T_IFS_US);
        }
        let last_event_us = if self.peripheral_listened == last {
            2 * empty_us + T_IFS_US
        } else {
            empty_us
        };
        self.now_us = last * interval + last_event_us;
        self.next_event = last + 1;
    }

    /// A supervision timeout, or a connection that never got a packet through.
    fn supervision_loss(&self, index: u64, start: u64) -> Option<(DisconnectReason, u64)> {
        match self.last_rx_us {
            None if index >= ESTABLISHMENT_EVENTS => {
                Some((DisconnectReason::FAILED_TO_ESTABLISH, start))
            }
            Some(last) if start >= last + self.config.supervision_timeout_us => Some((
                DisconnectReason::CONNECTION_TIMEOUT,
                last + self.config.supervision_timeout_us,
            )),
            _ => None,
        }
    }

    /// The peripheral listens when it has something to send, and at least
    /// every `peripheral_latency + 1` events.
    fn peripheral_listens(&self, index: u64) -> bool {
        index == 0
            || !self.endpoint(Role::Peripheral).controller.is_empty()
            || index - self.peripheral_listened > u64::from(self.config.peripheral_latency)
    }

    /// The packets of one connection event: central and peripheral alternate,
    /// while either has data left within its packets-per-event budget and the
    /// next pair still fits before the next anchor point.
    fn exchange(&mut self, start: u64, out: &mut Vec<LinkEvent>) {
        let budget = self.config.packets_per_event;
        let event_end = start + self.config.interval_us;
        let mut sent = [0u16; 2];
        let mut t = start;
        loop {
            let central_len = self.fragment_len(Role::Central, sent[0] < budget);
            let peripheral_len = self.fragment_len(Role::Peripheral, sent[1] < budget);
            let pair_us = self.config.pdu_air_time_us(central_len)
                + self.config.pdu_air_time_us(peripheral_len)
                + 2 * T_IFS_US;
            if t > start && t + pair_us > event_end {
                break;
            }
            for (role, len) in [
                (Role::Central, central_len),
                (Role::Peripheral, peripheral_len),
            ] {
                if role == Role::Peripheral {
                    t += T_IFS_US;
                }
                self.count_pdu(role, len);
                t += self.config.pdu_air_time_us(len);
                let cut = if len > 0 {
                    sent[role.index()] += 1;
                    self.receive_fragment(role, len, t, out)
                } else {
                    Cut::None
                };
                if cut != Cut::Stalled {
                    self.last_rx_us = Some(t);
                }
                if cut != Cut::None {
                    self.now_us = self.now_us.max(t);
                    return;
                }
            }
            let more = |role: Role| {
                !self.endpoint(role).controller.is_empty() && sent[role.index()] < budget
            };
            if !more(Role::Central) && !more(Role::Peripheral) {
                break;
            }
            t += T_IFS_US;
        }
        self.now_us = t;
    }

    /// Payload of the next PDU `role` sends: the next fragment, or 0 for an
    /// empty PDU.
    fn fragment_len(&self, role: Role, may_send_data: bool) -> usize {
        match self.endpoint(role).controller.front() {
            Some(sdu) if may_send_data => {
                (sdu.ll_len() - sdu.received).min(usize::from(self.config.ll_payload))
            }
            _ => 0,
        }
    }

    fn count_pdu(&mut self, role: Role, len: usize) {
        let air_bytes = self.config.pdu_air_bytes(len);
        let stats = self.stats.sent_by_mut(role);
        if len == 0 {
            stats.empty_pdus += 1;
        } else {
            stats.data_pdus += 1;
        }
        stats.air_bytes += air_bytes;
    }

    /// Moves what the host holds to the controller, as far as time and the ATT
    /// rules allow: one outstanding request from the client, one outstanding
    /// indication from the server, application messages in order.
    fn release(&mut self, role: Role, start: u64) {
        let endpoint = &mut self.endpoints[role.index()];
        for queue in [&mut endpoint.stack_queue, &mut endpoint.app_queue] {
            while let Some(held) = queue.front() {
                let kind = held.sdu.kind;
                let blocked = (kind.is_request() && self.client.request_outstanding)
                    || (kind == PduKind::Indication && self.server.indication_outstanding);
                if held.ready_at > start || blocked {
                    break;
                }
                self.client.request_outstanding |= kind.is_request();
                self.server.indication_outstanding |= kind == PduKind::Indication;
                if let Some(held) = queue.pop_front() {
                    endpoint.controller.push_back(held.sdu);
                }
            }
        }
    }

    fn long_write(&self, handle: u16, value: &[u8]) -> Vec<Sdu> {
        let part_len = usize::from(self.config.att_mtu) - PduKind::PrepareWriteRequest.header_len();
        let mut sdus: Vec<Sdu> = value
            .chunks(part_len)
            .enumerate()
            .map(|(i, part)| {
                Sdu::new(
                    PduKind::PrepareWriteRequest,
                    handle,
                    (i * part_len) as u16,
                    part.to_vec(),
                )
            })
            .collect();
        sdus.push(Sdu::new(
            PduKind::ExecuteWriteRequest,
            handle,
            0,
            Vec::new(),
        ));
        sdus
    }

    /// The part of `value` a Read (Blob) Response at `offset` carries.
    fn read_response(&self, handle: u16, offset: u16, value: &[u8]) -> Sdu {
        let start = usize::from(offset).min(value.len());
        let end = (start + usize::from(self.config.att_mtu) - 1).min(value.len());
        let kind = if offset == 0 {
            PduKind::ReadResponse
        } else {
            PduKind::ReadBlobResponse
        };
        Sdu::new(kind, handle, offset, value[start..end].to_vec())
    }

    /// Whether a read response part this long makes the client ask for more.
    fn read_continues(&self, part_len: usize) -> bool {
        part_len == usize::from(self.config.att_mtu) - 1
            && self.client.read_value.len() + part_len < MAX_ATTRIBUTE_LEN
    }

    fn receive_fragment(
        &mut self,
        from: Role,
        len: usize,
        at: u64,
        out: &mut Vec<LinkEvent>,
    ) -> Cut {
        let controller = &mut self.endpoints[from.index()].controller;
        let Some(sdu) = controller.front_mut() else {
            return Cut::None;
        };
        sdu.received += len;
        if sdu.received < sdu.ll_len() {
            return Cut::None;
        }
        match controller.pop_front() {
            Some(sdu) => self.arrive(from, sdu, len, at, out),
            None => Cut::None,
        }
    }

    /// The last fragment of `sdu` arrived: stack processing, faults, delivery.
    fn arrive(
        &mut self,
        from: Role,
        mut sdu: Sdu,
        last_fragment: usize,
        at: u64,
        out: &mut Vec<LinkEvent>,
    ) -> Cut {
        let mut arrival = self.app_message(from, &sdu);
        let index = self.deliveries + 1;
        if let Some(arrival) = arrival.as_mut() {
            match self.apply_faults(Point::BeforeDelivery(index), at, Some(arrival), out) {
                Cut::None => {}
                Cut::Stalled => {
                    // Lost on air: the sender will retransmit the fragment.
                    sdu.received -= last_fragment;
                    self.endpoints[from.index()].controller.push_front(sdu);
                    return Cut::Stalled;
                }
                Cut::Down => return Cut::Down,
            }
        }
        self.stack_receive(from, &sdu, at, out);
        let stats = self.stats.sent_by_mut(from);
        stats.sdus += 1;
        stats.att_bytes += sdu.att_len() as u64;
        if sdu.kind.carries_app_value() {
            stats.value_bytes += sdu.value.len() as u64;
        }
        if sdu.ends_message {
            let endpoint = &mut self.endpoints[from.index()];
            endpoint.unsent_messages = endpoint.unsent_messages.saturating_sub(1);
        }
        let mark = arrival.as_ref().and_then(|a| {
            if a.dropped {
                Some(Mark::Dropped)
            } else if a.tampered {
                Some(Mark::Tampered)
            } else {
                None
            }
        });
        self.timeline.push(TimelineEntry {
            at_us: at,
            from,
            kind: sdu.kind,
            handle: sdu.handle,
            att_len: sdu.att_len(),
            value_len: sdu.value.len(),
            ll_pdus: sdu.ll_len().div_ceil(usize::from(self.config.ll_payload)),
            mark,
        });
        let Some(arrival) = arrival else {
            return Cut::None;
        };
        self.deliveries = index;
        if !arrival.dropped {
            let message = arrival.message;
            self.endpoints[message.to.index()].usual = Some((message.op, message.handle));
            self.delivered.push(Delivered {
                index,
                message: message.clone(),
            });
            out.push(received(message, at));
        }
        self.apply_faults(Point::AfterDelivery, at, None, out)
    }

    /// The application message `sdu` completes at its receiver, if any.
    fn app_message(&self, from: Role, sdu: &Sdu) -> Option<Arrival> {
        let (op, value) = match sdu.kind {
            PduKind::WriteRequest => (Op::WriteRequest, sdu.value.clone()),
            PduKind::WriteCommand => (Op::WriteCommand, sdu.value.clone()),
            PduKind::Notification => (Op::Notification, sdu.value.clone()),
            PduKind::Indication => (Op::Indication, sdu.value.clone()),
            PduKind::Smp => (Op::Smp, sdu.value.clone()),
            PduKind::LlControl => (Op::LlControl, sdu.value.clone()),
            PduKind::ExecuteWriteRequest => (Op::WriteRequest, self.server.prepared.clone()),
            PduKind::ReadResponse | PduKind::ReadBlobResponse
                if !self.read_continues(sdu.value.len()) =>
            {
                (
                    Op::Read,
                    [self.client.read_value.as_slice(), &sdu.value].concat(),
                )
            }
            _ => return None,
        };
        let message = AppMessage {
            to: from.peer(),
            op,
            handle: sdu.handle,
            value,
        };
        Some(Arrival {
            message,
            dropped: false,
            tampered: false,
        })
    }

    /// What the receiving stack does on its own: answer requests, confirm
    /// indications, continue long reads, track outstanding transactions.
    fn stack_receive(&mut self, from: Role, sdu: &Sdu, at: u64, out: &mut Vec<LinkEvent>) {
        let handle = sdu.handle;
        let read_continues = self.read_continues(sdu.value.len());
        let reply = |kind: PduKind, offset: u16, value: Vec<u8>| Held {
            sdu: Sdu::new(kind, handle, offset, value),
            ready_at: at,
        };
        let receiver = &mut self.endpoints[from.peer().index()].stack_queue;
        match sdu.kind {
            PduKind::WriteRequest => {
                receiver.push_back(reply(PduKind::WriteResponse, 0, Vec::new()))
            }
            PduKind::PrepareWriteRequest => {
                self.server.prepared.extend_from_slice(&sdu.value);
                receiver.push_back(reply(
                    PduKind::PrepareWriteResponse,
                    sdu.offset,
                    sdu.value.clone(),
                ));
            }
            PduKind::ExecuteWriteRequest => {
                self.server.prepared.clear();
                receiver.push_back(reply(PduKind::ExecuteWriteResponse, 0, Vec::new()));
            }
            PduKind::ReadRequest | PduKind::ReadBlobRequest => {
                self.server.pending_read = Some((handle, sdu.offset));
                out.push(LinkEvent::ReadRequested {
                    handle,
                    offset: sdu.offset,
                    at_us: at,
                });
            }
            PduKind::Indication => receiver.push_back(reply(PduKind::Confirmation, 0, Vec::new())),
            PduKind::WriteResponse | PduKind::ExecuteWriteResponse => {
                self.client.request_outstanding = false;
                out.push(LinkEvent::WriteAcknowledged { handle, at_us: at });
            }
            PduKind::PrepareWriteResponse => self.client.request_outstanding = false,
            PduKind::ReadResponse | PduKind::ReadBlobResponse => {
                self.client.request_outstanding = false;
                if read_continues {
                    self.client.read_value.extend_from_slice(&sdu.value);
                    let offset = self.client.read_value.len() as u16;
                    receiver.push_back(reply(PduKind::ReadBlobRequest, offset, Vec::new()));
                } else {
                    self.client.read_value.clear();
                }
            }
            PduKind::Confirmation => {
                self.server.indication_outstanding = false;
                out.push(LinkEvent::IndicationConfirmed { handle, at_us: at });
            }
            PduKind::WriteCommand | PduKind::Notification | PduKind::Smp | PduKind::LlControl => {}
        }
    }

    /// Arms the faults whose trigger `point` meets and applies the armed ones
    /// that can act there. `arrival` is the message about to be delivered at
    /// a [`Point::BeforeDelivery`].
    fn apply_faults(
        &mut self,
        point: Point,
        at: u64,
        mut arrival: Option<&mut Arrival>,
        out: &mut Vec<LinkEvent>,
    ) -> Cut {
        let deliveries = self.deliveries;
        for slot in &mut self.faults {
            if slot.state == FaultState::Waiting
                && slot.fault.trigger.arms_at(point, at, deliveries)
            {
                slot.state = FaultState::Armed;
            }
        }
        for index in 0..self.faults.len() {
            if self.faults[index].state != FaultState::Armed {
                continue;
            }
            let fault = self.faults[index].fault;
            // A timed fault strikes at its time, unless an event was still running then.
            let when = match fault.trigger {
                Trigger::At { us } => us.max(self.now_us),
                _ => at,
            };
            let applied = match fault.action {
                FaultAction::Link(LinkFault::Disconnect { reason }) => {
                    self.finish_fault(index, when, out);
                    self.go_down(reason, when, out);
                    return Cut::Down;
                }
                FaultAction::Link(LinkFault::Stall { duration_us }) => {
                    self.finish_fault(index, when, out);
                    self.stall_until_us = self.stall_until_us.max(when.saturating_add(duration_us));
                    if point != Point::EventStart {
                        return Cut::Stalled;
                    }
                    continue;
                }
                FaultAction::Attack(Attack::Garbage { to, len }) => {
                    self.inject_garbage(to, len, when, out);
                    true
                }
                FaultAction::Attack(Attack::Replay { message }) => {
                    self.inject_replay(message, when, out)
                }
                FaultAction::Attack(Attack::Tamper { bits }) => match arrival.as_deref_mut() {
                    Some(a) if !a.dropped && !a.message.value.is_empty() => {
                        self.flip_bits(&mut a.message.value, bits);
                        a.tampered = true;
                        true
                    }
                    _ => false,
                },
                FaultAction::Attack(Attack::Drop) => match arrival.as_deref_mut() {
                    Some(a)
                        if !a.dropped
                            && matches!(a.message.op, Op::WriteCommand | Op::Notification) =>
                    {
                        a.dropped = true;
                        true
                    }
                    _ => false,
                },
            };
            if applied {
                self.finish_fault(index, when, out);
            }
        }
        Cut::None
    }

    fn finish_fault(&mut self, index: usize, at: u64, out: &mut Vec<LinkEvent>) {
        self.faults[index].state = FaultState::Done;
        out.push(LinkEvent::FaultApplied { index, at_us: at });
    }

    fn go_down(&mut self, reason: DisconnectReason, at: u64, out: &mut Vec<LinkEvent>) {
        self.down = Some(reason);
        self.endpoints = Default::default();
        self.now_us = self.now_us.max(at);
        out.push(LinkEvent::Disconnected { reason, at_us: at });
    }

    fn inject_garbage(&mut self, to: Role, len: usize, at: u64, out: &mut Vec<LinkEvent>) {
        let default_op = match to {
            Role::Central => Op::Notification,
            Role::Peripheral => Op::WriteCommand,
        };
        let (op, handle) = self
            .endpoint(to)
            .usual
            .unwrap_or((default_op, DEFAULT_HANDLE));
        let mut value = vec![0; len.min(op.max_len(&self.config))];
        self.rng.fill_bytes(&mut value);
        self.inject(
            AppMessage {
                to,
                op,
                handle,
                value,
            },
            Mark::Garbage,
            at,
            out,
        );
    }

    fn inject_replay(&mut self, message: Option<u64>, at: u64, out: &mut Vec<LinkEvent>) -> bool {
        let original = match message {
            Some(index) => self.delivered.iter().find(|d| d.index == index),
            None => self.delivered.last(),
        };
        let Some(original) = original.cloned() else {
            return false;
        };
        self.inject(original.message, Mark::Replayed, at, out);
        true
    }

    /// Delivers a message no one sent over the air.
    fn inject(&mut self, message: AppMessage, mark: Mark, at: u64, out: &mut Vec<LinkEvent>) {
        let kind = message.op.pdu_kind();
        self.timeline.push(TimelineEntry {
            at_us: at,
            from: message.to.peer(),
            kind,
            handle: message.handle,
            att_len: kind.header_len() + message.value.len(),
            value_len: message.value.len(),
            ll_pdus: 0,
            mark: Some(mark),
        });
        out.push(received(message, at));
    }

    /// Flips `bits` distinct bits of `value` at random positions.
    fn flip_bits(&mut self, value: &mut [u8], bits: u32) {
        let total = value.len() * 8;
        let wanted = usize::try_from(bits).unwrap_or(usize::MAX).min(total);
        let mut flipped = vec![false; total];
        let mut count = 0;
        while count < wanted {
            let bit = (self.rng.next_u64() % total as u64) as usize;
            if !flipped[bit] {
                flipped[bit] = true;
                value[bit / 8] ^= 1 << (bit % 8);
                count += 1;
            }
        }
    }
}

fn received(message: AppMessage, at_us: u64) -> LinkEvent {
    let AppMessage {
        to,
        op,
        handle,
        value,
    } = message;
    LinkEvent::Received {
        to,
        op,
        handle,
        value,
        at_us,
    }
}
