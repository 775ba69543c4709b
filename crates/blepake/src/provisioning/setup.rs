//! What a host needs before its first message: the device's identity and
//! key-derivation parameters (the `Setup Info` characteristic), and the QR
//! code that carries them together with the password.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::Password;
use super::base45;
use super::code::{CodeError, QrSecret, SetupCode};
use crate::crypto::kdf::{KdfAlgorithm, KdfParams};
use crate::id::DeviceId;
use crate::wire::{DecodeError, Reader, Writer};

/// A device's public setup information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SetupInfo {
    /// The device's identity.
    pub device_id: DeviceId,
    /// How a host derives the SPAKE2+ secrets from the password.
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

    /// Reads the encoded form, refusing parameters out of range.
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

    /// Whether a typed setup code can pair with this device: not if it
    /// pairs only from the QR secret on its label.
    pub fn takes_setup_code(&self) -> bool {
        self.kdf.algorithm == KdfAlgorithm::Argon2id
    }
}

/// Why a QR payload could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PayloadError {
    /// Not a blepake payload: wrong prefix or length, or not Base45.
    Format,
    /// A field the layout does not allow (parameters out of range, say).
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

impl core::error::Error for PayloadError {}

/// Everything a host needs to pair, as a QR code carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupPayload {
    /// The device's setup information.
    pub info: SetupInfo,
    /// The password: a setup code (Argon2id parameters) or a QR secret
    /// (HKDF parameters).
    pub password: Password,
}

const PAYLOAD_PREFIX: &str = "BP:";
const CODE_LEN: usize = 4;
const MAX_PAYLOAD_BYTES: usize = SetupInfo::LEN + QrSecret::LEN;
const MAX_PAYLOAD_TEXT_LEN: usize = PAYLOAD_PREFIX.len() + base45::encoded_len(MAX_PAYLOAD_BYTES);

impl SetupPayload {
    /// `BP:` followed by Base45 of `setup info (32) | password`, the
    /// password being the code as 4 bytes little-endian or the secret's 16
    /// bytes: only QR alphanumeric characters, 57 or 75 of them (QR version
    /// 3 or 4 at level M).
    pub fn to_text(&self) -> PayloadText {
        let mut bytes = Zeroizing::new([0; MAX_PAYLOAD_BYTES]);
        let len = {
            let mut w = Writer::new(&mut bytes[..]);
            w.put(&self.info.encode());
            match &self.password {
                Password::Code(code) => w.put(&code.value().to_le_bytes()),
                Password::Secret(secret) => w.put(secret.as_bytes()),
            };
            w.len()
        };
        let mut text = [0; MAX_PAYLOAD_TEXT_LEN];
        text[..PAYLOAD_PREFIX.len()].copy_from_slice(PAYLOAD_PREFIX.as_bytes());
        let text_len = PAYLOAD_PREFIX.len() + base45::encoded_len(len);
        base45::encode(&bytes[..len], &mut text[PAYLOAD_PREFIX.len()..text_len]);
        PayloadText {
            text,
            len: text_len,
        }
    }

    /// Reads a scanned payload. Nothing of the password is left behind,
    /// whatever the outcome.
    pub fn parse(text: &str) -> Result<Self, PayloadError> {
        let encoded = text
            .strip_prefix(PAYLOAD_PREFIX)
            .ok_or(PayloadError::Format)?;
        if encoded.len() > base45::encoded_len(MAX_PAYLOAD_BYTES) {
            return Err(PayloadError::Format);
        }
        let mut bytes = Zeroizing::new([0; MAX_PAYLOAD_BYTES]);
        let len = base45::decode(encoded.as_bytes(), &mut bytes[..]).ok_or(PayloadError::Format)?;
        let mut r = Reader::new(&bytes[..len]);
        let info = SetupInfo::read(&mut r).map_err(|e| match e {
            DecodeError::Truncated => PayloadError::Format,
            other => PayloadError::Field(other),
        })?;
        let password = match info.kdf.algorithm {
            KdfAlgorithm::Argon2id => {
                let value =
                    Zeroizing::new(r.array::<CODE_LEN>().map_err(|_| PayloadError::Format)?);
                Password::Code(
                    SetupCode::new(u32::from_le_bytes(*value)).map_err(PayloadError::Code)?,
                )
            }
            KdfAlgorithm::HkdfSha256 => Password::Secret(QrSecret::from_bytes(
                r.array().map_err(|_| PayloadError::Format)?,
            )),
        };
        r.finish().map_err(|_| PayloadError::Format)?;
        Ok(Self { info, password })
    }
}

