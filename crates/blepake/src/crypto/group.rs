//! P-256 points and scalars as the protocol encodes them, and the scalar
//! multiplications.
//!
//! Every scalar multiplication of the crate goes through [`mul`],
//! [`mul_base`] and their `_affine` forms. With feature `fast-p256` on
//! 32-bit Arm they run p256-cm4's constant-time Cortex-M4 assembly (one
//! multiplication in an eighth of p256's instructions); everywhere else,
//! and for additions, decompression and encodings, p256. Both give the
//! same points bit for bit.

use p256::elliptic_curve::PrimeField;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar, U256};
use zeroize::Zeroize;

use crate::wire::POINT_LEN;

/// An uncompressed SEC1 point, the encoding SPAKE2+ hashes.
pub(crate) const UNCOMPRESSED_LEN: usize = 65;
/// A big-endian scalar.
pub(crate) const SCALAR_LEN: usize = 32;

/// A received point that is not on the curve (or is the identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidPoint;

/// Decodes a compressed point. Decompression finds `y` from `x` only for a
/// point on the curve, so every point that decodes is valid; the identity
/// has no compressed encoding and never decodes.
pub(crate) fn decode_compressed(bytes: &[u8; POINT_LEN]) -> Result<AffinePoint, InvalidPoint> {
    if !matches!(bytes[0], 0x02 | 0x03) {
        return Err(InvalidPoint);
    }
    let encoded = EncodedPoint::from_bytes(bytes).map_err(|_| InvalidPoint)?;
    Option::from(AffinePoint::from_encoded_point(&encoded)).ok_or(InvalidPoint)
}

/// Decodes an uncompressed point, checking the curve equation.
pub(crate) fn decode_uncompressed(
    bytes: &[u8; UNCOMPRESSED_LEN],
) -> Result<AffinePoint, InvalidPoint> {
    if bytes[0] != 0x04 {
        return Err(InvalidPoint);
    }
    let encoded = EncodedPoint::from_bytes(bytes).map_err(|_| InvalidPoint)?;
    Option::from(AffinePoint::from_encoded_point(&encoded)).ok_or(InvalidPoint)
}

/// The compressed encoding; `point` must not be the identity.
pub(crate) fn encode_compressed(point: &AffinePoint) -> [u8; POINT_LEN] {
    let mut out = [0; POINT_LEN];
    out.copy_from_slice(point.to_encoded_point(true).as_bytes());
    out
}

/// The uncompressed encoding; `point` must not be the identity.
pub(crate) fn encode_uncompressed(point: &AffinePoint) -> [u8; UNCOMPRESSED_LEN] {
    let mut out = [0; UNCOMPRESSED_LEN];
    out.copy_from_slice(point.to_encoded_point(false).as_bytes());
    out
}

/// The affine form of a point that must not be the identity. One
/// inversion: the conversion maps the identity to the affine identity,
/// whose flag is cheap to test (asking the projective point would invert
/// twice more).
pub(crate) fn non_identity(point: ProjectivePoint) -> Result<AffinePoint, InvalidPoint> {
    affine_non_identity(point.to_affine())
}

/// An affine point, refused if it is the identity (a flag: no inversion).
pub(crate) fn affine_non_identity(point: AffinePoint) -> Result<AffinePoint, InvalidPoint> {
    if bool::from(point.is_identity()) {
        Err(InvalidPoint)
    } else {
        Ok(point)
    }
}

/// `k·P`, projective, for a sum that follows.
pub(crate) fn mul(point: &AffinePoint, k: &Scalar) -> ProjectivePoint {
    #[cfg(all(feature = "fast-p256", target_arch = "arm"))]
    return ProjectivePoint::from(fast::mul(point, k));
    #[cfg(not(all(feature = "fast-p256", target_arch = "arm")))]
    return ProjectivePoint::from(*point) * k;
}

/// `k·P`, affine, for an encoding. One inversion on p256's path; the fast
/// path's result is affine already.
pub(crate) fn mul_affine(point: &AffinePoint, k: &Scalar) -> AffinePoint {
    #[cfg(all(feature = "fast-p256", target_arch = "arm"))]
    return fast::mul(point, k);
    #[cfg(not(all(feature = "fast-p256", target_arch = "arm")))]
    return mul(point, k).to_affine();
}

