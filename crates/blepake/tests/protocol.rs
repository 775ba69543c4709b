//! Host and device against each other through the public API and the pump.

mod common;

use std::time::Duration;

use blepake::pump::Input;
use blepake::{
    Bond, Connection, DevicePolicy, Error, Event, HostConfig, HostConnection, Instant,
    MAX_MESSAGE_LEN, MemoryStorage, Mode, ProtocolViolation, SendError, State,
};
use common::*;

const T0: Instant = Instant::from_millis(1_000);

#[test]
fn pairs_exchanges_messages_and_reconnects_with_a_bond_at_every_mtu() {
    for mtu in [23, 27, 100, 185, 247, 517] {
        let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let mut pipe = pair(&mut device, 1, mtu as u64, T0);
        assert!(
            pipe.host.is_open() && pipe.device_open(&mut device),
            "mtu {mtu}"
        );
        assert_eq!(pipe.host_seen.mode(), Some(Mode::Paired));
        assert_eq!(pipe.device_seen.mode(), Some(Mode::Paired));
        let host_bond = bond_of(&pipe.host_seen);
        assert_eq!(host_bond, bond_of(&pipe.device_seen));
        assert_eq!(device.attempts().failures, 0);
        assert_eq!(pipe.host.state(), State::Open);

        let long = vec![0xa5; MAX_MESSAGE_LEN];
        pipe.host.send(b"hello device").unwrap();
        pipe.host.send(&long).unwrap();
        device.link(pipe.link).unwrap().send(b"hello host").unwrap();
        pipe.run(&mut device);
        assert_eq!(
            pipe.device_seen.messages,
            vec![b"hello device".to_vec(), long.clone()]
        );
        assert_eq!(pipe.host_seen.messages, vec![b"hello host".to_vec()]);

        pipe.host.close(3).unwrap();
        pipe.run(&mut device);
        assert!(pipe.device_closed(&mut device));
        assert!(matches!(
            pipe.device_seen.events.last(),
            Some(Event::Closed {
                by_peer: true,
                reason: 3
            })
        ));

        // A new link: one round trip with the bond, no code.
        let mut pipe = resume(&mut device, &host_bond, 99, T0);
        assert_eq!(pipe.host_seen.mode(), Some(Mode::Resumed));
        assert_eq!(pipe.device_seen.mode(), Some(Mode::Resumed));
        pipe.host.send(b"again").unwrap();
        device
            .link(pipe.link)
            .unwrap()
            .send(b"welcome back")
            .unwrap();
        pipe.run(&mut device);
        assert_eq!(pipe.device_seen.messages, vec![b"again".to_vec()]);
        assert_eq!(pipe.host_seen.messages, vec![b"welcome back".to_vec()]);
    }
}

#[test]
fn three_messages_and_half_rtt_data_ride_with_the_confirmation() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut pipe = Pipe::new(pairing_host(1, 1, T0), &mut device, 247, T0);
    // The host's application answers Connected with a message.
    pipe.host_seen.outbox.push_back(b"0.5-RTT".to_vec());
    assert!(pipe.host_flight(&mut device));
    assert!(pipe.to_device.subscribed, "the pump subscribed first");
    assert!(pipe.device_flight(&mut device));
    // The host is open once the device proved itself; the device is not.
    assert!(pipe.host.is_open());
    assert_eq!(
        device.link(pipe.link).unwrap().send(b"too early"),
        Err(SendError::NotOpen)
    );
    assert!(pipe.host_flight(&mut device));
    assert_eq!(pipe.device_seen.messages, vec![b"0.5-RTT".to_vec()]);
    // Three handshake messages, the third sharing its value with the record.
    assert_eq!(pipe.host_seen.sent_values.len(), 2);
    assert_eq!(pipe.device_seen.sent_values.len(), 1);
    assert_eq!(pipe.host_seen.sent_values[1].len(), 2 + 32 + 2 + 7 + 16);
    assert!(!pipe.device_flight(&mut device) && !pipe.host_flight(&mut device));
}

