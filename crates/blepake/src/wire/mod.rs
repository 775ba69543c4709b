//! The wire format of `PROTOCOL.md`: frame headers, handshake messages,
//! alerts and control records.
//!
//! Pure codecs: no cryptography, no state beyond the [`Deframer`]'s one
//! frame. Every decoder takes untrusted bytes and returns a value or a
//! [`DecodeError`]; none panics.

use core::fmt;

use crate::id::{DeviceId, HostId, SessionId};

mod deframer;

pub use deframer::{Deframer, Frame};

/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: usize = 2;
/// Largest application message one record carries.
pub const MAX_MESSAGE_LEN: usize = 512;
/// Bytes of the AES-CCM tag on every record.
pub const TAG_LEN: usize = 16;
/// Largest frame body: a record of [`MAX_MESSAGE_LEN`] bytes.
pub const MAX_BODY_LEN: usize = MAX_MESSAGE_LEN + TAG_LEN;
/// A compressed SEC1 P-256 point.
pub const POINT_LEN: usize = 33;
/// An HMAC-SHA256 confirmation.
pub const CONFIRM_LEN: usize = 32;
/// The resume binder: HMAC-SHA256 truncated to 128 bits.
pub const BINDER_LEN: usize = 16;
/// Longest request body any version may send.
pub const MAX_REQUEST_LEN: usize = 255;
/// The protocol version this implementation speaks.
pub const VERSION: u8 = 1;
/// Bit `v - 1` is set for each version spoken.
pub const SUPPORTED_VERSIONS: u8 = 1 << (VERSION - 1);

/// What a frame carries; the high nibble of its first header byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum FrameType {
    /// Host to device: the SPAKE2+ `shareP` and what it is bound to.
    PairRequest = 1,
    /// Device to host: `shareV` and `confirmV`.
    PairResponse = 2,
    /// Host to device: `confirmP`.
    PairConfirm = 3,
    /// Host to device: a bonded reconnect.
    ResumeRequest = 4,
    /// Device to host: the device's ephemeral key and confirmation.
    ResumeResponse = 5,
    /// Host to device: the host's confirmation.
    ResumeFinish = 6,
    /// Either way, unprotected: why a handshake ended.
    Alert = 7,
    /// Either way, protected: an application message.
    ApplicationData = 8,
    /// Either way, protected: a key update or a close.
    Control = 9,
}

