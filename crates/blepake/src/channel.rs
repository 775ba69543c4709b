//! What host and device connections share: the byte stream cut into
//! frames, the transmit queue, the inbox of received messages, events, and
//! the record layer once a session is open.
//!
//! Each direction of a link is one ordered byte stream (GATT writes one
//! way, notifications the other). Frames are laid end to end in it and cut
//! into ATT values of whatever size the link allows, so fragmentation costs
//! nothing per fragment and a record may share a value with the message
//! before it.

use zeroize::Zeroize;

use crate::bond::Bond;
use crate::error::{Error, InputError, ProtocolViolation, SendError};
use crate::id::{DeviceId, HostId};
use crate::record::{Direction, MAX_RECORDS_PER_KEY, TrafficKeys};
use crate::wire::{
    Alert, Control, DecodeError, FRAME_HEADER_LEN, FrameHeader, FrameType, MAX_BODY_LEN,
    MAX_MESSAGE_LEN, TAG_LEN,
};

/// The most bytes [`handle_input`](crate::HostConnection::handle_input)
/// takes at once: one ATT value at the largest MTU (517 - 3).
pub const MAX_INPUT_LEN: usize = 514;
const TX_CAPACITY: usize = 1536;
const INBOX_CAPACITY: usize = 1536;
/// Inbox room one input can need: a record begun earlier (its whole
/// message and length prefix) plus, for the frames inside the input, at
/// most one inbox byte per input byte.
const INBOX_ROOM_PER_INPUT: usize = MAX_MESSAGE_LEN + 2 + MAX_INPUT_LEN;
const MAX_FRAME_LEN: usize = FRAME_HEADER_LEN + MAX_BODY_LEN;

/// How a session came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A fresh pairing from the setup code.
    Paired,
    /// A reconnect with a bond.
    Resumed,
}

/// What an open session is between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The device.
    pub device_id: DeviceId,
    /// The host.
    pub host_id: HostId,
    /// Pairing or reconnect.
    pub mode: Mode,
}

/// Something the application should know, from
/// [`poll_event`](crate::HostConnection::poll_event).
#[derive(Debug)]
pub enum Event {
    /// The peer is authenticated and the session open: `send` works. A host
    /// gets this as soon as the device has proved itself, and may send at
    /// once; its first records travel with its confirmation.
    Connected(SessionInfo),
    /// A pairing made a bond. A host should keep it (it is secret) to
    /// reconnect without the code; a device has stored it already.
    Bonded(Bond),
    /// The session ended with an authenticated close.
    Closed {
        /// Whether the peer closed it (else this side did).
        by_peer: bool,
        /// The application's reason.
        reason: u8,
    },
    /// The handshake or session failed; the connection is closed.
    Failed(Error),
}

/// A fixed ring of bytes.
struct ByteQueue<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> ByteQueue<N> {
    fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }

    fn free(&self) -> usize {
        N - self.len
    }

    /// Appends all of `bytes`, or nothing if they do not fit.
    fn push(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.free() {
            return false;
        }
        for (i, &byte) in bytes.iter().enumerate() {
            self.buf[(self.head + self.len + i) % N] = byte;
        }
        self.len += bytes.len();
        true
    }

    /// Moves up to `out.len()` bytes out; returns how many.
    fn pop(&mut self, out: &mut [u8]) -> usize {
        let count = out.len().min(self.len);
        for (i, byte) in out[..count].iter_mut().enumerate() {
            *byte = self.buf[(self.head + i) % N];
        }
        self.head = (self.head + count) % N;
        self.len -= count;
        count
    }
}

impl<const N: usize> Drop for ByteQueue<N> {
    fn drop(&mut self) {
        // The inbox holds plaintext.
        self.buf.zeroize();
    }
}

