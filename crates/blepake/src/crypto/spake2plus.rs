//! SPAKE2+ (RFC 9383) in the suite P256-SHA256-HKDF-SHA256-HMAC-SHA256.
//!
//! The prover knows the password-derived `w0` and `w1`; the verifier stores
//! only `w0` and `L = w1·P` (here with `w0·M` and `w0·N` precomputed, so that
//! a handshake costs it three scalar multiplications). Ephemeral scalars are
//! arguments, which lets the RFC's vectors drive this code directly.

use core::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use p256::elliptic_curve::Field;
use p256::{AffinePoint, NonZeroScalar, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::group::{self, InvalidPoint, SCALAR_LEN, UNCOMPRESSED_LEN};

/// The suite's `M`, uncompressed (RFC 9383 §4).
const M_UNCOMPRESSED: [u8; UNCOMPRESSED_LEN] = hex65(
    b"04886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f\
      5ff355163e43ce224e0b0e65ff02ac8e5c7be09419c785e0ca547d55a12e2d20",
);
/// The suite's `N`, uncompressed (RFC 9383 §4).
const N_UNCOMPRESSED: [u8; UNCOMPRESSED_LEN] = hex65(
    b"04d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49\
      07d60aa6bfade45008a636337f5168c64d9bd36034808cd564490b1e656edbe7",
);

const fn hex65(text: &[u8]) -> [u8; UNCOMPRESSED_LEN] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let mut out = [0; UNCOMPRESSED_LEN];
    let mut i = 0;
    while i < UNCOMPRESSED_LEN {
        out[i] = nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

fn fixed_point(encoded: &[u8; UNCOMPRESSED_LEN]) -> AffinePoint {
    // The constants are checked by this module's tests.
    group::decode_uncompressed(encoded).expect("suite constant on curve")
}

/// The point `M`.
pub(crate) fn m() -> AffinePoint {
    fixed_point(&M_UNCOMPRESSED)
}

/// The point `N`.
pub(crate) fn n() -> AffinePoint {
    fixed_point(&N_UNCOMPRESSED)
}

/// Why a SPAKE2+ step failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Spake2Error {
    /// A share that, once unmasked, is the identity: it would leave nothing
    /// secret in the key, so the exchange is refused.
    DegenerateShare,
    /// PBKDF output that reduces to a zero scalar.
    ZeroSecret,
}

impl fmt::Display for Spake2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DegenerateShare => "a share that unmasks to the identity",
            Self::ZeroSecret => "a derived secret that is zero",
        })
    }
}

impl core::error::Error for Spake2Error {}

impl From<InvalidPoint> for Spake2Error {
    fn from(_: InvalidPoint) -> Self {
        Self::DegenerateShare
    }
}

/// What binds an exchange: the context and both identities.
#[derive(Clone, Copy, Debug)]
pub struct Identities<'a> {
    /// Protocol context (version, parameters, session).
    pub context: &'a [u8],
    /// `idProver`.
    pub prover: &'a [u8],
    /// `idVerifier`.
    pub verifier: &'a [u8],
}

/// The prover's `w0` and `w1`. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone)]
pub struct ProverSecrets {
    w0: Scalar,
    w1: Scalar,
}

impl ProverSecrets {
    /// Splits 80 bytes of PBKDF output into `w0s || w1s` and reduces each
    /// modulo the group order (RFC 9383 §3.2).
    pub fn from_pbkdf_output(output: &[u8; 80]) -> Result<Self, Spake2Error> {
        let (w0s, w1s) = output.split_at(40);
        let secrets = Self {
            w0: group::reduce_wide(w0s.try_into().expect("40 bytes")),
            w1: group::reduce_wide(w1s.try_into().expect("40 bytes")),
        };
        if bool::from(secrets.w0.is_zero() | secrets.w1.is_zero()) {
            return Err(Spake2Error::ZeroSecret);
        }
        Ok(secrets)
    }

    /// From canonical big-endian scalars, or `None` if either is not below
    /// the group order or is zero.
    pub fn from_scalars(w0: &[u8; 32], w1: &[u8; 32]) -> Option<Self> {
        let secrets = Self {
            w0: group::decode_scalar(w0)?,
            w1: group::decode_scalar(w1)?,
        };
        let zero = secrets.w0.is_zero() | secrets.w1.is_zero();
        (!bool::from(zero)).then_some(secrets)
    }

