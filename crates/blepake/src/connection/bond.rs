//! Bonds: what a host and a device keep after pairing so that they can
//! reconnect without the code.

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::id::{DeviceId, HostId};
use crate::wire::{DecodeError, Reader, Writer};

/// A bond between one host and one device. It holds a long-term secret:
/// zeroized on drop, and its `Debug` shows only the identities.
#[derive(Clone, PartialEq, Eq)]
pub struct Bond {
    /// The device.
    pub device_id: DeviceId,
    /// The host, as the device knows it.
    pub host_id: HostId,
    pub(crate) secret: [u8; 32],
}

impl Bond {
    /// Encoded length.
    pub const LEN: usize = 1 + DeviceId::LEN + HostId::LEN + 32;
    const FORMAT: u8 = 1;

    /// The bond a pairing yields: its secret is HKDF-Expand of `K_shared`.
    pub(crate) fn from_pairing(device_id: DeviceId, host_id: HostId, k_shared: &[u8; 32]) -> Self {
        let mut secret = [0; 32];
        Hkdf::<Sha256>::from_prk(k_shared)
            .expect("a 32-byte PRK")
            .expand(b"blepake/1 bond", &mut secret)
            .expect("32 bytes");
        Self {
            device_id,
            host_id,
            secret,
        }
    }

    /// `format (1) = 0x01 | device_id (8) | host_id (8) | secret (32)`, the
    /// layout of `PROTOCOL.md` §8.1, for the host's key store. The result is
    /// secret: store it as such.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0; Self::LEN];
        Writer::new(&mut out)
            .put(&[Self::FORMAT])
            .put(&self.device_id.0)
            .put(&self.host_id.0)
            .put(&self.secret);
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes)' form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.u8()? != Self::FORMAT {
            return Err(DecodeError::BadField("bond format"));
        }
        let bond = Self {
            device_id: DeviceId(r.array()?),
            host_id: HostId(r.array()?),
            secret: r.array()?,
        };
        r.finish()?;
        Ok(bond)
    }
}

impl Drop for Bond {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl ZeroizeOnDrop for Bond {}

impl fmt::Debug for Bond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bond")
            .field("device_id", &self.device_id)
            .field("host_id", &self.host_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bonds_round_trip_and_hide_their_secret() {
        let bond = Bond::from_pairing(DeviceId([1; 8]), HostId([2; 8]), &[3; 32]);
        assert_eq!(Bond::from_bytes(&bond.to_bytes()), Ok(bond.clone()));
        assert!(Bond::from_bytes(&bond.to_bytes()[..48]).is_err());
        let shown = std::format!("{bond:?}");
        assert!(
            shown.contains("0101010101010101") && !shown.contains("secret"),
            "{shown}"
        );
        // The secret is derived, not K_shared itself.
        assert_ne!(bond.secret, [3; 32]);
    }
}
