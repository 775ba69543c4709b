//! Security Manager Protocol commands (Core Vol 3 Part H §3), every code.
//! Keys, nonces and confirm values are returned most-significant octet first.

use serde::Serialize;

use crate::bytes::{DecodeResult, Reader};
use crate::codec::ll::Address;

/// The six fields of a Pairing Request or Response, and its wire form for c1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PairingFeatures {
    pub io_capability: u8,
    pub oob: bool,
    pub auth_req: u8,
    pub max_key_size: u8,
    pub initiator_keys: u8,
    pub responder_keys: u8,
    /// The 7-octet command as sent (code included), needed by c1.
    #[serde(skip)]
    pub wire: [u8; 7],
}

impl PairingFeatures {
    pub fn bonding(&self) -> bool {
        self.auth_req & 0x03 == 0x01
    }
    pub fn mitm(&self) -> bool {
        self.auth_req & 0x04 != 0
    }
    pub fn secure_connections(&self) -> bool {
        self.auth_req & 0x08 != 0
    }
    pub fn keypress(&self) -> bool {
        self.auth_req & 0x10 != 0
    }
    /// IOcap of f6: AuthReq, OOB flag, IO capability.
    pub fn f6_io_cap(&self) -> [u8; 3] {
        [self.auth_req, u8::from(self.oob), self.io_capability]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpPdu {
    PairingRequest(PairingFeatures),
    PairingResponse(PairingFeatures),
    PairingConfirm([u8; 16]),
    PairingRandom([u8; 16]),
    PairingFailed { reason: u8 },
    EncryptionInformation { ltk: [u8; 16] },
    CentralIdentification { ediv: u16, rand: [u8; 8] },
    IdentityInformation { irk: [u8; 16] },
    IdentityAddressInformation(Address),
    SigningInformation { csrk: [u8; 16] },
    SecurityRequest { auth_req: u8 },
    PairingPublicKey { x: [u8; 32], y: [u8; 32] },
    PairingDhKeyCheck([u8; 16]),
    KeypressNotification { kind: u8 },
    Unknown { code: u8 },
}

impl SmpPdu {
    pub fn name(&self) -> &'static str {
        match self {
            SmpPdu::PairingRequest(_) => "Pairing Request",
            SmpPdu::PairingResponse(_) => "Pairing Response",
            SmpPdu::PairingConfirm(_) => "Pairing Confirm",
            SmpPdu::PairingRandom(_) => "Pairing Random",
            SmpPdu::PairingFailed { .. } => "Pairing Failed",
            SmpPdu::EncryptionInformation { .. } => "Encryption Information",
            SmpPdu::CentralIdentification { .. } => "Central Identification",
            SmpPdu::IdentityInformation { .. } => "Identity Information",
            SmpPdu::IdentityAddressInformation(_) => "Identity Address Information",
            SmpPdu::SigningInformation { .. } => "Signing Information",
            SmpPdu::SecurityRequest { .. } => "Security Request",
            SmpPdu::PairingPublicKey { .. } => "Pairing Public Key",
            SmpPdu::PairingDhKeyCheck(_) => "Pairing DHKey Check",
            SmpPdu::KeypressNotification { .. } => "Keypress Notification",
            SmpPdu::Unknown { .. } => "unknown SMP command",
        }
    }
}

fn features(r: &mut Reader<'_>, code: u8) -> DecodeResult<PairingFeatures> {
    let fields: [u8; 6] = r.array()?;
    let mut wire = [code, 0, 0, 0, 0, 0, 0];
    wire[1..].copy_from_slice(&fields);
    Ok(PairingFeatures {
        io_capability: fields[0],
        oob: fields[1] != 0,
        auth_req: fields[2],
        max_key_size: fields[3],
        initiator_keys: fields[4],
        responder_keys: fields[5],
        wire,
    })
}

pub fn decode_smp(payload: &[u8]) -> DecodeResult<SmpPdu> {
    let mut header = Reader::new("SMP code", payload);
    let code = header.u8()?;
    let r = &mut Reader::new("SMP command", header.rest());
    Ok(match code {
        0x01 => SmpPdu::PairingRequest(features(r, code)?),
        0x02 => SmpPdu::PairingResponse(features(r, code)?),
        0x03 => SmpPdu::PairingConfirm(r.reversed()?),
        0x04 => SmpPdu::PairingRandom(r.reversed()?),
        0x05 => SmpPdu::PairingFailed { reason: r.u8()? },
        0x06 => SmpPdu::EncryptionInformation { ltk: r.reversed()? },
        0x07 => SmpPdu::CentralIdentification {
            ediv: r.u16()?,
            rand: r.reversed()?,
        },
        0x08 => SmpPdu::IdentityInformation { irk: r.reversed()? },
        0x09 => {
            let kind = r.u8()?;
            SmpPdu::IdentityAddressInformation(Address::read(r, kind & 1 != 0)?)
        }
        0x0a => SmpPdu::SigningInformation {
            csrk: r.reversed()?,
        },
        0x0b => SmpPdu::SecurityRequest { auth_req: r.u8()? },
        0x0c => SmpPdu::PairingPublicKey {
            x: r.reversed()?,
            y: r.reversed()?,
        },
        0x0d => SmpPdu::PairingDhKeyCheck(r.reversed()?),
        0x0e => SmpPdu::KeypressNotification { kind: r.u8()? },
        _ => SmpPdu::Unknown { code },
    })
}

/// Plain-language meaning of a Pairing Failed reason (Vol 3 Part H §3.5.5).
pub fn failure_reason(reason: u8) -> &'static str {
    match reason {
        0x01 => "Passkey Entry Failed: the user cancelled or did not enter the passkey",
        0x02 => "OOB Not Available",
        0x03 => {
            "Authentication Requirements: the devices cannot meet each other's security requirements"
        }
        0x04 => {
            "Confirm Value Failed: the confirm value did not match (wrong passkey, or a tampered exchange)"
        }
        0x05 => "Pairing Not Supported",
        0x06 => "Encryption Key Size too short",
        0x07 => "Command Not Supported",
        0x08 => "Unspecified Reason",
        0x09 => "Repeated Attempts: pairing refused because of recent failures",
        0x0a => "Invalid Parameters",
        0x0b => "DHKey Check Failed",
        0x0c => "Numeric Comparison Failed",
        0x0d => "BR/EDR pairing in progress",
        0x0e => "Cross-transport Key Derivation/Generation not allowed",
        0x0f => "Key Rejected",
        0x10 => "Busy",
        _ => "reserved reason code",
    }
}

/// Name of an SMP IO capability.
pub fn io_capability_name(io: u8) -> &'static str {
    match io {
        0 => "DisplayOnly",
        1 => "DisplayYesNo",
        2 => "KeyboardOnly",
        3 => "NoInputNoOutput",
        4 => "KeyboardDisplay",
        _ => "reserved",
    }
}
