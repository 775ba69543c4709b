//! The HCI commands and events that carry LE connections, disconnections,
//! encryption and its keys (Core Vol 4 Part E §7), and ACL fragments.

use crate::bytes::{DecodeResult, Reader};
use crate::codec::ll::Address;

/// Packet boundary flag of an ACL fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclBoundary {
    /// First fragment of an L2CAP message.
    First,
    Continuation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFragment<'a> {
    pub handle: u16,
    pub boundary: AclBoundary,
    pub data: &'a [u8],
}

pub fn decode_acl(data: &[u8]) -> DecodeResult<AclFragment<'_>> {
    let mut r = Reader::new("HCI ACL header", data);
    let handle_flags = r.u16()?;
    let length = usize::from(r.u16()?);
    let data = Reader::new("HCI ACL data", r.rest()).take(length)?;
    let boundary = if (handle_flags >> 12) & 3 == 1 {
        AclBoundary::Continuation
    } else {
        AclBoundary::First
    };
    Ok(AclFragment {
        handle: handle_flags & 0x0fff,
        boundary,
        data,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Disconnect {
        handle: u16,
        reason: u8,
    },
    LeCreateConnection {
        peer: Address,
        own_address_type: u8,
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
    },
    LeExtendedCreateConnection {
        peer: Address,
        own_address_type: u8,
    },
    LeConnectionUpdate {
        handle: u16,
        interval_min: u16,
        interval_max: u16,
        latency: u16,
        timeout: u16,
    },
    /// The central's host hands the controller the key to encrypt with (an STK or LTK).
    LeStartEncryption {
        handle: u16,
        rand: [u8; 8],
        ediv: u16,
        ltk: [u8; 16],
    },
    /// The peripheral's host answers an LTK request with the key.
    LeLtkRequestReply {
        handle: u16,
        ltk: [u8; 16],
    },
    LeLtkRequestNegativeReply {
        handle: u16,
    },
    LeSetPhy {
        handle: u16,
        tx_phys: u8,
        rx_phys: u8,
    },
    LeSetRandomAddress {
        address: Address,
    },
    /// Legacy or extended advertising parameters: the address type a peripheral will use.
    LeSetAdvertisingParameters {
        own_address_type: u8,
    },
    Other {
        opcode: u16,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Disconnect { .. } => "HCI_Disconnect",
            Command::LeCreateConnection { .. } => "HCI_LE_Create_Connection",
            Command::LeExtendedCreateConnection { .. } => "HCI_LE_Extended_Create_Connection",
            Command::LeConnectionUpdate { .. } => "HCI_LE_Connection_Update",
            Command::LeStartEncryption { .. } => "HCI_LE_Enable_Encryption",
            Command::LeLtkRequestReply { .. } => "HCI_LE_Long_Term_Key_Request_Reply",
            Command::LeLtkRequestNegativeReply { .. } => {
                "HCI_LE_Long_Term_Key_Request_Negative_Reply"
            }
            Command::LeSetPhy { .. } => "HCI_LE_Set_PHY",
            Command::LeSetRandomAddress { .. } => "HCI_LE_Set_Random_Address",
            Command::LeSetAdvertisingParameters { .. } => "HCI_LE_Set_Advertising_Parameters",
            Command::Other { .. } => "HCI command",
        }
    }
}

pub fn decode_command(data: &[u8]) -> DecodeResult<Command> {
    let mut header = Reader::new("HCI command header", data);
    let opcode = header.u16()?;
    let length = usize::from(header.u8()?);
    let params = Reader::new("HCI command parameters", header.rest()).take(length)?;
    let r = &mut Reader::new("HCI command parameters", params);
    Ok(match opcode {
        0x0406 => Command::Disconnect {
            handle: r.u16()? & 0x0fff,
            reason: r.u8()?,
        },
        0x200d => {
            let _scan_interval = r.u16()?;
            let _scan_window = r.u16()?;
            let _filter_policy = r.u8()?;
            let peer_type = r.u8()?;
            let peer = Address::read(r, peer_type & 1 != 0)?;
            let own_address_type = r.u8()?;
            Command::LeCreateConnection {
                peer,
                own_address_type,
                interval_min: r.u16()?,
                interval_max: r.u16()?,
                latency: r.u16()?,
                timeout: r.u16()?,
            }
        }
        0x2043 => {
            let _filter_policy = r.u8()?;
            let own_address_type = r.u8()?;
            let peer_type = r.u8()?;
            Command::LeExtendedCreateConnection {
                peer: Address::read(r, peer_type & 1 != 0)?,
                own_address_type,
            }
        }
        0x2013 => Command::LeConnectionUpdate {
            handle: r.u16()? & 0x0fff,
            interval_min: r.u16()?,
            interval_max: r.u16()?,
            latency: r.u16()?,
            timeout: r.u16()?,
        },
        0x2019 => Command::LeStartEncryption {
            handle: r.u16()? & 0x0fff,
            rand: r.reversed()?,
            ediv: r.u16()?,
            ltk: r.reversed()?,
        },
        0x201a => Command::LeLtkRequestReply {
            handle: r.u16()? & 0x0fff,
            ltk: r.reversed()?,
        },
        0x201b => Command::LeLtkRequestNegativeReply {
            handle: r.u16()? & 0x0fff,
        },
        0x2032 => {
            let handle = r.u16()? & 0x0fff;
            let _all_phys = r.u8()?;
            Command::LeSetPhy {
                handle,
                tx_phys: r.u8()?,
                rx_phys: r.u8()?,
            }
        }
        0x2005 => Command::LeSetRandomAddress {
            address: Address::read(r, true)?,
        },
        0x2006 => {
            r.take(5)?; // interval min, max, advertising type
            Command::LeSetAdvertisingParameters {
                own_address_type: r.u8()?,
            }
        }
        0x2036 => {
            r.take(10)?; // handle, properties, intervals, channel map
            Command::LeSetAdvertisingParameters {
                own_address_type: r.u8()?,
            }
        }
        _ => Command::Other { opcode },
    })
}

