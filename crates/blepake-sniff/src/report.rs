//! What the analysis returns: plain data, serialisable as the `--json` output
//! (its schema is documented in the crate README). Keys and nonces are hex strings,
//! most-significant octet first as the Core specification prints them.

use serde::Serialize;

use crate::analysis::findings::{Finding, Severity};
use crate::capture::{Format, ReadError};
use crate::codec::frame::{Direction, Phy};
use crate::codec::ll::{Address, Llid};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: Format,
    /// Link types seen (pcap LINKTYPE or btsnoop datalink numbers).
    pub link_types: Vec<u32>,
    /// Records read from the file.
    pub packets: u64,
    /// The structural fault that stopped reading, if any.
    pub read_error: Option<ReadError>,
    /// Statistics about packets that could not be used.
    pub stats: Stats,
    pub devices: Vec<Device>,
    pub connections: Vec<Connection>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// The highest severity among the findings.
    pub fn worst_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Frames whose link-layer framing or PDU could not be decoded.
    pub undecodable: u64,
    /// Radio packets whose CRC did not match, by the sniffer's verdict or
    /// recomputed (dropped from the analysis).
    pub crc_errors: u64,
    /// Radio packets whose CRC nobody could check: the sniffer gave no verdict
    /// and the CRC octets or the CRC init are unknown (kept in the analysis).
    pub crc_not_checked: u64,
    /// Link-layer retransmissions recognised and skipped.
    pub retransmissions: u64,
    /// Data packets on access addresses never announced by a CONNECT_IND.
    pub unknown_access_address: u64,
    /// Encrypted PDUs that no known key could decrypt.
    pub undecrypted: u64,
    /// L2CAP messages from an HCI log that records no directions (LINKTYPE
    /// 187) whose sender neither their content nor their place in a pairing
    /// shows (ATT above all): not analysed.
    pub direction_unknown: u64,
}

