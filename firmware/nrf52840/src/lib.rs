//! The nRF52840 DK as both images use it: Nordic's Multiprotocol Service
//! Layer and SoftDevice Controller (peripheral only), the flash behind
//! MPSL's timeslots, a seed from the hardware RNG, Button 1 and the four
//! LEDs.

#![no_std]

pub mod storage;

use embassy_executor::Spawner;
use embassy_nrf::Peri;
use embassy_nrf::gpio::{AnyPin, Input, Level, Output, OutputDrive, Pull};
use embassy_nrf::mode::Async;
use embassy_nrf::peripherals::RNG;
use embassy_nrf::{bind_interrupts, rng};
use nrf_sdc::mpsl::{Flash, MultiprotocolServiceLayer};
use nrf_sdc::{self as sdc, SoftdeviceController, mpsl};
use static_cell::StaticCell;
use trouble_host::prelude::{DefaultPacketPool, PacketPool};

bind_interrupts!(struct Irqs {
    RNG => rng::InterruptHandler<RNG>;
    EGU0_SWI0 => mpsl::LowPrioInterruptHandler;
    CLOCK_POWER => mpsl::ClockInterruptHandler;
    RADIO => mpsl::HighPrioInterruptHandler;
    TIMER0 => mpsl::HighPrioInterruptHandler;
    RTC0 => mpsl::HighPrioInterruptHandler;
});

/// L2CAP buffers per link, each way.
const L2CAP_QUEUE: u8 = 3;

/// What the images get from the board.
pub struct Board {
    /// The BLE controller.
    pub sdc: SoftdeviceController<'static>,
    /// The flash, written in radio timeslots.
    pub flash: Flash<'static>,
    /// 32 bytes from the hardware RNG, for the device's CSPRNG (the RNG
    /// itself belongs to the controller).
    pub seed: [u8; 32],
    /// Button 1 (active low).
    pub button: Input<'static>,
    /// LEDs 1 to 4 (active low).
    pub leds: [Output<'static>; 4],
    /// The chip's factory address, for a random static BLE address.
    pub address: [u8; 6],
}

#[embassy_executor::task]
async fn mpsl_task(mpsl: &'static MultiprotocolServiceLayer<'static>) -> ! {
    mpsl.run().await
}

/// Starts the board: MPSL (its task spawned on `spawner`), the controller,
/// the flash, the button and the LEDs.
pub fn init(spawner: Spawner) -> Board {
    let p = embassy_nrf::init(Default::default());
    let mpsl_p =
        mpsl::Peripherals::new(p.RTC0, p.TIMER0, p.TEMP, p.PPI_CH19, p.PPI_CH30, p.PPI_CH31);
    let lfclk = mpsl::raw::mpsl_clock_lfclk_cfg_t {
        source: mpsl::raw::MPSL_CLOCK_LF_SRC_RC as u8,
        rc_ctiv: mpsl::raw::MPSL_RECOMMENDED_RC_CTIV as u8,
        rc_temp_ctiv: mpsl::raw::MPSL_RECOMMENDED_RC_TEMP_CTIV as u8,
        accuracy_ppm: mpsl::raw::MPSL_DEFAULT_CLOCK_ACCURACY_PPM as u16,
        skip_wait_lfclk_started: mpsl::raw::MPSL_DEFAULT_SKIP_WAIT_LFCLK_STARTED != 0,
    };
    static MPSL: StaticCell<MultiprotocolServiceLayer> = StaticCell::new();
    let mpsl = MPSL.init(defmt::unwrap!(MultiprotocolServiceLayer::new(
        mpsl_p, Irqs, lfclk
    )));
    spawner.spawn(defmt::unwrap!(mpsl_task(mpsl)));

    static RNG_CELL: StaticCell<rng::Rng<'static, Async>> = StaticCell::new();
    let rng = RNG_CELL.init(rng::Rng::new(p.RNG, Irqs));
    let mut seed = [0; 32];
    rand_core::RngCore::fill_bytes(rng, &mut seed);

    let sdc_p = sdc::Peripherals::new(
        p.PPI_CH17, p.PPI_CH18, p.PPI_CH20, p.PPI_CH21, p.PPI_CH22, p.PPI_CH23, p.PPI_CH24,
        p.PPI_CH25, p.PPI_CH26, p.PPI_CH27, p.PPI_CH28, p.PPI_CH29,
    );
    static SDC_MEM: StaticCell<sdc::Mem<4720>> = StaticCell::new();
    let mem = SDC_MEM.init(sdc::Mem::new());
    let mtu = DefaultPacketPool::MTU as u16;
    let sdc = defmt::unwrap!(
        sdc::Builder::new()
            .and_then(|b| b.support_adv().support_peripheral().peripheral_count(1))
            .and_then(|b| b.buffer_cfg(mtu, mtu, L2CAP_QUEUE, L2CAP_QUEUE))
            .and_then(|b| b.build(sdc_p, rng, mpsl, mem))
    );

    let ficr = embassy_nrf::pac::FICR;
    let low = ficr.deviceaddr(0).read().to_le_bytes();
    let high = ficr.deviceaddr(1).read().to_le_bytes();
    let mut address = [low[0], low[1], low[2], low[3], high[0], high[1]];
    // A random static address: the two top bits set.
    address[5] |= 0xc0;

    let led = |pin: Peri<'static, AnyPin>| Output::new(pin, Level::High, OutputDrive::Standard);
    Board {
        sdc,
        flash: Flash::take(mpsl, p.NVMC),
        seed,
        button: Input::new(p.P0_11, Pull::Up),
        leds: [
            led(p.P0_13.into()),
            led(p.P0_14.into()),
            led(p.P0_15.into()),
            led(p.P0_16.into()),
        ],
        address,
    }
}
