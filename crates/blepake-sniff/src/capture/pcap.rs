//! pcap and pcapng: the records are framed here, one at a time from the stream,
//! and each is parsed by pcap-parser, with the file offset of every record kept
//! for error messages.

use std::io::Read;

use pcap_parser::nom;
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};
use pcap_parser::{
    PcapError, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};

use super::{Frame, Input, LinkType, MAX_RECORD_LEN, ReadError, to_nanoseconds};

fn describe(err: &nom::Err<PcapError<&[u8]>>, what: &str) -> String {
    match err {
        nom::Err::Incomplete(_) => format!("{what} is truncated (the file ends inside it)"),
        nom::Err::Error(e) | nom::Err::Failure(e) => match e {
            PcapError::HeaderNotRecognized => format!("{what}: magic number not recognised"),
            PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                format!("{what} is malformed ({kind:?})")
            }
            other => format!("{what} is malformed ({other:?})"),
        },
    }
}

const PCAP_HEADER_LEN: usize = 24;

/// Classic libpcap files, either byte order, micro- or nanosecond timestamps.
pub struct PcapReader {
    link_type: LinkType,
    big_endian: bool,
    modified: bool,
    units_per_second: i128,
    record: Vec<u8>,
}

impl PcapReader {
    pub(super) fn new<R: Read>(input: &mut Input<R>, magic: [u8; 4]) -> Result<Self, ReadError> {
        let mut header = [0u8; PCAP_HEADER_LEN];
        header[..4].copy_from_slice(&magic);
        let got = 4 + input.fill(&mut header[4..]).map_err(|e| e.at(4))?;
        let (_, parsed) = parse_pcap_header(&header[..got]).map_err(|e| ReadError {
            offset: 0,
            message: describe(&e, "not a pcap, pcapng or btsnoop file; pcap header"),
        })?;
        Ok(PcapReader {
            link_type: LinkType::from_pcap(parsed.network.0),
            big_endian: parsed.is_bigendian(),
            modified: parsed.is_modified_format(),
            units_per_second: if parsed.is_nanosecond_precision() {
                1_000_000_000
            } else {
                1_000_000
            },
            record: Vec::new(),
        })
    }

    pub(super) fn next<R: Read>(
        &mut self,
        input: &mut Input<R>,
        number: u64,
    ) -> Result<Option<Frame>, ReadError> {
        let offset = input.offset;
        let what = format!("record {number}");
        let fail = |message: String| ReadError { offset, message };
        // ts_sec, ts_usec, caplen, origlen; the modified format adds 8 octets.
        let header_len = if self.modified { 24 } else { 16 };
        let mut header = [0u8; 24];
        match input
            .fill(&mut header[..header_len])
            .map_err(|e| e.at(offset))?
        {
            0 => return Ok(None),
            n if n < header_len => {
                return Err(fail(format!(
                    "{what} is truncated (the file ends inside it)"
                )));
            }
            _ => {}
        }
        let caplen_octets = [header[8], header[9], header[10], header[11]];
        let caplen = if self.big_endian {
            u32::from_be_bytes(caplen_octets)
        } else {
            u32::from_le_bytes(caplen_octets)
        } as usize;
        if caplen > MAX_RECORD_LEN {
            return Err(fail(format!(
                "{what} announces {caplen} octets, more than any capture record"
            )));
        }
        self.record.clear();
        self.record.extend_from_slice(&header[..header_len]);
        if input
            .append(caplen, &mut self.record)
            .map_err(|e| e.at(offset))?
            < caplen
        {
            return Err(fail(format!(
                "{what} is truncated (the file ends inside it)"
            )));
        }
        let parsed = if self.modified {
            parse_pcap_frame_modified(&self.record)
        } else if self.big_endian {
            parse_pcap_frame_be(&self.record)
        } else {
            parse_pcap_frame(&self.record)
        };
        let block = parsed.map_err(|e| fail(describe(&e, &what)))?.1;
        Ok(Some(Frame {
            number,
            offset,
            timestamp_ns: to_nanoseconds(
                block.ts_sec.into(),
                block.ts_usec.into(),
                self.units_per_second,
            ),
            link_type: self.link_type,
            interface: 0,
            flags: 0,
            data: block.data.to_vec(),
        }))
    }
}

struct Interface {
    link_type: LinkType,
    units_per_second: i128,
    offset_seconds: i128,
}

const SECTION_HEADER_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC_LE: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];

/// pcapng: several sections and interfaces, either byte order, any timestamp
/// resolution; blocks other than packets and interface descriptions are skipped.
pub struct PcapngReader {
    big_endian: bool,
    interfaces: Vec<Interface>,
    block: Vec<u8>,
}

