//! The cryptography under the protocol: P-256 encodings, SPAKE2+ (RFC
//! 9383) and the derivation of its secrets from a setup code or a QR
//! secret. Nothing here has a p256 type in the crate's public API.

pub(crate) mod group;
pub(crate) mod kdf;
pub(crate) mod spake2plus;

#[cfg(test)]
mod differential_tests;
