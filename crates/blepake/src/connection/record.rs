//! The record layer: per-direction AES-128-CCM keys from a session secret,
//! implicit sequence numbers, key updates.

use aes::Aes128;
use ccm::Ccm;
use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U13, U16};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

use crate::wire::{FRAME_HEADER_LEN, FrameHeader, TAG_LEN};

type Cipher = Ccm<Aes128, U16, U13>;
const NONCE_LEN: usize = 13;

/// The most records one key may protect. AES-CCM's confidentiality bound
/// (RFC 9001 §6.6 gives 2^21.5 packets for AEAD_AES_128_CCM) is kept with
/// room to spare; a receiver rejects a record beyond it.
pub const MAX_RECORDS_PER_KEY: u64 = 1 << 20;

/// Which way records flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    HostToDevice,
    DeviceToHost,
}

impl Direction {
    fn label(self) -> &'static [u8] {
        match self {
            Self::HostToDevice => b"blepake/1 host to device",
            Self::DeviceToHost => b"blepake/1 device to host",
        }
    }
}

/// HKDF-Expand with `prk` as the pseudorandom key.
pub(crate) fn expand<const N: usize>(prk: &[u8; 32], label: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    Hkdf::<Sha256>::from_prk(prk)
        .expect("a 32-byte PRK")
        .expand(label, &mut out)
        .expect("N is far below the HKDF limit");
    out
}

/// A record failed authentication.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadRecord;

/// The keys of one direction at one generation. The AES key schedule is
/// expanded for each record rather than kept: on a Cortex-M4 it would cost
/// 352 bytes per direction, for a few microseconds saved per record.
pub(crate) struct TrafficKeys {
    secret: [u8; 32],
    key: [u8; 16],
    iv: [u8; NONCE_LEN],
    /// Records protected under the current key (at most 2^20).
    seq: u32,
}

impl TrafficKeys {
    /// The first generation: `secret = HKDF-Expand(root, direction label)`.
    pub(crate) fn new(root: &[u8; 32], direction: Direction) -> Self {
        Self::from_secret(expand(root, direction.label()))
    }

    fn from_secret(secret: [u8; 32]) -> Self {
        Self {
            key: expand(&secret, b"blepake/1 key"),
            iv: expand(&secret, b"blepake/1 iv"),
            secret,
            seq: 0,
        }
    }

    /// Moves to the next generation; the old secret and key are erased.
    pub(crate) fn update(&mut self) {
        let next = expand(&self.secret, b"blepake/1 update");
        *self = Self::from_secret(next);
    }

    pub(crate) fn records(&self) -> u64 {
        u64::from(self.seq)
    }

    /// As if `records` records had been protected already.
    #[cfg(test)]
    pub(crate) fn skip_to(&mut self, records: u64) {
        self.seq = u32::try_from(records).expect("at most 2^20");
    }

    /// `iv XOR (seq as 13 big-endian bytes)`: unique per record and key.
    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..]
            .iter_mut()
            .zip(u64::from(self.seq).to_be_bytes())
        {
            *n ^= s;
        }
        nonce
    }

    /// The cipher for one record; its key schedule is wiped when it drops
    /// (aes's `zeroize` feature).
    fn cipher(&self) -> Cipher {
        Cipher::new(GenericArray::from_slice(&self.key))
    }

    /// Encrypts `frame[HEADER..len - TAG]` in place and writes the tag;
    /// `frame` holds the header, the plaintext and room for the tag. The
    /// header is the associated data.
    pub(crate) fn seal(&mut self, frame: &mut [u8]) {
        let (header, rest) = frame.split_at_mut(FRAME_HEADER_LEN);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let nonce = self.nonce();
        let sealed = self
            .cipher()
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), header, body)
            .expect("records are far below CCM's length limit");
        tag.copy_from_slice(&sealed);
        self.seq += 1;
    }

    /// Decrypts a record body (ciphertext and tag) in place and returns the
    /// plaintext length. On failure nothing advances.
    pub(crate) fn open(
        &mut self,
        header: &FrameHeader,
        body: &mut [u8],
    ) -> Result<usize, BadRecord> {
        let plaintext_len = body.len().checked_sub(TAG_LEN).ok_or(BadRecord)?;
        let (ciphertext, tag) = body.split_at_mut(plaintext_len);
        let nonce = self.nonce();
        self.cipher()
            .decrypt_in_place_detached(
                GenericArray::from_slice(&nonce),
                &header.encode(),
                ciphertext,
                GenericArray::from_slice(tag),
            )
            .map_err(|_| BadRecord)?;
        self.seq += 1;
        Ok(plaintext_len)
    }
}

