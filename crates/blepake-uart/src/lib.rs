//! blepake over a UART (`PROTOCOL.md` §16): the GATT service's two streams
//! and its Setup Info, carried in COBS frames with a CRC-16, and the
//! device's side of them.
//!
//! A UART is not GATT: it has no connections, no characteristics and no
//! CCCD. The framing stands in for what blepake uses of GATT: a host
//! opens and closes a link, reads Setup Info, enables Outbound and writes
//! Inbound values; the device sends Outbound values. Frames carry no
//! protocol logic: the device's side ([`DeviceSide`]) is a thin adapter
//! that feeds the core's [`pump`](blepake::pump), and a host drives its
//! `HostConnection` through the same pump over the same frames.
//!
//! `no_std`, no allocation: firmware and hosts share this crate.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod device;
mod frame;

pub use device::{DeviceSide, Uart};
pub use frame::{Decoder, EncodeError, Frame, FrameType, MAX_ENCODED_LEN, MAX_VALUE_LEN, encode};
