//! blepake: a BLE link authenticated and encrypted with the static setup
//! code printed on a device, without OS pairing.
//!
//! The host (which knows the code) and the device (which stores only a
//! SPAKE2+ verifier) run SPAKE2+ (RFC 9383, P-256/SHA-256) over plain GATT
//! in three messages, then exchange AES-128-CCM records. The device limits
//! guesses persistently and answers pairing only while its pairing window
//! is open; a bond makes later reconnects one round trip with no code.
//! `PROTOCOL.md` is the wire specification.
//!
//! This crate is the protocol core: `no_std`, no allocation, sans-IO.
//! Bytes and time go in, bytes and events come out; the clock, the radio,
//! flash ([`Storage`]) and randomness belong to the caller. Its layers:
//!
//! - [`wire`]: the frames and messages of `PROTOCOL.md`, as pure codecs;
//! - connections: [`HostConnection`] and a [`Device`]'s [`DeviceLink`]s,
//!   both driven through the one [`Connection`] trait, with records, bonds,
//!   attempt limiting and the pairing window;
//! - [`pump`]: the one loop every transport adapter runs over a
//!   [`Transport`](pump::Transport);
//! - provisioning: [`SetupCode`], [`QrSecret`], [`SetupInfo`],
//!   [`SetupPayload`] and the [`DeviceRecord`] a device keeps in flash.
//!
//! `examples/pair.rs` pairs a host and a device in one process, talks,
//! closes and resumes.
//!
//! Features: `kdf` adds Argon2id, the derivation of SPAKE2+ secrets from a
//! setup code, for hosts and provisioning (it allocates); `std` adds
//! `MemoryStorage` (with fault injection, for tests), `FileStorage` and the
//! pump's `MemoryTransport`;
//! `defmt` derives `defmt::Format` for firmware logs; `fast-p256` runs the
//! scalar multiplications with p256-cm4's Cortex-M4 assembly on 32-bit Arm
//! (bit for bit the same points); `self-test` adds the module `self_test`, the RFC
//! 9383 vector through the device's path, for firmware to run. Device
//! firmware needs none of them.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod connection;
mod crypto;
mod error;
mod hex;
mod id;
mod provisioning;
pub mod pump;
#[cfg(feature = "self-test")]
pub mod self_test;
mod storage;
mod time;
pub mod wire;

pub use connection::bond::Bond;
pub use connection::device::{
    AttemptStatus, Bonds, Device, DeviceLink, DevicePolicy, LinkError, LinkId, MAX_BONDS,
    PairingWindow,
};
pub use connection::host::{HostConfig, HostConnection};
pub use connection::record::MAX_RECORDS_PER_KEY;
pub use connection::{Connection, Event, MAX_INPUT_LEN, Mode, Role, SessionInfo, State};
pub use crypto::kdf::{KdfAlgorithm, KdfError, KdfParams};
pub use crypto::spake2plus::{ProverSecrets, Spake2Error, VerifierSecrets};
pub use error::{Error, InputError, ProtocolViolation, SendError};
pub use id::{DeviceId, HostId, SessionId};
pub use provisioning::{
    CodeError, DeviceRecord, ManualCode, Password, PayloadError, PayloadText, QrSecret, SetupCode,
    SetupInfo, SetupPayload,
};
#[cfg(feature = "std")]
pub use storage::{FileStorage, InjectedFault, MemoryStorage, WriteFault};
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
