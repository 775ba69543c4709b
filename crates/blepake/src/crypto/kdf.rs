//! The derivation of SPAKE2+'s `w0` and `w1` from what the label carries,
//! and the parameters that travel with every device: Argon2id, slow and
//! memory-hard, for an 8-digit setup code; HKDF for a 128-bit QR secret,
//! which needs no stretching.
//!
//! Only hosts and provisioning derive; a device keeps the parameters in its
//! record so the host can learn them, and never derives anything. Argon2id
//! needs feature `kdf` (it allocates its work area).

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::crypto::spake2plus::ProverSecrets;
use crate::id::DeviceId;
use crate::provisioning::Password;
use crate::wire::{DecodeError, Reader, Writer};

/// How the SPAKE2+ secrets are derived from the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KdfAlgorithm {
    /// Argon2id, version 0x13 (RFC 9106), over an 8-digit setup code.
    Argon2id,
    /// HKDF-SHA256 (RFC 5869), over a 128-bit QR secret: the secret's
    /// entropy, not the derivation, is what resists guessing.
    HkdfSha256,
}

impl KdfAlgorithm {
    fn id(self) -> u8 {
        match self {
            Self::Argon2id => 1,
            Self::HkdfSha256 => 2,
        }
    }
}

/// The derivation's parameters, chosen per device at provisioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KdfParams {
    /// The algorithm.
    pub algorithm: KdfAlgorithm,
    /// Memory, in KiB (Argon2id; 0 for HKDF).
    pub memory_kib: u32,
    /// Passes over memory (Argon2id; 0 for HKDF).
    pub iterations: u8,
    /// Lanes (Argon2id; 0 for HKDF).
    pub parallelism: u8,
    /// A random salt, unique per device.
    pub salt: [u8; 16],
}

/// Why parameters were refused or the derivation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KdfError {
    /// Parameters outside what a host accepts: a forged QR code must not be
    /// able to make a host spend gigabytes or minutes.
    OutOfRange,
    /// The password is not of the kind the parameters derive from (a setup
    /// code for Argon2id, a QR secret for HKDF).
    WrongPasswordKind,
    /// Argon2id is not built in (feature `kdf`).
    Unsupported,
}

impl fmt::Display for KdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OutOfRange => "key-derivation parameters out of range",
            Self::WrongPasswordKind => {
                "this device pairs from a setup code and its QR secret is not one, or the reverse"
            }
            Self::Unsupported => "Argon2id is not built in (feature kdf)",
        })
    }
}

impl core::error::Error for KdfError {}

impl KdfParams {
    /// Encoded length.
    pub const LEN: usize = 23;
    /// Most memory a host agrees to spend.
    pub const MAX_MEMORY_KIB: u32 = 1 << 20;
    /// Most passes a host agrees to make.
    pub const MAX_ITERATIONS: u8 = 32;
    /// Most lanes.
    pub const MAX_PARALLELISM: u8 = 16;

    /// The default for a setup code: Argon2id with 64 MiB, 3 passes and 4
    /// lanes, the second recommended option of RFC 9106 §4, for hosts with
    /// little memory.
    pub fn recommended(salt: [u8; 16]) -> Self {
        Self {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
            salt,
        }
    }

    /// The parameters for a QR secret: HKDF-SHA256.
    pub fn for_qr_secret(salt: [u8; 16]) -> Self {
        Self {
            algorithm: KdfAlgorithm::HkdfSha256,
            memory_kib: 0,
            iterations: 0,
            parallelism: 0,
            salt,
        }
    }

    /// Checks the bounds of `PROTOCOL.md` §4.3, which a host enforces before
    /// deriving and every reader of Setup Info, a QR payload or a device
    /// record enforces on reading.
    pub fn check(&self) -> Result<(), KdfError> {
        let lanes = u32::from(self.parallelism);
        let in_range = match self.algorithm {
            KdfAlgorithm::Argon2id => {
                (1..=Self::MAX_PARALLELISM).contains(&self.parallelism)
                    && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
                    && (8 * lanes..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib)
            }
            KdfAlgorithm::HkdfSha256 => {
                self.memory_kib == 0 && self.iterations == 0 && self.parallelism == 0
            }
        };
        if in_range {
            Ok(())
        } else {
            Err(KdfError::OutOfRange)
        }
    }

