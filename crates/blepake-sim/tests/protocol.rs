//! Host and device against each other through the public API.

mod pipe;

use std::time::Duration;

use blepake::{
    Alert, Bond, DevicePolicy, Error, Event, HostConfig, HostConnection, Instant, MAX_MESSAGE_LEN,
    Mode, ProtocolViolation, SendError,
};
use pipe::*;

const T0: Instant = Instant::from_millis(1_000);

fn bond_of(seen: &Seen) -> Bond {
    seen.events
        .iter()
        .find_map(|e| match e {
            Event::Bonded(bond) => Some(bond.clone()),
            _ => None,
        })
        .expect("a bond")
}

fn mode_of(seen: &Seen) -> Mode {
    seen.events
        .iter()
        .find_map(|e| match e {
            Event::Connected(info) => Some(info.mode),
            _ => None,
        })
        .expect("connected")
}

#[test]
fn pairs_exchanges_messages_and_reconnects_with_a_bond_at_every_mtu() {
    for mtu in [23, 27, 100, 185, 247, 517] {
        let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let mut pipe = pair(&mut device, 1, mtu as u64, T0);
        assert!(pipe.host.is_open() && pipe.conn.is_open(), "mtu {mtu}");
        assert_eq!(mode_of(&pipe.host_seen), Mode::Paired);
        assert_eq!(mode_of(&pipe.device_seen), Mode::Paired);
        let host_bond = bond_of(&pipe.host_seen);
        assert_eq!(host_bond, bond_of(&pipe.device_seen));
        assert_eq!(device.attempts().failures, 0);

        let long = vec![0xa5; MAX_MESSAGE_LEN];
        pipe.host.send(b"hello device").unwrap();
        pipe.host.send(&long).unwrap();
        pipe.conn.send(b"hello host").unwrap();
        pipe.run(&mut device, T0);
        assert_eq!(
            pipe.device_seen.messages,
            vec![b"hello device".to_vec(), long.clone()]
        );
        assert_eq!(pipe.host_seen.messages, vec![b"hello host".to_vec()]);

        pipe.host.close(3).unwrap();
        pipe.run(&mut device, T0);
        assert!(pipe.conn.is_closed());
        assert!(matches!(
            pipe.device_seen.events.last(),
            Some(Event::Closed {
                by_peer: true,
                reason: 3
            })
        ));

        // A new link: one round trip with the bond, no code.
        let host = HostConnection::resume(&host_bond, HostConfig::default(), &mut rng(99), T0);
        let mut pipe = Pipe::new(host, &mut device, mtu);
        pipe.run(&mut device, T0);
        assert_eq!(mode_of(&pipe.host_seen), Mode::Resumed);
        assert_eq!(mode_of(&pipe.device_seen), Mode::Resumed);
        pipe.host.send(b"again").unwrap();
        pipe.conn.send(b"welcome back").unwrap();
        pipe.run(&mut device, T0);
        assert_eq!(pipe.device_seen.messages, vec![b"again".to_vec()]);
        assert_eq!(pipe.host_seen.messages, vec![b"welcome back".to_vec()]);
    }
}

#[test]
fn three_messages_and_half_rtt_data_ride_with_the_confirmation() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let host = HostConnection::pair(
        &setup_info(),
        &secrets(1),
        HostConfig::default(),
        &mut rng(1),
        T0,
    );
    let mut pipe = Pipe::new(host, &mut device, 247);
    assert!(pipe.host_flight(&mut device, T0));
    assert!(pipe.device_flight(T0));
    // The host is open once the device proved itself; its first message
    // goes out in the same flight as its confirmation.
    assert!(pipe.host.is_open());
    assert!(!pipe.conn.is_open());
    assert_eq!(pipe.conn.send(b"too early"), Err(SendError::NotOpen));
    pipe.host.send(b"0.5-RTT").unwrap();
    assert!(pipe.host_flight(&mut device, T0));
    assert_eq!(pipe.device_seen.messages, vec![b"0.5-RTT".to_vec()]);
    // Three handshake messages, the third sharing its value with the record.
    assert_eq!(pipe.host_seen.sent_values.len(), 2);
    assert_eq!(pipe.device_seen.sent_values.len(), 1);
    assert_eq!(pipe.host_seen.sent_values[1].len(), 2 + 32 + 2 + 7 + 16);
    assert!(!pipe.device_flight(T0) && !pipe.host_flight(&mut device, T0));
}

