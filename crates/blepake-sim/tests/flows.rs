//! The flow runner and the pairing models, against the protocols' published
//! message sizes and the ATT procedures.

mod common;

use blepake_sim::flows::{Flow, FlowError, Step, models, run_flow};
use blepake_sim::{LinkConfig, LinkEvent, Message, Op, PduKind, Role, SendError};
use common::link;

fn config(att_mtu: u16) -> LinkConfig {
    let ll_payload = if att_mtu > 23 { 251 } else { 27 };
    LinkConfig {
        att_mtu,
        ll_payload,
        ..LinkConfig::default()
    }
}

/// Steps whose label starts with `name`, in order.
fn parts<'a>(flow: &'a Flow, name: &str) -> Vec<&'a Step> {
    flow.steps
        .iter()
        .filter(|step| step.label.starts_with(name))
        .collect()
}

#[test]
fn every_model_delivers_all_its_value_bytes_on_both_links() {
    for att_mtu in [23, 247] {
        for flow in models::all(att_mtu) {
            let report = run_flow(&config(att_mtu), &flow).unwrap();
            assert_eq!(
                report.stats.total().value_bytes,
                flow.value_bytes() as u64,
                "{}",
                flow.name
            );
            assert_eq!(
                (report.steps, report.turns),
                (flow.steps.len(), flow.turns())
            );
            let last = report
                .timeline
                .iter()
                .map(|entry| entry.at_us)
                .max()
                .unwrap();
            assert_eq!(report.time_us, last, "{}", flow.name);
            assert!(report.stats.total().air_bytes > report.stats.total().att_bytes);
        }
    }
}

// --- Matter PASE over BTP ------------------------------------------------

const PASE: [(&str, usize); 6] = [
    ("PBKDFParamRequest", 101),
    ("PBKDFParamResponse", 140),
    ("Pake1", 70),
    ("Pake2", 105),
    ("Pake3", 37),
    ("StatusReport", 8),
];

#[test]
fn matter_starts_with_the_btp_handshake() {
    let flow = models::matter_pase(23);
    let start: Vec<(Role, Op, usize)> = flow.steps[..3]
        .iter()
        .map(|step| (step.from, step.op, step.size))
        .collect();
    assert_eq!(
        start,
        [
            (Role::Central, Op::WriteRequest, 9),
            (Role::Central, Op::WriteRequest, 2),
            (Role::Peripheral, Op::Indication, 6)
        ]
    );
}

#[test]
fn matter_segments_carry_each_message_with_btp_headers() {
    for att_mtu in [23, 100, 247, 517] {
        let flow = models::matter_pase(att_mtu);
        let segment = (usize::from(att_mtu) - 3).min(244);
        for (i, (name, payload)) in PASE.into_iter().enumerate() {
            // Pake1 and later are TLV sizes; the model adds the 22 bytes of
            // unsecured Matter message and protocol headers.
            let message = if i < 2 { payload } else { payload + 22 };
            let segments = parts(&flow, name);
            let k = segments.len();
            let sizes: Vec<usize> = segments.iter().map(|step| step.size).collect();
            // Client segments are writes to C1, server segments indications on C2.
            let sender = if i % 2 == 0 {
                Role::Central
            } else {
                Role::Peripheral
            };
            let op = if sender == Role::Central {
                Op::WriteRequest
            } else {
                Op::Indication
            };
            assert!(
                segments
                    .iter()
                    .all(|step| step.from == sender && step.op == op)
            );
            // All but the last segment are full.
            assert!(
                sizes[..k - 1].iter().all(|&size| size == segment),
                "{name} at {att_mtu}: {sizes:?}"
            );
            assert!(sizes[k - 1] <= segment);
            // First segment 4 or 5 header bytes (length, maybe an ack), others 2 or 3.
            let headers = sizes.iter().sum::<usize>() - message;
            assert!(
                (4 + 2 * (k - 1)..=5 + 3 * (k - 1)).contains(&headers),
                "{name} at {att_mtu}: {headers}"
            );
        }
    }
}

#[test]
fn matter_at_mtu_247_sends_each_message_in_one_segment() {
    let flow = models::matter_pase(247);
    assert_eq!(flow.steps.len(), 3 + 6);
    assert_eq!(flow.turns(), 8);
    // The handshake write, CCCD write and indication, then strict
    // alternation, each message in the event after the one before:
    // requests in events 0 and 2 (responses in 1 and 3), the handshake
    // response in 3, then one PASE message per event, 4 to 9.
    let report = run_flow(&config(247), &flow).unwrap();
    assert_eq!(report.time_us / 30_000, 9);
}

