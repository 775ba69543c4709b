//! State of one connection shared by sniffer and host views: addresses,
//! parameters, L2CAP reassembly and what runs over it (SMP, ATT, signalling).

use crate::analysis::findings::{Finding, Kind};
use crate::analysis::pairing::PairingLog;
use crate::bytes::to_hex;
use crate::codec::att::{AttPdu, decode_att};
use crate::codec::frame::{Direction, Phy};
use crate::codec::hci::error_code_name;
use crate::codec::l2cap::{
    CID_ATT, CID_LE_SIGNALING, CID_SMP, Reassembler, Sdu, SignalingCommand, decode_signaling,
};
use crate::codec::ll::Address;
use crate::codec::smp::{SmpPdu, decode_smp};
use crate::crypto::Key128;
use crate::report::{self, Disconnect, Encryption, PhyPair, Role, SidePair, Source, Version};

pub fn role_of(direction: Direction) -> Role {
    match direction {
        Direction::CentralToPeripheral => Role::Initiator,
        Direction::PeripheralToCentral => Role::Responder,
    }
}

/// Connection parameters in their wire units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkParams {
    /// 1.25 ms units.
    pub interval: u16,
    pub latency: u16,
    /// 10 ms units.
    pub timeout: u16,
}

impl LinkParams {
    /// connSupervisionTimeout > (1 + latency) × interval × 2 (Vol 6 Part B §4.5.2).
    pub fn timeout_ok(&self) -> bool {
        let timeout_us = u64::from(self.timeout) * 10_000;
        let needed_us = (1 + u64::from(self.latency)) * u64::from(self.interval) * 1250 * 2;
        timeout_us > needed_us
    }

    fn report(&self) -> report::Parameters {
        report::Parameters {
            interval_ms: f64::from(self.interval) * 1.25,
            latency: self.latency,
            timeout_ms: u32::from(self.timeout) * 10,
        }
    }
}

pub struct Conn {
    pub id: usize,
    pub source: Source,
    pub access_address: Option<u32>,
    pub handle: Option<u16>,
    pub central: Option<Address>,
    pub peripheral: Option<Address>,
    pub first_packet: u64,
    pub last_packet: u64,
    pub last_time_ns: i64,
    pub params: Option<LinkParams>,
    pub phy: PhyPair,
    /// The PHY of the AUX_CONNECT_REQ that made the connection.
    pub aux_connect_phy: Option<Phy>,
    pub mtu_requested: SidePair<u16>,
    pub features: SidePair<u64>,
    pub versions: SidePair<Version>,
    pub encryption: Encryption,
    pub pairings: Vec<PairingLog>,
    pub disconnect: Option<(Disconnect, i64)>,
    pub decrypted: Vec<report::DecryptedPdu>,
    /// Keys handed to the controller (HCI logs): STKs and LTKs in the clear.
    pub controller_keys: Vec<Key128>,
    /// One per direction, and one for fragments from a log that does not
    /// record directions (LINKTYPE 187).
    reassembly: [Reassembler; 3],
}

impl Conn {
    pub fn new(id: usize, source: Source, packet: u64, time_ns: i64) -> Conn {
        Conn {
            id,
            source,
            access_address: None,
            handle: None,
            central: None,
            peripheral: None,
            first_packet: packet,
            last_packet: packet,
            last_time_ns: time_ns,
            params: None,
            phy: PhyPair::default(),
            aux_connect_phy: None,
            mtu_requested: SidePair::default(),
            features: SidePair::default(),
            versions: SidePair::default(),
            encryption: Encryption::default(),
            pairings: Vec::new(),
            disconnect: None,
            decrypted: Vec::new(),
            controller_keys: Vec::new(),
            reassembly: Default::default(),
        }
    }

    pub fn touch(&mut self, packet: u64, time_ns: i64) {
        self.last_packet = packet;
        self.last_time_ns = self.last_time_ns.max(time_ns);
    }

    /// New parameters from any source; checks the supervision timeout rule.
    pub fn set_params(&mut self, params: LinkParams, packet: u64, findings: &mut Vec<Finding>) {
        if !params.timeout_ok() {
            findings.push(supervision_finding(
                self.id,
                params,
                packet,
                "in force on the link",
            ));
        }
        self.params = Some(params);
    }

