//! Helpers shared by the integration tests: loading the real captures under
//! tests/data, and editing their records in memory for the tests that need a
//! capture showing a fault.
#![allow(dead_code)] // each test binary uses its own subset

use blepake_sniff::analysis::findings::Finding;
use blepake_sniff::codec::frame::crc24;
use blepake_sniff::{Options, Report, analyse};

pub fn data(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn analyse_bytes(bytes: &[u8], options: &Options) -> Report {
    analyse(bytes, options, &mut |_| {}).expect("a capture")
}

/// Analysis with the TK brute force on, as `blepake sniff` runs it.
pub fn analyse_file(path: &str) -> Report {
    analyse_bytes(
        &data(path),
        &Options {
            ltks: Vec::new(),
            brute_force: true,
            tks: Vec::new(),
        },
    )
}

pub fn findings<'r>(report: &'r Report, code: &str) -> Vec<&'r Finding> {
    report.findings.iter().filter(|f| f.code == code).collect()
}

pub fn hex<const N: usize>(text: &str) -> [u8; N] {
    blepake_sniff::bytes::parse_hex(text).expect("hex")
}

/// A classic little-endian microsecond pcap file, record by record.
pub struct Pcap {
    pub header: Vec<u8>,
    pub records: Vec<Record>,
}

pub struct Record {
    pub ts_sec: u32,
    pub ts_usec: u32,
    pub data: Vec<u8>,
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

impl Pcap {
    pub fn parse(bytes: &[u8]) -> Pcap {
        assert_eq!(
            le32(bytes, 0),
            0xa1b2_c3d4,
            "little-endian microsecond pcap expected"
        );
        let mut records = Vec::new();
        let mut at = 24;
        while at < bytes.len() {
            let caplen = le32(bytes, at + 8) as usize;
            records.push(Record {
                ts_sec: le32(bytes, at),
                ts_usec: le32(bytes, at + 4),
                data: bytes[at + 16..at + 16 + caplen].to_vec(),
            });
            at += 16 + caplen;
        }
        Pcap {
            header: bytes[..24].to_vec(),
            records,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        for r in &self.records {
            let len = r.data.len() as u32;
            for field in [r.ts_sec, r.ts_usec, len, len] {
                out.extend_from_slice(&field.to_le_bytes());
            }
            out.extend_from_slice(&r.data);
        }
        out
    }

    /// Record of 1-based packet number `n`, as the report numbers packets.
    pub fn packet(&mut self, n: usize) -> &mut Record {
        &mut self.records[n - 1]
    }
}

/// Offset of the LE packet (access address onwards) inside an Ubertooth PPI record.
fn ppi_header_len(record: &Record) -> usize {
    usize::from(u16::from_le_bytes([record.data[2], record.data[3]]))
}

impl Record {
    /// The LL PDU (header and payload) of an Ubertooth PPI record.
    pub fn ppi_pdu(&self) -> &[u8] {
        let start = ppi_header_len(self) + 4;
        &self.data[start..self.data.len() - 3]
    }

    /// Replaces the LL PDU of an Ubertooth PPI record, with a CRC computed
    /// from `crc_init` so that the edited packet is received as valid.
    pub fn set_ppi_pdu(&mut self, pdu: &[u8], crc_init: u32) {
        let start = ppi_header_len(self) + 4;
        self.data.truncate(start);
        self.data.extend_from_slice(pdu);
        self.data.extend_from_slice(&crc24(crc_init, pdu));
    }