impl FrameType {
    /// The name `PROTOCOL.md` §3 gives the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::PairRequest => "PairRequest",
            Self::PairResponse => "PairResponse",
            Self::PairConfirm => "PairConfirm",
            Self::ResumeRequest => "ResumeRequest",
            Self::ResumeResponse => "ResumeResponse",
            Self::ResumeFinish => "ResumeFinish",
            Self::Alert => "Alert",
            Self::ApplicationData => "ApplicationData",
            Self::Control => "Control",
        }
    }

    fn from_nibble(nibble: u8) -> Option<Self> {
        Some(match nibble {
            1 => Self::PairRequest,
            2 => Self::PairResponse,
            3 => Self::PairConfirm,
            4 => Self::ResumeRequest,
            5 => Self::ResumeResponse,
            6 => Self::ResumeFinish,
            7 => Self::Alert,
            8 => Self::ApplicationData,
            9 => Self::Control,
            _ => return None,
        })
    }

    /// The body lengths a frame of this type may have; anything else is
    /// rejected from the header alone, before its body is buffered.
    fn body_len_range(self) -> (usize, usize) {
        let exactly = |len| (len, len);
        match self {
            // Requests start with the version: later versions may change
            // their layout, and must still reach the version rule.
            Self::PairRequest | Self::ResumeRequest => (2, MAX_REQUEST_LEN),
            Self::PairResponse => exactly(PairResponse::LEN),
            Self::PairConfirm | Self::ResumeFinish => exactly(CONFIRM_LEN),
            Self::ResumeResponse => exactly(ResumeResponse::LEN),
            Self::Alert => (1, Alert::MAX_LEN),
            Self::ApplicationData => (TAG_LEN, MAX_BODY_LEN),
            Self::Control => (TAG_LEN + 1, TAG_LEN + Control::MAX_LEN),
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// A frame type this version does not define.
    UnknownFrameType(u8),
    /// A frame length its type does not allow.
    BadLength {
        /// The frame's type.
        frame_type: FrameType,
        /// The length its header claimed.
        len: usize,
    },
    /// Fewer bytes than the layout needs.
    Truncated,
    /// More bytes than the layout has.
    TrailingBytes,
    /// A field with a value the layout does not allow.
    BadField(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFrameType(t) => write!(f, "unknown frame type {t}"),
            Self::BadLength { frame_type, len } => {
                write!(
                    f,
                    "{} frame of {len} bytes is not allowed",
                    frame_type.name()
                )
            }
            Self::Truncated => f.write_str("message truncated"),
            Self::TrailingBytes => f.write_str("unexpected bytes after the message"),
            Self::BadField(field) => write!(f, "invalid {field}"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A frame header: 4 bits of type, 12 bits of body length, big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the body is.
    pub frame_type: FrameType,
    /// Bytes of body that follow the header.
    pub body_len: usize,
}

impl FrameHeader {
    /// A header for a body of `body_len` bytes, which must fit its type.
    pub fn new(frame_type: FrameType, body_len: usize) -> Result<Self, DecodeError> {
        let (min, max) = frame_type.body_len_range();
        if (min..=max).contains(&body_len) {
            Ok(Self {
                frame_type,
                body_len,
            })
        } else {
            Err(DecodeError::BadLength {
                frame_type,
                len: body_len,
            })
        }
    }

    /// The two header bytes.
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        let len = self.body_len as u16; // at most MAX_BODY_LEN, checked in `new`
        [(self.frame_type as u8) << 4 | (len >> 8) as u8, len as u8]
    }

    /// Reads a header, checking the length against the type.
    pub fn decode(bytes: [u8; FRAME_HEADER_LEN]) -> Result<Self, DecodeError> {
        let nibble = bytes[0] >> 4;
        let frame_type =
            FrameType::from_nibble(nibble).ok_or(DecodeError::UnknownFrameType(nibble))?;
        let body_len = usize::from(bytes[0] & 0x0f) << 8 | usize::from(bytes[1]);
        Self::new(frame_type, body_len)
    }
}

/// Bounds-checked reading of a message body.
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Ends reading: every byte must have been read.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Appends to a fixed buffer sized by the caller for the layout.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Appends `bytes`. Layouts are fixed and buffers sized to them, so
    /// running out of room is a bug in this crate, caught by its tests.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// What every request begins with, in this layout: the versions first,
/// then the device and the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The version the host runs this handshake in.
    pub version: u8,
    /// Every version the host speaks (bit `v - 1` for version `v`).
    pub supported_versions: u8,
    /// The device the host means.
    pub device_id: DeviceId,
    /// The host's identity: chosen for a pairing, the bond's for a resume.
    pub host_id: HostId,
}

impl RequestHead {
    /// Encoded length.
    pub const LEN: usize = 2 + DeviceId::LEN + HostId::LEN;

    /// A head in this implementation's version.
    pub fn new(device_id: DeviceId, host_id: HostId) -> Self {
        Self {
            version: VERSION,
            supported_versions: SUPPORTED_VERSIONS,
            device_id,
            host_id,
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.put(&[self.version, self.supported_versions])
            .put(&self.device_id.0)
            .put(&self.host_id.0);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            version: r.u8()?,
            supported_versions: r.u8()?,
            device_id: DeviceId(r.array()?),
            host_id: HostId(r.array()?),
        })
    }
}

/// Host to device, first message of a pairing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairRequest {
    /// Versions, device and host.
    pub head: RequestHead,
    /// A random value bound into the SPAKE2+ context.
    pub session_id: SessionId,
    /// SPAKE2+ `shareP`, compressed.
    pub share_p: [u8; POINT_LEN],
}

impl PairRequest {
    /// Body length.
    pub const LEN: usize = RequestHead::LEN + SessionId::LEN + POINT_LEN;

