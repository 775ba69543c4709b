//! Frames on the wire: `COBS(type || payload || CRC-16) || 0x00`.

use crc::{CRC_16_IBM_3740, Crc, NoTable};

/// The CRC-16 every frame ends with: CRC-16/IBM-3740 (polynomial 0x1021,
/// initial value 0xFFFF, no reflection: the "CCITT-FALSE" of many UART
/// protocols), appended big-endian. Bit by bit, without a 512-byte table:
/// a UART's bytes come far slower than they are checked.
const CRC16: Crc<u16, NoTable> = Crc::<u16, NoTable>::new(&CRC_16_IBM_3740);

/// The largest Inbound or Outbound value a frame carries: what a GATT link
/// at an ATT MTU of 247 carries (MTU − 3).
pub const MAX_VALUE_LEN: usize = 244;

/// The largest frame before encoding: type, payload, CRC.
const MAX_FRAME_LEN: usize = 1 + MAX_VALUE_LEN + 2;

/// The largest frame on the wire: COBS adds one byte per 254 and one more,
/// then the 0x00 delimiter.
pub const MAX_ENCODED_LEN: usize = MAX_FRAME_LEN + MAX_FRAME_LEN / 254 + 2;

/// What a decoder holds: the largest frame without its delimiter. One byte
/// more could only be a payload longer than [`MAX_VALUE_LEN`].
const MAX_HELD_LEN: usize = MAX_ENCODED_LEN - 1;

/// What a frame says (`PROTOCOL.md` §16.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameType {
    /// Host to device: a link begins (a BLE connection). A link already
    /// open ends first.
    Open,
    /// Either way: the link ends (a BLE disconnection).
    Close,
    /// Host to device: read Setup Info.
    ReadSetupInfo,
    /// Device to host: the Setup Info value.
    SetupInfo,
    /// Host to device: enable Outbound (the CCCD write).
    Subscribe,
    /// Host to device: one value written to Inbound.
    Inbound,
    /// Device to host: one value notified on Outbound.
    Outbound,
    /// Host to device: a command of the board itself (`0x70` to `0x7f`,
    /// the number here), outside blepake: a test harness's button or reset.
    Board(u8),
}

impl FrameType {
    /// The type's byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::Open => 0x01,
            Self::Close => 0x02,
            Self::ReadSetupInfo => 0x03,
            Self::SetupInfo => 0x04,
            Self::Subscribe => 0x05,
            Self::Inbound => 0x06,
            Self::Outbound => 0x07,
            Self::Board(command) => 0x70 | (command & 0x0f),
        }
    }

    /// The type a byte names, if any.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x01 => Self::Open,
            0x02 => Self::Close,
            0x03 => Self::ReadSetupInfo,
            0x04 => Self::SetupInfo,
            0x05 => Self::Subscribe,
            0x06 => Self::Inbound,
            0x07 => Self::Outbound,
            0x70..=0x7f => Self::Board(byte & 0x0f),
            _ => return None,
        })
    }
}

/// One frame, its payload borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What it says.
    pub kind: FrameType,
    /// Its payload: a value, Setup Info, or nothing.
    pub payload: &'a [u8],
}

/// A payload longer than [`MAX_VALUE_LEN`] or an output buffer too small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError;

/// Encodes a frame into `out`, delimiter included, and returns its length
/// (at most [`MAX_ENCODED_LEN`]).
pub fn encode(kind: FrameType, payload: &[u8], out: &mut [u8]) -> Result<usize, EncodeError> {
    if payload.len() > MAX_VALUE_LEN {
        return Err(EncodeError);
    }
    let mut raw = [0; MAX_FRAME_LEN];
    raw[0] = kind.to_byte();
    raw[1..=payload.len()].copy_from_slice(payload);
    let crc = CRC16.checksum(&raw[..=payload.len()]);
    let len = 1 + payload.len() + 2;
    raw[len - 2..len].copy_from_slice(&crc.to_be_bytes());
    let encoded = cobs::try_encode(&raw[..len], out).map_err(|_| EncodeError)?;
    *out.get_mut(encoded).ok_or(EncodeError)? = 0;
    Ok(encoded + 1)
}