/// `k·P` for a `P` still projective (a difference just taken), affine; the
/// identity if `P` is. p256's path multiplies first and inverts once; the
/// fast path needs `P` affine first.
pub(crate) fn mul_projective_affine(point: &ProjectivePoint, k: &Scalar) -> AffinePoint {
    #[cfg(all(feature = "fast-p256", target_arch = "arm"))]
    return fast::mul(&point.to_affine(), k);
    #[cfg(not(all(feature = "fast-p256", target_arch = "arm")))]
    return (point * k).to_affine();
}

/// `k·G`, projective, for a sum that follows.
pub(crate) fn mul_base(k: &Scalar) -> ProjectivePoint {
    #[cfg(all(feature = "fast-p256", target_arch = "arm"))]
    return ProjectivePoint::from(fast::mul_base(k));
    #[cfg(not(all(feature = "fast-p256", target_arch = "arm")))]
    return ProjectivePoint::GENERATOR * k;
}

/// `k·G`, affine, for an encoding.
pub(crate) fn mul_base_affine(k: &Scalar) -> AffinePoint {
    #[cfg(all(feature = "fast-p256", target_arch = "arm"))]
    return fast::mul_base(k);
    #[cfg(not(all(feature = "fast-p256", target_arch = "arm")))]
    return mul_base(k).to_affine();
}

/// p256-cm4's multiplications with p256's points and scalars in and out.
/// Its point decompression is not used: in release 0.4.0 it rejects every
/// valid point.
#[cfg(all(feature = "fast-p256", target_arch = "arm"))]
mod fast {
    use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
    use p256::{AffinePoint, EncodedPoint, FieldBytes, Scalar};
    use zeroize::Zeroizing;

    /// Little-endian 32-bit words, p256-cm4's form of a 256-bit integer.
    type Words = [u32; 8];

    fn to_words(bytes: &[u8]) -> Words {
        core::array::from_fn(|i| {
            let at = 28 - 4 * i;
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        })
    }

    fn to_bytes(words: &Words) -> FieldBytes {
        let mut bytes = FieldBytes::default();
        for (i, word) in words.iter().enumerate() {
            let at = 28 - 4 * i;
            bytes[at..at + 4].copy_from_slice(&word.to_be_bytes());
        }
        bytes
    }

    /// The affine point p256-cm4 computed. It says `false` only for a zero
    /// scalar or a point off the curve (the identity's zero coordinates),
    /// both of which give the identity.
    fn point(ok: bool, x: &Words, y: &Words) -> AffinePoint {
        if !ok {
            return AffinePoint::IDENTITY;
        }
        let encoded = EncodedPoint::from_affine_coordinates(&to_bytes(x), &to_bytes(y), false);
        // A correct result is on the curve; were it not, the identity makes
        // every caller refuse it.
        Option::from(AffinePoint::from_encoded_point(&encoded)).unwrap_or(AffinePoint::IDENTITY)
    }

    pub(super) fn mul(point_in: &AffinePoint, k: &Scalar) -> AffinePoint {
        let Some((x, y)) = coordinates(point_in) else {
            return AffinePoint::IDENTITY;
        };
        let scalar = Zeroizing::new(to_words(&k.to_bytes()));
        let (mut out_x, mut out_y) = (Zeroizing::new([0; 8]), Zeroizing::new([0; 8]));
        let ok = scalarmult_generic(&mut out_x, &mut out_y, &scalar, &x, &y);
        point(ok, &out_x, &out_y)
    }

    /// A point's coordinates as words, `None` for the identity. In a frame
    /// of its own, which its SEC1 encoding leaves with it before the
    /// multiplication.
    #[inline(never)]
    fn coordinates(point: &AffinePoint) -> Option<(Words, Words)> {
        let encoded = point.to_encoded_point(false);
        Some((to_words(encoded.x()?), to_words(encoded.y()?)))
    }

    pub(super) fn mul_base(k: &Scalar) -> AffinePoint {
        let scalar = Zeroizing::new(to_words(&k.to_bytes()));
        let (mut out_x, mut out_y) = (Zeroizing::new([0; 8]), Zeroizing::new([0; 8]));
        let ok = scalarmult_base(&mut out_x, &mut out_y, &scalar);
        point(ok, &out_x, &out_y)
    }

    // p256-cm4's multiplications each in a frame of their own: their tables
    // of points (about 1 KiB) are gone before `point` checks the result on
    // p256's field, so the two frames never stack.

