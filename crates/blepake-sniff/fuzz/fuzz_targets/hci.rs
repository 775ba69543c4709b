//! HCI commands, events and ACL fragments.
#![no_main]

use blepake_sniff::codec::hci::{decode_acl, decode_command, decode_event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_command(data).map(|c| c.name());
    let _ = decode_event(data).map(|e| e.name());
    if let Ok(fragment) = decode_acl(data) {
        assert!(fragment.data.len() + 4 <= data.len());
    }
});
