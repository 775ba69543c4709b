//! The analysis: reads frames in order, tracks connections from a sniffer's or a
//! host's point of view, applies the protocol rules and recovers keys.

pub mod findings;

mod connection;
mod host;
mod pairing;
mod radio;
mod timing;

use std::collections::HashMap;
use std::io::Read;

use crate::bytes::to_hex;
use crate::capture::{CaptureReader, Frame, ReadError};
use crate::codec::frame::{Direction, Packet, Phy, RadioClock, RadioPacket, crc24, decode_frame};
use crate::codec::l2cap::Sdu;
use crate::codec::ll::{
    ADVERTISING_CRC_INIT, AdvPdu, Llid, decode_adv, decode_control, decode_data, local_name,
};
use crate::codec::smp::{SmpPdu, decode_smp};
use crate::crypto::Key128;
use crate::report::{DecryptedPdu, Device, Report, Source, Stats};
use connection::{Conn, LinkParams, describe_sdu};
use findings::{Finding, Kind};
use host::Host;
use pairing::{CrackContext, MicProbe};
use radio::{KeyCandidate, RadioLink};
use timing::EventClock;

/// What the caller wants done besides decoding.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// LTKs to try on encrypted links (most-significant octet first).
    pub ltks: Vec<Key128>,
    /// Brute-force legacy TKs (up to a million AES computations per pairing).
    pub brute_force: bool,
    /// Legacy TKs to check instead (most-significant octet first, as Wireshark
    /// shows them): the 128-bit TK of OOB pairing, or a known passkey.
    pub tks: Vec<Key128>,
}

/// Progress of a long analysis, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Bytes of the capture read so far, and its size.
    Reading { done: u64, total: u64 },
    /// TK candidates tried so far out of a million.
    BruteForce { done: u64, total: u64 },
}

