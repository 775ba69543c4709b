//! The timing model against expectations worked out by hand from the Core
//! specification: on LE 1M a PDU with p payload bytes takes (10 + p) × 8 µs,
//! an empty PDU 80 µs, and 150 µs separate packets.

mod common;

use blepake_sim::{
    Attack, DisconnectReason, END_OF_TIME_US, FaultPlan, Link, LinkConfig, LinkEvent, LinkFault,
    Message, Op, Phy, Role, Trigger,
};
use common::{deliveries, event_of, link, run_events};

#[test]
fn a_full_write_command_at_mtu_23_arrives_in_the_first_event() {
    let mut link = link(LinkConfig::default());
    // 20 value + 3 ATT + 4 L2CAP = 27 bytes: exactly one LL PDU.
    link.send(Role::Central, Message::write_command(&[7; 20]))
        .unwrap();
    let got = deliveries(&link.run_event());
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].to, got[0].op, got[0].at_us),
        (Role::Peripheral, Op::WriteCommand, 296)
    );
    // The peripheral's empty acknowledgement closes the event.
    assert_eq!(link.now_us(), 296 + 150 + 80);
    let stats = link.stats();
    assert_eq!((stats.central.data_pdus, stats.central.air_bytes), (1, 37));
    assert_eq!(
        (stats.peripheral.empty_pdus, stats.peripheral.air_bytes),
        (1, 10)
    );
    assert_eq!(
        (stats.central.value_bytes, stats.central.att_bytes),
        (20, 23)
    );
}

#[test]
fn a_write_request_holds_the_next_until_its_response_arrives() {
    let mut link = link(LinkConfig::default());
    link.send(Role::Central, Message::write_request(&[1; 20]))
        .unwrap();
    link.send(Role::Central, Message::write_request(&[2; 20]))
        .unwrap();

    assert_eq!(deliveries(&link.run_event())[0].at_us, 296);
    // Event 1: empty poll, then the Write Response (4 + 1 bytes: 120 µs).
    assert_eq!(
        link.run_event(),
        vec![LinkEvent::WriteAcknowledged {
            handle: 0x10,
            at_us: 30_000 + 80 + 150 + 120
        }]
    );
    // The second request goes in event 2, a full interval later.
    let second = deliveries(&link.run_event());
    assert_eq!((second[0].value[0], second[0].at_us), (2, 60_000 + 296));
}

#[test]
fn a_reply_goes_out_in_the_next_event() {
    let mut link = link(LinkConfig::default());
    link.send(Role::Central, Message::write_command(b"ping"))
        .unwrap();
    link.run_event();
    link.send(Role::Peripheral, Message::notification(b"pong"))
        .unwrap();
    let got = deliveries(&link.run_event());
    // Empty poll, space, then 4 + 3 + 4 = 11 bytes: 168 µs.
    assert_eq!(got[0].at_us, 30_000 + 80 + 150 + 168);
    assert_eq!(got[0].value, b"pong");
}

#[test]
fn ready_at_holds_a_message_until_the_first_event_after_it() {
    let mut link = link(LinkConfig::default());
    link.send_at(Role::Central, Message::write_command(b"late"), 1_000_000)
        .unwrap();
    let got = deliveries(&link.run_until(10_000_000));
    // 1 s is not an anchor point; the next one is event 34 at 1.02 s.
    assert_eq!(got[0].at_us, 34 * 30_000 + (10 + 11) * 8);
}

#[test]
fn sdus_fragment_at_the_ll_payload_boundary() {
    // (LL payload, value length, LL PDUs): L2CAP SDU = 4 + 3 + value.
    let cases = [
        (27, 20, 1),
        (27, 21, 2),
        (27, 47, 2),
        (27, 48, 3),
        (251, 244, 1),
        (251, 245, 2),
        (251, 495, 2),
        (251, 496, 3),
    ];
    for (ll_payload, len, pdus) in cases {
        let config = LinkConfig {
            att_mtu: 517,
            ll_payload,
            packets_per_event: 8,
            ..LinkConfig::default()
        };
        let mut link = link(config);
        link.send(Role::Central, Message::write_request(&vec![0; len]))
            .unwrap();
        let got = deliveries(&link.run_event());
        assert_eq!(got.len(), 1, "{len} bytes at {ll_payload}");
        assert_eq!(
            link.stats().central.data_pdus,
            pdus,
            "{len} bytes at {ll_payload}"
        );
        assert_eq!(link.timeline()[0].ll_pdus, pdus as usize);
    }
}

