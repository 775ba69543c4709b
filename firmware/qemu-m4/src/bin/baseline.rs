//! The board without blepake: the same UART, timer, flash, RNG and wait
//! loop, echoing bytes. bench/m4 subtracts its flash and RAM from the
//! device's to isolate what blepake adds.

#![no_std]
#![no_main]

use blepake_qemu_m4::flash::Flash;
use blepake_qemu_m4::{Board, entry, println};
use blepake_uart::Uart as _;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

#[entry]
fn main() -> ! {
    let mut board = Board::take();
    let _storage = Flash::open();
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(Flash::boots()));
    println!("baseline boot {} draws {}", Flash::boots(), rng.next_u32());
    let mut buf = [0; 64];
    loop {
        board.wait();
        // The device reads the clock and uses it; so does the baseline, or
        // the clock's arithmetic would count as blepake's.
        core::hint::black_box(board.now());
        let n = board.uart.read(&mut buf);
        board.uart.write(&buf[..n]);
    }
}
