//! What host and device connections share: the byte stream cut into
//! frames, the transmit queue, events, and the record layer once a session
//! is open.
//!
//! Each direction of a link is one ordered byte stream (GATT writes one
//! way, notifications the other). Frames are laid end to end in it and cut
//! into ATT values of whatever size the link allows, so fragmentation costs
//! nothing per fragment and a record may share a value with the message
//! before it.
//!
//! Memory is what a device has least of, so a channel holds one frame
//! being received, decrypted in place, and one record's worth of bytes to
//! send: a received message waits in the receive buffer until it is read,
//! and input stops there (`handle_input` says how much it took).

use zeroize::Zeroize;

use super::record::{Direction, MAX_RECORDS_PER_KEY, TrafficKeys};
use super::{Event, Role, SessionInfo};
use crate::error::{Error, InputError, ProtocolViolation, SendError};
use crate::time::Instant;
use crate::wire::{
    Alert, Control, Deframer, FRAME_HEADER_LEN, FrameHeader, FrameType, MAX_BODY_LEN,
    MAX_MESSAGE_LEN, TAG_LEN,
};

/// The largest ATT value (an ATT MTU of 517, less 3): the most bytes the
/// pump sends in one value.
pub const MAX_INPUT_LEN: usize = 514;
const MAX_FRAME_LEN: usize = FRAME_HEADER_LEN + MAX_BODY_LEN;
/// Room for what one call may queue: a confirmation (34 bytes) and the
/// largest record (530) after it; a key update (19) and the largest record
/// take less.
const TX_CAPACITY: usize = 564;

/// A fixed ring of at most 65535 bytes.
struct ByteQueue<const N: usize> {
    buf: [u8; N],
    head: u16,
    len: u16,
}

impl<const N: usize> ByteQueue<N> {
    fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }

    fn len(&self) -> usize {
        usize::from(self.len)
    }

    fn free(&self) -> usize {
        N - self.len()
    }

    /// Appends all of `bytes`, or nothing if they do not fit.
    fn push(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.free() {
            return false;
        }
        let tail = usize::from(self.head) + self.len();
        for (i, &byte) in bytes.iter().enumerate() {
            self.buf[(tail + i) % N] = byte;
        }
        // At most N, which fits.
        self.len += bytes.len() as u16;
        true
    }

    /// Drops every byte.
    fn clear(&mut self) {
        self.buf.zeroize();
        self.head = 0;
        self.len = 0;
    }

    /// Moves up to `out.len()` bytes out; returns how many.
    fn pop(&mut self, out: &mut [u8]) -> usize {
        let count = out.len().min(self.len());
        let head = usize::from(self.head);
        for (i, byte) in out[..count].iter_mut().enumerate() {
            // Taken bytes are wiped: they may hold plaintext.
            *byte = core::mem::take(&mut self.buf[(head + i) % N]);
        }
        self.head = ((head + count) % N) as u16;
        self.len -= count as u16;
        count
    }
}

impl<const N: usize> Drop for ByteQueue<N> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// Events are few by construction (connected, bonded, one ending), so a
/// ring of three never fills.
struct EventQueue {
    slots: [Option<Event>; 3],
    head: u8,
}

impl EventQueue {
    fn push(&mut self, event: Event) {
        let len = self.slots.iter().filter(|slot| slot.is_some()).count();
        if len < self.slots.len() {
            self.slots[(usize::from(self.head) + len) % self.slots.len()] = Some(event);
        }
    }

    fn pop(&mut self) -> Option<Event> {
        let event = self.slots[usize::from(self.head)].take()?;
        self.head = (self.head + 1) % self.slots.len() as u8;
        Some(event)
    }
}

/// Both directions' keys of an open session.
struct Session {
    send: TrafficKeys,
    recv: TrafficKeys,
    records_per_key: u32,
}

/// A connection's streams: the frame being received, a received message
/// waiting to be read, and the rest.
pub struct Channel {
    rx: Deframer,
    /// The length of a received message waiting, decrypted, at the start
    /// of `rx`'s buffer.
    pending: Option<u16>,
    pub(crate) core: Core,
}

/// Everything of a channel but its receive buffer: what handshake code
/// works on while a frame's body is borrowed from the buffer. (Public only
/// inside a private module.)
pub struct Core {
    tx: ByteQueue<TX_CAPACITY>,
    events: EventQueue,
    session: Option<Session>,
    info: Option<SessionInfo>,
    closed: bool,
    /// When the handshake times out; `None` once it is over.
    deadline: Option<Instant>,
}

