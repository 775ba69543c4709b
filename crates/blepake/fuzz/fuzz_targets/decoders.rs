//! Every decoder of the core on arbitrary bytes: each returns a value or
//! an error, and a decoded value re-encodes to the same bytes.
#![no_main]

use blepake::wire::{
    decode_confirm, Alert, Control, Deframer, FrameHeader, PairRequest, PairResponse,
    ResumeRequest, ResumeResponse,
};
use blepake::{Bond, DeviceRecord, SetupCode, SetupInfo, SetupPayload, Slot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    match selector % 14 {
        0 => {
            if let [a, b, ..] = *bytes {
                if let Ok(header) = FrameHeader::decode([a, b]) {
                    assert_eq!(header.encode(), [a, b]);
                }
            }
        }
        1 => {
            if let Ok(m) = PairRequest::decode(bytes) {
                assert_eq!(&m.encode()[..], bytes);
            }
        }
        2 => {
            if let Ok(m) = PairResponse::decode(bytes) {
                assert_eq!(&m.encode()[..], bytes);
            }
        }
        3 => {
            if let Ok(m) = ResumeRequest::decode(bytes) {
                assert_eq!(&m.encode()[..], bytes);
            }
        }
        4 => {
            if let Ok(m) = ResumeResponse::decode(bytes) {
                assert_eq!(&m.encode()[..], bytes);
            }
        }
        5 => {
            if let Ok(alert) = Alert::decode(bytes) {
                if !matches!(alert, Alert::Unknown(_)) {
                    let (encoded, len) = alert.encode();
                    assert_eq!(&encoded[..len], bytes);
                }
            }
        }
        6 => {
            if let Ok(control) = Control::decode(bytes) {
                let (encoded, len) = control.encode();
                assert_eq!(&encoded[..len], bytes);
            }
            let _ = decode_confirm(bytes);
        }
        7 => {
            if let Ok(info) = SetupInfo::decode(bytes) {
                assert_eq!(&info.encode()[..], bytes);
            }
        }
        8 => {
            if let Ok(text) = std::str::from_utf8(bytes) {
                if let Ok(payload) = SetupPayload::parse(text) {
                    assert_eq!(payload.to_text().as_str(), text);
                }
                let _ = SetupCode::parse_manual(text);
                let _ = text.parse::<SetupCode>();
            }
        }
        9 => {
            if let Ok(record) = DeviceRecord::from_bytes(bytes) {
                assert_eq!(&record.to_bytes()[..], bytes);
            }
        }
        10 => {
            if let Ok(bond) = Bond::from_bytes(bytes) {
                assert_eq!(&bond.to_bytes()[..], bytes);
            }
        }
        11 => {
            // A stream cut at the positions the first bytes give.
            let mut deframer = Deframer::new();
            let (cuts, mut stream) = bytes.split_at(bytes.len().min(4));
            for &cut in cuts.iter().chain(std::iter::repeat(&255)).take(64) {
                let (mut piece, rest) = stream.split_at(usize::from(cut).min(stream.len()));
                stream = rest;
                loop {
                    match deframer.read(&mut piece) {
                        Ok(Some(frame)) => assert!(frame.body().len() == frame.header().body_len),
                        Ok(None) => break,
                        Err(_) => return,
                    }
                }
                if stream.is_empty() {
                    break;
                }
            }
        }
        12 => {
            if let [a, b, ..] = *bytes {
                if let Some(slot) = Slot::from_key(u16::from_le_bytes([a, b])) {
                    assert_eq!(slot.key(), u16::from_le_bytes([a, b]));
                }
            }
        }
        _ => {
            if let Ok(code) = SetupCode::new(u32::from_le_bytes(
                bytes.get(..4).and_then(|b| b.try_into().ok()).unwrap_or_default(),
            )) {
                assert_eq!(SetupCode::parse_manual(&code.manual().to_string()), Ok(code));
            }
        }
    }
});
