//! One end of a blepake session over one BLE link. Host and device
//! connections are the same type with a different role inside: everything
//! but the handshake is common.

use crate::channel::{Channel, Event};
use crate::error::SendError;
use crate::time::Instant;
use crate::wire::MAX_MESSAGE_LEN;

/// One end of a blepake session for the life of a BLE link: a
/// [`HostConnection`](crate::HostConnection) or a
/// [`DeviceConnection`](crate::DeviceConnection).
///
/// Feed it what the link delivers (`handle_input`) and the time
/// (`handle_timeout`, when [`poll_timeout`](Self::poll_timeout) says);
/// after each call, send what [`poll_transmit`](Self::poll_transmit) gives
/// (a host writes the Inbound characteristic, a device notifies Outbound),
/// handle [`poll_event`](Self::poll_event), and read messages with
/// [`recv`](Self::recv). Tell it when the link drops (`handle_disconnect`).
pub struct Connection<R> {
    pub(crate) channel: Channel,
    /// When the handshake times out; `None` once it is over.
    pub(crate) deadline: Option<Instant>,
    pub(crate) role: R,
}

impl<R> Connection<R> {
    pub(crate) fn new(role: R, deadline: Option<Instant>) -> Self {
        Self {
            channel: Channel::new(),
            deadline,
            role,
        }
    }

    /// When `handle_timeout` wants calling next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline.filter(|_| !self.channel.is_closed())
    }

    /// Whether the handshake's time is up at `now`.
    pub(crate) fn timed_out(&self, now: Instant) -> bool {
        self.poll_timeout().is_some_and(|deadline| now >= deadline)
    }

    /// The next bytes to send, at most `out.len()` of them (give it the ATT
    /// MTU minus 3).
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        self.channel.poll_transmit(out)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.channel.poll_event()
    }

    /// Sends one message of at most [`MAX_MESSAGE_LEN`] bytes as one
    /// record. A host may send as soon as the device has proved itself; a
    /// device once the host has.
    pub fn send(&mut self, message: &[u8]) -> Result<(), SendError> {
        self.channel.send(message)
    }

    /// The next received message, or `None`.
    pub fn recv<'b>(&mut self, buf: &'b mut [u8; MAX_MESSAGE_LEN]) -> Option<&'b [u8]> {
        self.channel.recv(buf)
    }

    /// Ends the session with an authenticated close.
    pub fn close(&mut self, reason: u8) -> Result<(), SendError> {
        self.channel.close(reason)
    }

    /// Whether messages can be sent.
    pub fn is_open(&self) -> bool {
        self.channel.is_open()
    }

    /// Whether the connection has ended (closed or failed).
    pub fn is_closed(&self) -> bool {
        self.channel.is_closed()
    }
}
