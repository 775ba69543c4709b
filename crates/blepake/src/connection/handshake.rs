//! What both ends of a handshake compute alike: the SPAKE2+ context and
//! identities, version negotiation, and the bonded-reconnect key schedule.

use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::record::expand;
use crate::crypto::kdf::KdfParams;
use crate::crypto::spake2plus::{Identities, hmac_sha256};
use crate::wire::{
    Alert, BINDER_LEN, CONFIRM_LEN, POINT_LEN, PairRequest, ResumeRequest, SUPPORTED_VERSIONS,
};

const PAIRING_LABEL: &[u8] = b"blepake/1 pairing";
const CONTEXT_LEN: usize = PAIRING_LABEL.len() + 2 + KdfParams::LEN + 8;

/// The SPAKE2+ context: the label, the version and every version the host
/// speaks, the KDF parameters the host used and the session id. Binding
/// them makes a downgrade, a parameter swap or a mix-up of sessions fail
/// the confirmations.
pub(crate) fn pairing_context(request: &PairRequest, kdf: &KdfParams) -> [u8; CONTEXT_LEN] {
    let mut context = [0; CONTEXT_LEN];
    crate::wire::Writer::new(&mut context)
        .put(PAIRING_LABEL)
        .put(&[request.head.version, request.head.supported_versions])
        .put(&kdf.encode())
        .put(&request.session_id.0);
    context
}

/// `idProver` is the host id, `idVerifier` the device id.
pub(crate) fn pairing_ids<'a>(request: &'a PairRequest, context: &'a [u8]) -> Identities<'a> {
    Identities {
        context,
        prover: &request.head.host_id.0,
        verifier: &request.head.device_id.0,
    }
}

/// The device's rule: run the handshake in the host's chosen version only
/// if it is the best both speak. The version fields are bound into the
/// keys, so an attacker who rewrites them breaks the handshake instead of
/// downgrading it.
pub(crate) fn check_version(version: u8, supported_versions: u8) -> Result<(), Alert> {
    let common = supported_versions & SUPPORTED_VERSIONS;
    let best = 8 - common.leading_zeros() as u8;
    if common != 0 && version == best {
        Ok(())
    } else {
        Err(Alert::UnsupportedVersion {
            supported_versions: SUPPORTED_VERSIONS,
        })
    }
}

/// The binder of a resume request: HMAC-SHA256 under a key expanded from
/// the bond secret, over the request's fields before the binder, cut to
/// 128 bits. It lets a device refuse strangers before any scalar
/// multiplication.
pub(crate) fn binder(bond_secret: &[u8; 32], request: &ResumeRequest) -> [u8; BINDER_LEN] {
    let mut key: [u8; 32] = expand(bond_secret, b"blepake/1 binder");
    let encoded = request.encode();
    let mut tag = hmac_sha256(&key, &encoded[..ResumeRequest::BOUND_LEN]);
    key.zeroize();
    let mut binder = [0; BINDER_LEN];
    binder.copy_from_slice(&tag[..BINDER_LEN]);
    tag.zeroize();
    binder
}

pub(crate) fn binder_matches(bond_secret: &[u8; 32], request: &ResumeRequest) -> bool {
    binder(bond_secret, request).ct_eq(&request.binder).into()
}

/// The keys of a bonded reconnect: HKDF-Extract with the bond secret as
/// salt and the ECDH x-coordinate as input, expanded with the transcript
/// hash `TH = SHA-256(request || device ephemeral)`.
pub(crate) struct ResumeKeys {
    transcript: [u8; 32],
    confirm_device: [u8; 32],
    confirm_host: [u8; 32],
    pub(crate) session_root: [u8; 32],
}

impl ResumeKeys {
    pub(crate) fn derive(
        bond_secret: &[u8; 32],
        shared_x: &[u8; 32],
        request: &ResumeRequest,
        device_ephemeral: &[u8; POINT_LEN],
    ) -> Self {
        let transcript: [u8; 32] = Sha256::new()
            .chain_update(request.encode())
            .chain_update(device_ephemeral)
            .finalize()
            .into();
        let (_, schedule) = Hkdf::<Sha256>::extract(Some(bond_secret), shared_x);
        let mut keys = Self {
            transcript,
            confirm_device: [0; 32],
            confirm_host: [0; 32],
            session_root: [0; 32],
        };
        for (label, out) in [
            (&b"blepake/1 resume device"[..], &mut keys.confirm_device),
            (b"blepake/1 resume host", &mut keys.confirm_host),
            (b"blepake/1 resume session", &mut keys.session_root),
        ] {
            schedule
                .expand_multi_info(&[label, &transcript], out)
                .expect("32 bytes");
        }
        keys
    }

    /// The device's confirmation: `HMAC(K_confirmD, TH)`.
    pub(crate) fn device_confirmation(&self) -> [u8; CONFIRM_LEN] {
        hmac_sha256(&self.confirm_device, &self.transcript)
    }

    /// The host's confirmation: `HMAC(K_confirmH, TH)`.
    pub(crate) fn host_confirmation(&self) -> [u8; CONFIRM_LEN] {
        hmac_sha256(&self.confirm_host, &self.transcript)
    }

    /// Checks a received `confirmD` in constant time.
    pub(crate) fn verify_device_confirmation(&self, received: &[u8; CONFIRM_LEN]) -> bool {
        let expected = zeroize::Zeroizing::new(self.device_confirmation());
        expected.ct_eq(received).into()
    }
}

impl Drop for ResumeKeys {
    fn drop(&mut self) {
        self.confirm_device.zeroize();
        self.confirm_host.zeroize();
        self.session_root.zeroize();
    }
}

impl ZeroizeOnDrop for ResumeKeys {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rule_takes_the_best_common_version_only() {
        assert_eq!(check_version(1, 0b1), Ok(()));
        // A host that also speaks later versions still runs 1 with this device.
        assert_eq!(check_version(1, 0b111), Ok(()));
        let refusal = Err(Alert::UnsupportedVersion {
            supported_versions: SUPPORTED_VERSIONS,
        });
        assert_eq!(check_version(2, 0b11), refusal);
        assert_eq!(check_version(1, 0b10), refusal);
        assert_eq!(check_version(0, 0), refusal);
    }
}
