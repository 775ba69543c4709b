//! pcap and pcapng through pcap-parser, one record at a time, with the file offset
//! of every record kept for error messages.

use pcap_parser::nom;
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};
use pcap_parser::{
    PcapError, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};

use super::{Frame, LinkType, ReadError, to_nanoseconds};

type ParseResult<'a, T> = Result<(&'a [u8], T), nom::Err<PcapError<&'a [u8]>>>;

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

/// Classic libpcap files, either byte order, micro- or nanosecond timestamps.
pub struct PcapReader<'a> {
    file: &'a [u8],
    rest: &'a [u8],
    link_type: LinkType,
    big_endian: bool,
    modified: bool,
    units_per_second: i128,
    number: u64,
    failed: bool,
}

impl<'a> PcapReader<'a> {
    pub fn new(file: &'a [u8]) -> Result<Self, ReadError> {
        let (rest, header) = parse_pcap_header(file).map_err(|e| ReadError {
            offset: 0,
            message: describe(&e, "not a pcap, pcapng or btsnoop file; pcap header"),
        })?;
        Ok(PcapReader {
            file,
            rest,
            link_type: LinkType::from_pcap(header.network.0),
            big_endian: header.is_bigendian(),
            modified: header.is_modified_format(),
            units_per_second: if header.is_nanosecond_precision() {
                1_000_000_000
            } else {
                1_000_000
            },
            number: 0,
            failed: false,
        })
    }

    pub fn bytes_read(&self) -> u64 {
        (self.file.len() - self.rest.len()) as u64
    }
}

impl<'a> Iterator for PcapReader<'a> {
    type Item = Result<Frame<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let offset = self.bytes_read();
        let parsed: ParseResult<'a, _> = if self.modified {
            parse_pcap_frame_modified(self.rest)
        } else if self.big_endian {
            parse_pcap_frame_be(self.rest)
        } else {
            parse_pcap_frame(self.rest)
        };
        match parsed {
            Ok((rest, block)) => {
                self.rest = rest;
                self.number += 1;
                Some(Ok(Frame {
                    number: self.number,
                    offset,
                    timestamp_ns: to_nanoseconds(
                        block.ts_sec.into(),
                        block.ts_usec.into(),
                        self.units_per_second,
                    ),
                    link_type: self.link_type,
                    interface: 0,
                    flags: 0,
                    data: block.data,
                }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(ReadError {
                    offset,
                    message: describe(&e, &format!("record {}", self.number + 1)),
                }))
            }
        }
    }
}

struct Interface {
    link_type: LinkType,
    units_per_second: i128,
    offset_seconds: i128,
}

/// pcapng: several sections and interfaces, either byte order, any timestamp
/// resolution; blocks other than packets and interface descriptions are skipped.
pub struct PcapngReader<'a> {
    file: &'a [u8],
    rest: &'a [u8],
    big_endian: bool,
    interfaces: Vec<Interface>,
    number: u64,
    failed: bool,
}

impl<'a> PcapngReader<'a> {
    pub fn new(file: &'a [u8]) -> Result<Self, ReadError> {
        let (rest, section) = parse_sectionheaderblock(file).map_err(|e| ReadError {
            offset: 0,
            message: describe(&e, "pcapng section header"),
        })?;
        Ok(PcapngReader {
            file,
            rest,
            big_endian: section.big_endian(),
            interfaces: Vec::new(),
            number: 0,
            failed: false,
        })
    }

    pub fn bytes_read(&self) -> u64 {
        (self.file.len() - self.rest.len()) as u64
    }

    fn fail(&mut self, offset: u64, message: String) -> Option<Result<Frame<'a>, ReadError>> {
        self.failed = true;
        Some(Err(ReadError { offset, message }))
    }
}

impl<'a> Iterator for PcapngReader<'a> {
    type Item = Result<Frame<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() && !self.failed {
            let offset = self.bytes_read();
            if let Err(message) = check_block_length(self.rest, self.big_endian) {
                return self.fail(offset, message);
            }
            let parsed = if self.big_endian {
                parse_block_be(self.rest)
            } else {
                parse_block_le(self.rest)
            };
            let (rest, block) = match parsed {
                Ok(ok) => ok,
                Err(e) => return self.fail(offset, describe(&e, "pcapng block")),
            };
            self.rest = rest;
            let (if_id, ts, data) = match block {
                Block::SectionHeader(section) => {
                    self.big_endian = section.big_endian();
                    self.interfaces.clear();
                    continue;
                }
                Block::InterfaceDescription(idb) => {
                    let units_per_second = match idb.ts_resolution() {
                        Some(units) => i128::from(units),
                        None => {
                            return self.fail(
                                offset,
                                format!(
                                    "interface timestamp resolution {:#04x} is invalid",
                                    idb.if_tsresol
                                ),
                            );
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
                return self.fail(
                    offset,
                    format!(
                        "packet refers to interface {if_id}, which no interface block described"
                    ),
                );
            };
            let timestamp_ns = ts.map_or(0, |ts| {
                let ts = i128::from(ts);
                let units = interface.units_per_second;
                to_nanoseconds(interface.offset_seconds + ts / units, ts % units, units)
            });
            self.number += 1;
            return Some(Ok(Frame {
                number: self.number,
                offset,
                timestamp_ns,
                link_type: interface.link_type,
                interface: if_id,
                flags: 0,
                data,
            }));
        }
        None
    }
}

const SECTION_HEADER_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The generic block frame: a total length of at least 12 octets, a multiple of
/// 4, inside the file and repeated at the end. Checked here because pcap-parser
/// trusts it in some block parsers (a length under 12 overflows there).
fn check_block_length(rest: &[u8], big_endian: bool) -> Result<(), String> {
    let word = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = rest.get(at..at + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    };
    if rest.get(..4) == Some(&SECTION_HEADER_TYPE[..]) {
        // Its byte order is its own; pcap-parser checks it.
        return Ok(());
    }
    let Some(length) = word(4) else {
        return Err("pcapng block header is truncated (the file ends inside it)".into());
    };
    if length < 12 || length % 4 != 0 {
        return Err(format!("pcapng block length {length} is invalid"));
    }
    match word(length as usize - 4) {
        None => Err(format!(
            "pcapng block of {length} octets is truncated (the file ends inside it)"
        )),
        Some(trailer) if trailer != length => Err(format!(
            "pcapng block length {length} does not match its trailing copy {trailer}"
        )),
        Some(_) => Ok(()),
    }
}

/// Packet bytes without the block's 32-bit padding (the length field may lie; the
/// block's own size bounds it).
fn truncate(data: &[u8], length: u32) -> &[u8] {
    &data[..data.len().min(length as usize)]
}
