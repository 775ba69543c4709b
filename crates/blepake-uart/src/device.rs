//! The device's side of the framing: frames in, one link of a [`Device`]
//! stepped through the core's pump, frames out.

use core::convert::Infallible;

use blepake::pump::{self, Input, Output, Transport};
use blepake::{Connection, CryptoRngCore, Device, DeviceLink, Instant, LinkId, Storage};

use crate::frame::{Decoder, Frame, FrameType, MAX_ENCODED_LEN, MAX_VALUE_LEN, encode};

/// Where the device's frames go.
pub trait Uart {
    /// Sends `bytes`, blocking until the UART has taken them all.
    fn write(&mut self, bytes: &[u8]);
}

/// The device's end of a UART: serves one host at a time as one link of a
/// [`Device`], as a GATT server serves one central.
///
/// Feed it what the UART received ([`receive`](Self::receive)) and call
/// [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout)'s time comes. When a session ends
/// (closed or failed) its last values go out, then a Close frame, and the
/// link is removed: a UART keeps order, so nothing can overtake them.
#[derive(Clone, Default)]
pub struct DeviceSide {
    decoder: Decoder,
    link: LinkState,
}

#[derive(Clone, Copy, Default)]
struct LinkState {
    id: Option<LinkId>,
    /// The host has enabled Outbound.
    subscribed: bool,
}

impl DeviceSide {
    /// Takes bytes the UART received. Every message and event of the link
    /// goes to `on_output` (which may `send` or `close`); a board command
    /// goes to `on_board` with its number and payload.
    pub fn receive<S, R, const LINKS: usize, U, F, B>(
        &mut self,
        device: &mut Device<S, R, LINKS>,
        uart: &mut U,
        bytes: &[u8],
        now: Instant,
        on_output: &mut F,
        on_board: &mut B,
    ) where
        S: Storage,
        R: CryptoRngCore,
        U: Uart,
        F: FnMut(&mut DeviceLink<'_, S, R>, Output<'_>),
        B: FnMut(&mut Device<S, R, LINKS>, u8, &[u8]),
    {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (taken, frame) = self.decoder.push(rest);
            rest = &rest[taken..];
            if let Some(frame) = frame {
                self.link
                    .handle(frame, device, uart, now, on_output, on_board);
            }
        }
    }

    /// When the link needs [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout<S: Storage, R: CryptoRngCore, const LINKS: usize>(
        &self,
        device: &mut Device<S, R, LINKS>,
    ) -> Option<Instant> {
        device.link(self.link.id?)?.poll_timeout()
    }

    /// The time [`poll_timeout`](Self::poll_timeout) named has come.
    pub fn handle_timeout<S, R, const LINKS: usize, U, F>(
        &mut self,
        device: &mut Device<S, R, LINKS>,
        uart: &mut U,
        now: Instant,
        on_output: &mut F,
    ) where
        S: Storage,
        R: CryptoRngCore,
        U: Uart,
        F: FnMut(&mut DeviceLink<'_, S, R>, Output<'_>),
    {
        self.link.step(device, uart, now, Input::Timer, on_output);
    }

    /// Whether a host holds a link.
    pub fn is_linked(&self) -> bool {
        self.link.id.is_some()
    }
}

impl LinkState {
    fn handle<S, R, const LINKS: usize, U, F, B>(
        &mut self,
        frame: Frame<'_>,
        device: &mut Device<S, R, LINKS>,
        uart: &mut U,
        now: Instant,
        on_output: &mut F,
        on_board: &mut B,
    ) where
        S: Storage,
        R: CryptoRngCore,
        U: Uart,
        F: FnMut(&mut DeviceLink<'_, S, R>, Output<'_>),
        B: FnMut(&mut Device<S, R, LINKS>, u8, &[u8]),
    {
        match frame.kind {
            FrameType::Open => {
                // A host that opens again has left its old link.
                self.step(device, uart, now, Input::Disconnected, on_output);
                match device.accept(now) {
                    Ok(id) => {
                        *self = Self {
                            id: Some(id),
                            subscribed: false,
                        }
                    }
                    Err(_) => send(uart, FrameType::Close, &[]),
                }
            }
            FrameType::Close => self.step(device, uart, now, Input::Disconnected, on_output),
            FrameType::ReadSetupInfo => {
                send(uart, FrameType::SetupInfo, &device.setup_info().encode());
            }
            FrameType::Subscribe => {
                self.subscribed = true;
                self.step(device, uart, now, Input::Ready, on_output);
            }
            FrameType::Inbound => {
                let input = Input::Received(frame.payload);
                self.step(device, uart, now, input, on_output);
            }
            FrameType::Board(command) => on_board(device, command, frame.payload),
            // The device's own frames, echoed or misdirected.
            FrameType::SetupInfo | FrameType::Outbound => {}
        }
    }

    /// Steps the link, if there is one; ends it once its session has ended
    /// or the host has left.
    fn step<S, R, const LINKS: usize, U, F>(
        &mut self,
        device: &mut Device<S, R, LINKS>,
        uart: &mut U,
        now: Instant,
        input: Input<'_>,
        on_output: &mut F,
    ) where
        S: Storage,
        R: CryptoRngCore,
        U: Uart,
        F: FnMut(&mut DeviceLink<'_, S, R>, Output<'_>),
    {
        let Some(id) = self.id else { return };
        let ended = match device.link(id) {
            Some(mut link) => {
                let mut transport = Link {
                    uart: &mut *uart,
                    now,
                    subscribed: self.subscribed,
                };
                let Ok(()) = pump::step(&mut link, &mut transport, input, |link, output| {
                    on_output(link, output)
                });
                link.is_closed()
            }
            None => true,
        };
        if ended {
            if !matches!(input, Input::Disconnected) {
                send(uart, FrameType::Close, &[]);
            }
            device.remove(id);
            *self = Self::default();
        }
    }
}

fn send<U: Uart>(uart: &mut U, kind: FrameType, payload: &[u8]) {
    let mut out = [0; MAX_ENCODED_LEN];
    // Payloads here are Setup Info or values the pump cut to
    // MAX_VALUE_LEN: they always fit.
    if let Ok(len) = encode(kind, payload, &mut out) {
        uart.write(&out[..len]);
    }
}

/// The pump's view of the UART: values go out as Outbound frames at once.
struct Link<'a, U> {
    uart: &'a mut U,
    now: Instant,
    subscribed: bool,
}

impl<U: Uart> Transport for Link<'_, U> {
    type Error = Infallible;

    fn now(&self) -> Instant {
        self.now
    }

    fn max_value_len(&self) -> usize {
        MAX_VALUE_LEN
    }

    fn can_send(&self) -> bool {
        self.subscribed
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Infallible> {
        send(self.uart, FrameType::Outbound, value);
        Ok(())
    }

    fn subscribe(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}