#[test]
fn a_wrong_code_fails_on_both_sides_and_is_counted() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 2, 1, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some((Error::AuthenticationFailed, false))
    );
    assert_eq!(
        pipe.device_seen.failure(),
        Some((Error::AuthenticationFailed, true))
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
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut pipe = Pipe::new(pairing_host(1, 3, T0), &mut device, 247, T0);
    pipe.host_flight(&mut device);
    pipe.device_flight(&mut device);
    // The host's pump sent PairConfirm on receiving PairResponse.
    let mut value = pipe.to_device.values.pop_front().unwrap();
    assert_eq!(value.len(), 34);
    value[10] ^= 0x40;
    pipe.pump_device(&mut device, Input::Received(&value));
    assert_eq!(
        pipe.device_seen.failure(),
        Some((Error::AuthenticationFailed, false))
    );
    assert!(!pipe.device_open(&mut device));
    assert_eq!(device.attempts().failures, 1);
    assert_eq!(
        pipe.to_host.values.pop_front().unwrap(),
        [0x70, 1, 1],
        "an AuthenticationFailed alert"
    );
}

#[test]
fn lockout_after_the_limit_until_the_window_reopens() {
    let policy = DevicePolicy {
        max_failures: 4,
        free_attempts: 4,
        ..DevicePolicy::default()
    };
    let mut device: TestDevice = device(policy, MemoryStorage::default(), T0);
    for attempt in 1..=4 {
        let pipe = pair(&mut device, 9, attempt, T0);
        assert_eq!(
            pipe.host_seen.failure(),
            Some((Error::AuthenticationFailed, false))
        );
        assert_eq!(device.attempts().failures, attempt as u16);
    }
    assert!(device.attempts().locked);
    // Even the right code is refused now, with no guess spent.
    let pipe = pair(&mut device, 1, 10, T0);
    assert_eq!(pipe.host_seen.failure(), Some((Error::Locked, true)));
    assert_eq!(pipe.device_seen.failure(), Some((Error::Locked, false)));
    assert_eq!(pipe.device_seen.sent_values.len(), 1, "only the alert");
    assert_eq!(device.attempts().failures, 4);

    device.open_pairing_window(T0).unwrap();
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
    let mut device: TestDevice = device(policy, MemoryStorage::default(), T0);
    let mut now = T0;
    let attempt =
        |device: &mut TestDevice, now: Instant| pair(device, 9, now.as_millis(), now).host_seen;
    let wrong_code = Some((Error::AuthenticationFailed, false));
    let busy_1s = Some((
        Error::Busy {
            retry_after_secs: 1,
        },
        true,
    ));
    assert_eq!(attempt(&mut device, now).failure(), wrong_code);
    assert_eq!(attempt(&mut device, now).failure(), wrong_code);
    // Two free failures spent: the next waits 1 s after the last attempt.
    let refused = attempt(&mut device, now + Duration::from_millis(999));
    assert_eq!(refused.failure(), busy_1s);
    now = now + Duration::from_secs(1);
    assert_eq!(attempt(&mut device, now).failure(), wrong_code);
    // Then 2 s, then the 3 s cap.
    let early = attempt(&mut device, now + Duration::from_millis(1_500));
    assert_eq!(early.failure(), busy_1s);
    now = now + Duration::from_secs(2);
    assert_eq!(attempt(&mut device, now).failure(), wrong_code);
    assert_eq!(device.attempts().failures, 4);

    // A reboot does not skip the wait: it restarts from boot.
    let storage = device.storage_mut().clone();
    let boot = now + Duration::from_secs(3_600);
    let mut rebooted: TestDevice = common::device(policy, storage, boot);
    assert_eq!(rebooted.attempts().failures, 4);
    let refused = attempt(&mut rebooted, boot + Duration::from_millis(2_000));
    assert_eq!(refused.failure(), busy_1s);
    let pipe = pair(&mut rebooted, 1, 5, boot + Duration::from_secs(3));
    assert!(pipe.host.is_open());
    assert_eq!(rebooted.attempts().failures, 0);
}

