//! blepake over the simulated link, with a link fault or an attack at every
//! message boundary of pairings, wrong-code pairings and bonded reconnects,
//! at several MTUs and both write kinds, plus seeded random faults.
//!
//! Every run must end, within the handshake timeout, in an open session or
//! a clean error on each side, and no side may ever deliver a message its
//! peer's application did not send, or deliver one twice or out of order.

use blepake::{
    Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig, HostConnection,
    Instant, KdfParams, MemoryStorage, ProverSecrets, SetupInfo,
};
use blepake_sim::driver::{Driver, HostWrite, SideLog, SimDevice};
use blepake_sim::{
    Attack, DisconnectReason, FaultAction, FaultPlan, Link, LinkConfig, LinkFault, Role, Trigger,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const LIMIT_US: u64 = 120_000_000;
/// The handshake timeout (30 s) plus the supervision timeout (4 s) and a
/// few connection events: no run may take longer to end.
const END_BY_US: u64 = 35_000_000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Pair,
    WrongCode,
    Resume,
}

#[derive(Clone, Copy, Debug)]
struct Scenario {
    kind: Kind,
    mtu: u16,
    ll_payload: u16,
    write: HostWrite,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario {
        kind: Kind::Pair,
        mtu: 23,
        ll_payload: 27,
        write: HostWrite::Command,
    },
    Scenario {
        kind: Kind::Pair,
        mtu: 247,
        ll_payload: 251,
        write: HostWrite::Request,
    },
    Scenario {
        kind: Kind::Resume,
        mtu: 23,
        ll_payload: 27,
        write: HostWrite::Request,
    },
    Scenario {
        kind: Kind::Resume,
        mtu: 185,
        ll_payload: 251,
        write: HostWrite::Command,
    },
    Scenario {
        kind: Kind::WrongCode,
        mtu: 64,
        ll_payload: 27,
        write: HostWrite::Command,
    },
];

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

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Secrets standing in for a code (the KDF is tested in the core).
fn secrets(code: u8) -> ProverSecrets {
    ProverSecrets::from_pbkdf_output(&[code; 80]).unwrap()
}

fn setup_info() -> SetupInfo {
    SetupInfo {
        device_id: DeviceId([0xd1, 0xce, 0, 0, 0, 0, 0, 1]),
        kdf: KdfParams::recommended([0x5a; 16]),
    }
}

fn pairing_host(code: u8, now: Instant) -> HostConnection {
    let (info, secrets) = (setup_info(), secrets(code));
    HostConnection::pair(
        &info,
        &secrets,
        None,
        HostConfig::default(),
        &mut rng(1),
        now,
    )
}

/// A device (with a bond, for resumes) and the host for the scenario.
fn prepare(scenario: Scenario) -> (SimDevice, HostConnection) {
    let now = Instant::from_millis(0);
    let info = setup_info();
    let record = DeviceRecord::new(info.device_id, info.kdf, secrets(1).verifier());
    let mut device = Device::new(
        record,
        DevicePolicy::default(),
        MemoryStorage::default(),
        rng(7),
        now,
    );
    let host = match scenario.kind {
        Kind::Pair => pairing_host(1, now),
        Kind::WrongCode => pairing_host(2, now),
        Kind::Resume => {
            let link = Link::new(LinkConfig::default(), FaultPlan::new(), 5).unwrap();
            let mut pairing =
                Driver::new(link, pairing_host(1, now), &mut device, HostWrite::Command);
            pairing.run_until(LIMIT_US, |d| d.device_log.bond().is_some());
            let bond = pairing.host_log.bond().expect("paired");
            HostConnection::resume(&bond, HostConfig::default(), &mut rng(2), now)
        }
    };
    (device, host)
}

struct Outcome {
    host: SideLog,
    device: SideLog,
    host_open: bool,
    device_open: bool,
    disconnect: Option<DisconnectReason>,
    end_us: u64,
    failures: u16,
    /// Messages the link delivered: the boundaries a fault can strike at.
    deliveries: u64,
}

fn run(scenario: Scenario, plan: FaultPlan, seed: u64) -> Outcome {
    let (mut device, host) = prepare(scenario);
    let config = LinkConfig {
        att_mtu: scenario.mtu,
        ll_payload: scenario.ll_payload,
        ..LinkConfig::default()
    };
    let link = Link::new(config, plan, seed).unwrap();
    let mut driver = Driver::new(link, host, &mut device, scenario.write);
    driver.host_log.outbox.extend(host_messages());
    driver.device_log.outbox.extend(device_messages());
    let everything_arrived =
        |d: &mut Driver| d.host_log.messages.len() == 2 && d.device_log.messages.len() == 3;
    driver.run_until(LIMIT_US, everything_arrived);
    if driver.host.is_open() && everything_arrived(&mut driver) {
        driver.host.close(0).unwrap();
        driver.run(LIMIT_US);
    }
    let ends = driver
        .host_log
        .events
        .iter()
        .chain(&driver.device_log.events)
        .map(|(at, _)| *at);
    let end_us = ends.max().unwrap_or(0);
    let (host_open, device_open) = (driver.host.is_open(), driver.device_is_open());
    let disconnect = driver.link.disconnect_reason();
    let deliveries = driver.link.deliveries();
    let (host, device_log) = (
        std::mem::take(&mut driver.host_log),
        std::mem::take(&mut driver.device_log),
    );
    drop(driver);
    Outcome {
        host,
        device: device_log,
        host_open,
        device_open,
        disconnect,
        end_us,
        failures: device.attempts().failures,
        deliveries,
    }
}

