//! blepake on the simulated link, beside the real message flows of other
//! pairing protocols on the same link, and record throughput beside raw GATT.
//!
//! `cargo bench -p blepake-sim --bench link`
//!
//! 1. Time and bytes from "connected" to the first protected application
//!    byte arriving, at a 30 ms interval: ATT MTU 23 (27-byte LL payloads)
//!    with 1, 2 and 4 LL packets per side and connection event, and ATT MTU
//!    247 (251) with 4. blepake runs for real, its host enabling
//!    notifications (a CCCD Write Request) either in the same event as its
//!    first write (pipelined) or waiting for the response first (waited, as
//!    a bleak app's `await start_notify()` does). The others are replayed
//!    from `flows::models`, each with its own subscribe or reads, and with
//!    one protected message appended, the first their session keys allow.
//!    Counted for everyone: every ATT PDU from connection to that byte.
//!    Counted for no one: the MTU exchange and data length update (done
//!    before, or in parallel), service discovery, and CPU time on either
//!    side.
//! 2. Goodput of blepake records against raw GATT writes and
//!    notifications on the same link.

use blepake::{
    Connection, Device, DeviceId, DevicePolicy, DeviceRecord, HostConfig, HostConnection, Instant,
    KdfParams, MemoryStorage, ProverSecrets, SetupInfo,
};
use blepake_sim::driver::{Driver, HostWrite, SimDevice, Subscribe, handles};
use blepake_sim::flows::{Flow, models, run_flow};
use blepake_sim::{DirectionStats, FaultPlan, Link, LinkConfig, LinkEvent, Message, Op, Role};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const LIMIT_US: u64 = 600_000_000;

fn config(att_mtu: u16, ll_payload: u16, packets_per_event: u16) -> LinkConfig {
    LinkConfig {
        att_mtu,
        ll_payload,
        packets_per_event,
        ..LinkConfig::default()
    }
}

fn setup_info() -> SetupInfo {
    SetupInfo {
        device_id: DeviceId([0xd1; 8]),
        kdf: KdfParams::recommended([7; 16]),
    }
}

fn secrets() -> ProverSecrets {
    ProverSecrets::from_pbkdf_output(&[0x42; 80]).unwrap()
}

fn device() -> SimDevice {
    let info = setup_info();
    let record = DeviceRecord::new(info.device_id, info.kdf, secrets().verifier());
    Device::new(
        record,
        DevicePolicy::default(),
        MemoryStorage::default(),
        ChaCha20Rng::seed_from_u64(1),
        Instant::from_millis(0),
    )
}

struct Row {
    name: String,
    time_us: u64,
    turns: usize,
    stats: DirectionStats,
}

/// Direction changes among the values that crossed the link.
fn turns(values: &[(u64, Role, Vec<u8>)]) -> usize {
    values
        .windows(2)
        .filter(|pair| pair[0].1 != pair[1].1)
        .count()
        + usize::from(!values.is_empty())
}

/// A real blepake handshake whose host sends one message as soon as it
/// may; measured when that message arrives.
fn blepake_row(
    name: &str,
    link: Link,
    host: HostConnection,
    device: &mut SimDevice,
    subscribe: Subscribe,
    extra_turns: usize,
) -> Row {
    // Waiting for the CCCD write's response adds its round trip.
    let extra_turns = extra_turns + if subscribe == Subscribe::Waited { 2 } else { 0 };
    let mut driver = Driver::new(link, host, device, HostWrite::Command).subscribing(subscribe);
    driver.host_log.outbox.push_back(vec![1]);
    driver.run_until(LIMIT_US, |d| !d.device_log.messages.is_empty() || d.ended());
    let Some(&(time_us, _)) = driver.device_log.messages.first() else {
        panic!(
            "{name}: nothing arrived (host {:?}, device {:?})",
            driver.host_log.failure(),
            driver.device_log.failure()
        );
    };
    Row {
        name: name.into(),
        time_us,
        turns: turns(&driver.values) + extra_turns,
        stats: driver.link.stats().total(),
    }
}

/// The Setup Info read a host makes when the user typed the code instead of
/// scanning it: the link after it, and when it finished.
fn link_after_setup_info_read(config: &LinkConfig) -> Link {
    let mut link = Link::new(config.clone(), FaultPlan::new(), 0).unwrap();
    link.send(
        Role::Central,
        Message::read().with_handle(handles::SETUP_INFO),
    )
    .unwrap();
    loop {
        for event in link.run_event() {
            match event {
                LinkEvent::ReadRequested { .. } => {
                    link.send(
                        Role::Peripheral,
                        Message::read_response(&setup_info().encode()),
                    )
                    .unwrap();
                }
                LinkEvent::Received {
                    to: Role::Central, ..
                } => return link,
                _ => {}
            }
        }
    }
}

