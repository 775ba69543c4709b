//! The Security Manager toolbox against the sample data of Core Vol 3 Part H
//! Appendix D (and the §2.2.3/§2.2.4 examples for c1 and s1), written here as the
//! specification prints it: most-significant octet first.

use blepake_sniff::crypto::*;

fn hex<const N: usize>(text: &str) -> [u8; N] {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(digits.len(), 2 * N, "{text}");
    core::array::from_fn(|i| u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).unwrap())
}

const CMAC_KEY: &str = "2b7e1516 28aed2a6 abf71588 09cf4f3c";
const CMAC_MESSAGE: &str = "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51
                            30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710";

#[test]
fn aes_cmac_rfc4493_examples() {
    let key: [u8; 16] = hex(CMAC_KEY);
    let message: [u8; 64] = hex(CMAC_MESSAGE);
    for (len, expected) in [
        (0, "bb1d6929 e9593728 7fa37d12 9b756746"),
        (16, "070a16b4 6b4d4144 f79bdd9d d04a287c"),
        (40, "dfa66747 de9ae630 30ca3261 1497c827"),
        (64, "51f0bebf 7e3b9d92 fc497417 79363cfe"),
    ] {
        assert_eq!(
            aes_cmac(&key, &[&message[..len]]),
            hex::<16>(expected),
            "length {len}"
        );
    }
}

const PRIV_A: &str = "3f49f6d4 a3c55f38 74c9b3e3 d2103f50 4aff607b eb40b799 5899b8a6 cd3c1abd";
const PUB_A_X: &str = "20b003d2 f297be2c 5e2c83a7 e9f9a5b9 eff49111 acf4fddb cc030148 0e359de6";
const PUB_A_Y: &str = "dc809c49 652aeb6d 63329abf 5a52155c 766345c2 8fed3024 741c8ed0 1589d28b";
const PRIV_B: &str = "55188b3d 32f6bb9a 900afcfb eed4e72a 59cb9ac2 f19d7cfb 6b4fdd49 f47fc5fd";
const PUB_B_X: &str = "1ea1f0f0 1faf1d96 09592284 f19e4c00 47b58afd 8615a69f 559077b2 2faaa190";
const PUB_B_Y: &str = "4c55f33e 429dad37 7356703a 9ab85160 472d1130 e28e3676 5f89aff9 15b1214a";
const DHKEY: &str = "ec0234a3 57c8ad05 341010a6 0a397d9b 99796b13 b4f866f1 868d34f3 73bfa698";

#[test]
fn p256_ecdh_data_set_1() {
    let dhkey: [u8; 32] = hex(DHKEY);
    assert_eq!(
        p256_dhkey(&hex(PRIV_A), &hex(PUB_B_X), &hex(PUB_B_Y)),
        Ok(dhkey)
    );
    assert_eq!(
        p256_dhkey(&hex(PRIV_B), &hex(PUB_A_X), &hex(PUB_A_Y)),
        Ok(dhkey)
    );
    assert_eq!(
        p256_public_key(&hex(PRIV_A)),
        Ok((hex(PUB_A_X), hex(PUB_A_Y)))
    );
    assert_eq!(
        p256_public_key(&hex(PRIV_B)),
        Ok((hex(PUB_B_X), hex(PUB_B_Y)))
    );
}

#[test]
fn p256_ecdh_data_set_2() {
    let private: [u8; 32] =
        hex("06a51669 3c9aa31a 6084545d 0c5db641 b48572b9 7203ddff b7ac73f7 d0457663");
    let x: [u8; 32] =
        hex("f465e43f f23d3f1b 9dc7dfc0 4da87581 84dbc966 204796ec cf0d6cf5 e16500cc");
    let y: [u8; 32] =
        hex("0201d048 bcbbd899 eeefc424 164e33c2 01c2b010 ca6b4d43 a8a155ca d8ecb279");
    let expected: [u8; 32] =
        hex("ab85843a 2f6d883f 62e5684b 38e30733 5fe6e194 5ecd1960 4105c6f2 3221eb69");
    assert_eq!(p256_dhkey(&private, &x, &y), Ok(expected));
}

#[test]
fn debug_key_is_data_set_1_key_a() {
    assert_eq!(DEBUG_PRIVATE_KEY, hex(PRIV_A));
    assert_eq!(DEBUG_PUBLIC_X, hex(PUB_A_X));
}