/// Reassembles frames from the bytes a UART delivers, in pieces of any
/// size. A frame that is too long, fails its CRC, or has an unknown type is
/// dropped whole (line noise); the next delimiter starts afresh, so the
/// decoder never holds more than one frame.
#[derive(Clone)]
pub struct Decoder {
    buf: [u8; MAX_HELD_LEN],
    len: usize,
    /// The current frame overflowed: skip to its delimiter.
    skipping: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            buf: [0; MAX_HELD_LEN],
            len: 0,
            skipping: false,
        }
    }
}

impl Decoder {
    /// Takes bytes up to the end of the first complete frame in `bytes`;
    /// returns how many it took and the frame, if one completed (then give
    /// it the rest).
    pub fn push(&mut self, bytes: &[u8]) -> (usize, Option<Frame<'_>>) {
        for (i, &byte) in bytes.iter().enumerate() {
            if byte != 0 {
                if self.len < self.buf.len() {
                    self.buf[self.len] = byte;
                    self.len += 1;
                } else {
                    self.skipping = true;
                }
                continue;
            }
            let len = core::mem::take(&mut self.len);
            if core::mem::take(&mut self.skipping) || len == 0 {
                continue;
            }
            if let Some(frame_len) = self.check(len) {
                return (i + 1, self.frame(frame_len));
            }
        }
        (bytes.len(), None)
    }

    /// Decodes the `len` bytes held in place; the frame's length without
    /// its CRC if it is sound.
    fn check(&mut self, len: usize) -> Option<usize> {
        let decoded = cobs::decode_in_place(&mut self.buf[..len]).ok()?;
        if decoded < 3 || FrameType::from_byte(self.buf[0]).is_none() {
            return None;
        }
        let (body, crc) = self.buf[..decoded].split_at(decoded - 2);
        (CRC16.checksum(body).to_be_bytes() == crc).then_some(decoded - 2)
    }

    /// The sound frame of `len` bytes (CRC left off) at the start of `buf`.
    fn frame(&self, len: usize) -> Option<Frame<'_>> {
        let body = &self.buf[..len];
        Some(Frame {
            kind: FrameType::from_byte(*body.first()?)?,
            payload: &body[1..],
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;

    fn encoded(kind: FrameType, payload: &[u8]) -> ([u8; MAX_ENCODED_LEN], usize) {
        let mut out = [0; MAX_ENCODED_LEN];
        let len = encode(kind, payload, &mut out).unwrap();
        (out, len)
    }

    /// Every frame found in `bytes`, fed in pieces of `piece` bytes.
    fn decode_all(bytes: &[u8], piece: usize) -> Vec<(FrameType, Vec<u8>)> {
        let mut decoder = Decoder::default();
        let mut frames = Vec::new();
        for chunk in bytes.chunks(piece) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let (taken, frame) = decoder.push(rest);
                if let Some(frame) = frame {
                    frames.push((frame.kind, frame.payload.to_vec()));
                }
                rest = &rest[taken..];
            }
        }
        frames
    }

    #[test]
    fn frames_round_trip_in_any_pieces() {
        let long = [0u8; MAX_VALUE_LEN];
        let mut stream = Vec::new();
        let frames: [(FrameType, &[u8]); 5] = [
            (FrameType::Open, b""),
            (FrameType::Inbound, &[0, 1, 0, 0, 255]),
            (FrameType::Outbound, &long),
            (FrameType::Board(3), b"x"),
            (FrameType::Close, b""),
        ];
        for (kind, payload) in frames {
            let (bytes, len) = encoded(kind, payload);
            assert!(len <= MAX_ENCODED_LEN);
            // The delimiter is the only zero.
            assert_eq!(bytes[..len].iter().filter(|&&b| b == 0).count(), 1);
            assert_eq!(bytes[len - 1], 0);
            stream.extend_from_slice(&bytes[..len]);
        }
        for piece in [1, 2, 7, 300, stream.len()] {
            let decoded = decode_all(&stream, piece);
            assert_eq!(decoded.len(), frames.len());
            for ((kind, payload), (got_kind, got_payload)) in frames.iter().zip(&decoded) {
                assert_eq!(kind, got_kind);
                assert_eq!(*payload, &got_payload[..]);
            }
        }
    }

