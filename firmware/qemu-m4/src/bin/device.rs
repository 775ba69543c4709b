//! The blepake device on the emulated board, over UART0 (`PROTOCOL.md`
//! §16): it checks the RFC 9383 vector on its own P-256 path, loads the
//! device record the factory put in its flash, and serves one host at a
//! time, sending every message back. Board commands: 0 opens the pairing
//! window (the button), 1 resets the board.
//!
//! It prints, through semihosting, one line per thing a test checks: the
//! self-test, the attempt counter and bonds at boot and after each link,
//! each connection and failure.

#![no_std]
#![no_main]

use blepake::pump::Output;
use blepake::{Connection, Device, DeviceLink, DevicePolicy, Event};
use blepake_qemu_m4::flash::{self, Flash};
use blepake_qemu_m4::{Board, entry, exit, println, reset};
use blepake_uart::DeviceSide;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

type BlepakeDevice = Device<Flash, ChaCha20Rng>;

/// The board's commands (`PROTOCOL.md` §16.2: board frames).
const BUTTON: u8 = 0;
const RESET: u8 = 1;

#[entry]
fn main() -> ! {
    let mut board = Board::take();
    let storage = Flash::open();
    #[cfg(feature = "self-test")]
    self_test();
    let Some(record) = flash::record() else {
        println!("no device record at {:#x}", flash::RECORD_ADDRESS);
        exit(false);
    };
    // The emulated board has no entropy source: the boot count seeds the
    // RNG, so that each boot draws other ephemerals. A real board seeds
    // from its TRNG.
    let rng = ChaCha20Rng::seed_from_u64(u64::from(Flash::boots()));
    let mut device: BlepakeDevice =
        Device::new(record, DevicePolicy::default(), storage, rng, board.now());
    println!("boot {}", Flash::boots());
    status(&mut device);
    let mut side = DeviceSide::default();
    let mut echo =
        |link: &mut DeviceLink<'_, Flash, ChaCha20Rng>, output: Output<'_>| on_output(link, output);
    let mut buf = [0; 64];
    loop {
        board.wait();
        let now = board.now();
        let was_linked = side.is_linked();
        let n = board.uart.read(&mut buf);
        if n > 0 {
            side.receive(
                &mut device,
                &mut board.uart,
                &buf[..n],
                now,
                &mut echo,
                &mut |device: &mut BlepakeDevice, command: u8, _: &[u8]| match command {
                    BUTTON => {
                        let opened = device.open_pairing_window(now).is_ok();
                        let opened = if opened { "true" } else { "false" };
                        println!("button: pairing window open={}", opened);
                    }
                    RESET => {
                        println!("reset");
                        reset()
                    }
                    other => println!("unknown board command {}", u32::from(other)),
                },
            );
        }
        if side.poll_timeout(&mut device).is_some_and(|at| at <= now) {
            side.handle_timeout(&mut device, &mut board.uart, now, &mut echo);
        }
        if was_linked && !side.is_linked() {
            status(&mut device);
        }
    }
}

/// The RFC 9383 vector through the device's own P-256 path.
#[cfg(feature = "self-test")]
fn self_test() {
    let path = if cfg!(feature = "fast-p256") {
        "fast-p256"
    } else {
        "p256"
    };
    if !blepake::self_test::rfc9383_vector() {
        println!("self-test: RFC 9383 vector FAILED ({})", path);
        exit(false);
    }
    println!("self-test: RFC 9383 vector ok ({})", path);
}

/// The device's application: sends every message back.
fn on_output<C: Connection + ?Sized>(link: &mut C, output: Output<'_>) {
    match output {
        Output::Event(Event::Connected(info)) => {
            let mode = match info.mode {
                blepake::Mode::Paired => "paired",
                blepake::Mode::Resumed => "resumed",
            };
            println!("connected: {}", mode);
        }
        // The stable code (PROTOCOL.md §9) keeps the error strings out of flash.
        Output::Event(Event::Failed { error, .. }) => {
            println!("failed: error {}", u32::from(error.code()))
        }
        Output::Message(message) => {
            let _ = link.send(message);
        }
        _ => {}
    }
}

fn status(device: &mut BlepakeDevice) {
    let attempts = device.attempts();
    let bonds = device.bonds().len();
    println!(
        "status: failures={} locked={} bonds={}",
        attempts.failures, attempts.locked, bonds
    );
}
