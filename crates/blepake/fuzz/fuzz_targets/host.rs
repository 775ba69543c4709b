//! The host's state machine fed a script of arbitrary bytes, genuine
//! device messages, time and disconnects: pairing, resuming, or in an open
//! session. It must never panic, and it must deliver only messages the
//! genuine device sent, in order.
#![no_main]

use blepake::{HostConnection, Instant};
use blepake_fuzz::*;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Some((&start, data)) = data.split_first() else { return };
    let mut device = device();
    let mut host = pairing_host();
    let mut conn = match start % 3 {
        0 => device.accept(),
        1 => {
            pair(&mut device, &mut host);
            let bond = bond_of(&mut host);
            host = HostConnection::resume(&bond, host_config(), &mut ChaCha20Rng::seed_from_u64(3), Instant::from_millis(0));
            device.accept()
        }
        _ => pair(&mut device, &mut host),
    };
    let mut delivery = Delivery::new();
    let mut now = 0u64;
    for step in script(data) {
        match step {
            Step::Bytes(bytes) => {
                let _ = host.handle_input(bytes, Instant::from_millis(now));
            }
            Step::Message(message) => {
                // The genuine device answers the host's pending messages
                // and sends this one if its session is open.
                for value in host_values(&mut host, 20) {
                    let _ = conn.handle_input(&mut device, &value, Instant::from_millis(now));
                }
                if conn.send(message).is_ok() {
                    delivery.expected.push(message.to_vec());
                }
                for value in device_values(&mut conn, 20) {
                    let _ = host.handle_input(&value, Instant::from_millis(now));
                }
            }
            Step::Wait(seconds) => {
                now += u64::from(seconds) * 1000;
                host.handle_timeout(Instant::from_millis(now));
            }
            Step::Disconnect => host.handle_disconnect(),
        }
        let events: Vec<_> = std::iter::from_fn(|| host.poll_event()).collect();
        let messages = recv_all(|buf| host.recv(buf).map(<[u8]>::to_vec));
        delivery.take(events.into_iter(), messages.into_iter());
    }
});
