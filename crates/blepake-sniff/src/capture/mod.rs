//! Capture containers: pcap, pcapng and btsnoop. A reader yields [`Frame`]s that
//! borrow the file's bytes; it stops at the first structural fault with a
//! [`ReadError`] that names the byte offset, and everything before it stays usable.

mod btsnoop;
mod pcap;

use std::fmt;

use serde::Serialize;

pub use btsnoop::BtsnoopReader;
pub use pcap::{PcapReader, PcapngReader};

/// How the payload of a frame is framed, from the pcap LINKTYPE registry or the
/// btsnoop datalink field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LinkType {
    /// 187: HCI packets with a one-octet H4 packet type.
    H4,
    /// 192: Per-Packet Information header, here wrapping Ubertooth's 147.
    Ppi,
    /// 201: H4 preceded by a 4-octet direction header.
    H4WithPhdr,
    /// 251: LE link-layer packet from the access address to the CRC.
    LeLl,
    /// 254: Linux Bluetooth monitor (btmon) with its 4-octet header.
    LinuxMonitor,
    /// 256: LE link-layer packet preceded by a 10-octet radio header.
    LeLlWithPhdr,
    /// 272: nRF Sniffer for Bluetooth LE.
    NordicBle,
    /// btsnoop 1001: HCI without a packet-type octet (the flags carry it).
    BtsnoopHci,
    /// btsnoop 1002: H4 (UART) HCI.
    BtsnoopH4,
    /// btsnoop 2001: Linux monitor, the opcode in the record flags.
    BtsnoopMonitor,
    /// Any other link type: frames are counted but not decoded.
    Other(u32),
}

impl LinkType {
    pub fn from_pcap(linktype: i32) -> LinkType {
        match linktype {
            187 => LinkType::H4,
            192 => LinkType::Ppi,
            201 => LinkType::H4WithPhdr,
            251 => LinkType::LeLl,
            254 => LinkType::LinuxMonitor,
            256 => LinkType::LeLlWithPhdr,
            272 => LinkType::NordicBle,
            other => LinkType::Other(other as u32),
        }
    }

    /// The number of the pcap LINKTYPE or btsnoop datalink.
    pub fn number(self) -> u32 {
        match self {
            LinkType::H4 => 187,
            LinkType::Ppi => 192,
            LinkType::H4WithPhdr => 201,
            LinkType::LeLl => 251,
            LinkType::LinuxMonitor => 254,
            LinkType::LeLlWithPhdr => 256,
            LinkType::NordicBle => 272,
            LinkType::BtsnoopHci => 1001,
            LinkType::BtsnoopH4 => 1002,
            LinkType::BtsnoopMonitor => 2001,
            LinkType::Other(n) => n,
        }
    }
}

/// One captured packet, borrowing its bytes from the file.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// 1-based position in the file, as Wireshark numbers packets.
    pub number: u64,
    /// Byte offset of the record in the file.
    pub offset: u64,
    /// Capture time in nanoseconds since the Unix epoch (0 where the format has none).
    pub timestamp_ns: i64,
    pub link_type: LinkType,
    /// pcapng interface, 0 elsewhere.
    pub interface: u32,
    /// btsnoop record flags (direction, packet kind, btmon opcode); 0 elsewhere.
    pub flags: u32,
    pub data: &'a [u8],
}

/// A structural fault in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadError {
    /// Byte offset in the file where the faulty header or record starts.
    pub offset: u64,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ReadError {}

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    Pcapng,
    Btsnoop,
}

/// A reader over any of the three formats, chosen by the file's magic number.
pub enum CaptureReader<'a> {
    Pcap(PcapReader<'a>),
    Pcapng(PcapngReader<'a>),
    Btsnoop(BtsnoopReader<'a>),
}

impl<'a> CaptureReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, ReadError> {
        let magic: [u8; 4] = match bytes.get(..4) {
            Some(m) => [m[0], m[1], m[2], m[3]],
            None => {
                return Err(ReadError {
                    offset: 0,
                    message: "file too short to be a capture".into(),
                });
            }
        };
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => PcapngReader::new(bytes).map(CaptureReader::Pcapng),
            [b'b', b't', b's', b'n'] => BtsnoopReader::new(bytes).map(CaptureReader::Btsnoop),
            _ => PcapReader::new(bytes).map(CaptureReader::Pcap),
        }
    }

    pub fn format(&self) -> Format {
        match self {
            CaptureReader::Pcap(_) => Format::Pcap,
            CaptureReader::Pcapng(_) => Format::Pcapng,
            CaptureReader::Btsnoop(_) => Format::Btsnoop,
        }
    }

    /// Bytes consumed so far, for progress reporting.
    pub fn bytes_read(&self) -> u64 {
        match self {
            CaptureReader::Pcap(r) => r.bytes_read(),
            CaptureReader::Pcapng(r) => r.bytes_read(),
            CaptureReader::Btsnoop(r) => r.bytes_read(),
        }
    }
}

impl<'a> Iterator for CaptureReader<'a> {
    type Item = Result<Frame<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            CaptureReader::Pcap(r) => r.next(),
            CaptureReader::Pcapng(r) => r.next(),
            CaptureReader::Btsnoop(r) => r.next(),
        }
    }
}

/// Seconds and a fraction in `units_per_second` to nanoseconds, saturating
/// rather than overflowing on absurd values from a corrupt file.
fn to_nanoseconds(seconds: i128, fraction: i128, units_per_second: i128) -> i64 {
    let ns = seconds * 1_000_000_000 + fraction * 1_000_000_000 / units_per_second.max(1);
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}
