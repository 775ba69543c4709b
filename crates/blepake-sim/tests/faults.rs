//! Link faults and attacks, at every message boundary of a small exchange.

mod common;

use std::collections::BTreeSet;

use blepake_sim::{
    Attack, DisconnectReason, FaultAction, FaultPlan, Link, LinkEvent, LinkFault, Mark, Message,
    Op, Role, SendError, Trigger,
};
use common::{Got, deliveries, faulty_link};

const ROUNDS: u8 = 3;

/// What a ping-pong exchange saw: messages delivered, all events, and whether
/// the link survived.
struct Outcome {
    got: Vec<Got>,
    events: Vec<LinkEvent>,
    connected: bool,
}

/// The central writes "ping i" with response; the peripheral answers each
/// with a notification "pong i"; ROUNDS times. Six application messages.
fn ping_pong(link: &mut Link) -> Outcome {
    let ping = |i: u8| Message::write_request(&[b'p', b'i', i]);
    // A message delivered in the event that ends with a disconnection gets no answer.
    let answer = |link: &mut Link, role, message| match link.send(role, message) {
        Ok(()) => {}
        Err(error) => assert_eq!(
            (error, link.is_connected()),
            (SendError::Disconnected, false)
        ),
    };
    answer(link, Role::Central, ping(0));
    let mut events = Vec::new();
    let mut pongs = 0;
    while link.is_connected() && pongs < ROUNDS && link.now_us() < 60_000_000 {
        let batch = link.run_until(60_000_000);
        for got in deliveries(&batch) {
            match (got.to, got.op) {
                (Role::Peripheral, Op::WriteRequest) if got.value.starts_with(b"pi") => {
                    answer(
                        link,
                        Role::Peripheral,
                        Message::notification(&[b'p', b'o', got.value[2]]),
                    );
                }
                (Role::Central, Op::Notification) if got.value.starts_with(b"po") => {
                    pongs += 1;
                    if pongs < ROUNDS {
                        answer(link, Role::Central, ping(pongs));
                    }
                }
                _ => {}
            }
        }
        events.extend(batch);
    }
    Outcome {
        got: deliveries(&events),
        events,
        connected: link.is_connected(),
    }
}

fn with_fault(trigger: Trigger, action: impl Into<FaultAction>, seed: u64) -> (Outcome, Link) {
    let mut link = faulty_link(FaultPlan::new().with(trigger, action), seed);
    (ping_pong(&mut link), link)
}

#[test]
fn the_clean_exchange_delivers_six_messages() {
    let mut link = faulty_link(FaultPlan::new(), 0);
    let outcome = ping_pong(&mut link);
    assert_eq!(outcome.got.len(), 2 * ROUNDS as usize);
    assert_eq!(link.deliveries(), 6);
    assert!(outcome.connected);
}

#[test]
fn a_disconnect_at_every_boundary_stops_delivery_there() {
    let terminated = LinkFault::Disconnect {
        reason: DisconnectReason::REMOTE_USER_TERMINATED,
    };
    for n in 1..=6 {
        for (trigger, delivered) in [
            (Trigger::BeforeDelivery(n), n - 1),
            (Trigger::AfterDelivery(n), n),
        ] {
            let (outcome, link) = with_fault(trigger, terminated, 0);
            assert_eq!(outcome.got.len() as u64, delivered, "{trigger:?}");
            assert!(!outcome.connected);
            assert_eq!(
                link.disconnect_reason(),
                Some(DisconnectReason::REMOTE_USER_TERMINATED)
            );
            // Both sides learn of it at the moment of the boundary.
            let boundary = outcome.events.iter().find_map(|event| match event {
                LinkEvent::FaultApplied { at_us, .. } => Some(*at_us),
                _ => None,
            });
            assert!(outcome.events.contains(&LinkEvent::Disconnected {
                reason: DisconnectReason::REMOTE_USER_TERMINATED,
                at_us: boundary.unwrap()
            }));
        }
    }
}

