//! ATT procedures, SMP and LL control units, and the errors the link gives
//! instead of panicking.

mod common;

use blepake_sim::{
    ConfigError, DisconnectReason, FaultPlan, Link, LinkConfig, LinkEvent, Message, Op, PduKind,
    Role, SendError,
};
use common::{deliveries, event_of, link, run_events};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

fn count(link: &Link, kind: PduKind) -> usize {
    link.timeline()
        .iter()
        .filter(|entry| entry.kind == kind)
        .count()
}

#[test]
fn a_long_write_goes_as_prepare_writes_and_an_execute_write() {
    let mut link = link(LinkConfig::default());
    let value: Vec<u8> = (0..100).collect();
    link.send(Role::Central, Message::write_request(&value))
        .unwrap();
    let events = run_events(&mut link, 14);
    // 100 bytes in parts of MTU − 5 = 18: 6 parts, then the execute request.
    assert_eq!(count(&link, PduKind::PrepareWriteRequest), 6);
    assert_eq!(count(&link, PduKind::PrepareWriteResponse), 6);
    assert_eq!(count(&link, PduKind::ExecuteWriteRequest), 1);
    let got = deliveries(&events);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].op, &got[0].value), (Op::WriteRequest, &value));
    // Seven requests, each answered in the following event: the execute
    // request goes in event 12, its 1-byte response in event 13.
    assert_eq!(event_of(&link, got[0].at_us), 12);
    assert!(events.contains(&LinkEvent::WriteAcknowledged {
        handle: 0x10,
        at_us: 13 * 30_000 + 80 + 150 + 120
    }));
    // The application sent 100 value bytes; the echoes are the stack's.
    assert_eq!(link.stats().central.value_bytes, 100);
    assert_eq!(link.stats().peripheral.value_bytes, 0);
}

