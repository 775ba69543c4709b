//! The per-link-type framing in front of the Bluetooth bytes: PPI with Ubertooth's
//! BTLE field, the LE radio header of 256, the nRF Sniffer header of 272, the
//! H4 direction header of 201, btsnoop record flags and the Linux monitor header.
//! Each frame becomes either a radio packet (the link layer as seen by a sniffer)
//! or an HCI packet (as seen by a host).

use serde::Serialize;

use super::ll::ADVERTISING_ACCESS_ADDRESS;
use crate::bytes::{DecodeError, DecodeResult, Reader};
use crate::capture::{Frame, LinkType};

/// Who sent a link-layer data PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    CentralToPeripheral,
    PeripheralToCentral,
}

impl Direction {
    /// 0 for the central's transmissions, 1 for the peripheral's: an index into per-side state.
    pub fn index(self) -> usize {
        match self {
            Direction::CentralToPeripheral => 0,
            Direction::PeripheralToCentral => 1,
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::CentralToPeripheral => Direction::PeripheralToCentral,
            Direction::PeripheralToCentral => Direction::CentralToPeripheral,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phy {
    #[serde(rename = "1M")]
    Le1M,
    #[serde(rename = "2M")]
    Le2M,
    #[serde(rename = "Coded")]
    LeCoded,
}

impl Phy {
    fn from_code(code: u8) -> Option<Phy> {
        match code {
            0 => Some(Phy::Le1M),
            1 => Some(Phy::Le2M),
            2 => Some(Phy::LeCoded),
            _ => None,
        }
    }
}

/// A link-layer packet as a sniffer received it.
#[derive(Debug, Clone)]
pub struct RadioPacket<'a> {
    pub access_address: u32,
    /// PDU header and payload (the CTEInfo octet included when present).
    pub pdu: &'a [u8],
    /// The three CRC octets as received, when the capture kept them.
    pub crc: Option<[u8; 3]>,
    /// The sniffer's own verdict on the CRC, when it gives one.
    pub crc_valid: Option<bool>,
    /// The channel index (Vol 6 Part B §1.4.1): 37 to 39 are the primary
    /// advertising channels, 0 to 36 the data and secondary advertising ones.
    pub channel: Option<u8>,
    pub rssi: Option<i8>,
    /// Time of the packet on the sniffer's own clock, when it has one finer or
    /// more trustworthy than the capture timestamp.
    pub radio_clock: Option<RadioClock>,
    /// The connection event counter, when the sniffer reports it (nRF Sniffer).
    pub event_counter: Option<u16>,
    pub direction: Option<Direction>,
    /// The sniffer already decrypted the payload: it is plaintext.
    pub decrypted: bool,
    /// The 4 MIC octets still follow a payload the sniffer decrypted.
    pub mic_appended: bool,
    /// The sniffer says whether the PDU was encrypted on the air.
    pub encrypted: Option<bool>,
    pub phy: Option<Phy>,
}

impl<'a> RadioPacket<'a> {
    fn new(access_address: u32, pdu: &'a [u8], crc: Option<[u8; 3]>) -> Self {
        RadioPacket {
            access_address,
            pdu,
            crc,
            crc_valid: None,
            channel: None,
            rssi: None,
            radio_clock: None,
            event_counter: None,
            direction: None,
            decrypted: false,
            mic_appended: false,
            encrypted: None,
            phy: None,
        }
    }

    pub fn is_advertising(&self) -> bool {
        self.access_address == ADVERTISING_ACCESS_ADDRESS
    }

    /// An advertising-channel PDU sent on a secondary advertising channel (or
    /// on a PHY only those use): extended advertising's AUX_* PDUs.
    pub fn is_secondary_advertising(&self) -> bool {
        self.is_advertising()
            && (self.channel.is_some_and(|c| c < 37)
                || matches!(self.phy, Some(Phy::Le2M | Phy::LeCoded)))
    }
}

/// A reading of a sniffer's free-running clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RadioClock {
    pub micros: u64,
    /// The clock wraps to 0 at this many microseconds.
    pub wraps_at: u64,
}

/// Direction of an HCI packet across the host-controller interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HciDirection {
    HostToController,
    ControllerToHost,
}

/// H4 packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HciKind {
    Command,
    Acl,
    Sco,
    Event,
    Iso,
}

impl HciKind {
    fn from_h4(indicator: u8) -> Option<HciKind> {
        match indicator {
            1 => Some(HciKind::Command),
            2 => Some(HciKind::Acl),
            3 => Some(HciKind::Sco),
            4 => Some(HciKind::Event),
            5 => Some(HciKind::Iso),
            _ => None,
        }
    }

