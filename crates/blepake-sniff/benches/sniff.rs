//! Figures for the capture analyser, printed (run with `bench/sniff`, which
//! builds the release `blepake` first, or `cargo bench -p blepake-sniff`):
//!
//! 1. The legacy TK brute force, worst case (TK 999999): the library's c1 search
//!    on one core and on all, one TK at a time for scale, the search by MIC; then
//!    `blepake crack FILE` beside `crackle -i FILE` as whole processes on the same
//!    capture, both pinned to one core with `taskset -c 0`, best of 5. crackle is
//!    used only when present: $CRACKLE, target/crackle/crackle, or PATH.
//! 2. Throughput on a large field-like capture built from the real ones in
//!    tests/data: `blepake sniff FILE` (default options) beside tshark's lightest
//!    dissecting modes and `-2 -V` on the same file in the same run.
//!
//! Options: `--megabytes N` (size of the large capture, default 64), `--keep`
//! (leave it in the temporary directory and print its path).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use blepake_sniff::codec::frame::crc24;
use blepake_sniff::codec::ll::{AdvPdu, decode_adv};
use blepake_sniff::crack::{
    ConfirmSearch, EachTk, PASSKEY_COUNT, brute_force_tk_on, tk_from_passkey,
};
use blepake_sniff::crypto::{c1_padding, c1_with_padding, ll_decrypt, s1, session_key};
use blepake_sniff::{Options, analyse};

fn data(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Classic pcap records: where each one's header starts, and its data.
fn pcap_record_spans(bytes: &[u8]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut spans = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = le32(bytes, at + 8) as usize;
        spans.push((at, at + 16..at + 16 + len));
        at += 16 + len;
    }
    spans
}