/// Reads `value` through the link and returns the offsets the peripheral was asked for.
fn read_back(link: &mut Link, value: &[u8]) -> (Vec<u16>, Vec<u8>) {
    link.send(Role::Central, Message::read()).unwrap();
    let mut offsets = Vec::new();
    loop {
        for event in link.run_event() {
            match event {
                LinkEvent::ReadRequested { offset, .. } => {
                    offsets.push(offset);
                    link.send(Role::Peripheral, Message::read_response(value))
                        .unwrap();
                }
                LinkEvent::Received {
                    to: Role::Central,
                    op: Op::Read,
                    value,
                    ..
                } => return (offsets, value),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[test]
fn a_long_read_continues_with_read_blob_while_responses_are_full() {
    let mut link = link(LinkConfig::default());
    let value: Vec<u8> = (0..100).collect();
    // Responses carry MTU − 1 = 22 bytes: 22, 22, 22, 22, 12.
    assert_eq!(
        read_back(&mut link, &value),
        (vec![0, 22, 44, 66, 88], value)
    );
    assert_eq!(count(&link, PduKind::ReadResponse), 1);
    assert_eq!(count(&link, PduKind::ReadBlobResponse), 4);
}

#[test]
fn a_read_of_whole_responses_ends_with_an_empty_blob() {
    let mut link = link(LinkConfig::default());
    let value = vec![5; 44];
    assert_eq!(read_back(&mut link, &value), (vec![0, 22, 44], value));
}

#[test]
fn a_short_read_takes_one_request_and_one_response() {
    let mut link = link(LinkConfig::default());
    assert_eq!(read_back(&mut link, b"short"), (vec![0], b"short".to_vec()));
    // Request in event 0, response in event 1.
    assert_eq!(event_of(&link, link.timeline()[1].at_us), 1);
}

#[test]
fn one_indication_at_a_time() {
    let mut link = link(LinkConfig::default());
    link.send(Role::Peripheral, Message::indication(b"1"))
        .unwrap();
    link.send(Role::Peripheral, Message::indication(b"2"))
        .unwrap();
    let events = run_events(&mut link, 3);
    let got = deliveries(&events);
    assert_eq!(
        got.iter()
            .map(|got| event_of(&link, got.at_us))
            .collect::<Vec<_>>(),
        [0, 2]
    );
    // The confirmation (1 + 4 bytes) comes first in event 1.
    assert!(events.contains(&LinkEvent::IndicationConfirmed {
        handle: 0x10,
        at_us: 30_000 + 120
    }));
}

#[test]
fn application_messages_keep_their_order_behind_a_waiting_request() {
    let mut link = link(LinkConfig::default());
    link.send(Role::Central, Message::write_request(b"first"))
        .unwrap();
    link.send(Role::Central, Message::write_command(b"beside"))
        .unwrap();
    link.send(Role::Central, Message::write_request(b"second"))
        .unwrap();
    link.send(Role::Central, Message::write_command(b"behind"))
        .unwrap();
    let got = deliveries(&run_events(&mut link, 3));
    // A command may follow an outstanding request at once (ATT allows it),
    // but not overtake a request that waits for the response.
    let order: Vec<(&[u8], u64)> = got
        .iter()
        .map(|got| (&got.value[..], event_of(&link, got.at_us)))
        .collect();
    assert_eq!(
        order,
        [
            (&b"first"[..], 0),
            (b"beside", 0),
            (b"second", 2),
            (b"behind", 2)
        ]
    );
}

#[test]
fn smp_and_ll_control_pdus_go_without_att() {
    let mut link = link(LinkConfig::default());
    link.send(Role::Central, Message::smp(&[0x0C; 65])).unwrap();
    link.send(Role::Peripheral, Message::ll_control(&[0x04; 13]))
        .unwrap();
    let got = deliveries(&link.run_event());
    assert_eq!(
        got.iter().map(|got| (got.to, got.op)).collect::<Vec<_>>(),
        [(Role::Central, Op::LlControl), (Role::Peripheral, Op::Smp)]
    );
    // 65 + 4 L2CAP = 69 bytes: 27 + 27 + 15. The LL control PDU: one bare PDU.
    let stats = link.stats();
    assert_eq!(
        (stats.central.data_pdus, stats.peripheral.data_pdus),
        (3, 1)
    );
    assert_eq!(stats.peripheral.air_bytes, 10 + 13 + 2 * 10);
    assert_eq!(stats.central.att_bytes, 65);
}

#[test]
fn values_outside_the_limits_are_refused() {
    let mut link = link(LinkConfig::default());
    let too_long = |len, max| Err(SendError::BadLength { len, min: 0, max });
    assert_eq!(
        link.send(Role::Central, Message::write_command(&[0; 21])),
        too_long(21, 20)
    );
    assert_eq!(
        link.send(Role::Central, Message::write_request(&[0; 513])),
        too_long(513, 512)
    );
    assert_eq!(
        link.send(Role::Peripheral, Message::notification(&[0; 21])),
        too_long(21, 20)
    );
    assert_eq!(
        link.send(Role::Peripheral, Message::indication(&[0; 21])),
        too_long(21, 20)
    );
    assert_eq!(
        link.send(Role::Central, Message::smp(&[])),
        Err(SendError::BadLength {
            len: 0,
            min: 1,
            max: 65
        })
    );
    assert_eq!(
        link.send(Role::Central, Message::ll_control(&[0; 28])),
        Err(SendError::BadLength {
            len: 28,
            min: 1,
            max: 27
        })
    );
    assert_eq!(
        link.send(Role::Peripheral, Message::write_command(b"x")),
        Err(SendError::WrongRole {
            role: Role::Peripheral
        })
    );
    assert_eq!(
        link.send(Role::Central, Message::notification(b"x")),
        Err(SendError::WrongRole {
            role: Role::Central
        })
    );
    assert_eq!(
        link.send(Role::Peripheral, Message::read()),
        Err(SendError::WrongRole {
            role: Role::Peripheral
        })
    );
    assert_eq!(
        link.send(Role::Peripheral, Message::read_response(b"x")),
        Err(SendError::NoPendingRead)
    );
    assert!(link.stats().total() == Default::default() && link.timeline().is_empty());
}

#[test]
fn the_queue_limit_holds_back_new_messages() {
    let mut link = link(LinkConfig {
        queue_limit: 2,
        ..LinkConfig::default()
    });
    for _ in 0..2 {
        assert!(link.can_send(Role::Central));
        link.send(Role::Central, Message::write_command(b"x"))
            .unwrap();
    }
    assert!(!link.can_send(Role::Central));
    assert_eq!(
        link.send(Role::Central, Message::write_command(b"x")),
        Err(SendError::QueueFull)
    );
    assert!(link.can_send(Role::Peripheral));
    link.run_event();
    assert!(link.can_send(Role::Central));
}

#[test]
fn a_terminated_link_refuses_everything() {
    let mut link = link(LinkConfig::default());
    link.send(Role::Central, Message::write_command(b"lost"))
        .unwrap();
    link.disconnect(DisconnectReason::REMOTE_USER_TERMINATED);
    assert_eq!(
        link.run_event(),
        vec![LinkEvent::Disconnected {
            reason: DisconnectReason::REMOTE_USER_TERMINATED,
            at_us: 0
        }]
    );
    assert!(!link.can_send(Role::Central));
    assert_eq!(
        link.send(Role::Central, Message::write_command(b"x")),
        Err(SendError::Disconnected)
    );
    assert!(link.run_event().is_empty());
    assert!(link.run_until(u64::MAX).is_empty());
}

#[test]
fn invalid_configurations_are_refused() {
    let base = LinkConfig::default();
    let refused = [
        LinkConfig {
            interval_us: 6_250,
            ..base.clone()
        },
        LinkConfig {
            interval_us: 30_100,
            ..base.clone()
        },
        LinkConfig {
            att_mtu: 22,
            ..base.clone()
        },
        LinkConfig {
            att_mtu: 518,
            ..base.clone()
        },
        LinkConfig {
            ll_payload: 26,
            ..base.clone()
        },
        LinkConfig {
            ll_payload: 252,
            ..base.clone()
        },
        LinkConfig {
            packets_per_event: 0,
            ..base.clone()
        },
        LinkConfig {
            peripheral_latency: 500,
            ..base.clone()
        },
        LinkConfig {
            supervision_timeout_us: 32_010_000,
            ..base.clone()
        },
        LinkConfig {
            supervision_timeout_us: 100_001,
            ..base.clone()
        },
        LinkConfig {
            queue_limit: 0,
            ..base.clone()
        },
    ];
    for config in refused {
        assert!(
            matches!(
                Link::new(config.clone(), FaultPlan::new(), 0),
                Err(ConfigError::OutOfRange { .. } | ConfigError::NotMultiple { .. })
            ),
            "{config:?}"
        );
    }
    // 4 s interval with latency 0 needs a timeout above 8 s.
    let slow = LinkConfig {
        interval_us: 4_000_000,
        ..base
    };
    assert_eq!(
        Link::new(slow, FaultPlan::new(), 0).err(),
        Some(ConfigError::TimeoutTooShort {
            timeout_us: 4_000_000,
            min_exclusive_us: 8_000_000
        })
    );
}

/// Random configurations, messages, answers and fault plans: every call must
/// return, with an error where the input is wrong.
#[test]
fn nothing_panics_on_random_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut below = move |n: u64| rng.next_u64() % n;
    let mut valid_links = 0;
    for seed in 0..300 {
        let config = LinkConfig {
            interval_us: 1_250 * (4 + below(20)),
            att_mtu: 20 + below(520) as u16,
            ll_payload: 20 + below(240) as u16,
            packets_per_event: below(6) as u16,
            peripheral_latency: below(4) as u16,
            supervision_timeout_us: 10_000 * (5 + below(400)),
            phy: if below(2) == 0 {
                blepake_sim::Phy::Le1M
            } else {
                blepake_sim::Phy::Le2M
            },
            queue_limit: below(8) as usize,
        };
        let Ok(mut link) = Link::new(config, FaultPlan::random(seed, 1 + below(10)), seed) else {
            continue;
        };
        valid_links += 1;
        for _ in 0..40 {
            let value = vec![0xA5; below(600) as usize];
            let role = if below(2) == 0 {
                Role::Central
            } else {
                Role::Peripheral
            };
            let message = match below(8) {
                0 => Message::write_request(&value),
                1 => Message::write_command(&value),
                2 => Message::notification(&value),
                3 => Message::indication(&value),
                4 => Message::read(),
                5 => Message::read_response(&value),
                6 => Message::smp(&value[..value.len().min(80)]),
                _ => Message::ll_control(&value[..value.len().min(30)]),
            };
            let _ = link.send_at(role, message.with_handle(below(3) as u16), below(200_000));
            for event in link.run_until(link.now_us() + below(100_000)) {
                if let LinkEvent::ReadRequested { .. } = event {
                    let _ = link.send(
                        Role::Peripheral,
                        Message::read_response(&value[..value.len().min(512)]),
                    );
                }
            }
        }
        link.run_until(u64::MAX);
    }
    assert!(valid_links > 50, "{valid_links}");
}
