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

use blepake_sniff::crack::{PASSKEY_COUNT, brute_force_tk};
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

/// A pcapng of about `megabytes` MB that tshark dissects as fully as we do: the
/// crackle captures with Ubertooth's PPI header swapped for the LE radio header
/// (LINKTYPE 256), crackle's own 256 capture, and the Bumble H4 logs (201),
/// repeated with timestamps moved one hour on each round.
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
    let mut packets = 0u64;
    let mut round = 0u64;
    while w.0.len() < megabytes << 20 {
        let shift = round * 3_600_000_000_000;
        for (ts, packet) in &radio {
            w.packet(0, ts + shift, packet);
        }
        for (ts, packet) in &hci {
            w.packet(1, ts + shift, packet);
        }
        packets += (radio.len() + hci.len()) as u64;
        round += 1;
    }
    (w.0, packets)
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
        "blepake-sniff analyse : {:8.3} s  {:8.1} MB/s  {:10.0} packets/s  ({connections} connections; best of 3, no TK search)",
        seconds(best),
        mb / seconds(best),
        packets as f64 / seconds(best)
    );

    let start = Instant::now();
    let tshark = Command::new("tshark")
        .args(["-r", &path.to_string_lossy(), "-2", "-V"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match tshark {
        Ok(status) if status.success() => {
            let elapsed = start.elapsed();
            println!(
                "tshark -r FILE -2 -V  : {:8.3} s  {:8.1} MB/s  {:10.0} packets/s  (ratio {:.1}x)",
                seconds(elapsed),
                mb / seconds(elapsed),
                packets as f64 / seconds(elapsed),
                seconds(elapsed) / seconds(best)
            );
        }
        Ok(status) => println!("tshark -r FILE -2 -V  : failed ({status})"),
        Err(e) => println!(
            "tshark -r FILE -2 -V  : not run ({e}); install it with apt-get install tshark"
        ),
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
    let start = Instant::now();
    let found = brute_force_tk(
        |tk| c1_with_padding(tk, &random, &p1, &p2) == unreachable_confirm,
        &mut |_| {},
    );
    let elapsed = start.elapsed();
    assert_eq!(found, None);
    println!(
        "legacy TK brute force by c1  : {PASSKEY_COUNT} TKs in {:.3} s, {:.2} M TK/s on one core",
        seconds(elapsed),
        f64::from(PASSKEY_COUNT) / seconds(elapsed) / 1e6
    );

    let (skd_c, skd_p, iv) = ([0x87; 8], [0x86; 8], [0xea; 8]);
    let sealed = [0x71, 0xb5, 0xac, 0xd1, 0xd8];
    let start = Instant::now();
    let found = brute_force_tk(
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
