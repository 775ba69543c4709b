//! L2CAP reassembly from fragments (each prefixed by a length octet and a
//! start flag) and the LE signalling channel decoder.
#![no_main]

use blepake_sniff::codec::l2cap::{Reassembler, decode_signaling};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_signaling(data);
    let mut reassembler = Reassembler::default();
    let mut rest = data;
    let mut packet = 0;
    while let [control, tail @ ..] = rest {
        let len = usize::from(control >> 1).min(tail.len());
        let (fragment, next) = tail.split_at(len);
        packet += 1;
        if let Ok(Some(sdu)) = reassembler.push(control & 1 == 1, fragment, packet) {
            assert!(sdu.first_packet <= sdu.last_packet);
        }
        rest = next;
    }
});
