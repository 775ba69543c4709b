//! How a handshake or session ends badly, and the errors of the calls that
//! drive a connection.
//!
//! Every error has a stable numeric [`code`](Error::code): the C API returns
//! it and the Python bindings map it to exception classes. Codes 1 to 10 are
//! those of the alerts (`PROTOCOL.md` §9) that report the same failure.

use core::fmt;

use crate::wire::{Alert, DecodeError};

/// Why a connection failed. Reported once, in
/// [`Event::Failed`](crate::Event::Failed); the connection is closed
/// afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A confirmation did not verify: the setup code is wrong (or the
    /// device is another one, or someone altered the messages). On a device
    /// the attempt has already been counted.
    AuthenticationFailed,
    /// Not now: another pairing is running, or the device is backing off
    /// after failed attempts.
    Busy {
        /// Seconds after which a new attempt may succeed.
        retry_after_secs: u16,
    },
    /// Too many failed pairings: a person must reopen the device's pairing
    /// window (a button press) before it pairs again.
    Locked,
    /// No protocol version both sides speak.
    UnsupportedVersion {
        /// The versions the device speaks (bit `v - 1` for version `v`).
        supported_versions: u8,
    },
    /// The request named another device.
    UnknownDevice,
    /// The device holds no such bond (revoked or replaced), or the resume
    /// was a replay: pair again with the code.
    ResumeRejected,
    /// Bytes that break the protocol.
    Protocol(ProtocolViolation),
    /// The handshake did not complete in time.
    Timeout,
    /// A side failed internally: its storage could not be written, so it
    /// did not go on. [`Device::storage_error`](crate::Device::storage_error)
    /// keeps a device's own storage error.
    Internal,
    /// The device's pairing window is closed: a person must open it (a
    /// button press) before the device pairs.
    PairingClosed,
    /// A record failed authentication: forged, altered, replayed, reordered
    /// or missing data. Nothing of it was delivered.
    BadRecord,
    /// The link dropped before the session was closed.
    LinkLost,
    /// The peer ended the handshake with an alert this version does not
    /// know.
    UnknownAlert(u8),
}

/// What exactly was wrong with the peer's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A frame or message that does not decode.
    Malformed(DecodeError),
    /// A point that is not on the curve, or a degenerate share.
    InvalidPoint,
    /// A valid message at the wrong time.
    Unexpected,
    /// More records under one key than the protocol allows.
    KeyLimitExceeded,
    /// The peer reported a protocol error (its alert says no more).
    ReportedByPeer,
}

impl Error {
    /// The stable numeric code: 1 to 10 are the alert codes of the same
    /// failures, then 11 `BadRecord`, 12 `LinkLost`, 13 `UnknownAlert`.
    pub fn code(&self) -> u8 {
        match self {
            Self::AuthenticationFailed => 1,
            Self::Busy { .. } => 2,
            Self::Locked => 3,
            Self::UnsupportedVersion { .. } => 4,
            Self::UnknownDevice => 5,
            Self::ResumeRejected => 6,
            Self::Protocol(_) => 7,
            Self::Timeout => 8,
            Self::Internal => 9,
            Self::PairingClosed => 10,
            Self::BadRecord => 11,
            Self::LinkLost => 12,
            Self::UnknownAlert(_) => 13,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthenticationFailed => {
                f.write_str("authentication failed: a wrong setup code, or altered messages")
            }
            Self::Busy { retry_after_secs } => {
                write!(
                    f,
                    "the device is busy or backing off: retry in {retry_after_secs} s"
                )
            }
            Self::Locked => f.write_str(
                "locked after too many failed pairings: reopen the device's pairing window",
            ),
            Self::UnsupportedVersion { supported_versions } => write!(
                f,
                "no common protocol version (the device speaks {supported_versions:#04x})"
            ),
            Self::UnknownDevice => f.write_str("the request named another device"),
            Self::ResumeRejected => {
                f.write_str("the device does not accept this bond: pair again with the code")
            }
            Self::Protocol(violation) => write!(f, "protocol violation: {violation}"),
            Self::Timeout => f.write_str("the handshake timed out"),
            Self::Internal => f.write_str("internal failure (storage)"),
            Self::PairingClosed => {
                f.write_str("the device's pairing window is closed: open it on the device")
            }
            Self::BadRecord => f.write_str("a record failed authentication"),
            Self::LinkLost => f.write_str("the link dropped"),
            Self::UnknownAlert(code) => write!(f, "the peer ended with alert {code}"),
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
            Self::ReportedByPeer => f.write_str("reported by the peer"),
        }
    }
}

