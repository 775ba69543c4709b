//! The link layer as a sniffer saw it: event counters, retransmissions, LL
//! control procedures and their rules, and LL encryption.

use crate::analysis::connection::{Conn, LinkParams};
use crate::analysis::findings::{Finding, Kind};
use crate::analysis::timing::EventClock;
use crate::codec::frame::{Direction, Phy};
use crate::codec::hci::error_code_name;
use crate::codec::ll::{ControlPdu, control_name};
use crate::crypto::{Key128, ll_decrypt, session_key};
use crate::report::{Version, core_version_name};

/// LL procedure response timeout (Vol 6 Part B §5.2).
const PROCEDURE_TIMEOUT_NS: i64 = 40_000_000_000;
/// How many encrypted PDUs the candidate keys are tried on before giving up.
const KEY_ATTEMPTS: u8 = 8;
/// How many missed packets the decryptor looks past when the MIC fails.
const COUNTER_WINDOW: u64 = 8;

fn who(direction: Direction) -> &'static str {
    match direction {
        Direction::CentralToPeripheral => "central",
        Direction::PeripheralToCentral => "peripheral",
    }
}

/// The responses that complete a procedure started by `request`.
fn answers(request: u8, response: &ControlPdu) -> bool {
    match response {
        ControlPdu::UnknownRsp { unknown_type } => *unknown_type == request,
        ControlPdu::RejectExtInd { reject_opcode, .. } => *reject_opcode == request,
        ControlPdu::RejectInd { .. } => true,
        other => matches!(
            (request, other.opcode()),
            (0x03, 0x04)
                | (0x05, 0x06)
                | (0x08 | 0x0e, 0x09)
                | (0x0a, 0x0b)
                | (0x0c, 0x0c)
                | (0x0f, 0x10 | 0x00)
                | (0x12, 0x13)
                | (0x14, 0x15)
                | (0x16, 0x17 | 0x18)
                | (0x1a, 0x1b)
                | (0x1d, 0x1e)
                | (0x1f, 0x20)
                | (0x23, 0x24)
                | (0x26, 0x27)
        ),
    }
}

fn is_request(opcode: u8) -> bool {
    matches!(
        opcode,
        0x03 | 0x05
            | 0x08
            | 0x0a
            | 0x0c
            | 0x0e
            | 0x0f
            | 0x12
            | 0x14
            | 0x16
            | 0x1a
            | 0x1d
            | 0x1f
            | 0x23
            | 0x26
    )
}

struct OpenProcedure {
    opcode: u8,
    by: Direction,
    packet: u64,
    time_ns: i64,
    /// The answer may have been in a packet that could not be decrypted.
    uncertain: bool,
}

/// Key material of LL encryption (Vol 6 Part E §1): SKDm/IVm from LL_ENC_REQ,
/// SKDp/IVp from LL_ENC_RSP.
#[derive(Default)]
struct EncryptionSetup {
    skd_central: Option<[u8; 8]>,
    iv_central: Option<[u8; 4]>,
    skd_peripheral: Option<[u8; 8]>,
    iv_peripheral: Option<[u8; 4]>,
}

impl EncryptionSetup {
    /// A session whose first packet in each direction may come after up to
    /// `opened_elsewhere` PDUs the sniffer decrypted itself (their direction may
    /// be a guess, so the search widens in both).
    fn session(&self, key: &Key128, opened_elsewhere: u64) -> Option<Session> {
        let mut iv = [0u8; 8];
        iv[..4].copy_from_slice(&self.iv_central?);
        iv[4..].copy_from_slice(&self.iv_peripheral?);
        Some(Session {
            key: session_key(key, &self.skd_central?, &self.skd_peripheral?),
            iv,
            next_counter: [0, 0],
            slack: [opened_elsewhere; 2],
        })
    }
}

struct Session {
    key: Key128,
    iv: [u8; 8],
    next_counter: [u64; 2],
    /// Extra counters to search until the first PDU of a direction opens.
    slack: [u64; 2],
}