impl Channel {
    pub(crate) fn new(deadline: Instant) -> Self {
        Self {
            rx: Deframer::new(),
            pending: None,
            core: Core {
                tx: ByteQueue::new(),
                events: EventQueue {
                    slots: [None, None, None],
                    head: 0,
                },
                session: None,
                info: None,
                closed: false,
                deadline: Some(deadline),
            },
        }
    }

    /// Feeds received bytes through the deframer, after enforcing the
    /// handshake deadline, and returns how many it took: all of them,
    /// unless a message completed first (read it, then give the rest).
    /// Records and alerts are handled here; handshake frames go to
    /// `on_handshake` with their body. A frame that breaks the protocol
    /// fails the connection; after that, input is taken and ignored.
    pub(crate) fn handle_input(
        &mut self,
        data: &[u8],
        now: Instant,
        mut on_handshake: impl FnMut(&mut Core, FrameType, &[u8]),
    ) -> Result<usize, InputError> {
        if self.pending.is_some() {
            return Err(InputError::InboxFull);
        }
        let core = &mut self.core;
        if core.check_deadline(now) {
            return Ok(data.len());
        }
        let mut input = data;
        while !core.closed && self.pending.is_none() {
            let header = match self.rx.fill(&mut input) {
                Ok(Some(header)) => header,
                Ok(None) => break,
                Err(e) => {
                    let reply = (!self.rx.header_is_alert()).then_some(Alert::ProtocolError);
                    core.fail(e.into(), reply);
                    break;
                }
            };
            let body = self.rx.body_mut(&header);
            match header.frame_type {
                // Never answer an alert, even a malformed one.
                FrameType::Alert => match Alert::decode(body) {
                    Ok(alert) => core.fail_by_peer(Error::from(alert)),
                    Err(e) => core.fail(e.into(), None),
                },
                FrameType::ApplicationData | FrameType::Control => {
                    self.pending = core.on_record(&header, body);
                }
                frame_type => on_handshake(core, frame_type, body),
            }
        }
        if core.closed {
            return Ok(data.len());
        }
        Ok(data.len() - input.len())
    }

    /// The received message waiting, if any; its plaintext is wiped from
    /// the receive buffer.
    pub(crate) fn recv<'b>(&mut self, buf: &'b mut [u8; MAX_MESSAGE_LEN]) -> Option<&'b [u8]> {
        let len = usize::from(self.pending.take()?);
        let plaintext = &mut self.rx.buffer_mut()[..len];
        buf[..len].copy_from_slice(plaintext);
        plaintext.zeroize();
        Some(&buf[..len])
    }
}

impl Core {
    pub(crate) fn is_open(&self) -> bool {
        self.session.is_some() && !self.closed
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// What the session is between, once it has opened (and after it ends).
    pub(crate) fn info(&self) -> Option<SessionInfo> {
        self.info
    }

    /// When `handle_timeout` wants calling next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline.filter(|_| !self.closed)
    }

    /// Restarts the handshake deadline.
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// Fails the handshake with Timeout if its deadline has passed at
    /// `now`; returns whether it did.
    pub(crate) fn check_deadline(&mut self, now: Instant) -> bool {
        let expired = self.poll_timeout().is_some_and(|deadline| now >= deadline);
        if expired {
            self.fail(Error::Timeout, Some(Alert::Timeout));
        }
        expired
    }

    /// The link dropped: nothing queued can go out any more, and a session
    /// not ended by an authenticated close fails with `LinkLost`.
    pub(crate) fn disconnect(&mut self) {
        self.fail(Error::LinkLost, None);
        self.tx.clear();
    }

