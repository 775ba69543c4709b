//! Link-layer PDUs (Core Vol 6 Part B §2.3 and §2.4): advertising-channel PDUs,
//! the data-channel header, and every LL control PDU of Core 5.4.

use serde::Serialize;

use crate::bytes::{DecodeResult, Reader, to_hex};

pub const ADVERTISING_ACCESS_ADDRESS: u32 = 0x8e89_bed6;
/// CRC initial value on the advertising channels.
pub const ADVERTISING_CRC_INIT: u32 = 0x55_5555;

/// A device address, most-significant octet first as it is written for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Address {
    #[serde(rename = "address", serialize_with = "serialize_address")]
    pub bytes: [u8; 6],
    pub random: bool,
}

fn serialize_address<S: serde::Serializer>(bytes: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_address(bytes))
}

pub fn format_address(bytes: &[u8; 6]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Address {
    pub fn read(r: &mut Reader<'_>, random: bool) -> DecodeResult<Address> {
        Ok(Address {
            bytes: r.reversed()?,
            random,
        })
    }

    /// Address type then address, the 7-octet A1/A2 of f5 and f6.
    pub fn typed(&self) -> [u8; 7] {
        let mut out = [0u8; 7];
        out[0] = u8::from(self.random);
        out[1..].copy_from_slice(&self.bytes);
        out
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({})",
            format_address(&self.bytes),
            if self.random { "random" } else { "public" }
        )
    }
}

/// The LLData of CONNECT_IND and AUX_CONNECT_REQ: the new connection's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectInd {
    pub initiator: Address,
    pub advertiser: Address,
    pub access_address: u32,
    pub crc_init: u32,
    /// transmitWindowSize in 1.25 ms units.
    pub win_size: u8,
    /// transmitWindowOffset in 1.25 ms units.
    pub win_offset: u16,
    /// connInterval in 1.25 ms units.
    pub interval: u16,
    pub latency: u16,
    /// connSupervisionTimeout in 10 ms units.
    pub timeout: u16,
    pub channel_map: [u8; 5],
    pub hop: u8,
    pub sca: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvPdu<'a> {
    AdvInd {
        advertiser: Address,
        data: &'a [u8],
    },
    AdvDirectInd {
        advertiser: Address,
        target: Address,
    },
    AdvNonconnInd {
        advertiser: Address,
        data: &'a [u8],
    },
    ScanReq {
        scanner: Address,
        advertiser: Address,
    },
    ScanRsp {
        advertiser: Address,
        data: &'a [u8],
    },
    ConnectInd(ConnectInd),
    AdvScanInd {
        advertiser: Address,
        data: &'a [u8],
    },
    /// ADV_EXT_IND and the AUX_* PDUs share type 7: the common extended header is kept raw.
    Extended {
        payload: &'a [u8],
    },
    AuxConnectRsp {
        payload: &'a [u8],
    },
    Reserved {
        pdu_type: u8,
        payload: &'a [u8],
    },
}

impl AdvPdu<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            AdvPdu::AdvInd { .. } => "ADV_IND",
            AdvPdu::AdvDirectInd { .. } => "ADV_DIRECT_IND",
            AdvPdu::AdvNonconnInd { .. } => "ADV_NONCONN_IND",
            AdvPdu::ScanReq { .. } => "SCAN_REQ",
            AdvPdu::ScanRsp { .. } => "SCAN_RSP",
            AdvPdu::ConnectInd(_) => "CONNECT_IND",
            AdvPdu::AdvScanInd { .. } => "ADV_SCAN_IND",
            AdvPdu::Extended { .. } => "ADV_EXT_IND/AUX",
            AdvPdu::AuxConnectRsp { .. } => "AUX_CONNECT_RSP",
            AdvPdu::Reserved { .. } => "reserved advertising PDU",
        }
    }
}

