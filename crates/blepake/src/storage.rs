//! What a device keeps across power cuts, behind a trait the application
//! implements over its flash (Zephyr settings, NVS, a file).

use core::fmt;

use sha2::{Digest, Sha256};

use crate::id::HostId;

/// A named place in the device's persistent storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The failed-pairing counter.
    Attempts,
    /// The bond with one host.
    Bond(HostId),
}

/// Persistent key-value storage for small values (at most [`MAX_VALUE_LEN`]
/// bytes). Writes need not be atomic: every value carries a checksum, and a
/// torn or corrupt value reads as damaged, which the device treats in the
/// safe direction (a damaged counter as exhausted, a damaged bond as absent).
pub trait Storage {
    /// The storage's own error.
    type Error: fmt::Debug;

    /// Copies the value in `slot` into `buf` and returns its length, or
    /// `None` if the slot is empty.
    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> Result<Option<usize>, Self::Error>;

    /// Replaces the value in `slot`. When this returns `Ok`, the value must
    /// survive a power cut.
    fn write(&mut self, slot: Slot, value: &[u8]) -> Result<(), Self::Error>;

    /// Empties `slot`.
    fn erase(&mut self, slot: Slot) -> Result<(), Self::Error>;
}

/// The longest value the device writes.
pub const MAX_VALUE_LEN: usize = 64;

const CHECKSUM_LEN: usize = 4;

/// `payload | first 4 bytes of SHA-256(payload)`, into `out`; returns the
/// length used.
pub(crate) fn seal_value(payload: &[u8], out: &mut [u8; MAX_VALUE_LEN]) -> usize {
    let len = payload.len() + CHECKSUM_LEN;
    out[..payload.len()].copy_from_slice(payload);
    out[payload.len()..len].copy_from_slice(&Sha256::digest(payload)[..CHECKSUM_LEN]);
    len
}

/// What reading a slot found.
pub(crate) enum Stored<const N: usize> {
    Empty,
    Intact([u8; N]),
    Damaged,
}

/// Reads `slot` expecting an `N`-byte payload with its checksum.
pub(crate) fn read_value<S: Storage, const N: usize>(
    storage: &mut S,
    slot: Slot,
) -> Result<Stored<N>, S::Error> {
    let mut buf = [0; MAX_VALUE_LEN];
    let Some(len) = storage.read(slot, &mut buf)? else {
        return Ok(Stored::Empty);
    };
    if len != N + CHECKSUM_LEN {
        return Ok(Stored::Damaged);
    }
    let (payload, checksum) = buf[..len].split_at(N);
    if Sha256::digest(payload)[..CHECKSUM_LEN] != *checksum {
        return Ok(Stored::Damaged);
    }
    let mut out = [0; N];
    out.copy_from_slice(payload);
    Ok(Stored::Intact(out))
}