    /// `algorithm (1) | memory_kib (4, LE) | iterations (1) | parallelism (1) | salt (16)`.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        Writer::new(&mut out)
            .put(&[self.algorithm.id()])
            .put(&self.memory_kib.to_le_bytes())
            .put(&[self.iterations, self.parallelism])
            .put(&self.salt);
        out
    }

    /// Reads the encoding, refusing an unknown algorithm and parameters
    /// out of range.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let algorithm = match r.u8()? {
            1 => KdfAlgorithm::Argon2id,
            2 => KdfAlgorithm::HkdfSha256,
            _ => return Err(DecodeError::BadField("key-derivation algorithm")),
        };
        let params = Self {
            algorithm,
            memory_kib: r.u32_le()?,
            iterations: r.u8()?,
            parallelism: r.u8()?,
            salt: r.array()?,
        };
        params
            .check()
            .map_err(|_| DecodeError::BadField("key-derivation parameters"))?;
        Ok(params)
    }

    /// Derives `w0` and `w1` from the password, per RFC 9383 §3.2:
    /// `w0s || w1s = KDF(len(pw) || pw || len(idProver) || idProver ||
    /// len(idVerifier) || idVerifier)`, with the code's eight ASCII digits or
    /// the secret's 16 bytes as `pw`, an empty `idProver` (a host's identity
    /// is not known at provisioning) and the device id as `idVerifier`.
    pub fn derive(
        &self,
        password: &Password,
        device_id: &DeviceId,
    ) -> Result<ProverSecrets, KdfError> {
        self.check()?;
        let mut pw = Zeroizing::new([0u8; 16]);
        let pw_len = match (self.algorithm, password) {
            (KdfAlgorithm::Argon2id, Password::Code(code)) => {
                pw[..8].copy_from_slice(&code.digits());
                8
            }
            (KdfAlgorithm::HkdfSha256, Password::Secret(secret)) => {
                pw.copy_from_slice(secret.as_bytes());
                16
            }
            _ => return Err(KdfError::WrongPasswordKind),
        };
        let mut input = Zeroizing::new([0u8; 8 + 16 + 8 + 8 + 8]);
        let len = {
            let mut w = Writer::new(&mut input[..]);
            w.put(&(pw_len as u64).to_le_bytes())
                .put(&pw[..pw_len])
                .put(&0u64.to_le_bytes())
                .put(&8u64.to_le_bytes())
                .put(&device_id.0);
            w.len()
        };
        let mut output = Zeroizing::new([0u8; 80]);
        match self.algorithm {
            KdfAlgorithm::Argon2id => self.argon2id(&input[..len], &mut output)?,
            KdfAlgorithm::HkdfSha256 => Hkdf::<Sha256>::new(Some(&self.salt), &input[..len])
                .expand(b"blepake/1 w0w1", &mut output[..])
                .expect("80 bytes is far below HKDF's limit"),
        }
        // A zero scalar comes out with probability 2^-255.
        ProverSecrets::from_pbkdf_output(&output).map_err(|_| KdfError::OutOfRange)
    }

    #[cfg(feature = "kdf")]
    fn argon2id(&self, input: &[u8], output: &mut [u8; 80]) -> Result<(), KdfError> {
        use argon2::{Algorithm, Argon2, Params, Version};
        let params = Params::new(
            self.memory_kib,
            u32::from(self.iterations),
            u32::from(self.parallelism),
            Some(80),
        )
        .map_err(|_| KdfError::OutOfRange)?;
        // With argon2's `zeroize` feature its work area is wiped after use.
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(input, &self.salt, output)
            .map_err(|_| KdfError::OutOfRange)
    }

    #[cfg(not(feature = "kdf"))]
    fn argon2id(&self, _input: &[u8], _output: &mut [u8; 80]) -> Result<(), KdfError> {
        Err(KdfError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l_of(secrets: &ProverSecrets) -> [u8; 33] {
        crate::crypto::group::encode_compressed(&secrets.verifier().l)
    }

    #[test]
    fn a_qr_secret_derives_with_hkdf_as_documented() {
        use crate::provisioning::QrSecret;
        // The layout of PROTOCOL.md §5.1, built here byte by byte.
        let secret = QrSecret::from_bytes([0x5e; 16]);
        let device_id = DeviceId([0xd1, 0xce, 1, 2, 3, 4, 5, 6]);
        let params = KdfParams::for_qr_secret([9; 16]);
        let mut input = std::vec::Vec::new();
        input.extend_from_slice(&16u64.to_le_bytes());
        input.extend_from_slice(&[0x5e; 16]);
        input.extend_from_slice(&0u64.to_le_bytes());
        input.extend_from_slice(&8u64.to_le_bytes());
        input.extend_from_slice(&device_id.0);
        let mut output = [0u8; 80];
        Hkdf::<Sha256>::new(Some(&[9; 16]), &input)
            .expand(b"blepake/1 w0w1", &mut output)
            .unwrap();
        let expected = ProverSecrets::from_pbkdf_output(&output).unwrap();
        let derived = params
            .derive(&Password::Secret(secret.clone()), &device_id)
            .unwrap();
        assert_eq!(l_of(&derived), l_of(&expected));
        // A setup code is refused by HKDF parameters, and the reverse.
        let code = crate::SetupCode::new(31_415_926).unwrap();
        assert_eq!(
            params
                .derive(&Password::Code(code), &device_id)
                .unwrap_err(),
            KdfError::WrongPasswordKind
        );
        assert_eq!(
            KdfParams::recommended([1; 16])
                .derive(&Password::Secret(secret), &device_id)
                .unwrap_err(),
            KdfError::WrongPasswordKind
        );
    }

    #[cfg(feature = "kdf")]
    mod derivation {
        use super::*;
        use crate::provisioning::SetupCode;
        use argon2::{Algorithm, Argon2, Params, Version};

        fn password(value: u32) -> Password {
            Password::Code(SetupCode::new(value).unwrap())
        }

        fn cheap(salt: u8) -> KdfParams {
            KdfParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
                ..KdfParams::recommended([salt; 16])
            }
        }

        #[test]
        fn follows_the_documented_input_layout() {
            // The layout of PROTOCOL.md, built here byte by byte.
            let code = password(31_415_926);
            let device_id = DeviceId([0xd1, 0xce, 1, 2, 3, 4, 5, 6]);
            let params = cheap(7);
            let mut input = std::vec::Vec::new();
            input.extend_from_slice(&8u64.to_le_bytes());
            input.extend_from_slice(b"31415926");
            input.extend_from_slice(&0u64.to_le_bytes());
            input.extend_from_slice(&8u64.to_le_bytes());
            input.extend_from_slice(&device_id.0);
            let mut output = [0u8; 80];
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(64, 1, 1, Some(80)).unwrap(),
            )
            .hash_password_into(&input, &[7; 16], &mut output)
            .unwrap();
            let expected = ProverSecrets::from_pbkdf_output(&output).unwrap();
            assert_eq!(
                l_of(&params.derive(&code, &device_id).unwrap()),
                l_of(&expected)
            );
        }

        #[test]
        fn every_input_changes_the_secrets() {
            let code = password(31_415_926);
            let other_code = password(31_415_927);
            let device = DeviceId([1; 8]);
            let base = l_of(&cheap(1).derive(&code, &device).unwrap());
            assert_eq!(base, l_of(&cheap(1).derive(&code, &device).unwrap()));
            assert_ne!(base, l_of(&cheap(1).derive(&other_code, &device).unwrap()));
            assert_ne!(
                base,
                l_of(&cheap(1).derive(&code, &DeviceId([2; 8])).unwrap())
            );
            assert_ne!(base, l_of(&cheap(2).derive(&code, &device).unwrap()));
            let more_passes = KdfParams {
                iterations: 2,
                ..cheap(1)
            };
            assert_ne!(base, l_of(&more_passes.derive(&code, &device).unwrap()));
        }

        #[test]
        fn refuses_out_of_range_parameters_before_working() {
            let code = password(31_415_926);
            let huge = KdfParams {
                memory_kib: u32::MAX,
                ..cheap(1)
            };
            assert_eq!(
                huge.derive(&code, &DeviceId([1; 8])).unwrap_err(),
                KdfError::OutOfRange
            );
        }
    }

    #[test]
    fn params_round_trip_and_out_of_range_ones_do_not_read() {
        for params in [
            KdfParams::recommended([0xab; 16]),
            KdfParams::for_qr_secret([0xcd; 16]),
        ] {
            let bytes = params.encode();
            let mut r = Reader::new(&bytes);
            assert_eq!(KdfParams::read(&mut r), Ok(params));
            assert!(r.finish().is_ok());
        }
        let bytes = KdfParams::recommended([0xab; 16]).encode();
        let mut bad = bytes;
        bad[0] = 9;
        assert!(KdfParams::read(&mut Reader::new(&bad)).is_err());
        // p = 0, t = 33, m > 2^20: each refused on reading (PROTOCOL.md §4.3).
        for (offset, value) in [(6, 0), (5, 33), (3, 0x11)] {
            let mut bad = bytes;
            bad[offset] = value;
            assert_eq!(
                KdfParams::read(&mut Reader::new(&bad)),
                Err(DecodeError::BadField("key-derivation parameters")),
                "byte {offset} = {value}"
            );
        }
        // HKDF parameters carry no Argon2id figures.
        let mut bad = KdfParams::for_qr_secret([0; 16]).encode();
        bad[5] = 1;
        assert!(KdfParams::read(&mut Reader::new(&bad)).is_err());
    }

    #[test]
    fn hosts_refuse_extreme_parameters() {
        let good = KdfParams::recommended([0; 16]);
        assert_eq!(good.check(), Ok(()));
        for bad in [
            KdfParams {
                memory_kib: KdfParams::MAX_MEMORY_KIB + 1,
                ..good
            },
            KdfParams {
                memory_kib: 8 * 4 - 1,
                ..good
            },
            KdfParams {
                iterations: 0,
                ..good
            },
            KdfParams {
                iterations: KdfParams::MAX_ITERATIONS + 1,
                ..good
            },
            KdfParams {
                parallelism: 0,
                ..good
            },
            KdfParams {
                parallelism: KdfParams::MAX_PARALLELISM + 1,
                ..good
            },
        ] {
            assert_eq!(bad.check(), Err(KdfError::OutOfRange), "{bad:?}");
        }
    }
}
