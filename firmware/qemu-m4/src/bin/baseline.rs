//! The board without blepake: the same UART, timer, flash and wait loop,
//! echoing bytes. bench/m4 subtracts its flash and RAM from the device's
//! to isolate what blepake adds.

#![no_std]
#![no_main]

use blepake_qemu_m4::flash::Flash;
use blepake_qemu_m4::{Board, entry, println};
use blepake_uart::Uart as _;

#[entry]
fn main() -> ! {
    let mut board = Board::take();
    let _storage = Flash::open();
    println!("baseline boot {}", Flash::boots());
    let mut buf = [0; 64];
    loop {
        board.wait();
        let _ = board.now();
        let n = board.uart.read(&mut buf);
        board.uart.write(&buf[..n]);
    }
}