/// A complete frame, copied out of the reassembly buffer. A record's
/// plaintext is decrypted into the copy, so it is zeroized on drop.
pub(crate) struct Frame {
    pub(crate) header: FrameHeader,
    body: [u8; MAX_BODY_LEN],
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

impl Frame {
    pub(crate) fn body(&self) -> &[u8] {
        &self.body[..self.header.body_len]
    }
}

/// Reassembles frames from a byte stream, holding at most one frame.
struct FrameReader {
    header: [u8; FRAME_HEADER_LEN],
    header_filled: usize,
    body: [u8; MAX_BODY_LEN],
    body_filled: usize,
}

impl FrameReader {
    fn new() -> Self {
        Self {
            header: [0; FRAME_HEADER_LEN],
            header_filled: 0,
            body: [0; MAX_BODY_LEN],
            body_filled: 0,
        }
    }

    /// Consumes bytes from `input` until a frame completes or the input
    /// ends. A header with an unknown type or a length its type forbids is
    /// rejected before any of its body is buffered.
    fn read(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, DecodeError> {
        while self.header_filled < FRAME_HEADER_LEN {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(None);
            };
            self.header[self.header_filled] = byte;
            self.header_filled += 1;
            *input = rest;
        }
        let header = FrameHeader::decode(self.header)?;
        let take = (header.body_len - self.body_filled).min(input.len());
        self.body[self.body_filled..self.body_filled + take].copy_from_slice(&input[..take]);
        self.body_filled += take;
        *input = &input[take..];
        if self.body_filled < header.body_len {
            return Ok(None);
        }
        let frame = Frame {
            header,
            body: self.body,
        };
        self.header_filled = 0;
        self.body_filled = 0;
        Ok(Some(frame))
    }
}

/// Events are few by construction (connected, bonded, one ending), so a
/// small ring never fills.
struct EventQueue {
    slots: [Option<Event>; 4],
    head: usize,
}

impl EventQueue {
    fn push(&mut self, event: Event) {
        let len = self.slots.iter().filter(|slot| slot.is_some()).count();
        if len < self.slots.len() {
            self.slots[(self.head + len) % self.slots.len()] = Some(event);
        }
    }

    fn pop(&mut self) -> Option<Event> {
        let event = self.slots[self.head].take()?;
        self.head = (self.head + 1) % self.slots.len();
        Some(event)
    }
}

/// Both directions' keys of an open session.
struct Session {
    send: TrafficKeys,
    recv: TrafficKeys,
    records_per_key: u64,
}

/// Which end of the link this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Host,
    Device,
}

pub(crate) struct Channel {
    reader: FrameReader,
    tx: ByteQueue<TX_CAPACITY>,
    inbox: ByteQueue<INBOX_CAPACITY>,
    events: EventQueue,
    session: Option<Session>,
    closed: bool,
}

impl Channel {
    pub(crate) fn new() -> Self {
        Self {
            reader: FrameReader::new(),
            tx: ByteQueue::new(),
            inbox: ByteQueue::new(),
            events: EventQueue {
                slots: [None, None, None, None],
                head: 0,
            },
            session: None,
            closed: false,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.session.is_some() && !self.closed
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Feeds received bytes through the frame reader. Records and alerts
    /// are handled here; handshake frames go to `on_handshake`. A frame
    /// that breaks the protocol fails the connection; after that, input is
    /// ignored.
    pub(crate) fn handle_input(
        &mut self,
        data: &[u8],
        mut on_handshake: impl FnMut(&mut Self, &Frame),
    ) -> Result<(), InputError> {
        if data.len() > MAX_INPUT_LEN {
            return Err(InputError::TooLong);
        }
        if self.inbox.free() < INBOX_ROOM_PER_INPUT {
            return Err(InputError::InboxFull);
        }
        let mut input = data;
        while !self.closed {
            let frame = match self.reader.read(&mut input) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    self.fail(e.into(), Some(Alert::ProtocolError));
                    break;
                }
            };
            match frame.header.frame_type {
                FrameType::Alert => match Alert::decode(frame.body()) {
                    Ok(alert) => self.fail(Error::Rejected(alert), None),
                    Err(e) => self.fail(e.into(), None),
                },
                FrameType::ApplicationData | FrameType::Control => self.on_record(frame),
                _ => on_handshake(self, &frame),
            }
        }
        Ok(())
    }

