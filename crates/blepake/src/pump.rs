//! The one pump every transport adapter runs: input in, events and
//! messages to the application, values out, in an order that cannot hang.
//!
//! A transport (the simulated link, a BLE stack, a UART, a binding) says
//! how to send one value, how large a value may be, and what time it is.
//! The adapter calls [`step`] with whatever woke it (a received value, its
//! timer reaching [`poll_timeout`](Connection::poll_timeout), the link
//! dropping, or room to send again), and `step` does the rest:
//!
//! 1. gives the input to the connection, handing over each message it
//!    completes before giving the rest;
//! 2. hands every event and message to the application's callback, which
//!    may `send` or `close`;
//! 3. enables notifications first if the host must (`PROTOCOL.md` §2), then
//!    sends queued bytes while the transport has room, and while everything
//!    has gone out and there is room, offers the application
//!    [`Output::Writable`] to send more.
//!
//! Because step 3 runs after the application has answered, a message sent
//! on [`Event::Connected`] leaves with the
//! handshake's last message.

use crate::connection::{Connection, Event, MAX_INPUT_LEN};
use crate::error::InputError;
use crate::time::Instant;
use crate::wire::MAX_MESSAGE_LEN;

/// What carries one connection's values: a host writes Inbound, a device
/// notifies Outbound.
pub trait Transport {
    /// The transport's own error (a closed pipe, a failed GATT call).
    type Error;

    /// The time now, on the clock the connection's deadlines use.
    fn now(&self) -> Instant;

    /// The largest value the link takes now: the ATT MTU minus 3 (it may
    /// grow after an MTU exchange).
    fn max_value_len(&self) -> usize;

    /// Whether a value can be sent now. A device's transport says no until
    /// the host has enabled notifications; a host's may say no until its
    /// subscription is confirmed, or while its own queue is full.
    fn can_send(&self) -> bool;

    /// Sends one value: a host writes it to Inbound (Write Without Response
    /// or Write Request, in order), a device notifies it on Outbound. Only
    /// called when [`can_send`](Self::can_send) said yes.
    fn send(&mut self, value: &[u8]) -> Result<(), Self::Error>;

    /// A host enables notifications of Outbound (writes `0x0001` to its
    /// CCCD), before its first value or in the same connection event. A
    /// device's transport is never asked.
    fn subscribe(&mut self) -> Result<(), Self::Error>;
}

/// What woke the adapter.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A value the peer sent, of any length.
    Received(&'a [u8]),
    /// The time [`poll_timeout`](Connection::poll_timeout) named has come.
    Timer,
    /// The link dropped.
    Disconnected,
    /// Nothing new: the transport has room again, or the application sent
    /// or closed.
    Ready,
}

/// What the application gets from [`step`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Output<'a> {
    /// An event of the connection.
    Event(Event),
    /// A message the peer sent.
    Message(&'a [u8]),
    /// The session is open, everything queued has gone out and the
    /// transport can take more: a message sent now leaves at once. (The
    /// send queue holds one record of the largest size; an application
    /// streaming messages sends the next one here.)
    Writable,
}

/// Runs one step of the connection: see the [module docs](self). The
/// callback gets every event and message, with the connection, so that it
/// can answer at once.
pub fn step<C, T, F>(
    conn: &mut C,
    transport: &mut T,
    input: Input<'_>,
    mut on_output: F,
) -> Result<(), T::Error>
where
    C: Connection + ?Sized,
    T: Transport + ?Sized,
    F: FnMut(&mut C, Output<'_>),
{
    let now = transport.now();
    match input {
        Input::Received(value) => {
            // The connection takes input up to each message it completes;
            // the message is handed over before the rest goes in.
            let mut rest = value;
            loop {
                match conn.handle_input(rest, now) {
                    Ok(taken) => rest = &rest[taken..],
                    Err(InputError::InboxFull) => {}
                }
                deliver(conn, &mut on_output);
                if rest.is_empty() {
                    break;
                }
            }
        }
        Input::Timer => conn.handle_timeout(now),
        Input::Disconnected => conn.handle_disconnect(),
        Input::Ready => {}
    }
    deliver(conn, &mut on_output);
    let mut flushed = flush(conn, transport)?;
    // Offer the application room for as long as it uses it.
    while flushed.drained && conn.is_open() && transport.can_send() {
        on_output(conn, Output::Writable);
        flushed = flush(conn, transport)?;
        if flushed.sent == 0 {
            break;
        }
    }
    Ok(())
}

/// What a flush did.
struct Flushed {
    /// Values sent.
    sent: usize,
    /// Whether the queue is empty now.
    drained: bool,
}

/// Hands every pending event and message to the application.
fn deliver<C, F>(conn: &mut C, on_output: &mut F)
where
    C: Connection + ?Sized,
    F: FnMut(&mut C, Output<'_>),
{
    let mut buf = zeroize::Zeroizing::new([0; MAX_MESSAGE_LEN]);
    loop {
        if let Some(event) = conn.poll_event() {
            on_output(conn, Output::Event(event));
        } else if let Some(message) = conn.recv(&mut buf) {
            let len = message.len();
            on_output(conn, Output::Message(&buf[..len]));
        } else {
            return;
        }
    }
}

/// Subscribes if the host must, then sends while the transport has room.
fn flush<C, T>(conn: &mut C, transport: &mut T) -> Result<Flushed, T::Error>
where
    C: Connection + ?Sized,
    T: Transport + ?Sized,
{
    if conn.poll_subscribe() {
        transport.subscribe()?;
    }
    let len = transport.max_value_len().min(MAX_INPUT_LEN);
    let mut value = [0; MAX_INPUT_LEN];
    let mut sent = 0;
    while len > 0 && transport.can_send() {
        let Some(n) = conn.poll_transmit(&mut value[..len]) else {
            return Ok(Flushed {
                sent,
                drained: true,
            });
        };
        transport.send(&value[..n])?;
        sent += 1;
    }
    Ok(Flushed {
        sent,
        drained: false,
    })
}

/// A transport that keeps the values sent in memory, for tests, examples
/// and links inside one process: move [`values`](Self::values) to the
/// other side's [`step`] as [`Input::Received`].
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct MemoryTransport {
    /// The values sent, oldest first.
    pub values: std::collections::VecDeque<std::vec::Vec<u8>>,
    /// The largest value: the ATT MTU minus 3.
    pub max_value_len: usize,
    /// The time [`now`](Transport::now) gives.
    pub now: Instant,
    /// Whether a value may be sent (for a device: whether the host has
    /// enabled notifications).
    pub can_send: bool,
    /// Whether [`subscribe`](Transport::subscribe) was called.
    pub subscribed: bool,
}

#[cfg(feature = "std")]
impl MemoryTransport {
    /// An empty transport for values of at most `max_value_len` bytes that
    /// can send at once.
    pub fn new(max_value_len: usize, now: Instant) -> Self {
        Self {
            values: std::collections::VecDeque::new(),
            max_value_len,
            now,
            can_send: true,
            subscribed: false,
        }
    }
}

#[cfg(feature = "std")]
impl Transport for MemoryTransport {
    type Error = core::convert::Infallible;

    fn now(&self) -> Instant {
        self.now
    }

    fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    fn can_send(&self) -> bool {
        self.can_send
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Self::Error> {
        self.values.push_back(value.to_vec());
        Ok(())
    }

    fn subscribe(&mut self) -> Result<(), Self::Error> {
        self.subscribed = true;
        Ok(())
    }
}
