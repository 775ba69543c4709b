//! The link-type framings: the first octet picks the link type, the rest is the frame.
#![no_main]

use blepake_sniff::capture::{Frame, LinkType};
use blepake_sniff::codec::frame::decode_frame;
use libfuzzer_sys::fuzz_target;

const LINK_TYPES: [LinkType; 10] = [
    LinkType::H4,
    LinkType::Ppi,
    LinkType::H4WithPhdr,
    LinkType::LeLl,
    LinkType::LinuxMonitor,
    LinkType::LeLlWithPhdr,
    LinkType::NordicBle,
    LinkType::BtsnoopHci,
    LinkType::BtsnoopH4,
    LinkType::BtsnoopMonitor,
];

fuzz_target!(|data: &[u8]| {
    let [selector, flags, rest @ ..] = data else { return };
    let frame = Frame {
        number: 1,
        offset: 0,
        timestamp_ns: 0,
        link_type: LINK_TYPES[usize::from(*selector) % LINK_TYPES.len()],
        interface: 0,
        flags: u32::from(*flags) | u32::from(*selector) << 16,
        data: rest.to_vec(),
    };
    let _ = decode_frame(&frame);
});
