//! The holes a security review found, each shown closed: replayed resumes,
//! pairing outside the window, bonds that could not be revoked, links that
//! held the device with no deadline, and a dropped link holding the lock.
//! (A counter torn to zero: `attempts.rs`.)

mod common;

use std::time::Duration;

use blepake::pump::Input;
use blepake::{
    Connection, DevicePolicy, Error, Event, HostConnection, Instant, MemoryStorage, PairingWindow,
    State,
};
use common::*;

const T0: Instant = Instant::from_millis(5_000);

/// A device that already holds a bond (so its window is closed), and that
/// bond.
fn bonded_device<const N: usize>() -> (TestDevice<N>, blepake::Bond) {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 1, 1, T0);
    assert!(pipe.host.is_open());
    let bond = bond_of(&pipe.host_seen);
    device.remove(pipe.link);
    (device, bond)
}

/// Sends `values` to a new link of `device` and returns what the device
/// sent back and how the link ended.
fn replay<const N: usize>(
    device: &mut TestDevice<N>,
    values: &[Vec<u8>],
    now: Instant,
) -> (Vec<Vec<u8>>, Option<(Error, bool)>) {
    let mut pipe = Pipe::new(pairing_host(1, 0, now), device, 23, now);
    pipe.to_device.subscribed = true;
    for value in values {
        pipe.pump_device(device, Input::Received(value));
    }
    let sent = pipe.to_host.values.drain(..).collect();
    device.remove(pipe.link);
    (sent, pipe.device_seen.failure())
}

#[test]
fn a_replayed_resume_gets_nothing_and_never_keeps_the_owner_out() {
    let (mut device, bond): (TestDevice<2>, _) = bonded_device();
    let owner = resume(&mut device, &bond, 2, T0);
    assert!(owner.host.is_open());
    // The ResumeRequest frame: 2 + 67 bytes, in values of 20.
    let mut sniffed = Vec::new();
    let mut len = 0;
    for value in &owner.host_seen.sent_values {
        if len >= 2 + 67 {
            break;
        }
        len += value.len();
        sniffed.push(value.clone());
    }
    assert_eq!(len, 2 + 67);
    device.remove(owner.link);

    // An hour of replays, one every 30 s, each on its own link.
    let mut now = T0;
    for round in 0..120 {
        now = now + Duration::from_secs(30);
        let (answer, failure) = replay(&mut device, &sniffed, now);
        // Only an alert: no ResumeResponse, so no scalar multiplication.
        assert_eq!(answer, vec![vec![0x70, 1, 6]], "round {round}");
        assert_eq!(failure, Some((Error::ResumeRejected, false)));
        // The owner resumes, and a new host pairs, in between.
        if round % 40 == 0 {
            let pipe = resume(&mut device, &bond, 100 + round, now);
            assert!(pipe.host.is_open(), "round {round}");
            device.remove(pipe.link);
            device.open_pairing_window(now).unwrap();
            let pipe = pair(&mut device, 1, 200 + round, now);
            assert!(pipe.host.is_open(), "round {round}");
            device.remove(pipe.link);
        }
    }
}

#[test]
fn a_resume_in_flight_never_holds_pairing_back() {
    // A resume the device has answered and whose host went quiet: pairing
    // goes ahead beside it at once.
    let (mut device, bond): (TestDevice<2>, _) = bonded_device();
    let host = HostConnection::resume(&bond, Default::default(), &mut rng(3), T0);
    let mut stalled = Pipe::new(host, &mut device, 23, T0);
    stalled.host_flight(&mut device);
    assert_eq!(device.link(stalled.link).unwrap().state(), State::Resuming);
    device.open_pairing_window(T0).unwrap();
    let pipe = pair(&mut device, 1, 4, T0);
    assert!(pipe.host.is_open());
}