    pub fn disconnected(
        &mut self,
        packet: u64,
        reason: u8,
        time_ns: i64,
        findings: &mut Vec<Finding>,
    ) {
        if self.disconnect.is_some() {
            return;
        }
        self.disconnect = Some((
            Disconnect {
                packet,
                reason,
                reason_text: error_code_name(reason),
                inferred: false,
            },
            time_ns,
        ));
        match reason {
            0x3d => findings.push(Finding::new(
                Kind::MicFailure,
                Some(self.id),
                vec![packet],
                "the link was terminated with reason 0x3D: a received packet failed its MIC check".into(),
            )),
            0x22 => findings.push(Finding::new(
                Kind::ProcedureTimeout,
                Some(self.id),
                vec![packet],
                "the link was terminated with reason 0x22 (LL Response Timeout): a link-layer procedure went unanswered for 40 s".into(),
            )),
            _ => {}
        }
    }

    /// A sniffed link that fell silent for longer than its supervision timeout
    /// while the capture went on was lost: both sides end it with reason 0x08.
    pub fn infer_supervision_timeout(&mut self, capture_end_ns: i64) {
        let Some(params) = self.params else { return };
        let timeout_ns = i64::from(params.timeout) * 10_000_000;
        if self.source != Source::Radio
            || self.disconnect.is_some()
            || capture_end_ns.saturating_sub(self.last_time_ns) <= timeout_ns
        {
            return;
        }
        self.disconnect = Some((
            Disconnect {
                packet: self.last_packet,
                reason: 0x08,
                reason_text: error_code_name(0x08),
                inferred: true,
            },
            self.last_time_ns.saturating_add(timeout_ns),
        ));
    }

    /// Feeds one L2CAP fragment, sent in `direction` or in one the log did
    /// not record (`None`); returns the message it completes.
    pub fn reassemble(
        &mut self,
        direction: Option<Direction>,
        start: bool,
        fragment: &[u8],
        packet: u64,
    ) -> Option<Sdu> {
        self.reassembly[direction.map_or(2, Direction::index)]
            .push(start, fragment, packet)
            .ok()
            .flatten()
    }

    /// The sender of an L2CAP message whose direction the log did not record,
    /// where its content shows it: SMP by its place in the pairing, and the LE
    /// signalling commands only one side sends. ATT (client and server are not
    /// tied to central and peripheral) and the rest cannot be placed.
    pub fn sender_by_content(&self, sdu: &Sdu) -> Option<Direction> {
        let code = *sdu.payload.first()?;
        match sdu.cid {
            CID_SMP => {
                let role = match self.pairings.last() {
                    Some(log) => log.sender_by_order(code),
                    None => PairingLog::default().sender_by_order(code),
                }?;
                Some(match role {
                    Role::Initiator => Direction::CentralToPeripheral,
                    Role::Responder => Direction::PeripheralToCentral,
                })
            }
            // Connection Parameter Update Request and Response (Vol 3 Part A §4.20, §4.21).
            CID_LE_SIGNALING => match code {
                0x12 => Some(Direction::PeripheralToCentral),
                0x13 => Some(Direction::CentralToPeripheral),
                _ => None,
            },
            _ => None,
        }
    }