#[test]
fn a_wrong_code_fails_on_both_sides_and_is_counted() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 2, 1, T0);
    assert_eq!(pipe.host_seen.failure(), Some(Error::AuthenticationFailed));
    assert_eq!(
        pipe.device_seen.failure(),
        Some(Error::Rejected(Alert::AuthenticationFailed))
    );
    assert!(!pipe.host_seen.connected() && !pipe.device_seen.connected());
    assert_eq!(device.attempts().failures, 1);

    // The right code afterwards clears the count.
    let pipe = pair(&mut device, 1, 2, T0);
    assert!(pipe.host.is_open());
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn an_altered_confirmation_is_refused_by_the_device() {
    // With a wrong code the host notices first (confirmV). The device's
    // own check of confirmP catches tampering with the host's last flight.
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let host = HostConnection::pair(
        &setup_info(),
        &secrets(1),
        HostConfig::default(),
        &mut rng(3),
        T0,
    );
    let mut pipe = Pipe::new(host, &mut device, 247);
    pipe.host_flight(&mut device, T0);
    pipe.device_flight(T0);
    let mut value = [0; 244];
    let n = pipe.host.poll_transmit(&mut value).unwrap();
    assert_eq!(n, 34);
    value[10] ^= 0x40;
    pipe.conn
        .handle_input(&mut device, &value[..n], T0)
        .unwrap();
    assert!(matches!(
        pipe.conn.poll_event(),
        Some(Event::Failed(Error::AuthenticationFailed))
    ));
    assert!(!pipe.conn.is_open());
    assert_eq!(device.attempts().failures, 1);
    let n = pipe.conn.poll_transmit(&mut value).unwrap();
    assert_eq!(&value[..n], &[0x70, 1, 1], "an AuthenticationFailed alert");
}

#[test]
fn lockout_after_the_limit_until_the_window_reopens() {
    let policy = DevicePolicy {
        max_failures: 4,
        free_attempts: 4,
        ..DevicePolicy::default()
    };
    let mut device = device(policy, MemoryStorage::default(), T0);
    for attempt in 1..=4 {
        let pipe = pair(&mut device, 9, attempt, T0);
        assert_eq!(pipe.host_seen.failure(), Some(Error::AuthenticationFailed));
        assert_eq!(device.attempts().failures, attempt as u16);
    }
    assert!(device.attempts().locked);
    // Even the right code is refused now, with no guess spent.
    let pipe = pair(&mut device, 1, 10, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some(Error::Rejected(Alert::Locked))
    );
    assert_eq!(
        pipe.device_seen.failure(),
        Some(Error::Refused(Alert::Locked))
    );
    assert_eq!(pipe.device_seen.sent_values.len(), 1, "only the alert");
    assert_eq!(device.attempts().failures, 4);

    device.open_pairing_window().unwrap();
    assert_eq!(device.attempts().failures, 0);
    assert!(pair(&mut device, 1, 11, T0).host.is_open());
}

