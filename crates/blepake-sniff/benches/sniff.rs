//! Figures for the capture analyser, printed (run with `cargo bench -p blepake-sniff`):
//!
//! 1. Throughput on a large capture built from the real ones in tests/data, and
//!    `tshark -r FILE -2 -V > /dev/null` on the same file in the same run.
//! 2. A full legacy TK brute force (passkeys 000000 to 999999) on one core, by
//!    confirm value (c1) and by the MIC of the first encrypted PDU (s1, e, AES-CCM).
//!
//! Options: `--megabytes N` (size of the large capture, default 64), `--keep`
//! (leave it in the temporary directory and print its path).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blepake_sniff::crack::{PASSKEY_COUNT, brute_force_tk_on};
use blepake_sniff::crypto::{c1_padding, c1_with_padding, ll_decrypt, s1, session_key};
use blepake_sniff::{Options, analyse};

fn data(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Classic pcap records: (seconds, microseconds, data).
fn pcap_records(bytes: &[u8]) -> Vec<(u32, u32, &[u8])> {
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = le32(at + 8) as usize;
        records.push((
            le32(at),
            le32(at + 4) % 1_000_000,
            &bytes[at + 16..at + 16 + len],
        ));
        at += 16 + len;
    }
    records
}

/// pcapng records of interface 0 from a little-endian file with one interface.
fn pcapng_records(bytes: &[u8]) -> Vec<(u64, &[u8])> {
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut records = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let (kind, len) = (le32(at), le32(at + 4) as usize);
        if kind == 6 {
            let ts = (u64::from(le32(at + 12)) << 32) | u64::from(le32(at + 16));
            let caplen = le32(at + 20) as usize;
            records.push((ts, &bytes[at + 28..at + 28 + caplen]));
        }
        at += len;
    }
    records
}

struct Writer(Vec<u8>);

impl Writer {
    fn block(&mut self, kind: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        self.0.extend_from_slice(&kind.to_le_bytes());
        self.0.extend_from_slice(&total.to_le_bytes());
        self.0.extend_from_slice(body);
        self.0.resize(self.0.len() + padded - body.len(), 0);
        self.0.extend_from_slice(&total.to_le_bytes());
    }
    fn packet(&mut self, interface: u32, ns: u64, data: &[u8]) {
        let mut body = Vec::with_capacity(20 + data.len());
        for v in [
            interface,
            (ns >> 32) as u32,
            ns as u32,
            data.len() as u32,
            data.len() as u32,
        ] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(data);
        self.block(6, &body);
    }
}

/// Whether an LE packet (access address onwards) is advertising or an empty PDU.
fn is_filler(le_packet: &[u8]) -> bool {
    le_packet.get(..4) == Some(&[0xd6, 0xbe, 0x89, 0x8e][..]) || le_packet.get(5) == Some(&0)
}