    /// Moves the Ubertooth 100 ns clock of a PPI record (the time the analysis uses).
    pub fn shift_ppi_clock(&mut self, seconds: u32) {
        let at = 8 + 4 + 4; // PPI header, field header, version+channel+clkn_high
        let clock = le32(&self.data, at).wrapping_add(seconds * 10_000_000);
        self.data[at..at + 4].copy_from_slice(&clock.to_le_bytes());
    }
}

/// A btsnoop file, record by record.
pub struct Btsnoop {
    pub header: Vec<u8>,
    pub records: Vec<SnoopRecord>,
}

pub struct SnoopRecord {
    pub flags: u32,
    pub timestamp_us: i64,
    pub data: Vec<u8>,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

impl Btsnoop {
    pub fn parse(bytes: &[u8]) -> Btsnoop {
        let mut records = Vec::new();
        let mut at = 16;
        while at < bytes.len() {
            let included = be32(bytes, at + 4) as usize;
            records.push(SnoopRecord {
                flags: be32(bytes, at + 8),
                timestamp_us: i64::from_be_bytes(bytes[at + 16..at + 24].try_into().unwrap()),
                data: bytes[at + 24..at + 24 + included].to_vec(),
            });
            at += 24 + included;
        }
        Btsnoop {
            header: bytes[..16].to_vec(),
            records,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        for r in &self.records {
            let len = r.data.len() as u32;
            for field in [len, len, r.flags, 0] {
                out.extend_from_slice(&field.to_be_bytes());
            }
            out.extend_from_slice(&r.timestamp_us.to_be_bytes());
            out.extend_from_slice(&r.data);
        }
        out
    }

    pub fn packet(&mut self, n: usize) -> &mut SnoopRecord {
        &mut self.records[n - 1]
    }
}

/// A little-endian pcapng file, block by block; packets are Enhanced Packet Blocks.
pub struct Pcapng {
    pub blocks: Vec<NgBlock>,
}

pub enum NgBlock {
    Packet(NgPacket),
    Other { kind: u32, body: Vec<u8> },
}

pub struct NgPacket {
    pub interface: u32,
    pub timestamp: u64,
    pub data: Vec<u8>,
}

impl Pcapng {
    pub fn parse(bytes: &[u8]) -> Pcapng {
        let mut blocks = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let kind = le32(bytes, at);
            let len = le32(bytes, at + 4) as usize;
            let body = &bytes[at + 8..at + len - 4];
            blocks.push(if kind == 6 {
                let caplen = le32(body, 12) as usize;
                NgBlock::Packet(NgPacket {
                    interface: le32(body, 0),
                    timestamp: (u64::from(le32(body, 4)) << 32) | u64::from(le32(body, 8)),
                    data: body[20..20 + caplen].to_vec(),
                })
            } else {
                NgBlock::Other {
                    kind,
                    body: body.to_vec(),
                }
            });
            at += len;
        }
        Pcapng { blocks }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for block in &self.blocks {
            let (kind, body) = match block {
                NgBlock::Other { kind, body } => (*kind, body.clone()),
                NgBlock::Packet(p) => {
                    let mut body = Vec::new();
                    let len = p.data.len() as u32;
                    for v in [
                        p.interface,
                        (p.timestamp >> 32) as u32,
                        p.timestamp as u32,
                        len,
                        len,
                    ] {
                        body.extend_from_slice(&v.to_le_bytes());
                    }
                    body.extend_from_slice(&p.data);
                    body.resize(body.len().div_ceil(4) * 4, 0);
                    (6, body)
                }
            };
            let total = (body.len() + 12) as u32;
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&total.to_le_bytes());
            out.extend_from_slice(&body);
            out.extend_from_slice(&total.to_le_bytes());
        }
        out
    }

    pub fn packets(&mut self) -> impl Iterator<Item = &mut NgPacket> {
        self.blocks.iter_mut().filter_map(|b| match b {
            NgBlock::Packet(p) => Some(p),
            NgBlock::Other { .. } => None,
        })
    }

    /// Packet of 1-based number `n`.
    pub fn packet(&mut self, n: usize) -> &mut NgPacket {
        self.packets().nth(n - 1).expect("packet number in range")
    }
}

/// LINKTYPE 256 (LE LL with radio header) records: the 10-octet header, then the
/// access address, the PDU and 3 CRC octets.
impl NgPacket {
    pub fn rf_flags(&self) -> u16 {
        u16::from_le_bytes([self.data[8], self.data[9]])
    }

    pub fn set_rf_flags(&mut self, flags: u16) {
        self.data[8..10].copy_from_slice(&flags.to_le_bytes());
    }

    pub fn is_advertising(&self) -> bool {
        self.data[10..14] == [0xd6, 0xbe, 0x89, 0x8e]
    }

    /// The PDU (header and payload), for packets on LE 1M or 2M.
    pub fn pdu(&self) -> &[u8] {
        &self.data[14..self.data.len() - 3]
    }

    /// Replaces the PDU and computes the CRC from `crc_init`.
    pub fn set_pdu(&mut self, pdu: &[u8], crc_init: u32) {
        self.data.truncate(14);
        self.data.extend_from_slice(pdu);
        self.data.extend_from_slice(&crc24(crc_init, pdu));
    }
}

pub fn hex_vec(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}
