//! One blepake connection per BLE link, host or device, and the one
//! surface that drives both: the [`Connection`] trait.
//!
//! In the manner of quinn-proto, a connection performs no I/O. Its methods
//! come in four kinds: `handle_*` for what the link and the clock deliver;
//! `send` and `close` for what the application wants; `poll_*` for what
//! the caller must do next; and getters. After every `handle_*`, `send` or
//! `close`, drain [`poll_transmit`](Connection::poll_transmit): anything a
//! call queued goes out on the next `poll_transmit`, whatever the order of
//! the calls, and nothing else will send it. The [`pump`](crate::pump)
//! does all of this for a [`Transport`](crate::pump::Transport).

use crate::error::{Error, InputError, SendError};
use crate::id::{DeviceId, HostId};
use crate::time::Instant;
use crate::wire::MAX_MESSAGE_LEN;

pub(crate) mod bond;
mod channel;
pub(crate) mod device;
mod handshake;
pub(crate) mod host;
pub(crate) mod record;

pub use channel::MAX_INPUT_LEN;

/// Which end of the link a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// The GATT client, which knows the code: it writes the Inbound
    /// characteristic.
    Host,
    /// The GATT server, which stores the verifier: it notifies Outbound.
    Device,
}

/// How a session came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// A fresh pairing from the setup code or QR secret.
    Paired,
    /// A reconnect with a bond.
    Resumed,
}

/// What an open session is between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionInfo {
    /// The device.
    pub device_id: DeviceId,
    /// The host, as the device knows it.
    pub host_id: HostId,
    /// Pairing or reconnect.
    pub mode: Mode,
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum State {
    /// A device waiting for the host's first request.
    AwaitingRequest,
    /// A pairing is under way.
    Pairing,
    /// A bonded reconnect is under way.
    Resuming,
    /// The session is open: messages flow.
    Open,
    /// Closed or failed; nothing more happens.
    Closed,
}

/// Something the application should know, from
/// [`poll_event`](Connection::poll_event).
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The peer is authenticated and the session open: `send` works. A host
    /// gets this as soon as the device has proved itself, and may send at
    /// once; its first records travel with its confirmation.
    Connected(SessionInfo),
    /// A pairing made a bond. A host should keep it (it is secret) to
    /// reconnect without the code; a device has stored it already.
    Bonded(crate::Bond),
    /// The session ended with an authenticated close.
    Closed {
        /// Whether the peer closed it (else this side did).
        by_peer: bool,
        /// The application's reason.
        reason: u8,
    },
    /// The handshake or session failed; the connection is closed.
    Failed {
        /// What went wrong.
        error: Error,
        /// Whether the peer reported it with an alert (else this side found
        /// it, or the link dropped).
        by_peer: bool,
    },
}

mod sealed {
    /// Gives the trait's provided methods the shared part of a connection.
    pub trait Parts {
        fn channel(&self) -> &super::channel::Channel;
        fn channel_mut(&mut self) -> &mut super::channel::Channel;
    }
}

/// The one surface that drives a blepake connection, host or device: the
/// same methods with the same arguments on [`HostConnection`] and
/// [`DeviceLink`]. The [`pump`](crate::pump) drives any of them through a
/// [`Transport`](crate::pump::Transport).
///
/// [`HostConnection`]: crate::HostConnection
/// [`DeviceLink`]: crate::DeviceLink
pub trait Connection: sealed::Parts {
    /// Which end this is.
    fn role(&self) -> Role;

    /// Where the connection stands.
    fn state(&self) -> State;

    /// Takes bytes the peer sent (a host's notification of Outbound, a
    /// device's write of Inbound) and returns how many it took: all of them,
    /// unless a message completed first. Then read it with
    /// [`recv`](Self::recv) and give the rest; until then, input gets
    /// [`InputError::InboxFull`]. Enforces the handshake deadline first.
    fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<usize, InputError>;

    /// Fails the handshake with [`Error::Timeout`] if its deadline has
    /// passed at `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// The link dropped. A handshake in flight ends (a device's attempt
    /// stays counted); a session not ended by an authenticated close fails
    /// with [`Error::LinkLost`]; nothing queued will go out.
    fn handle_disconnect(&mut self);

    /// `true` once, on a host, before its first value: enable notifications
    /// of Outbound (write `0x0001` to its CCCD) before or together with
    /// writing what [`poll_transmit`](Self::poll_transmit) gives
    /// (`PROTOCOL.md` §2). A device never asks.
    #[must_use = "a host must enable notifications before its first write"]
    fn poll_subscribe(&mut self) -> bool {
        false
    }

    /// The next bytes to send, at most `out.len()` of them (give it the
    /// ATT MTU minus 3): a host writes them to Inbound, a device notifies
    /// them on Outbound. Call it until `None` after every `handle_*`,
    /// `send` and `close`.
    #[must_use = "the bytes taken out must be sent"]
    fn poll_transmit(&mut self, out: &mut [u8]) -> Option<usize> {
        self.channel_mut().core.poll_transmit(out)
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants calling next;
    /// `None` while no deadline runs (an open session has none).
    fn poll_timeout(&self) -> Option<Instant> {
        self.channel().core.poll_timeout()
    }

    /// The next event.
    #[must_use = "an event taken out is gone"]
    fn poll_event(&mut self) -> Option<Event> {
        self.channel_mut().core.poll_event()
    }

    /// The next received message, or `None`.
    #[must_use = "a message taken out is gone"]
    fn recv<'b>(&mut self, buf: &'b mut [u8; MAX_MESSAGE_LEN]) -> Option<&'b [u8]> {
        self.channel_mut().recv(buf)
    }

    /// Sends one message of at most [`MAX_MESSAGE_LEN`] bytes as one
    /// record; it goes out on the next `poll_transmit`. A host may send as
    /// soon as the device has proved itself (before the device has seen
    /// the host's proof: 0.5-RTT data); a device once the host has. The
    /// queue holds one record of the largest size: `QueueFull` means
    /// drain `poll_transmit` first.
    fn send(&mut self, message: &[u8]) -> Result<(), SendError> {
        self.channel_mut().core.send(message)
    }

    /// Ends the session with an authenticated close, which goes out on the
    /// next `poll_transmit`.
    fn close(&mut self, reason: u8) -> Result<(), SendError> {
        self.channel_mut().core.close(reason)
    }

    /// What the session is between, once it has opened.
    fn session(&self) -> Option<SessionInfo> {
        self.channel().core.info()
    }

    /// Whether messages can be sent.
    fn is_open(&self) -> bool {
        self.channel().core.is_open()
    }

    /// Whether the connection has ended (closed or failed).
    fn is_closed(&self) -> bool {
        self.channel().core.is_closed()
    }
}
