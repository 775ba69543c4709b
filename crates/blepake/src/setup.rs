//! What a host needs before its first message: the device's identity and
//! key-derivation parameters (the `Setup Info` characteristic), and the QR
//! code that carries them together with the setup code.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::base45;
use crate::code::{CodeError, SetupCode};
use crate::id::DeviceId;
use crate::kdf::KdfParams;
use crate::wire::{DecodeError, Reader, Writer};

/// A device's public setup information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupInfo {
    /// The device's identity.
    pub device_id: DeviceId,
    /// How a host derives the SPAKE2+ secrets from the code.
    pub kdf: KdfParams,
}

impl SetupInfo {
    /// Encoded length.
    pub const LEN: usize = 1 + DeviceId::LEN + KdfParams::LEN;
    /// The layout version, the first byte.
    const FORMAT: u8 = 1;

    /// `format (1) | device_id (8) | kdf parameters (23)`.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        Writer::new(&mut out)
            .put(&[Self::FORMAT])
            .put(&self.device_id.0)
            .put(&self.kdf.encode());
        out
    }

    /// Reads the encoded form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let info = Self::read(&mut r)?;
        r.finish()?;
        Ok(info)
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.u8()? != Self::FORMAT {
            return Err(DecodeError::BadField("setup info format"));
        }
        Ok(Self {
            device_id: DeviceId(r.array()?),
            kdf: KdfParams::read(r)?,
        })
    }
}

/// Why a QR payload could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// Not a blepake payload: wrong prefix or length, or not Base45.
    Format,
    /// A field the layout does not allow.
    Field(DecodeError),
    /// The code inside is not a valid setup code.
    Code(CodeError),
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format => f.write_str("not a blepake setup payload"),
            Self::Field(e) => write!(f, "setup payload: {e}"),
            Self::Code(e) => write!(f, "setup payload: {e}"),
        }
    }
}

/// Everything a host needs to pair, as a QR code carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupPayload {
    /// The device's setup information.
    pub info: SetupInfo,
    /// The setup code.
    pub code: SetupCode,
}

const PAYLOAD_PREFIX: &str = "BP:";
const PAYLOAD_BYTES: usize = SetupInfo::LEN + 4;
const PAYLOAD_TEXT_LEN: usize = PAYLOAD_PREFIX.len() + base45::encoded_len(PAYLOAD_BYTES);

impl SetupPayload {
    /// `BP:` followed by Base45 of `setup info (32) | code (4, LE)`: only QR
    /// alphanumeric characters, 57 of them, so it fits a version 3 QR code.
    pub fn to_text(&self) -> PayloadText {
        let mut bytes = [0; PAYLOAD_BYTES];
        Writer::new(&mut bytes)
            .put(&self.info.encode())
            .put(&self.code.value().to_le_bytes());
        let mut text = [0; PAYLOAD_TEXT_LEN];
        text[..PAYLOAD_PREFIX.len()].copy_from_slice(PAYLOAD_PREFIX.as_bytes());
        base45::encode(&bytes, &mut text[PAYLOAD_PREFIX.len()..]);
        bytes.zeroize();
        PayloadText(text)
    }

    /// Reads a scanned payload.
    pub fn parse(text: &str) -> Result<Self, PayloadError> {
        let encoded = text
            .strip_prefix(PAYLOAD_PREFIX)
            .ok_or(PayloadError::Format)?;
        let mut bytes = [0; PAYLOAD_BYTES];
        let len = base45::decode(encoded.as_bytes(), &mut bytes).ok_or(PayloadError::Format)?;
        if len != PAYLOAD_BYTES {
            return Err(PayloadError::Format);
        }
        let mut r = Reader::new(&bytes);
        let info = SetupInfo::read(&mut r).map_err(PayloadError::Field)?;
        let value = r.u32_le().map_err(PayloadError::Field)?;
        bytes.zeroize();
        Ok(Self {
            info,
            code: SetupCode::new(value).map_err(PayloadError::Code)?,
        })
    }
}

/// A payload's text. It holds the setup code: zeroized on drop, and its
/// `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadText([u8; PAYLOAD_TEXT_LEN]);

impl PayloadText {
    /// The text, for a QR encoder.
    pub fn as_str(&self) -> &str {
        // Built from ASCII only.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl Drop for PayloadText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for PayloadText {}

impl fmt::Debug for PayloadText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayloadText(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> SetupPayload {
        SetupPayload {
            info: SetupInfo {
                device_id: DeviceId([0xd1, 0xce, 0, 1, 2, 3, 4, 5]),
                kdf: KdfParams::recommended([0x5a; 16]),
            },
            code: SetupCode::new(31_415_926).unwrap(),
        }
    }

    #[test]
    fn setup_info_round_trips() {
        let info = payload().info;
        assert_eq!(SetupInfo::decode(&info.encode()), Ok(info));
        let mut bad = info.encode();
        bad[0] = 2;
        assert!(SetupInfo::decode(&bad).is_err());
        assert_eq!(
            SetupInfo::decode(&info.encode()[..31]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn payload_is_qr_alphanumeric_and_round_trips() {
        let payload = payload();
        let text = payload.to_text();
        assert_eq!(text.as_str().len(), 57);
        assert!(
            text.as_str()
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || b" $%*+-./:".contains(&c))
        );
        assert_eq!(SetupPayload::parse(text.as_str()), Ok(payload));
    }

    #[test]
    fn bad_payloads_are_refused() {
        let text = payload().to_text();
        let body = &text.as_str()[3..];
        assert_eq!(SetupPayload::parse(body), Err(PayloadError::Format));
        assert_eq!(
            SetupPayload::parse(&text.as_str()[..56]),
            Err(PayloadError::Format)
        );
        assert_eq!(
            SetupPayload::parse(&std::format!("BP:{}", &body[..51])),
            Err(PayloadError::Format)
        );
        assert_eq!(SetupPayload::parse("BP:abc"), Err(PayloadError::Format));
        // A trivial code inside an otherwise valid payload.
        let mut bytes = [0; PAYLOAD_BYTES];
        bytes[..SetupInfo::LEN].copy_from_slice(&payload().info.encode());
        bytes[SetupInfo::LEN..].copy_from_slice(&12_345_678u32.to_le_bytes());
        let mut text = [0; PAYLOAD_TEXT_LEN - 3];
        base45::encode(&bytes, &mut text);
        let text = std::format!("BP:{}", core::str::from_utf8(&text).unwrap());
        assert_eq!(
            SetupPayload::parse(&text),
            Err(PayloadError::Code(CodeError::Trivial))
        );
    }
}