#[test]
fn ecdh_rejects_a_point_off_the_curve() {
    let mut y: [u8; 32] = hex(PUB_B_Y);
    y[31] ^= 1;
    assert_eq!(
        p256_dhkey(&hex(PRIV_A), &hex(PUB_B_X), &y),
        Err(EcdhError::InvalidPublicKey)
    );
    assert_eq!(
        p256_dhkey(&[0; 32], &hex(PUB_B_X), &hex(PUB_B_Y)),
        Err(EcdhError::InvalidPrivateKey)
    );
}

const N1: &str = "d5cb8454 d177733e ffffb2ec 712baeab";
const N2: &str = "a6e8e7cc 25a75f6e 216583f7 ff3dc4cf";

#[test]
fn f4_sample() {
    let out = f4(&hex(PUB_A_X), &hex(PRIV_B), &hex(N1), 0x00);
    assert_eq!(out, hex::<16>("f2c916f1 07a9bd1c f1eda1be a974872d"));
}

#[test]
fn f5_sample() {
    let (mac_key, ltk) = f5(
        &hex(DHKEY),
        &hex(N1),
        &hex(N2),
        &hex("00561237 37bfce"),
        &hex("00a71370 2dcfc1"),
    );
    assert_eq!(mac_key, hex::<16>("2965f176 a1084a02 fd3f6a20 ce636e20"));
    assert_eq!(ltk, hex::<16>("69867911 69d7cd23 980522b5 94750a38"));
    // The intermediate T of the sample data is AES-CMAC_SALT(W).
    let salt: [u8; 16] = hex("6C888391 AAF5A538 60370BDB 5A6083BE");
    assert_eq!(
        aes_cmac(&salt, &[&hex::<32>(DHKEY)]),
        hex::<16>("3c128f20 de883288 97624bdb 8dac6989")
    );
}

#[test]
fn f6_sample() {
    let out = f6(
        &hex("2965f176 a1084a02 fd3f6a20 ce636e20"),
        &hex(N1),
        &hex(N2),
        &hex("12a3343b b453bb54 08da42d2 0c2d0fc8"),
        &hex("010102"),
        &hex("0056123737bfce"),
        &hex("00a713702dcfc1"),
    );
    assert_eq!(out, hex::<16>("e3c47398 9cd0e8c5 d26c0b09 da958f61"));
}

#[test]
fn g2_sample() {
    let value = g2(&hex(PUB_A_X), &hex(PRIV_B), &hex(N1), &hex(N2));
    assert_eq!(value, 0x2f9ed5ba);
    assert_eq!(value % 1_000_000, 938554);
}

const W128: &str = "ec0234a3 57c8ad05 341010a6 0a397d9b";

#[test]
fn h6_h7_h8_samples() {
    assert_eq!(
        h6(&hex(W128), b"lebr"),
        hex::<16>("2d9ae102 e76dc91c e8d3a9e2 80b16399")
    );
    let salt: [u8; 16] = hex("00000000 00000000 00000000 746d7031");
    assert_eq!(
        h7(&salt, &hex(W128)),
        hex::<16>("fb173597 c6a3c0ec d2998c2a 75a57011")
    );
    let s: [u8; 16] = hex("1536d18d e3d20df9 9b7044c1 2f9ed5ba");
    assert_eq!(
        h8(&hex(W128), &s, &hex("cc030148")),
        hex::<16>("e5e5beba ae7228e7 22a38904 ed350f6d")
    );
}

#[test]
fn ltk_and_link_key_conversions() {
    let ltk: [u8; 16] = hex("368df9bc e3264b58 bd066c33 334fbf64");
    let tmp1_salt: [u8; 16] = hex("00000000 00000000 00000000 746d7031");
    assert_eq!(
        h6(&h6(&ltk, b"tmp1"), b"lebr"),
        hex::<16>("bc1ca4ef 633fc1bd 0d8230af ee388fb0")
    );
    assert_eq!(
        h6(&h7(&tmp1_salt, &ltk), b"lebr"),
        hex::<16>("287ad379 dca40253 0a39f1f4 3047b835")
    );
    let link_key: [u8; 16] = hex("05040302 01000908 07060504 03020100");
    let tmp2_salt: [u8; 16] = hex("00000000 00000000 00000000 746d7032");
    assert_eq!(
        h6(&h6(&link_key, b"tmp2"), b"brle"),
        hex::<16>("a813fb72 f1a3dfa1 8a2c9a43 f10d0a30")
    );
    assert_eq!(
        h6(&h7(&tmp2_salt, &link_key), b"brle"),
        hex::<16>("e85e09eb 5eccb3e2 69418a13 3211bc79")
    );
}