#[test]
fn only_one_pairing_at_a_time_until_it_ends_or_times_out() {
    let mut device: TestDevice<2> = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    // The first host sends its request and then stalls.
    let mut first = Pipe::new(pairing_host(1, 1, T0), &mut device, 23, T0);
    first.host_flight(&mut device);
    assert!(first.device_flight(&mut device));

    let second = pair(&mut device, 1, 2, T0);
    assert_eq!(
        second.host_seen.failure(),
        Some((
            Error::Busy {
                retry_after_secs: 30
            },
            true
        ))
    );
    device.remove(second.link);

    // The first handshake times out on the device; its attempt stays counted.
    let deadline = device.link(first.link).unwrap().poll_timeout().unwrap();
    assert_eq!(deadline, T0 + Duration::from_secs(30));
    first.set_now(deadline);
    first.pump_device(&mut device, Input::Timer);
    assert_eq!(first.device_seen.failure(), Some((Error::Timeout, false)));
    assert_eq!(device.attempts().failures, 1);

    let third = pair(&mut device, 1, 3, deadline);
    assert!(third.host.is_open());
}

#[test]
fn a_dropped_link_frees_the_handshake_and_keeps_the_guess_counted() {
    let mut device: TestDevice<2> = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut pipe = Pipe::new(pairing_host(9, 1, T0), &mut device, 23, T0);
    pipe.host_flight(&mut device);
    pipe.pump_device(&mut device, Input::Disconnected);
    assert_eq!(pipe.device_seen.failure(), Some((Error::LinkLost, false)));
    assert_eq!(device.attempts().failures, 1);
    assert!(pair(&mut device, 1, 2, T0).host.is_open());
}

#[test]
fn the_host_times_out_when_the_device_never_answers() {
    let mut host = pairing_host(1, 1, T0);
    let deadline = host.poll_timeout().unwrap();
    host.handle_timeout(Instant::from_millis(deadline.as_millis() - 1));
    assert!(!host.is_closed());
    host.handle_timeout(deadline);
    assert!(host.is_closed());
    assert_eq!(host.state(), State::Closed);
    assert!(matches!(
        host.poll_event(),
        Some(Event::Failed {
            error: Error::Timeout,
            by_peer: false
        })
    ));
    assert_eq!(host.poll_timeout(), None);
}

#[test]
fn requests_that_cannot_guess_spend_no_attempt() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    // Another device's id.
    let other = blepake::SetupInfo {
        device_id: blepake::DeviceId([9; 8]),
        ..setup_info()
    };
    let host = HostConnection::pair(
        &other,
        &secrets(1),
        None,
        HostConfig::default(),
        &mut rng(1),
        T0,
    );
    let mut pipe = Pipe::new(host, &mut device, 23, T0);
    pipe.run(&mut device);
    assert_eq!(pipe.host_seen.failure(), Some((Error::UnknownDevice, true)));
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn keys_update_under_the_record_limit_and_messages_stay_in_order() {
    let policy = DevicePolicy {
        records_per_key: 3,
        ..DevicePolicy::default()
    };
    let mut device: TestDevice = device(policy, MemoryStorage::default(), T0);
    let config = HostConfig {
        records_per_key: 4,
        ..HostConfig::default()
    };
    let mut pipe = pair_with(&mut device, 1, 1, T0, config, 64);
    let messages: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i) * 7]).collect();
    for message in &messages {
        pipe.host.send(message).unwrap();
        device.link(pipe.link).unwrap().send(message).unwrap();
        pipe.run(&mut device);
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
    let update_records = (sent - payload) / (2 + 1 + 16);
    assert!(update_records >= 40 / 4, "{sent} {payload}");
}

