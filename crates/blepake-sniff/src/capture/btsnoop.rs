//! btsnoop (RFC 1761 style, as written by Android, BlueZ's btmon and Bumble):
//! a 16-octet header and big-endian records. No crate reads it well, so it is ours.

use std::io::Read;

use super::{Frame, Input, LinkType, MAX_RECORD_LEN, ReadError};

const HEADER_LEN: usize = 16;
const RECORD_HEADER_LEN: usize = 24;
/// btsnoop timestamps count microseconds from midnight, 1 January of year 0.
const EPOCH_DELTA_US: i64 = 0x00dc_ddb3_0f2f_8000;

pub struct BtsnoopReader {
    link_type: LinkType,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl BtsnoopReader {
    pub(super) fn new<R: Read>(input: &mut Input<R>, magic: [u8; 4]) -> Result<Self, ReadError> {
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&magic);
        if input.fill(&mut header[4..]).map_err(|e| e.at(4))? != HEADER_LEN - 4 {
            return Err(ReadError {
                offset: 0,
                message: "btsnoop header is truncated".into(),
            });
        }
        if &header[..8] != b"btsnoop\0" {
            return Err(ReadError {
                offset: 0,
                message: "btsnoop identification pattern not found".into(),
            });
        }
        let version = be32(&header, 8);
        if version != 1 {
            return Err(ReadError {
                offset: 8,
                message: format!("btsnoop version {version} is not supported (only 1)"),
            });
        }
        let link_type = match be32(&header, 12) {
            1001 => LinkType::BtsnoopHci,
            1002 => LinkType::BtsnoopH4,
            2001 => LinkType::BtsnoopMonitor,
            other => LinkType::Other(other),
        };
        Ok(BtsnoopReader { link_type })
    }

    pub(super) fn next<R: Read>(
        &mut self,
        input: &mut Input<R>,
        record: u64,
    ) -> Result<Option<Frame>, ReadError> {
        let offset = input.offset;
        let fail = |message: String| ReadError { offset, message };
        let mut header = [0u8; RECORD_HEADER_LEN];
        match input.fill(&mut header).map_err(|e| e.at(offset))? {
            0 => return Ok(None),
            RECORD_HEADER_LEN => {}
            _ => {
                return Err(fail(format!(
                    "record {record} header is truncated (the file ends inside it)"
                )));
            }
        }
        let included = be32(&header, 4) as usize;
        if included > MAX_RECORD_LEN {
            return Err(fail(format!(
                "record {record} announces {included} octets, more than any capture record"
            )));
        }
        let mut data = Vec::new();
        let got = input
            .append(included, &mut data)
            .map_err(|e| e.at(offset))?;
        if got < included {
            return Err(fail(format!(
                "record {record} announces {included} octets but only {got} remain"
            )));
        }
        let timestamp_us = i64::from_be_bytes(header[16..24].try_into().unwrap_or_default());
        Ok(Some(Frame {
            number: record,
            offset,
            timestamp_ns: timestamp_us
                .saturating_sub(EPOCH_DELTA_US)
                .saturating_mul(1000),
            link_type: self.link_type,
            interface: 0,
            flags: be32(&header, 8),
            data,
        }))
    }
}