    /// What the verifier stores: `w0`, `L = w1·P`, `w0·M`, `w0·N`.
    pub fn verifier(&self) -> VerifierSecrets {
        VerifierSecrets {
            w0: self.w0,
            l: group::mul_base_affine(&self.w1),
            w0_m: group::mul_affine(&m(), &self.w0),
            w0_n: group::mul_affine(&n(), &self.w0),
        }
    }
}

impl Drop for ProverSecrets {
    fn drop(&mut self) {
        self.w0.zeroize();
        self.w1.zeroize();
    }
}

impl ZeroizeOnDrop for ProverSecrets {}

impl fmt::Debug for ProverSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProverSecrets(..)")
    }
}

/// The verifier's record: `w0`, `L`, and the precomputed `w0·M` and `w0·N`.
/// Zeroized on drop; `Debug` shows nothing.
#[derive(Clone)]
pub struct VerifierSecrets {
    pub(crate) w0: Scalar,
    pub(crate) l: AffinePoint,
    pub(crate) w0_m: AffinePoint,
    pub(crate) w0_n: AffinePoint,
}

impl Drop for VerifierSecrets {
    fn drop(&mut self) {
        self.w0.zeroize();
        self.l.zeroize();
        self.w0_m.zeroize();
        self.w0_n.zeroize();
    }
}

impl ZeroizeOnDrop for VerifierSecrets {}

impl fmt::Debug for VerifierSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifierSecrets(..)")
    }
}

/// A prover that has sent `shareP = x·P + w0·M`.
pub struct Prover {
    secrets: ProverSecrets,
    x: Scalar,
    share_p: AffinePoint,
}

impl Prover {
    /// Starts an exchange with the ephemeral scalar `x`. Refuses an `x` with
    /// `x·P = -w0·M` (probability 2^-256): the identity has no encoding, so
    /// the caller draws another `x`.
    pub fn new(secrets: &ProverSecrets, x: &NonZeroScalar) -> Result<Self, Spake2Error> {
        let share = group::mul_base(x) + group::mul(&m(), &secrets.w0);
        Ok(Self {
            share_p: group::non_identity(share)?,
            secrets: secrets.clone(),
            x: **x,
        })
    }

    /// `shareP`.
    pub fn share(&self) -> &AffinePoint {
        &self.share_p
    }

    /// Takes `shareV` and derives the keys: `Z = x·(Y - w0·N)`,
    /// `V = w1·(Y - w0·N)`, the transcript and the key schedule.
    pub fn finish(&self, ids: &Identities<'_>, share_v: &AffinePoint) -> Result<Keys, Spake2Error> {
        let unmasked = ProjectivePoint::from(*share_v) - group::mul(&n(), &self.secrets.w0);
        let unmasked = Zeroizing::new(group::non_identity(unmasked)?);
        let z = Zeroizing::new(group::mul_affine(&unmasked, &self.x));
        let v = Zeroizing::new(group::mul_affine(&unmasked, &self.secrets.w1));
        Ok(key_schedule(
            ids,
            &self.share_p,
            share_v,
            &z,
            &v,
            &self.secrets.w0,
        ))
    }
}

impl Drop for Prover {
    fn drop(&mut self) {
        self.x.zeroize();
    }
}

impl fmt::Debug for Prover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prover(..)")
    }
}

/// The verifier's whole turn: from `shareP` and the ephemeral `y`, returns
/// `shareV = y·P + w0·N` and the keys, with `Z = y·(X - w0·M)`, `V = y·L`.
pub fn respond(
    secrets: &VerifierSecrets,
    ids: &Identities<'_>,
    y: &NonZeroScalar,
    share_p: &AffinePoint,
) -> Result<(AffinePoint, Keys), Spake2Error> {
    let y: Zeroizing<Scalar> = Zeroizing::new(**y);
    // Mixed additions (a projective and an affine point): no projective
    // copy of the affine one on the stack.
    let unmasked = ProjectivePoint::from(*share_p) - secrets.w0_m;
    // `y` is not zero and the group's order is prime: `Z` is the identity
    // exactly when the unmasked share is, so `Z` is checked (one inversion
    // fewer on p256's path than converting the share first).
    let z = Zeroizing::new(group::affine_non_identity(group::mul_projective_affine(
        &unmasked, &y,
    ))?);
    let share_v = group::non_identity(group::mul_base(&y) + secrets.w0_n)?;
    let v = Zeroizing::new(group::mul_affine(&secrets.l, &y));
    let keys = key_schedule(ids, share_p, &share_v, &z, &v, &secrets.w0);
    Ok((share_v, keys))
}

