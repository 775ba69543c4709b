//! Frames out of a byte stream cut at arbitrary places.

use zeroize::Zeroize;

use super::{DecodeError, FRAME_HEADER_LEN, FrameHeader, FrameType, MAX_BODY_LEN};

/// A complete frame, copied out of the [`Deframer`]. A record's plaintext
/// may be decrypted into the copy, so it is zeroized on drop.
pub struct Frame {
    header: FrameHeader,
    body: [u8; MAX_BODY_LEN],
}

impl Frame {
    /// The frame's header.
    pub fn header(&self) -> FrameHeader {
        self.header
    }

    /// The frame's body.
    pub fn body(&self) -> &[u8] {
        &self.body[..self.header.body_len]
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

/// Reassembles the frames of one direction's stream (`PROTOCOL.md` §3) from
/// values cut anywhere, holding at most one frame.
pub struct Deframer {
    header: [u8; FRAME_HEADER_LEN],
    header_filled: u8,
    body: [u8; MAX_BODY_LEN],
    body_filled: u16,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    /// A deframer at the start of a stream.
    pub const fn new() -> Self {
        Self {
            header: [0; FRAME_HEADER_LEN],
            header_filled: 0,
            body: [0; MAX_BODY_LEN],
            body_filled: 0,
        }
    }

    /// Consumes bytes from the front of `input` until a frame completes or
    /// the input ends, and returns a copy of the frame. A header with an
    /// unknown type or a length its type forbids is rejected before any of
    /// its body is buffered; the stream cannot be read past it.
    pub fn read(&mut self, input: &mut &[u8]) -> Result<Option<Frame>, DecodeError> {
        let Some(header) = self.fill(input)? else {
            return Ok(None);
        };
        let frame = Frame {
            header,
            body: self.body,
        };
        self.body[..header.body_len].zeroize();
        Ok(Some(frame))
    }

    /// As [`read`](Self::read), but the completed frame's body stays here,
    /// in [`body_mut`](Self::body_mut), until the next call: records are
    /// decrypted in place, and no copy of a frame is made.
    pub(crate) fn fill(&mut self, input: &mut &[u8]) -> Result<Option<FrameHeader>, DecodeError> {
        while usize::from(self.header_filled) < FRAME_HEADER_LEN {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(None);
            };
            self.header[usize::from(self.header_filled)] = byte;
            self.header_filled += 1;
            *input = rest;
        }
        let header = FrameHeader::decode(self.header)?;
        let filled = usize::from(self.body_filled);
        let take = (header.body_len - filled).min(input.len());
        self.body[filled..filled + take].copy_from_slice(&input[..take]);
        // At most MAX_BODY_LEN, checked by the header.
        self.body_filled = (filled + take) as u16;
        *input = &input[take..];
        if usize::from(self.body_filled) < header.body_len {
            return Ok(None);
        }
        self.header_filled = 0;
        self.body_filled = 0;
        Ok(Some(header))
    }

    /// The body of the frame [`fill`](Self::fill) completed last.
    pub(crate) fn body_mut(&mut self, header: &FrameHeader) -> &mut [u8] {
        &mut self.body[..header.body_len]
    }

    /// The whole body buffer, where the last frame's body begins.
    pub(crate) fn buffer_mut(&mut self) -> &mut [u8; MAX_BODY_LEN] {
        &mut self.body
    }

    /// Whether the header read last names an Alert, which is never
    /// answered, even when its length is wrong (`PROTOCOL.md` §3).
    pub(crate) fn header_is_alert(&self) -> bool {
        self.header[0] >> 4 == FrameType::Alert as u8
    }

    /// Whether a frame has begun and not ended.
    pub fn is_mid_frame(&self) -> bool {
        self.header_filled > 0
    }
}

impl Drop for Deframer {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reassemble_from_any_cut() {
        let mut stream = std::vec::Vec::new();
        for (frame_type, body) in [
            (FrameType::PairConfirm, &[5u8; 32][..]),
            (FrameType::Alert, &[3u8][..]),
        ] {
            stream.extend_from_slice(&FrameHeader::new(frame_type, body.len()).unwrap().encode());
            stream.extend_from_slice(body);
        }
        for cut in 1..=stream.len() {
            let mut deframer = Deframer::new();
            let mut frames = std::vec::Vec::new();
            for chunk in stream.chunks(cut) {
                let mut input = chunk;
                while let Some(frame) = deframer.read(&mut input).unwrap() {
                    frames.push((frame.header().frame_type, frame.body().to_vec()));
                }
                assert!(input.is_empty());
            }
            assert_eq!(frames.len(), 2, "cut {cut}");
            assert_eq!(frames[0], (FrameType::PairConfirm, std::vec![5; 32]));
            assert_eq!(frames[1], (FrameType::Alert, std::vec![3]));
            assert!(!deframer.is_mid_frame());
        }
    }

    #[test]
    fn a_bad_header_is_rejected_before_its_body() {
        let mut deframer = Deframer::new();
        let mut input = &[0x1f, 0xff, 0, 0][..];
        assert!(matches!(
            deframer.read(&mut input),
            Err(DecodeError::BadLength { .. })
        ));
        assert_eq!(input, &[0, 0]);
    }
}