#[test]
fn pairing_outside_the_window_is_refused_and_counts_nothing() {
    let (mut device, _): (TestDevice, _) = bonded_device();
    assert_eq!(device.pairing_window(T0), PairingWindow::Closed);
    for seed in 0..20 {
        let pipe = pair(&mut device, 9, seed, T0);
        assert_eq!(pipe.host_seen.failure(), Some((Error::PairingClosed, true)));
        // The alert alone: no PairResponse, no scalar multiplication.
        assert_eq!(pipe.device_seen.sent_values, vec![vec![0x70, 1, 10]]);
    }
    assert_eq!(device.attempts().failures, 0);

    // A person opens the window: pairing works until it closes.
    device.open_pairing_window(T0).unwrap();
    let until = T0 + DevicePolicy::default().pairing_window;
    assert_eq!(device.pairing_window(T0), PairingWindow::OpenUntil(until));
    assert_eq!(
        pair(&mut device, 9, 30, T0).host_seen.failure(),
        Some((Error::AuthenticationFailed, false))
    );
    assert_eq!(device.attempts().failures, 1);
    assert_eq!(
        pair(&mut device, 1, 31, until).host_seen.failure(),
        Some((Error::PairingClosed, true)),
        "the window closed on time"
    );
    // A success closes it at once.
    device.open_pairing_window(until).unwrap();
    assert!(pair(&mut device, 1, 32, until).host.is_open());
    assert_eq!(device.pairing_window(until), PairingWindow::Closed);
    assert_eq!(
        pair(&mut device, 1, 33, until).host_seen.failure(),
        Some((Error::PairingClosed, true))
    );
}

#[test]
fn a_new_device_is_open_while_it_holds_no_bond() {
    let device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    assert_eq!(device.pairing_window(T0), PairingWindow::OpenWhileUnbonded);
    let later = T0 + Duration::from_secs(86_400);
    assert_eq!(
        device.pairing_window(later),
        PairingWindow::OpenWhileUnbonded
    );
}

#[test]
fn a_lost_phone_is_revoked_with_every_bond_and_a_repairing_host_replaces_its_own() {
    let (mut device, lost): (TestDevice, _) = bonded_device();
    // A second phone pairs in a window.
    device.open_pairing_window(T0).unwrap();
    let second = pair(&mut device, 1, 2, T0);
    let second_bond = bond_of(&second.host_seen);
    assert_eq!(device.bonds().len(), 2);
    assert!(device.bonds().iter().any(|host| host == lost.host_id));

    // The second phone pairs again, naming its bond: it replaces its bond,
    // and its old bond no longer resumes.
    device.open_pairing_window(T0).unwrap();
    let host = HostConnection::pair(
        &setup_info(),
        &secrets(1),
        Some(&second_bond),
        Default::default(),
        &mut rng(3),
        T0,
    );
    let mut again = Pipe::new(host, &mut device, 23, T0);
    again.run(&mut device);
    let renewed = bond_of(&again.host_seen);
    assert_eq!(renewed.host_id, second_bond.host_id);
    assert_eq!(device.bonds().len(), 2);
    assert_eq!(
        resume(&mut device, &second_bond, 4, T0).host_seen.failure(),
        Some((Error::ResumeRejected, true))
    );
    assert!(resume(&mut device, &renewed, 5, T0).host.is_open());

    // A long press: every bond goes, and with none left the device pairs.
    device.revoke_all_bonds().unwrap();
    assert!(device.bonds().is_empty());
    assert_eq!(device.pairing_window(T0), PairingWindow::OpenWhileUnbonded);
    assert_eq!(
        resume(&mut device, &lost, 6, T0).host_seen.failure(),
        Some((Error::ResumeRejected, true))
    );
    let new_phone = pair(&mut device, 1, 7, T0);
    assert!(new_phone.host.is_open());
    assert_eq!(device.bonds().len(), 1);
}