    /// Commands go down and events come up whatever the log says.
    fn implied_direction(self) -> Option<HciDirection> {
        match self {
            HciKind::Command => Some(HciDirection::HostToController),
            HciKind::Event => Some(HciDirection::ControllerToHost),
            _ => None,
        }
    }
}

/// An HCI packet as a host logged it.
#[derive(Debug, Clone)]
pub struct HciPacket<'a> {
    /// Controller index (btmon logs several controllers in one file).
    pub controller: u16,
    pub kind: HciKind,
    pub direction: Option<HciDirection>,
    pub data: &'a [u8],
}

#[derive(Debug, Clone)]
pub enum Packet<'a> {
    Radio(RadioPacket<'a>),
    Hci(HciPacket<'a>),
    /// Nothing to analyse: btmon notes and index events, unknown link types.
    Ignored,
}

/// Strips the framing of one captured frame.
pub fn decode_frame(frame: &Frame) -> DecodeResult<Packet<'_>> {
    match frame.link_type {
        LinkType::LeLl => le_ll(&frame.data).map(Packet::Radio),
        LinkType::LeLlWithPhdr => le_ll_with_phdr(&frame.data).map(Packet::Radio),
        LinkType::Ppi => ppi(&frame.data),
        LinkType::NordicBle => nordic_ble(&frame.data).map(Packet::Radio),
        LinkType::H4 => h4(&frame.data, None),
        LinkType::H4WithPhdr => {
            let mut r = Reader::new("H4 direction header", &frame.data);
            let direction = u32::from_be_bytes(r.array()?);
            h4(
                r.rest(),
                Some(if direction & 1 == 0 {
                    HciDirection::HostToController
                } else {
                    HciDirection::ControllerToHost
                }),
            )
        }
        LinkType::BtsnoopH4 => h4(&frame.data, Some(btsnoop_direction(frame.flags))),
        LinkType::BtsnoopHci => {
            let kind = match (frame.flags & 2 != 0, frame.flags & 1 != 0) {
                (true, false) => HciKind::Command,
                (true, true) => HciKind::Event,
                (false, _) => HciKind::Acl,
            };
            Ok(Packet::Hci(HciPacket {
                controller: 0,
                kind,
                direction: Some(btsnoop_direction(frame.flags)),
                data: &frame.data,
            }))
        }
        LinkType::BtsnoopMonitor => Ok(monitor(
            frame.flags as u16,
            (frame.flags >> 16) as u16,
            &frame.data,
        )),
        LinkType::LinuxMonitor => {
            let mut r = Reader::new("Linux monitor header", &frame.data);
            let index = u16::from_be_bytes(r.array()?);
            let opcode = u16::from_be_bytes(r.array()?);
            Ok(monitor(opcode, index, r.rest()))
        }
        LinkType::Other(_) => Ok(Packet::Ignored),
    }
}

fn btsnoop_direction(flags: u32) -> HciDirection {
    if flags & 1 == 0 {
        HciDirection::HostToController
    } else {
        HciDirection::ControllerToHost
    }
}

/// The access address, PDU and CRC of an LE packet (LINKTYPE 251 layout).
fn le_ll(data: &[u8]) -> DecodeResult<RadioPacket<'_>> {
    le_packet(data, false)
}

/// An LE packet from the access address on. On LE Coded PHY the coding indicator
/// (CI) octet, sent between the access address and the PDU, may be kept there.
fn le_packet(data: &[u8], coding_indicator: bool) -> DecodeResult<RadioPacket<'_>> {
    let mut r = Reader::new("LE link-layer packet", data);
    let access_address = r.u32()?;
    if coding_indicator {
        r.u8()?;
    }
    let pdu_start = r.position();
    let body = r.rest();
    let [first, length] = Reader::new("LE PDU header", body).array()?;
    let cte_info = usize::from(access_address != ADVERTISING_ACCESS_ADDRESS && first & 0x20 != 0);
    let pdu_len = 2 + cte_info + usize::from(length);
    match body.len().checked_sub(pdu_len) {
        Some(3..) => {
            let crc = [body[pdu_len], body[pdu_len + 1], body[pdu_len + 2]];
            Ok(RadioPacket::new(
                access_address,
                &body[..pdu_len],
                Some(crc),
            ))
        }
        Some(0) => Ok(RadioPacket::new(access_address, body, None)),
        _ => Err(DecodeError {
            what: "LE PDU",
            offset: pdu_start + body.len(),
            missing: pdu_len + 3 - body.len(),
        }),
    }
}