    /// Opens a record in place; returns the length of an application
    /// message, which is then at the start of `body`.
    fn on_record(&mut self, header: &FrameHeader, body: &mut [u8]) -> Option<u16> {
        let Some(session) = self.session.as_mut() else {
            self.fail(
                Error::Protocol(ProtocolViolation::Unexpected),
                Some(Alert::ProtocolError),
            );
            return None;
        };
        if session.recv.records() >= MAX_RECORDS_PER_KEY {
            self.fail(
                Error::Protocol(ProtocolViolation::KeyLimitExceeded),
                Some(Alert::ProtocolError),
            );
            return None;
        }
        let Ok(len) = session.recv.open(header, body) else {
            self.fail(Error::BadRecord, Some(Alert::ProtocolError));
            return None;
        };
        if header.frame_type == FrameType::ApplicationData {
            // At most MAX_MESSAGE_LEN.
            return Some(len as u16);
        }
        match Control::decode(&body[..len]) {
            Ok(Control::KeyUpdate) => session.recv.update(),
            Ok(Control::Close { reason }) => {
                self.end();
                self.events.push(Event::Closed {
                    by_peer: true,
                    reason,
                });
            }
            Err(e) => self.fail(e.into(), Some(Alert::ProtocolError)),
        }
        body[..len].zeroize();
        None
    }

    /// Queues an unprotected frame (handshake message or alert). Handshake
    /// messages go out before any record, into a queue far larger than
    /// they are, so they always fit.
    pub(crate) fn queue_frame(&mut self, frame_type: FrameType, body: &[u8]) {
        let Ok(header) = FrameHeader::new(frame_type, body.len()) else {
            return;
        };
        if self.tx.free() >= FRAME_HEADER_LEN + body.len() {
            self.tx.push(&header.encode());
            self.tx.push(body);
        }
    }

    /// Ends the connection with `error` found here, telling the peer
    /// `alert` if given.
    pub(crate) fn fail(&mut self, error: Error, alert: Option<Alert>) {
        if self.closed {
            return;
        }
        if let Some(alert) = alert {
            let (body, len) = alert.encode();
            self.queue_frame(FrameType::Alert, &body[..len]);
        }
        self.end();
        self.events.push(Event::Failed {
            error,
            by_peer: false,
        });
    }

    /// Ends the connection with the failure the peer's alert reported.
    fn fail_by_peer(&mut self, error: Error) {
        self.end();
        self.events.push(Event::Failed {
            error,
            by_peer: true,
        });
    }

    /// Closed for good: the keys are erased and no deadline runs.
    fn end(&mut self) {
        self.closed = true;
        self.session = None;
        self.deadline = None;
    }

    /// Opens the session: records flow from here on, and the handshake's
    /// deadline stops.
    pub(crate) fn open(
        &mut self,
        root: &[u8; 32],
        role: Role,
        records_per_key: u64,
        info: SessionInfo,
    ) {
        let (send, recv) = match role {
            Role::Host => (Direction::HostToDevice, Direction::DeviceToHost),
            Role::Device => (Direction::DeviceToHost, Direction::HostToDevice),
        };
        self.session = Some(Session {
            send: TrafficKeys::new(root, send),
            recv: TrafficKeys::new(root, recv),
            // At most 2^20.
            records_per_key: records_per_key.clamp(2, MAX_RECORDS_PER_KEY) as u32,
        });
        self.deadline = None;
        self.info = Some(info);
        self.events.push(Event::Connected(info));
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push(event);
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    pub(crate) fn poll_transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        match self.tx.pop(out) {
            0 => None,
            n => Some(n),
        }
    }

    /// Seals `plaintext` as one record, first updating the key if the
    /// current one has protected all it may.
    fn seal(&mut self, frame_type: FrameType, plaintext: &[u8]) -> Result<(), SendError> {
        let session = self
            .session
            .as_mut()
            .filter(|_| !self.closed)
            .ok_or(SendError::NotOpen)?;
        if plaintext.len() > MAX_MESSAGE_LEN {
            return Err(SendError::TooLong);
        }
        let update_due = session.send.records() + 1 >= u64::from(session.records_per_key);
        let (update, update_len) = Control::KeyUpdate.encode();
        let update_frame_len = FRAME_HEADER_LEN + update_len + TAG_LEN;
        let needed = FRAME_HEADER_LEN
            + plaintext.len()
            + TAG_LEN
            + if update_due { update_frame_len } else { 0 };
        if self.tx.free() < needed {
            return Err(SendError::QueueFull);
        }
        if update_due {
            seal_into(
                &mut self.tx,
                &mut session.send,
                FrameType::Control,
                &update[..update_len],
            );
            session.send.update();
        }
        seal_into(&mut self.tx, &mut session.send, frame_type, plaintext);
        Ok(())
    }

    pub(crate) fn send(&mut self, message: &[u8]) -> Result<(), SendError> {
        self.seal(FrameType::ApplicationData, message)
    }