#[test]
fn backoff_doubles_beyond_the_free_attempts_and_survives_a_reboot() {
    let policy = DevicePolicy {
        max_failures: 10,
        free_attempts: 2,
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(3),
        ..DevicePolicy::default()
    };
    let mut device = device(policy, MemoryStorage::default(), T0);
    let mut now = T0;
    let attempt = |device: &mut TestDevice, now: Instant| pair(device, 9, now.as_millis(), now);
    assert_eq!(
        attempt(&mut device, now).host_seen.failure(),
        Some(Error::AuthenticationFailed)
    );
    assert_eq!(
        attempt(&mut device, now).host_seen.failure(),
        Some(Error::AuthenticationFailed)
    );
    // Two free failures spent: the next waits 1 s after the last attempt.
    let refused = attempt(&mut device, now + Duration::from_millis(999));
    assert_eq!(
        refused.host_seen.failure(),
        Some(Error::Rejected(Alert::Unavailable {
            retry_after_secs: 1
        }))
    );
    now = now + Duration::from_secs(1);
    assert_eq!(
        attempt(&mut device, now).host_seen.failure(),
        Some(Error::AuthenticationFailed)
    );
    // Then 2 s, then the 3 s cap.
    let early = attempt(&mut device, now + Duration::from_millis(1_500));
    assert_eq!(
        early.host_seen.failure(),
        Some(Error::Rejected(Alert::Unavailable {
            retry_after_secs: 1
        }))
    );
    now = now + Duration::from_secs(2);
    assert_eq!(
        attempt(&mut device, now).host_seen.failure(),
        Some(Error::AuthenticationFailed)
    );
    assert_eq!(device.attempts().failures, 4);

    // A reboot does not skip the wait: it restarts from boot.
    let storage = device.storage_mut().clone();
    let boot = now + Duration::from_secs(3_600);
    let mut rebooted = pipe::device(policy, storage, boot);
    assert_eq!(rebooted.attempts().failures, 4);
    let refused = attempt(&mut rebooted, boot + Duration::from_millis(2_000));
    assert_eq!(
        refused.host_seen.failure(),
        Some(Error::Rejected(Alert::Unavailable {
            retry_after_secs: 1
        }))
    );
    let pipe = pair(&mut rebooted, 1, 5, boot + Duration::from_secs(3));
    assert!(pipe.host.is_open());
    assert_eq!(rebooted.attempts().failures, 0);
}

#[test]
fn only_one_handshake_at_a_time_until_it_ends_or_times_out() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    // The first host sends its request and then stalls.
    let first = HostConnection::pair(
        &setup_info(),
        &secrets(1),
        HostConfig::default(),
        &mut rng(1),
        T0,
    );
    let mut first = Pipe::new(first, &mut device, 23);
    first.host_flight(&mut device, T0);
    assert!(first.device_flight(T0));

    let second = pair(&mut device, 1, 2, T0);
    assert_eq!(
        second.host_seen.failure(),
        Some(Error::Rejected(Alert::Unavailable {
            retry_after_secs: 30
        }))
    );

    // The first handshake times out on the device; its attempt stays counted.
    let deadline = first.conn.poll_timeout().unwrap();
    assert_eq!(deadline, T0 + Duration::from_secs(30));
    first.conn.handle_timeout(&mut device, deadline);
    assert_eq!(
        first
            .conn
            .poll_event()
            .map(|e| matches!(e, Event::Failed(Error::Timeout))),
        Some(true)
    );
    assert_eq!(device.attempts().failures, 1);

    let third = pair(&mut device, 1, 3, deadline);
    assert!(third.host.is_open());
}

#[test]
fn a_dropped_link_frees_the_handshake_and_keeps_the_guess_counted() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let host = HostConnection::pair(
        &setup_info(),
        &secrets(9),
        HostConfig::default(),
        &mut rng(1),
        T0,
    );
    let mut pipe = Pipe::new(host, &mut device, 23);
    pipe.host_flight(&mut device, T0);
    pipe.conn.handle_disconnect(&mut device);
    assert_eq!(device.attempts().failures, 1);
    assert!(pair(&mut device, 1, 2, T0).host.is_open());
}

#[test]
fn the_host_times_out_when_the_device_never_answers() {
    let mut host = HostConnection::pair(
        &setup_info(),
        &secrets(1),
        HostConfig::default(),
        &mut rng(1),
        T0,
    );
    let deadline = host.poll_timeout().unwrap();
    host.handle_timeout(Instant::from_millis(deadline.as_millis() - 1));
    assert!(!host.is_closed());
    host.handle_timeout(deadline);
    assert!(host.is_closed());
    assert!(matches!(
        host.poll_event(),
        Some(Event::Failed(Error::Timeout))
    ));
    assert_eq!(host.poll_timeout(), None);
}

