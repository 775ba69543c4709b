//! The Security Manager crypto toolbox (Core Vol 3 Part H §2.2) and the link-layer
//! encryption of Core Vol 6 Part E.
//!
//! Every 128-bit value here is written most-significant octet first, as the
//! specification prints it. On the air the same values travel least-significant
//! octet first; the SMP and LL decoders reverse them once, at the wire boundary.

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use ccm::aead::AeadInPlace;
use ccm::consts::{U4, U13};
use cmac::{Cmac, Mac};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::sec1::FromEncodedPoint;
use p256::elliptic_curve::{Field, PrimeField};
use p256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar};

pub type Key128 = [u8; 16];

/// The security function e: AES-128 of one block.
pub fn e(key: &Key128, plaintext: &Key128) -> Key128 {
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut block = GenericArray::clone_from_slice(plaintext);
    cipher.encrypt_block(&mut block);
    block.into()
}

/// AES-CMAC (RFC 4493) over the concatenation of `parts`.
pub fn aes_cmac(key: &Key128, parts: &[&[u8]]) -> Key128 {
    let mut mac = <Cmac<Aes128> as KeyInit>::new(GenericArray::from_slice(key));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn xor(a: &Key128, b: &Key128) -> Key128 {
    core::array::from_fn(|i| a[i] ^ b[i])
}

/// Legacy pairing confirm value c1 (§2.2.3). `preq` and `pres` are the 7-octet
/// Pairing Request and Response commands in wire order; addresses are
/// most-significant octet first, their types 0 (public) or 1 (random).
#[allow(clippy::too_many_arguments)]
pub fn c1(
    k: &Key128,
    r: &Key128,
    preq: &[u8; 7],
    pres: &[u8; 7],
    initiator_type: u8,
    responder_type: u8,
    initiator: &[u8; 6],
    responder: &[u8; 6],
) -> Key128 {
    let (p1, p2) = c1_padding(
        preq,
        pres,
        initiator_type,
        responder_type,
        initiator,
        responder,
    );
    c1_with_padding(k, r, &p1, &p2)
}

/// The two constant blocks p1 and p2 of c1: a brute force computes them once.
pub fn c1_padding(
    preq: &[u8; 7],
    pres: &[u8; 7],
    initiator_type: u8,
    responder_type: u8,
    initiator: &[u8; 6],
    responder: &[u8; 6],
) -> (Key128, Key128) {
    let mut p1 = [0u8; 16];
    for i in 0..7 {
        p1[i] = pres[6 - i];
        p1[7 + i] = preq[6 - i];
    }
    p1[14] = responder_type & 1;
    p1[15] = initiator_type & 1;
    let mut p2 = [0u8; 16];
    p2[4..10].copy_from_slice(initiator);
    p2[10..16].copy_from_slice(responder);
    (p1, p2)
}

/// c1 given its precomputed padding blocks.
pub fn c1_with_padding(k: &Key128, r: &Key128, p1: &Key128, p2: &Key128) -> Key128 {
    let cipher = Aes128::new(GenericArray::from_slice(k));
    let mut block = GenericArray::from(xor(r, p1));
    cipher.encrypt_block(&mut block);
    let mut block = GenericArray::from(xor(&block.into(), p2));
    cipher.encrypt_block(&mut block);
    block.into()
}

/// Legacy short-term key s1 (§2.2.4): STK = s1(TK, Srand, Mrand).
pub fn s1(k: &Key128, r1: &Key128, r2: &Key128) -> Key128 {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&r1[8..]);
    r[8..].copy_from_slice(&r2[8..]);
    e(k, &r)
}

/// LE Secure Connections confirm value f4 (§2.2.6).
pub fn f4(u: &[u8; 32], v: &[u8; 32], x: &Key128, z: u8) -> Key128 {
    aes_cmac(x, &[u, v, &[z]])
}

const F5_SALT: Key128 = [
    0x6c, 0x88, 0x83, 0x91, 0xaa, 0xf5, 0xa5, 0x38, 0x60, 0x37, 0x0b, 0xdb, 0x5a, 0x60, 0x83, 0xbe,
];

