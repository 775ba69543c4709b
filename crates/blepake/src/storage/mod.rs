//! What a device keeps across power cuts, behind a trait the application
//! implements over its flash (Zephyr settings, NVS, a file).
//!
//! With feature `std`: [`MemoryStorage`], with faults a test can inject,
//! and [`FileStorage`], a directory of files replaced atomically.

use core::fmt;

use sha2::{Digest, Sha256};

#[cfg(feature = "std")]
mod file;
#[cfg(feature = "std")]
mod memory;

#[cfg(feature = "std")]
pub use file::FileStorage;
#[cfg(feature = "std")]
pub use memory::{InjectedFault, MemoryStorage, WriteFault};

/// A named place in the device's persistent storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Slot {
    /// One of the two copies (0 or 1) of the failed-pairing counter, written
    /// in turn so that a write cut short never loses the other.
    Counter(u8),
    /// Bond number `n` of the device's bond table (0 to
    /// [`MAX_BONDS`](crate::MAX_BONDS) − 1).
    Bond(u8),
}

impl Slot {
    /// A stable number for the slot, for stores keyed by integers (Zephyr
    /// NVS, the C API): `0x0000`/`0x0001` for the counter copies, `0x0100 + n`
    /// for bond `n`.
    pub fn key(self) -> u16 {
        match self {
            Self::Counter(copy) => u16::from(copy),
            Self::Bond(index) => 0x0100 | u16::from(index),
        }
    }

    /// The slot a [`key`](Self::key) names.
    pub fn from_key(key: u16) -> Option<Self> {
        let index = (key & 0xff) as u8;
        match key >> 8 {
            0 if index < 2 => Some(Self::Counter(index)),
            1 if usize::from(index) < crate::MAX_BONDS => Some(Self::Bond(index)),
            _ => None,
        }
    }
}

/// Persistent key-value storage for small values (at most
/// [`MAX_VALUE_LEN`] bytes), one value per [`Slot`].
///
/// The device relies on exactly this:
/// - `write` replaces the value of one slot. Once it returns `Ok`, the new
///   value survives a power cut.
/// - A `write` cut short (by a power cut, or failing with an error) may
///   leave its own slot holding the old value, the new one, nothing, or a
///   damaged value (a prefix of the new one, as erase-then-program flash and
///   delete-then-create files do); it leaves every other slot as it was.
/// - `erase` empties a slot; cut short, it leaves the slot empty or as it
///   was, and every other slot as it was.
///
/// Writes need not be atomic: every value carries a checksum, damage reads
/// in the safe direction (a damaged bond as absent), and the failure
/// counter is kept in two slots written in turn, so a write cut short never
/// loses the last complete count (`PROTOCOL.md` §10).
pub trait Storage {
    /// The storage's own error.
    type Error: fmt::Debug;

    /// Copies the value in `slot` into `buf` and returns its length (at
    /// most `buf.len()` bytes), or `None` if the slot is empty.
    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> Result<Option<usize>, Self::Error>;

    /// Replaces the value in `slot`.
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
pub(crate) fn read_value<S: Storage + ?Sized, const N: usize>(
    storage: &mut S,
    slot: Slot,
) -> Result<Stored<N>, S::Error> {
    let mut buf = zeroize::Zeroizing::new([0; MAX_VALUE_LEN]);
    let Some(len) = storage.read(slot, &mut buf[..])? else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_keys_round_trip() {
        for slot in [Slot::Counter(0), Slot::Counter(1)]
            .into_iter()
            .chain((0..crate::MAX_BONDS as u8).map(Slot::Bond))
        {
            assert_eq!(Slot::from_key(slot.key()), Some(slot));
        }
        assert_eq!(Slot::Bond(3).key(), 0x0103);
        assert_eq!(Slot::from_key(2), None);
        assert_eq!(Slot::from_key(0x0100 + crate::MAX_BONDS as u16), None);
        assert_eq!(Slot::from_key(0x0200), None);
    }
}