#[test]
fn requests_that_cannot_guess_spend_no_attempt() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    // Another device's id.
    let other = blepake::SetupInfo {
        device_id: blepake::DeviceId([9; 8]),
        ..setup_info()
    };
    let host = HostConnection::pair(&other, &secrets(1), HostConfig::default(), &mut rng(1), T0);
    let mut pipe = Pipe::new(host, &mut device, 23);
    pipe.run(&mut device, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some(Error::Rejected(Alert::UnknownDevice))
    );
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn keys_update_under_the_record_limit_and_messages_stay_in_order() {
    let policy = DevicePolicy {
        records_per_key: 3,
        ..DevicePolicy::default()
    };
    let mut device = device(policy, MemoryStorage::default(), T0);
    let config = HostConfig {
        records_per_key: 4,
        ..HostConfig::default()
    };
    let mut pipe = pair_with(&mut device, 1, 1, T0, config, 64);
    let messages: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i) * 7]).collect();
    for message in &messages {
        pipe.host.send(message).unwrap();
        pipe.conn.send(message).unwrap();
        pipe.run(&mut device, T0);
    }
    assert_eq!(pipe.device_seen.messages, messages);
    assert_eq!(pipe.host_seen.messages, messages);
    // With key updates in between, a record costs 18 bytes; count the
    // updates from the bytes sent.
    let sent: usize = pipe
        .host_seen
        .sent_values
        .iter()
        .skip(2)
        .map(Vec::len)
        .sum();
    let payload: usize = messages.iter().map(|m| m.len() + 18).sum();
    let update_records = (sent - payload - (2 + 7 + 16 - 7 - 16)) / (2 + 1 + 16);
    assert!(update_records >= 40 / 4, "{sent} {payload}");
}

#[test]
fn replayed_and_altered_records_are_never_delivered() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut pipe = pair_with(&mut device, 1, 1, T0, HostConfig::default(), 247);
    pipe.host.send(b"pay 1").unwrap();
    pipe.run(&mut device, T0);
    let record = pipe.host_seen.sent_values.last().unwrap().clone();
    assert_eq!(pipe.device_seen.messages, vec![b"pay 1".to_vec()]);

    // Replay.
    let mut replaying = pipe.conn;
    replaying.handle_input(&mut device, &record, T0).unwrap();
    let mut buf = [0; MAX_MESSAGE_LEN];
    assert!(replaying.recv(&mut buf).is_none());
    assert!(matches!(
        replaying.poll_event(),
        Some(Event::Failed(Error::BadRecord))
    ));
    assert!(replaying.is_closed());

    // Alteration of a fresh record, each bit position in turn.
    for bit in 0..record.len() * 8 {
        let mut device = pipe::device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let mut pipe = pair_with(&mut device, 1, 1, T0, HostConfig::default(), 247);
        pipe.host.send(b"pay 1").unwrap();
        let mut value = [0; 244];
        let n = pipe.host.poll_transmit(&mut value).unwrap();
        value[bit / 8] ^= 1 << (bit % 8);
        pipe.conn
            .handle_input(&mut device, &value[..n], T0)
            .unwrap();
        // An altered length leaves a frame waiting for more bytes: give it
        // enough to complete.
        for _ in 0..2 {
            pipe.conn.handle_input(&mut device, &[0; 514], T0).unwrap();
        }
        assert!(pipe.conn.recv(&mut buf).is_none(), "bit {bit}");
        let failed = std::iter::from_fn(|| pipe.conn.poll_event())
            .any(|e| matches!(e, Event::Failed(Error::BadRecord | Error::Protocol(_))));
        assert!(failed, "bit {bit}");
    }
}