    /// The body bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        let mut w = Writer::new(&mut out);
        self.head.write(&mut w);
        w.put(&self.session_id.0).put(&self.share_p);
        out
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let message = Self {
            head: RequestHead::read(&mut r)?,
            session_id: SessionId(r.array()?),
            share_p: r.array()?,
        };
        r.finish()?;
        Ok(message)
    }
}

/// Device to host, answering a [`PairRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairResponse {
    /// SPAKE2+ `shareV`, compressed.
    pub share_v: [u8; POINT_LEN],
    /// SPAKE2+ `confirmV`.
    pub confirm_v: [u8; CONFIRM_LEN],
}

impl PairResponse {
    /// Body length.
    pub const LEN: usize = POINT_LEN + CONFIRM_LEN;

    /// The body bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        Writer::new(&mut out)
            .put(&self.share_v)
            .put(&self.confirm_v);
        out
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let message = Self {
            share_v: r.array()?,
            confirm_v: r.array()?,
        };
        r.finish()?;
        Ok(message)
    }
}

/// Host to device, first message of a bonded reconnect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeRequest {
    /// Versions, device and host (the bond's).
    pub head: RequestHead,
    /// The host's ephemeral ECDH key, compressed.
    pub ephemeral: [u8; POINT_LEN],
    /// Proof of the bond secret over the fields above.
    pub binder: [u8; BINDER_LEN],
}

impl ResumeRequest {
    /// Body length.
    pub const LEN: usize = Self::BOUND_LEN + BINDER_LEN;
    /// The bytes the binder covers: everything before it.
    pub const BOUND_LEN: usize = RequestHead::LEN + POINT_LEN;

    /// The body bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        let mut w = Writer::new(&mut out);
        self.head.write(&mut w);
        w.put(&self.ephemeral).put(&self.binder);
        out
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let message = Self {
            head: RequestHead::read(&mut r)?,
            ephemeral: r.array()?,
            binder: r.array()?,
        };
        r.finish()?;
        Ok(message)
    }
}

/// Device to host, answering a [`ResumeRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeResponse {
    /// The device's ephemeral ECDH key, compressed.
    pub ephemeral: [u8; POINT_LEN],
    /// The device's confirmation.
    pub confirm: [u8; CONFIRM_LEN],
}

impl ResumeResponse {
    /// Body length.
    pub const LEN: usize = POINT_LEN + CONFIRM_LEN;

    /// The body bytes.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        Writer::new(&mut out)
            .put(&self.ephemeral)
            .put(&self.confirm);
        out
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let message = Self {
            ephemeral: r.array()?,
            confirm: r.array()?,
        };
        r.finish()?;
        Ok(message)
    }
}

/// The version and supported versions that begin every request body, in
/// every version.
pub fn request_versions(body: &[u8]) -> Result<(u8, u8), DecodeError> {
    let mut r = Reader::new(body);
    Ok((r.u8()?, r.u8()?))
}

/// A confirmation body (`PairConfirm`, `ResumeFinish`).
pub fn decode_confirm(body: &[u8]) -> Result<[u8; CONFIRM_LEN], DecodeError> {
    let mut r = Reader::new(body);
    let confirm = r.array()?;
    r.finish()?;
    Ok(confirm)
}

/// Why a handshake ended, sent unprotected. An alert is a hint: an active
/// attacker can forge one, which costs the victim a retry and nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Alert {
    /// A confirmation did not verify: a wrong setup code, or altered messages.
    AuthenticationFailed,
    /// Not now: another handshake is running or the device is backing off.
    Unavailable {
        /// Seconds after which a retry may succeed.
        retry_after_secs: u16,
    },
    /// Too many failed pairings; someone must reopen the device's pairing
    /// window (a button press) before it pairs again.
    Locked,
    /// The version is not spoken, or a better common one exists.
    UnsupportedVersion {
        /// The versions the sender speaks.
        supported_versions: u8,
    },
    /// The request named another device.
    UnknownDevice,
    /// The device holds no such bond, or the binder did not verify.
    ResumeRejected,
    /// A malformed or unexpected message.
    ProtocolError,
    /// The handshake took too long.
    Timeout,
    /// The sender failed internally (its storage, say).
    Internal,
    /// The device's pairing window is closed.
    PairingClosed,
    /// A code this version does not define.
    Unknown(u8),
}