#[test]
fn a_silent_link_times_out_from_its_first_byte() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let id = device.accept(T0).unwrap();
    let deadline = T0 + DevicePolicy::default().request_timeout;
    let mut link = device.link(id).unwrap();
    assert_eq!(link.poll_timeout(), Some(deadline));
    // Half a request, then silence: the deadline stands.
    link.handle_input(&[0x10, 59, 1, 1, 0xd1], T0).unwrap();
    assert_eq!(link.poll_timeout(), Some(deadline));
    link.handle_timeout(deadline);
    assert!(matches!(
        link.poll_event(),
        Some(Event::Failed {
            error: Error::Timeout,
            by_peer: false
        })
    ));
    assert_eq!(link.state(), State::Closed);
}

#[test]
fn input_after_the_deadline_is_refused_even_without_a_timer() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut pipe = Pipe::new(pairing_host(1, 1, T0), &mut device, 23, T0);
    pipe.pump_host(Input::Ready);
    let late = T0 + DevicePolicy::default().request_timeout;
    pipe.set_now(late);
    let request: Vec<Vec<u8>> = pipe.to_device.values.drain(..).collect();
    for value in &request {
        pipe.pump_device(&mut device, Input::Received(value));
    }
    assert_eq!(pipe.device_seen.failure(), Some((Error::Timeout, false)));
    assert_eq!(device.attempts().failures, 0, "nothing was counted");
}

#[test]
fn removing_a_link_mid_handshake_releases_the_device_at_once() {
    let mut device: TestDevice<2> = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut first = Pipe::new(pairing_host(1, 1, T0), &mut device, 23, T0);
    first.host_flight(&mut device);
    assert_eq!(device.link(first.link).unwrap().state(), State::Pairing);
    // While the first link holds the pairing lock, a second host waits.
    let busy = pair(&mut device, 1, 2, T0);
    assert!(matches!(
        busy.host_seen.failure(),
        Some((Error::Busy { .. }, true))
    ));
    device.remove(busy.link);
    // The application drops the first link's object: the next pairs at once.
    assert!(device.remove(first.link));
    assert!(device.link(first.link).is_none());
    let pipe = pair(&mut device, 1, 3, T0);
    assert!(pipe.host.is_open());
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn an_ended_link_that_was_never_removed_gives_up_its_slot() {
    // A binding that forgets to remove a dead link does not lock the
    // device out of its next connection; a live link keeps its slot.
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let first = device.accept(T0).unwrap();
    assert_eq!(device.accept(T0), Err(blepake::LinkError::NoFreeSlot));
    device.link(first).unwrap().handle_disconnect();
    let second = device.accept(T0).unwrap();
    assert!(device.link(first).is_none());
    let pipe = pair(&mut device, 1, 1, T0);
    assert!(pipe.host.is_open());
    assert!(
        device.link(second).is_none(),
        "the pipe's pairing took the slot"
    );
}

#[test]
fn a_message_sent_after_any_call_goes_out_on_the_next_transmit() {
    // The order a hand-written loop might take: drain transmits, then
    // events, sending on Connected. The message still leaves on the next
    // poll_transmit.
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let id = device.accept(T0).unwrap();
    let mut host = pairing_host(1, 1, T0);
    let mut value = [0; 244];
    let mut to_device = Vec::new();
    while let Some(n) = host.poll_transmit(&mut value) {
        to_device.push(value[..n].to_vec());
    }
    let mut link = device.link(id).unwrap();
    for v in &to_device {
        link.handle_input(v, T0).unwrap();
    }
    while let Some(n) = link.poll_transmit(&mut value) {
        host.handle_input(&value[..n], T0).unwrap();
    }
    while let Some(n) = host.poll_transmit(&mut value) {
        link.handle_input(&value[..n], T0).unwrap();
    }
    while let Some(event) = host.poll_event() {
        if let Event::Connected(_) = event {
            host.send(b"late hello").unwrap();
        }
    }
    let n = host
        .poll_transmit(&mut value)
        .expect("the message is queued");
    link.handle_input(&value[..n], T0).unwrap();
    let mut buf = [0; blepake::MAX_MESSAGE_LEN];
    assert_eq!(link.recv(&mut buf), Some(&b"late hello"[..]));
}