/// LE Secure Connections key generation f5 (§2.2.7): returns (MacKey, LTK).
/// A1 and A2 are the 7-octet address-type-then-address values.
pub fn f5(w: &[u8; 32], n1: &Key128, n2: &Key128, a1: &[u8; 7], a2: &[u8; 7]) -> (Key128, Key128) {
    let t = aes_cmac(&F5_SALT, &[w]);
    let derive = |counter: u8| aes_cmac(&t, &[&[counter], b"btle", n1, n2, a1, a2, &[0x01, 0x00]]);
    (derive(0), derive(1))
}

/// LE Secure Connections check value f6 (§2.2.8).
pub fn f6(
    w: &Key128,
    n1: &Key128,
    n2: &Key128,
    r: &Key128,
    io_cap: &[u8; 3],
    a1: &[u8; 7],
    a2: &[u8; 7],
) -> Key128 {
    aes_cmac(w, &[n1, n2, r, io_cap, a1, a2])
}

/// Numeric comparison value g2 (§2.2.9), before the reduction mod 10^6.
pub fn g2(u: &[u8; 32], v: &[u8; 32], x: &Key128, y: &Key128) -> u32 {
    let mac = aes_cmac(x, &[u, v, y]);
    u32::from_be_bytes([mac[12], mac[13], mac[14], mac[15]])
}

/// Link key conversion h6 (§2.2.10).
pub fn h6(w: &Key128, key_id: &[u8; 4]) -> Key128 {
    aes_cmac(w, &[key_id])
}

/// Link key conversion h7 (§2.2.11).
pub fn h7(salt: &Key128, w: &Key128) -> Key128 {
    aes_cmac(salt, &[w])
}

/// h8 (§2.2.12): AES-CMAC keyed by AES-CMAC_S(K).
pub fn h8(k: &Key128, s: &Key128, key_id: &[u8; 4]) -> Key128 {
    let ik = aes_cmac(s, &[k]);
    aes_cmac(&ik, &[key_id])
}

/// Random address hash ah (§2.2.2): the 24-bit hash of `prand` under `irk`.
pub fn ah(irk: &Key128, prand: &[u8; 3]) -> [u8; 3] {
    let mut block = [0u8; 16];
    block[13..].copy_from_slice(prand);
    let out = e(irk, &block);
    [out[13], out[14], out[15]]
}

/// P-256 private key of the SMP debug mode (Vol 3 Part H §2.3.5.6.1), which
/// makes every key of a pairing that uses it computable by a bystander.
pub const DEBUG_PRIVATE_KEY: [u8; 32] = [
    0x3f, 0x49, 0xf6, 0xd4, 0xa3, 0xc5, 0x5f, 0x38, 0x74, 0xc9, 0xb3, 0xe3, 0xd2, 0x10, 0x3f, 0x50,
    0x4a, 0xff, 0x60, 0x7b, 0xeb, 0x40, 0xb7, 0x99, 0x58, 0x99, 0xb8, 0xa6, 0xcd, 0x3c, 0x1a, 0xbd,
];

/// X coordinate of the SMP debug public key.
pub const DEBUG_PUBLIC_X: [u8; 32] = [
    0x20, 0xb0, 0x03, 0xd2, 0xf2, 0x97, 0xbe, 0x2c, 0x5e, 0x2c, 0x83, 0xa7, 0xe9, 0xf9, 0xa5, 0xb9,
    0xef, 0xf4, 0x91, 0x11, 0xac, 0xf4, 0xfd, 0xdb, 0xcc, 0x03, 0x01, 0x48, 0x0e, 0x35, 0x9d, 0xe6,
];

/// Why an ECDH computation could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcdhError {
    /// The private key is zero or not below the group order.
    InvalidPrivateKey,
    /// The public key is not a point on P-256 (an invalid-curve attack, or a corrupt capture).
    InvalidPublicKey,
}