#[test]
fn bonds_can_be_revoked_and_forged_binders_are_refused() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 1, 1, T0);
    let bond = bond_of(&pipe.host_seen);

    // A bond with the right names and another secret.
    let mut forged_bytes = bond.to_bytes();
    forged_bytes[20] ^= 1;
    let forged = Bond::from_bytes(&forged_bytes).unwrap();
    let host = HostConnection::resume(&forged, HostConfig::default(), &mut rng(2), T0);
    let mut pipe = Pipe::new(host, &mut device, 23);
    pipe.run(&mut device, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some(Error::Rejected(Alert::ResumeRejected))
    );

    device.revoke_bond(bond.host_id).unwrap();
    let host = HostConnection::resume(&bond, HostConfig::default(), &mut rng(3), T0);
    let mut pipe = Pipe::new(host, &mut device, 23);
    pipe.run(&mut device, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some(Error::Rejected(Alert::ResumeRejected))
    );
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn a_device_that_keeps_no_bonds_stores_none() {
    let policy = DevicePolicy {
        keep_bonds: false,
        ..DevicePolicy::default()
    };
    let mut device = device(policy, MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 1, 1, T0);
    assert!(pipe.conn.is_open());
    assert!(
        !pipe
            .device_seen
            .events
            .iter()
            .any(|e| matches!(e, Event::Bonded(_)))
    );
    let host = HostConnection::resume(
        &bond_of(&pipe.host_seen),
        HostConfig::default(),
        &mut rng(2),
        T0,
    );
    let mut pipe = Pipe::new(host, &mut device, 23);
    pipe.run(&mut device, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some(Error::Rejected(Alert::ResumeRejected))
    );
}

#[test]
fn messages_out_of_turn_fail_the_connection() {
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut conn = device.accept();
    // A confirmation before any request.
    let mut frame = vec![0x30, 32];
    frame.extend_from_slice(&[0; 32]);
    conn.handle_input(&mut device, &frame, T0).unwrap();
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Failed(Error::Protocol(
            ProtocolViolation::Unexpected
        )))
    ));
    let mut value = [0; 20];
    let n = conn.poll_transmit(&mut value).unwrap();
    assert_eq!(&value[..n], &[0x70, 1, 7]);
    // Further input is ignored.
    conn.handle_input(&mut device, &frame, T0).unwrap();
    assert!(conn.poll_event().is_none());
}

#[test]
fn random_bytes_never_panic_either_side() {
    use rand_core::RngCore;
    let mut source = rng(42);
    for round in 0..3_000 {
        let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let mut conn = device.accept();
        let mut host = HostConnection::pair(
            &setup_info(),
            &secrets(1),
            HostConfig::default(),
            &mut rng(round),
            T0,
        );
        for _ in 0..4 {
            let mut bytes = vec![0; (source.next_u32() % 80) as usize];
            source.fill_bytes(&mut bytes);
            // Bias towards valid headers now and then.
            if round % 2 == 0 && !bytes.is_empty() {
                bytes[0] = (bytes[0] & 0x0f) | ((source.next_u32() % 10) as u8) << 4;
            }
            conn.handle_input(&mut device, &bytes, T0).unwrap();
            host.handle_input(&bytes, T0).unwrap();
        }
        while conn.poll_event().is_some() {}
        while host.poll_event().is_some() {}
    }
}

#[test]
fn a_later_version_request_of_another_layout_gets_the_version_alert() {
    // A host of a later version 2 whose PairRequest has a different
    // length: the device answers with the versions it speaks and counts
    // nothing, so the host can retry in version 1.
    let mut device = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut conn = device.accept();
    let mut frame = vec![0x10, 70, 2, 0b11];
    frame.extend_from_slice(&[0xab; 68]);
    conn.handle_input(&mut device, &frame, T0).unwrap();
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Failed(Error::Refused(Alert::UnsupportedVersion {
            supported_versions: 1
        })))
    ));
    let mut value = [0; 20];
    let n = conn.poll_transmit(&mut value).unwrap();
    assert_eq!(&value[..n], &[0x70, 2, 4, 1]);
    assert_eq!(device.attempts().failures, 0);
}