/// Classic pcap records: (seconds, microseconds, data).
fn pcap_records(bytes: &[u8]) -> Vec<(u32, u32, &[u8])> {
    pcap_record_spans(bytes)
        .into_iter()
        .map(|(at, data)| {
            (
                le32(bytes, at),
                le32(bytes, at + 4) % 1_000_000,
                &bytes[data],
            )
        })
        .collect()
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

fn throughput(megabytes: usize, keep: bool, blepake: &str) {
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
        tks: Vec::new(),
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
    let sniff = match time_command(blepake, &["sniff", &file]) {
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

/// crackle's numeric_pin.pcap (a legacy passkey pairing, TK 461140) with its two
/// confirm values replaced by those of TK 999999 and the CRCs of the two edited
/// packets recomputed: the worst case of a search from 0 up. Returns the capture
/// and the c1 search of its pairing.
fn worst_case_capture() -> (Vec<u8>, ConfirmSearch) {
    let mut bytes = data("crackle/numeric_pin.pcap");
    // Where each record's PDU starts (after PPI and access address) and ends (before the CRC).
    let pdus: Vec<_> = pcap_record_spans(&bytes)
        .into_iter()
        .map(|(_, data)| {
            let ppi = usize::from(u16::from_le_bytes([
                bytes[data.start + 2],
                bytes[data.start + 3],
            ]));
            data.start + ppi + 4..data.end - 3
        })
        .collect();
    let ind = pdus
        .iter()
        .find_map(|r| match decode_adv(&bytes[r.clone()]) {
            Ok(AdvPdu::ConnectInd(ind)) => Some(ind),
            _ => None,
        })
        .expect("numeric_pin.pcap has a CONNECT_IND");
    // SMP commands (an L2CAP start on CID 6) by code: where, and their parameters.
    let smp = |bytes: &[u8], code: u8| -> Vec<(std::ops::Range<usize>, Vec<u8>)> {
        pdus.iter()
            .filter(|r| {
                let p = &bytes[(*r).clone()];
                p.len() > 6 && p[0] & 3 == 2 && p[4..6] == [6, 0] && p[6] == code
            })
            .map(|r| (r.clone(), bytes[r.start + 7..r.end].to_vec()))
            .collect()
    };
    // 128-bit values travel least-significant octet first.
    let value = |wire: &[u8]| -> [u8; 16] {
        let mut v: [u8; 16] = wire.try_into().unwrap();
        v.reverse();
        v
    };
    let command = |code| -> [u8; 7] {
        let (_, params) = &smp(&bytes, code)[0];
        let mut wire = [code; 7];
        wire[1..].copy_from_slice(params);
        wire
    };
    let (preq, pres) = (command(1), command(2));
    let randoms = smp(&bytes, 4);
    let (mrand, srand) = (value(&randoms[0].1), value(&randoms[1].1));
    let (ia, ra) = (ind.initiator, ind.advertiser);
    let (p1, p2) = c1_padding(
        &preq,
        &pres,
        u8::from(ia.random),
        u8::from(ra.random),
        &ia.bytes,
        &ra.bytes,
    );
    let tk = tk_from_passkey(PASSKEY_COUNT - 1);
    let confirms = smp(&bytes, 3);
    for ((range, _), random) in confirms.iter().zip([mrand, srand]) {
        let mut confirm = c1_with_padding(&tk, &random, &p1, &p2);
        confirm.reverse();
        bytes[range.start + 7..range.end].copy_from_slice(&confirm);
        let crc = crc24(ind.crc_init, &bytes[range.clone()]);
        bytes[range.end..range.end + 3].copy_from_slice(&crc);
    }
    let confirm = c1_with_padding(&tk, &mrand, &p1, &p2);
    (bytes, ConfirmSearch::new(mrand, p1, p2, confirm))
}

/// Runs `program args` `runs` times and returns the shortest wall-clock time.
fn best_of(runs: u32, program: &str, args: &[&str]) -> Result<Duration, String> {
    (0..runs).try_fold(Duration::MAX, |best, _| {
        time_command(program, args).map(|t| best.min(t))
    })
}

/// The crackle binary: $CRACKLE, else target/crackle/crackle, else `crackle` on PATH.
fn crackle_binary() -> Option<String> {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/crackle/crackle");
    let candidates = [
        std::env::var("CRACKLE").ok(),
        Some(default.to_string()),
        Some("crackle".into()),
    ];
    candidates.into_iter().flatten().find(|path| {
        Command::new(path)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// What a command prints, for checking that it found the TK it was timed on.
fn output_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The legacy TK brute force, worst case (TK 999999, so all million candidates
/// are tried): the library's c1 search on one core and on all, the search by MIC,
/// then whole processes on the same capture, `blepake crack` beside crackle
/// (built from source, when present), both pinned to one core with taskset.
/// crackle checks c1 for each TK (its strategy 0), as `blepake crack` does here.
fn brute_force(blepake: &str) {
    let (capture, search) = worst_case_capture();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let aes_ni = if std::arch::is_x86_feature_detected!("aes") {
        "yes"
    } else {
        "no"
    };
    println!(
        "legacy TK brute force, worst case TK 999999 (1,000,000 candidates), AES-NI: {aes_ni}"
    );
    for threads in [1, cores] {
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let found = brute_force_tk_on(threads, &search, &mut |_| {});
            best = best.min(start.elapsed());
            assert_eq!(found, Some(PASSKEY_COUNT - 1));
        }
        println!(
            "  library, by c1, {threads} core(s)            : {:7.3} s  {:6.1} M TK/s  (best of 5)",
            seconds(best),
            f64::from(PASSKEY_COUNT) / seconds(best) / 1e6,
        );
    }
    // The same search one TK at a time through the aes crate's block API, for scale.
    let one_at_a_time = EachTk(|tk: &[u8; 16]| search.matches(tk));
    let start = Instant::now();
    assert_eq!(
        brute_force_tk_on(1, &one_at_a_time, &mut |_| {}),
        Some(PASSKEY_COUNT - 1)
    );
    let elapsed = start.elapsed();
    println!(
        "  library, by c1 one TK at a time, 1 core: {:7.3} s  {:6.1} M TK/s",
        seconds(elapsed),
        f64::from(PASSKEY_COUNT) / seconds(elapsed) / 1e6,
    );

    let (skd_c, skd_p, iv) = ([0x87; 8], [0x86; 8], [0xea; 8]);
    let (random, sealed) = ([0x5a; 16], [0x71, 0xb5, 0xac, 0xd1, 0xd8]);
    let by_mic = EachTk(|tk: &[u8; 16]| {
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
    });
    let start = Instant::now();
    assert_eq!(brute_force_tk_on(1, &by_mic, &mut |_| {}), None);
    let elapsed = start.elapsed();
    println!(
        "  library, by MIC (no confirm captured), 1 core: {:7.3} s  {:6.2} M TK/s",
        seconds(elapsed),
        f64::from(PASSKEY_COUNT) / seconds(elapsed) / 1e6
    );

    let path = std::env::temp_dir().join(format!(
        "blepake-sniff-tk999999-{}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, &capture).expect("write the worst-case capture");
    let file = path.to_string_lossy().into_owned();
    println!(
        "  whole processes on {file} (numeric_pin.pcap, confirms edited for TK 999999), best of 5:"
    );
    let found = output_of(blepake, &["crack", "--json", &file]).contains("\"tk\": \"999999\"");
    let pinned = |program: &str, args: &[&str]| {
        let mut all = vec!["-c", "0", program];
        all.extend_from_slice(args);
        best_of(5, "taskset", &all)
    };
    let blepake_one = pinned(blepake, &["crack", &file]);
    let blepake_all = best_of(5, blepake, &["crack", &file]);
    match (&blepake_one, &blepake_all) {
        (Ok(one), Ok(all)) => println!(
            "    blepake crack FILE, 1 core (taskset -c 0): {:7.3} s; all {cores} cores: {:7.3} s{}",
            seconds(*one),
            seconds(*all),
            if found {
                ""
            } else {
                "  (did NOT report TK 999999)"
            }
        ),
        (Err(e), _) | (_, Err(e)) => println!(
            "    blepake crack FILE: not run ({e}); bench/sniff builds it and sets BLEPAKE_BIN; taskset (util-linux) pins it"
        ),
    }
    match crackle_binary() {
        None => println!(
            "    crackle: not found ($CRACKLE, target/crackle/crackle or PATH); build it from its source (github.com/mikeryan/crackle, `make`, needs libpcap-dev) to compare"
        ),
        Some(crackle) => {
            let found = output_of(&crackle, &["-i", &file]).contains("TK found: 999999");
            match pinned(&crackle, &["-i", &file]) {
                Ok(elapsed) => {
                    println!(
                        "    crackle -i FILE ({crackle}), 1 core (it has no threads): {:7.3} s{}",
                        seconds(elapsed),
                        if found {
                            ""
                        } else {
                            "  (did NOT report TK 999999)"
                        }
                    );
                    if let (Ok(one), Ok(all)) = (blepake_one, blepake_all) {
                        println!(
                            "    blepake crack is {:.1}x as fast as crackle on one core, {:.1}x on {cores} cores",
                            seconds(elapsed) / seconds(one),
                            seconds(elapsed) / seconds(all)
                        );
                    }
                }
                Err(e) => println!("    crackle -i FILE: not run ({e})"),
            }
        }
    }
    let _ = std::fs::remove_file(&path);
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
    let blepake = std::env::var("BLEPAKE_BIN").unwrap_or_else(|_| "blepake".into());
    brute_force(&blepake);
    throughput(megabytes, keep, &blepake);
}
