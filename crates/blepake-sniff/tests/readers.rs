//! Containers and link types. Packet counts and first timestamps are those tshark
//! reports for the same files; variants of a container (byte order, resolution,
//! several interfaces, unknown blocks, other framings) are built here from the
//! real captures, each by a transformation described where it is made.

mod common;

use blepake_sniff::capture::{CaptureReader, Format, Frame, LinkType};
use blepake_sniff::codec::frame::{Direction, Packet, decode_frame};
use blepake_sniff::{Options, analyse};
use common::{Pcap, analyse_bytes, data};

fn frames(bytes: &[u8]) -> Vec<Frame> {
    CaptureReader::new(bytes)
        .expect("capture")
        .map(|f| f.expect("frame"))
        .collect()
}

#[test]
fn counts_link_types_and_first_timestamps_match_tshark() {
    for (path, format, link_type, count, first_ns) in [
        (
            "crackle/pairing_and_ltk_exchange.pcap",
            Format::Pcap,
            192,
            713,
            1_360_866_518_344_619_000,
        ),
        (
            "crackle/known_ltk.pcap",
            Format::Pcap,
            192,
            303,
            1_360_876_480_711_435_000,
        ),
        (
            "crackle/le_secure_connections.pcapng",
            Format::Pcapng,
            256,
            303,
            905_224_953_861_563,
        ),
        (
            "btsnoop-rs/btsnoop_btmon.log",
            Format::Btsnoop,
            2001,
            554,
            1_696_206_721_350_268_000,
        ),
        (
            "btsnoop-rs/btsnoop_hci_android.log",
            Format::Btsnoop,
            1002,
            222,
            1_674_874_116_395_644_000,
        ),
        (
            "bumble/bumble_lesc_passkey_654321_ok.btsnoop",
            Format::Btsnoop,
            1002,
            176,
            1_795_462_579_333_480_000,
        ),
        (
            "bumble/bumble_lesc_passkey_654321_ok.pcap",
            Format::Pcap,
            201,
            176,
            1_795_462_579_333_500_000,
        ),
    ] {
        let bytes = data(path);
        let reader = CaptureReader::new(bytes.as_slice()).expect(path);
        assert_eq!(reader.format(), format, "{path}");
        let frames: Vec<Frame> = reader.map(|f| f.expect(path)).collect();
        assert_eq!(frames.len(), count, "{path}");
        assert!(
            frames.iter().all(|f| f.link_type.number() == link_type),
            "{path}"
        );
        assert_eq!(frames[0].timestamp_ns, first_ns, "{path}");
        assert_eq!(frames.last().unwrap().number, count as u64);
    }
}

#[test]
fn every_record_of_the_real_captures_decodes() {
    for path in [
        "crackle/pairing_and_ltk_exchange.pcap",
        "crackle/le_secure_connections.pcapng",
        "btsnoop-rs/btsnoop_btmon.log",
        "btsnoop-rs/btsnoop_hci_android.log",
        "bumble/bumble_lesc_passkey_654321_ok.pcap",
    ] {
        let bytes = data(path);
        for frame in frames(&bytes) {
            assert!(
                decode_frame(&frame).is_ok(),
                "{path} packet {}",
                frame.number
            );
        }
    }
}

