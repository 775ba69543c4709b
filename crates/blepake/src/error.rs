//! How a handshake or session ends badly.

use core::fmt;

use crate::wire::{Alert, DecodeError};

/// Why a connection failed. Reported once, as [`Event::Failed`](crate::Event::Failed);
/// the connection is closed afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A confirmation did not verify: the setup code is wrong (or the
    /// device is another one, or someone altered the messages). On a device
    /// this failure has already been counted against the attempt limit.
    AuthenticationFailed,
    /// The peer ended the handshake with this alert. Alerts are not
    /// authenticated: treat them as hints.
    Rejected(Alert),
    /// This device refused the handshake and told the host so.
    Refused(Alert),
    /// The handshake did not complete within its timeout.
    Timeout,
    /// The peer sent bytes that break the protocol.
    Protocol(ProtocolViolation),
    /// A record failed authentication: forged, altered, replayed, reordered
    /// or missing data. Nothing of it was delivered.
    BadRecord,
    /// The link dropped before the session was closed.
    LinkLost,
    /// The device's storage failed, so the handshake was not attempted.
    Storage,
}

/// What exactly was wrong with the peer's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolViolation {
    /// A frame or message that does not decode.
    Malformed(DecodeError),
    /// A point that is not on the curve, or a degenerate share.
    InvalidPoint,
    /// A valid message at the wrong time.
    Unexpected,
    /// More records under one key than the protocol allows.
    KeyLimitExceeded,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthenticationFailed => {
                f.write_str("authentication failed: wrong setup code, or altered messages")
            }
            Self::Rejected(alert) => write!(f, "the peer refused: {alert}"),
            Self::Refused(alert) => write!(f, "refused the peer: {alert}"),
            Self::Timeout => f.write_str("the handshake timed out"),
            Self::Protocol(violation) => write!(f, "protocol violation: {violation}"),
            Self::BadRecord => f.write_str("a record failed authentication"),
            Self::LinkLost => f.write_str("the link dropped"),
            Self::Storage => f.write_str("the device's storage failed"),
        }
    }
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "{e}"),
            Self::InvalidPoint => f.write_str("invalid elliptic-curve point"),
            Self::Unexpected => f.write_str("unexpected message"),
            Self::KeyLimitExceeded => f.write_str("too many records under one key"),
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Protocol(ProtocolViolation::Malformed(e))
    }
}

/// Input the caller must not give: nothing of it was processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// More than [`MAX_INPUT_LEN`](crate::MAX_INPUT_LEN) bytes at once.
    TooLong,
    /// Received messages wait to be read: call `recv` until it returns
    /// `None`, then give the input again.
    InboxFull,
}

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The session is not (yet, or any longer) open.
    NotOpen,
    /// Longer than [`MAX_MESSAGE_LEN`](crate::MAX_MESSAGE_LEN).
    TooLong,
    /// The transmit queue is full: drain `poll_transmit`, then retry.
    QueueFull,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "input longer than one ATT value",
            Self::InboxFull => "received messages must be read first",
        })
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotOpen => "the session is not open",
            Self::TooLong => "message too long for one record",
            Self::QueueFull => "transmit queue full",
        })
    }
}
