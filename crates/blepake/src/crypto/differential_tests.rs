//! Our SPAKE2+ against an independent implementation (the `spake2plus`
//! crate, on the other p256 line), in both roles, over many random
//! passwords, contexts and identities: every exchange must agree on every
//! byte both sides compute, and wrong passwords must fail on both.

use std::vec::Vec;

use super::spake2plus::{Identities, Prover, ProverSecrets, respond};
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{AffinePoint, EncodedPoint, NonZeroScalar};
use rand::{Rng as _, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use spake2plus::{
    ConfirmP, ConfirmV, Context, P256Sha256, Prover as TheirProver, ProverSecret, ShareP, ShareV,
    Verifier as TheirVerifier,
};

fn random_bytes(rng: &mut rand::rngs::StdRng, max: usize) -> Vec<u8> {
    let len = rng.random_range(0..=max);
    (0..len).map(|_| rng.random()).collect()
}

fn point(bytes: &[u8]) -> AffinePoint {
    AffinePoint::from_encoded_point(&EncodedPoint::from_bytes(bytes).unwrap()).unwrap()
}

fn uncompressed(point: &AffinePoint) -> Vec<u8> {
    point.to_encoded_point(false).as_bytes().to_vec()
}

#[test]
fn agrees_with_an_independent_implementation() {
    let mut theirs_rng = rand::rngs::StdRng::seed_from_u64(2024);
    let mut ours_rng = ChaCha20Rng::seed_from_u64(2025);
    for case in 0..300 {
        let mut pbkdf = [0u8; 80];
        theirs_rng.fill_bytes(&mut pbkdf);
        let context = random_bytes(&mut theirs_rng, 64);
        let prover_id = random_bytes(&mut theirs_rng, 16);
        let verifier_id = random_bytes(&mut theirs_rng, 16);
        let ids = Identities {
            context: &context,
            prover: &prover_id,
            verifier: &verifier_id,
        };
        let their_context = Context {
            context: &context,
            prover_id: &prover_id,
            verifier_id: &verifier_id,
        };

        let ours = ProverSecrets::from_pbkdf_output(&pbkdf).unwrap();
        let theirs = ProverSecret::<P256Sha256>::from_pbkdf_output(&pbkdf).unwrap();
        let record = theirs.verifier_record();

        // Our prover, their verifier.
        let prover = Prover::new(&ours, &NonZeroScalar::random(&mut ours_rng)).unwrap();
        let share_p = ShareP::<P256Sha256>::from_bytes(&uncompressed(prover.share())).unwrap();
        let (verifier, share_v) = TheirVerifier::start(&record, &their_context, &mut theirs_rng);
        let (verifier, confirm_v) = verifier.receive(&share_p).unwrap();
        let keys = prover.finish(&ids, &point(share_v.as_ref())).unwrap();
        let confirm_v: [u8; 32] = confirm_v.as_ref().try_into().unwrap();
        assert!(keys.verify_confirm_v(&confirm_v), "case {case}");
        let their_key = verifier
            .finish(&ConfirmP::from_bytes(keys.confirm_p()).unwrap())
            .unwrap();
        assert_eq!(
            their_key.as_bytes().as_ref(),
            keys.shared_key(),
            "case {case}"
        );

        // Their prover, our verifier.
        let (prover, share_p) = TheirProver::start(&theirs, &their_context, &mut theirs_rng);
        let (share_v, keys) = respond(
            &ours.verifier(),
            &ids,
            &NonZeroScalar::random(&mut ours_rng),
            &point(share_p.as_ref()),
        )
        .unwrap();
        let share_v = ShareV::<P256Sha256>::from_bytes(&uncompressed(&share_v)).unwrap();
        let prover = prover.receive(&share_v).unwrap();
        let (confirm_p, their_key) = prover
            .finish(&ConfirmV::from_bytes(keys.confirm_v()).unwrap())
            .unwrap();
        let confirm_p: [u8; 32] = confirm_p.as_ref().try_into().unwrap();
        assert_eq!(keys.confirm_p(), &confirm_p, "case {case}");
        assert_eq!(
            their_key.as_bytes().as_ref(),
            keys.shared_key(),
            "case {case}"
        );

        // A different password fails on both sides, whoever verifies.
        let mut wrong_pbkdf = pbkdf;
        wrong_pbkdf[case % 80] ^= 1;
        let wrong = ProverSecrets::from_pbkdf_output(&wrong_pbkdf).unwrap();
        let prover = Prover::new(&wrong, &NonZeroScalar::random(&mut ours_rng)).unwrap();
        let share_p = ShareP::<P256Sha256>::from_bytes(&uncompressed(prover.share())).unwrap();
        let (verifier, share_v) = TheirVerifier::start(&record, &their_context, &mut theirs_rng);
        let (_, confirm_v) = verifier.receive(&share_p).unwrap();
        let keys = prover.finish(&ids, &point(share_v.as_ref())).unwrap();
        assert!(
            !keys.verify_confirm_v(&confirm_v.as_ref().try_into().unwrap()),
            "case {case}"
        );
    }
}
