//! Link-layer PDUs: advertising PDUs, data PDU headers and every control PDU.
#![no_main]

use blepake_sniff::codec::frame::crc24;
use blepake_sniff::codec::ll::{decode_adv, decode_control, decode_data, local_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_adv(data);
    let _ = local_name(data);
    if let Ok((header, payload)) = decode_data(data) {
        assert_eq!(payload.len(), usize::from(header.length));
    }
    if let Ok(pdu) = decode_control(data) {
        let _ = pdu.name();
    }
    let _ = crc24(0x55_5555, data);
});
