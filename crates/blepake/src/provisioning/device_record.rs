//! The device record: what provisioning writes into a device's flash. It
//! holds the SPAKE2+ verifier (never the code, never `w1`).

use p256::elliptic_curve::Field;

use super::{Password, SetupInfo};
use crate::crypto::group::{self, SCALAR_LEN};
use crate::crypto::kdf::{KdfError, KdfParams};
use crate::crypto::spake2plus::VerifierSecrets;
use crate::id::DeviceId;
use crate::wire::{DecodeError, POINT_LEN, Reader, Writer};

/// A device's identity, key-derivation parameters and SPAKE2+ verifier.
/// Secret in part (`w0`): zeroized on drop; `Debug` shows nothing of it.
#[derive(Clone, Debug)]
pub struct DeviceRecord {
    /// The device's identity.
    pub device_id: DeviceId,
    /// The parameters the code was hashed with.
    pub kdf: KdfParams,
    pub(crate) verifier: VerifierSecrets,
}

impl DeviceRecord {
    /// Encoded length.
    pub const LEN: usize = 1 + DeviceId::LEN + KdfParams::LEN + SCALAR_LEN + 3 * POINT_LEN;
    const FORMAT: u8 = 1;

    /// A record from its parts.
    pub fn new(device_id: DeviceId, kdf: KdfParams, verifier: VerifierSecrets) -> Self {
        Self {
            device_id,
            kdf,
            verifier,
        }
    }

    /// Provisioning: derives the verifier from the password (for a setup
    /// code, slow and memory-hard).
    pub fn provision(
        password: &Password,
        device_id: DeviceId,
        kdf: KdfParams,
    ) -> Result<Self, KdfError> {
        let secrets = kdf.derive(password, &device_id)?;
        Ok(Self::new(device_id, kdf, secrets.verifier()))
    }

    /// What the device publishes for hosts (the `Setup Info` characteristic).
    pub fn setup_info(&self) -> SetupInfo {
        SetupInfo {
            device_id: self.device_id,
            kdf: self.kdf,
        }
    }

    /// `format (1) | device_id (8) | kdf (23) | w0 (32, big-endian) | L | w0·M | w0·N`
    /// with the three points compressed (33 each).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        let w0 = zeroize::Zeroizing::new(group::encode_scalar(&self.verifier.w0));
        Writer::new(&mut out)
            .put(&[Self::FORMAT])
            .put(&self.device_id.0)
            .put(&self.kdf.encode())
            .put(&w0[..])
            .put(&group::encode_compressed(&self.verifier.l))
            .put(&group::encode_compressed(&self.verifier.w0_m))
            .put(&group::encode_compressed(&self.verifier.w0_n));
        out
    }

    /// Reads a record, validating the parameters, the scalar and every
    /// point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.u8()? != Self::FORMAT {
            return Err(DecodeError::BadField("device record format"));
        }
        let device_id = DeviceId(r.array()?);
        let kdf = KdfParams::read(&mut r)?;
        let w0 = zeroize::Zeroizing::new(r.array::<SCALAR_LEN>()?);
        let w0 = group::decode_scalar(&w0)
            .filter(|w0| !bool::from(w0.is_zero()))
            .ok_or(DecodeError::BadField("w0"))?;
        let mut point = |name| {
            r.array().and_then(|bytes| {
                group::decode_compressed(&bytes).map_err(|_| DecodeError::BadField(name))
            })
        };
        let verifier = VerifierSecrets {
            w0,
            l: point("L")?,
            w0_m: point("w0·M")?,
            w0_n: point("w0·N")?,
        };
        r.finish()?;
        Ok(Self {
            device_id,
            kdf,
            verifier,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::spake2plus::ProverSecrets;

    #[test]
    fn records_round_trip_and_reject_bad_points() {
        let secrets = ProverSecrets::from_pbkdf_output(&[0x42; 80]).unwrap();
        let record = DeviceRecord::new(
            DeviceId([9; 8]),
            KdfParams::recommended([1; 16]),
            secrets.verifier(),
        );
        let bytes = record.to_bytes();
        let decoded = DeviceRecord::from_bytes(&bytes).unwrap();
        assert_eq!(decoded.to_bytes(), bytes);
        assert_eq!(decoded.verifier.l, secrets.verifier().l);

        let l_offset = 1 + 8 + KdfParams::LEN + SCALAR_LEN;
        let mut bad = bytes;
        bad[l_offset] = 0x05;
        assert_eq!(
            DeviceRecord::from_bytes(&bad).unwrap_err(),
            DecodeError::BadField("L")
        );
        let mut zero_w0 = bytes;
        zero_w0[l_offset - SCALAR_LEN..l_offset].fill(0);
        assert_eq!(
            DeviceRecord::from_bytes(&zero_w0).unwrap_err(),
            DecodeError::BadField("w0")
        );
        assert_eq!(
            DeviceRecord::from_bytes(&bytes[..100]).unwrap_err(),
            DecodeError::Truncated
        );
    }

    #[test]
    fn debug_hides_the_verifier() {
        let secrets = ProverSecrets::from_pbkdf_output(&[0x42; 80]).unwrap();
        let record = DeviceRecord::new(
            DeviceId([9; 8]),
            KdfParams::recommended([1; 16]),
            secrets.verifier(),
        );
        let shown = std::format!("{record:?}");
        assert!(shown.contains("VerifierSecrets(..)"), "{shown}");
    }
}