#[test]
fn replayed_and_altered_records_are_never_delivered() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let mut pipe = pair_with(&mut device, 1, 1, T0, HostConfig::default(), 247);
    pipe.host.send(b"pay 1").unwrap();
    pipe.run(&mut device);
    let record = pipe.host_seen.sent_values.last().unwrap().clone();
    assert_eq!(pipe.device_seen.messages, vec![b"pay 1".to_vec()]);

    // Replay.
    pipe.pump_device(&mut device, Input::Received(&record));
    assert_eq!(pipe.device_seen.messages.len(), 1);
    assert_eq!(pipe.device_seen.failure(), Some((Error::BadRecord, false)));
    assert!(pipe.device_closed(&mut device));

    // Alteration of a fresh record, each bit position in turn.
    for bit in 0..record.len() * 8 {
        let mut device: TestDevice =
            common::device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let mut pipe = pair_with(&mut device, 1, 1, T0, HostConfig::default(), 247);
        pipe.host.send(b"pay 1").unwrap();
        let mut value = [0; 244];
        let n = pipe.host.poll_transmit(&mut value).unwrap();
        value[bit / 8] ^= 1 << (bit % 8);
        pipe.pump_device(&mut device, Input::Received(&value[..n]));
        // An altered length leaves a frame waiting for more bytes: give it
        // enough to complete.
        for _ in 0..2 {
            pipe.pump_device(&mut device, Input::Received(&[0; 514]));
        }
        assert!(pipe.device_seen.messages.is_empty(), "bit {bit}");
        assert!(
            matches!(
                pipe.device_seen.failure(),
                Some((Error::BadRecord | Error::Protocol(_), false))
            ),
            "bit {bit}"
        );
    }
}

#[test]
fn bonds_can_be_revoked_and_forged_binders_are_refused() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 1, 1, T0);
    let bond = bond_of(&pipe.host_seen);

    // A bond with the right names and another secret.
    let mut forged_bytes = bond.to_bytes();
    forged_bytes[20] ^= 1;
    let forged = Bond::from_bytes(&forged_bytes).unwrap();
    let pipe = resume(&mut device, &forged, 2, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some((Error::ResumeRejected, true))
    );

    assert!(device.revoke_bond(bond.host_id).unwrap());
    let pipe = resume(&mut device, &bond, 3, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some((Error::ResumeRejected, true))
    );
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn a_device_that_keeps_no_bonds_stores_none() {
    let policy = DevicePolicy {
        keep_bonds: false,
        ..DevicePolicy::default()
    };
    let mut device: TestDevice = device(policy, MemoryStorage::default(), T0);
    let pipe = pair(&mut device, 1, 1, T0);
    assert!(pipe.device_open(&mut device));
    assert!(pipe.device_seen.bond().is_none());
    assert!(device.bonds().is_empty());
    let pipe = resume(&mut device, &bond_of(&pipe.host_seen), 2, T0);
    assert_eq!(
        pipe.host_seen.failure(),
        Some((Error::ResumeRejected, true))
    );
}

#[test]
fn messages_out_of_turn_fail_the_connection() {
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let id = device.accept(T0).unwrap();
    let mut link = device.link(id).unwrap();
    // A confirmation before any request.
    let mut frame = vec![0x30, 32];
    frame.extend_from_slice(&[0; 32]);
    link.handle_input(&frame, T0).unwrap();
    assert!(matches!(
        link.poll_event(),
        Some(Event::Failed {
            error: Error::Protocol(ProtocolViolation::Unexpected),
            by_peer: false
        })
    ));
    let mut value = [0; 20];
    let n = link.poll_transmit(&mut value).unwrap();
    assert_eq!(&value[..n], &[0x70, 1, 7]);
    // Further input is ignored.
    link.handle_input(&frame, T0).unwrap();
    assert!(link.poll_event().is_none());
}