#[test]
fn fragments_alternate_with_the_peers_empty_pdus() {
    let config = LinkConfig {
        att_mtu: 24,
        ..LinkConfig::default()
    };
    let mut link = link(config);
    // 28 bytes: 27, then 1.
    link.send(Role::Central, Message::write_command(&[0; 21]))
        .unwrap();
    let got = deliveries(&link.run_event());
    assert_eq!(got[0].at_us, 296 + 150 + 80 + 150 + 88);
}

#[test]
fn each_side_sends_at_most_packets_per_event() {
    let config = LinkConfig {
        packets_per_event: 2,
        ..LinkConfig::default()
    };
    let mut link = link(config);
    for i in 0..5 {
        link.send(Role::Central, Message::write_command(&[i; 20]))
            .unwrap();
    }
    let got = deliveries(&run_events(&mut link, 3));
    let events: Vec<u64> = got.iter().map(|got| event_of(&link, got.at_us)).collect();
    assert_eq!(events, [0, 0, 1, 1, 2]);
}

#[test]
fn an_event_ends_before_the_next_anchor_point() {
    // 251-byte PDUs take 2088 µs; a pair with the empty answer and both
    // spaces 2468 µs. Three pairs end at 7404 µs, a fourth would pass 7500.
    let config = LinkConfig {
        interval_us: 7_500,
        att_mtu: 517,
        ll_payload: 251,
        packets_per_event: 100,
        ..LinkConfig::default()
    };
    let mut link = link(config);
    for _ in 0..4 {
        link.send(Role::Central, Message::write_command(&[0; 244]))
            .unwrap();
    }
    let first = deliveries(&link.run_event());
    assert_eq!(
        first.iter().map(|got| got.at_us).collect::<Vec<_>>(),
        [2088, 2088 + 2468, 2088 + 2 * 2468]
    );
    assert_eq!(deliveries(&link.run_event())[0].at_us, 7_500 + 2088);
}

#[test]
fn peripheral_latency_delays_central_data_but_not_peripheral_data() {
    let config = LinkConfig {
        peripheral_latency: 4,
        ..LinkConfig::default()
    };
    let mut link = link(config);
    link.run_event();
    link.send(Role::Central, Message::write_command(b"wake"))
        .unwrap();
    // The peripheral listened in event 0 and next listens in event 5.
    let got = deliveries(&link.run_until(1_000_000));
    assert_eq!(got[0].at_us, 5 * 30_000 + (10 + 11) * 8);
    // The central sent the fragment unanswered in events 1 to 4, then once more.
    assert_eq!(link.stats().central.data_pdus, 5);
    // With data of its own the peripheral listens in the very next event.
    link.send(Role::Peripheral, Message::notification(b"back"))
        .unwrap();
    let got = deliveries(&link.run_until(1_000_000));
    assert_eq!(event_of(&link, got[0].at_us), 6);
}

#[test]
fn a_stall_past_the_supervision_timeout_drops_the_link_with_0x08() {
    let plan = FaultPlan::new().with(
        Trigger::At { us: 100_000 },
        LinkFault::Stall {
            duration_us: 10_000_000,
        },
    );
    let mut link = Link::new(LinkConfig::default(), plan, 0).unwrap();
    let mut events = Vec::new();
    while link.is_connected() {
        events.extend(link.run_until(20_000_000));
    }
    // The last packet arrived at the end of event 3: 90 000 + 80 + 150 + 80.
    let last_rx = 90_310;
    assert_eq!(
        events.last(),
        Some(&LinkEvent::Disconnected {
            reason: DisconnectReason::CONNECTION_TIMEOUT,
            at_us: last_rx + 4_000_000
        })
    );
}

