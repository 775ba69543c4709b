//! The device's flash: the device record, and the core's storage slots
//! written behind.
//!
//! Under the SoftDevice Controller the flash is written in radio timeslots,
//! asynchronously, while the core writes its storage synchronously. So
//! [`Staged`] keeps the slots in RAM, takes each write at once and marks
//! the slot for writing; [`Staged::write_behind`] writes marked slots to
//! flash; and the device sends nothing until what the core wrote before it
//! is in flash ([`WriteBarrier`]): an attempt is still counted before it is
//! answered.
//!
//! Each slot has a 4 KiB page: a length word, then the value. A write
//! erases the page then programs it, which the core's storage contract
//! allows (a write cut short leaves its slot empty or damaged, and every
//! other slot as it was).

use core::cell::{Cell, RefCell};
use core::convert::Infallible;

use blepake::{DeviceRecord, MAX_BONDS, MAX_VALUE_LEN, Slot, Storage};
use blepake_trouble::device::WriteBarrier;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use heapless::Vec;
use nrf_sdc::mpsl::Flash;

/// The device record's page (see memory.x).
pub const RECORD_ADDRESS: u32 = 0x000F_4000;
/// The first slot's page; one page per slot follows.
const SLOTS_ADDRESS: u32 = RECORD_ADDRESS + PAGE;
const PAGE: u32 = 4096;
/// The two counter copies, then the bonds.
const SLOTS: usize = 2 + MAX_BONDS;
/// An erased length word: an empty slot.
const EMPTY: u32 = u32::MAX;

type Value = Vec<u8, MAX_VALUE_LEN>;

fn index(slot: Slot) -> usize {
    match slot {
        Slot::Counter(copy) => usize::from(copy),
        Slot::Bond(bond) => 2 + usize::from(bond),
    }
}

fn page(index: usize) -> u32 {
    SLOTS_ADDRESS + index as u32 * PAGE
}

/// Reads the device record the factory wrote, if there is a valid one.
pub fn read_record(flash: &mut Flash<'_>) -> Option<DeviceRecord> {
    let mut bytes = [0; DeviceRecord::LEN];
    flash.read(RECORD_ADDRESS, &mut bytes).ok()?;
    DeviceRecord::from_bytes(&bytes).ok()
}

/// The slots in RAM, and which still need writing to flash.
pub struct Staged {
    values: RefCell<[Option<Value>; SLOTS]>,
    /// Bit `i`: slot `i` has changed since it was last written.
    dirty: Cell<u16>,
    /// A flash operation failed: the barrier fails from now on.
    failed: Cell<bool>,
    marked: Signal<NoopRawMutex, ()>,
    written: Signal<NoopRawMutex, ()>,
}

impl Staged {
    /// Reads every slot from flash (at boot, before the radio runs).
    pub fn load(flash: &mut Flash<'_>) -> Self {
        let values = core::array::from_fn(|i| {
            let mut word = [0; 4];
            flash.read(page(i), &mut word).ok()?;
            let len = u32::from_le_bytes(word);
            if len == EMPTY || len as usize > MAX_VALUE_LEN {
                // Empty, or a length damaged by a cut write: the core reads
                // what it finds as damaged either way.
                return (len != EMPTY).then(Value::new);
            }
            let mut value = Value::new();
            value.resize(len as usize, 0).ok()?;
            flash.read(page(i) + 4, &mut value).ok()?;
            Some(value)
        });
        Self {
            values: RefCell::new(values),
            dirty: Cell::new(0),
            failed: Cell::new(false),
            marked: Signal::new(),
            written: Signal::new(),
        }
    }

    fn mark(&self, index: usize, value: Option<Value>) {
        self.values.borrow_mut()[index] = value;
        self.dirty.set(self.dirty.get() | 1 << index);
        self.marked.signal(());
    }

    /// Writes marked slots to flash, for ever.
    pub async fn write_behind(&self, flash: &mut Flash<'_>) -> ! {
        loop {
            while self.dirty.get() == 0 {
                self.marked.wait().await;
            }
            let index = self.dirty.get().trailing_zeros() as usize;
            // Taken before writing: a slot written again meanwhile is marked
            // again and written again.
            self.dirty.set(self.dirty.get() & !(1 << index));
            let value = self.values.borrow()[index].clone();
            if write_page(flash, page(index), value.as_deref())
                .await
                .is_err()
            {
                defmt::error!("flash: writing slot {} failed", index);
                self.failed.set(true);
            }
            if self.dirty.get() == 0 {
                self.written.signal(());
            }
        }
    }
}

/// Erases a slot's page, then programs its length and value (padded to
/// whole words).
async fn write_page(
    flash: &mut Flash<'_>,
    address: u32,
    value: Option<&[u8]>,
) -> Result<(), nrf_sdc::mpsl::FlashError> {
    flash.erase(address, address + PAGE).await?;
    let Some(value) = value else {
        return Ok(());
    };
    let mut words = [0xff; 4 + MAX_VALUE_LEN];
    words[..4].copy_from_slice(&(value.len() as u32).to_le_bytes());
    words[4..4 + value.len()].copy_from_slice(value);
    let len = (4 + value.len()).next_multiple_of(4);
    flash.write(address, &words[..len]).await
}

impl WriteBarrier for Staged {
    async fn flushed(&self) -> bool {
        while self.dirty.get() != 0 {
            self.written.wait().await;
        }
        !self.failed.get()
    }
}

/// The core's view of the staged slots.
impl Storage for &Staged {
    type Error = Infallible;

    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> Result<Option<usize>, Infallible> {
        Ok(self.values.borrow()[index(slot)].as_ref().map(|value| {
            let len = value.len().min(buf.len());
            buf[..len].copy_from_slice(&value[..len]);
            len
        }))
    }

    fn write(&mut self, slot: Slot, value: &[u8]) -> Result<(), Infallible> {
        // The core writes at most MAX_VALUE_LEN bytes.
        self.mark(
            index(slot),
            Some(Value::from_slice(value).unwrap_or_default()),
        );
        Ok(())
    }

    fn erase(&mut self, slot: Slot) -> Result<(), Infallible> {
        self.mark(index(slot), None);
        Ok(())
    }
}