/// Rewrites a little-endian microsecond pcap: every header field byte-swapped
/// (big-endian), or the magic of nanosecond files with fractions × 1000.
fn rewrite_pcap(bytes: &[u8], big_endian: bool, nanoseconds: bool) -> Vec<u8> {
    let pcap = Pcap::parse(bytes);
    let encode = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let header = &pcap.header;
    let field = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    out.extend_from_slice(&encode(if nanoseconds {
        0xa1b2_3c4d
    } else {
        0xa1b2_c3d4
    }));
    let version = [
        u16::from_le_bytes([header[4], header[5]]),
        u16::from_le_bytes([header[6], header[7]]),
    ];
    for v in version {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    for at in [8, 12, 16, 20] {
        out.extend_from_slice(&encode(field(at)));
    }
    for r in &pcap.records {
        let fraction = if nanoseconds {
            r.ts_usec * 1000
        } else {
            r.ts_usec
        };
        let len = r.data.len() as u32;
        for v in [r.ts_sec, fraction, len, len] {
            out.extend_from_slice(&encode(v));
        }
        out.extend_from_slice(&r.data);
    }
    out
}

#[test]
fn pcap_in_both_byte_orders_and_resolutions_reads_the_same() {
    let original = data("crackle/pairing_and_ltk_exchange.pcap");
    let expected: Vec<(i64, Vec<u8>)> = frames(&original)
        .iter()
        .map(|f| (f.timestamp_ns, f.data.to_vec()))
        .collect();
    for (big_endian, nanoseconds) in [(true, false), (false, true), (true, true)] {
        let rewritten = rewrite_pcap(&original, big_endian, nanoseconds);
        let got: Vec<(i64, Vec<u8>)> = frames(&rewritten)
            .iter()
            .map(|f| (f.timestamp_ns, f.data.to_vec()))
            .collect();
        assert_eq!(
            got, expected,
            "big endian {big_endian}, nanoseconds {nanoseconds}"
        );
    }
}

/// A pcapng writer for the tests: sections, interfaces, packets and an unknown block.
struct PcapngWriter {
    big_endian: bool,
    out: Vec<u8>,
}

impl PcapngWriter {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, kind: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        let (kind, total_bytes) = (self.u32(kind), self.u32(total));
        self.out.extend_from_slice(&kind);
        self.out.extend_from_slice(&total_bytes);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&total_bytes);
    }
    fn section(&mut self) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body);
    }
    /// An interface with LINKTYPE `link_type` and timestamps in 10^-`tsresol` s.
    fn interface(&mut self, link_type: u16, tsresol: u8) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(link_type));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(0));
        body.extend_from_slice(&self.u16(9)); // if_tsresol
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        body.extend_from_slice(&[0; 4]); // opt_endofopt
        self.block(1, &body);
    }
    fn packet(&mut self, interface: u32, timestamp: u64, data: &[u8]) {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(interface));
        body.extend_from_slice(&self.u32((timestamp >> 32) as u32));
        body.extend_from_slice(&self.u32(timestamp as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(4) * 4, 0);
        self.block(6, &body);
    }
}

/// Two captures merged into one pcapng file: the Bumble H4 log on interface 0
/// (nanosecond timestamps) and crackle's LE packets stripped of their PPI header
/// on interface 1 (LINKTYPE 251, microseconds), with an unknown block between.
fn merged_pcapng(big_endian: bool) -> Vec<u8> {
    let mut w = PcapngWriter {
        big_endian,
        out: Vec::new(),
    };
    w.section();
    w.interface(201, 9);
    w.interface(251, 6);
    w.block(0x0bad_0001, b"an unknown block type, to be skipped");
    let bumble = Pcap::parse(&data("bumble/bumble_lesc_passkey_654321_ok.pcap"));
    for r in &bumble.records {
        w.packet(
            0,
            u64::from(r.ts_sec) * 1_000_000_000 + u64::from(r.ts_usec) * 1000,
            &r.data,
        );
    }
    let crackle = Pcap::parse(&data("crackle/pairing_and_ltk_exchange.pcap"));
    for r in &crackle.records {
        let ppi_len = usize::from(u16::from_le_bytes([r.data[2], r.data[3]]));
        w.packet(
            1,
            u64::from(r.ts_sec) * 1_000_000 + u64::from(r.ts_usec),
            &r.data[ppi_len..],
        );
    }
    w.out
}

