//! Device storage in memory, with the faults a test can inject: a write
//! that fails, or one torn by a power cut as erase-then-program storage
//! tears.

use std::collections::HashMap;
use std::vec::Vec;

use super::{Slot, Storage};

/// What a chosen write does instead of succeeding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFault {
    /// The write fails and the slot keeps its old value.
    Fail,
    /// The write fails after erasing the slot and storing only the first
    /// `n` bytes of the new value (`Tear(0)` leaves the slot empty): what a
    /// power cut does to erase-then-program flash or to a store that
    /// deletes a file and creates it again.
    Tear(usize),
}

/// A device's persistent storage, kept in memory. Clone it to model the
/// flash surviving a reboot.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    slots: HashMap<Slot, Vec<u8>>,
    writes: usize,
    fault: Option<(usize, WriteFault)>,
}

/// The error of a faulted write.
#[derive(Debug, PartialEq, Eq)]
pub struct InjectedFault;

impl core::fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("injected storage fault")
    }
}

impl std::error::Error for InjectedFault {}

impl MemoryStorage {
    /// Storage whose write number `index` (from 0) suffers `fault`.
    pub fn faulting(index: usize, fault: WriteFault) -> Self {
        Self {
            fault: Some((index, fault)),
            ..Self::default()
        }
    }

    /// The same contents, with write number `index` from now on (counting
    /// from 0) suffering `fault`.
    pub fn with_fault(mut self, index: usize, fault: WriteFault) -> Self {
        self.fault = Some((self.writes + index, fault));
        self
    }

    /// Writes attempted so far, faulted ones included.
    pub fn writes(&self) -> usize {
        self.writes
    }

    /// Whether the injected fault has struck.
    pub fn faulted(&self) -> bool {
        self.fault.is_some_and(|(index, _)| index < self.writes)
    }

    /// The value in `slot`, if any.
    pub fn value(&self, slot: Slot) -> Option<&[u8]> {
        self.slots.get(&slot).map(Vec::as_slice)
    }
}

impl Storage for MemoryStorage {
    type Error = InjectedFault;

    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> Result<Option<usize>, InjectedFault> {
        let Some(value) = self.slots.get(&slot) else {
            return Ok(None);
        };
        let len = value.len().min(buf.len());
        buf[..len].copy_from_slice(&value[..len]);
        Ok(Some(len))
    }

    fn write(&mut self, slot: Slot, value: &[u8]) -> Result<(), InjectedFault> {
        let index = self.writes;
        self.writes += 1;
        match self.fault {
            Some((at, fault)) if at == index => {
                if let WriteFault::Tear(kept) = fault {
                    self.slots.remove(&slot);
                    if kept > 0 {
                        self.slots
                            .insert(slot, value[..kept.min(value.len())].to_vec());
                    }
                }
                Err(InjectedFault)
            }
            _ => {
                self.slots.insert(slot, value.to_vec());
                Ok(())
            }
        }
    }

    fn erase(&mut self, slot: Slot) -> Result<(), InjectedFault> {
        self.slots.remove(&slot);
        Ok(())
    }
}