    #[inline(never)]
    fn scalarmult_generic(
        out_x: &mut Words,
        out_y: &mut Words,
        scalar: &Words,
        x: &Words,
        y: &Words,
    ) -> bool {
        p256_cm4::scalarmult_generic(out_x, out_y, scalar, x, y)
    }

    #[inline(never)]
    fn scalarmult_base(out_x: &mut Words, out_y: &mut Words, scalar: &Words) -> bool {
        p256_cm4::scalarmult_base(out_x, out_y, scalar)
    }
}

/// A canonical big-endian scalar (below the group order).
pub(crate) fn decode_scalar(bytes: &[u8; SCALAR_LEN]) -> Option<Scalar> {
    Option::from(Scalar::from_repr(FieldBytes::clone_from_slice(bytes)))
}

pub(crate) fn encode_scalar(scalar: &Scalar) -> [u8; SCALAR_LEN] {
    scalar.to_repr().into()
}

/// `wide mod n` for a 40-byte big-endian value, as RFC 9383 §3.2 reduces
/// each half of the PBKDF output (64 extra bits make the bias negligible).
pub(crate) fn reduce_wide(wide: &[u8; 40]) -> Scalar {
    let (high, low) = wide.split_at(8);
    let mut high_bytes = [0; 8];
    high_bytes.copy_from_slice(high);
    let mut low_bytes = FieldBytes::clone_from_slice(low);
    let low = <Scalar as Reduce<U256>>::reduce_bytes(&low_bytes);
    low_bytes.zeroize();
    let mut high = Scalar::from(u64::from_be_bytes(high_bytes));
    high_bytes.zeroize();
    // 2^256 mod n, as (2^128)^2.
    let mut two_128 = FieldBytes::default();
    two_128[15] = 1;
    let two_128 = Scalar::from_repr(two_128).unwrap();
    let reduced = high * two_128 * two_128 + low;
    high.zeroize();
    reduced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_reduction_matches_the_definition() {
        // n = FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551.
        // 2^256 = n + (2^256 - n), so a 40-byte value of 1 followed by 32
        // zero bytes reduces to 2^256 - n, whose hex is the two's complement.
        let mut wide = [0; 40];
        wide[7] = 1;
        let expected: [u8; 32] = [
            0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x43, 0x19, 0x05, 0x52, 0x58, 0xe8, 0x61, 0x7b, 0x0c, 0x46, 0x35, 0x3d,
            0x03, 0x9c, 0xda, 0xaf,
        ];
        assert_eq!(encode_scalar(&reduce_wide(&wide)), expected);
        // A value below n reduces to itself.
        let mut small = [0; 40];
        small[39] = 42;
        assert_eq!(reduce_wide(&small), Scalar::from(42u64));
    }

    #[test]
    fn compressed_points_round_trip_and_reject_junk() {
        let point = (ProjectivePoint::GENERATOR * Scalar::from(7u64)).to_affine();
        let bytes = encode_compressed(&point);
        assert_eq!(decode_compressed(&bytes), Ok(point));
        let mut junk = bytes;
        junk[0] = 0x04;
        assert_eq!(decode_compressed(&junk), Err(InvalidPoint));
        // x = 1 is not on P-256: 1 - 3 + b is not a square mod p.
        let mut off_curve = [0; POINT_LEN];
        off_curve[0] = 0x02;
        off_curve[32] = 1;
        assert_eq!(decode_compressed(&off_curve), Err(InvalidPoint));
        // Nor x >= p.
        let mut too_big = [0xff; POINT_LEN];
        too_big[0] = 0x03;
        assert_eq!(decode_compressed(&too_big), Err(InvalidPoint));
    }

    #[test]
    fn the_identity_is_refused_and_other_points_kept() {
        let g = ProjectivePoint::GENERATOR;
        assert_eq!(non_identity(g - g), Err(InvalidPoint));
        assert_eq!(non_identity(g + g), Ok((g + g).to_affine()));
    }

    #[test]
    fn uncompressed_points_must_satisfy_the_curve_equation() {
        let point = (ProjectivePoint::GENERATOR * Scalar::from(9u64)).to_affine();
        let mut bytes = encode_uncompressed(&point);
        assert_eq!(decode_uncompressed(&bytes), Ok(point));
        bytes[64] ^= 1;
        assert_eq!(decode_uncompressed(&bytes), Err(InvalidPoint));
    }
}