/// A payload's text. It holds the password: zeroized on drop, and its
/// `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct PayloadText {
    text: [u8; MAX_PAYLOAD_TEXT_LEN],
    len: usize,
}

impl PayloadText {
    /// The text, for a QR encoder.
    pub fn as_str(&self) -> &str {
        // Built from ASCII only.
        core::str::from_utf8(&self.text[..self.len]).unwrap_or_default()
    }
}

impl Drop for PayloadText {
    fn drop(&mut self) {
        self.text.zeroize();
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

    fn info() -> SetupInfo {
        SetupInfo {
            device_id: DeviceId([0xd1, 0xce, 0, 1, 2, 3, 4, 5]),
            kdf: KdfParams::recommended([0x5a; 16]),
        }
    }

    fn payload() -> SetupPayload {
        SetupPayload {
            info: info(),
            password: Password::Code(SetupCode::new(31_415_926).unwrap()),
        }
    }

    fn text_of(bytes: &[u8]) -> std::string::String {
        let mut text = std::vec![0; base45::encoded_len(bytes.len())];
        base45::encode(bytes, &mut text);
        std::format!("BP:{}", core::str::from_utf8(&text).unwrap())
    }

    fn is_qr_alphanumeric(text: &str) -> bool {
        text.bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || b" $%*+-./:".contains(&c))
    }

    #[test]
    fn setup_info_round_trips() {
        let info = info();
        assert_eq!(SetupInfo::decode(&info.encode()), Ok(info));
        assert!(info.takes_setup_code());
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
        assert!(is_qr_alphanumeric(text.as_str()));
        assert_eq!(SetupPayload::parse(text.as_str()), Ok(payload));
    }

    #[test]
    fn a_qr_secret_payload_round_trips() {
        let payload = SetupPayload {
            info: SetupInfo {
                kdf: KdfParams::for_qr_secret([0x11; 16]),
                ..info()
            },
            password: Password::Secret(QrSecret::from_bytes([0xee; 16])),
        };
        let text = payload.to_text();
        assert_eq!(text.as_str().len(), 75);
        assert!(is_qr_alphanumeric(text.as_str()));
        assert_eq!(SetupPayload::parse(text.as_str()), Ok(payload.clone()));
        assert!(!payload.info.takes_setup_code());
        // A secret payload cut to a code's length is refused.
        let mut bytes = payload.info.encode().to_vec();
        bytes.extend_from_slice(&31_415_926u32.to_le_bytes());
        assert_eq!(
            SetupPayload::parse(&text_of(&bytes)),
            Err(PayloadError::Format)
        );
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
        assert_eq!(
            SetupPayload::parse(&std::format!("BP:{}", "0".repeat(400))),
            Err(PayloadError::Format)
        );
        // A trivial code inside an otherwise valid payload.
        let mut bytes = info().encode().to_vec();
        bytes.extend_from_slice(&12_345_678u32.to_le_bytes());
        assert_eq!(
            SetupPayload::parse(&text_of(&bytes)),
            Err(PayloadError::Code(CodeError::Trivial))
        );
        // Argon2id parameters out of range (t = 33) make the payload invalid.
        let mut bytes = info().encode().to_vec();
        bytes[1 + 8 + 5] = 33;
        bytes.extend_from_slice(&31_415_926u32.to_le_bytes());
        assert_eq!(
            SetupPayload::parse(&text_of(&bytes)),
            Err(PayloadError::Field(DecodeError::BadField(
                "key-derivation parameters"
            )))
        );
    }
}
