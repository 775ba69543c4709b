//! Capture containers: pcap, pcapng and btsnoop, read as a stream. A reader yields
//! [`Frame`]s one record at a time; it stops at the first structural fault with a
//! [`ReadError`] that names the byte offset, and everything before it stays usable.

mod btsnoop;
mod pcap;

use std::fmt;
use std::io::Read;

use serde::Serialize;

use btsnoop::BtsnoopReader;
use pcap::{PcapReader, PcapngReader};

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

/// One captured packet. It owns its bytes, so that a capture can be read as a
/// stream, one record at a time, however large the file.
#[derive(Debug, Clone)]
pub struct Frame {
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
    pub data: Vec<u8>,
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

/// A reader over any of the three formats, chosen by the file's magic number. It
/// reads one record at a time from any [`Read`], so memory stays bounded by the
/// largest record ([`MAX_RECORD_LEN`]), and a file that is not a capture is
/// refused after its first octets.
pub struct CaptureReader<R> {
    input: Input<R>,
    format: FormatReader,
    number: u64,
    failed: bool,
}

enum FormatReader {
    Pcap(PcapReader),
    Pcapng(PcapngReader),
    Btsnoop(BtsnoopReader),
}

/// No BLE or HCI record comes near this (an HCI ACL packet is at most 64 KiB);
/// a larger length is a corrupt file, not a reason to allocate.
pub const MAX_RECORD_LEN: usize = 16 << 20;

impl<R: Read> CaptureReader<R> {
    pub fn new(input: R) -> Result<Self, ReadError> {
        let mut input = Input::new(input);
        let mut magic = [0u8; 4];
        if input.fill(&mut magic).map_err(|e| e.at(0))? != magic.len() {
            return Err(ReadError {
                offset: 0,
                message: "file too short to be a capture".into(),
            });
        }
        let format = match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => FormatReader::Pcapng(PcapngReader::new(&mut input, magic)?),
            [b'b', b't', b's', b'n'] => {
                FormatReader::Btsnoop(BtsnoopReader::new(&mut input, magic)?)
            }
            _ => FormatReader::Pcap(PcapReader::new(&mut input, magic)?),
        };
        Ok(CaptureReader {
            input,
            format,
            number: 0,
            failed: false,
        })
    }

    pub fn format(&self) -> Format {
        match self.format {
            FormatReader::Pcap(_) => Format::Pcap,
            FormatReader::Pcapng(_) => Format::Pcapng,
            FormatReader::Btsnoop(_) => Format::Btsnoop,
        }
    }

    /// Bytes consumed so far, for progress reporting.
    pub fn bytes_read(&self) -> u64 {
        self.input.offset
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<Frame, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let record = self.number + 1;
        let read = match &mut self.format {
            FormatReader::Pcap(r) => r.next(&mut self.input, record),
            FormatReader::Pcapng(r) => r.next(&mut self.input, record),
            FormatReader::Btsnoop(r) => r.next(&mut self.input, record),
        };
        match read {
            Ok(Some(mut frame)) => {
                self.number = record;
                frame.number = record;
                Some(Ok(frame))
            }
            Ok(None) => None,
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

/// The file, with the offset of the next octet to be read.
struct Input<R> {
    inner: R,
    offset: u64,
}

/// An I/O error other than the end of the file.
struct IoFault(std::io::Error);

impl IoFault {
    fn at(self, offset: u64) -> ReadError {
        ReadError {
            offset,
            message: format!("the file could not be read: {}", self.0),
        }
    }
}

impl<R: Read> Input<R> {
    fn new(inner: R) -> Self {
        Input { inner, offset: 0 }
    }

    /// Fills `buf` as far as the file allows; returns how many octets were read
    /// (fewer than asked only at the end of the file).
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, IoFault> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(IoFault(e)),
            }
        }
        self.offset += done as u64;
        Ok(done)
    }

    /// Appends up to `len` octets to `out`; memory grows only with what the file holds.
    fn append(&mut self, len: usize, out: &mut Vec<u8>) -> Result<usize, IoFault> {
        let before = out.len();
        (&mut self.inner)
            .take(len as u64)
            .read_to_end(out)
            .map_err(IoFault)?;
        let done = out.len() - before;
        self.offset += done as u64;
        Ok(done)
    }
}

/// Seconds and a fraction in `units_per_second` to nanoseconds, saturating
/// rather than overflowing on absurd values from a corrupt file.
fn to_nanoseconds(seconds: i128, fraction: i128, units_per_second: i128) -> i64 {
    let ns = seconds * 1_000_000_000 + fraction * 1_000_000_000 / units_per_second.max(1);
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}