impl core::error::Error for Error {}

/// What the peer's alert says went wrong.
impl From<Alert> for Error {
    fn from(alert: Alert) -> Self {
        match alert {
            Alert::AuthenticationFailed => Self::AuthenticationFailed,
            Alert::Unavailable { retry_after_secs } => Self::Busy { retry_after_secs },
            Alert::Locked => Self::Locked,
            Alert::UnsupportedVersion { supported_versions } => {
                Self::UnsupportedVersion { supported_versions }
            }
            Alert::UnknownDevice => Self::UnknownDevice,
            Alert::ResumeRejected => Self::ResumeRejected,
            Alert::ProtocolError => Self::Protocol(ProtocolViolation::ReportedByPeer),
            Alert::Timeout => Self::Timeout,
            Alert::Internal => Self::Internal,
            Alert::PairingClosed => Self::PairingClosed,
            Alert::Unknown(code) => Self::UnknownAlert(code),
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Protocol(ProtocolViolation::Malformed(e))
    }
}

/// Input the connection cannot take now: nothing of it was processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum InputError {
    /// A received message waits to be read: call `recv`, then give the
    /// input again. (The pump does this.)
    InboxFull,
}

impl InputError {
    /// The stable numeric code: 21 `InboxFull`.
    pub fn code(&self) -> u8 {
        match self {
            Self::InboxFull => 21,
        }
    }
}

/// Why a message was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SendError {
    /// The session is not (yet, or any longer) open.
    NotOpen,
    /// Longer than [`MAX_MESSAGE_LEN`](crate::MAX_MESSAGE_LEN).
    TooLong,
    /// The transmit queue is full: let `poll_transmit` drain it, then retry.
    QueueFull,
}

impl SendError {
    /// The stable numeric code: 30 `NotOpen`, 31 `TooLong`, 32 `QueueFull`.
    pub fn code(&self) -> u8 {
        match self {
            Self::NotOpen => 30,
            Self::TooLong => 31,
            Self::QueueFull => 32,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InboxFull => "a received message must be read first",
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

impl core::error::Error for InputError {}
impl core::error::Error for SendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_an_alert_reports_share_its_code() {
        for (alert, error) in [
            (Alert::AuthenticationFailed, Error::AuthenticationFailed),
            (
                Alert::Unavailable {
                    retry_after_secs: 5,
                },
                Error::Busy {
                    retry_after_secs: 5,
                },
            ),
            (Alert::Locked, Error::Locked),
            (
                Alert::UnsupportedVersion {
                    supported_versions: 1,
                },
                Error::UnsupportedVersion {
                    supported_versions: 1,
                },
            ),
            (Alert::UnknownDevice, Error::UnknownDevice),
            (Alert::ResumeRejected, Error::ResumeRejected),
            (
                Alert::ProtocolError,
                Error::Protocol(ProtocolViolation::ReportedByPeer),
            ),
            (Alert::Timeout, Error::Timeout),
            (Alert::Internal, Error::Internal),
            (Alert::PairingClosed, Error::PairingClosed),
        ] {
            assert_eq!(Error::from(alert), error);
            let (body, _) = alert.encode();
            assert_eq!(body[0], error.code(), "{alert:?}");
        }
        assert_eq!(Error::from(Alert::Unknown(77)), Error::UnknownAlert(77));
    }
}