impl Session {
    /// Decrypts with the expected counter or one a few packets later (the sniffer
    /// may have missed some), advancing the counter on success.
    fn open(&mut self, direction: Direction, header: u8, sealed: &[u8]) -> Option<Vec<u8>> {
        let next = self.next_counter[direction.index()];
        let window = COUNTER_WINDOW + self.slack[direction.index()];
        (next..next + window).find_map(|counter| {
            let plaintext = ll_decrypt(
                &self.key,
                &self.iv,
                counter,
                direction == Direction::CentralToPeripheral,
                header,
                sealed,
            )?;
            self.next_counter[direction.index()] = counter + 1;
            self.slack[direction.index()] = 0;
            Some(plaintext)
        })
    }
}

/// Where a session's key came from.
pub struct KeyCandidate {
    pub key: Key128,
    pub source: &'static str,
}

pub struct RadioLink {
    pub conn: usize,
    pub crc_init: Option<u32>,
    pub clock: EventClock,
    /// Last new PDU per direction (header octet with SN, payload): a repeat is a retransmission.
    last_pdu: [Option<(u8, Vec<u8>)>; 2],
    setup: EncryptionSetup,
    /// Packets after LL_START_ENC_REQ are encrypted.
    pub encrypting: bool,
    session: Option<Session>,
    /// Encrypted PDUs since encryption started that the sniffer decrypted before a
    /// session of ours existed: each used a packet counter.
    opened_by_sniffer: u64,
    /// Encrypted PDUs the candidate keys were tried on without success: a PDU
    /// the analysis misplaced (a retransmission taken for new) opens with no key,
    /// so a few more are tried before giving up.
    key_attempts: u8,
    version_sent: [Option<u64>; 2],
    feature_request: [Option<(u64, u64)>; 2],
    open: Vec<OpenProcedure>,
}

impl RadioLink {
    pub fn new(conn: usize, crc_init: Option<u32>, clock: EventClock) -> RadioLink {
        RadioLink {
            conn,
            crc_init,
            clock,
            last_pdu: [None, None],
            setup: EncryptionSetup::default(),
            encrypting: false,
            session: None,
            opened_by_sniffer: 0,
            key_attempts: 0,
            version_sent: [None, None],
            feature_request: [None, None],
            open: Vec::new(),
        }
    }

    /// True when this PDU repeats the last one sent in this direction.
    pub fn is_retransmission(&mut self, direction: Direction, header: u8, payload: &[u8]) -> bool {
        let sn_and_llid = header & 0x0b;
        let slot = &mut self.last_pdu[direction.index()];
        if slot
            .as_ref()
            .is_some_and(|(h, p)| *h == sn_and_llid && p == payload)
        {
            return true;
        }
        *slot = Some((sn_and_llid, payload.to_vec()));
        false
    }

    /// The sniffer decrypted a PDU (of this direction, as far as it is known):
    /// its packet counter is used.
    pub fn opened_by_sniffer(&mut self, direction: Direction) {
        match self.session.as_mut() {
            Some(session) => session.slack[direction.index()] += 1,
            None => self.opened_by_sniffer += 1,
        }
    }

    pub fn needs_key(&self) -> bool {
        self.session.is_none() && self.key_attempts < KEY_ATTEMPTS
    }

    /// Can `key` decrypt this first encrypted PDU?
    pub fn key_opens(&self, key: &Key128, direction: Direction, header: u8, sealed: &[u8]) -> bool {
        self.setup
            .session(key, self.opened_by_sniffer)
            .is_some_and(|mut s| s.open(direction, header, sealed).is_some())
    }