#[test]
fn ah_sample() {
    let irk: [u8; 16] = hex(W128);
    assert_eq!(
        e(&irk, &hex("00000000 00000000 00000000 00708194")),
        hex::<16>("159d5fb7 2ebe2311 a48c1bdc c40dfbaa")
    );
    assert_eq!(ah(&irk, &hex("708194")), hex::<3>("0dfbaa"));
}

#[test]
fn c1_example() {
    let preq: [u8; 7] = hex("01010000100707");
    let pres: [u8; 7] = hex("02030000080005");
    let (p1, p2) = c1_padding(
        &preq,
        &pres,
        1,
        0,
        &hex("A1A2A3A4A5A6"),
        &hex("B1B2B3B4B5B6"),
    );
    assert_eq!(p1, hex::<16>("05000800 00030207 07100000 01010001"));
    assert_eq!(p2, hex::<16>("00000000 A1A2A3A4 A5A6B1B2 B3B4B5B6"));
    let out = c1(
        &[0; 16],
        &hex("5783D521 56AD6F0E 6388274E C6702EE0"),
        &preq,
        &pres,
        1,
        0,
        &hex("A1A2A3A4A5A6"),
        &hex("B1B2B3B4B5B6"),
    );
    assert_eq!(out, hex::<16>("1e1e3fef 878988ea d2a74dc5 bef13b86"));
}

#[test]
fn s1_example() {
    let out = s1(
        &[0; 16],
        &hex("000F0E0D 0C0B0A09 11223344 55667788"),
        &hex("01020304 05060708 99AABBCC DDEEFF00"),
    );
    assert_eq!(out, hex::<16>("9a1fe1f0 e8b0f49b 5b4216ae 796da062"));
}

#[test]
fn tk_brute_force_finds_the_lowest_match_on_any_number_of_threads() {
    use blepake_sniff::crack::{EachTk, brute_force_tk_on, tk_from_passkey};
    let matches =
        EachTk(|tk: &[u8; 16]| *tk == tk_from_passkey(900_000) || *tk == tk_from_passkey(777_777));
    for threads in [1, 2, 3, 8] {
        assert_eq!(
            brute_force_tk_on(threads, &matches, &mut |_| {}),
            Some(777_777),
            "{threads}"
        );
    }
    assert_eq!(
        brute_force_tk_on(4, &EachTk(|_: &[u8; 16]| false), &mut |_| {}),
        None
    );
}

/// The eight-lane c1 search against c1 itself, on the specification's c1 example
/// (Vol 3 Part H §2.2.3) with the TK of each passkey tried: in the first lane of
/// a batch, the last lane, the unaligned tail before 1,000,000, and TK 0.
#[test]
fn confirm_search_agrees_with_c1() {
    use blepake_sniff::crack::{
        ConfirmSearch, PASSKEY_COUNT, TkSearch, brute_force_tk_on, tk_from_passkey,
    };
    let preq: [u8; 7] = hex("01010000100707");
    let pres: [u8; 7] = hex("02030000080005");
    let (ia, ra) = (hex("A1A2A3A4A5A6"), hex("B1B2B3B4B5B6"));
    let (p1, p2) = c1_padding(&preq, &pres, 1, 0, &ia, &ra);
    let random = hex("5783D521 56AD6F0E 6388274E C6702EE0");
    for passkey in [0, 8, 15, 123_456, 999_999] {
        let confirm = c1(
            &tk_from_passkey(passkey),
            &random,
            &preq,
            &pres,
            1,
            0,
            &ia,
            &ra,
        );
        let search = ConfirmSearch::new(random, p1, p2, confirm);
        assert_eq!(search.find(0..PASSKEY_COUNT), Some(passkey), "{passkey}");
        assert_eq!(search.find(passkey + 1..PASSKEY_COUNT), None, "{passkey}");
        assert_eq!(brute_force_tk_on(2, &search, &mut |_| {}), Some(passkey));
    }
}