impl PcapngReader {
    pub(super) fn new<R: Read>(input: &mut Input<R>, magic: [u8; 4]) -> Result<Self, ReadError> {
        let mut reader = PcapngReader {
            big_endian: false,
            interfaces: Vec::new(),
            block: magic.to_vec(),
        };
        reader.read_block(input, 0)?;
        let (_, section) = parse_sectionheaderblock(&reader.block).map_err(|e| ReadError {
            offset: 0,
            message: describe(&e, "pcapng section header"),
        })?;
        reader.big_endian = section.big_endian();
        Ok(reader)
    }

    /// Reads the rest of the block whose first octets are in `self.block`. The
    /// generic block frame is checked first: a total length of at least 12
    /// octets, a multiple of 4, repeated at the end (pcap-parser trusts it in
    /// some block parsers, and a length under 12 overflows there).
    fn read_block<R: Read>(&mut self, input: &mut Input<R>, offset: u64) -> Result<(), ReadError> {
        let fail = |message: String| ReadError { offset, message };
        let truncated =
            || fail("pcapng block header is truncated (the file ends inside it)".into());
        let header_len = if self.block[..4] == SECTION_HEADER_TYPE {
            12 // A section carries its own byte order after the length.
        } else {
            8
        };
        let have = self.block.len();
        if input
            .append(header_len - have, &mut self.block)
            .map_err(|e| e.at(offset))?
            < header_len - have
        {
            return Err(truncated());
        }
        if header_len == 12 {
            self.big_endian = self.block[8..12] != BYTE_ORDER_MAGIC_LE;
        }
        let word = |bytes: &[u8]| {
            let bytes: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
            if self.big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            }
        };
        let length = word(&self.block[4..8]);
        if length < 12 || length % 4 != 0 || length as usize > MAX_RECORD_LEN {
            return Err(fail(format!("pcapng block length {length} is invalid")));
        }
        let rest = length as usize - header_len;
        if input
            .append(rest, &mut self.block)
            .map_err(|e| e.at(offset))?
            < rest
        {
            return Err(fail(format!(
                "pcapng block of {length} octets is truncated (the file ends inside it)"
            )));
        }
        let trailer = word(&self.block[length as usize - 4..]);
        if trailer != length {
            return Err(fail(format!(
                "pcapng block length {length} does not match its trailing copy {trailer}"
            )));
        }
        Ok(())
    }

    pub(super) fn next<R: Read>(
        &mut self,
        input: &mut Input<R>,
        number: u64,
    ) -> Result<Option<Frame>, ReadError> {
        loop {
            let offset = input.offset;
            let fail = |message: String| ReadError { offset, message };
            self.block.clear();
            let mut kind = [0u8; 4];
            match input.fill(&mut kind).map_err(|e| e.at(offset))? {
                0 => return Ok(None),
                4 => {}
                _ => {
                    return Err(fail(
                        "pcapng block header is truncated (the file ends inside it)".into(),
                    ));
                }
            }
            self.block.extend_from_slice(&kind);
            self.read_block(input, offset)?;
            let parsed = if self.big_endian {
                parse_block_be(&self.block)
            } else {
                parse_block_le(&self.block)
            };
            let block = parsed.map_err(|e| fail(describe(&e, "pcapng block")))?.1;
            let (if_id, ts, data) = match block {
                Block::SectionHeader(_) => {
                    self.interfaces.clear();
                    continue;
                }
                Block::InterfaceDescription(idb) => {
                    let units_per_second = match idb.ts_resolution() {
                        Some(units) => i128::from(units),
                        None => {
                            return Err(fail(format!(
                                "interface timestamp resolution {:#04x} is invalid",
                                idb.if_tsresol
                            )));
                        }
                    };
                    self.interfaces.push(Interface {
                        link_type: LinkType::from_pcap(idb.linktype.0),
                        units_per_second,
                        offset_seconds: idb.if_tsoffset.into(),
                    });
                    continue;
                }
                Block::EnhancedPacket(epb) => {
                    let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    (epb.if_id, Some(ts), truncate(epb.data, epb.caplen))
                }
                Block::SimplePacket(spb) => (0, None, truncate(spb.data, spb.origlen)),
                _ => continue,
            };
            let Some(interface) = self.interfaces.get(if_id as usize) else {
                return Err(fail(format!(
                    "packet refers to interface {if_id}, which no interface block described"
                )));
            };
            let timestamp_ns = ts.map_or(0, |ts| {
                let ts = i128::from(ts);
                let units = interface.units_per_second;
                to_nanoseconds(interface.offset_seconds + ts / units, ts % units, units)
            });
            return Ok(Some(Frame {
                number,
                offset,
                timestamp_ns,
                link_type: interface.link_type,
                interface: if_id,
                flags: 0,
                data: data.to_vec(),
            }));
        }
    }
}

/// Packet bytes without the block's 32-bit padding (the length field may lie; the
/// block's own size bounds it).
fn truncate(data: &[u8], length: u32) -> &[u8] {
    &data[..data.len().min(length as usize)]
}
