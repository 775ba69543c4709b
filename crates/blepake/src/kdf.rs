//! The slow, memory-hard derivation of SPAKE2+'s `w0` and `w1` from a setup
//! code, and the parameters that travel with every device.
//!
//! Only hosts and provisioning run the derivation (feature `kdf`); a device
//! keeps the parameters in its record so the host can learn them, and
//! never derives anything from a code.

use core::fmt;

use crate::wire::{DecodeError, Reader, Writer};

/// A password-hashing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfAlgorithm {
    /// Argon2id, version 0x13 (RFC 9106).
    Argon2id,
}

impl KdfAlgorithm {
    fn id(self) -> u8 {
        match self {
            Self::Argon2id => 1,
        }
    }
}

/// The derivation's parameters, chosen per device at provisioning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// The algorithm.
    pub algorithm: KdfAlgorithm,
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u8,
    /// Lanes.
    pub parallelism: u8,
    /// A random salt, unique per device.
    pub salt: [u8; 16],
}

/// Why parameters were refused or the derivation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KdfError {
    /// Parameters outside what a host accepts: a forged QR code must not be
    /// able to make a host spend gigabytes or minutes.
    OutOfRange,
}

impl fmt::Display for KdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange => f.write_str("key-derivation parameters out of range"),
        }
    }
}

impl KdfParams {
    /// Encoded length.
    pub const LEN: usize = 23;
    /// Most memory a host agrees to spend.
    pub const MAX_MEMORY_KIB: u32 = 1 << 20;
    /// Most passes a host agrees to make.
    pub const MAX_ITERATIONS: u8 = 32;
    /// Most lanes.
    pub const MAX_PARALLELISM: u8 = 16;

    /// The default: Argon2id with 64 MiB, 3 passes and 4 lanes, the second
    /// recommended option of RFC 9106 §4, for hosts with little memory.
    pub fn recommended(salt: [u8; 16]) -> Self {
        Self {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 4,
            salt,
        }
    }

    /// Checks the bounds a host enforces before deriving.
    pub fn check(&self) -> Result<(), KdfError> {
        let lanes = u32::from(self.parallelism);
        let in_range = (1..=Self::MAX_PARALLELISM).contains(&self.parallelism)
            && (1..=Self::MAX_ITERATIONS).contains(&self.iterations)
            && (8 * lanes..=Self::MAX_MEMORY_KIB).contains(&self.memory_kib);
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

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let algorithm = match r.u8()? {
            1 => KdfAlgorithm::Argon2id,
            _ => return Err(DecodeError::BadField("key-derivation algorithm")),
        };
        Ok(Self {
            algorithm,
            memory_kib: r.u32_le()?,
            iterations: r.u8()?,
            parallelism: r.u8()?,
            salt: r.array()?,
        })
    }
}

#[cfg(feature = "kdf")]
mod derive {
    use argon2::{Algorithm, Argon2, Params, Version};
    use zeroize::Zeroizing;

    use super::{KdfAlgorithm, KdfError, KdfParams};
    use crate::code::SetupCode;
    use crate::id::DeviceId;
    use crate::spake2plus::ProverSecrets;

    impl KdfParams {
        /// Derives `w0` and `w1` from a setup code, per RFC 9383 §3.2:
        /// `w0s || w1s = PBKDF(len(pw) || pw || len(idProver) || idProver ||
        /// len(idVerifier) || idVerifier)`, with the code's eight ASCII
        /// digits as `pw`, an empty `idProver` (a host's identity is not
        /// known at provisioning) and the device id as `idVerifier`.
        pub fn derive(
            &self,
            code: &SetupCode,
            device_id: &DeviceId,
        ) -> Result<ProverSecrets, KdfError> {
            self.check()?;
            let KdfAlgorithm::Argon2id = self.algorithm;
            let params = Params::new(
                self.memory_kib,
                u32::from(self.iterations),
                u32::from(self.parallelism),
                Some(80),
            )
            .map_err(|_| KdfError::OutOfRange)?;
            let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);

            let digits = Zeroizing::new(code.digits());
            let mut input = Zeroizing::new([0u8; 8 + 8 + 8 + 8 + 8]);
            input[..8].copy_from_slice(&8u64.to_le_bytes());
            input[8..16].copy_from_slice(&digits[..]);
            input[16..24].copy_from_slice(&0u64.to_le_bytes());
            input[24..32].copy_from_slice(&8u64.to_le_bytes());
            input[32..40].copy_from_slice(&device_id.0);

            let mut output = Zeroizing::new([0u8; 80]);
            argon2
                .hash_password_into(&input[..], &self.salt, &mut output[..])
                .map_err(|_| KdfError::OutOfRange)?;
            // A zero scalar comes out with probability 2^-255.
            ProverSecrets::from_pbkdf_output(&output).map_err(|_| KdfError::OutOfRange)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "kdf")]
    mod derivation {
        use super::*;
        use crate::code::SetupCode;
        use crate::id::DeviceId;
        use crate::spake2plus::ProverSecrets;
        use argon2::{Algorithm, Argon2, Params, Version};

        fn cheap(salt: u8) -> KdfParams {
            KdfParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
                ..KdfParams::recommended([salt; 16])
            }
        }

        fn l_of(secrets: &ProverSecrets) -> [u8; 33] {
            crate::group::encode_compressed(&secrets.verifier().l)
        }

        #[test]
        fn follows_the_documented_input_layout() {
            // The layout of PROTOCOL.md, built here byte by byte.
            let code = SetupCode::new(31_415_926).unwrap();
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
            let code = SetupCode::new(31_415_926).unwrap();
            let other_code = SetupCode::new(31_415_927).unwrap();
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
            let code = SetupCode::new(31_415_926).unwrap();
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
    fn params_round_trip() {
        let params = KdfParams::recommended([0xab; 16]);
        let bytes = params.encode();
        let mut r = Reader::new(&bytes);
        assert_eq!(KdfParams::read(&mut r), Ok(params));
        assert!(r.finish().is_ok());
        let mut bad = bytes;
        bad[0] = 9;
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