/// Decodes an advertising-channel PDU (header and payload).
pub fn decode_adv(pdu: &[u8]) -> DecodeResult<AdvPdu<'_>> {
    let mut r = Reader::new("advertising PDU", pdu);
    let header = r.u8()?;
    let length = usize::from(r.u8()?);
    let mut r = Reader::new("advertising PDU payload", r.take(length)?);
    let pdu_type = header & 0x0f;
    let tx_random = header & 0x40 != 0;
    let rx_random = header & 0x80 != 0;
    Ok(match pdu_type {
        0 => AdvPdu::AdvInd {
            advertiser: Address::read(&mut r, tx_random)?,
            data: r.rest(),
        },
        1 => AdvPdu::AdvDirectInd {
            advertiser: Address::read(&mut r, tx_random)?,
            target: Address::read(&mut r, rx_random)?,
        },
        2 => AdvPdu::AdvNonconnInd {
            advertiser: Address::read(&mut r, tx_random)?,
            data: r.rest(),
        },
        3 if length == 12 => AdvPdu::ScanReq {
            scanner: Address::read(&mut r, tx_random)?,
            advertiser: Address::read(&mut r, rx_random)?,
        },
        4 => AdvPdu::ScanRsp {
            advertiser: Address::read(&mut r, tx_random)?,
            data: r.rest(),
        },
        5 => AdvPdu::ConnectInd(connect_ind(r.rest(), tx_random, rx_random)?),
        6 => AdvPdu::AdvScanInd {
            advertiser: Address::read(&mut r, tx_random)?,
            data: r.rest(),
        },
        3 | 7 => AdvPdu::Extended { payload: r.rest() },
        8 => AdvPdu::AuxConnectRsp { payload: r.rest() },
        _ => AdvPdu::Reserved {
            pdu_type,
            payload: r.rest(),
        },
    })
}

fn connect_ind(payload: &[u8], tx_random: bool, rx_random: bool) -> DecodeResult<ConnectInd> {
    let mut r = Reader::new("CONNECT_IND", payload);
    let initiator = Address::read(&mut r, tx_random)?;
    let advertiser = Address::read(&mut r, rx_random)?;
    let access_address = r.u32()?;
    let crc_init = r.u24()?;
    let win_size = r.u8()?;
    let win_offset = r.u16()?;
    let interval = r.u16()?;
    let latency = r.u16()?;
    let timeout = r.u16()?;
    let channel_map = r.array()?;
    let hop_sca = r.u8()?;
    Ok(ConnectInd {
        initiator,
        advertiser,
        access_address,
        crc_init,
        win_size,
        win_offset,
        interval,
        latency,
        timeout,
        channel_map,
        hop: hop_sca & 0x1f,
        sca: hop_sca >> 5,
    })
}

/// The complete or shortened local name in advertising data, if any.
pub fn local_name(mut data: &[u8]) -> Option<String> {
    while let [len, rest @ ..] = data {
        let len = usize::from(*len);
        let (structure, next) = (rest.get(..len)?, &rest[len..]);
        if let [0x08 | 0x09, name @ ..] = structure {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        data = next;
    }
    None
}

/// LLID of a data-channel PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Llid {
    Reserved,
    /// Continuation fragment of an L2CAP message, or an empty PDU.
    Continuation,
    /// Start of an L2CAP message (or a complete one).
    Start,
    Control,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    pub llid: Llid,
    pub nesn: bool,
    pub sn: bool,
    pub more_data: bool,
    pub cte_info: Option<u8>,
    pub length: u8,
}

/// Splits a data-channel PDU into its header and payload.
pub fn decode_data(pdu: &[u8]) -> DecodeResult<(DataHeader, &[u8])> {
    let mut r = Reader::new("LL data PDU", pdu);
    let first = r.u8()?;
    let length = r.u8()?;
    let cte_info = if first & 0x20 != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let payload = r.take(usize::from(length))?;
    let llid = match first & 3 {
        1 => Llid::Continuation,
        2 => Llid::Start,
        3 => Llid::Control,
        _ => Llid::Reserved,
    };
    Ok((
        DataHeader {
            llid,
            nesn: first & 4 != 0,
            sn: first & 8 != 0,
            more_data: first & 0x10 != 0,
            cte_info,
            length,
        },
        payload,
    ))
}

/// Connection parameters requested in LL_CONNECTION_PARAM_REQ/RSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionParams {
    pub interval_min: u16,
    pub interval_max: u16,
    pub latency: u16,
    pub timeout: u16,
    pub preferred_periodicity: u8,
    pub reference_event_count: u16,
    pub offsets: [u16; 6],
}