/// Role of the logging host's controller in a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Central,
    Peripheral,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionComplete {
    pub status: u8,
    pub handle: u16,
    pub role: Role,
    pub peer: Address,
    pub interval: u16,
    pub latency: u16,
    pub timeout: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    DisconnectionComplete {
        status: u8,
        handle: u16,
        reason: u8,
    },
    EncryptionChange {
        status: u8,
        handle: u16,
        enabled: bool,
    },
    EncryptionKeyRefreshComplete {
        status: u8,
        handle: u16,
    },
    ReadRemoteVersionComplete {
        status: u8,
        handle: u16,
        version: u8,
        company: u16,
        subversion: u16,
    },
    CommandComplete {
        opcode: u16,
        status: Option<u8>,
    },
    /// Command Complete of HCI_Read_BD_ADDR: the controller's public address.
    ReadBdAddrComplete {
        status: u8,
        address: Address,
    },
    CommandStatus {
        status: u8,
        opcode: u16,
    },
    LeConnectionComplete(ConnectionComplete),
    LeConnectionUpdateComplete {
        status: u8,
        handle: u16,
        interval: u16,
        latency: u16,
        timeout: u16,
    },
    LeReadRemoteFeaturesComplete {
        status: u8,
        handle: u16,
        features: u64,
    },
    /// The peer central asked to encrypt; the host must answer with a key.
    LeLtkRequest {
        handle: u16,
        rand: [u8; 8],
        ediv: u16,
    },
    LeDataLengthChange {
        handle: u16,
        max_tx_octets: u16,
        max_tx_time: u16,
        max_rx_octets: u16,
        max_rx_time: u16,
    },
    LePhyUpdateComplete {
        status: u8,
        handle: u16,
        tx_phy: u8,
        rx_phy: u8,
    },
    Other {
        code: u8,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::DisconnectionComplete { .. } => "HCI_Disconnection_Complete",
            Event::EncryptionChange { .. } => "HCI_Encryption_Change",
            Event::EncryptionKeyRefreshComplete { .. } => "HCI_Encryption_Key_Refresh_Complete",
            Event::ReadRemoteVersionComplete { .. } => {
                "HCI_Read_Remote_Version_Information_Complete"
            }
            Event::CommandComplete { .. } | Event::ReadBdAddrComplete { .. } => {
                "HCI_Command_Complete"
            }
            Event::CommandStatus { .. } => "HCI_Command_Status",
            Event::LeConnectionComplete(_) => "HCI_LE_Connection_Complete",
            Event::LeConnectionUpdateComplete { .. } => "HCI_LE_Connection_Update_Complete",
            Event::LeReadRemoteFeaturesComplete { .. } => "HCI_LE_Read_Remote_Features_Complete",
            Event::LeLtkRequest { .. } => "HCI_LE_Long_Term_Key_Request",
            Event::LeDataLengthChange { .. } => "HCI_LE_Data_Length_Change",
            Event::LePhyUpdateComplete { .. } => "HCI_LE_PHY_Update_Complete",
            Event::Other { .. } => "HCI event",
        }
    }
}

pub fn decode_event(data: &[u8]) -> DecodeResult<Event> {
    let mut header = Reader::new("HCI event header", data);
    let code = header.u8()?;
    let length = usize::from(header.u8()?);
    let params = Reader::new("HCI event parameters", header.rest()).take(length)?;
    let r = &mut Reader::new("HCI event parameters", params);
    Ok(match code {
        0x05 => Event::DisconnectionComplete {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
            reason: r.u8()?,
        },
        // Encryption Change v1 (0x08) and v2 (0x59) share the leading fields.
        0x08 | 0x59 => Event::EncryptionChange {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
            enabled: r.u8()? != 0,
        },
        0x30 => Event::EncryptionKeyRefreshComplete {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
        },
        0x0c => Event::ReadRemoteVersionComplete {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
            version: r.u8()?,
            company: r.u16()?,
            subversion: r.u16()?,
        },
        0x0e => {
            let _credits = r.u8()?;
            let opcode = r.u16()?;
            match opcode {
                0x1009 => Event::ReadBdAddrComplete {
                    status: r.u8()?,
                    address: Address::read(r, false)?,
                },
                _ => Event::CommandComplete {
                    opcode,
                    status: r.u8().ok(),
                },
            }
        }
        0x0f => {
            let status = r.u8()?;
            let _credits = r.u8()?;
            Event::CommandStatus {
                status,
                opcode: r.u16()?,
            }
        }
        0x3e => decode_le_meta(r)?,
        _ => Event::Other { code },
    })
}

