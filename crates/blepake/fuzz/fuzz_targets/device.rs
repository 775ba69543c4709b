//! The device's state machine fed a script of arbitrary bytes, genuine
//! host messages, time and disconnects, from four starting points: a fresh
//! link, after a genuine pairing request, after a genuine resume request,
//! and in an open session. It must never panic, and it must deliver only
//! messages the genuine host sent, in order.
#![no_main]

use blepake::{HostConnection, Instant};
use blepake_fuzz::*;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Some((&start, data)) = data.split_first() else { return };
    let mut device = device();
    // The genuine host, made when first needed: its first message costs
    // two scalar multiplications.
    let mut host = None;
    let mut conn = match start % 4 {
        0 => device.accept(),
        1 => {
            let host = host.insert(pairing_host());
            let mut conn = device.accept();
            for value in host_values(host, 20) {
                let _ = conn.handle_input(&mut device, &value, Instant::from_millis(0));
            }
            conn
        }
        2 => {
            let mut pairing = pairing_host();
            pair(&mut device, &mut pairing);
            let bond = bond_of(&mut pairing);
            let host = host.insert(HostConnection::resume(
                &bond,
                host_config(),
                &mut ChaCha20Rng::seed_from_u64(3),
                Instant::from_millis(0),
            ));
            let mut conn = device.accept();
            for value in host_values(host, 20) {
                let _ = conn.handle_input(&mut device, &value, Instant::from_millis(0));
            }
            conn
        }
        _ => pair(&mut device, host.insert(pairing_host())),
    };
    let mut delivery = Delivery::new();
    let mut now = 0u64;
    // What the device sent and the genuine host has not read yet.
    let mut to_host: Vec<Vec<u8>> = Vec::new();
    for step in script(data) {
        match step {
            Step::Bytes(bytes) => {
                let _ = conn.handle_input(&mut device, bytes, Instant::from_millis(now));
            }
            Step::Message(message) => {
                let host = host.get_or_insert_with(pairing_host);
                for value in to_host.drain(..) {
                    let _ = host.handle_input(&value, Instant::from_millis(now));
                }
                if host.send(message).is_ok() {
                    delivery.expected.push(message.to_vec());
                }
                for value in host_values(host, 20) {
                    let _ = conn.handle_input(&mut device, &value, Instant::from_millis(now));
                }
            }
            Step::Wait(seconds) => {
                now += u64::from(seconds) * 1000;
                conn.handle_timeout(&mut device, Instant::from_millis(now));
            }
            Step::Disconnect => conn.handle_disconnect(&mut device),
        }
        let events: Vec<_> = std::iter::from_fn(|| conn.poll_event()).collect();
        let messages = recv_all(|buf| conn.recv(buf).map(<[u8]>::to_vec));
        delivery.take(events.into_iter(), messages.into_iter());
        to_host.extend(device_values(&mut conn, 20));
    }
});
