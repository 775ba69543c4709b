//! Attribute Protocol PDUs (Core Vol 3 Part F §3.4).

use crate::bytes::{DecodeResult, Reader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttPdu<'a> {
    ErrorRsp {
        request_opcode: u8,
        handle: u16,
        error: u8,
    },
    ExchangeMtuReq {
        mtu: u16,
    },
    ExchangeMtuRsp {
        mtu: u16,
    },
    FindInformationReq {
        start: u16,
        end: u16,
    },
    FindByTypeValueReq {
        start: u16,
        end: u16,
        attribute_type: u16,
    },
    ReadByTypeReq {
        start: u16,
        end: u16,
        attribute_type: &'a [u8],
    },
    ReadReq {
        handle: u16,
    },
    ReadBlobReq {
        handle: u16,
        offset: u16,
    },
    ReadByGroupTypeReq {
        start: u16,
        end: u16,
        group_type: &'a [u8],
    },
    WriteReq {
        handle: u16,
        value: &'a [u8],
    },
    WriteCmd {
        handle: u16,
        value: &'a [u8],
    },
    SignedWriteCmd {
        handle: u16,
        value: &'a [u8],
    },
    PrepareWriteReq {
        handle: u16,
        offset: u16,
        value: &'a [u8],
    },
    ExecuteWriteReq {
        flags: u8,
    },
    Notification {
        handle: u16,
        value: &'a [u8],
    },
    Indication {
        handle: u16,
        value: &'a [u8],
    },
    /// Responses and requests whose parameters the analysis does not need.
    Other {
        opcode: u8,
        params: &'a [u8],
    },
}

/// Name of an ATT opcode.
pub fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        0x01 => "ATT_ERROR_RSP",
        0x02 => "ATT_EXCHANGE_MTU_REQ",
        0x03 => "ATT_EXCHANGE_MTU_RSP",
        0x04 => "ATT_FIND_INFORMATION_REQ",
        0x05 => "ATT_FIND_INFORMATION_RSP",
        0x06 => "ATT_FIND_BY_TYPE_VALUE_REQ",
        0x07 => "ATT_FIND_BY_TYPE_VALUE_RSP",
        0x08 => "ATT_READ_BY_TYPE_REQ",
        0x09 => "ATT_READ_BY_TYPE_RSP",
        0x0a => "ATT_READ_REQ",
        0x0b => "ATT_READ_RSP",
        0x0c => "ATT_READ_BLOB_REQ",
        0x0d => "ATT_READ_BLOB_RSP",
        0x0e => "ATT_READ_MULTIPLE_REQ",
        0x0f => "ATT_READ_MULTIPLE_RSP",
        0x10 => "ATT_READ_BY_GROUP_TYPE_REQ",
        0x11 => "ATT_READ_BY_GROUP_TYPE_RSP",
        0x12 => "ATT_WRITE_REQ",
        0x13 => "ATT_WRITE_RSP",
        0x16 => "ATT_PREPARE_WRITE_REQ",
        0x17 => "ATT_PREPARE_WRITE_RSP",
        0x18 => "ATT_EXECUTE_WRITE_REQ",
        0x19 => "ATT_EXECUTE_WRITE_RSP",
        0x1b => "ATT_HANDLE_VALUE_NTF",
        0x1d => "ATT_HANDLE_VALUE_IND",
        0x1e => "ATT_HANDLE_VALUE_CFM",
        0x20 => "ATT_READ_MULTIPLE_VARIABLE_REQ",
        0x21 => "ATT_READ_MULTIPLE_VARIABLE_RSP",
        0x23 => "ATT_MULTIPLE_HANDLE_VALUE_NTF",
        0x52 => "ATT_WRITE_CMD",
        0xd2 => "ATT_SIGNED_WRITE_CMD",
        _ => "ATT PDU",
    }
}

impl AttPdu<'_> {
    pub fn opcode(&self) -> u8 {
        match self {
            AttPdu::ErrorRsp { .. } => 0x01,
            AttPdu::ExchangeMtuReq { .. } => 0x02,
            AttPdu::ExchangeMtuRsp { .. } => 0x03,
            AttPdu::FindInformationReq { .. } => 0x04,
            AttPdu::FindByTypeValueReq { .. } => 0x06,
            AttPdu::ReadByTypeReq { .. } => 0x08,
            AttPdu::ReadReq { .. } => 0x0a,
            AttPdu::ReadBlobReq { .. } => 0x0c,
            AttPdu::ReadByGroupTypeReq { .. } => 0x10,
            AttPdu::WriteReq { .. } => 0x12,
            AttPdu::PrepareWriteReq { .. } => 0x16,
            AttPdu::ExecuteWriteReq { .. } => 0x18,
            AttPdu::Notification { .. } => 0x1b,
            AttPdu::Indication { .. } => 0x1d,
            AttPdu::WriteCmd { .. } => 0x52,
            AttPdu::SignedWriteCmd { .. } => 0xd2,
            AttPdu::Other { opcode, .. } => *opcode,
        }
    }

    pub fn name(&self) -> &'static str {
        opcode_name(self.opcode())
    }
}

pub fn decode_att(payload: &[u8]) -> DecodeResult<AttPdu<'_>> {
    let mut header = Reader::new("ATT opcode", payload);
    let opcode = header.u8()?;
    let r = &mut Reader::new(opcode_name(opcode), header.rest());
    Ok(match opcode {
        0x01 => AttPdu::ErrorRsp {
            request_opcode: r.u8()?,
            handle: r.u16()?,
            error: r.u8()?,
        },
        0x02 => AttPdu::ExchangeMtuReq { mtu: r.u16()? },
        0x03 => AttPdu::ExchangeMtuRsp { mtu: r.u16()? },
        0x04 => AttPdu::FindInformationReq {
            start: r.u16()?,
            end: r.u16()?,
        },
        0x06 => AttPdu::FindByTypeValueReq {
            start: r.u16()?,
            end: r.u16()?,
            attribute_type: r.u16()?,
        },
        0x08 => AttPdu::ReadByTypeReq {
            start: r.u16()?,
            end: r.u16()?,
            attribute_type: r.rest(),
        },
        0x0a => AttPdu::ReadReq { handle: r.u16()? },
        0x0c => AttPdu::ReadBlobReq {
            handle: r.u16()?,
            offset: r.u16()?,
        },
        0x10 => AttPdu::ReadByGroupTypeReq {
            start: r.u16()?,
            end: r.u16()?,
            group_type: r.rest(),
        },
        0x12 => AttPdu::WriteReq {
            handle: r.u16()?,
            value: r.rest(),
        },
        0x16 => AttPdu::PrepareWriteReq {
            handle: r.u16()?,
            offset: r.u16()?,
            value: r.rest(),
        },
        0x18 => AttPdu::ExecuteWriteReq { flags: r.u8()? },
        0x1b => AttPdu::Notification {
            handle: r.u16()?,
            value: r.rest(),
        },
        0x1d => AttPdu::Indication {
            handle: r.u16()?,
            value: r.rest(),
        },
        0x52 => AttPdu::WriteCmd {
            handle: r.u16()?,
            value: r.rest(),
        },
        0xd2 => AttPdu::SignedWriteCmd {
            handle: r.u16()?,
            value: r.rest(),
        },
        _ => AttPdu::Other {
            opcode,
            params: r.rest(),
        },
    })
}