fn blepake_rows(config: &LinkConfig) -> Vec<Row> {
    let now = Instant::from_millis(0);
    let mut device = device();
    let pair = |rng_seed| {
        HostConnection::pair(
            &setup_info(),
            &secrets(),
            None,
            HostConfig::default(),
            &mut ChaCha20Rng::seed_from_u64(rng_seed),
            now,
        )
    };
    let fresh_link = || Link::new(config.clone(), FaultPlan::new(), 0).unwrap();

    // A bond from a pairing, for the reconnects.
    let mut driver = Driver::new(fresh_link(), pair(3), &mut device, HostWrite::Command);
    driver.run_until(LIMIT_US, |d| d.device_log.bond().is_some());
    let bond = driver.host_log.bond().unwrap();
    drop(driver);
    let resume = |rng_seed| {
        HostConnection::resume(
            &bond,
            HostConfig::default(),
            &mut ChaCha20Rng::seed_from_u64(rng_seed),
            now,
        )
    };

    let mut rows = Vec::new();
    // Fresh ephemeral keys for every handshake: the device refuses a
    // resume request it has seen.
    for (seed, subscribe, how) in [
        (10, Subscribe::Pipelined, "subscribe pipelined"),
        (20, Subscribe::Waited, "subscribe waited"),
    ] {
        // Each pairing closes the window; the owner opens it again.
        device.open_pairing_window(now).unwrap();
        rows.push(blepake_row(
            &format!("blepake, QR code, {how}"),
            fresh_link(),
            pair(seed + 1),
            &mut device,
            subscribe,
            0,
        ));
        device.open_pairing_window(now).unwrap();
        rows.push(blepake_row(
            &format!("blepake, typed code + Setup Info read, {how}"),
            link_after_setup_info_read(config),
            pair(seed + 2),
            &mut device,
            subscribe,
            2,
        ));
        rows.push(blepake_row(
            &format!("blepake, bonded reconnect, {how}"),
            fresh_link(),
            resume(seed + 4),
            &mut device,
            subscribe,
            0,
        ));
    }
    rows
}

/// A flow model with the first protected message its keys allow: one
/// application byte with that protocol's framing and tag, sent by the
/// central once the handshake's last message has arrived.
fn with_first_protected(mut flow: Flow, op: Op, size: usize) -> Flow {
    flow.then(Role::Central, op, size, "first protected message");
    flow
}

fn model_rows(config: &LinkConfig) -> Vec<Row> {
    let mtu = config.att_mtu;
    [
        // Matter: message header 8 + protocol header 6 + 1 byte + MIC 16, in a BTP segment (+2).
        with_first_protected(
            models::matter_pase(mtu),
            Op::WriteRequest,
            2 + 8 + 6 + 1 + 16,
        ),
        // ESP-IDF security 2: AES-GCM, 1 byte + 16-byte tag, as a write.
        with_first_protected(models::esp_protocomm_sec2(), Op::WriteRequest, 1 + 16),
        // HomeKit: HAP-BLE encrypted PDU: 2-byte length, 1 byte + 16-byte tag.
        // (Pair-verify, not modelled, comes first in reality.)
        with_first_protected(models::hap_pair_setup(mtu), Op::WriteRequest, 2 + 1 + 16),
        // LE Secure Connections: an LL-encrypted write, 1 byte + 4-byte MIC.
        with_first_protected(models::le_sc_passkey(), Op::WriteCommand, 1 + 4),
    ]
    .into_iter()
    .map(|flow| {
        let report = run_flow(config, &flow).expect("model runs");
        Row {
            name: flow.name.clone(),
            time_us: report.time_us,
            turns: report.turns,
            stats: report.stats.total(),
        }
    })
    .collect()
}