/// A pcapng of about `megabytes` MB shaped like a field capture: mostly
/// advertising and empty PDUs, and 8 pairings. Made from the real captures: the
/// crackle captures with Ubertooth's PPI header swapped for the LE radio header
/// (LINKTYPE 256) and crackle's own 256 capture give the filler (their
/// advertising and empty PDUs, repeated, timestamps moved one hour per round);
/// 8 of the rounds, spread evenly, carry every packet of those captures and of
/// the Bumble H4 logs (201) instead: 8 copies of 9 pairings (legacy Just Works,
/// legacy passkey, LE Secure Connections passkey entry, a failed one, and so on).
fn large_capture(megabytes: usize) -> (Vec<u8>, u64) {
    let mut radio: Vec<(u64, Vec<u8>)> = Vec::new();
    for name in [
        "pairing_and_ltk_exchange",
        "missing_confirms",
        "known_ltk",
        "numeric_pin",
    ] {
        for (sec, usec, record) in pcap_records(&data(&format!("crackle/{name}.pcap"))) {
            let ppi_len = usize::from(u16::from_le_bytes([record[2], record[3]]));
            // Channel unknown, no valid power readings, CRC not checked.
            let mut packet = vec![0u8; 10];
            packet.extend_from_slice(&record[ppi_len..]);
            radio.push((
                u64::from(sec) * 1_000_000_000 + u64::from(usec) * 1000,
                packet,
            ));
        }
    }
    for (ts, record) in pcapng_records(&data("crackle/le_secure_connections.pcapng")) {
        radio.push((ts, record.to_vec()));
    }
    let filler: Vec<&(u64, Vec<u8>)> = radio.iter().filter(|(_, p)| is_filler(&p[10..])).collect();
    let mut hci: Vec<(u64, Vec<u8>)> = Vec::new();
    for name in [
        "lesc_passkey_654321_ok",
        "lesc_passkey_654321_debugkey_ok",
        "lesc_passkey_654321_wrong_bit5",
        "legacy_passkey_654321_ok",
    ] {
        for (sec, usec, record) in pcap_records(&data(&format!("bumble/bumble_{name}.pcap"))) {
            hci.push((
                u64::from(sec) * 1_000_000_000 + u64::from(usec) * 1000,
                record.to_vec(),
            ));
        }
    }
    let mut w = Writer(Vec::with_capacity(megabytes << 20));
    w.block(
        0x0a0d_0d0a,
        &[
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    for link_type in [256u16, 201] {
        let mut body = link_type.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        w.block(1, &body);
    }
    let filler_octets: usize = filler.iter().map(|(_, p)| p.len() + 32).sum();
    let rounds = (megabytes << 20) / filler_octets.max(1);
    let pairing_every = (rounds / 8).max(1);
    let mut packets = 0u64;
    let mut round = 0u64;
    while w.0.len() < megabytes << 20 {
        let shift = round * 3_600_000_000_000;
        if round as usize % pairing_every == pairing_every / 2 {
            for (ts, packet) in &radio {
                w.packet(0, ts + shift, packet);
            }
            for (ts, packet) in &hci {
                w.packet(1, ts + shift, packet);
            }
            packets += (radio.len() + hci.len()) as u64;
        } else {
            for (ts, packet) in &filler {
                w.packet(0, ts + shift, packet);
            }
            packets += filler.len() as u64;
        }
        round += 1;
    }
    (w.0, packets)
}

/// Runs a command on the capture and returns its wall-clock time, or why not.
fn time_command(program: &str, args: &[&str]) -> Result<Duration, String> {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    // blepake sniff exits 1 when it finds errors: that is a result, not a failure.
    match status.code() {
        Some(0 | 1) => Ok(elapsed),
        _ => Err(format!("exited with {status}")),
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn throughput(megabytes: usize, keep: bool) {
    let (capture, packets) = large_capture(megabytes);
    let mb = capture.len() as f64 / 1e6;
    let path: PathBuf =
        std::env::temp_dir().join(format!("blepake-sniff-bench-{}.pcapng", std::process::id()));
    std::fs::write(&path, &capture).expect("write the large capture");
    println!(
        "large capture: {} ({mb:.1} MB, {packets} packets)",
        path.display()
    );

    let options = Options {
        ltks: Vec::new(),
        brute_force: false,
    };
    let mut best = Duration::MAX;
    let mut connections = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let report =
            analyse(black_box(&capture), &options, &mut |_| {}).expect("the capture reads");
        best = best.min(start.elapsed());
        connections = report.connections.len();
    }
    println!(
        "library analyse, in memory         : {:8.3} s  {:8.1} MB/s  {:10.0} packets/s  ({connections} connections; best of 3, no TK search)",
        seconds(best),
        mb / seconds(best),
        packets as f64 / seconds(best)
    );

    let file = path.to_string_lossy().into_owned();
    let line = |name: &str, elapsed: Duration, base: Option<Duration>| {
        println!(
            "{name:<34}: {:8.3} s  {:8.1} MB/s  {:10.0} packets/s{}",
            seconds(elapsed),
            mb / seconds(elapsed),
            packets as f64 / seconds(elapsed),
            base.map(|b| format!("  ({:.1}x blepake sniff)", seconds(elapsed) / seconds(b)))
                .unwrap_or_default()
        )
    };
    // The command users run, default options (TK search on), one run each.
    let blepake = std::env::var("BLEPAKE_BIN").unwrap_or_else(|_| "blepake".into());
    let sniff = match time_command(&blepake, &["sniff", &file]) {
        Ok(elapsed) => {
            line("blepake sniff FILE", elapsed, None);
            Some(elapsed)
        }
        Err(e) => {
            println!(
                "blepake sniff FILE: not run ({e}); bench/sniff builds and points BLEPAKE_BIN at it"
            );
            None
        }
    };
    for (name, args) in [
        (
            "tshark -T fields -e frame.number",
            vec!["-r", &file, "-T", "fields", "-e", "frame.number"],
        ),
        ("tshark -q -Y btsmp", vec!["-r", &file, "-q", "-Y", "btsmp"]),
        ("tshark -2 -V", vec!["-r", &file, "-2", "-V"]),
    ] {
        match time_command("tshark", &args) {
            Ok(elapsed) => line(name, elapsed, sniff),
            Err(e) => println!(
                "{name}: not run ({e}); install tshark (apt-get install tshark) for this line"
            ),
        }
    }
    if !keep {
        let _ = std::fs::remove_file(&path);
    }
}

/// The pairing commands and addresses of crackle's numeric_pin.pcap, with random,
/// confirm and encrypted PDU made up so that no TK matches and all million are tried.
fn brute_force() {
    let preq: [u8; 7] = [0x01, 0x04, 0x00, 0x05, 0x10, 0x05, 0x07];
    let pres: [u8; 7] = [0x02, 0x04, 0x00, 0x05, 0x10, 0x01, 0x03];
    let initiator = [0x5c, 0xf3, 0x70, 0x73, 0x3e, 0xf4];
    let responder = [0x69, 0x5b, 0xfb, 0x2c, 0x3f, 0xa7];
    let random = [0x5a; 16];
    let unreachable_confirm = [0xff; 16];
    let (p1, p2) = c1_padding(&preq, &pres, 0, 1, &initiator, &responder);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    for threads in [1, cores] {
        let start = Instant::now();
        let found = brute_force_tk_on(
            threads,
            |tk| c1_with_padding(tk, &random, &p1, &p2) == unreachable_confirm,
            &mut |_| {},
        );
        let elapsed = start.elapsed();
        assert_eq!(found, None);
        println!(
            "legacy TK brute force by c1  : {PASSKEY_COUNT} TKs in {:.3} s, {:.2} M TK/s on {threads} core(s) (AES-NI: {})",
            seconds(elapsed),
            f64::from(PASSKEY_COUNT) / seconds(elapsed) / 1e6,
            if std::arch::is_x86_feature_detected!("aes") {
                "yes"
            } else {
                "no"
            }
        );
    }
    match Command::new("crackle").arg("-h").output() {
        Ok(_) => println!(
            "crackle found: time `crackle -i <capture>` on a capture whose TK is 999999 beside the line above"
        ),
        Err(_) => println!("crackle: not found on PATH (build it from source for the comparison)"),
    }

    let (skd_c, skd_p, iv) = ([0x87; 8], [0x86; 8], [0xea; 8]);
    let sealed = [0x71, 0xb5, 0xac, 0xd1, 0xd8];
    let start = Instant::now();
    let found = brute_force_tk_on(
        1,
        |tk| {
            let stk = s1(tk, &random, &random);
            ll_decrypt(
                &session_key(&stk, &skd_c, &skd_p),
                &iv,
                0,
                true,
                0x0f,
                &sealed,
            )
            .is_some()
        },
        &mut |_| {},
    );
    let elapsed = start.elapsed();
    assert_eq!(found, None);
    println!(
        "legacy TK brute force by MIC : {PASSKEY_COUNT} TKs in {:.3} s, {:.2} M TK/s on one core",
        seconds(elapsed),
        f64::from(PASSKEY_COUNT) / seconds(elapsed) / 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let megabytes = args
        .iter()
        .position(|a| a == "--megabytes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    let keep = args.iter().any(|a| a == "--keep");
    brute_force();
    throughput(megabytes, keep);
}