#[test]
fn pcapng_with_two_interfaces_unknown_blocks_and_either_byte_order() {
    for big_endian in [false, true] {
        let bytes = merged_pcapng(big_endian);
        let frames = frames(&bytes);
        assert_eq!(frames.len(), 176 + 713);
        assert_eq!(frames[0].link_type, LinkType::H4WithPhdr);
        assert_eq!(frames[0].timestamp_ns, 1_795_462_579_333_500_000);
        assert_eq!(frames[176].link_type, LinkType::LeLl);
        assert_eq!(frames[176].timestamp_ns, 1_360_866_518_344_619_000);
        let report = analyse_bytes(
            &bytes,
            &Options {
                ltks: Vec::new(),
                brute_force: true,
                tks: Vec::new(),
            },
        );
        assert_eq!(report.connections.len(), 2);
        assert_eq!(
            report.connections[0].pairings[0].passkey.as_deref(),
            Some("654321")
        );
        // LINKTYPE 251 keeps no sniffer clock: the capture timestamps time the events.
        assert_eq!(
            report.connections[1].pairings[0].tk.as_deref(),
            Some("000000")
        );
        assert_eq!(report.connections[1].encryption.decrypted_pdus, 3);
    }
}

/// Offset of record `n` (1-based) in a classic pcap.
fn pcap_record_offset(bytes: &[u8], n: usize) -> usize {
    let mut at = 24;
    for _ in 1..n {
        at += 16 + u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
    }
    at
}

#[test]
fn truncated_pcap_reports_the_offset_and_keeps_the_packets_before() {
    let bytes = data("crackle/pairing_and_ltk_exchange.pcap");
    let cut_at = pcap_record_offset(&bytes, 600) + 20;
    let report = analyse_bytes(
        &bytes[..cut_at],
        &Options {
            ltks: Vec::new(),
            brute_force: true,
            tks: Vec::new(),
        },
    );
    let error = report.read_error.as_ref().expect("a read error");
    assert_eq!(error.offset, pcap_record_offset(&bytes, 600) as u64);
    assert!(error.message.contains("record 600"), "{}", error.message);
    assert_eq!(report.packets, 599);
    // The pairing before the cut is still analysed.
    assert_eq!(
        report.connections[0].pairings[0].tk.as_deref(),
        Some("000000")
    );
    assert_eq!(
        report
            .findings
            .iter()
            .filter(|f| f.code == "capture.truncated")
            .count(),
        1
    );
}

