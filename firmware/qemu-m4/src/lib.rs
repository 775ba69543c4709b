//! The emulated board under blepake's Cortex-M4 images: QEMU's
//! `mps2-an386` (`qemu-system-arm -machine mps2-an386 -cpu cortex-m4`).
//!
//! - [`Uart`]: UART0, polled; [`Board::wait`] sleeps with `wfi` until a
//!   byte or a timer tick arrives (QEMU receives slowly otherwise).
//! - [`Board::now`]: milliseconds from TIMER0 (the DWT cycle counter reads
//!   0 under QEMU).
//! - [`flash`]: the device record and the core's storage slots in a RAM
//!   bank the image never touches, which keeps them across a system reset
//!   as flash would.
//! - Semihosting for lines to the console and the exit status.
//!
//! Interrupts stay masked (PRIMASK): a pending one still ends `wfi`, and
//! the code polls the peripherals, so no handler runs.

#![no_std]

pub mod flash;

use core::ptr::{read_volatile, write_volatile};

use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};

pub use cortex_m_rt::entry;
pub use cortex_m_semihosting::hprintln as println;

/// CMSDK APB UART0.
const UART0: usize = 0x4000_4000;
const UART_DATA: usize = 0x00;
const UART_STATE: usize = 0x04;
const UART_CTRL: usize = 0x08;
const UART_INTSTATUS: usize = 0x0c;
const UART_BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
/// TX and RX enabled, RX interrupt enabled (it only wakes `wfi`).
const CTRL_TX_RX_RX_IRQ: u32 = 0b1011;

/// CMSDK APB TIMER0, clocked at the board's 25 MHz.
const TIMER0: usize = 0x4000_0000;
const TIMER_CTRL: usize = 0x00;
const TIMER_VALUE: usize = 0x04;
const TIMER_RELOAD: usize = 0x08;
const TIMER_INTSTATUS: usize = 0x0c;
const TICKS_PER_MS: u32 = 25_000;
/// One wrap a second: each wrap wakes `wfi` and is counted.
const TIMER_PERIOD: u32 = 1000 * TICKS_PER_MS;

/// The NVIC lines of UART0 RX and TIMER0 on the AN386.
const IRQ_UART0_RX: u32 = 0;
const IRQ_TIMER0: u32 = 8;
const NVIC_ISER0: usize = 0xe000_e100;
const NVIC_ICPR0: usize = 0xe000_e280;

fn reg(base: usize, offset: usize) -> *mut u32 {
    (base + offset) as *mut u32
}

fn read(base: usize, offset: usize) -> u32 {
    // SAFETY: a memory-mapped register of the AN386.
    unsafe { read_volatile(reg(base, offset)) }
}

fn write(base: usize, offset: usize, value: u32) {
    // SAFETY: a memory-mapped register of the AN386.
    unsafe { write_volatile(reg(base, offset), value) }
}

/// UART0.
pub struct Uart(());

impl Uart {
    /// Reads the bytes waiting (the UART holds one at a time) into `buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() && read(UART0, UART_STATE) & STATE_RX_FULL != 0 {
            buf[n] = read(UART0, UART_DATA) as u8;
            n += 1;
        }
        n
    }
}

impl blepake_uart::Uart for Uart {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            while read(UART0, UART_STATE) & STATE_TX_FULL != 0 {}
            write(UART0, UART_DATA, u32::from(byte));
        }
    }
}

/// The board, taken once at boot.
pub struct Board {
    /// UART0.
    pub uart: Uart,
    /// TIMER0's wraps counted so far.
    wraps: u64,
}

impl Board {
    /// Starts UART0 and TIMER0 and masks interrupts.
    pub fn take() -> Self {
        cortex_m::interrupt::disable();
        write(UART0, UART_BAUDDIV, 16);
        write(UART0, UART_CTRL, CTRL_TX_RX_RX_IRQ);
        write(TIMER0, TIMER_RELOAD, TIMER_PERIOD - 1);
        write(TIMER0, TIMER_VALUE, TIMER_PERIOD - 1);
        write(TIMER0, TIMER_CTRL, 0b1001);
        write(NVIC_ISER0, 0, (1 << IRQ_UART0_RX) | (1 << IRQ_TIMER0));
        Self {
            uart: Uart(()),
            wraps: 0,
        }
    }

    /// Milliseconds since boot.
    pub fn now(&mut self) -> blepake::Instant {
        let mut value = read(TIMER0, TIMER_VALUE);
        if read(TIMER0, TIMER_INTSTATUS) & 1 != 0 {
            write(TIMER0, TIMER_INTSTATUS, 1);
            self.wraps += 1;
            value = read(TIMER0, TIMER_VALUE);
        }
        let ticks = self.wraps * u64::from(TIMER_PERIOD) + u64::from(TIMER_PERIOD - 1 - value);
        blepake::Instant::from_millis(ticks / u64::from(TICKS_PER_MS))
    }

    /// Sleeps until UART0 has a byte or TIMER0 wraps (at most a second),
    /// unless a byte is waiting already.
    pub fn wait(&mut self) {
        write(UART0, UART_INTSTATUS, 0b10);
        write(NVIC_ICPR0, 0, 1 << IRQ_UART0_RX);
        if read(UART0, UART_STATE) & STATE_RX_FULL != 0 {
            return;
        }
        cortex_m::asm::wfi();
        // Count a wrap before the next one can come.
        let _ = self.now();
        write(NVIC_ICPR0, 0, 1 << IRQ_TIMER0);
    }
}

/// Resets the whole board (SYSRESETREQ): the image starts again, and
/// [`flash`] keeps what it held.
pub fn reset() -> ! {
    cortex_m::peripheral::SCB::sys_reset()
}

/// Ends the emulation with a status (semihosting).
pub fn exit(success: bool) -> ! {
    debug::exit(if success { EXIT_SUCCESS } else { EXIT_FAILURE });
    loop {
        cortex_m::asm::wfi();
    }
}

/// A panic is a bug: say where, and fail the run.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Some(at) = info.location() {
        println!("panic at {}:{}", at.file(), at.line());
    }
    exit(false)
}