impl Alert {
    /// Longest alert body.
    pub const MAX_LEN: usize = 3;

    fn code(&self) -> u8 {
        match self {
            Self::AuthenticationFailed => 1,
            Self::Unavailable { .. } => 2,
            Self::Locked => 3,
            Self::UnsupportedVersion { .. } => 4,
            Self::UnknownDevice => 5,
            Self::ResumeRejected => 6,
            Self::ProtocolError => 7,
            Self::Timeout => 8,
            Self::Internal => 9,
            Self::PairingClosed => 10,
            Self::Unknown(code) => *code,
        }
    }

    /// The body bytes and their length.
    pub fn encode(&self) -> ([u8; Self::MAX_LEN], usize) {
        let mut out = [0; Self::MAX_LEN];
        let mut w = Writer::new(&mut out);
        w.put(&[self.code()]);
        match self {
            Self::Unavailable { retry_after_secs } => {
                w.put(&retry_after_secs.to_le_bytes());
            }
            Self::UnsupportedVersion { supported_versions } => {
                w.put(&[*supported_versions]);
            }
            _ => {}
        }
        let len = w.len();
        (out, len)
    }

    /// Reads a body. Unknown codes decode, with any details, so later
    /// versions may add codes; a known code whose details have another
    /// length than its own is malformed.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let alert = match r.u8()? {
            1 => Self::AuthenticationFailed,
            2 => Self::Unavailable {
                retry_after_secs: r.u16_le()?,
            },
            3 => Self::Locked,
            4 => Self::UnsupportedVersion {
                supported_versions: r.u8()?,
            },
            5 => Self::UnknownDevice,
            6 => Self::ResumeRejected,
            7 => Self::ProtocolError,
            8 => Self::Timeout,
            9 => Self::Internal,
            10 => Self::PairingClosed,
            code => {
                // Unknown codes may carry details this version cannot read.
                return Ok(Self::Unknown(code));
            }
        };
        r.finish()?;
        Ok(alert)
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AuthenticationFailed => {
                f.write_str("authentication failed (a wrong setup code?)")
            }
            Self::Unavailable { retry_after_secs } => {
                write!(f, "busy or backing off: retry in {retry_after_secs} s")
            }
            Self::Locked => f.write_str(
                "locked after too many failed pairings: reopen the device's pairing window",
            ),
            Self::UnsupportedVersion { supported_versions } => {
                write!(
                    f,
                    "no common protocol version (versions bitmap {supported_versions:#04x})"
                )
            }
            Self::UnknownDevice => f.write_str("a different device"),
            Self::ResumeRejected => {
                f.write_str("the device does not hold this bond: pair with the code")
            }
            Self::ProtocolError => f.write_str("protocol error"),
            Self::Timeout => f.write_str("timed out"),
            Self::Internal => f.write_str("internal failure (storage)"),
            Self::PairingClosed => f.write_str("the pairing window is closed"),
            Self::Unknown(code) => write!(f, "alert {code}"),
        }
    }
}

/// The plaintext of a `Control` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// The sender's next record uses its next key.
    KeyUpdate,
    /// The sender ends the session; nothing follows in either direction.
    Close {
        /// An application-defined reason (0: normal).
        reason: u8,
    },
}

impl Control {
    /// Longest control plaintext.
    pub const MAX_LEN: usize = 2;

    /// The plaintext bytes and their length.
    pub fn encode(&self) -> ([u8; Self::MAX_LEN], usize) {
        match self {
            Self::KeyUpdate => ([1, 0], 1),
            Self::Close { reason } => ([2, *reason], 2),
        }
    }