fn decode_le_meta(r: &mut Reader<'_>) -> DecodeResult<Event> {
    let subevent = r.u8()?;
    Ok(match subevent {
        // LE Connection Complete, Enhanced v1 (0x0a) and v2 (0x29).
        0x01 | 0x0a | 0x29 => {
            let status = r.u8()?;
            let handle = r.u16()? & 0x0fff;
            let role = if r.u8()? == 0 {
                Role::Central
            } else {
                Role::Peripheral
            };
            let peer_type = r.u8()?;
            let peer = Address::read(r, peer_type & 1 != 0)?;
            if subevent != 0x01 {
                let _local_rpa = r.take(6)?;
                let _peer_rpa = r.take(6)?;
            }
            Event::LeConnectionComplete(ConnectionComplete {
                status,
                handle,
                role,
                peer,
                interval: r.u16()?,
                latency: r.u16()?,
                timeout: r.u16()?,
            })
        }
        0x03 => Event::LeConnectionUpdateComplete {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
            interval: r.u16()?,
            latency: r.u16()?,
            timeout: r.u16()?,
        },
        0x04 => Event::LeReadRemoteFeaturesComplete {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
            features: r.u64()?,
        },
        0x05 => Event::LeLtkRequest {
            handle: r.u16()? & 0x0fff,
            rand: r.reversed()?,
            ediv: r.u16()?,
        },
        0x07 => Event::LeDataLengthChange {
            handle: r.u16()? & 0x0fff,
            max_tx_octets: r.u16()?,
            max_tx_time: r.u16()?,
            max_rx_octets: r.u16()?,
            max_rx_time: r.u16()?,
        },
        0x0c => Event::LePhyUpdateComplete {
            status: r.u8()?,
            handle: r.u16()? & 0x0fff,
            tx_phy: r.u8()?,
            rx_phy: r.u8()?,
        },
        _ => Event::Other { code: 0x3e },
    })
}

/// Name of a Controller error code (Core Vol 1 Part F), as carried by
/// disconnections, LL_TERMINATE_IND and LL_REJECT(_EXT)_IND.
pub fn error_code_name(code: u8) -> &'static str {
    match code {
        0x00 => "Success",
        0x01 => "Unknown HCI Command",
        0x02 => "Unknown Connection Identifier",
        0x05 => "Authentication Failure",
        0x06 => "PIN or Key Missing",
        0x07 => "Memory Capacity Exceeded",
        0x08 => "Connection Timeout",
        0x0c => "Command Disallowed",
        0x0d => "Connection Rejected due to Limited Resources",
        0x11 => "Unsupported Feature or Parameter Value",
        0x12 => "Invalid HCI Command Parameters",
        0x13 => "Remote User Terminated Connection",
        0x14 => "Remote Device Terminated Connection due to Low Resources",
        0x15 => "Remote Device Terminated Connection due to Power Off",
        0x16 => "Connection Terminated By Local Host",
        0x17 => "Repeated Attempts",
        0x18 => "Pairing Not Allowed",
        0x1a => "Unsupported Remote Feature",
        0x1e => "Invalid LL Parameters",
        0x1f => "Unspecified Error",
        0x20 => "Unsupported LL Parameter Value",
        0x21 => "Role Change Not Allowed",
        0x22 => "LL Response Timeout",
        0x23 => "LL Procedure Collision",
        0x24 => "LMP PDU Not Allowed",
        0x25 => "Encryption Mode Not Acceptable",
        0x26 => "Link Key cannot be Changed",
        0x28 => "Instant Passed",
        0x29 => "Pairing With Unit Key Not Supported",
        0x2a => "Different Transaction Collision",
        0x2f => "Insufficient Security",
        0x30 => "Parameter Out Of Mandatory Range",
        0x3a => "Controller Busy",
        0x3b => "Unacceptable Connection Parameters",
        0x3c => "Advertising Timeout",
        0x3d => "Connection Terminated due to MIC Failure",
        0x3e => "Connection Failed to be Established / Synchronization Timeout",
        0x40 => "Coarse Clock Adjustment Rejected",
        0x43 => "Limit Reached",
        0x44 => "Operation Cancelled by Host",
        0x45 => "Packet Too Long",
        _ => "other error code",
    }
}
