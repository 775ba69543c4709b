//! CPU cost of a handshake on each side, without and with the key
//! derivation, and what the derivation costs a brute-force attacker.
//!
//! `cargo bench -p blepake-sim --bench cpu`
//!
//! Prints medians of wall-clock time on this machine; the device figures
//! are for this CPU, not a Cortex-M4.

use std::hint::black_box;
use std::time::{Duration, Instant as Clock};

use blepake::spake2plus::ProverSecrets;
use blepake::{
    Device, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig, HostConnection, Instant,
    KdfParams, SetupCode, SetupInfo,
};
use blepake_sim::storage::MemoryStorage;
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

/// Moves everything `from` has queued into `to`.
fn relay(from: &mut impl FnMut(&mut [u8]) -> Option<usize>, mut to: impl FnMut(&[u8])) {
    let mut value = [0; 514];
    while let Some(n) = from(&mut value) {
        to(&value[..n]);
    }
}

struct Timings {
    host: Duration,
    device: Duration,
}

type TestDevice = Device<MemoryStorage, ChaCha20Rng>;

/// Runs a handshake to completion, timing each side's calls separately.
fn handshake(
    mut host: HostConnection,
    host_start: Duration,
    device: &mut TestDevice,
) -> (Timings, HostConnection) {
    let now = Instant::from_millis(0);
    let mut timings = Timings {
        host: host_start,
        device: Duration::ZERO,
    };
    let mut conn = device.accept();
    for _ in 0..2 {
        let mut flight = Vec::new();
        relay(&mut |b| host.poll_transmit(b), |v| flight.push(v.to_vec()));
        let start = Clock::now();
        for value in &flight {
            conn.handle_input(device, value, now).unwrap();
        }
        timings.device += start.elapsed();
        let mut flight = Vec::new();
        relay(&mut |b| conn.poll_transmit(b), |v| flight.push(v.to_vec()));
        let start = Clock::now();
        for value in &flight {
            host.handle_input(value, now).unwrap();
        }
        timings.host += start.elapsed();
    }
    assert!(host.is_open() && conn.is_open());
    (timings, host)
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
        HostConfig::default(),
        &mut rng,
        now,
    );
    let (pairing, mut host) = handshake(host, start.elapsed(), &mut device);
    let bond = std::iter::from_fn(|| host.poll_event())
        .find_map(|e| match e {
            Event::Bonded(bond) => Some(bond),
            _ => None,
        })
        .unwrap();

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
    let code = SetupCode::new(31_415_926).unwrap();
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
    let core_days = kdf_time.as_secs_f64() * 1e8 / 86_400.0;
    println!("  brute force of 10^8 codes from a stolen device record: {core_days:.0} core-days");

    let secrets = kdf.derive(&code, &device_id).unwrap();
    let record = DeviceRecord::new(device_id, kdf, secrets.verifier());
    let info: SetupInfo = record.setup_info();
    assert_eq!(info.device_id, device_id);

    let (pairings, resumes): (Vec<Timings>, Vec<Timings>) = (0..51)
        .map(|seed| pair_then_resume(&record, &secrets, seed))
        .unzip();
    print_median("pairing (without the KDF)", &pairings);
    print_median("bonded reconnect", &resumes);
}
