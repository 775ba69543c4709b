//! The exception classes, one per stable error code of the core, all under
//! `BlepakeError`. Every instance carries the core's `code`; `Busy` also
//! `retry_after` (seconds), and failures reported in a `Failed` event
//! `by_peer`.

use blepake::{CodeError, Error, KdfError, LinkError, PayloadError, SendError};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::{PyTypeInfo, create_exception};

create_exception!(
    blepake,
    BlepakeError,
    PyException,
    "Every error of blepake. `code` is the core's stable numeric code (0 for errors of the Python layer)."
);

macro_rules! errors {
    ($($name:ident: $doc:literal),* $(,)?) => {
        $(create_exception!(blepake, $name, BlepakeError, $doc);)*
        /// Adds every class to the module.
        pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            m.add("BlepakeError", py.get_type::<BlepakeError>())?;
            $(m.add(stringify!($name), py.get_type::<$name>())?;)*
            Ok(())
        }
    };
}

errors! {
    WrongCode: "A confirmation did not verify: the setup code is wrong, or the device is another one, or someone altered the messages (code 1). On the device the attempt has been counted.",
    Busy: "The device is busy with another pairing or backing off after failed attempts (code 2): retry after `retry_after` seconds.",
    Locked: "Too many failed pairings: a person must reopen the device's pairing window before it pairs again (code 3).",
    UnsupportedVersion: "No protocol version both sides speak (code 4); `supported_versions` is the device's set.",
    UnknownDevice: "The request named another device (code 5).",
    ResumeRejected: "The device does not accept this bond (revoked, replaced or replayed): pair again with the code (code 6).",
    ProtocolError: "Bytes that break the protocol (code 7).",
    Timeout: "The handshake did not complete in time (code 8).",
    InternalError: "A side failed internally: its storage could not be written (code 9).",
    PairingClosed: "The device's pairing window is closed: open it on the device (code 10).",
    BadRecord: "A record failed authentication: forged, altered, replayed, reordered or missing data (code 11).",
    LinkLost: "The link dropped before the session was closed (code 12).",
    UnknownAlert: "The peer ended the handshake with an alert this version does not know (code 13); `alert` is its code.",
    NotOpen: "The session is not (yet, or any longer) open (code 30).",
    MessageTooLong: "A message longer than one record holds (MAX_MESSAGE_LEN bytes) (code 31).",
    QueueFull: "The send queue is full: wait for it to drain (code 32).",
    NoFreeLink: "Every link slot of the device is taken (code 40).",
    UnknownLink: "The device has no such link any more (code 41).",
    InvalidCode: "A setup code that is malformed, trivial or fails its check digit.",
    InvalidPayload: "A QR payload, Setup Info, device record or bond whose bytes or text do not decode.",
    DerivationError: "The key derivation refused its parameters or password kind.",
    StorageError: "The device's storage failed.",
}

/// An exception of class `T` with its `code` set.
fn with_code<T: PyTypeInfo>(py: Python<'_>, code: u8, message: String) -> PyErr {
    let err = PyErr::from_type(py.get_type::<T>(), message);
    // Setting an attribute on a fresh exception instance cannot fail.
    let _ = err.value(py).setattr("code", code);
    err
}

/// The exception for a connection failure.
pub fn failure(py: Python<'_>, error: &Error, by_peer: bool) -> PyErr {
    let message = error.to_string();
    let code = error.code();
    let err = match error {
        Error::AuthenticationFailed => with_code::<WrongCode>(py, code, message),
        Error::Busy { retry_after_secs } => {
            let err = with_code::<Busy>(py, code, message);
            let _ = err.value(py).setattr("retry_after", *retry_after_secs);
            err
        }
        Error::Locked => with_code::<Locked>(py, code, message),
        Error::UnsupportedVersion { supported_versions } => {
            let err = with_code::<UnsupportedVersion>(py, code, message);
            let _ = err
                .value(py)
                .setattr("supported_versions", *supported_versions);
            err
        }
        Error::UnknownDevice => with_code::<UnknownDevice>(py, code, message),
        Error::ResumeRejected => with_code::<ResumeRejected>(py, code, message),
        Error::Protocol(_) => with_code::<ProtocolError>(py, code, message),
        Error::Timeout => with_code::<Timeout>(py, code, message),
        Error::Internal => with_code::<InternalError>(py, code, message),
        Error::PairingClosed => with_code::<PairingClosed>(py, code, message),
        Error::BadRecord => with_code::<BadRecord>(py, code, message),
        Error::LinkLost => with_code::<LinkLost>(py, code, message),
        Error::UnknownAlert(alert) => {
            let err = with_code::<UnknownAlert>(py, code, message);
            let _ = err.value(py).setattr("alert", *alert);
            err
        }
        // A failure a later core reports: the base class, with its code.
        _ => with_code::<BlepakeError>(py, code, message),
    };
    let _ = err.value(py).setattr("by_peer", by_peer);
    err
}

/// The exception for a message that could not be queued.
pub fn send_error(py: Python<'_>, error: SendError) -> PyErr {
    let (code, message) = (error.code(), error.to_string());
    match error {
        SendError::NotOpen => with_code::<NotOpen>(py, code, message),
        SendError::TooLong => with_code::<MessageTooLong>(py, code, message),
        SendError::QueueFull => with_code::<QueueFull>(py, code, message),
        _ => with_code::<BlepakeError>(py, code, message),
    }
}

/// The exception for a device link that could not be had.
pub fn link_error(py: Python<'_>, error: LinkError) -> PyErr {
    let (code, message) = (error.code(), error.to_string());
    match error {
        LinkError::NoFreeSlot => with_code::<NoFreeLink>(py, code, message),
        LinkError::UnknownLink => with_code::<UnknownLink>(py, code, message),
        _ => with_code::<BlepakeError>(py, code, message),
    }
}

/// A code that does not read.
pub fn code_error(py: Python<'_>, error: CodeError) -> PyErr {
    with_code::<InvalidCode>(py, 0, error.to_string())
}

/// Bytes or text that do not decode as `what`.
pub fn invalid(py: Python<'_>, what: &str, error: impl std::fmt::Display) -> PyErr {
    with_code::<InvalidPayload>(py, 0, format!("invalid {what}: {error}"))
}

/// A payload that does not parse.
pub fn payload_error(py: Python<'_>, error: PayloadError) -> PyErr {
    invalid(py, "QR payload", error)
}

/// A derivation that was refused.
pub fn kdf_error(py: Python<'_>, error: KdfError) -> PyErr {
    with_code::<DerivationError>(py, 0, error.to_string())
}

/// Storage that failed.
pub fn storage_error(py: Python<'_>, error: impl std::fmt::Display) -> PyErr {
    with_code::<StorageError>(py, 0, format!("device storage failed: {error}"))
}
