//! The state machines with a fault at every value boundary of a pairing, a
//! wrong-code pairing and a bonded reconnect, at two MTUs: the link drops,
//! stalls past every deadline, loses a value, repeats one, flips a bit in
//! one, or carries garbage. Every run must end in an open session or a
//! clean failure on each side, and no side may deliver a message its peer
//! did not send, or deliver one twice or out of order. (The simulator's
//! `sessions` test runs the same faults on a timed BLE link.)

mod common;

use std::time::Duration;

use blepake::pump::Input;
use blepake::{Bond, Connection, DevicePolicy, HostConfig, HostConnection, Instant, MemoryStorage};
use common::*;
use rand_core::RngCore;

const T0: Instant = Instant::from_millis(0);

#[derive(Clone, Copy, Debug)]
enum Kind {
    Pair,
    WrongCode,
    Resume,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Disconnect,
    Stall,
    Drop,
    Repeat,
    FlipBit(usize),
    Garbage,
}

fn host_messages() -> Vec<Vec<u8>> {
    vec![
        b"first, with the confirmation".to_vec(),
        vec![0x42; 300],
        b"third".to_vec(),
    ]
}

fn device_messages() -> Vec<Vec<u8>> {
    vec![b"hello host".to_vec(), vec![0x17; 200]]
}

/// A device, with a bond for resumes, and the bond.
fn prepare(kind: Kind) -> (TestDevice, Option<Bond>) {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let bond = matches!(kind, Kind::Resume).then(|| {
        let pipe = pair(&mut device, 1, 5, T0);
        bond_of(&pipe.host_seen)
    });
    (device, bond)
}

struct Outcome {
    host_open: bool,
    device_open: bool,
    host_ended: bool,
    device_ended: bool,
    boundaries: usize,
}

/// Runs one scenario with `fault` striking the value with index `at`
/// (values counted over both directions), and checks what was delivered.
fn run(kind: Kind, mtu: usize, fault: Option<(usize, Fault)>, seed: u64) -> Outcome {
    let (mut device, bond) = prepare(kind);
    let host = match (&bond, kind) {
        (Some(bond), _) => HostConnection::resume(bond, HostConfig::default(), &mut rng(seed), T0),
        (None, Kind::WrongCode) => pairing_host(2, seed, T0),
        (None, _) => pairing_host(1, seed, T0),
    };
    let mut pipe = Pipe::new(host, &mut device, mtu, T0);
    pipe.host_seen.outbox = host_messages().into();
    pipe.device_seen.outbox = device_messages().into();
    let mut garbage = rng(seed ^ 0xabcd);
    let mut index = 0;
    let mut cut = false;
    // Flights until quiet or cut.
    'flights: loop {
        let mut moved = false;
        for from_host in [true, false] {
            if from_host {
                pipe.pump_host(Input::Ready);
            } else {
                pipe.pump_device(&mut device, Input::Ready);
            }
            let queue = if from_host {
                &mut pipe.to_device
            } else {
                &mut pipe.to_host
            };
            let values: Vec<Vec<u8>> = queue.values.drain(..).collect();
            for value in values {
                moved = true;
                let mut deliveries = vec![value.clone()];
                if let Some((at, fault)) = fault {
                    if at == index {
                        match fault {
                            Fault::Disconnect => {
                                pipe.pump_host(Input::Disconnected);
                                pipe.pump_device(&mut device, Input::Disconnected);
                                cut = true;
                                break 'flights;
                            }
                            Fault::Stall => {
                                cut = true;
                                break 'flights;
                            }
                            Fault::Drop => deliveries.clear(),
                            Fault::Repeat => deliveries.push(value.clone()),
                            Fault::FlipBit(bit) => {
                                let bit = bit % (value.len() * 8);
                                deliveries[0][bit / 8] ^= 1 << (bit % 8);
                            }
                            Fault::Garbage => {
                                let mut junk = vec![0; value.len()];
                                garbage.fill_bytes(&mut junk);
                                deliveries.insert(0, junk);
                            }
                        }
                    }
                }
                index += 1;
                for delivery in &deliveries {
                    if from_host {
                        pipe.pump_device(&mut device, Input::Received(delivery));
                    } else {
                        pipe.pump_host(Input::Received(delivery));
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
    // Time passes: every deadline that runs fires.
    let late = T0 + Duration::from_secs(31);
    pipe.set_now(late);
    pipe.pump_host(Input::Timer);
    pipe.pump_device(&mut device, Input::Timer);
    if cut {
        // A stalled link is dropped by the supervision timeout.
        pipe.pump_host(Input::Disconnected);
        pipe.pump_device(&mut device, Input::Disconnected);
    }

    // What each side delivered is what the other sent, in order, once.
    let sent_by_host = host_messages();
    let sent_by_device = device_messages();
    let got = &pipe.device_seen.messages;
    assert!(got.len() <= sent_by_host.len() && got[..] == sent_by_host[..got.len()]);
    let got = &pipe.host_seen.messages;
    assert!(got.len() <= sent_by_device.len() && got[..] == sent_by_device[..got.len()]);

    let host_open = pipe.host.is_open();
    let device_open = pipe.device_open(&mut device);
    let host_ended = pipe.host_seen.failure().is_some() || pipe.host.is_closed();
    let device_ended = pipe.device_seen.failure().is_some() || pipe.device_closed(&mut device);
    Outcome {
        host_open,
        device_open,
        host_ended,
        device_ended,
        boundaries: index,
    }
}

#[test]
fn every_fault_at_every_boundary_ends_cleanly() {
    let mut runs = 0;
    for kind in [Kind::Pair, Kind::WrongCode, Kind::Resume] {
        for mtu in [23, 247] {
            let clean = run(kind, mtu, None, 1);
            match kind {
                Kind::WrongCode => assert!(clean.host_ended && clean.device_ended),
                _ => assert!(clean.host_open && clean.device_open, "{kind:?} {mtu}"),
            }
            for at in 0..clean.boundaries {
                for fault in [
                    Fault::Disconnect,
                    Fault::Stall,
                    Fault::Drop,
                    Fault::Repeat,
                    Fault::FlipBit(at * 7 + 3),
                    Fault::Garbage,
                ] {
                    let outcome = run(kind, mtu, Some((at, fault)), at as u64);
                    let context = format!("{kind:?} mtu {mtu}, {fault:?} at value {at}");
                    assert!(
                        outcome.host_open || outcome.host_ended,
                        "host hangs: {context}"
                    );
                    assert!(
                        outcome.device_open || outcome.device_ended,
                        "device hangs: {context}"
                    );
                    if matches!(kind, Kind::WrongCode) {
                        assert!(!outcome.host_open && !outcome.device_open, "{context}");
                    }
                    runs += 1;
                }
            }
        }
    }
    println!("{runs} runs with a fault");
    assert!(runs > 300, "{runs}");
}