    /// Reads a plaintext.
    pub fn decode(plaintext: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(plaintext);
        let control = match r.u8()? {
            1 => Self::KeyUpdate,
            2 => Self::Close { reason: r.u8()? },
            _ => return Err(DecodeError::BadField("control type")),
        };
        r.finish()?;
        Ok(control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_every_allowed_length() {
        for frame_type in (0..16).filter_map(FrameType::from_nibble) {
            let (min, max) = frame_type.body_len_range();
            for len in min..=max {
                let header = FrameHeader::new(frame_type, len).unwrap();
                assert_eq!(FrameHeader::decode(header.encode()), Ok(header));
            }
            assert!(FrameHeader::new(frame_type, max + 1).is_err());
        }
    }

    #[test]
    fn header_layout_is_type_nibble_then_length() {
        let header = FrameHeader::new(FrameType::ApplicationData, 0x210).unwrap();
        assert_eq!(header.encode(), [0x82, 0x10]);
        assert_eq!(
            FrameHeader::decode([0x00, 0x10]),
            Err(DecodeError::UnknownFrameType(0))
        );
        assert_eq!(
            FrameHeader::decode([0xf0, 0x10]),
            Err(DecodeError::UnknownFrameType(15))
        );
        assert!(matches!(
            FrameHeader::decode([0x20, 0x05]),
            Err(DecodeError::BadLength {
                frame_type: FrameType::PairResponse,
                len: 5
            })
        ));
        // Requests may grow in later versions, up to 255 bytes.
        assert!(FrameHeader::decode([0x10, 0x05]).is_ok());
        assert!(matches!(
            FrameHeader::decode([0x11, 0x00]),
            Err(DecodeError::BadLength {
                frame_type: FrameType::PairRequest,
                len: 256
            })
        ));
    }

    #[test]
    fn messages_round_trip_and_reject_wrong_lengths() {
        let request = PairRequest {
            head: RequestHead {
                version: 1,
                supported_versions: 1,
                device_id: DeviceId([1; 8]),
                host_id: HostId([2; 8]),
            },
            session_id: SessionId([3; 8]),
            share_p: [4; POINT_LEN],
        };
        let bytes = request.encode();
        assert_eq!(PairRequest::decode(&bytes), Ok(request));
        assert_eq!(
            PairRequest::decode(&bytes[..58]),
            Err(DecodeError::Truncated)
        );
        let mut long = [0; PairRequest::LEN + 1];
        long[..PairRequest::LEN].copy_from_slice(&bytes);
        assert_eq!(PairRequest::decode(&long), Err(DecodeError::TrailingBytes));

        let resume = ResumeRequest {
            head: RequestHead {
                version: 1,
                supported_versions: 1,
                device_id: DeviceId([5; 8]),
                host_id: HostId([6; 8]),
            },
            ephemeral: [7; POINT_LEN],
            binder: [8; BINDER_LEN],
        };
        assert_eq!(ResumeRequest::decode(&resume.encode()), Ok(resume));
        let response = PairResponse {
            share_v: [9; POINT_LEN],
            confirm_v: [10; CONFIRM_LEN],
        };
        assert_eq!(PairResponse::decode(&response.encode()), Ok(response));
    }

    #[test]
    fn alerts_round_trip() {
        for alert in [
            Alert::AuthenticationFailed,
            Alert::Unavailable {
                retry_after_secs: 513,
            },
            Alert::Locked,
            Alert::UnsupportedVersion {
                supported_versions: 0b101,
            },
            Alert::UnknownDevice,
            Alert::ResumeRejected,
            Alert::ProtocolError,
            Alert::Timeout,
            Alert::Internal,
            Alert::PairingClosed,
            Alert::Unknown(200),
        ] {
            let (bytes, len) = alert.encode();
            assert_eq!(Alert::decode(&bytes[..len]), Ok(alert));
        }
        assert_eq!(Alert::decode(&[2, 1]), Err(DecodeError::Truncated));
        assert_eq!(Alert::decode(&[1, 0]), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn controls_round_trip() {
        for control in [Control::KeyUpdate, Control::Close { reason: 7 }] {
            let (bytes, len) = control.encode();
            assert_eq!(Control::decode(&bytes[..len]), Ok(control));
        }
        assert!(Control::decode(&[3]).is_err());
        assert!(Control::decode(&[]).is_err());
    }
}
