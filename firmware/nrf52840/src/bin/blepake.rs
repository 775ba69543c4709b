//! The blepake device on the nRF52840 DK.
//!
//! It serves the blepake GATT service with the device record the factory
//! wrote to flash (README: provisioning), keeps its attempt counter and
//! bonds in flash, and sends every message back. Button 1 opens the pairing
//! window for 5 minutes; held for 5 seconds, it revokes every bond. LED 1:
//! the pairing window is open; LED 2: a session is open; LED 3: pairing is
//! locked after too many wrong codes; LED 4 blinking: no device record.

#![no_std]
#![no_main]

use core::cell::RefCell;

use blepake::pump::Output;
use blepake::{Connection, Device, DevicePolicy, Event, PairingWindow};
use blepake_nrf52840::storage::{self, Staged};
use blepake_trouble::{Application, device};
use embassy_executor::Spawner;
use embassy_futures::join::join4;
use embassy_nrf::gpio::{Input, Output as Led};
use embassy_time::{Duration, Timer, with_timeout};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use static_cell::StaticCell;
use trouble_host::prelude::Address;
use {defmt_rtt as _, panic_probe as _};

type BlepakeDevice = Device<&'static Staged, ChaCha20Rng>;

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut board = blepake_nrf52840::init(spawner);
    let [window_led, session_led, locked_led, fault_led] = board.leds;
    let Some(record) = storage::read_record(&mut board.flash) else {
        defmt::error!(
            "no device record at {=u32:#x}: provision the device (README)",
            storage::RECORD_ADDRESS
        );
        blink(fault_led).await
    };
    defmt::info!("device {}", record.device_id);
    static STAGED: StaticCell<Staged> = StaticCell::new();
    let staged: &'static Staged = STAGED.init(Staged::load(&mut board.flash));
    let device: RefCell<BlepakeDevice> = RefCell::new(Device::new(
        record,
        DevicePolicy::default(),
        staged,
        ChaCha20Rng::from_seed(board.seed),
        blepake_trouble::now(),
    ));
    let config = device::Config {
        name: "blepake",
        address: Address::random(board.address),
    };
    let mut app = Echo { led: session_led };
    let serve = async {
        let Err(error) = device::run(board.sdc, &config, &device, staged, &mut app).await;
        defmt::panic!("the BLE stack stopped: {}", defmt::Debug2Format(&error));
    };
    join4(
        serve,
        staged.write_behind(&mut board.flash),
        button(board.button, &device),
        show(&device, window_led, locked_led),
    )
    .await;
}

/// Button 1: a press opens the pairing window; held 5 s, it revokes every
/// bond (a lost phone is cut off, and the window opens until the next
/// pairing).
async fn button(mut button: Input<'static>, device: &RefCell<BlepakeDevice>) -> ! {
    loop {
        button.wait_for_low().await;
        let held = with_timeout(Duration::from_secs(5), button.wait_for_high())
            .await
            .is_err();
        let done = if held {
            defmt::info!("button held: revoking every bond");
            device.borrow_mut().revoke_all_bonds()
        } else {
            defmt::info!("button: pairing window open");
            device
                .borrow_mut()
                .open_pairing_window(blepake_trouble::now())
        };
        // Staged storage takes every write; a flash failure shows at the
        // write barrier.
        let Ok(()) = done;
        button.wait_for_high().await;
    }
}

/// LED 1 while the pairing window is open, LED 3 while pairing is locked.
async fn show(
    device: &RefCell<BlepakeDevice>,
    mut window: Led<'static>,
    mut locked: Led<'static>,
) -> ! {
    loop {
        let (open, lock) = {
            let device = device.borrow();
            let open = device.pairing_window(blepake_trouble::now()) != PairingWindow::Closed;
            (open, device.attempts().locked)
        };
        // Active low.
        window.set_level((!open).into());
        locked.set_level((!lock).into());
        Timer::after_millis(250).await;
    }
}

async fn blink(mut led: Led<'static>) -> ! {
    loop {
        led.toggle();
        Timer::after_millis(500).await;
    }
}

/// The device's application: sends every message back; LED 2 while a
/// session is open.
struct Echo {
    led: Led<'static>,
}

impl Application for Echo {
    fn on_output<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>) {
        match output {
            Output::Event(Event::Connected(info)) => {
                defmt::info!("host {} connected ({})", info.host_id, info.mode);
                self.led.set_low();
            }
            Output::Event(Event::Closed { .. }) => self.led.set_high(),
            Output::Event(Event::Failed { error, .. }) => {
                defmt::info!("link failed: {}", error);
                self.led.set_high();
            }
            Output::Message(message) => {
                let _ = conn.send(message);
            }
            _ => {}
        }
    }
}
