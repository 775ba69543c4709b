//! The container readers (pcap, pcapng, btsnoop): any bytes, every frame read,
//! and a fault only as a value with an offset inside the input.
#![no_main]

use blepake_sniff::capture::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = CaptureReader::new(data) else { return };
    for frame in reader {
        match frame {
            Ok(frame) => assert!(frame.offset < data.len() as u64),
            Err(error) => assert!(error.offset <= data.len() as u64),
        }
    }
});