/// The periodic advertising sync transfer common to LL_PERIODIC_SYNC_IND and
/// LL_PERIODIC_SYNC_WR_IND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodicSync {
    pub id: u16,
    pub sync_info: [u8; 18],
    pub conn_event_count: u16,
    pub last_pa_event_counter: u16,
    pub sid_atype_sca: u8,
    pub phy: u8,
    pub adv_a: [u8; 6],
    pub sync_conn_event_count: u16,
}

/// Data length parameters of LL_LENGTH_REQ/RSP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataLength {
    pub max_rx_octets: u16,
    pub max_rx_time: u16,
    pub max_tx_octets: u16,
    pub max_tx_time: u16,
}

/// Every LL control PDU of Core 5.4 (Vol 6 Part B §2.4.2), fields little-endian
/// decoded; keys and nonces most-significant octet first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "opcode", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ControlPdu {
    ConnectionUpdateInd {
        win_size: u8,
        win_offset: u16,
        interval: u16,
        latency: u16,
        timeout: u16,
        instant: u16,
    },
    ChannelMapInd {
        channel_map: [u8; 5],
        instant: u16,
    },
    TerminateInd {
        error_code: u8,
    },
    EncReq {
        rand: [u8; 8],
        ediv: u16,
        skd_central: [u8; 8],
        iv_central: [u8; 4],
    },
    EncRsp {
        skd_peripheral: [u8; 8],
        iv_peripheral: [u8; 4],
    },
    StartEncReq,
    StartEncRsp,
    UnknownRsp {
        unknown_type: u8,
    },
    FeatureReq {
        features: u64,
    },
    FeatureRsp {
        features: u64,
    },
    PauseEncReq,
    PauseEncRsp,
    VersionInd {
        version: u8,
        company: u16,
        subversion: u16,
    },
    RejectInd {
        error_code: u8,
    },
    PeripheralFeatureReq {
        features: u64,
    },
    ConnectionParamReq(ConnectionParams),
    ConnectionParamRsp(ConnectionParams),
    RejectExtInd {
        reject_opcode: u8,
        error_code: u8,
    },
    PingReq,
    PingRsp,
    LengthReq(DataLength),
    LengthRsp(DataLength),
    PhyReq {
        tx_phys: u8,
        rx_phys: u8,
    },
    PhyRsp {
        tx_phys: u8,
        rx_phys: u8,
    },
    PhyUpdateInd {
        phy_c_to_p: u8,
        phy_p_to_c: u8,
        instant: u16,
    },
    MinUsedChannelsInd {
        phys: u8,
        min_used_channels: u8,
    },
    CteReq {
        min_cte_len: u8,
        cte_type: u8,
    },
    CteRsp,
    PeriodicSyncInd(PeriodicSync),
    ClockAccuracyReq {
        sca: u8,
    },
    ClockAccuracyRsp {
        sca: u8,
    },
    CisReq {
        cig_id: u8,
        cis_id: u8,
        phy_c_to_p: u8,
        phy_p_to_c: u8,
        max_sdu_c_to_p: u16,
        max_sdu_p_to_c: u16,
        sdu_interval_c_to_p: u32,
        sdu_interval_p_to_c: u32,
        max_pdu_c_to_p: u16,
        max_pdu_p_to_c: u16,
        nse: u8,
        sub_interval: u32,
        bn: u8,
        ft_c_to_p: u8,
        ft_p_to_c: u8,
        iso_interval: u16,
        cis_offset_min: u32,
        cis_offset_max: u32,
        conn_event_count: u16,
    },
    CisRsp {
        cis_offset_min: u32,
        cis_offset_max: u32,
        conn_event_count: u16,
    },
    CisInd {
        access_address: u32,
        cis_offset: u32,
        cig_sync_delay: u32,
        cis_sync_delay: u32,
        conn_event_count: u16,
    },
    CisTerminateInd {
        cig_id: u8,
        cis_id: u8,
        error_code: u8,
    },
    PowerControlReq {
        phy: u8,
        delta: i8,
        tx_power: i8,
    },
    PowerControlRsp {
        min_max: u8,
        delta: i8,
        tx_power: i8,
        apr: u8,
    },
    PowerChangeInd {
        phy: u8,
        min_max: u8,
        delta: i8,
        tx_power: i8,
    },
    SubrateReq {
        subrate_factor_min: u16,
        subrate_factor_max: u16,
        max_latency: u16,
        continuation_number: u16,
        timeout: u16,
    },
    SubrateInd {
        subrate_factor: u16,
        subrate_base_event: u16,
        latency: u16,
        continuation_number: u16,
        timeout: u16,
    },
    ChannelReportingInd {
        enable: u8,
        min_spacing: u8,
        max_delay: u8,
    },
    ChannelStatusInd {
        channel_classification: [u8; 10],
    },
    PeriodicSyncWrInd {
        sync: PeriodicSync,
        rsp_aa: [u8; 3],
        num_subevents: u8,
        subevent_interval: u8,
        response_slot_delay: u8,
        response_slot_spacing: u8,
    },
    /// An opcode this decoder does not know, or an encrypted payload read as plaintext.
    Unknown {
        code: u8,
        #[serde(serialize_with = "serialize_hex")]
        params: Vec<u8>,
    },
}

