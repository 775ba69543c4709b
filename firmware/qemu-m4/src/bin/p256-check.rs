//! Checks the core's scalar multiplications (with `fast-p256`: p256-cm4's
//! assembly) against p256's on this CPU: fixed and variable base, on edge
//! scalars (1, 2, 3, n−1, n−2, (n−1)/2, 2^128, 2^255, 2^256 − 2^224 …)
//! and on random ones, each against several points. Exits with success
//! only if every product is the same, bit for bit.

#![no_std]
#![no_main]

use blepake::self_test::{mul, mul_base};
use blepake_qemu_m4::{entry, exit, println};
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::{Field, PrimeField};
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Random scalars checked after the edge ones.
const RANDOM: usize = 16;

fn uncompressed(point: &AffinePoint) -> Option<[u8; 65]> {
    point.to_encoded_point(false).as_bytes().try_into().ok()
}

fn hex_scalar(text: &[u8; 64]) -> Scalar {
    let bytes: [u8; 32] = core::array::from_fn(|i| {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        };
        nibble(text[2 * i]) << 4 | nibble(text[2 * i + 1])
    });
    <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(bytes))
}

#[entry]
fn main() -> ! {
    let minus_one = -Scalar::ONE;
    let edges = [
        Scalar::ONE,
        Scalar::from(2u64),
        Scalar::from(3u64),
        minus_one,
        minus_one - Scalar::ONE,
        // (n − 1)/2 and its neighbour: the largest "small" half.
        minus_one * Scalar::from(2u64).invert().unwrap(),
        minus_one * Scalar::from(2u64).invert().unwrap() + Scalar::ONE,
        hex_scalar(b"0000000000000000000000000000000100000000000000000000000000000000"),
        hex_scalar(b"8000000000000000000000000000000000000000000000000000000000000000"),
        hex_scalar(b"ffffffff00000000000000000000000000000000000000000000000000000000"),
        hex_scalar(b"00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
        hex_scalar(b"5555555555555555555555555555555555555555555555555555555555555555"),
    ];
    let mut rng = ChaCha20Rng::seed_from_u64(0x9383);
    let randoms: [Scalar; RANDOM] = core::array::from_fn(|_| Scalar::random(&mut rng));
    let points = [
        ProjectivePoint::GENERATOR,
        ProjectivePoint::GENERATOR * Scalar::from(2u64),
        ProjectivePoint::GENERATOR * -Scalar::ONE,
        ProjectivePoint::GENERATOR * Scalar::random(&mut rng),
    ]
    .map(|p| p.to_affine());
    let mut checked = 0;
    let mut failed = 0;
    for (i, k) in edges.iter().chain(&randoms).enumerate() {
        let bytes: [u8; 32] = k.to_repr().into();
        let expected = uncompressed(&(ProjectivePoint::GENERATOR * k).to_affine());
        if mul_base(&bytes) != expected {
            println!("k·G differs for scalar {}", i);
            failed += 1;
        }
        checked += 1;
        // Every point for the edges, one (in turn) for the random scalars.
        let chosen = if i < edges.len() {
            0..points.len()
        } else {
            i % 4..i % 4 + 1
        };
        for point in &points[chosen] {
            let expected = uncompressed(&(ProjectivePoint::from(*point) * k).to_affine());
            if mul(&uncompressed(point).unwrap(), &bytes) != expected {
                println!("k·P differs for scalar {}", i);
                failed += 1;
            }
            checked += 1;
        }
    }
    // Zero gives the identity, which has no uncompressed encoding.
    let zero = [0; 32];
    if mul_base(&zero).is_some() || mul(&uncompressed(&points[1]).unwrap(), &zero).is_some() {
        println!("0·P is not the identity");
        failed += 1;
    }
    let rfc = blepake::self_test::rfc9383_vector();
    let path = if cfg!(feature = "fast-p256") {
        "fast-p256"
    } else {
        "p256"
    };
    println!(
        "p256-check ({}): {} of {} products match p256, RFC 9383 vector {}",
        path,
        checked - failed,
        checked,
        if rfc { "ok" } else { "FAILED" }
    );
    exit(failed == 0 && rfc)
}
