#![no_std]
#![no_main]
use blepake_qemu_m4::{entry, exit};
#[entry]
fn main() -> ! {
    exit(false)
}