fn serialize_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_hex(bytes))
}

impl ControlPdu {
    /// The opcode octet this PDU is sent with.
    pub fn opcode(&self) -> u8 {
        use ControlPdu::*;
        match self {
            ConnectionUpdateInd { .. } => 0x00,
            ChannelMapInd { .. } => 0x01,
            TerminateInd { .. } => 0x02,
            EncReq { .. } => 0x03,
            EncRsp { .. } => 0x04,
            StartEncReq => 0x05,
            StartEncRsp => 0x06,
            UnknownRsp { .. } => 0x07,
            FeatureReq { .. } => 0x08,
            FeatureRsp { .. } => 0x09,
            PauseEncReq => 0x0a,
            PauseEncRsp => 0x0b,
            VersionInd { .. } => 0x0c,
            RejectInd { .. } => 0x0d,
            PeripheralFeatureReq { .. } => 0x0e,
            ConnectionParamReq(_) => 0x0f,
            ConnectionParamRsp(_) => 0x10,
            RejectExtInd { .. } => 0x11,
            PingReq => 0x12,
            PingRsp => 0x13,
            LengthReq(_) => 0x14,
            LengthRsp(_) => 0x15,
            PhyReq { .. } => 0x16,
            PhyRsp { .. } => 0x17,
            PhyUpdateInd { .. } => 0x18,
            MinUsedChannelsInd { .. } => 0x19,
            CteReq { .. } => 0x1a,
            CteRsp => 0x1b,
            PeriodicSyncInd(_) => 0x1c,
            ClockAccuracyReq { .. } => 0x1d,
            ClockAccuracyRsp { .. } => 0x1e,
            CisReq { .. } => 0x1f,
            CisRsp { .. } => 0x20,
            CisInd { .. } => 0x21,
            CisTerminateInd { .. } => 0x22,
            PowerControlReq { .. } => 0x23,
            PowerControlRsp { .. } => 0x24,
            PowerChangeInd { .. } => 0x25,
            SubrateReq { .. } => 0x26,
            SubrateInd { .. } => 0x27,
            ChannelReportingInd { .. } => 0x28,
            ChannelStatusInd { .. } => 0x29,
            PeriodicSyncWrInd { .. } => 0x2a,
            Unknown { code, .. } => *code,
        }
    }

    pub fn name(&self) -> &'static str {
        control_name(self.opcode())
    }
}

/// The name of an LL control opcode.
pub fn control_name(opcode: u8) -> &'static str {
    CONTROL_NAMES
        .get(usize::from(opcode))
        .copied()
        .unwrap_or("unknown LL control PDU")
}

fn connection_params(r: &mut Reader<'_>) -> DecodeResult<ConnectionParams> {
    Ok(ConnectionParams {
        interval_min: r.u16()?,
        interval_max: r.u16()?,
        latency: r.u16()?,
        timeout: r.u16()?,
        preferred_periodicity: r.u8()?,
        reference_event_count: r.u16()?,
        offsets: [r.u16()?, r.u16()?, r.u16()?, r.u16()?, r.u16()?, r.u16()?],
    })
}

fn periodic_sync(r: &mut Reader<'_>) -> DecodeResult<PeriodicSync> {
    Ok(PeriodicSync {
        id: r.u16()?,
        sync_info: r.array()?,
        conn_event_count: r.u16()?,
        last_pa_event_counter: r.u16()?,
        sid_atype_sca: r.u8()?,
        phy: r.u8()?,
        adv_a: r.reversed()?,
        sync_conn_event_count: r.u16()?,
    })
}