fn handshake_table() {
    println!(
        "Connected -> first protected application byte delivered (30 ms interval; \
         CCCD, reads and every handshake PDU counted; MTU exchange, data length update \
         and CPU time not counted)"
    );
    for (mtu, ll, packets) in [(23, 27, 1), (23, 27, 2), (23, 27, 4), (247, 251, 4)] {
        let config = config(mtu, ll, packets);
        println!("\nATT MTU {mtu}, LL payload {ll}, {packets} LL packets per side and event");
        println!(
            "  {:<52} {:>9} {:>14} {:>6} {:>8} {:>7}",
            "", "time ms", "vs QR waited", "turns", "values B", "air B"
        );
        let rows: Vec<Row> = blepake_rows(&config)
            .into_iter()
            .chain(model_rows(&config))
            .collect();
        let baseline = rows
            .iter()
            .find(|row| row.name == "blepake, QR code, subscribe waited")
            .expect("the baseline row")
            .time_us as f64;
        for row in &rows {
            println!(
                "  {:<52} {:>9.1} {:>13.1}x {:>6} {:>8} {:>7}",
                row.name,
                row.time_us as f64 / 1000.0,
                row.time_us as f64 / baseline,
                row.turns,
                row.stats.value_bytes,
                row.stats.air_bytes
            );
        }
    }
}

/// Goodput when `role` streams `count` values of `len` bytes as raw GATT.
fn raw_goodput(config: &LinkConfig, role: Role, len: usize, count: usize) -> f64 {
    let mut link = Link::new(config.clone(), FaultPlan::new(), 0).unwrap();
    let value = vec![0x5a; len];
    let (mut sent, mut delivered, mut last_us) = (0, 0, 0);
    while delivered < count {
        while sent < count && link.can_send(role) {
            let message = match role {
                Role::Central => Message::write_command(&value),
                Role::Peripheral => Message::notification(&value),
            };
            link.send(role, message).unwrap();
            sent += 1;
        }
        for event in link.run_event() {
            if let LinkEvent::Received { at_us, .. } = event {
                delivered += 1;
                last_us = at_us;
            }
        }
    }
    (len * count) as f64 / (last_us as f64 / 1e6)
}

/// Goodput when `role` streams `count` messages of `len` bytes through an
/// open blepake session.
fn blepake_goodput(config: &LinkConfig, role: Role, len: usize, count: usize) -> f64 {
    let mut device = device();
    let host = HostConnection::pair(
        &setup_info(),
        &secrets(),
        None,
        HostConfig::default(),
        &mut ChaCha20Rng::seed_from_u64(9),
        Instant::from_millis(0),
    );
    let mut driver = Driver::new(
        Link::new(config.clone(), FaultPlan::new(), 0).unwrap(),
        host,
        &mut device,
        HostWrite::Command,
    );
    driver.run_until(LIMIT_US, |d| d.host.is_open() && d.device_is_open());
    let start_us = driver.link.now_us();
    let sender = match role {
        Role::Central => &mut driver.host_log,
        Role::Peripheral => &mut driver.device_log,
    };
    sender
        .outbox
        .extend(std::iter::repeat_n(vec![0x5a; len], count));
    let received = |d: &mut Driver| match role {
        Role::Central => d.device_log.messages.len(),
        Role::Peripheral => d.host_log.messages.len(),
    };
    driver.run_until(LIMIT_US, |d| received(d) == count);
    let log = match role {
        Role::Central => &driver.device_log,
        Role::Peripheral => &driver.host_log,
    };
    assert_eq!(log.messages.len(), count);
    let end_us = log.messages.last().unwrap().0;
    (len * count) as f64 / ((end_us - start_us) as f64 / 1e6)
}

fn throughput_table() {
    println!(
        "\nGoodput, kB/s of application bytes (30 ms interval, 4 LL packets per side and event)"
    );
    println!(
        "  {:<24} {:<16} {:>9} {:>20} {:>20} {:>20}",
        "link", "direction", "raw GATT", "blepake 64 B msgs", "226 B msgs", "512 B msgs"
    );
    for (mtu, ll) in [(23, 27), (247, 251)] {
        let config = config(mtu, ll, 4);
        let value = config.max_att_value();
        for (role, direction, op) in [
            (Role::Central, "host -> device", "write cmd"),
            (Role::Peripheral, "device -> host", "notify"),
        ] {
            let raw = raw_goodput(&config, role, value, 400);
            let bytes = 400 * value;
            let cells: Vec<String> = [64, 226, 512]
                .into_iter()
                .map(|len| {
                    let goodput = blepake_goodput(&config, role, len, bytes / len);
                    format!("{:>9.2} ({:>3.0}%)", goodput / 1e3, 100.0 * goodput / raw)
                })
                .collect();
            println!(
                "  MTU {mtu:<3} LL {ll:<3} {op:<9} {direction:<16} {:>9.2} {:>20} {:>20} {:>20}",
                raw / 1e3,
                cells[0],
                cells[1],
                cells[2]
            );
        }
    }
}

fn main() {
    handshake_table();
    throughput_table();
}