    /// Starts decrypting with the first candidate whose key opens this PDU.
    pub fn choose_key<'c>(
        &mut self,
        candidates: &'c [KeyCandidate],
        direction: Direction,
        header: u8,
        sealed: &[u8],
    ) -> Option<&'c KeyCandidate> {
        self.key_attempts = self.key_attempts.saturating_add(1);
        let found = candidates
            .iter()
            .find(|c| self.key_opens(&c.key, direction, header, sealed))?;
        self.session = self.setup.session(&found.key, self.opened_by_sniffer);
        Some(found)
    }

    /// Decrypts an encrypted PDU; tries the other direction when the guess was wrong.
    pub fn decrypt(
        &mut self,
        direction: Direction,
        header: u8,
        sealed: &[u8],
    ) -> Option<(Direction, Vec<u8>)> {
        let session = self.session.as_mut()?;
        if let Some(plain) = session.open(direction, header, sealed) {
            return Some((direction, plain));
        }
        session
            .open(direction.reverse(), header, sealed)
            .map(|plain| (direction.reverse(), plain))
    }

    /// A PDU that could not be decrypted may have answered an open procedure.
    pub fn blind(&mut self, direction: Direction) {
        for procedure in self.open.iter_mut().filter(|p| p.by != direction) {
            procedure.uncertain = true;
        }
    }

    /// Reports procedures left unanswered for 40 s while the link went on.
    pub fn check_procedure_timeouts(
        &mut self,
        conn: &Conn,
        now_ns: i64,
        findings: &mut Vec<Finding>,
    ) {
        self.open.retain(|p| {
            if now_ns.saturating_sub(p.time_ns) < PROCEDURE_TIMEOUT_NS {
                return true;
            }
            if !p.uncertain {
                findings.push(Finding::new(
                    Kind::ProcedureTimeout,
                    Some(conn.id),
                    vec![p.packet, conn.last_packet],
                    format!(
                        "{} from the {} got no answer within 40 s (the link was still active {:.1} s later)",
                        control_name(p.opcode),
                        who(p.by),
                        (now_ns.saturating_sub(p.time_ns)) as f64 / 1e9
                    ),
                ));
            }
            false
        });
    }

    /// Applies one LL control PDU to the link.
    pub fn on_control(
        &mut self,
        conn: &mut Conn,
        pdu: &ControlPdu,
        direction: Direction,
        packet: u64,
        time_ns: i64,
        findings: &mut Vec<Finding>,
    ) {
        let event = self.clock.current_event();
        let latency = conn.params.map_or(0, |p| p.latency);
        let opcode = pdu.opcode();
        self.open
            .retain(|p| p.by == direction || !answers(p.opcode, pdu));
        if is_request(opcode)
            && !(opcode == 0x0c && self.version_sent[direction.reverse().index()].is_some())
        {
            self.open.push(OpenProcedure {
                opcode,
                by: direction,
                packet,
                time_ns,
                uncertain: false,
            });
        }
        match pdu {
            ControlPdu::ConnectionUpdateInd {
                win_offset,
                interval,
                latency: new_latency,
                timeout,
                instant,
                ..
            } => {
                check_instant(conn.id, pdu, *instant, event, latency, packet, findings);
                self.clock.schedule_update(*instant, *interval, *win_offset);
                conn.set_params(
                    LinkParams {
                        interval: *interval,
                        latency: *new_latency,
                        timeout: *timeout,
                    },
                    packet,
                    findings,
                );
            }
            ControlPdu::ChannelMapInd { instant, .. } => {
                check_instant(conn.id, pdu, *instant, event, latency, packet, findings);
            }
            ControlPdu::PhyUpdateInd {
                phy_c_to_p,
                phy_p_to_c,
                instant,
            } => {
                // Both PHY fields 0: no change, and the instant field has no meaning.
                if *phy_c_to_p != 0 || *phy_p_to_c != 0 {
                    check_instant(conn.id, pdu, *instant, event, latency, packet, findings);
                }
                let phy = |bits: u8| match bits {
                    1 => Some(Phy::Le1M),
                    2 => Some(Phy::Le2M),
                    4 => Some(Phy::LeCoded),
                    _ => None,
                };
                if let Some(p) = phy(*phy_c_to_p) {
                    conn.phy.central_to_peripheral = Some(p);
                }
                if let Some(p) = phy(*phy_p_to_c) {
                    conn.phy.peripheral_to_central = Some(p);
                }
            }
            ControlPdu::TerminateInd { error_code } => {
                conn.disconnected(packet, *error_code, time_ns, findings)
            }
            ControlPdu::EncReq {
                skd_central,
                iv_central,
                ..
            } => {
                self.setup.skd_central = Some(*skd_central);
                self.setup.iv_central = Some(*iv_central);
                self.session = None;
                self.opened_by_sniffer = 0;
                self.key_attempts = 0;
            }
            ControlPdu::EncRsp {
                skd_peripheral,
                iv_peripheral,
            } => {
                self.setup.skd_peripheral = Some(*skd_peripheral);
                self.setup.iv_peripheral = Some(*iv_peripheral);
            }
            ControlPdu::StartEncReq => {
                // Sent in the clear by the peripheral once its host has the key:
                // the evidence that encryption starts, decryptable or not.
                self.encrypting = true;
                conn.encryption_started();
            }
            ControlPdu::StartEncRsp => conn.encryption_started(),
            ControlPdu::PauseEncRsp if direction == Direction::PeripheralToCentral => {
                // The central's own LL_PAUSE_ENC_RSP goes out unencrypted.
                self.encrypting = false;
                self.session = None;
            }
            ControlPdu::VersionInd {
                version,
                company,
                subversion,
            } => {
                if let Some(first) = self.version_sent[direction.index()] {
                    findings.push(Finding::new(
                        Kind::VersionIndRepeated,
                        Some(conn.id),
                        vec![first, packet],
                        format!(
                            "the {} sent LL_VERSION_IND a second time on the same connection",
                            who(direction)
                        ),
                    ));
                } else {
                    self.version_sent[direction.index()] = Some(packet);
                }
                *conn.versions.get_mut(direction) = Some(Version {
                    core: core_version_name(*version),
                    company: *company,
                    subversion: *subversion,
                });
            }
            ControlPdu::FeatureReq { features } | ControlPdu::PeripheralFeatureReq { features } => {
                self.feature_request[direction.index()] = Some((*features, packet));
                *conn.features.get_mut(direction) = Some(*features);
            }
            ControlPdu::FeatureRsp { features } => {
                *conn.features.get_mut(direction) = Some(*features);
                if let Some((requested, request_packet)) =
                    self.feature_request[direction.reverse().index()]
                {
                    // Octet 0 of the response is the AND of both sides' octet 0.
                    let extra = features & 0xff & !requested;
                    if extra != 0 {
                        findings.push(Finding::new(
                            Kind::FeatureRspInvalid,
                            Some(conn.id),
                            vec![request_packet, packet],
                            format!(
                                "LL_FEATURE_RSP from the {} sets feature bit(s) {extra:#04x} in octet 0 that the request did not ({:#04x} requested, {:#04x} answered)",
                                who(direction),
                                requested & 0xff,
                                features & 0xff
                            ),
                        ));
                    }
                }
            }
            ControlPdu::RejectInd { error_code } | ControlPdu::RejectExtInd { error_code, .. } => {
                let procedure = match pdu {
                    ControlPdu::RejectExtInd { reject_opcode, .. } => {
                        format!(" {}", control_name(*reject_opcode))
                    }
                    _ => String::new(),
                };
                findings.push(Finding::new(
                    Kind::Rejected,
                    Some(conn.id),
                    vec![packet],
                    format!(
                        "the {} rejected{procedure} with reason {error_code:#04x} ({})",
                        who(direction),
                        error_code_name(*error_code)
                    ),
                ));
            }
            _ => {}
        }
    }
}