/// LINKTYPE 256: a 10-octet radio header, then the 251 layout, with the coding
/// indicator octet after the access address when the header says LE Coded.
fn le_ll_with_phdr(data: &[u8]) -> DecodeResult<RadioPacket<'_>> {
    let mut r = Reader::new("LE radio header", data);
    let channel = r.u8()?;
    let signal = r.i8()?;
    let _noise = r.i8()?;
    let _offenses = r.u8()?;
    let _reference_access_address = r.u32()?;
    let flags = r.u16()?;
    let phy = Phy::from_code((flags >> 14) as u8);
    let mut packet = le_packet(r.rest(), phy == Some(Phy::LeCoded))?;
    // The header gives the RF channel (2402 + 2k MHz).
    packet.channel = (channel < 40).then(|| rf_channel_to_index(channel));
    packet.rssi = (flags & 0x0002 != 0).then_some(signal);
    // Decrypted (0x0008), MIC checked (0x1000), MIC valid (0x2000): a checked MIC
    // still follows the plaintext; a packet whose MIC failed is left as sent.
    let mic_checked = flags & 0x1000 != 0;
    let mic_valid = flags & 0x2000 != 0;
    packet.decrypted = flags & 0x0008 != 0 && (!mic_checked || mic_valid);
    packet.mic_appended = packet.decrypted && mic_checked;
    packet.encrypted = (flags & 0x0008 != 0 || mic_checked).then_some(true);
    packet.direction = match (flags >> 7) & 7 {
        2 => Some(Direction::CentralToPeripheral),
        3 => Some(Direction::PeripheralToCentral),
        _ => None,
    };
    // CRC checked (0x0400) and CRC valid (0x0800): the sniffer's verdict, which
    // stands even where the CRC octets were not kept (some tools zero them).
    packet.crc_valid = (flags & 0x0400 != 0).then_some(flags & 0x0800 != 0);
    packet.phy = phy;
    Ok(packet)
}

const PPI_FIELD_BTLE: u16 = 30006;
const DLT_BTLE_UBERTOOTH: u32 = 147;

/// LINKTYPE 192: Per-Packet Information. Ubertooth writes one BTLE field (channel in
/// MHz, a 100 ns clock, RSSI) and then the packet in the 147 layout, which is 251's.
fn ppi(data: &[u8]) -> DecodeResult<Packet<'_>> {
    let mut r = Reader::new("PPI header", data);
    let _version = r.u8()?;
    let _flags = r.u8()?;
    let header_len = usize::from(r.u16()?);
    let inner = r.u32()?;
    let header = data.get(..header_len).ok_or(DecodeError {
        what: "PPI header",
        offset: 8,
        missing: header_len.saturating_sub(data.len()),
    })?;
    if header_len < 8 {
        return Err(DecodeError {
            what: "PPI header length",
            offset: 2,
            missing: 8 - header_len,
        });
    }
    let mut fields = Reader::new("PPI field", &header[8..]);
    let mut btle = None;
    while fields.remaining() > 0 {
        let kind = fields.u16()?;
        let len = usize::from(fields.u16()?);
        let body = fields.take(len)?;
        if kind == PPI_FIELD_BTLE {
            btle = Some(body);
        }
    }
    let payload = &data[header_len..];
    let mut packet = match inner {
        DLT_BTLE_UBERTOOTH | 251 => le_ll(payload)?,
        256 => le_ll_with_phdr(payload)?,
        _ => return Ok(Packet::Ignored),
    };
    if let Some(body) = btle {
        let mut f = Reader::new("PPI BTLE field", body);
        let _version = f.u8()?;
        let mhz = f.u16()?;
        let _clkn_high = f.u8()?;
        let clk_100ns = f.u32()?;
        let rssi_max = f.i8()?;
        packet.channel = mhz
            .checked_sub(2402)
            .map(|offset| rf_channel_to_index((offset / 2) as u8));
        packet.radio_clock = Some(RadioClock {
            micros: u64::from(clk_100ns) / 10,
            wraps_at: (1 << 32) / 10,
        });
        packet.rssi = Some(rssi_max);
    }
    Ok(Packet::Radio(packet))
}

/// RF channel 0..39 (2402 + 2k MHz) to the channel index of Vol 6 Part B §1.4.1.
fn rf_channel_to_index(rf: u8) -> u8 {
    match rf {
        0 => 37,
        12 => 38,
        39 => 39,
        1..=11 => rf - 1,
        _ => rf - 2,
    }
}

