//! blepake: a BLE link authenticated and encrypted with the static setup
//! code printed on a device, without OS pairing.
//!
//! The host (which knows the code) and the device (which stores only a
//! SPAKE2+ verifier) run SPAKE2+ (RFC 9383, P-256/SHA-256) over plain GATT
//! in three messages, then exchange AES-128-CCM records. The device limits
//! guesses persistently; a bond makes later reconnects one round trip with
//! no code. `PROTOCOL.md` is the wire specification.
//!
//! This crate is the protocol core: `no_std`, no allocation, sans-IO.
//! Bytes and time go in, bytes and events come out; the clock, the radio,
//! flash ([`Storage`]) and randomness belong to the caller:
//!
//! ```text
//! conn.handle_input(value, now)      // a received GATT value
//! conn.handle_timeout(now)           // when poll_timeout() says
//! while let Some(n) = conn.poll_transmit(&mut att)  { write/notify att[..n] }
//! while let Some(event) = conn.poll_event()         { ... }
//! while let Some(message) = conn.recv(&mut buf)     { ... }
//! ```
//!
//! Feature `kdf` adds the Argon2id derivation of SPAKE2+ secrets from a
//! code, for hosts and provisioning (it allocates); device firmware
//! builds without it.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

mod base45;
mod bond;
mod channel;
mod code;
mod connection;
mod device;
mod device_record;
mod error;
mod group;
mod handshake;
mod hex;
mod host;
mod id;
mod kdf;
mod record;
mod setup;
pub mod spake2plus;
mod storage;
mod time;
pub mod wire;

pub use bond::Bond;
pub use channel::{Event, MAX_INPUT_LEN, Mode, SessionInfo};
pub use code::{CodeError, ManualCode, SetupCode};
pub use connection::Connection;
pub use device::{AttemptStatus, Device, DeviceConnection, DevicePolicy, DeviceSide};
pub use device_record::DeviceRecord;
pub use error::{Error, InputError, ProtocolViolation, SendError};
pub use group::InvalidPoint;
pub use host::{HostConfig, HostConnection, HostSide};
pub use id::{DeviceId, HostId, SessionId};
pub use kdf::{KdfAlgorithm, KdfError, KdfParams};
pub use record::MAX_RECORDS_PER_KEY;
pub use setup::{PayloadError, PayloadText, SetupInfo, SetupPayload};
pub use storage::{MAX_VALUE_LEN, Slot, Storage};
pub use time::Instant;
pub use wire::{Alert, MAX_MESSAGE_LEN};

/// The RNG trait the core takes (rand_core 0.6).
pub use rand_core::CryptoRngCore;

/// The GATT service of `PROTOCOL.md` §2, as 128-bit UUIDs.
pub mod gatt {
    /// The blepake primary service.
    pub const SERVICE: u128 = 0x1c1e76e5_92cf_4ae5_aa94_909915550869;
    /// Inbound: the host-to-device stream (Write, Write Without Response).
    pub const INBOUND: u128 = 0x427dd4f3_f491_4620_9a06_0e4c4ccaf1c0;
    /// Outbound: the device-to-host stream (Notify).
    pub const OUTBOUND: u128 = 0xc269ceba_ed49_40a0_8e22_2b1cdfe8736f;
    /// Setup Info (Read): the device's [`SetupInfo`](crate::SetupInfo).
    pub const SETUP_INFO: u128 = 0x52a8b660_888b_47d4_a956_04bb07f2ab3d;
}