#[test]
fn a_stall_at_a_boundary_delays_the_message_caught_in_it() {
    let clean = ping_pong(&mut faulty_link(FaultPlan::new(), 0)).got;
    let (outcome, _) = with_fault(
        Trigger::BeforeDelivery(2),
        LinkFault::Stall {
            duration_us: 1_000_000,
        },
        0,
    );
    assert!(outcome.connected);
    assert_eq!(
        outcome.got.iter().map(|got| &got.value).collect::<Vec<_>>(),
        clean.iter().map(|got| &got.value).collect::<Vec<_>>()
    );
    // The first message is on time; the second comes once the stall is over.
    assert_eq!(outcome.got[0].at_us, clean[0].at_us);
    assert!(outcome.got[1].at_us >= clean[1].at_us + 1_000_000);
}

#[test]
fn a_stall_longer_than_the_supervision_timeout_drops_the_link() {
    for trigger in [Trigger::BeforeDelivery(3), Trigger::AfterDelivery(3)] {
        let (outcome, link) = with_fault(
            trigger,
            LinkFault::Stall {
                duration_us: 5_000_000,
            },
            0,
        );
        assert!(!outcome.connected);
        assert_eq!(
            link.disconnect_reason(),
            Some(DisconnectReason::CONNECTION_TIMEOUT)
        );
    }
}

#[test]
fn garbage_arrives_with_the_peers_usual_operation() {
    // Before anything: random bytes as a write command, at the first event.
    let (outcome, link) = with_fault(
        Trigger::AfterDelivery(0),
        Attack::Garbage {
            to: Role::Peripheral,
            len: 10,
        },
        1,
    );
    assert_eq!(
        (
            outcome.got[0].op,
            outcome.got[0].value.len(),
            outcome.got[0].at_us
        ),
        (Op::WriteCommand, 10, 0)
    );
    assert_ne!(outcome.got[0].value, vec![0; 10]);
    assert_eq!(link.timeline()[0].mark, Some(Mark::Garbage));
    // After the first ping, the peripheral's peer usually writes with response;
    // the length is cut to what that can carry.
    let (outcome, _) = with_fault(
        Trigger::AfterDelivery(1),
        Attack::Garbage {
            to: Role::Peripheral,
            len: 600,
        },
        1,
    );
    assert_eq!(
        (outcome.got[1].op, outcome.got[1].value.len()),
        (Op::WriteRequest, 512)
    );
    // Towards the central, before any notification: a notification of at most MTU − 3.
    let (outcome, _) = with_fault(
        Trigger::AfterDelivery(1),
        Attack::Garbage {
            to: Role::Central,
            len: 600,
        },
        1,
    );
    assert_eq!(
        (
            outcome.got[1].to,
            outcome.got[1].op,
            outcome.got[1].value.len()
        ),
        (Role::Central, Op::Notification, 20)
    );
    // Garbage does not count as a delivery and gets no answer: the exchange goes on.
    assert_eq!(outcome.got.len(), 7);
    assert!(outcome.connected);
}

#[test]
fn a_replay_delivers_an_earlier_message_again() {
    let (outcome, link) = with_fault(
        Trigger::AfterDelivery(2),
        Attack::Replay { message: None },
        0,
    );
    assert_eq!(outcome.got[2].value, outcome.got[1].value);
    assert_eq!(
        (outcome.got[2].to, outcome.got[2].at_us),
        (outcome.got[1].to, outcome.got[1].at_us)
    );
    assert!(
        link.timeline()
            .iter()
            .any(|entry| entry.mark == Some(Mark::Replayed))
    );
    let (outcome, _) = with_fault(
        Trigger::BeforeDelivery(4),
        Attack::Replay { message: Some(1) },
        0,
    );
    assert_eq!(outcome.got[3].value, outcome.got[0].value);
    assert_eq!(outcome.got[3].to, Role::Peripheral);
    // A message not yet delivered cannot be replayed: the attack waits for it.
    let (outcome, _) = with_fault(
        Trigger::AfterDelivery(1),
        Attack::Replay { message: Some(5) },
        0,
    );
    assert_eq!(outcome.got[5].value, outcome.got[4].value);
}