impl Drop for TrafficKeys {
    fn drop(&mut self) {
        self.secret.zeroize();
        self.key.zeroize();
        self.iv.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FrameType;

    fn frame(plaintext: &[u8]) -> std::vec::Vec<u8> {
        let header =
            FrameHeader::new(FrameType::ApplicationData, plaintext.len() + TAG_LEN).unwrap();
        let mut frame = header.encode().to_vec();
        frame.extend_from_slice(plaintext);
        frame.extend_from_slice(&[0; TAG_LEN]);
        frame
    }

    fn open(keys: &mut TrafficKeys, frame: &[u8]) -> Result<std::vec::Vec<u8>, BadRecord> {
        let header = FrameHeader::decode([frame[0], frame[1]]).unwrap();
        let mut body = frame[2..].to_vec();
        let len = keys.open(&header, &mut body)?;
        Ok(body[..len].to_vec())
    }

    #[test]
    fn sealed_records_open_once_and_in_order() {
        let root = [7; 32];
        let mut sender = TrafficKeys::new(&root, Direction::HostToDevice);
        let mut receiver = TrafficKeys::new(&root, Direction::HostToDevice);
        let mut first = frame(b"first");
        let mut second = frame(b"second");
        sender.seal(&mut first);
        sender.seal(&mut second);
        assert_ne!(&first[2..7], b"first");

        // Reordered: the second under the first's nonce fails, and nothing advances.
        assert_eq!(open(&mut receiver, &second), Err(BadRecord));
        assert_eq!(open(&mut receiver, &first).unwrap(), b"first");
        // Replayed: the first again fails.
        assert_eq!(open(&mut receiver, &first), Err(BadRecord));
        assert_eq!(open(&mut receiver, &second).unwrap(), b"second");
    }

    #[test]
    fn header_tag_and_direction_are_authenticated() {
        let root = [9; 32];
        let mut sender = TrafficKeys::new(&root, Direction::DeviceToHost);
        let mut record = frame(b"hello");
        sender.seal(&mut record);
        for flip in [0, 1, 3, record.len() - 1] {
            let mut altered = record.clone();
            altered[flip] ^= if flip == 0 { 0x01 } else { 0x80 };
            let header = FrameHeader::decode([altered[0], altered[1]]);
            if let Ok(header) = header {
                let mut receiver = TrafficKeys::new(&root, Direction::DeviceToHost);
                assert_eq!(
                    receiver.open(&header, &mut altered[2..].to_vec()),
                    Err(BadRecord)
                );
            }
        }
        let mut wrong_direction = TrafficKeys::new(&root, Direction::HostToDevice);
        assert_eq!(open(&mut wrong_direction, &record), Err(BadRecord));
    }

    #[test]
    fn updated_keys_differ_and_stay_in_step() {
        let root = [1; 32];
        let mut sender = TrafficKeys::new(&root, Direction::HostToDevice);
        let mut receiver = TrafficKeys::new(&root, Direction::HostToDevice);
        let mut before = frame(b"same");
        sender.seal(&mut before);
        sender.update();
        receiver.update();
        let mut after = frame(b"same");
        sender.seal(&mut after);
        assert_eq!(sender.records(), 1);
        assert_ne!(before, after);
        assert_eq!(open(&mut receiver, &after).unwrap(), b"same");
    }
}
