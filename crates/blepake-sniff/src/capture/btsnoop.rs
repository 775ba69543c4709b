//! btsnoop (RFC 1761 style, as written by Android, BlueZ's btmon and Bumble):
//! a 16-octet header and big-endian records. No crate reads it well, so it is ours.

use super::{Frame, LinkType, ReadError};

const HEADER_LEN: usize = 16;
const RECORD_HEADER_LEN: usize = 24;
/// btsnoop timestamps count microseconds from midnight, 1 January of year 0.
const EPOCH_DELTA_US: i64 = 0x00dc_ddb3_0f2f_8000;

pub struct BtsnoopReader<'a> {
    file: &'a [u8],
    pos: usize,
    link_type: LinkType,
    number: u64,
    failed: bool,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl<'a> BtsnoopReader<'a> {
    pub fn new(file: &'a [u8]) -> Result<Self, ReadError> {
        let header = file.get(..HEADER_LEN).ok_or_else(|| ReadError {
            offset: 0,
            message: "btsnoop header is truncated".into(),
        })?;
        if &header[..8] != b"btsnoop\0" {
            return Err(ReadError {
                offset: 0,
                message: "btsnoop identification pattern not found".into(),
            });
        }
        let version = be32(header, 8);
        if version != 1 {
            return Err(ReadError {
                offset: 8,
                message: format!("btsnoop version {version} is not supported (only 1)"),
            });
        }
        let link_type = match be32(header, 12) {
            1001 => LinkType::BtsnoopHci,
            1002 => LinkType::BtsnoopH4,
            2001 => LinkType::BtsnoopMonitor,
            other => LinkType::Other(other),
        };
        Ok(BtsnoopReader {
            file,
            pos: HEADER_LEN,
            link_type,
            number: 0,
            failed: false,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    pub fn bytes_read(&self) -> u64 {
        self.pos as u64
    }
}

impl<'a> Iterator for BtsnoopReader<'a> {
    type Item = Result<Frame<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.file.len() {
            return None;
        }
        let offset = self.pos as u64;
        let mut fail = |message: String| {
            self.failed = true;
            Some(Err(ReadError { offset, message }))
        };
        let Some(header) = self.file.get(self.pos..self.pos + RECORD_HEADER_LEN) else {
            return fail(format!(
                "record {} header is truncated (the file ends inside it)",
                self.number + 1
            ));
        };
        let included = be32(header, 4) as usize;
        let flags = be32(header, 8);
        let timestamp_us = i64::from_be_bytes(header[16..24].try_into().unwrap_or_default());
        let start = self.pos + RECORD_HEADER_LEN;
        let Some(data) = start
            .checked_add(included)
            .and_then(|end| self.file.get(start..end))
        else {
            return fail(format!(
                "record {} announces {included} octets but only {} remain",
                self.number + 1,
                self.file.len() - start
            ));
        };
        self.pos = start + included;
        self.number += 1;
        Some(Ok(Frame {
            number: self.number,
            offset,
            timestamp_ns: timestamp_us
                .saturating_sub(EPOCH_DELTA_US)
                .saturating_mul(1000),
            link_type: self.link_type,
            interface: 0,
            flags,
            data,
        }))
    }
}
