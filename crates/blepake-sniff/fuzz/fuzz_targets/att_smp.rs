//! ATT and SMP PDUs.
#![no_main]

use blepake_sniff::codec::att::decode_att;
use blepake_sniff::codec::smp::decode_smp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_att(data).map(|pdu| pdu.name());
    let _ = decode_smp(data).map(|pdu| pdu.name());
});