/// A device seen advertising.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub address: Address,
    pub name: Option<String>,
    pub first_packet: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A link-layer sniffer saw the air.
    Radio,
    /// A host logged its HCI traffic.
    Hci,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub id: usize,
    pub source: Source,
    /// Hex access address (radio captures).
    pub access_address: Option<String>,
    /// HCI connection handle (host logs).
    pub handle: Option<u16>,
    pub central: Option<Address>,
    pub peripheral: Option<Address>,
    pub first_packet: u64,
    pub last_packet: u64,
    /// Parameters in force at the end of the capture.
    pub parameters: Option<Parameters>,
    /// The PHY in use at the end of the capture, each way.
    pub phy: PhyPair,
    /// The connection was made by an AUX_CONNECT_REQ (extended advertising)
    /// sent on this PHY, and started on it.
    pub aux_connect_phy: Option<Phy>,
    pub att_mtu: Option<u16>,
    pub features: SidePair<String>,
    pub versions: SidePair<Version>,
    pub encryption: Encryption,
    pub pairings: Vec<Pairing>,
    pub disconnect: Option<Disconnect>,
    /// PDUs recovered by decryption.
    pub decrypted: Vec<DecryptedPdu>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Parameters {
    pub interval_ms: f64,
    pub latency: u16,
    pub timeout_ms: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PhyPair {
    pub central_to_peripheral: Option<Phy>,
    pub peripheral_to_central: Option<Phy>,
}

impl PhyPair {
    pub fn get_mut(&mut self, direction: Direction) -> &mut Option<Phy> {
        match direction {
            Direction::CentralToPeripheral => &mut self.central_to_peripheral,
            Direction::PeripheralToCentral => &mut self.peripheral_to_central,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SidePair<T> {
    pub central: Option<T>,
    pub peripheral: Option<T>,
}

impl<T> Default for SidePair<T> {
    fn default() -> Self {
        SidePair {
            central: None,
            peripheral: None,
        }
    }
}

impl<T> SidePair<T> {
    pub fn get_mut(&mut self, direction: Direction) -> &mut Option<T> {
        match direction {
            Direction::CentralToPeripheral => &mut self.central,
            Direction::PeripheralToCentral => &mut self.peripheral,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// Core specification version, e.g. "4.2".
    pub core: String,
    pub company: u16,
    pub subversion: u16,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Encryption {
    /// Encryption was started at least once.
    pub started: bool,
    /// Encrypted PDUs seen, how many this analysis decrypted, and how many the
    /// sniffer had already decrypted (LINKTYPE 256 and 272 flags).
    pub encrypted_pdus: u64,
    pub decrypted_pdus: u64,
    pub decrypted_by_sniffer: u64,
    /// The key the link was encrypted with, when known (hex).
    pub key: Option<String>,
    /// Where that key came from: "stk", "ltk (--ltk)", "ltk (distributed)", "ltk (derived)", "hci".
    pub key_source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    JustWorks,
    PasskeyEntry,
    NumericComparison,
    Oob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Initiator,
    Responder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Keys were generated (and encryption started, where the capture shows it).
    Completed,
    Failed,
    /// The capture ends or the link drops before the pairing finishes.
    Incomplete,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pairing {
    pub first_packet: u64,
    pub last_packet: u64,
    pub secure_connections: bool,
    pub method: Option<Method>,
    /// In passkey entry, the device whose passkey is entered on the other one.
    pub passkey_shown_by: Option<Role>,
    pub initiator_io: Option<&'static str>,
    pub responder_io: Option<&'static str>,
    pub bonding: bool,
    pub outcome: Outcome,
    pub failure: Option<PairingFailure>,
    /// Which side used the SMP debug key.
    pub debug_key: Vec<Role>,
    /// Passkey recovered from a passive capture (decimal, 6 digits).
    pub passkey: Option<String>,
    /// Passkey-entry rounds whose bit was recovered.
    pub passkey_rounds: usize,
    /// Passkey bits learned from a failed or partly captured attempt.
    pub learned_bits: Option<LearnedBits>,
    /// Passkey-entry rounds (0-based) whose bit the capture does not show: both
    /// sides' confirm or random were missed.
    pub passkey_gaps: Vec<usize>,
    /// Numeric comparison: the six digits both devices displayed (g2).
    pub numeric_comparison: Option<String>,
    /// Legacy pairing: the TK as a decimal passkey, when it is one (a TK of at
    /// most 999999, as passkey entry and Just Works use).
    pub tk: Option<String>,
    /// The TK in hex, most-significant octet first (the form `--tk` takes).
    pub tk_hex: Option<String>,
    /// How the TK was found: "brute force" or "--tk".
    pub tk_source: Option<&'static str>,
    /// Whose Pairing Confirm proved the TK: the TK that side used. When the
    /// pairing failed, the other side's TK (the passkey it showed) may differ.
    pub tk_of: Option<Role>,
    /// TKs were given with --tk and none of them matches this pairing.
    pub given_tk_rejected: bool,
    /// Legacy out-of-band pairing: its TK is 128 bits of OOB data, which no
    /// brute force reaches; it is needed (--tk) for the STK and the keys.
    pub oob_tk_needed: bool,
    /// Legacy pairing: the STK (hex).
    pub stk: Option<String>,
    /// LE Secure Connections: the LTK derived from a known private key (hex).
    pub derived_ltk: Option<String>,
    /// Keys handed over in the key distribution phase.
    pub distributed: Vec<DistributedKey>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairingFailure {
    pub packet: u64,
    pub sent_by: Role,
    pub reason: u8,
    pub reason_text: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct LearnedBits {
    /// Whose passkey the bits belong to.
    pub owner: Role,
    /// How many bits are known.
    pub count: u32,
    /// Which bits are known (bit i from round i).
    pub mask: u32,
    /// Their value.
    pub value: u32,
    /// Passkeys 000000..999999 still consistent with them.
    pub candidates: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DistributedKey {
    pub packet: u64,
    pub sent_by: Role,
    /// "ltk", "ediv_rand", "irk", "identity_address", "csrk".
    pub kind: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Disconnect {
    pub packet: u64,
    pub reason: u8,
    pub reason_text: &'static str,
    /// Not on the air: the sniffer heard nothing more on the link for longer than
    /// its supervision timeout while it went on capturing (reason 0x08).
    pub inferred: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecryptedPdu {
    pub packet: u64,
    pub direction: Direction,
    pub llid: Llid,
    /// Plaintext payload (hex).
    pub plaintext: String,
    /// What the plaintext decodes to.
    pub summary: String,
}

/// A Core specification version from the LL/HCI version number.
pub fn core_version_name(version: u8) -> String {
    match version {
        6 => "4.0".into(),
        7 => "4.1".into(),
        8 => "4.2".into(),
        9 => "5.0".into(),
        10 => "5.1".into(),
        11 => "5.2".into(),
        12 => "5.3".into(),
        13 => "5.4".into(),
        14 => "6.0".into(),
        15 => "6.1".into(),
        other => format!("unknown ({other})"),
    }
}