    /// Sends an authenticated close and closes. Waits for room if the
    /// transmit queue is full: the caller retries after `poll_transmit`.
    pub(crate) fn close(&mut self, reason: u8) -> Result<(), SendError> {
        let (close, len) = Control::Close { reason }.encode();
        self.seal(FrameType::Control, &close[..len])?;
        self.end();
        self.events.push(Event::Closed {
            by_peer: false,
            reason,
        });
        Ok(())
    }
}

fn seal_into<const N: usize>(
    tx: &mut ByteQueue<N>,
    keys: &mut TrafficKeys,
    frame_type: FrameType,
    plaintext: &[u8],
) {
    let body_len = plaintext.len() + TAG_LEN;
    let header = FrameHeader::new(frame_type, body_len).expect("checked against MAX_MESSAGE_LEN");
    let mut frame = [0; MAX_FRAME_LEN];
    let frame = &mut frame[..FRAME_HEADER_LEN + body_len];
    frame[..FRAME_HEADER_LEN].copy_from_slice(&header.encode());
    frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + plaintext.len()].copy_from_slice(plaintext);
    keys.seal(frame);
    tx.push(frame);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Mode;
    use crate::id::{DeviceId, HostId};

    /// A device's channel, open, whose receiving key has taken `records`
    /// records, and the host's sending keys in step with it.
    fn open_at(records: u64) -> (Channel, TrafficKeys) {
        let root = [4; 32];
        let mut channel = Channel::new(Instant::from_millis(0));
        let info = SessionInfo {
            device_id: DeviceId([1; 8]),
            host_id: HostId([2; 8]),
            mode: Mode::Paired,
        };
        channel
            .core
            .open(&root, Role::Device, MAX_RECORDS_PER_KEY, info);
        channel.core.session.as_mut().unwrap().recv.skip_to(records);
        let mut host_keys = TrafficKeys::new(&root, Direction::HostToDevice);
        host_keys.skip_to(records);
        (channel, host_keys)
    }

    fn sealed(
        keys: &mut TrafficKeys,
        frame_type: FrameType,
        plaintext: &[u8],
    ) -> std::vec::Vec<u8> {
        let mut tx = ByteQueue::<MAX_FRAME_LEN>::new();
        seal_into(&mut tx, keys, frame_type, plaintext);
        let mut frame = std::vec![0; tx.len()];
        tx.pop(&mut frame);
        frame
    }

    #[test]
    fn a_close_may_be_the_last_record_a_key_protects() {
        // PROTOCOL.md §7.3: the 2^20-th record under a key is accepted,
        // whatever its type; the one after it is not.
        let (mut channel, mut keys) = open_at(MAX_RECORDS_PER_KEY - 1);
        let (close, len) = Control::Close { reason: 5 }.encode();
        let record = sealed(&mut keys, FrameType::Control, &close[..len]);
        channel
            .handle_input(&record, Instant::from_millis(0), |_, _, _| unreachable!())
            .unwrap();
        assert!(matches!(
            channel.core.poll_event(),
            Some(Event::Connected(_))
        ));
        assert!(matches!(
            channel.core.poll_event(),
            Some(Event::Closed {
                by_peer: true,
                reason: 5
            })
        ));

        let (mut channel, mut keys) = open_at(MAX_RECORDS_PER_KEY);
        let record = sealed(&mut keys, FrameType::ApplicationData, b"one too many");
        channel
            .handle_input(&record, Instant::from_millis(0), |_, _, _| unreachable!())
            .unwrap();
        channel.core.poll_event();
        assert!(matches!(
            channel.core.poll_event(),
            Some(Event::Failed {
                error: Error::Protocol(ProtocolViolation::KeyLimitExceeded),
                by_peer: false
            })
        ));
    }

    #[test]
    fn byte_queue_wraps_and_refuses_overflow() {
        let mut queue = ByteQueue::<8>::new();
        assert!(queue.push(b"abcde"));
        let mut out = [0; 3];
        assert_eq!(queue.pop(&mut out), 3);
        assert_eq!(&out, b"abc");
        assert!(queue.push(b"fghij"));
        assert!(queue.push(b"k"));
        assert!(!queue.push(b"l"));
        let mut out = [0; 9];
        assert_eq!(queue.pop(&mut out), 8);
        assert_eq!(&out[..8], b"defghijk");
        assert_eq!(queue.pop(&mut out), 0);
    }
}