#[test]
fn random_bytes_never_panic_either_side() {
    use rand_core::RngCore;
    let mut source = rng(42);
    let mut buf = [0; MAX_MESSAGE_LEN];
    for round in 0..3_000 {
        let mut device: TestDevice =
            common::device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let id = device.accept(T0).unwrap();
        let mut host = pairing_host(1, round, T0);
        for _ in 0..4 {
            let mut bytes = vec![0; (source.next_u32() % 80) as usize];
            source.fill_bytes(&mut bytes);
            // Bias towards valid headers now and then.
            if round % 2 == 0 && !bytes.is_empty() {
                bytes[0] = (bytes[0] & 0x0f) | ((source.next_u32() % 11) as u8) << 4;
            }
            device.link(id).unwrap().handle_input(&bytes, T0).unwrap();
            host.handle_input(&bytes, T0).unwrap();
        }
        let mut link = device.link(id).unwrap();
        while link.poll_event().is_some() {}
        assert!(link.recv(&mut buf).is_none());
        while host.poll_event().is_some() {}
        assert!(host.recv(&mut buf).is_none());
    }
}

#[test]
fn a_later_version_request_of_another_layout_gets_the_version_alert() {
    // A host of a later version 2 whose PairRequest has a different
    // length: the device answers with the versions it speaks and counts
    // nothing, so the host can retry in version 1.
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let id = device.accept(T0).unwrap();
    let mut link = device.link(id).unwrap();
    let mut frame = vec![0x10, 70, 2, 0b11];
    frame.extend_from_slice(&[0xab; 68]);
    link.handle_input(&frame, T0).unwrap();
    assert!(matches!(
        link.poll_event(),
        Some(Event::Failed {
            error: Error::UnsupportedVersion {
                supported_versions: 1
            },
            by_peer: false
        })
    ));
    let mut value = [0; 20];
    let n = link.poll_transmit(&mut value).unwrap();
    assert_eq!(&value[..n], &[0x70, 2, 4, 1]);
    assert_eq!(device.attempts().failures, 0);
}

#[test]
fn version_zero_and_a_version_outside_its_own_set_are_refused() {
    // PROTOCOL.md §11: the version must be the best common one, and a
    // version whose bit the host does not set is not one it speaks.
    for (version, supported) in [(0, 0b1), (0, 0), (1, 0b10), (1, 0)] {
        let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
        let id = device.accept(T0).unwrap();
        let mut link = device.link(id).unwrap();
        let mut frame = vec![0x10, 59, version, supported];
        frame.extend_from_slice(&[0xab; 57]);
        link.handle_input(&frame, T0).unwrap();
        assert!(
            matches!(
                link.poll_event(),
                Some(Event::Failed {
                    error: Error::UnsupportedVersion { .. },
                    ..
                })
            ),
            "version {version} of {supported:#b}"
        );
    }
}

#[test]
fn a_version_1_request_of_another_length_is_a_protocol_error() {
    // PROTOCOL.md §6.3: the exact length is checked after the version rule.
    let mut device: TestDevice = device(DevicePolicy::default(), MemoryStorage::default(), T0);
    let id = device.accept(T0).unwrap();
    let mut link = device.link(id).unwrap();
    let mut frame = vec![0x10, 60, 1, 1];
    frame.extend_from_slice(&[0xab; 58]);
    link.handle_input(&frame, T0).unwrap();
    assert!(matches!(
        link.poll_event(),
        Some(Event::Failed {
            error: Error::Protocol(ProtocolViolation::Malformed(_)),
            ..
        })
    ));
}

#[test]
fn a_known_alert_with_details_of_the_wrong_length_is_malformed_and_unanswered() {
    // PROTOCOL.md §9: Unavailable with one byte of details, and
    // AuthenticationFailed with one too many; §3: an Alert header whose
    // length the type does not allow (0 and 256) is not answered either.
    for alert in [
        &[0x70, 2, 2, 5][..],
        &[0x70, 2, 1, 0],
        &[0x70, 0],
        &[0x71, 0],
    ] {
        let mut host = pairing_host(1, 1, T0);
        let mut value = [0; 100];
        while host.poll_transmit(&mut value).is_some() {}
        host.handle_input(alert, T0).unwrap();
        assert!(matches!(
            host.poll_event(),
            Some(Event::Failed {
                error: Error::Protocol(ProtocolViolation::Malformed(_)),
                by_peer: false
            })
        ));
        assert_eq!(host.poll_transmit(&mut value), None, "no reply to an alert");
    }
}
