//! What firmware checks for itself (feature `self-test`): the RFC 9383
//! vector through the device's own path, and the scalar multiplications
//! behind it, so that an image built with `fast-p256` shows on its target
//! that it computes what p256 does.

use p256::NonZeroScalar;

use crate::crypto::group::{self, UNCOMPRESSED_LEN};
use crate::crypto::spake2plus::{self, Identities, Prover, ProverSecrets};

/// The RFC 9383 Appendix C P-256/SHA-256 vector, as the tests read it.
const VECTOR: &str = include_str!("../tests/vectors/rfc9383-p256-sha256.txt");

fn field(name: &str) -> Option<&'static str> {
    VECTOR
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.split_once(" = ").filter(|(key, _)| *key == name))
        .map(|(_, value)| value)
}

fn hex<const N: usize>(name: &str) -> Option<[u8; N]> {
    crate::hex::decode(field(name)?)
}

fn quoted(name: &str) -> Option<&'static [u8]> {
    let value = field(name)?.strip_prefix("b'")?.strip_suffix('\'')?;
    Some(value.as_bytes())
}

/// Runs the RFC 9383 P-256 vector: `L` from `w1`, the prover's `shareP`,
/// then the verifier's turn as a device takes it (`shareV`, both
/// confirmations and `K_shared`). True if every value matches.
pub fn rfc9383_vector() -> bool {
    check_vector().is_some()
}

fn check_vector() -> Option<()> {
    let ids = Identities {
        context: quoted("Context")?,
        prover: quoted("idProver")?,
        verifier: quoted("idVerifier")?,
    };
    let secrets = ProverSecrets::from_scalars(&hex("w0")?, &hex("w1")?)?;
    let verifier = secrets.verifier();
    let x = NonZeroScalar::new(group::decode_scalar(&hex("x")?)?).into_option()?;
    let y = NonZeroScalar::new(group::decode_scalar(&hex("y")?)?).into_option()?;
    let prover = Prover::new(&secrets, &x).ok()?;
    let share_p = group::encode_uncompressed(prover.share());
    let (share_v, keys) = spake2plus::respond(&verifier, &ids, &y, prover.share()).ok()?;
    let matches = group::encode_uncompressed(&verifier.l) == hex::<UNCOMPRESSED_LEN>("L")?
        && share_p == hex::<UNCOMPRESSED_LEN>("shareP")?
        && group::encode_uncompressed(&share_v) == hex::<UNCOMPRESSED_LEN>("shareV")?
        && *keys.confirm_p() == hex::<32>("HMAC(K_confirmP, shareV)")?
        && *keys.confirm_v() == hex::<32>("HMAC(K_confirmV, shareP)")?
        && *keys.shared_key() == hex::<32>("K_shared")?;
    matches.then_some(())
}

/// `k·P` through the crate's multiplication, for `P` uncompressed and `k`
/// big-endian (below the group order): the product uncompressed, or `None`
/// for an invalid input or the identity.
pub fn mul(point: &[u8; UNCOMPRESSED_LEN], scalar: &[u8; 32]) -> Option<[u8; UNCOMPRESSED_LEN]> {
    let point = group::decode_uncompressed(point).ok()?;
    let product = group::mul_affine(&point, &group::decode_scalar(scalar)?);
    uncompressed(&product)
}

/// `k·G` through the crate's multiplication, as [`mul`] gives it.
pub fn mul_base(scalar: &[u8; 32]) -> Option<[u8; UNCOMPRESSED_LEN]> {
    uncompressed(&group::mul_base_affine(&group::decode_scalar(scalar)?))
}

fn uncompressed(point: &p256::AffinePoint) -> Option<[u8; UNCOMPRESSED_LEN]> {
    group::affine_non_identity(*point)
        .ok()
        .map(|point| group::encode_uncompressed(&point))
}

#[cfg(test)]
mod tests {
    use p256::elliptic_curve::PrimeField;
    use p256::{ProjectivePoint, Scalar};

    use super::*;

    #[test]
    fn the_vector_passes_and_its_fields_are_read_by_name() {
        assert!(rfc9383_vector());
        assert_eq!(field("K_shared").map(str::len), Some(64));
        assert_eq!(field("no such field"), None);
    }

    #[test]
    fn multiplications_match_p256() {
        let g = uncompressed(&ProjectivePoint::GENERATOR.to_affine()).unwrap();
        let seven = Scalar::from(7u64).to_repr().into();
        let expected = uncompressed(&(ProjectivePoint::GENERATOR * Scalar::from(7u64)).to_affine());
        assert_eq!(mul_base(&seven), expected);
        assert_eq!(mul(&g, &seven), expected);
        assert_eq!(mul_base(&[0; 32]), None);
        assert_eq!(mul(&g, &[0xff; 32]), None);
    }
}
