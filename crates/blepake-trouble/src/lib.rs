//! blepake over [trouble-host](https://docs.rs/trouble-host), the async
//! Rust BLE host: the device as a GATT server (a peripheral) and the host
//! as a central, both generic over the controller (`bt_hci`'s
//! `Controller`): an nRF52840 with nrf-sdc, or an HCI controller over H4
//! on a serial port or a TCP socket ([`tcp`], feature `tcp`).
//!
//! Each side is a thin adapter: it moves ATT values between trouble-host
//! and the core's [`pump`](blepake::pump), and holds no protocol logic.
//! The device serves the GATT service of `PROTOCOL.md` §2 ([`device`]);
//! the host scans for it, connects and writes Inbound ([`host`]).
//!
//! What the application does with a session (send, receive, close) it says
//! through an [`Application`], which both sides share.
//!
//! trouble-host is built without its LE security (blepake needs no OS
//! pairing), so an image holds one P-256, the core's.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

pub mod client;
pub mod device;
#[cfg(feature = "host")]
pub mod host;
mod outbox;
#[cfg(feature = "tcp")]
pub mod tcp;

use blepake::Connection;
use blepake::pump::Output;

pub use trouble_host;

/// What the application does with a session; both sides take one.
pub trait Application {
    /// Gets every event and message of the connection, and
    /// [`Output::Writable`] when there is room to send more; it may `send`
    /// or `close` at once.
    fn on_output<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>);

    /// Resolves when the application wants to act on its own (a line typed,
    /// a sensor read): the adapter then calls [`act`](Self::act). It is
    /// dropped when anything else happens first, so it must lose nothing
    /// when dropped (a channel's `receive` does not).
    fn wait(&mut self) -> impl core::future::Future<Output = ()> {
        core::future::pending()
    }

    /// Acts after [`wait`](Self::wait) resolved: `send`, `close`.
    fn act<C: Connection + ?Sized>(&mut self, conn: &mut C) {
        let _ = conn;
    }
}

/// The core's clock from embassy-time's (milliseconds since boot): give
/// it to `HostConnection::pair` and `resume`, and `Device::new`.
pub fn now() -> blepake::Instant {
    blepake::Instant::from_millis(embassy_time::Instant::now().as_millis())
}

/// embassy-time's instant for a core deadline.
pub(crate) fn deadline(at: blepake::Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_millis(at.as_millis())
}

/// Waits for a core deadline, or forever when there is none.
pub(crate) async fn timer(at: Option<blepake::Instant>) {
    match at {
        Some(at) => embassy_time::Timer::at(deadline(at)).await,
        None => core::future::pending().await,
    }
}