fn data_length(r: &mut Reader<'_>) -> DecodeResult<DataLength> {
    Ok(DataLength {
        max_rx_octets: r.u16()?,
        max_rx_time: r.u16()?,
        max_tx_octets: r.u16()?,
        max_tx_time: r.u16()?,
    })
}

/// Decodes the payload of an LLID 3 PDU. Extra trailing octets are allowed (later
/// versions of the spec may extend a PDU); missing ones are an error.
pub fn decode_control(payload: &[u8]) -> DecodeResult<ControlPdu> {
    use ControlPdu::*;
    let mut opcode = Reader::new("LL control opcode", payload);
    let code = opcode.u8()?;
    let params = opcode.rest();
    let mut r = Reader::new(control_name(code), params);
    let r = &mut r;
    Ok(match code {
        0x00 => ConnectionUpdateInd {
            win_size: r.u8()?,
            win_offset: r.u16()?,
            interval: r.u16()?,
            latency: r.u16()?,
            timeout: r.u16()?,
            instant: r.u16()?,
        },
        0x01 => ChannelMapInd {
            channel_map: r.array()?,
            instant: r.u16()?,
        },
        0x02 => TerminateInd {
            error_code: r.u8()?,
        },
        0x03 => EncReq {
            rand: r.reversed()?,
            ediv: r.u16()?,
            skd_central: r.reversed()?,
            iv_central: r.array()?,
        },
        0x04 => EncRsp {
            skd_peripheral: r.reversed()?,
            iv_peripheral: r.array()?,
        },
        0x05 => StartEncReq,
        0x06 => StartEncRsp,
        0x07 => UnknownRsp {
            unknown_type: r.u8()?,
        },
        0x08 => FeatureReq { features: r.u64()? },
        0x09 => FeatureRsp { features: r.u64()? },
        0x0a => PauseEncReq,
        0x0b => PauseEncRsp,
        0x0c => VersionInd {
            version: r.u8()?,
            company: r.u16()?,
            subversion: r.u16()?,
        },
        0x0d => RejectInd {
            error_code: r.u8()?,
        },
        0x0e => PeripheralFeatureReq { features: r.u64()? },
        0x0f => ConnectionParamReq(connection_params(r)?),
        0x10 => ConnectionParamRsp(connection_params(r)?),
        0x11 => RejectExtInd {
            reject_opcode: r.u8()?,
            error_code: r.u8()?,
        },
        0x12 => PingReq,
        0x13 => PingRsp,
        0x14 => LengthReq(data_length(r)?),
        0x15 => LengthRsp(data_length(r)?),
        0x16 => PhyReq {
            tx_phys: r.u8()?,
            rx_phys: r.u8()?,
        },
        0x17 => PhyRsp {
            tx_phys: r.u8()?,
            rx_phys: r.u8()?,
        },
        0x18 => PhyUpdateInd {
            phy_c_to_p: r.u8()?,
            phy_p_to_c: r.u8()?,
            instant: r.u16()?,
        },
        0x19 => MinUsedChannelsInd {
            phys: r.u8()?,
            min_used_channels: r.u8()?,
        },
        0x1a => {
            let octet = r.u8()?;
            CteReq {
                min_cte_len: octet & 0x1f,
                cte_type: octet >> 6,
            }
        }
        0x1b => CteRsp,
        0x1c => PeriodicSyncInd(periodic_sync(r)?),
        0x1d => ClockAccuracyReq { sca: r.u8()? },
        0x1e => ClockAccuracyRsp { sca: r.u8()? },
        0x1f => CisReq {
            cig_id: r.u8()?,
            cis_id: r.u8()?,
            phy_c_to_p: r.u8()?,
            phy_p_to_c: r.u8()?,
            max_sdu_c_to_p: r.u16()?,
            max_sdu_p_to_c: r.u16()?,
            sdu_interval_c_to_p: r.u24()?,
            sdu_interval_p_to_c: r.u24()?,
            max_pdu_c_to_p: r.u16()?,
            max_pdu_p_to_c: r.u16()?,
            nse: r.u8()?,
            sub_interval: r.u24()?,
            bn: r.u8()?,
            ft_c_to_p: r.u8()?,
            ft_p_to_c: r.u8()?,
            iso_interval: r.u16()?,
            cis_offset_min: r.u24()?,
            cis_offset_max: r.u24()?,
            conn_event_count: r.u16()?,
        },
        0x20 => CisRsp {
            cis_offset_min: r.u24()?,
            cis_offset_max: r.u24()?,
            conn_event_count: r.u16()?,
        },
        0x21 => CisInd {
            access_address: r.u32()?,
            cis_offset: r.u24()?,
            cig_sync_delay: r.u24()?,
            cis_sync_delay: r.u24()?,
            conn_event_count: r.u16()?,
        },
        0x22 => CisTerminateInd {
            cig_id: r.u8()?,
            cis_id: r.u8()?,
            error_code: r.u8()?,
        },
        0x23 => PowerControlReq {
            phy: r.u8()?,
            delta: r.i8()?,
            tx_power: r.i8()?,
        },
        0x24 => PowerControlRsp {
            min_max: r.u8()?,
            delta: r.i8()?,
            tx_power: r.i8()?,
            apr: r.u8()?,
        },
        0x25 => PowerChangeInd {
            phy: r.u8()?,
            min_max: r.u8()?,
            delta: r.i8()?,
            tx_power: r.i8()?,
        },
        0x26 => SubrateReq {
            subrate_factor_min: r.u16()?,
            subrate_factor_max: r.u16()?,
            max_latency: r.u16()?,
            continuation_number: r.u16()?,
            timeout: r.u16()?,
        },
        0x27 => SubrateInd {
            subrate_factor: r.u16()?,
            subrate_base_event: r.u16()?,
            latency: r.u16()?,
            continuation_number: r.u16()?,
            timeout: r.u16()?,
        },
        0x28 => ChannelReportingInd {
            enable: r.u8()?,
            min_spacing: r.u8()?,
            max_delay: r.u8()?,
        },
        0x29 => ChannelStatusInd {
            channel_classification: r.array()?,
        },
        0x2a => PeriodicSyncWrInd {
            sync: periodic_sync(r)?,
            rsp_aa: r.array()?,
            num_subevents: r.u8()?,
            subevent_interval: r.u8()?,
            response_slot_delay: r.u8()?,
            response_slot_spacing: r.u8()?,
        },
        _ => Unknown {
            code,
            params: params.to_vec(),
        },
    })
}