    fn on_record(&mut self, mut frame: Frame) {
        let Some(session) = self.session.as_mut() else {
            return self.fail(
                Error::Protocol(ProtocolViolation::Unexpected),
                Some(Alert::ProtocolError),
            );
        };
        if session.recv.records() >= MAX_RECORDS_PER_KEY {
            return self.fail(
                Error::Protocol(ProtocolViolation::KeyLimitExceeded),
                Some(Alert::ProtocolError),
            );
        }
        let body = &mut frame.body[..frame.header.body_len];
        let Ok(len) = session.recv.open(&frame.header, body) else {
            return self.fail(Error::BadRecord, Some(Alert::ProtocolError));
        };
        let plaintext = &frame.body[..len];
        if frame.header.frame_type == FrameType::ApplicationData {
            // handle_input checked the inbox has room for everything one
            // input can complete.
            let pushed = self.inbox.push(&(len as u16).to_le_bytes()) && self.inbox.push(plaintext);
            debug_assert!(pushed);
            return;
        }
        match Control::decode(plaintext) {
            Ok(Control::KeyUpdate) => session.recv.update(),
            Ok(Control::Close { reason }) => {
                self.closed = true;
                self.events.push(Event::Closed {
                    by_peer: true,
                    reason,
                });
            }
            Err(e) => self.fail(e.into(), Some(Alert::ProtocolError)),
        }
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

    /// Ends the connection with `error`, telling the peer `alert` if given.
    pub(crate) fn fail(&mut self, error: Error, alert: Option<Alert>) {
        if self.closed {
            return;
        }
        if let Some(alert) = alert {
            let (body, len) = alert.encode();
            self.queue_frame(FrameType::Alert, &body[..len]);
        }
        self.closed = true;
        self.session = None;
        self.events.push(Event::Failed(error));
    }

    /// Opens the session: records flow from here on.
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
            records_per_key: records_per_key.clamp(2, MAX_RECORDS_PER_KEY),
        });
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

    pub(crate) fn recv<'b>(&mut self, buf: &'b mut [u8; MAX_MESSAGE_LEN]) -> Option<&'b [u8]> {
        let mut len = [0; 2];
        if self.inbox.pop(&mut len) < 2 {
            return None;
        }
        let len = usize::from(u16::from_le_bytes(len));
        self.inbox.pop(&mut buf[..len]);
        Some(&buf[..len])
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
        let update_due = session.send.records() + 1 >= session.records_per_key;
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
        self.closed = true;
        self.session = None;
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

    #[test]
    fn frames_reassemble_from_any_cut() {
        let mut stream = std::vec::Vec::new();
        for (frame_type, body) in [
            (FrameType::PairConfirm, &[5u8; 32][..]),
            (FrameType::Alert, &[3u8][..]),
        ] {
            stream.extend_from_slice(&FrameHeader::new(frame_type, body.len()).unwrap().encode());
            stream.extend_from_slice(body);
        }
        for cut in 1..=stream.len() {
            let mut reader = FrameReader::new();
            let mut frames = std::vec::Vec::new();
            for chunk in stream.chunks(cut) {
                let mut input = chunk;
                while let Some(frame) = reader.read(&mut input).unwrap() {
                    frames.push((frame.header.frame_type, frame.body().to_vec()));
                }
                assert!(input.is_empty());
            }
            assert_eq!(frames.len(), 2, "cut {cut}");
            assert_eq!(frames[0], (FrameType::PairConfirm, std::vec![5; 32]));
            assert_eq!(frames[1], (FrameType::Alert, std::vec![3]));
        }
    }

    #[test]
    fn a_bad_header_is_rejected_before_its_body() {
        let mut reader = FrameReader::new();
        let mut input = &[0x1f, 0xff, 0, 0][..];
        assert!(matches!(
            reader.read(&mut input),
            Err(DecodeError::BadLength { .. })
        ));
    }
}
