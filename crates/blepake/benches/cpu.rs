//! CPU cost of a handshake on each side, without and with the key
//! derivation, and what the derivation costs a brute-force attacker.
//!
//! `cargo bench -p blepake --bench cpu`
//!
//! Prints medians of wall-clock time on this machine; the device figures
//! are for this CPU, not a Cortex-M4. Each side's time is what its pump
//! steps took, queueing and record layer included.

use std::hint::black_box;
use std::time::{Duration, Instant as Clock};

use blepake::pump::{self, Input, MemoryTransport, Output};
use blepake::{
    Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig,
    HostConnection, Instant, KdfParams, MemoryStorage, Password, ProverSecrets, QrSecret,
    SetupCode,
};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Clock::now();
                black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

struct Timings {
    host: Duration,
    device: Duration,
}

type TestDevice = Device<MemoryStorage, ChaCha20Rng>;

/// Times one pump step.
fn timed(total: &mut Duration, step: impl FnOnce()) {
    let start = Clock::now();
    step();
    *total += start.elapsed();
}

/// Runs a handshake to completion through both pumps, timing each side's
/// steps separately. Returns the timings and the host's bond, if any.
fn handshake(
    mut host: HostConnection,
    host_start: Duration,
    device: &mut TestDevice,
) -> (Timings, Option<Bond>) {
    let now = Instant::from_millis(0);
    let mut timings = Timings {
        host: host_start,
        device: Duration::ZERO,
    };
    let id = device.accept(now).unwrap();
    let mut to_device = MemoryTransport::new(244, now);
    let mut to_host = MemoryTransport::new(244, now);
    let mut bond = None;
    let mut on_host = |_: &mut HostConnection, output: Output<'_>| {
        if let Output::Event(Event::Bonded(new_bond)) = output {
            bond = Some(new_bond);
        }
    };
    timed(&mut timings.host, || {
        pump::step(&mut host, &mut to_device, Input::Ready, &mut on_host).unwrap()
    });
    to_host.can_send = to_device.subscribed;
    while !(to_device.values.is_empty() && to_host.values.is_empty()) {
        for value in std::mem::take(&mut to_device.values) {
            let mut link = device.link(id).unwrap();
            timed(&mut timings.device, || {
                pump::step(&mut link, &mut to_host, Input::Received(&value), |_, _| {}).unwrap()
            });
        }
        for value in std::mem::take(&mut to_host.values) {
            timed(&mut timings.host, || {
                pump::step(
                    &mut host,
                    &mut to_device,
                    Input::Received(&value),
                    &mut on_host,
                )
                .unwrap()
            });
        }
    }
    assert!(host.is_open() && device.link(id).unwrap().is_open());
    device.remove(id);
    (timings, bond)
}

/// A pairing, then a bonded reconnect to the same device.
fn pair_then_resume(
    record: &DeviceRecord,
    secrets: &ProverSecrets,
    seed: u64,
) -> (Timings, Timings) {
    let now = Instant::from_millis(0);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut device = Device::new(
        record.clone(),
        DevicePolicy::default(),
        MemoryStorage::default(),
        rng.clone(),
        now,
    );

    let start = Clock::now();
    let host = HostConnection::pair(
        &record.setup_info(),
        secrets,
        None,
        HostConfig::default(),
        &mut rng,
        now,
    );
    let (pairing, bond) = handshake(host, start.elapsed(), &mut device);
    let bond = bond.expect("the pairing made a bond");

    let start = Clock::now();
    let host = HostConnection::resume(&bond, HostConfig::default(), &mut rng, now);
    let (resume, _) = handshake(host, start.elapsed(), &mut device);
    (pairing, resume)
}

fn print_median(name: &str, timings: &[Timings]) {
    let host = median(timings.iter().map(|t| t.host).collect());
    let device = median(timings.iter().map(|t| t.device).collect());
    println!(
        "  {name:<26} host {:>6.3} ms   device {:>6.3} ms",
        host.as_secs_f64() * 1e3,
        device.as_secs_f64() * 1e3
    );
}

fn main() {
    let code = Password::Code(SetupCode::new(31_415_926).unwrap());
    let device_id = DeviceId([0xd1, 0xce, 0, 0, 0, 0, 0, 1]);
    let kdf = KdfParams::recommended([0x5a; 16]);

    println!("blepake CPU costs (median wall-clock on this machine)");
    let kdf_time = time(5, || kdf.derive(&code, &device_id).unwrap());
    println!(
        "  Argon2id m={} MiB t={} p={} (hosts, provisioning): {:>8.1} ms",
        kdf.memory_kib / 1024,
        kdf.iterations,
        kdf.parallelism,
        kdf_time.as_secs_f64() * 1e3
    );
    let secret = Password::Secret(QrSecret::from_bytes([0x5e; 16]));
    let hkdf = KdfParams::for_qr_secret([0x5a; 16]);
    let hkdf_time = time(101, || hkdf.derive(&secret, &device_id).unwrap());
    println!(
        "  HKDF for a QR secret (hosts, provisioning):      {:>8.1} µs",
        hkdf_time.as_secs_f64() * 1e6
    );

    let secrets = kdf.derive(&code, &device_id).unwrap();
    let record = DeviceRecord::new(device_id, kdf, secrets.verifier());
    let (pairings, resumes): (Vec<Timings>, Vec<Timings>) = (0..51)
        .map(|seed| pair_then_resume(&record, &secrets, seed))
        .unzip();
    print_median("pairing (without the KDF)", &pairings);
    print_median("bonded reconnect", &resumes);
}