    #[test]
    fn the_crc_is_ccitt_false_big_endian() {
        // CRC-16/IBM-3740 of "123456789" is 0x29B1 (its catalogue check).
        assert_eq!(CRC16.checksum(b"123456789"), 0x29b1);
        let (bytes, len) = encoded(FrameType::Open, b"");
        let mut raw = bytes[..len - 1].to_vec();
        let decoded = cobs::decode_in_place(&mut raw).unwrap();
        let crc = CRC16.checksum(&[0x01]).to_be_bytes();
        assert_eq!(&raw[..decoded], &[0x01, crc[0], crc[1]]);
    }

    #[test]
    fn damaged_unknown_and_oversized_frames_are_dropped() {
        let (good, len) = encoded(FrameType::Inbound, b"value");
        let mut stream = Vec::new();
        // A flipped bit: the CRC fails.
        let mut damaged = good;
        damaged[3] ^= 0x10;
        stream.extend_from_slice(&damaged[..len]);
        // An unknown type with a valid CRC.
        let raw = [0x42, 0x00, 0x00];
        let crc = CRC16.checksum(&raw[..1]).to_be_bytes();
        let mut unknown = [0; 8];
        let n = cobs::encode(&[0x42, crc[0], crc[1]], &mut unknown);
        stream.extend_from_slice(&unknown[..n]);
        stream.push(0);
        // Endless bytes without a delimiter, then one.
        stream.extend(core::iter::repeat_n(0x55, 3 * MAX_ENCODED_LEN));
        stream.push(0);
        // Empty frames and a truncated one (COBS says more follows).
        stream.extend_from_slice(&[0, 0, 0x05, 0x01, 0]);
        stream.extend_from_slice(&good[..len]);
        assert_eq!(
            decode_all(&stream, 5),
            [(FrameType::Inbound, b"value".to_vec())]
        );
    }

    #[test]
    fn a_frame_one_byte_too_long_is_dropped() {
        // A 245-byte value with a good CRC: 250 bytes with its delimiter.
        const LEN: usize = 1 + MAX_VALUE_LEN + 1 + 2;
        let mut raw = [1u8; LEN];
        raw[0] = FrameType::Inbound.to_byte();
        let crc = CRC16.checksum(&raw[..LEN - 2]).to_be_bytes();
        raw[LEN - 2..].copy_from_slice(&crc);
        let mut stream = [0; MAX_ENCODED_LEN + 1];
        let n = cobs::encode(&raw, &mut stream);
        assert_eq!(n + 1, MAX_ENCODED_LEN + 1);
        let (good, len) = encoded(FrameType::Inbound, &[1; MAX_VALUE_LEN]);
        assert_eq!(len, MAX_ENCODED_LEN);
        let mut both = stream[..=n].to_vec();
        both.extend_from_slice(&good[..len]);
        assert_eq!(
            decode_all(&both, 64),
            [(FrameType::Inbound, [1; MAX_VALUE_LEN].to_vec())]
        );
    }

    #[test]
    fn oversized_payloads_are_refused() {
        let mut out = [0; MAX_ENCODED_LEN + 10];
        assert_eq!(
            encode(FrameType::Outbound, &[1; MAX_VALUE_LEN + 1], &mut out),
            Err(EncodeError)
        );
        assert_eq!(
            encode(FrameType::Outbound, &[1; 4], &mut [0; 4]),
            Err(EncodeError)
        );
    }

    #[test]
    fn types_map_to_bytes_and_back() {
        for byte in 0..=255u8 {
            if let Some(kind) = FrameType::from_byte(byte) {
                assert_eq!(kind.to_byte(), byte);
            }
        }
        assert_eq!(FrameType::from_byte(0x00), None);
        assert_eq!(FrameType::from_byte(0x08), None);
        assert_eq!(FrameType::from_byte(0x80), None);
    }
}