#[test]
fn corrupt_record_length_is_an_error_at_its_offset() {
    let mut bytes = data("crackle/known_ltk.pcap");
    let at = pcap_record_offset(&bytes, 10);
    bytes[at + 8..at + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let frames: Vec<_> = CaptureReader::new(bytes.as_slice()).unwrap().collect();
    assert_eq!(frames.len(), 10);
    assert!(frames[..9].iter().all(Result::is_ok));
    assert_eq!(frames[9].as_ref().unwrap_err().offset, at as u64);
}

#[test]
fn truncated_btsnoop_and_pcapng_report_offsets() {
    let snoop = data("bumble/bumble_lesc_passkey_654321_ok.btsnoop");
    let cut = snoop.len() - 10;
    let frames: Vec<_> = CaptureReader::new(&snoop[..cut]).unwrap().collect();
    assert_eq!(frames.len(), 176);
    let error = frames.last().unwrap().as_ref().unwrap_err();
    let last_ok = frames[174].as_ref().unwrap();
    assert_eq!(
        error.offset,
        last_ok.offset + 24 + last_ok.data.len() as u64
    );
    let ng = data("crackle/le_secure_connections.pcapng");
    let frames: Vec<_> = CaptureReader::new(&ng[..ng.len() - 7]).unwrap().collect();
    assert!(frames.last().unwrap().is_err());
    assert_eq!(frames.iter().filter(|f| f.is_ok()).count(), 302);
}

#[test]
fn files_that_are_not_captures_are_refused() {
    for bytes in [
        &b""[..],
        b"abc",
        b"not a capture at all, just text",
        b"btsnoop\0\0\0\0\x02\0\0\x03\xea",
    ] {
        let error = analyse(bytes, &Options::default(), &mut |_| {}).unwrap_err();
        assert!(error.offset <= 8, "{error}");
    }
}

/// Wraps an LE packet (access address to CRC) in an nRF Sniffer header.
fn nordic(version: u8, flags: u8, channel: u8, event: u16, le_packet: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let event_header = |out: &mut Vec<u8>| {
        out.extend_from_slice(&[flags, channel, 60]);
        out.extend_from_slice(&event.to_le_bytes());
        out.extend_from_slice(&1234u32.to_le_bytes());
    };
    let payload_len = 10 + le_packet.len();
    match version {
        0 => {
            out.extend_from_slice(&[0xbe, 0xef, 0x06, 7, 0, 0, 0, (payload_len - 1) as u8]);
            event_header(&mut out);
        }
        1 => {
            out.extend_from_slice(&[0, 6, payload_len as u8, 1, 7, 0, 0x06, 10]);
            event_header(&mut out);
        }
        _ => {
            out.push(0);
            out.extend_from_slice(&(payload_len as u16).to_le_bytes());
            out.extend_from_slice(&[version, 7, 0, 0x06, 10]);
            event_header(&mut out);
        }
    }
    out.extend_from_slice(le_packet);
    out
}

#[test]
fn nordic_headers_of_every_version() {
    let crackle = Pcap::parse(&data("crackle/pairing_and_ltk_exchange.pcap"));
    // Packet 566, the central's Pairing Request, as the nRF Sniffer would frame it.
    let record = &crackle.records[565];
    let le_packet =
        &record.data[usize::from(u16::from_le_bytes([record.data[2], record.data[3]]))..];
    for version in 0..=3 {
        let framed = nordic(version, 0x03, 12, 33, le_packet);
        let frame = Frame {
            number: 1,
            offset: 0,
            timestamp_ns: 0,
            link_type: LinkType::NordicBle,
            interface: 0,
            flags: 0,
            data: framed,
        };
        let Ok(Packet::Radio(packet)) = decode_frame(&frame) else {
            panic!("version {version}")
        };
        assert_eq!(packet.access_address, 0xaf9a_9394, "version {version}");
        assert_eq!(packet.channel, Some(12));
        assert_eq!(packet.rssi, Some(-60));
        assert_eq!(packet.event_counter, Some(33));
        assert_eq!(packet.direction, Some(Direction::CentralToPeripheral));
        assert_eq!(packet.crc_valid, Some(true));
        assert_eq!(packet.pdu, &le_packet[4..le_packet.len() - 3]);
        assert_eq!(
            packet.radio_clock.map(|c| c.micros),
            (version == 3).then_some(1234)
        );
    }
}

#[test]
fn h4_without_direction_header_still_gives_connections() {
    // LINKTYPE 187: the Bumble pcap with each record's 4-octet direction header removed.
    let mut pcap = Pcap::parse(&data("bumble/bumble_legacy_passkey_654321_ok.pcap"));
    pcap.header[20..24].copy_from_slice(&187u32.to_le_bytes());
    for r in &mut pcap.records {
        r.data.drain(..4);
    }
    let report = analyse_bytes(&pcap.to_bytes(), &Options::default());
    assert_eq!(report.link_types, vec![187]);
    let conn = &report.connections[0];
    assert_eq!(conn.handle, Some(1));
    assert_eq!(conn.disconnect.as_ref().map(|d| d.reason), Some(0x13));
    // Commands travel down whatever the log says: the STK given to the controller is seen.
    assert_eq!(conn.encryption.key_source.as_deref(), Some("hci"));
}

#[test]
fn pcapng_block_shorter_than_its_header_is_an_error_not_a_panic() {
    // Found by the capture fuzz target: a Process Information Block announcing 6 octets
    // made pcap-parser subtract past zero. The section and interface blocks are
    // le_secure_connections.pcapng's first 92 octets.
    let mut bytes = data("crackle/le_secure_connections.pcapng")[..92].to_vec();
    bytes.extend_from_slice(&[0x01, 0x00, 0x00, 0x80, 0x06, 0x00, 0x00, 0x00, 0, 0, 0, 0]);
    let frames: Vec<_> = CaptureReader::new(bytes.as_slice()).unwrap().collect();
    assert_eq!(frames.len(), 1);
    let error = frames[0].as_ref().unwrap_err();
    assert_eq!(error.offset, 92);
    assert!(
        error.message.contains("block length 6"),
        "{}",
        error.message
    );
}

#[test]
fn btsnoop_1001_without_packet_type_octet() {
    // Datalink 1001: the Bumble 1002 log with each H4 type octet removed and moved
    // into the flags (bit 1 set for commands and events, bit 0 the direction).
    let mut snoop = common::Btsnoop::parse(&data("bumble/bumble_lesc_passkey_654321_ok.btsnoop"));
    snoop.header[12..16].copy_from_slice(&1001u32.to_be_bytes());
    for record in &mut snoop.records {
        let indicator = record.data.remove(0);
        if indicator == 1 || indicator == 4 {
            record.flags |= 2;
        }
    }
    let report = analyse_bytes(&snoop.to_bytes(), &Options::default());
    assert_eq!(report.link_types, vec![1001]);
    assert_eq!(
        report.connections[0].pairings[0].passkey.as_deref(),
        Some("654321")
    );
}

#[test]
fn linux_monitor_in_pcap_reads_like_btmon_btsnoop() {
    // LINKTYPE 254: btmon's btsnoop records with the index and opcode of the record
    // flags moved into the 4-octet pseudo-header (big-endian), in a pcap file.
    let snoop = common::Btsnoop::parse(&data("btsnoop-rs/btsnoop_btmon.log"));
    let mut pcap = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 254] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    pcap[4..8].copy_from_slice(&[2, 0, 4, 0]);
    for record in &snoop.records {
        let mut data = ((record.flags >> 16) as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&(record.flags as u16).to_be_bytes());
        data.extend_from_slice(&record.data);
        for v in [0u32, 0, data.len() as u32, data.len() as u32] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend_from_slice(&data);
    }
    let btmon = data("btsnoop-rs/btsnoop_btmon.log");
    let kinds = |bytes: &[u8]| -> Vec<String> {
        frames(bytes)
            .iter()
            .map(|f| match decode_frame(f).unwrap() {
                Packet::Hci(hci) => {
                    format!("{:?} {:?} {}", hci.kind, hci.direction, hci.data.len())
                }
                Packet::Radio(_) => "radio".into(),
                Packet::Ignored => "ignored".into(),
            })
            .collect()
    };
    let expected = kinds(&btmon);
    // tshark counts 56 event and 55 command records (hci_mon.opcode 3 and 2).
    assert_eq!(
        expected.iter().filter(|k| k.starts_with("Event")).count(),
        56
    );
    assert_eq!(
        expected.iter().filter(|k| k.starts_with("Command")).count(),
        55
    );
    assert_eq!(kinds(&pcap), expected);
}

#[test]
fn endless_input_is_refused_after_its_first_octets() {
    use std::io::Read;
    // /dev/zero and /dev/urandom never end: the magic number refuses them.
    for fill in [0x00, 0x5a] {
        let error = CaptureReader::new(std::io::repeat(fill))
            .err()
            .expect("refused");
        assert!(error.offset <= 4, "{error}");
    }
    // A real pcap header followed by endless 0xff: the first record announces
    // 4294967295 octets and is refused without reading (or allocating) them.
    let header = data("crackle/numeric_pin.pcap")[..24].to_vec();
    let mut reader = CaptureReader::new(header.as_slice().chain(std::io::repeat(0xff))).unwrap();
    let error = reader.next().expect("an item").expect_err("refused");
    assert_eq!(error.offset, 24);
    assert!(
        error.message.contains("4294967295 octets"),
        "{}",
        error.message
    );
    assert_eq!(
        reader.bytes_read(),
        24 + 16,
        "only the record header was read"
    );
    assert!(reader.next().is_none());
}
