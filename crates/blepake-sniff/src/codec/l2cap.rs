//! L2CAP basic frames (Core Vol 3 Part A §3.1), their reassembly from LL PDUs
//! or HCI ACL fragments, and the LE signalling channel.

use crate::bytes::{DecodeResult, Reader};

pub const CID_ATT: u16 = 0x0004;
pub const CID_LE_SIGNALING: u16 = 0x0005;
pub const CID_SMP: u16 = 0x0006;

/// A complete L2CAP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdu {
    pub cid: u16,
    pub payload: Vec<u8>,
    /// Capture packet numbers of the first and last fragment.
    pub first_packet: u64,
    pub last_packet: u64,
}

/// Why a fragment could not be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReassemblyError {
    /// A continuation arrived with no message under way (its start was not captured).
    ContinuationWithoutStart,
    /// The fragments add up to more than the L2CAP length announced.
    Overflow { expected: usize, got: usize },
}

struct Pending {
    data: Vec<u8>,
    first_packet: u64,
}

impl Pending {
    /// Total message size once the 4-octet basic header is in.
    fn expected(&self) -> Option<usize> {
        let len = self.data.get(..2)?;
        Some(4 + usize::from(u16::from_le_bytes([len[0], len[1]])))
    }
}

/// Reassembles one direction of one link.
#[derive(Default)]
pub struct Reassembler {
    pending: Option<Pending>,
    /// Messages abandoned because a new start arrived before they were complete.
    pub abandoned: u64,
}

impl Reassembler {
    /// Adds a fragment: `start` for LLID 2 / ACL "first", else a continuation.
    pub fn push(
        &mut self,
        start: bool,
        fragment: &[u8],
        packet: u64,
    ) -> Result<Option<Sdu>, ReassemblyError> {
        if start {
            if self.pending.take().is_some() {
                self.abandoned += 1;
            }
            self.pending = Some(Pending {
                data: Vec::with_capacity(fragment.len()),
                first_packet: packet,
            });
        }
        let Some(pending) = self.pending.as_mut() else {
            return Err(ReassemblyError::ContinuationWithoutStart);
        };
        pending.data.extend_from_slice(fragment);
        let Some(expected) = pending.expected() else {
            return Ok(None);
        };
        let got = pending.data.len();
        if got < expected {
            return Ok(None);
        }
        let mut pending = self
            .pending
            .take()
            .unwrap_or_else(|| unreachable!("checked above"));
        if got > expected {
            return Err(ReassemblyError::Overflow { expected, got });
        }
        let cid = u16::from_le_bytes([pending.data[2], pending.data[3]]);
        pending.data.drain(..4);
        Ok(Some(Sdu {
            cid,
            payload: pending.data,
            first_packet: pending.first_packet,
            last_packet: packet,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalingCommand {
    CommandReject {
        identifier: u8,
        reason: u16,
    },
    DisconnectionRequest {
        identifier: u8,
        destination_cid: u16,
        source_cid: u16,
    },
    DisconnectionResponse {
        identifier: u8,
        destination_cid: u16,
        source_cid: u16,
    },
    ConnectionParameterUpdateRequest {
        identifier: u8,
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
    },
    ConnectionParameterUpdateResponse {
        identifier: u8,
        result: u16,
    },
    LeCreditBasedConnectionRequest {
        identifier: u8,
        spsm: u16,
        source_cid: u16,
        mtu: u16,
        mps: u16,
        credits: u16,
    },
    LeCreditBasedConnectionResponse {
        identifier: u8,
        destination_cid: u16,
        mtu: u16,
        mps: u16,
        credits: u16,
        result: u16,
    },
    FlowControlCredit {
        identifier: u8,
        cid: u16,
        credits: u16,
    },
    Other {
        code: u8,
        identifier: u8,
    },
}

impl SignalingCommand {
    pub fn name(&self) -> &'static str {
        match self {
            SignalingCommand::CommandReject { .. } => "L2CAP_COMMAND_REJECT_RSP",
            SignalingCommand::DisconnectionRequest { .. } => "L2CAP_DISCONNECTION_REQ",
            SignalingCommand::DisconnectionResponse { .. } => "L2CAP_DISCONNECTION_RSP",
            SignalingCommand::ConnectionParameterUpdateRequest { .. } => {
                "L2CAP_CONNECTION_PARAMETER_UPDATE_REQ"
            }
            SignalingCommand::ConnectionParameterUpdateResponse { .. } => {
                "L2CAP_CONNECTION_PARAMETER_UPDATE_RSP"
            }
            SignalingCommand::LeCreditBasedConnectionRequest { .. } => {
                "L2CAP_LE_CREDIT_BASED_CONNECTION_REQ"
            }
            SignalingCommand::LeCreditBasedConnectionResponse { .. } => {
                "L2CAP_LE_CREDIT_BASED_CONNECTION_RSP"
            }
            SignalingCommand::FlowControlCredit { .. } => "L2CAP_FLOW_CONTROL_CREDIT_IND",
            SignalingCommand::Other { .. } => "L2CAP signalling command",
        }
    }
}

/// Decodes the first command of an LE signalling channel message.
pub fn decode_signaling(payload: &[u8]) -> DecodeResult<SignalingCommand> {
    let mut header = Reader::new("L2CAP signalling header", payload);
    let code = header.u8()?;
    let identifier = header.u8()?;
    let length = usize::from(header.u16()?);
    let r = &mut Reader::new("L2CAP signalling command", header.take(length)?);
    Ok(match code {
        0x01 => SignalingCommand::CommandReject {
            identifier,
            reason: r.u16()?,
        },
        0x06 => SignalingCommand::DisconnectionRequest {
            identifier,
            destination_cid: r.u16()?,
            source_cid: r.u16()?,
        },
        0x07 => SignalingCommand::DisconnectionResponse {
            identifier,
            destination_cid: r.u16()?,
            source_cid: r.u16()?,
        },
        0x12 => SignalingCommand::ConnectionParameterUpdateRequest {
            identifier,
            interval_min: r.u16()?,
            interval_max: r.u16()?,
            latency: r.u16()?,
            timeout: r.u16()?,
        },
        0x13 => SignalingCommand::ConnectionParameterUpdateResponse {
            identifier,
            result: r.u16()?,
        },
        0x14 => SignalingCommand::LeCreditBasedConnectionRequest {
            identifier,
            spsm: r.u16()?,
            source_cid: r.u16()?,
            mtu: r.u16()?,
            mps: r.u16()?,
            credits: r.u16()?,
        },
        0x15 => SignalingCommand::LeCreditBasedConnectionResponse {
            identifier,
            destination_cid: r.u16()?,
            mtu: r.u16()?,
            mps: r.u16()?,
            credits: r.u16()?,
            result: r.u16()?,
        },
        0x16 => SignalingCommand::FlowControlCredit {
            identifier,
            cid: r.u16()?,
            credits: r.u16()?,
        },
        _ => SignalingCommand::Other { code, identifier },
    })
}