/// The checks every run must pass, whatever the fault.
fn check(scenario: Scenario, outcome: &Outcome, what: &str) {
    for (side, log, open, peer) in [
        ("host", &outcome.host, outcome.host_open, &outcome.device),
        (
            "device",
            &outcome.device,
            outcome.device_open,
            &outcome.host,
        ),
    ] {
        // Only what the peer's application sent, once each, in order.
        let received = log.received();
        assert!(
            received.len() <= peer.sent.len(),
            "{what}: {side} got more than was sent"
        );
        for (got, sent) in received.iter().zip(&peer.sent) {
            assert_eq!(
                got, sent,
                "{what}: {side} delivered a message that was not sent"
            );
        }
        // Open, or ended with a failure or a close.
        assert!(open || log.ended(), "{what}: {side} neither open nor ended");
        if !open {
            assert!(
                outcome.end_us <= END_BY_US,
                "{what}: {side} ended at {} µs",
                outcome.end_us
            );
        }
    }
    match scenario.kind {
        Kind::WrongCode => {
            assert!(
                outcome.host.connected_at().is_none(),
                "{what}: a wrong code connected"
            );
            assert!(
                outcome.device.connected_at().is_none(),
                "{what}: a wrong code connected"
            );
            assert!(outcome.failures <= 1, "{what}");
        }
        Kind::Pair => {
            // A guess is counted only once the device answered; success clears it.
            let connected = outcome.device.connected_at().is_some();
            let limit = u16::from(!connected);
            assert!(
                outcome.failures <= limit,
                "{what}: count {}",
                outcome.failures
            );
        }
        Kind::Resume => assert_eq!(outcome.failures, 0, "{what}: a resume counted a guess"),
    }
}

fn clean(scenario: Scenario) -> Outcome {
    let outcome = run(scenario, FaultPlan::new(), 0);
    check(scenario, &outcome, "no fault");
    outcome
}

#[test]
fn without_faults_every_scenario_completes() {
    for scenario in SCENARIOS {
        let outcome = clean(scenario);
        match scenario.kind {
            Kind::WrongCode => {
                assert_eq!(
                    outcome.host.failure(),
                    Some(blepake::Error::AuthenticationFailed)
                );
                assert_eq!(outcome.failures, 1);
            }
            _ => {
                assert_eq!(outcome.device.received().len(), 3, "{scenario:?}");
                assert_eq!(outcome.host.received().len(), 2, "{scenario:?}");
                assert!(
                    outcome
                        .device
                        .events
                        .iter()
                        .any(|(_, e)| matches!(e, Event::Closed { by_peer: true, .. })),
                    "{scenario:?}"
                );
            }
        }
    }
}

fn actions() -> Vec<FaultAction> {
    vec![
        LinkFault::Disconnect {
            reason: DisconnectReason::REMOTE_USER_TERMINATED,
        }
        .into(),
        LinkFault::Stall {
            duration_us: 1_500_000,
        }
        .into(),
        LinkFault::Stall {
            duration_us: 6_000_000,
        }
        .into(),
        Attack::Garbage {
            to: Role::Central,
            len: 20,
        }
        .into(),
        Attack::Garbage {
            to: Role::Peripheral,
            len: 20,
        }
        .into(),
        Attack::Replay { message: None }.into(),
        Attack::Tamper { bits: 1 }.into(),
        Attack::Drop.into(),
    ]
}

#[test]
fn a_fault_at_every_message_boundary_ends_cleanly() {
    let mut runs = 0;
    for scenario in SCENARIOS {
        let boundaries = clean(scenario).deliveries;
        assert!(boundaries >= 4, "{scenario:?}");
        for boundary in 0..=boundaries {
            for action in actions() {
                for trigger in [
                    Trigger::BeforeDelivery(boundary.max(1)),
                    Trigger::AfterDelivery(boundary),
                ] {
                    let plan = FaultPlan::new().with(trigger, action);
                    let what = format!("{scenario:?} {trigger:?} {action:?}");
                    let outcome = run(scenario, plan, boundary);
                    check(scenario, &outcome, &what);
                    // A stall shorter than the supervision timeout costs time,
                    // not the session: everything arrives and the host closes.
                    // (At the very start it keeps the link from being set up.)
                    let survivable = matches!(
                        action,
                        FaultAction::Link(LinkFault::Stall {
                            duration_us: 1_500_000
                        })
                    );
                    if survivable && !matches!(scenario.kind, Kind::WrongCode) {
                        if outcome.disconnect == Some(DisconnectReason::FAILED_TO_ESTABLISH) {
                            assert!(boundary <= 1, "{what}");
                        } else {
                            assert_eq!(outcome.device.received().len(), 3, "{what}");
                            assert_eq!(outcome.host.received().len(), 2, "{what}");
                        }
                    }
                    runs += 1;
                }
            }
        }
    }
    assert!(runs >= 1_000, "{runs} runs");
    eprintln!("{runs} runs with a fault at a message boundary");
}

#[test]
fn seeded_random_faults_end_cleanly() {
    for seed in 0..600u64 {
        let scenario = SCENARIOS[(seed % SCENARIOS.len() as u64) as usize];
        let plan = FaultPlan::random(seed, 16);
        let outcome = run(scenario, plan.clone(), seed);
        check(
            scenario,
            &outcome,
            &format!("seed {seed}: {scenario:?} {plan:?}"),
        );
    }
}
