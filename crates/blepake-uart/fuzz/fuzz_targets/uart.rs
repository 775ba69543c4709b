//! The device's end of the UART framing fed what a line can carry: raw
//! bytes in pieces of any size (noise, torn and oversized frames) and
//! sound frames of any type with any payload, with time passing between
//! them. It must never panic, and every
//! byte it writes back must decode as a sound frame.
#![no_main]

use blepake::pump::Output;
use blepake::{
    Device, DeviceId, DeviceLink, DevicePolicy, DeviceRecord, Instant, KdfParams, MemoryStorage,
    ProverSecrets,
};
use blepake_uart::{Decoder, DeviceSide, FrameType, MAX_ENCODED_LEN, Uart, encode};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// Built once: the verifier costs three scalar multiplications.
fn record() -> DeviceRecord {
    static RECORD: std::sync::OnceLock<DeviceRecord> = std::sync::OnceLock::new();
    RECORD
        .get_or_init(|| {
            let secrets = ProverSecrets::from_pbkdf_output(&[1; 80]).unwrap();
            DeviceRecord::new(
                DeviceId([7; 8]),
                KdfParams::recommended([2; 16]),
                secrets.verifier(),
            )
        })
        .clone()
}

/// The device's writes, checked frame by frame as they come.
#[derive(Default)]
struct CheckedLine {
    decoder: Decoder,
}

impl Uart for CheckedLine {
    fn write(&mut self, bytes: &[u8]) {
        assert_eq!(bytes.last(), Some(&0), "a write ends mid-frame");
        let delimiters = bytes.iter().filter(|&&b| b == 0).count();
        let mut frames = 0;
        let mut rest = bytes;
        while !rest.is_empty() {
            let (taken, frame) = self.decoder.push(rest);
            rest = &rest[taken..];
            frames += usize::from(frame.is_some());
        }
        assert_eq!(frames, delimiters, "a write holds a damaged frame");
    }
}

fuzz_target!(|data: &[u8]| {
    let clock = std::cell::Cell::new(Instant::from_millis(0));
    let mut device = Device::<_, _, 1>::new(
        record(),
        DevicePolicy::default(),
        MemoryStorage::default(),
        ChaCha20Rng::seed_from_u64(1),
        clock.get(),
    );
    let mut side = DeviceSide::default();
    let mut line = CheckedLine::default();
    let mut on_output = |_: &mut DeviceLink<'_, MemoryStorage, ChaCha20Rng>, _: Output<'_>| {};
    // Any board command is the button.
    let mut on_board = |device: &mut Device<MemoryStorage, ChaCha20Rng, 1>, _: u8, _: &[u8]| {
        let _ = device.open_pairing_window(clock.get());
    };
    let mut input = data;
    // Each step: a tag, a length, that many bytes.
    while let [tag, len, rest @ ..] = input {
        let (bytes, after) = rest.split_at(usize::from(*len).min(rest.len()));
        input = after;
        let now = clock.get();
        match tag % 3 {
            0 => side.receive(
                &mut device,
                &mut line,
                bytes,
                now,
                &mut on_output,
                &mut on_board,
            ),
            1 => {
                let kind = FrameType::from_byte(bytes.first().copied().unwrap_or(0))
                    .unwrap_or(FrameType::Inbound);
                let mut frame = [0; MAX_ENCODED_LEN];
                let Ok(len) = encode(kind, bytes.get(1..).unwrap_or_default(), &mut frame) else {
                    continue;
                };
                side.receive(
                    &mut device,
                    &mut line,
                    &frame[..len],
                    now,
                    &mut on_output,
                    &mut on_board,
                );
            }
            _ => {
                let now = Instant::from_millis(now.as_millis() + 1000 * u64::from(*len));
                clock.set(now);
                if side.poll_timeout(&mut device).is_some_and(|at| at <= now) {
                    side.handle_timeout(&mut device, &mut line, now, &mut on_output);
                }
            }
        }
    }
});