/// Opcode names, indexed by opcode, for error messages.
const CONTROL_NAMES: [&str; 0x2b] = [
    "LL_CONNECTION_UPDATE_IND",
    "LL_CHANNEL_MAP_IND",
    "LL_TERMINATE_IND",
    "LL_ENC_REQ",
    "LL_ENC_RSP",
    "LL_START_ENC_REQ",
    "LL_START_ENC_RSP",
    "LL_UNKNOWN_RSP",
    "LL_FEATURE_REQ",
    "LL_FEATURE_RSP",
    "LL_PAUSE_ENC_REQ",
    "LL_PAUSE_ENC_RSP",
    "LL_VERSION_IND",
    "LL_REJECT_IND",
    "LL_PERIPHERAL_FEATURE_REQ",
    "LL_CONNECTION_PARAM_REQ",
    "LL_CONNECTION_PARAM_RSP",
    "LL_REJECT_EXT_IND",
    "LL_PING_REQ",
    "LL_PING_RSP",
    "LL_LENGTH_REQ",
    "LL_LENGTH_RSP",
    "LL_PHY_REQ",
    "LL_PHY_RSP",
    "LL_PHY_UPDATE_IND",
    "LL_MIN_USED_CHANNELS_IND",
    "LL_CTE_REQ",
    "LL_CTE_RSP",
    "LL_PERIODIC_SYNC_IND",
    "LL_CLOCK_ACCURACY_REQ",
    "LL_CLOCK_ACCURACY_RSP",
    "LL_CIS_REQ",
    "LL_CIS_RSP",
    "LL_CIS_IND",
    "LL_CIS_TERMINATE_IND",
    "LL_POWER_CONTROL_REQ",
    "LL_POWER_CONTROL_RSP",
    "LL_POWER_CHANGE_IND",
    "LL_SUBRATE_REQ",
    "LL_SUBRATE_IND",
    "LL_CHANNEL_REPORTING_IND",
    "LL_CHANNEL_STATUS_IND",
    "LL_PERIODIC_SYNC_WR_IND",
];