/// Analyses a capture held in memory; see [`analyse_stream`].
pub fn analyse(
    bytes: &[u8],
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, ReadError> {
    analyse_stream(bytes, bytes.len() as u64, options, progress)
}

/// Analyses a capture read as a stream, one record at a time (`total` is its size
/// for progress reports). Fails only when the input is not a capture at all, which
/// shows in its first octets; a fault part-way through is reported in
/// `Report::read_error`.
pub fn analyse_stream(
    input: impl Read,
    total: u64,
    options: &Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, ReadError> {
    let mut reader = CaptureReader::new(input)?;
    let format = reader.format();
    let mut analyzer = Analyzer::new(options, progress);
    let mut read_error = None;
    while let Some(frame) = reader.next() {
        match frame {
            Ok(frame) => analyzer.on_frame(&frame),
            Err(e) => read_error = Some(e),
        }
        if analyzer.packets % 4096 == 0 {
            (analyzer.progress)(Progress::Reading {
                done: reader.bytes_read(),
                total,
            });
        }
    }
    let done = reader.bytes_read();
    (analyzer.progress)(Progress::Reading { done, total });
    Ok(analyzer.finish(format, read_error))
}

/// Unwraps a sniffer's free-running clock into a monotonic microsecond count.
#[derive(Default)]
struct ClockUnwrapper {
    last: Option<u64>,
    offset: u64,
}

impl ClockUnwrapper {
    fn unwrap(&mut self, clock: RadioClock) -> i64 {
        if let Some(last) = self.last
            && clock.micros < last
            && last - clock.micros > clock.wraps_at / 2
        {
            self.offset += clock.wraps_at;
        }
        self.last = Some(clock.micros);
        (self.offset + clock.micros) as i64
    }
}

struct Analyzer<'o, 'p> {
    options: &'o Options,
    progress: &'p mut dyn FnMut(Progress),
    packets: u64,
    /// Latest time of any packet, on the clock the links use.
    last_time_ns: i64,
    link_types: Vec<u32>,
    stats: Stats,
    devices: Vec<Device>,
    conns: Vec<Conn>,
    links: HashMap<u32, RadioLink>,
    host: Host,
    clock: ClockUnwrapper,
    /// LTKs seen in key distribution, for later reconnections.
    learned_ltks: Vec<Key128>,
    tk_cache: HashMap<crate::crack::LegacyExchange, Option<u32>>,
    findings: Vec<Finding>,
}

impl<'o, 'p> Analyzer<'o, 'p> {
    fn new(options: &'o Options, progress: &'p mut dyn FnMut(Progress)) -> Self {
        Analyzer {
            options,
            progress,
            packets: 0,
            last_time_ns: i64::MIN,
            link_types: Vec::new(),
            stats: Stats::default(),
            devices: Vec::new(),
            conns: Vec::new(),
            links: HashMap::new(),
            host: Host::default(),
            clock: ClockUnwrapper::default(),
            learned_ltks: Vec::new(),
            tk_cache: HashMap::new(),
            findings: Vec::new(),
        }
    }

    fn on_frame(&mut self, frame: &Frame) {
        self.packets += 1;
        let link_type = frame.link_type.number();
        if !self.link_types.contains(&link_type) {
            self.link_types.push(link_type);
        }
        match decode_frame(frame) {
            Ok(Packet::Radio(packet)) => self.on_radio(frame, &packet),
            Ok(Packet::Hci(packet)) => {
                if self
                    .host
                    .on_packet(frame, &packet, &mut self.conns, &mut self.findings)
                    .is_err()
                {
                    self.stats.undecodable += 1;
                }
            }
            Ok(Packet::Ignored) => {}
            Err(_) => self.stats.undecodable += 1,
        }
    }

    fn on_radio(&mut self, frame: &Frame, packet: &RadioPacket<'_>) {
        let time_us = match packet.radio_clock {
            Some(clock) => self.clock.unwrap(clock),
            None => frame.timestamp_ns / 1000,
        };
        // Timeouts on a sniffed link run on the sniffer's clock when it has one.
        let time_ns = time_us.saturating_mul(1000);
        self.last_time_ns = self.last_time_ns.max(time_ns);
        if packet.is_advertising() {
            if !self.crc_accepted(packet, Some(ADVERTISING_CRC_INIT)) {
                return;
            }
            self.on_advertising(frame, packet, time_us);
            return;
        }
        let aa = packet.access_address;
        if !self.links.contains_key(&aa) {
            // A connection that started before the capture: no CONNECT_IND, no CRC init.
            self.stats.unknown_access_address += 1;
            let id = self.conns.len();
            let mut conn = Conn::new(id, Source::Radio, frame.number, time_ns);
            conn.access_address = Some(aa);
            self.conns.push(conn);
            self.links.insert(
                aa,
                RadioLink::new(id, None, EventClock::new(None, None, 0, 0)),
            );
        }
        let crc_init = self.links.get(&aa).and_then(|link| link.crc_init);
        let crc_ok = self.crc_accepted(packet, crc_init);
        let Some(link) = self.links.get_mut(&aa) else {
            return;
        };
        // Even a packet received with a bad CRC took its turn in the event.
        let (_, guessed) = link
            .clock
            .observe(time_us, packet.direction, packet.event_counter);
        if !crc_ok {
            return;
        }
        let Ok((header, payload)) = decode_data(packet.pdu) else {
            self.stats.undecodable += 1;
            return;
        };
        let conn = &mut self.conns[link.conn];
        conn.touch(frame.number, time_ns);
        if let Some(phy) = packet.phy {
            // The sniffer received it on this PHY (LE Coded, or 2M from AUX_CONNECT_REQ on).
            *conn.phy.get_mut(guessed) = Some(phy);
        }
        if link.is_retransmission(guessed, packet.pdu[0], payload) {
            self.stats.retransmissions += 1;
            return;
        }
        link.check_procedure_timeouts(conn, time_ns, &mut self.findings);
        if payload.is_empty() {
            return;
        }
        if packet.encrypted == Some(true) {
            // The sniffer saw encryption even where LL_START_ENC_REQ was missed.
            link.encrypting = true;
        }
        let decrypting = link.encrypting && !packet.decrypted;
        let (direction, plaintext) = if packet.decrypted {
            conn.encryption.encrypted_pdus += 1;
            conn.encryption.decrypted_by_sniffer += 1;
            link.opened_by_sniffer(guessed);
            let mic = if packet.mic_appended { 4 } else { 0 };
            (
                guessed,
                payload[..payload.len().saturating_sub(mic)].to_vec(),
            )
        } else if decrypting {
            conn.encryption.encrypted_pdus += 1;
            if link.needs_key() {
                let candidates = key_candidates(
                    self.options,
                    &self.learned_ltks,
                    conn,
                    link,
                    guessed,
                    packet.pdu[0],
                    payload,
                    &mut self.tk_cache,
                    &mut *self.progress,
                );
                if let Some(chosen) = link.choose_key(&candidates, guessed, packet.pdu[0], payload)
                {
                    conn.encryption.key = Some(to_hex(&chosen.key));
                    conn.encryption.key_source = Some(chosen.source.to_string());
                }
            }
            match link.decrypt(guessed, packet.pdu[0], payload) {
                Some(opened) => {
                    conn.encryption.decrypted_pdus += 1;
                    opened
                }
                None => {
                    self.stats.undecrypted += 1;
                    link.blind(guessed);
                    return;
                }
            }
        } else {
            (guessed, payload.to_vec())
        };
        // The nonce (direction bit) or a one-sided PDU can prove the guess wrong.
        let direction = sender_by_content(header.llid, &plaintext).unwrap_or(direction);
        if direction != guessed {
            link.clock.correct(direction);
        }
        let summary = match header.llid {
            Llid::Control => match decode_control(&plaintext) {
                Ok(pdu) => {
                    link.on_control(
                        conn,
                        &pdu,
                        direction,
                        frame.number,
                        time_ns,
                        &mut self.findings,
                    );
                    pdu.name().to_string()
                }
                Err(e) => e.to_string(),
            },
            Llid::Start | Llid::Continuation => {
                match conn.reassemble(
                    Some(direction),
                    header.llid == Llid::Start,
                    &plaintext,
                    frame.number,
                ) {
                    Some(sdu) => {
                        learn_ltk(&sdu, &mut self.learned_ltks);
                        conn.on_sdu(direction, &sdu, time_ns, &mut self.findings);
                        describe_sdu(&sdu)
                    }
                    None => "L2CAP fragment".to_string(),
                }
            }
            Llid::Reserved => "reserved LLID".to_string(),
        };
        if decrypting || packet.decrypted {
            conn.decrypted.push(DecryptedPdu {
                packet: frame.number,
                direction,
                llid: header.llid,
                plaintext: to_hex(&plaintext),
                summary,
            });
        }
    }

    /// The sniffer's CRC verdict where it gives one; else the CRC recomputed where
    /// the octets and the CRC init are known; else the packet is kept and counted
    /// as not checked. Counts the packets it rejects.
    fn crc_accepted(&mut self, packet: &RadioPacket<'_>, crc_init: Option<u32>) -> bool {
        let valid = packet.crc_valid.or_else(|| {
            let (crc, init) = (packet.crc?, crc_init?);
            Some(crc == crc24(init, packet.pdu))
        });
        match valid {
            Some(true) => true,
            Some(false) => {
                self.stats.crc_errors += 1;
                false
            }
            None => {
                self.stats.crc_not_checked += 1;
                true
            }
        }
    }

    fn on_advertising(&mut self, frame: &Frame, packet: &RadioPacket<'_>, time_us: i64) {
        let Ok(pdu) = decode_adv(packet.pdu) else {
            self.stats.undecodable += 1;
            return;
        };
        match pdu {
            AdvPdu::ConnectInd(ind) => {
                let id = self.conns.len();
                let mut conn = Conn::new(
                    id,
                    Source::Radio,
                    frame.number,
                    time_us.saturating_mul(1000),
                );
                conn.access_address = Some(ind.access_address);
                conn.central = Some(ind.initiator);
                conn.peripheral = Some(ind.advertiser);
                let params = LinkParams {
                    interval: ind.interval,
                    latency: ind.latency,
                    timeout: ind.timeout,
                };
                conn.set_params(params, frame.number, &mut self.findings);
                // The same PDU on a secondary channel is AUX_CONNECT_REQ: the
                // connection starts on the PHY it was sent on (Vol 6 Part B §4.5.3).
                let aux_phy = packet
                    .is_secondary_advertising()
                    .then(|| packet.phy.unwrap_or(Phy::Le1M));
                if let Some(phy) = aux_phy {
                    conn.aux_connect_phy = Some(phy);
                    conn.phy.central_to_peripheral = Some(phy);
                    conn.phy.peripheral_to_central = Some(phy);
                }
                self.conns.push(conn);
                let (duration_us, window_delay_us) = connect_timing(aux_phy);
                let clock = EventClock::new(
                    Some(ind.interval),
                    Some(time_us + duration_us),
                    window_delay_us,
                    ind.win_offset,
                );
                self.links.insert(
                    ind.access_address,
                    RadioLink::new(id, Some(ind.crc_init), clock),
                );
            }
            AdvPdu::AdvInd { advertiser, data }
            | AdvPdu::AdvNonconnInd { advertiser, data }
            | AdvPdu::ScanRsp { advertiser, data }
            | AdvPdu::AdvScanInd { advertiser, data } => {
                let name = local_name(data);
                match self.devices.iter_mut().find(|d| d.address == advertiser) {
                    Some(device) => {
                        if device.name.is_none() {
                            device.name = name;
                        }
                    }
                    None => self.devices.push(Device {
                        address: advertiser,
                        name,
                        first_packet: frame.number,
                    }),
                }
            }
            _ => {}
        }
    }

    fn finish(mut self, format: crate::capture::Format, read_error: Option<ReadError>) -> Report {
        if let Some(error) = &read_error {
            self.findings.push(Finding::new(
                Kind::CaptureTruncated,
                None,
                vec![self.packets],
                format!(
                    "reading stopped {error}; {} packet(s) before it were analysed",
                    self.packets
                ),
            ));
        }
        for conn in &mut self.conns {
            conn.infer_supervision_timeout(self.last_time_ns);
            let initiator = conn.central;
            let responder = conn.peripheral;
            let controller_keys = conn.controller_keys.clone();
            for log in &mut conn.pairings {
                let mut report_progress = brute_force_progress(&mut *self.progress);
                log.crack(&mut CrackContext {
                    initiator,
                    responder,
                    controller_keys: &controller_keys,
                    mic_probe: None,
                    brute_force: self.options.brute_force,
                    given_tks: &self.options.tks,
                    tk_cache: &mut self.tk_cache,
                    progress: &mut report_progress,
                });
                let disconnect = conn
                    .disconnect
                    .as_ref()
                    .map(|(d, t)| (d.packet, d.reason, *t));
                self.findings
                    .extend(log.findings(conn.id, disconnect, conn.last_time_ns));
            }
        }
        self.findings
            .sort_by_key(|f| (std::cmp::Reverse(f.severity), f.packets.first().copied()));
        self.stats.direction_unknown = self.host.direction_unknown;
        Report {
            format,
            link_types: self.link_types,
            packets: self.packets,
            read_error,
            stats: self.stats,
            devices: self.devices,
            connections: self.conns.iter().map(Conn::report).collect(),
            findings: self.findings,
        }
    }
}

/// How long the connect PDU lasts on the air and how long after it the transmit
/// window opens (transmitWindowDelay, Vol 6 Part B §4.5.3): CONNECT_IND on LE 1M
/// (`None`), or AUX_CONNECT_REQ on the PHY given. 34 octets of payload: 44 octets
/// with header, access address, CRC and preamble on 1M (1 µs per bit), 45 on 2M
/// (0.5 µs per bit); on Coded S=8, 80 µs preamble, 256 µs access address, 16 + 24
/// µs CI and TERM1, 39 octets at 8 µs per bit and 24 µs TERM2.
fn connect_timing(aux_phy: Option<Phy>) -> (i64, i64) {
    match aux_phy {
        None => (352, 1250),
        Some(Phy::Le1M) => (352, 2500),
        Some(Phy::Le2M) => (180, 2500),
        Some(Phy::LeCoded) => (80 + 256 + 16 + 24 + 39 * 64 + 24, 3750),
    }
}

/// Keys worth trying on the first encrypted PDU of a link, best first. Cracking
/// the latest pairing happens here, at the moment its key is needed.
#[allow(clippy::too_many_arguments)]
fn key_candidates(
    options: &Options,
    learned: &[Key128],
    conn: &mut Conn,
    link: &RadioLink,
    direction: Direction,
    header: u8,
    sealed: &[u8],
    tk_cache: &mut HashMap<crate::crack::LegacyExchange, Option<u32>>,
    progress: &mut dyn FnMut(Progress),
) -> Vec<KeyCandidate> {
    let mut candidates: Vec<KeyCandidate> = options
        .ltks
        .iter()
        .map(|&key| KeyCandidate {
            key,
            source: "ltk (--ltk)",
        })
        .collect();
    let (initiator, responder) = (conn.central, conn.peripheral);
    if let Some(log) = conn.pairings.last_mut().filter(|log| log.failed.is_none()) {
        let check = |stk: &Key128| link.key_opens(stk, direction, header, sealed);
        let mut report_progress = brute_force_progress(progress);
        let recovered = log.crack(&mut CrackContext {
            initiator,
            responder,
            controller_keys: &[],
            mic_probe: Some(MicProbe { check: &check }),
            brute_force: options.brute_force,
            given_tks: &options.tks,
            tk_cache,
            progress: &mut report_progress,
        });
        candidates.extend(recovered.stk.map(|key| KeyCandidate { key, source: "stk" }));
        candidates.extend(recovered.derived_ltk.map(|key| KeyCandidate {
            key,
            source: "ltk (derived)",
        }));
    }
    candidates.extend(learned.iter().map(|&key| KeyCandidate {
        key,
        source: "ltk (distributed)",
    }));
    candidates
}

/// Remembers an LTK handed over in key distribution.
fn learn_ltk(sdu: &Sdu, learned: &mut Vec<Key128>) {
    if sdu.cid == crate::codec::l2cap::CID_SMP
        && let Ok(SmpPdu::EncryptionInformation { ltk }) = decode_smp(&sdu.payload)
        && !learned.contains(&ltk)
    {
        learned.push(ltk);
    }
}

/// The sender of PDUs that only one side may send (Vol 6 Part B §2.4.2 and
/// Vol 3 Part H §3.5): LL procedures the central or the peripheral alone starts,
/// and the SMP Pairing Request, Response and Security Request.
fn sender_by_content(llid: Llid, plaintext: &[u8]) -> Option<Direction> {
    use Direction::*;
    match (llid, plaintext) {
        // CONNECTION_UPDATE_IND, CHANNEL_MAP_IND, ENC_REQ, FEATURE_REQ, PAUSE_ENC_REQ,
        // PHY_UPDATE_IND, CIS_REQ, CIS_IND come from the central.
        (Llid::Control, [0x00 | 0x01 | 0x03 | 0x08 | 0x0a | 0x18 | 0x1f | 0x21, ..]) => {
            Some(CentralToPeripheral)
        }
        // ENC_RSP, START_ENC_REQ, PERIPHERAL_FEATURE_REQ, CONNECTION_PARAM_RSP,
        // MIN_USED_CHANNELS_IND, CIS_RSP come from the peripheral.
        (Llid::Control, [0x04 | 0x05 | 0x0e | 0x10 | 0x19 | 0x20, ..]) => Some(PeripheralToCentral),
        // An L2CAP start on the SMP channel (CID 6).
        (Llid::Start, [_, _, 0x06, 0x00, code, ..]) => match code {
            0x01 => Some(CentralToPeripheral),
            0x02 | 0x0b => Some(PeripheralToCentral),
            _ => None,
        },
        _ => None,
    }
}

/// Forwards a TK search's count of candidates tried as [`Progress::BruteForce`].
fn brute_force_progress(progress: &mut dyn FnMut(Progress)) -> impl FnMut(u64) + '_ {
    |done| {
        progress(Progress::BruteForce {
            done,
            total: u64::from(crate::crack::PASSKEY_COUNT),
        })
    }
}
