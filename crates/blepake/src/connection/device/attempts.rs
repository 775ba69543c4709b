//! The persistent failed-pairing counter, kept in two copies written in
//! turn (`PROTOCOL.md` §10): a write cut short can damage or empty only the
//! copy being written, so the other still holds the last complete count.

use core::time::Duration;

use crate::storage::{self, MAX_VALUE_LEN, Slot, Storage, Stored};
use crate::time::Instant;

const FORMAT: u8 = 2;
/// `format (1) | sequence (4, LE) | failures (2, LE)`.
const PAYLOAD_LEN: usize = 7;

/// A counter copy as read.
enum Copy {
    Empty,
    Count { sequence: u32, failures: u16 },
    Damaged,
}

fn read_copy<S: Storage>(storage: &mut S, copy: u8) -> Copy {
    match storage::read_value::<S, PAYLOAD_LEN>(storage, Slot::Counter(copy)) {
        Ok(Stored::Empty) => Copy::Empty,
        Ok(Stored::Intact([FORMAT, s0, s1, s2, s3, f0, f1])) => Copy::Count {
            sequence: u32::from_le_bytes([s0, s1, s2, s3]),
            failures: u16::from_le_bytes([f0, f1]),
        },
        // An unreadable copy is as good as damaged.
        Ok(_) | Err(_) => Copy::Damaged,
    }
}

/// The failure count, where it is stored, and when the last counted
/// attempt began.
pub(super) struct Attempts {
    failures: u16,
    /// When the last counted attempt began; after boot, boot time, so that
    /// a power cycle does not skip a wait.
    last_attempt: Option<Instant>,
    /// The copy holding the newest complete count and its sequence number,
    /// if either copy holds one. The next write goes to the other copy.
    newest: Option<(u8, u32)>,
}

impl Attempts {
    /// Reads the count at boot. Both copies empty: a new device, no
    /// failures. Otherwise the complete copy with the higher sequence
    /// number wins; with none complete (both damaged, or one damaged and
    /// one empty), the count reads as `max_failures`: no storage fault ever
    /// yields a guess.
    pub(super) fn load<S: Storage>(storage: &mut S, max_failures: u16, now: Instant) -> Self {
        let copies = [read_copy(storage, 0), read_copy(storage, 1)];
        let mut newest: Option<(u8, u32, u16)> = None;
        for (index, copy) in (0u8..).zip(&copies) {
            if let Copy::Count { sequence, failures } = *copy {
                let newer = newest.is_none_or(|(_, best_sequence, best_failures)| {
                    (sequence, failures) > (best_sequence, best_failures)
                });
                if newer {
                    newest = Some((index, sequence, failures));
                }
            }
        }
        let failures = match (newest, &copies) {
            (Some((_, _, failures)), _) => failures,
            (None, [Copy::Empty, Copy::Empty]) => 0,
            (None, _) => max_failures,
        };
        Self {
            failures,
            last_attempt: (failures > 0).then_some(now),
            newest: newest.map(|(index, sequence, _)| (index, sequence)),
        }
    }

    pub(super) fn failures(&self) -> u16 {
        self.failures
    }

    /// When a pairing may next be tried, if backoff holds it off now.
    pub(super) fn wait_until(
        &self,
        free_attempts: u16,
        base: Duration,
        max: Duration,
    ) -> Option<Instant> {
        let extra = self.failures.checked_sub(free_attempts)?;
        let wait = base.saturating_mul(1 << extra.min(16)).min(max);
        Some(self.last_attempt? + wait)
    }

    /// Spends a guess: the raised count is stored before anything that lets
    /// the host test its code is sent. If the write fails the count stays
    /// raised here too (the flash may hold either value).
    pub(super) fn count<S: Storage>(
        &mut self,
        storage: &mut S,
        now: Instant,
    ) -> Result<(), S::Error> {
        self.failures = self.failures.saturating_add(1);
        self.last_attempt = Some(now);
        self.write(storage, self.failures)
    }

    /// Clears the count: after a verified pairing, or when a person opens
    /// the pairing window. If the write fails the stored count stays
    /// raised, which is the safe direction, and so does ours.
    pub(super) fn clear<S: Storage>(&mut self, storage: &mut S) -> Result<(), S::Error> {
        self.write(storage, 0)?;
        self.failures = 0;
        self.last_attempt = None;
        Ok(())
    }

    fn write<S: Storage>(&mut self, storage: &mut S, failures: u16) -> Result<(), S::Error> {
        let (copy, sequence) = match self.newest {
            Some((newest, sequence)) => (1 - newest, sequence.wrapping_add(1)),
            None => (0, 1),
        };
        let mut payload = [0; PAYLOAD_LEN];
        payload[0] = FORMAT;
        payload[1..5].copy_from_slice(&sequence.to_le_bytes());
        payload[5..].copy_from_slice(&failures.to_le_bytes());
        let mut value = [0; MAX_VALUE_LEN];
        let len = storage::seal_value(&payload, &mut value);
        storage.write(Slot::Counter(copy), &value[..len])?;
        self.newest = Some((copy, sequence));
        Ok(())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::storage::{MemoryStorage, WriteFault};

    const NOW: Instant = Instant::from_millis(0);

    fn load(storage: &mut MemoryStorage) -> u16 {
        Attempts::load(storage, 10, NOW).failures()
    }

    #[test]
    fn counts_alternate_between_the_copies() {
        let mut storage = MemoryStorage::default();
        assert_eq!(load(&mut storage), 0);
        let mut attempts = Attempts::load(&mut storage, 10, NOW);
        for expected in 1..=3 {
            attempts.count(&mut storage, NOW).unwrap();
            assert_eq!(load(&mut storage), expected);
        }
        assert!(storage.value(Slot::Counter(0)).is_some());
        assert!(storage.value(Slot::Counter(1)).is_some());
        attempts.clear(&mut storage).unwrap();
        assert_eq!(load(&mut storage), 0);
    }

    #[test]
    fn a_torn_write_leaves_the_last_complete_count() {
        // Three counted attempts, then the fourth's write torn at every
        // length, erase-then-program style: the count reads 3, never less
        // (4 once all 11 bytes made it).
        for kept in 0..=PAYLOAD_LEN + 4 {
            let mut storage = MemoryStorage::default();
            let mut attempts = Attempts::load(&mut storage, 10, NOW);
            for _ in 0..3 {
                attempts.count(&mut storage, NOW).unwrap();
            }
            let mut storage = storage.with_fault(0, WriteFault::Tear(kept));
            assert!(attempts.count(&mut storage, NOW).is_err());
            let expected = if kept == PAYLOAD_LEN + 4 { 4 } else { 3 };
            assert_eq!(load(&mut storage), expected, "kept {kept}");
        }
    }

    #[test]
    fn with_no_complete_copy_the_count_reads_as_exhausted() {
        // The first write torn part-way: one copy damaged, the other empty.
        let mut storage = MemoryStorage::faulting(0, WriteFault::Tear(5));
        let mut attempts = Attempts::load(&mut storage, 10, NOW);
        assert!(attempts.count(&mut storage, NOW).is_err());
        assert_eq!(load(&mut storage), 10);
        // Torn to nothing, the device never answered: as new.
        let mut storage = MemoryStorage::faulting(0, WriteFault::Tear(0));
        let mut attempts = Attempts::load(&mut storage, 10, NOW);
        assert!(attempts.count(&mut storage, NOW).is_err());
        assert_eq!(load(&mut storage), 0);
    }
}
