//! The whole analysis on arbitrary files: connection tracking, findings, pairing
//! evaluation and decryption must hold up on anything a reader accepts. The TK
//! brute force stays off (a million AES per pairing would starve the fuzzer).
#![no_main]

use blepake_sniff::{Options, analyse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = Options { ltks: vec![[0x11; 16]], brute_force: false, tks: vec![[0x22; 16]] };
    if let Ok(report) = analyse(data, &options, &mut |_| {}) {
        assert!(report.packets <= data.len() as u64);
    }
});