/// (Instant − connEventCounter) mod 65536 ≥ 32767 means the instant has passed
/// (Vol 6 Part B §5.5.1). Fewer than 6 listened-to events ahead is too close.
fn check_instant(
    connection: usize,
    pdu: &ControlPdu,
    instant: u16,
    event: Option<u16>,
    latency: u16,
    packet: u64,
    findings: &mut Vec<Finding>,
) {
    let Some(event) = event else { return };
    let ahead = instant.wrapping_sub(event);
    let needed = 6 * (u32::from(latency) + 1);
    if ahead >= 32767 {
        findings.push(Finding::new(
            Kind::InstantInPast,
            Some(connection),
            vec![packet],
            format!(
                "{} with instant {instant} was sent in connection event {event}: (instant − event) mod 65536 = {ahead}, so the instant is {} event(s) in the past",
                pdu.name(),
                65536 - u32::from(ahead)
            ),
        ));
    } else if u32::from(ahead) < needed {
        findings.push(Finding::new(
            Kind::InstantTooClose,
            Some(connection),
            vec![packet],
            format!(
                "{} with instant {instant} was sent in connection event {event}, only {ahead} event(s) ahead; with peripheral latency {latency} at least {needed} are needed",
                pdu.name()
            ),
        ));
    }
}
