//! The board's "flash": the device record and the core's storage slots,
//! in the 16 MiB SSRAM bank at 0x2100_0000 that no section of the images
//! occupies, so a system reset leaves it as it was (QEMU reloads only what
//! the ELF file holds).
//!
//! - `0x2100_0000`: the device record, written at the "factory": QEMU
//!   loads the file `blepake provision` made there
//!   (`-device loader,file=DEVICE.record,addr=0x21000000`).
//! - `0x2100_1000`: a format word, a boot counter, then one slot per
//!   [`Slot`]: a length word (`u32::MAX`: empty) and up to
//!   [`MAX_VALUE_LEN`] bytes.
//!
//! Writes are byte by byte, like flash programming: a write cut short
//! leaves its slot damaged, which the core's storage contract allows.

use core::ptr::{read_volatile, write_volatile};

use blepake::{DeviceRecord, MAX_BONDS, MAX_VALUE_LEN, Slot, Storage};

/// Where the factory puts the device record.
pub const RECORD_ADDRESS: usize = 0x2100_0000;
const SLOTS_ADDRESS: usize = 0x2100_1000;
/// "BPK1": the slot area is formatted.
const FORMATTED: u32 = 0x314b_5042;
const HEADER_LEN: usize = 8;
const SLOT_LEN: usize = 4 + MAX_VALUE_LEN;
const SLOTS: usize = 2 + MAX_BONDS;
const EMPTY: u32 = u32::MAX;

fn read_byte(address: usize) -> u8 {
    // SAFETY: inside the SSRAM bank, which no Rust object occupies.
    unsafe { read_volatile(address as *const u8) }
}

fn write_byte(address: usize, byte: u8) {
    // SAFETY: as in read_byte.
    unsafe { write_volatile(address as *mut u8, byte) }
}

fn read_word(address: usize) -> u32 {
    u32::from_le_bytes(core::array::from_fn(|i| read_byte(address + i)))
}

fn write_word(address: usize, word: u32) {
    for (i, byte) in word.to_le_bytes().into_iter().enumerate() {
        write_byte(address + i, byte);
    }
}

/// The device record the factory wrote, if a valid one is there.
pub fn record() -> Option<DeviceRecord> {
    let bytes: [u8; DeviceRecord::LEN] = core::array::from_fn(|i| read_byte(RECORD_ADDRESS + i));
    DeviceRecord::from_bytes(&bytes).ok()
}

/// The storage slots.
pub struct Flash(());

impl Flash {
    /// Opens the slots at boot, formatting them (all empty) on the first,
    /// and counts the boot.
    pub fn open() -> Self {
        if read_word(SLOTS_ADDRESS) != FORMATTED {
            for index in 0..SLOTS {
                write_word(slot_address(index), EMPTY);
            }
            write_word(SLOTS_ADDRESS + 4, 0);
            write_word(SLOTS_ADDRESS, FORMATTED);
        }
        write_word(SLOTS_ADDRESS + 4, Self::boots().wrapping_add(1));
        Self(())
    }

    /// Boots since the slots were formatted, this one included.
    pub fn boots() -> u32 {
        read_word(SLOTS_ADDRESS + 4)
    }
}

fn slot_address(index: usize) -> usize {
    SLOTS_ADDRESS + HEADER_LEN + index * SLOT_LEN
}

fn index(slot: Slot) -> usize {
    match slot {
        Slot::Counter(copy) => usize::from(copy),
        Slot::Bond(bond) => 2 + usize::from(bond),
    }
}

/// A slot outside the table.
#[derive(Debug)]
pub struct NoSuchSlot;

impl Storage for Flash {
    type Error = NoSuchSlot;

    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> Result<Option<usize>, NoSuchSlot> {
        let at = slot_address(checked(slot)?);
        let len = read_word(at);
        if len == EMPTY {
            return Ok(None);
        }
        // A damaged length reads as a damaged value, cut to what fits.
        let len = (len as usize).min(MAX_VALUE_LEN).min(buf.len());
        for (i, byte) in buf[..len].iter_mut().enumerate() {
            *byte = read_byte(at + 4 + i);
        }
        Ok(Some(len))
    }

    fn write(&mut self, slot: Slot, value: &[u8]) -> Result<(), NoSuchSlot> {
        let at = slot_address(checked(slot)?);
        let value = &value[..value.len().min(MAX_VALUE_LEN)];
        write_word(at, EMPTY);
        for (i, &byte) in value.iter().enumerate() {
            write_byte(at + 4 + i, byte);
        }
        write_word(at, value.len() as u32);
        Ok(())
    }

    fn erase(&mut self, slot: Slot) -> Result<(), NoSuchSlot> {
        write_word(slot_address(checked(slot)?), EMPTY);
        Ok(())
    }
}

fn checked(slot: Slot) -> Result<usize, NoSuchSlot> {
    Some(index(slot)).filter(|&i| i < SLOTS).ok_or(NoSuchSlot)
}