fn differing_bits(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[test]
fn tampering_flips_the_given_number_of_bits() {
    let clean = ping_pong(&mut faulty_link(FaultPlan::new(), 0)).got;
    for bits in [1, 3, 24, 100] {
        let (outcome, link) = with_fault(Trigger::BeforeDelivery(2), Attack::Tamper { bits }, 0);
        // "po0" has 24 bits: asking for more flips them all.
        assert_eq!(
            differing_bits(&outcome.got[1].value, &clean[1].value),
            bits.min(24)
        );
        assert_eq!(
            link.timeline()
                .iter()
                .filter(|entry| entry.mark == Some(Mark::Tampered))
                .count(),
            1
        );
    }
}

#[test]
fn a_drop_loses_the_next_write_command_or_notification() {
    // The first message is a write request, which cannot be dropped silently;
    // the drop takes the notification after it.
    let (outcome, link) = with_fault(Trigger::BeforeDelivery(1), Attack::Drop, 0);
    assert_eq!(outcome.got.len(), 1);
    assert_eq!(outcome.got[0].op, Op::WriteRequest);
    assert_eq!(link.deliveries(), 2);
    assert!(
        outcome
            .events
            .iter()
            .any(|event| matches!(event, LinkEvent::FaultApplied { index: 0, .. }))
    );
    let entry = link
        .timeline()
        .iter()
        .find(|entry| entry.mark == Some(Mark::Dropped))
        .unwrap();
    assert_eq!(entry.from, Role::Peripheral);
}

#[test]
fn the_seed_replays_a_run_and_other_seeds_change_random_choices() {
    let plan = FaultPlan::new()
        .with(
            Trigger::AfterDelivery(1),
            Attack::Garbage {
                to: Role::Central,
                len: 16,
            },
        )
        .with(Trigger::BeforeDelivery(4), Attack::Tamper { bits: 5 });
    let run = |seed| {
        let mut link = faulty_link(plan.clone(), seed);
        let outcome = ping_pong(&mut link);
        (outcome.events, link.timeline().to_vec(), *link.stats())
    };
    assert_eq!(run(7), run(7));
    let garbage = |seed| deliveries(&run(seed).0)[1].value.clone();
    let tampered = |seed| deliveries(&run(seed).0)[4].value.clone();
    assert_ne!(garbage(7), garbage(8));
    assert_ne!(tampered(7), tampered(8));
}

#[test]
fn random_plans_are_reproducible_and_cover_every_kind() {
    assert_eq!(FaultPlan::random(3, 6), FaultPlan::random(3, 6));
    let kinds: BTreeSet<String> = (0..200)
        .map(|seed| {
            let fault = FaultPlan::random(seed, 6).faults()[0];
            match fault.trigger {
                Trigger::BeforeDelivery(n) | Trigger::AfterDelivery(n) => {
                    assert!((1..=6).contains(&n))
                }
                Trigger::At { .. } => panic!("random plans strike at message boundaries"),
            }
            match fault.action {
                FaultAction::Link(LinkFault::Disconnect { .. }) => "disconnect".into(),
                FaultAction::Link(LinkFault::Stall { .. }) => "stall".into(),
                FaultAction::Attack(attack) => format!("{attack:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_owned(),
            }
        })
        .collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}

#[test]
fn several_faults_apply_in_turn() {
    let plan = FaultPlan::new()
        .with(Trigger::AfterDelivery(1), Attack::Replay { message: None })
        .with(
            Trigger::AfterDelivery(1),
            Attack::Garbage {
                to: Role::Peripheral,
                len: 4,
            },
        )
        .with(
            Trigger::BeforeDelivery(5),
            LinkFault::Disconnect {
                reason: DisconnectReason(0x05),
            },
        );
    let mut link = faulty_link(plan, 0);
    let outcome = ping_pong(&mut link);
    let applied: Vec<usize> = outcome
        .events
        .iter()
        .filter_map(|event| match event {
            LinkEvent::FaultApplied { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(applied, [0, 1, 2]);
    // Four real messages, the replay and the garbage.
    assert_eq!(outcome.got.len(), 6);
    assert_eq!(link.disconnect_reason(), Some(DisconnectReason(0x05)));
}