/// A part of the transcript, encoded only as it goes in.
enum Part<'a> {
    Bytes(&'a [u8]),
    Point(&'a AffinePoint),
    Scalar(&'a Scalar),
}

/// Feeds the transcript TT (RFC 9383 §3.3) to `sink`: each part preceded by
/// its length as 8 little-endian bytes. The points (`shareP`, `shareV`, `Z`,
/// `V`) and `w0` are encoded one at a time, as they go in, so that one
/// encoding at a time is on the stack.
fn transcript(
    ids: &Identities<'_>,
    [share_p, share_v, z, v]: [&AffinePoint; 4],
    w0: &Scalar,
    mut sink: impl FnMut(&[u8]),
) {
    let parts = [
        Part::Bytes(ids.context),
        Part::Bytes(ids.prover),
        Part::Bytes(ids.verifier),
        Part::Bytes(&M_UNCOMPRESSED),
        Part::Bytes(&N_UNCOMPRESSED),
        Part::Point(share_p),
        Part::Point(share_v),
        Part::Point(z),
        Part::Point(v),
        Part::Scalar(w0),
    ];
    for part in parts {
        let mut encoded = Zeroizing::new([0; UNCOMPRESSED_LEN]);
        let bytes = match part {
            Part::Bytes(bytes) => bytes,
            Part::Point(point) => {
                *encoded = group::encode_uncompressed(point);
                &encoded[..]
            }
            Part::Scalar(scalar) => {
                encoded[..SCALAR_LEN].copy_from_slice(&group::encode_scalar(scalar));
                &encoded[..SCALAR_LEN]
            }
        };
        sink(&(bytes.len() as u64).to_le_bytes());
        sink(bytes);
    }
}

fn key_schedule(
    ids: &Identities<'_>,
    share_p: &AffinePoint,
    share_v: &AffinePoint,
    z: &AffinePoint,
    v: &AffinePoint,
    w0: &Scalar,
) -> Keys {
    let k_main = Zeroizing::new(main_key(ids, [share_p, share_v, z, v], w0));
    Keys::from_main_key(
        &k_main,
        &group::encode_uncompressed(share_p),
        &group::encode_uncompressed(share_v),
    )
}

/// `K_main = Hash(TT)`, in a frame of its own: the hash's state is gone
/// before the key schedule's HMACs run.
#[inline(never)]
fn main_key(ids: &Identities<'_>, points: [&AffinePoint; 4], w0: &Scalar) -> [u8; 32] {
    let mut hash = Sha256::new();
    transcript(ids, points, w0, |bytes| hash.update(bytes));
    hash.finalize().into()
}

/// The outcome of an exchange: both confirmations and `K_shared`.
/// Zeroized on drop; `Debug` shows nothing.
pub struct Keys {
    confirm_p: [u8; 32],
    confirm_v: [u8; 32],
    shared: [u8; 32],
}

impl Keys {
    fn from_main_key(
        k_main: &[u8; 32],
        share_p: &[u8; UNCOMPRESSED_LEN],
        share_v: &[u8; UNCOMPRESSED_LEN],
    ) -> Self {
        let schedule = Hkdf::<Sha256>::new(None, k_main);
        let mut confirmation_keys = Zeroizing::new([0; 64]);
        let mut keys = Self {
            confirm_p: [0; 32],
            confirm_v: [0; 32],
            shared: [0; 32],
        };
        // Both lengths are far below HKDF-SHA256's limit of 8160 bytes.
        schedule
            .expand(b"ConfirmationKeys", &mut confirmation_keys[..])
            .expect("length");
        schedule
            .expand(b"SharedKey", &mut keys.shared)
            .expect("length");
        keys.confirm_p = hmac_sha256(&confirmation_keys[..32], share_v);
        keys.confirm_v = hmac_sha256(&confirmation_keys[32..], share_p);
        keys
    }

    /// `confirmP = HMAC(K_confirmP, shareV)`, over the uncompressed share.
    pub fn confirm_p(&self) -> &[u8; 32] {
        &self.confirm_p
    }

    /// `confirmV = HMAC(K_confirmV, shareP)`, over the uncompressed share.
    pub fn confirm_v(&self) -> &[u8; 32] {
        &self.confirm_v
    }

    /// `K_shared`.
    pub fn shared_key(&self) -> &[u8; 32] {
        &self.shared
    }

    /// Checks a received `confirmV` in constant time.
    pub fn verify_confirm_v(&self, received: &[u8; 32]) -> bool {
        self.confirm_v.ct_eq(received).into()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.confirm_p.zeroize();
        self.confirm_v.zeroize();
        self.shared.zeroize();
    }
}

impl ZeroizeOnDrop for Keys {}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(..)")
    }
}

pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::vec::Vec;

    use p256::elliptic_curve::PrimeField;

    use super::*;

    /// The RFC 9383 Appendix C P-256/SHA-256 vector, from its source file.
    struct Vector(HashMap<&'static str, &'static str>);

    impl Vector {
        fn load() -> Self {
            let text = include_str!("../../tests/vectors/rfc9383-p256-sha256.txt");
            Vector(
                text.lines()
                    .filter(|line| !line.starts_with('#'))
                    .filter_map(|line| line.split_once(" = "))
                    .collect(),
            )
        }

        fn bytes(&self, name: &str) -> Vec<u8> {
            let hex = self.0[name];
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect()
        }

        fn quoted(&self, name: &str) -> &'static [u8] {
            let value = self.0[name];
            value
                .strip_prefix("b'")
                .unwrap()
                .strip_suffix('\'')
                .unwrap()
                .as_bytes()
        }

        fn scalar(&self, name: &str) -> Scalar {
            let bytes: [u8; 32] = self.bytes(name).try_into().unwrap();
            Scalar::from_repr(bytes.into()).unwrap()
        }

        fn point(&self, name: &str) -> AffinePoint {
            group::decode_uncompressed(&self.bytes(name).try_into().unwrap()).unwrap()
        }
    }

    #[test]
    fn suite_constants_are_the_rfc_points() {
        let vector = Vector::load();
        let m_point = group::decode_uncompressed(&M_UNCOMPRESSED).unwrap();
        let n_point = group::decode_uncompressed(&N_UNCOMPRESSED).unwrap();
        assert_eq!(
            group::encode_compressed(&m_point).to_vec(),
            vector.bytes("M")
        );
        assert_eq!(
            group::encode_compressed(&n_point).to_vec(),
            vector.bytes("N")
        );
    }

    #[test]
    fn rfc9383_p256_vector() {
        let vector = Vector::load();
        let ids = Identities {
            context: vector.quoted("Context"),
            prover: vector.quoted("idProver"),
            verifier: vector.quoted("idVerifier"),
        };
        let secrets = ProverSecrets::from_scalars(
            &vector.bytes("w0").try_into().unwrap(),
            &vector.bytes("w1").try_into().unwrap(),
        )
        .unwrap();
        let verifier = secrets.verifier();
        assert_eq!(verifier.l, vector.point("L"));

        let x = NonZeroScalar::new(vector.scalar("x")).unwrap();
        let y = NonZeroScalar::new(vector.scalar("y")).unwrap();
        let prover = Prover::new(&secrets, &x).unwrap();
        assert_eq!(*prover.share(), vector.point("shareP"));

        let (share_v, verifier_keys) = respond(&verifier, &ids, &y, prover.share()).unwrap();
        assert_eq!(share_v, vector.point("shareV"));
        let prover_keys = prover.finish(&ids, &share_v).unwrap();

        // Z and V, as both sides compute them.
        let expected_z = vector.point("Z");
        let expected_v = vector.point("V");
        let unmasked_v = ProjectivePoint::from(share_v) - ProjectivePoint::from(n()) * secrets.w0;
        assert_eq!((unmasked_v * *x).to_affine(), expected_z);
        assert_eq!((unmasked_v * secrets.w1).to_affine(), expected_v);
        let unmasked_p =
            ProjectivePoint::from(*prover.share()) - ProjectivePoint::from(verifier.w0_m);
        assert_eq!((unmasked_p * *y).to_affine(), expected_z);
        assert_eq!(
            (ProjectivePoint::from(verifier.l) * *y).to_affine(),
            expected_v
        );

        // TT and K_main.
        let mut tt = Vec::new();
        transcript(
            &ids,
            [prover.share(), &share_v, &expected_z, &expected_v],
            &secrets.w0,
            |bytes| tt.extend_from_slice(bytes),
        );
        assert_eq!(tt, vector.bytes("TT"));
        assert_eq!(Sha256::digest(&tt).to_vec(), vector.bytes("K_main"));

        // K_confirmP, K_confirmV, the confirmations and K_shared.
        let mut confirmation_keys = [0; 64];
        Hkdf::<Sha256>::new(None, &vector.bytes("K_main"))
            .expand(b"ConfirmationKeys", &mut confirmation_keys)
            .unwrap();
        assert_eq!(confirmation_keys[..32].to_vec(), vector.bytes("K_confirmP"));
        assert_eq!(confirmation_keys[32..].to_vec(), vector.bytes("K_confirmV"));
        for keys in [&prover_keys, &verifier_keys] {
            assert_eq!(
                keys.confirm_p().to_vec(),
                vector.bytes("HMAC(K_confirmP, shareV)")
            );
            assert_eq!(
                keys.confirm_v().to_vec(),
                vector.bytes("HMAC(K_confirmV, shareP)")
            );
            assert_eq!(keys.shared_key().to_vec(), vector.bytes("K_shared"));
        }
    }

    #[test]
    fn wrong_password_fails_confirmation() {
        let ids = Identities {
            context: b"ctx",
            prover: b"p",
            verifier: b"v",
        };
        let right = ProverSecrets::from_pbkdf_output(&[7; 80]).unwrap();
        let wrong = ProverSecrets::from_pbkdf_output(&[8; 80]).unwrap();
        let x = NonZeroScalar::new(Scalar::from(11u64)).unwrap();
        let y = NonZeroScalar::new(Scalar::from(13u64)).unwrap();
        let prover = Prover::new(&wrong, &x).unwrap();
        let (share_v, verifier_keys) =
            respond(&right.verifier(), &ids, &y, prover.share()).unwrap();
        let prover_keys = prover.finish(&ids, &share_v).unwrap();
        assert!(!prover_keys.verify_confirm_v(verifier_keys.confirm_v()));
        assert_ne!(verifier_keys.confirm_p(), prover_keys.confirm_p());
        assert_ne!(prover_keys.shared_key(), verifier_keys.shared_key());
    }

    #[test]
    fn degenerate_shares_are_refused() {
        let ids = Identities {
            context: b"",
            prover: b"",
            verifier: b"",
        };
        let secrets = ProverSecrets::from_pbkdf_output(&[3; 80]).unwrap();
        let verifier = secrets.verifier();
        let y = NonZeroScalar::new(Scalar::from(5u64)).unwrap();
        // shareP = w0·M unmasks to the identity.
        assert_eq!(
            respond(&verifier, &ids, &y, &verifier.w0_m).unwrap_err(),
            Spake2Error::DegenerateShare
        );
        let x = NonZeroScalar::new(Scalar::from(5u64)).unwrap();
        let prover = Prover::new(&secrets, &x).unwrap();
        assert_eq!(
            prover.finish(&ids, &verifier.w0_n).unwrap_err(),
            Spake2Error::DegenerateShare
        );
    }

    #[test]
    fn secrets_hide_from_debug() {
        let secrets = ProverSecrets::from_pbkdf_output(&[9; 80]).unwrap();
        let shown = std::format!("{secrets:?} {:?}", secrets.verifier());
        assert_eq!(shown, "ProverSecrets(..) VerifierSecrets(..)");
    }
}