#[test]
fn matter_receivers_acknowledge_before_the_window_closes() {
    // Window 5 and thresholds 1: a sender never has more than 4 segments
    // outstanding, and the receiver's standalone acks are 3 bytes.
    let flow = models::matter_pase(23);
    let mut run = 0;
    let mut sender = Role::Central;
    for step in &flow.steps[3..] {
        if step.label == "BTP standalone ack" {
            assert_eq!(step.size, 3);
        }
        run = if step.from == sender { run + 1 } else { 1 };
        sender = step.from;
        assert!(
            run <= 4 || !step.label.contains("segment"),
            "{}",
            step.label
        );
    }
    assert!(
        flow.steps
            .iter()
            .any(|step| step.label == "BTP standalone ack")
    );
}

// --- ESP-IDF protocomm security 2 ----------------------------------------

#[test]
fn esp_sec2_is_two_write_read_exchanges_of_about_a_kilobyte() {
    let flow = models::esp_protocomm_sec2();
    let shape: Vec<(Role, Op)> = flow.steps.iter().map(|step| (step.from, step.op)).collect();
    assert_eq!(
        shape,
        [
            (Role::Central, Op::WriteRequest),
            (Role::Peripheral, Op::Read),
            (Role::Central, Op::WriteRequest),
            (Role::Peripheral, Op::Read)
        ]
    );
    // A 384, B 384 and a 16-byte salt, proofs of 64, device nonce 16, plus
    // a few bytes of protobuf framing each.
    let sizes: Vec<usize> = flow.steps.iter().map(|step| step.size).collect();
    for (size, content) in sizes.iter().zip([384 + 8, 384 + 16, 64, 64 + 16]) {
        assert!((content..content + 30).contains(size), "{sizes:?}");
    }
    assert!((950..=1050).contains(&flow.value_bytes()));
}

#[test]
fn esp_sec2_uses_long_writes_and_long_reads_where_values_exceed_the_mtu() {
    for att_mtu in [23, 247] {
        let flow = models::esp_protocomm_sec2();
        let report = run_flow(&config(att_mtu), &flow).unwrap();
        let count = |kind| {
            report
                .timeline
                .iter()
                .filter(|entry| entry.kind == kind)
                .count()
        };
        let mtu = usize::from(att_mtu);
        let (mut prepares, mut writes, mut reads) = (0, 0, 0);
        for step in &flow.steps {
            match step.op {
                Op::WriteRequest if step.size > mtu - 3 => prepares += step.size.div_ceil(mtu - 5),
                Op::WriteRequest => writes += 1,
                // Responses of MTU − 1 bytes until a shorter one.
                _ => reads += step.size / (mtu - 1) + 1,
            }
        }
        assert_eq!(count(PduKind::PrepareWriteRequest), prepares);
        assert_eq!(count(PduKind::WriteRequest), writes);
        assert_eq!(
            count(PduKind::ReadResponse) + count(PduKind::ReadBlobResponse),
            reads
        );
    }
}

// --- HomeKit pair setup --------------------------------------------------

/// TLV8 bytes for a `len`-byte value: 2 header bytes per 255-byte item.
fn tlv8(len: usize) -> usize {
    len + 2 * len.div_ceil(255).max(1)
}

#[test]
fn hap_pair_setup_carries_m1_to_m6() {
    let messages = models::hap_pair_setup_messages();
    let sizes: Vec<usize> = messages.iter().map(|message| message.2).collect();
    assert_eq!(&sizes[..2], [6, 409]);
    let total: usize = sizes.iter().sum();
    assert!((1_200..=1_280).contains(&total), "{total}");
    for att_mtu in [23, 247] {
        let flow = models::hap_pair_setup(att_mtu);
        for (from, name, len) in messages {
            let fragments = parts(&flow, name);
            let k = fragments.len();
            // Writes fragment at MTU − 3; responses are read whole (Read
            // Blob continues them), none being over 512 bytes.
            let fragment = match from {
                Role::Central => usize::from(att_mtu) - 3,
                Role::Peripheral => 512,
            };
            assert!(
                fragments
                    .iter()
                    .all(|step| step.from == from && step.size <= fragment)
            );
            if from == Role::Peripheral {
                assert_eq!(k, 1, "{name} is one long read");
            }
            let expected_op = if from == Role::Central {
                Op::WriteRequest
            } else {
                Op::Read
            };
            assert!(fragments.iter().all(|step| step.op == expected_op));
            // Request: 5-byte header, body length, value TLV, return-response
            // TLV; response: 3-byte header, body length, value TLV; each
            // continuation fragment adds control field and TID.
            let pdu = match from {
                Role::Central => 5 + 2 + tlv8(len) + 3,
                Role::Peripheral => 3 + 2 + tlv8(len),
            };
            assert_eq!(
                fragments.iter().map(|step| step.size).sum::<usize>(),
                pdu + 2 * (k - 1),
                "{name}"
            );
        }
    }
    assert_eq!(models::hap_pair_setup(247).turns(), 6);
}

// --- LE Secure Connections passkey entry ---------------------------------