/// P-256 Diffie-Hellman: the X coordinate of `private * public`.
pub fn p256_dhkey(
    private: &[u8; 32],
    public_x: &[u8; 32],
    public_y: &[u8; 32],
) -> Result<[u8; 32], EcdhError> {
    let scalar: Option<Scalar> = Scalar::from_repr(FieldBytes::clone_from_slice(private)).into();
    let scalar = scalar
        .filter(|s| !bool::from(s.is_zero()))
        .ok_or(EcdhError::InvalidPrivateKey)?;
    let encoded = EncodedPoint::from_affine_coordinates(
        FieldBytes::from_slice(public_x),
        FieldBytes::from_slice(public_y),
        false,
    );
    let point: Option<AffinePoint> = AffinePoint::from_encoded_point(&encoded).into();
    let point = point.ok_or(EcdhError::InvalidPublicKey)?;
    let shared = (ProjectivePoint::from(point) * scalar).to_affine();
    Ok(shared.x().into())
}

/// The public key (X, Y) of a P-256 private key.
pub fn p256_public_key(private: &[u8; 32]) -> Result<([u8; 32], [u8; 32]), EcdhError> {
    let scalar: Option<Scalar> = Scalar::from_repr(FieldBytes::clone_from_slice(private)).into();
    let scalar = scalar
        .filter(|s| !bool::from(s.is_zero()))
        .ok_or(EcdhError::InvalidPrivateKey)?;
    let point = (ProjectivePoint::GENERATOR * scalar).to_affine();
    let encoded = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&point, false);
    match (encoded.x(), encoded.y()) {
        (Some(x), Some(y)) => Ok(((*x).into(), (*y).into())),
        _ => Err(EcdhError::InvalidPrivateKey),
    }
}

/// The session key of an encrypted LL connection: SK = e(LTK, SKDp || SKDm)
/// (Vol 6 Part E §1.2 / Vol 3 Part H §2.4.4). SKD halves are most-significant first.
pub fn session_key(ltk: &Key128, skd_central: &[u8; 8], skd_peripheral: &[u8; 8]) -> Key128 {
    let mut skd = [0u8; 16];
    skd[..8].copy_from_slice(skd_peripheral);
    skd[8..].copy_from_slice(skd_central);
    e(ltk, &skd)
}

/// AES-CCM decryption of one LL data PDU (Vol 6 Part E §2): returns the
/// plaintext when the 4-octet MIC is right, `None` when it is not.
///
/// `header` is the first header octet as sent; `sealed` is payload plus MIC;
/// `iv` is IVm then IVp in wire order; `counter` is the 39-bit packet counter.
pub fn ll_decrypt(
    session_key: &Key128,
    iv: &[u8; 8],
    counter: u64,
    from_central: bool,
    header: u8,
    sealed: &[u8],
) -> Option<Vec<u8>> {
    let (ciphertext, mic) = sealed.split_at_checked(sealed.len().checked_sub(4)?)?;
    let cipher = ccm::Ccm::<Aes128, U4, U13>::new(GenericArray::from_slice(session_key));
    let mut plaintext = ciphertext.to_vec();
    cipher
        .decrypt_in_place_detached(
            &ll_nonce(iv, counter, from_central),
            &[ll_aad(header)],
            &mut plaintext,
            GenericArray::from_slice(mic),
        )
        .ok()?;
    Some(plaintext)
}

fn ll_nonce(iv: &[u8; 8], counter: u64, from_central: bool) -> GenericArray<u8, U13> {
    let mut nonce = [0u8; 13];
    nonce[..5].copy_from_slice(&counter.to_le_bytes()[..5]);
    nonce[4] &= 0x7f;
    if from_central {
        nonce[4] |= 0x80;
    }
    nonce[5..].copy_from_slice(iv);
    GenericArray::from(nonce)
}

/// Only LLID (and the CP bit) are authenticated: NESN, SN and MD change on retransmission.
fn ll_aad(header: u8) -> u8 {
    header & 0xe3
}