#[test]
fn a_shorter_stall_only_delays() {
    let plan = FaultPlan::new().with(
        Trigger::At { us: 100_000 },
        LinkFault::Stall {
            duration_us: 1_000_000,
        },
    );
    let mut link = Link::new(LinkConfig::default(), plan, 0).unwrap();
    link.send_at(Role::Central, Message::write_command(b"x"), 100_000)
        .unwrap();
    let mut got = Vec::new();
    while got.is_empty() {
        got = deliveries(&link.run_until(20_000_000));
    }
    // The first anchor point at or after 1.1 s is event 37 at 1.11 s.
    assert_eq!(got[0].at_us, 1_110_000 + (10 + 8) * 8);
    assert!(link.is_connected());
}

#[test]
fn a_connection_without_packets_in_six_events_fails_with_0x3e() {
    let plan = FaultPlan::new().with(
        Trigger::At { us: 0 },
        LinkFault::Stall {
            duration_us: 1_000_000,
        },
    );
    let mut link = Link::new(LinkConfig::default(), plan, 0).unwrap();
    let events = run_events(&mut link, 10);
    assert_eq!(
        events.last(),
        Some(&LinkEvent::Disconnected {
            reason: DisconnectReason::FAILED_TO_ESTABLISH,
            at_us: 6 * 30_000
        })
    );
}

#[test]
fn le_2m_halves_the_air_time_of_each_byte() {
    let mut link = link(LinkConfig {
        phy: Phy::Le2M,
        ..LinkConfig::default()
    });
    link.send(Role::Central, Message::write_command(&[0; 20]))
        .unwrap();
    // 2 preamble + 4 + 2 + 27 + 3 = 38 bytes at 4 µs.
    assert_eq!(deliveries(&link.run_event())[0].at_us, 152);
    assert_eq!(link.stats().central.air_bytes, 38);
}

#[test]
fn run_until_counts_idle_events_as_if_each_had_run() {
    for latency in [0, 3] {
        let config = LinkConfig {
            peripheral_latency: latency,
            ..LinkConfig::default()
        };
        let plan = FaultPlan::new()
            .with(
                Trigger::At { us: 10_000_000 },
                Attack::Garbage {
                    to: Role::Central,
                    len: 5,
                },
            )
            .with(
                Trigger::At { us: 20_000_000 },
                LinkFault::Stall {
                    duration_us: 1_000_000,
                },
            );
        let mut stepped = Link::new(config.clone(), plan.clone(), 1).unwrap();
        let mut skipped = Link::new(config, plan, 1).unwrap();
        for link in [&mut stepped, &mut skipped] {
            link.send(Role::Central, Message::write_request(&[1; 50]))
                .unwrap();
        }
        let mut stepped_events = Vec::new();
        while stepped.next_event_us() <= 30_000_000 {
            stepped_events.extend(stepped.run_event());
        }
        let mut skipped_events = Vec::new();
        while skipped.now_us() < 30_000_000 {
            skipped_events.extend(skipped.run_until(30_000_000));
        }
        assert_eq!(skipped_events, stepped_events);
        assert_eq!(skipped.stats(), stepped.stats());
        assert_eq!(skipped.next_event_us(), stepped.next_event_us());
        // Events 0 to 1000 start within 30 s.
        assert_eq!(skipped.stats().connection_events, 1001);
    }
}

#[test]
fn an_idle_link_costs_two_empty_pdus_per_event() {
    let mut link = link(LinkConfig::default());
    assert!(link.run_until(3_000_000).is_empty());
    // Event 100 starts right at the deadline and runs.
    assert_eq!(link.now_us(), 3_000_000 + 80 + 150 + 80);
    let stats = link.stats();
    assert_eq!(
        (
            stats.connection_events,
            stats.central.empty_pdus,
            stats.peripheral.empty_pdus
        ),
        (101, 101, 101)
    );
    assert_eq!(stats.total().air_bytes, 2 * 101 * 10);
    // Waiting out any timeout costs one call, not one step per event.
    assert!(link.run_until(END_OF_TIME_US).is_empty());
    assert_eq!(link.stats().connection_events, END_OF_TIME_US / 30_000 + 1);
    assert!(link.is_connected());
}