#[test]
fn le_sc_passkey_is_91_alternating_messages() {
    let flow = models::le_sc_passkey();
    let smp: Vec<usize> = flow
        .steps
        .iter()
        .filter(|step| step.op == Op::Smp)
        .map(|step| step.size)
        .collect();
    let ll: Vec<usize> = flow
        .steps
        .iter()
        .filter(|step| step.op == Op::LlControl)
        .map(|step| step.size)
        .collect();
    assert_eq!(smp.len(), 2 + 2 + 20 * 4 + 2);
    assert_eq!(smp.iter().sum::<usize>(), 2 * 7 + 2 * 65 + (80 + 2) * 17);
    // LL_ENC_REQ, LL_ENC_RSP, LL_START_ENC_REQ, two encrypted LL_START_ENC_RSPs.
    assert_eq!(ll, [23, 13, 1, 5, 5]);
    // The passkey rounds alternate: initiator, responder, initiator, responder.
    for round in flow.steps[4..84].chunks(4) {
        let froms: Vec<Role> = round.iter().map(|step| step.from).collect();
        assert_eq!(
            froms,
            [
                Role::Central,
                Role::Peripheral,
                Role::Central,
                Role::Peripheral
            ]
        );
    }
}

#[test]
fn le_sc_passkey_takes_one_event_per_message() {
    // Each message waits for the one before it; whatever arrives in event k
    // is answered in event k + 1, so the 91st arrives in event 90.
    for att_mtu in [23, 247] {
        let report = run_flow(&config(att_mtu), &models::le_sc_passkey()).unwrap();
        assert_eq!(report.time_us / 30_000, 90);
        assert_eq!(report.stats.connection_events, 91);
        // A public key (65 + 4 bytes) takes three 27-byte LL PDUs, or one.
        let key = report
            .timeline
            .iter()
            .find(|entry| entry.kind == PduKind::Smp && entry.att_len == 65)
            .unwrap();
        assert_eq!(key.ll_pdus, if att_mtu == 23 { 3 } else { 1 });
    }
}

// --- The runner ----------------------------------------------------------

#[test]
fn a_driver_sending_the_same_messages_gets_the_same_figures() {
    let mut flow = Flow::new("three messages");
    flow.then(Role::Central, Op::WriteRequest, 40, "hello");
    flow.then(Role::Peripheral, Op::Notification, 18, "answer");
    flow.then(Role::Central, Op::WriteCommand, 10, "done");
    let report = run_flow(&LinkConfig::default(), &flow).unwrap();

    let mut link = link(LinkConfig::default());
    link.send(Role::Central, Message::write_request(&[0; 40]))
        .unwrap();
    let mut done_at = None;
    while done_at.is_none() {
        for event in link.run_event() {
            match event {
                LinkEvent::Received {
                    to: Role::Peripheral,
                    op: Op::WriteRequest,
                    ..
                } => {
                    link.send(Role::Peripheral, Message::notification(&[1; 18]))
                        .unwrap();
                }
                LinkEvent::Received {
                    to: Role::Central, ..
                } => {
                    link.send(Role::Central, Message::write_command(&[2; 10]))
                        .unwrap();
                }
                LinkEvent::Received {
                    op: Op::WriteCommand,
                    at_us,
                    ..
                } => done_at = Some(at_us),
                _ => {}
            }
        }
    }
    assert_eq!(done_at, Some(report.time_us));
    assert_eq!(*link.stats(), report.stats);
}

#[test]
fn the_runner_refuses_flows_it_cannot_play() {
    let config = LinkConfig::default();
    let mut flow = Flow::new("bad");
    flow.then(Role::Central, Op::WriteCommand, 5, "ok");
    flow.steps.push(Step {
        label: "loop".into(),
        from: Role::Central,
        op: Op::WriteCommand,
        size: 5,
        after: Some(1),
    });
    assert_eq!(
        run_flow(&config, &flow),
        Err(FlowError::BadDependency { step: 1 })
    );

    let mut flow = Flow::new("bad");
    flow.then(
        Role::Peripheral,
        Op::WriteRequest,
        5,
        "the device cannot write",
    );
    assert_eq!(
        run_flow(&config, &flow),
        Err(FlowError::Send {
            step: 0,
            error: SendError::WrongRole {
                role: Role::Peripheral
            }
        })
    );

    let mut flow = Flow::new("bad");
    flow.then(Role::Central, Op::WriteCommand, usize::MAX, "huge");
    assert_eq!(
        run_flow(&config, &flow),
        Err(FlowError::Send {
            step: 0,
            error: SendError::BadLength {
                len: usize::MAX,
                min: 0,
                max: 20
            }
        })
    );

    let flow = models::le_sc_passkey();
    assert!(matches!(
        run_flow(
            &LinkConfig {
                att_mtu: 5,
                ..config
            },
            &flow
        ),
        Err(FlowError::Config(_))
    ));
    assert_eq!(
        run_flow(&LinkConfig::default(), &Flow::new("empty")).map(|report| report.time_us),
        Ok(0)
    );
}