    /// Handles a complete L2CAP message.
    pub fn on_sdu(
        &mut self,
        direction: Direction,
        sdu: &Sdu,
        time_ns: i64,
        findings: &mut Vec<Finding>,
    ) {
        match sdu.cid {
            CID_SMP => {
                if let Ok(pdu) = decode_smp(&sdu.payload) {
                    self.on_smp(role_of(direction), &pdu, sdu.last_packet, time_ns);
                }
            }
            CID_ATT => {
                if let Ok(AttPdu::ExchangeMtuReq { mtu } | AttPdu::ExchangeMtuRsp { mtu }) =
                    decode_att(&sdu.payload)
                {
                    *self.mtu_requested.get_mut(direction) = Some(mtu);
                }
            }
            CID_LE_SIGNALING => {
                if let Ok(SignalingCommand::ConnectionParameterUpdateRequest {
                    latency,
                    timeout,
                    interval_max,
                    ..
                }) = decode_signaling(&sdu.payload)
                {
                    let requested = LinkParams {
                        interval: interval_max,
                        latency,
                        timeout,
                    };
                    if !requested.timeout_ok() {
                        findings.push(supervision_finding(
                            self.id,
                            requested,
                            sdu.last_packet,
                            "requested by the peripheral's host",
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    pub fn on_smp(&mut self, sender: Role, pdu: &SmpPdu, packet: u64, time_ns: i64) {
        let starts_pairing = matches!(pdu, SmpPdu::PairingRequest(_));
        let recorded = match self.pairings.last_mut() {
            Some(log) if log.outcome() == report::Outcome::Incomplete || !starts_pairing => {
                log.record(sender, pdu, packet, time_ns)
            }
            _ => false,
        };
        if !recorded
            && (starts_pairing
                || matches!(pdu, SmpPdu::PairingResponse(_) | SmpPdu::PairingConfirm(_)))
        {
            let mut log = PairingLog::new(packet, time_ns);
            log.record(sender, pdu, packet, time_ns);
            self.pairings.push(log);
        }
    }

    /// Marks the latest pairing as followed by encryption.
    pub fn encryption_started(&mut self) {
        self.encryption.started = true;
        if let Some(log) = self.pairings.last_mut() {
            log.encrypted = log.failed.is_none();
        }
    }

    pub fn report(&self) -> report::Connection {
        let att_mtu = match (self.mtu_requested.central, self.mtu_requested.peripheral) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        report::Connection {
            id: self.id,
            source: self.source,
            access_address: self.access_address.map(|aa| format!("{aa:08x}")),
            handle: self.handle,
            central: self.central,
            peripheral: self.peripheral,
            first_packet: self.first_packet,
            last_packet: self.last_packet,
            parameters: self.params.map(|p| p.report()),
            phy: self.phy.clone(),
            aux_connect_phy: self.aux_connect_phy,
            att_mtu,
            features: SidePair {
                central: self.features.central.map(|f| format!("{f:016x}")),
                peripheral: self.features.peripheral.map(|f| format!("{f:016x}")),
            },
            versions: self.versions.clone(),
            encryption: self.encryption.clone(),
            pairings: self.pairings.iter().map(PairingLog::report).collect(),
            disconnect: self.disconnect.as_ref().map(|(d, _)| d.clone()),
            decrypted: self.decrypted.clone(),
        }
    }
}

fn supervision_finding(connection: usize, params: LinkParams, packet: u64, whose: &str) -> Finding {
    let needed_ms = (1 + u64::from(params.latency)) * u64::from(params.interval) * 5 / 2;
    Finding::new(
        Kind::SupervisionTimeoutTooShort,
        Some(connection),
        vec![packet],
        format!(
            "supervision timeout {} ms {whose} is not above (1 + latency {}) × interval {:.2} ms × 2 = {} ms",
            u32::from(params.timeout) * 10,
            params.latency,
            f64::from(params.interval) * 1.25,
            needed_ms
        ),
    )
}

/// One line describing an L2CAP message, for decrypted PDUs and packet listings.
pub fn describe_sdu(sdu: &Sdu) -> String {
    match sdu.cid {
        CID_SMP => match decode_smp(&sdu.payload) {
            Ok(SmpPdu::EncryptionInformation { ltk }) => {
                format!("SMP Encryption Information: LTK {}", to_hex(&ltk))
            }
            Ok(SmpPdu::CentralIdentification { ediv, rand }) => {
                format!(
                    "SMP Central Identification: EDIV {ediv:#06x}, Rand {}",
                    to_hex(&rand)
                )
            }
            Ok(SmpPdu::IdentityInformation { irk }) => {
                format!("SMP Identity Information: IRK {}", to_hex(&irk))
            }
            Ok(SmpPdu::SigningInformation { csrk }) => {
                format!("SMP Signing Information: CSRK {}", to_hex(&csrk))
            }
            Ok(SmpPdu::IdentityAddressInformation(address)) => {
                format!("SMP Identity Address Information: {address}")
            }
            Ok(pdu) => format!("SMP {}", pdu.name()),
            Err(e) => format!("SMP ({e})"),
        },
        CID_ATT => match decode_att(&sdu.payload) {
            Ok(AttPdu::ReadReq { handle }) => format!("ATT_READ_REQ handle {handle:#06x}"),
            Ok(AttPdu::WriteReq { handle, value } | AttPdu::WriteCmd { handle, value }) => {
                format!("ATT write handle {handle:#06x} value {}", to_hex(value))
            }
            Ok(AttPdu::Notification { handle, value } | AttPdu::Indication { handle, value }) => {
                format!("ATT handle {handle:#06x} value {}", to_hex(value))
            }
            Ok(pdu) => pdu.name().to_string(),
            Err(e) => format!("ATT ({e})"),
        },
        CID_LE_SIGNALING => match decode_signaling(&sdu.payload) {
            Ok(command) => command.name().to_string(),
            Err(e) => format!("L2CAP signalling ({e})"),
        },
        cid => format!("L2CAP channel {cid:#06x}, {} octets", sdu.payload.len()),
    }
}