/// LINKTYPE 272: the nRF Sniffer header, protocol versions 0 (0xBEEF marker) to 3.
fn nordic_ble(data: &[u8]) -> DecodeResult<RadioPacket<'_>> {
    let mut r = Reader::new("nRF Sniffer header", data);
    let version = if data.starts_with(&[0xbe, 0xef]) {
        r.take(2)?;
        r.u8()?; // packet id
        r.u16()?; // packet counter
        r.u16()?; // unused
        r.u8()?; // payload length
        0
    } else {
        r.u8()?; // board id
        let version = data.get(3).copied().unwrap_or(0);
        if version == 1 {
            r.u8()?; // header length
            r.u8()?; // payload length
        } else {
            r.u16()?; // payload length
        }
        r.u8()?; // protocol version
        r.u16()?; // packet counter
        r.u8()?; // packet id
        version
    };
    // The event header is 10 octets with its length octet; version 0 omits that octet.
    let event_header_len = if version == 0 {
        9
    } else {
        usize::from(r.u8()?).saturating_sub(1)
    };
    let event_header = r.take(event_header_len)?;
    let mut e = Reader::new("nRF Sniffer event header", event_header);
    let flags = e.u8()?;
    let channel = e.u8()?;
    let rssi = e.u8()?;
    let event_counter = e.u16()?;
    let time = e.u32()?;
    let mut packet = le_ll(r.rest())?;
    packet.crc_valid = Some(flags & 1 != 0);
    packet.channel = Some(channel);
    packet.rssi = Some(0i8.saturating_sub_unsigned(rssi));
    packet.phy = Phy::from_code((flags >> 4) & 7);
    if !packet.is_advertising() {
        packet.direction = Some(if flags & 2 != 0 {
            Direction::CentralToPeripheral
        } else {
            Direction::PeripheralToCentral
        });
        packet.event_counter = Some(event_counter);
        // Encrypted (0x04) and MIC OK (0x08): the sniffer followed the encryption and
        // decrypted it, the MIC octets left after the plaintext. Encrypted with a bad
        // MIC: the payload is as sent, for a key the sniffer did not have.
        packet.encrypted = Some(flags & 0x04 != 0);
        packet.decrypted = flags & 0x0c == 0x0c;
        packet.mic_appended = packet.decrypted;
    }
    // Version 3 stamps the packet start with the firmware clock; older versions give only a delta.
    packet.radio_clock = (version >= 3).then_some(RadioClock {
        micros: u64::from(time),
        wraps_at: 1 << 32,
    });
    Ok(packet)
}

fn h4(data: &[u8], direction: Option<HciDirection>) -> DecodeResult<Packet<'_>> {
    let mut r = Reader::new("H4 packet type", data);
    let indicator = r.u8()?;
    Ok(match HciKind::from_h4(indicator) {
        Some(kind) => Packet::Hci(HciPacket {
            controller: 0,
            kind,
            direction: direction.or(kind.implied_direction()),
            data: r.rest(),
        }),
        None => Packet::Ignored,
    })
}

/// Linux monitor opcodes 2..7 and 18, 19 carry HCI traffic; the rest are notes.
fn monitor(opcode: u16, index: u16, data: &[u8]) -> Packet<'_> {
    let (kind, direction) = match opcode {
        2 => (HciKind::Command, HciDirection::HostToController),
        3 => (HciKind::Event, HciDirection::ControllerToHost),
        4 => (HciKind::Acl, HciDirection::HostToController),
        5 => (HciKind::Acl, HciDirection::ControllerToHost),
        6 => (HciKind::Sco, HciDirection::HostToController),
        7 => (HciKind::Sco, HciDirection::ControllerToHost),
        18 => (HciKind::Iso, HciDirection::HostToController),
        19 => (HciKind::Iso, HciDirection::ControllerToHost),
        _ => return Packet::Ignored,
    };
    Packet::Hci(HciPacket {
        controller: index,
        kind,
        direction: Some(direction),
        data,
    })
}

/// The CRC-24 of an LE PDU (Vol 6 Part B §3.1.1), as the three octets sent on air.
/// `crc_init` is 0x555555 on advertising channels, else the CONNECT_IND's CRCInit.
pub fn crc24(crc_init: u32, pdu: &[u8]) -> [u8; 3] {
    // The LFSR is kept bit-reversed so that octets can be fed in least-significant bit first.
    let mut state = crc_init.reverse_bits() >> 8;
    for &byte in pdu {
        let mut byte = byte;
        for _ in 0..8 {
            let feedback = (state ^ u32::from(byte)) & 1;
            byte >>= 1;
            state >>= 1;
            if feedback != 0 {
                state |= 1 << 23;
                state ^= 0x5a_6000;
            }
        }
    }
    let [a, b, c, _] = state.to_le_bytes();
    [a, b, c]
}
