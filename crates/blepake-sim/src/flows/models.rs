//! Message flows of well-known BLE pairing protocols, from connection to the
//! first byte that can be sent protected. Sizes come from the specifications
//! and reference implementations cited next to them; where a protocol carries
//! messages in its own segments (BTP, HAP-BLE PDUs), the flow lists the
//! segments as the GATT values they become.

use super::Flow;
use crate::{Op, Role};

/// The four models at one ATT MTU (only Matter and HomeKit segment by MTU;
/// the ESP flow's long writes and reads follow the link's MTU by themselves).
pub fn all(att_mtu: u16) -> Vec<Flow> {
    vec![
        matter_pase(att_mtu),
        esp_protocomm_sec2(),
        hap_pair_setup(att_mtu),
        le_sc_passkey(),
    ]
}

/// The largest GATT value that fits one ATT PDU at `att_mtu`, taken within
/// the MTU range ATT allows.
fn max_att_value(att_mtu: u16) -> usize {
    usize::from(att_mtu.clamp(23, 517)) - 3
}

// ---------------------------------------------------------------------------
// Matter PASE over BTP

/// Matter message header of an unsecured session (Matter Core 1.3 §4.4.1):
/// flags 1, session ID 2, security flags 1, counter 4, plus the 8-byte
/// ephemeral initiator node ID as source (initiator) or destination
/// (responder) (§4.13.2.1).
const MATTER_MESSAGE_HEADER_LEN: usize = 8 + 8;
/// Matter protocol header (§4.4.3): exchange flags, opcode, exchange ID 2,
/// protocol ID 2. No acknowledged-counter: MRP is not used over BTP, which is
/// reliable itself.
const MATTER_PROTOCOL_HEADER_LEN: usize = 6;
/// Both headers, in front of every PASE message.
pub const MATTER_HEADERS_LEN: usize = MATTER_MESSAGE_HEADER_LEN + MATTER_PROTOCOL_HEADER_LEN;

/// The PASE messages (Matter Core 1.3 §4.14.1): sender, name, bytes on BTP.
/// PBKDFParamRequest (79 B of TLV with initiator session parameters) and
/// PBKDFParamResponse (118 B of TLV, 32-byte salt, no responder session
/// parameters) are given with their headers; Pake1 (pA, 70 B of TLV), Pake2
/// (pB and cB, 105 B), Pake3 (cA, 37 B) and the StatusReport (8 B) get them added.
pub const PASE_MESSAGES: [(Role, &str, usize); 6] = [
    (Role::Central, "PBKDFParamRequest", 101),
    (Role::Peripheral, "PBKDFParamResponse", 140),
    (Role::Central, "Pake1", 70 + MATTER_HEADERS_LEN),
    (Role::Peripheral, "Pake2", 105 + MATTER_HEADERS_LEN),
    (Role::Central, "Pake3", 37 + MATTER_HEADERS_LEN),
    (Role::Peripheral, "StatusReport", 8 + MATTER_HEADERS_LEN),
];

/// BTP handshake request (Matter Core 1.3 §4.19.4.3): flags, opcode, 4 bytes
/// of supported versions, ATT MTU 2, window size.
pub const BTP_HANDSHAKE_REQUEST_LEN: usize = 9;
/// BTP handshake response: flags, opcode, version, segment size 2, window size.
pub const BTP_HANDSHAKE_RESPONSE_LEN: usize = 6;
/// The value written to C2's CCCD to subscribe to indications.
const CCCD_LEN: usize = 2;
/// Largest BTP segment (connectedhomeip `BtpEngine::sMaxFragmentSize`).
pub const BTP_MAX_SEGMENT: usize = 244;
/// Receive window of the devices: `BLE_MAX_RECEIVE_WINDOW_SIZE` is 5 in
/// every connectedhomeip platform configuration; the handshake settles on the
/// smaller window of the two sides.
const BTP_WINDOW: u8 = 5;
/// connectedhomeip `BLE_CONFIG_IMMEDIATE_ACK_WINDOW_THRESHOLD`: a receiver
/// whose window has shrunk to this acknowledges at once, on its own. The
/// sender's counterpart, `BTP_WINDOW_NO_ACK_SEND_THRESHOLD`, is also 1, so the
/// sender waits for that acknowledgement.
const BTP_IMMEDIATE_ACK_THRESHOLD: u8 = 1;
/// Standalone acknowledgement: flags, ack number, sequence number.
pub const BTP_STANDALONE_ACK_LEN: usize = 3;

/// BTP state of one side (connectedhomeip `BLEEndPoint`).
#[derive(Clone, Copy)]
struct BtpSide {
    /// Segments the peer can still take before it must acknowledge.
    remote_window: u8,
    /// Segments this side can still take.
    local_window: u8,
    /// Received segments not acknowledged yet; the next segment carries the ack.
    ack_pending: bool,
}

/// BTP between the central and the peripheral: data goes as Write Requests to
/// C1 and Indications on C2, both of which ATT lets have only one outstanding.
struct Btp {
    segment: usize,
    sides: [BtpSide; 2],
}

impl Btp {
    /// The state right after the handshake: the central owes an
    /// acknowledgement of the handshake response, which counted against its window.
    fn after_handshake(att_mtu: u16) -> Btp {
        let full = BtpSide {
            remote_window: BTP_WINDOW,
            local_window: BTP_WINDOW,
            ack_pending: false,
        };
        let central = BtpSide {
            local_window: BTP_WINDOW - 1,
            ack_pending: true,
            ..full
        };
        Btp {
            segment: max_att_value(att_mtu).min(BTP_MAX_SEGMENT),
            sides: [central, full],
        }
    }

    fn op(role: Role) -> Op {
        match role {
            Role::Central => Op::WriteRequest,
            Role::Peripheral => Op::Indication,
        }
    }

    /// Appends the segments of one message, and the receiver's standalone
    /// acknowledgements wherever its window runs low.
    fn send(&mut self, flow: &mut Flow, from: Role, len: usize, name: &str) {
        let (s, r) = (from.index(), from.peer().index());
        let mut remaining = len;
        let mut segment = 0;
        while segment == 0 || remaining > 0 {
            let ack = self.sides[s].ack_pending;
            // flags, [ack number], sequence number, [message length in the first segment]
            let header = 2 + usize::from(ack) + if segment == 0 { 2 } else { 0 };
            let payload = remaining.min(self.segment - header);
            segment += 1;
            flow.then(
                from,
                Btp::op(from),
                header + payload,
                &format!("{name} segment {segment}"),
            );
            remaining -= payload;
            if ack {
                self.sides[s].ack_pending = false;
                self.sides[s].local_window = BTP_WINDOW;
                self.sides[r].remote_window = BTP_WINDOW;
            }
            self.sides[s].remote_window = self.sides[s].remote_window.saturating_sub(1);
            self.sides[r].local_window = self.sides[r].local_window.saturating_sub(1);
            self.sides[r].ack_pending = true;
            if self.sides[r].local_window <= BTP_IMMEDIATE_ACK_THRESHOLD {
                flow.then(
                    from.peer(),
                    Btp::op(from.peer()),
                    BTP_STANDALONE_ACK_LEN,
                    "BTP standalone ack",
                );
                self.sides[r].local_window = BTP_WINDOW;
                self.sides[r].ack_pending = false;
                self.sides[r].remote_window = self.sides[r].remote_window.saturating_sub(1);
                self.sides[s].remote_window = BTP_WINDOW;
                self.sides[s].local_window = self.sides[s].local_window.saturating_sub(1);
                self.sides[s].ack_pending = true;
            }
        }
    }
}

/// Matter commissioning's PASE session over BTP (Matter Core 1.3 §4.19):
/// the central writes the BTP handshake request to C1, subscribes to C2, gets
/// the handshake response as an indication, then the six PASE messages
/// alternate, segmented to MTU − 3 (at most 244 bytes), client segments as
/// Write Requests to C1, server segments as Indications on C2.
pub fn matter_pase(att_mtu: u16) -> Flow {
    let mut flow = Flow::new("Matter PASE over BTP");
    flow.then(
        Role::Central,
        Op::WriteRequest,
        BTP_HANDSHAKE_REQUEST_LEN,
        "BTP handshake request",
    );
    flow.then(Role::Central, Op::WriteRequest, CCCD_LEN, "subscribe to C2");
    flow.then(
        Role::Peripheral,
        Op::Indication,
        BTP_HANDSHAKE_RESPONSE_LEN,
        "BTP handshake response",
    );
    let mut btp = Btp::after_handshake(att_mtu);
    for (from, name, len) in PASE_MESSAGES {
        btp.send(&mut flow, from, len, name);
    }
    flow
}

// ---------------------------------------------------------------------------
// ESP-IDF protocomm security 2

/// Bytes of a protobuf varint holding `value`.
fn varint_len(value: usize) -> usize {
    let mut len = 1;
    let mut rest = value >> 7;
    while rest > 0 {
        len += 1;
        rest >>= 7;
    }
    len
}

/// A length-delimited protobuf field with a `tag_len`-byte tag.
fn pb_field(tag_len: usize, payload: usize) -> usize {
    tag_len + varint_len(payload) + payload
}

/// An enum field with a value below 128 and a 1-byte tag; proto3 leaves out
/// fields holding 0.
fn pb_enum(value: usize) -> usize {
    if value == 0 { 0 } else { 2 }
}

/// SRP-6a public values A and B in the 3072-bit group (RFC 5054).
pub const SRP3072_PUBLIC_LEN: usize = 384;
/// SHA-512 proofs M and H(A, M, K) of ESP-IDF's SRP-6a.
const SRP_PROOF_LEN: usize = 64;
const SRP_SALT_LEN: usize = 16;
const DEVICE_NONCE_LEN: usize = 16;
/// The username the ESP provisioning tools use with security 2.
const SEC2_USERNAME: &str = "wifiprov";

/// The four `SessionData` messages of ESP-IDF protocomm security 2
/// (components/protocomm/proto/session.proto and sec2.proto): `SessionData {
/// sec_ver = 2, sec2 (field 12) = Sec2Payload { msg, sc0..sr1 (fields 20..23,
/// 2-byte tags) } }`.
pub fn esp_sec2_messages() -> [(Role, &'static str, usize); 4] {
    let session_data = |payload: usize| pb_enum(2) + pb_field(1, payload);
    // Sec2MsgType: S2Session_Command0 = 0 .. S2Session_Response1 = 3.
    let sec2_payload = |msg_type: usize, body: usize| pb_enum(msg_type) + pb_field(2, body);
    // S2SessionCmd0 { client_username = 1, client_pubkey = 2 }
    let cmd0 = pb_field(1, SEC2_USERNAME.len()) + pb_field(1, SRP3072_PUBLIC_LEN);
    // S2SessionResp0 { status = 1 (0, not sent), device_pubkey = 2, device_salt = 3 }
    let resp0 = pb_field(1, SRP3072_PUBLIC_LEN) + pb_field(1, SRP_SALT_LEN);
    // S2SessionCmd1 { client_proof = 1 }
    let cmd1 = pb_field(1, SRP_PROOF_LEN);
    // S2SessionResp1 { status = 1 (not sent), device_proof = 2, device_nonce = 3 }
    let resp1 = pb_field(1, SRP_PROOF_LEN) + pb_field(1, DEVICE_NONCE_LEN);
    [
        (
            Role::Central,
            "SessionCmd0 (A)",
            session_data(sec2_payload(0, cmd0)),
        ),
        (
            Role::Peripheral,
            "SessionResp0 (B, salt)",
            session_data(sec2_payload(1, resp0)),
        ),
        (
            Role::Central,
            "SessionCmd1 (client proof)",
            session_data(sec2_payload(2, cmd1)),
        ),
        (
            Role::Peripheral,
            "SessionResp1 (device proof, nonce)",
            session_data(sec2_payload(3, resp1)),
        ),
    ]
}

/// ESP-IDF provisioning's protocomm security 2 (SRP-6a, 3072-bit group) over
/// its BLE transport: two exchanges on the `prov-session` characteristic,
/// each a GATT write of the request and a GATT read of the response. The link
/// turns values longer than MTU − 3 into long writes (Prepare Write, Execute
/// Write) and long reads (Read, Read Blob).
pub fn esp_protocomm_sec2() -> Flow {
    let mut flow = Flow::new("ESP-IDF protocomm security 2");
    for (from, name, len) in esp_sec2_messages() {
        let op = if from == Role::Central {
            Op::WriteRequest
        } else {
            Op::Read
        };
        flow.then(from, op, len, name);
    }
    flow
}

// ---------------------------------------------------------------------------
// HomeKit pair setup over HAP-BLE

/// Bytes of a TLV8 item holding `len` bytes: values over 255 bytes are split
/// into items of 255, each with a type and a length byte (HAP R2 §14.1).
fn tlv8_len(len: usize) -> usize {
    len + 2 * len.div_ceil(255).max(1)
}

/// SHA-512 SRP proof, Ed25519 key and signature, Poly1305 tag sizes.
const HAP_SRP_PROOF_LEN: usize = 64;
const ED25519_KEY_LEN: usize = 32;
const ED25519_SIGNATURE_LEN: usize = 64;
const POLY1305_TAG_LEN: usize = 16;
const HAP_SALT_LEN: usize = 16;
/// Controller pairing ID: a UUID string.
const CONTROLLER_ID_LEN: usize = 36;
/// Accessory pairing ID: "XX:XX:XX:XX:XX:XX".
const ACCESSORY_ID_LEN: usize = 17;

/// The TLV8 bodies of pair setup M1..M6 (HAP R2 §5.6), sender and bytes:
/// M1 state and method (6), M2 state, salt and B (409), M3 state, A and proof
/// (457), M4 state and proof (69), M5 state and the encrypted controller
/// identifier, key and signature (159), M6 the same for the accessory (140):
/// 1240 bytes in all.
pub fn hap_pair_setup_messages() -> [(Role, &'static str, usize); 6] {
    let state = tlv8_len(1);
    let sub_tlvs =
        |id: usize| tlv8_len(id) + tlv8_len(ED25519_KEY_LEN) + tlv8_len(ED25519_SIGNATURE_LEN);
    let encrypted = |id: usize| tlv8_len(sub_tlvs(id) + POLY1305_TAG_LEN);
    [
        (Role::Central, "M1", state + tlv8_len(1)),
        (
            Role::Peripheral,
            "M2",
            state + tlv8_len(HAP_SALT_LEN) + tlv8_len(SRP3072_PUBLIC_LEN),
        ),
        (
            Role::Central,
            "M3",
            state + tlv8_len(SRP3072_PUBLIC_LEN) + tlv8_len(HAP_SRP_PROOF_LEN),
        ),
        (Role::Peripheral, "M4", state + tlv8_len(HAP_SRP_PROOF_LEN)),
        (Role::Central, "M5", state + encrypted(CONTROLLER_ID_LEN)),
        (Role::Peripheral, "M6", state + encrypted(ACCESSORY_ID_LEN)),
    ]
}

/// HAP-BLE request header: control field, opcode, transaction ID,
/// characteristic instance ID 2 (HAP R2 §7.3.3.2).
pub const HAP_REQUEST_HEADER_LEN: usize = 5;
/// HAP-BLE response header: control field, transaction ID, status (§7.3.3.3).
pub const HAP_RESPONSE_HEADER_LEN: usize = 3;
/// Body length field of the first fragment of a PDU with a body.
pub const HAP_BODY_LENGTH_LEN: usize = 2;
/// Header of a continuation fragment: control field, transaction ID (§7.3.3.5).
pub const HAP_CONTINUATION_HEADER_LEN: usize = 2;
/// HAP-Param-Return-Response TLV asking for the response body (§7.3.5.5).
const HAP_RETURN_RESPONSE_LEN: usize = 3;

/// HomeKit pair setup on an accessory's Pair Setup characteristic over
/// HAP-BLE (HAP R2 §7.3.5.5): three round trips, each a HAP-Characteristic-
/// Write-Request carrying M1, M3 or M5 (as HAP-Param-Value, with
/// HAP-Param-Return-Response) in GATT Write Requests, then the response
/// carrying M2, M4 or M6 fetched with GATT reads. Request PDUs longer than
/// MTU − 3 are fragmented (§7.3.3.5), one write per fragment; the
/// accessory serves a response of up to 512 bytes as one long value, read
/// with Read and Read Blob requests (as the HomeKit ADK does), and longer
/// ones in fragments of 512.
pub fn hap_pair_setup(att_mtu: u16) -> Flow {
    let mut flow = Flow::new("HomeKit pair setup (HAP-BLE)");
    for (from, name, len) in hap_pair_setup_messages() {
        let fragment = match from {
            Role::Central => max_att_value(att_mtu),
            Role::Peripheral => crate::MAX_ATTRIBUTE_LEN,
        };
        let (pdu, op) = match from {
            Role::Central => (
                HAP_REQUEST_HEADER_LEN
                    + HAP_BODY_LENGTH_LEN
                    + tlv8_len(len)
                    + HAP_RETURN_RESPONSE_LEN,
                Op::WriteRequest,
            ),
            Role::Peripheral => (
                HAP_RESPONSE_HEADER_LEN + HAP_BODY_LENGTH_LEN + tlv8_len(len),
                Op::Read,
            ),
        };
        let first = pdu.min(fragment);
        flow.then(from, op, first, &format!("{name} fragment 1"));
        let mut remaining = pdu - first;
        let mut count = 1;
        while remaining > 0 {
            let part = remaining.min(fragment - HAP_CONTINUATION_HEADER_LEN);
            count += 1;
            flow.then(
                from,
                op,
                HAP_CONTINUATION_HEADER_LEN + part,
                &format!("{name} fragment {count}"),
            );
            remaining -= part;
        }
    }
    flow
}

// ---------------------------------------------------------------------------
// LE Secure Connections passkey entry

/// SMP PDU sizes, code byte included (Core v5.4 Vol 3 Part H §3.5, §3.6).
pub const SMP_PAIRING_REQUEST_LEN: usize = 7;
pub const SMP_PUBLIC_KEY_LEN: usize = 65;
/// Pairing Confirm, Pairing Random and DHKey Check: code and 16 bytes.
pub const SMP_16_BYTE_PDU_LEN: usize = 17;
/// Passkey entry repeats confirm and random once per passkey bit (§2.3.5.6.3).
pub const PASSKEY_ROUNDS: usize = 20;
/// LL_ENC_REQ: opcode, Rand 8, EDIV 2, SKDc 8, IVc 4 (Core v5.4 Vol 6 Part B §2.4.2.4).
pub const LL_ENC_REQ_LEN: usize = 23;
/// LL_ENC_RSP: opcode, SKDp 8, IVp 4.
pub const LL_ENC_RSP_LEN: usize = 13;
/// LL_START_ENC_REQ: opcode only, sent unencrypted.
const LL_START_ENC_REQ_LEN: usize = 1;
/// LL_START_ENC_RSP: opcode and the 4-byte MIC, as both go encrypted.
const LL_START_ENC_RSP_LEN: usize = 1 + 4;

/// LE Secure Connections pairing with passkey entry over SMP (L2CAP CID
/// 0x0006), then the encryption start procedure: Pairing Request and
/// Response, both public keys, 20 rounds of Confirm and Random each way
/// (each waits for the peer's), both DHKey checks, then LL_ENC_REQ,
/// LL_ENC_RSP, LL_START_ENC_REQ and both LL_START_ENC_RSPs, each a single LL
/// control PDU. Encrypted data can flow once the last one has arrived.
pub fn le_sc_passkey() -> Flow {
    use Role::{Central, Peripheral};
    let mut flow = Flow::new("LE Secure Connections passkey entry");
    flow.then(Central, Op::Smp, SMP_PAIRING_REQUEST_LEN, "Pairing Request");
    flow.then(
        Peripheral,
        Op::Smp,
        SMP_PAIRING_REQUEST_LEN,
        "Pairing Response",
    );
    flow.then(Central, Op::Smp, SMP_PUBLIC_KEY_LEN, "Pairing Public Key");
    flow.then(
        Peripheral,
        Op::Smp,
        SMP_PUBLIC_KEY_LEN,
        "Pairing Public Key",
    );
    for round in 1..=PASSKEY_ROUNDS {
        flow.then(
            Central,
            Op::Smp,
            SMP_16_BYTE_PDU_LEN,
            &format!("Pairing Confirm {round}"),
        );
        flow.then(
            Peripheral,
            Op::Smp,
            SMP_16_BYTE_PDU_LEN,
            &format!("Pairing Confirm {round}"),
        );
        flow.then(
            Central,
            Op::Smp,
            SMP_16_BYTE_PDU_LEN,
            &format!("Pairing Random {round}"),
        );
        flow.then(
            Peripheral,
            Op::Smp,
            SMP_16_BYTE_PDU_LEN,
            &format!("Pairing Random {round}"),
        );
    }
    flow.then(Central, Op::Smp, SMP_16_BYTE_PDU_LEN, "Pairing DHKey Check");
    flow.then(
        Peripheral,
        Op::Smp,
        SMP_16_BYTE_PDU_LEN,
        "Pairing DHKey Check",
    );
    flow.then(Central, Op::LlControl, LL_ENC_REQ_LEN, "LL_ENC_REQ");
    flow.then(Peripheral, Op::LlControl, LL_ENC_RSP_LEN, "LL_ENC_RSP");
    flow.then(
        Peripheral,
        Op::LlControl,
        LL_START_ENC_REQ_LEN,
        "LL_START_ENC_REQ",
    );
    flow.then(
        Central,
        Op::LlControl,
        LL_START_ENC_RSP_LEN,
        "LL_START_ENC_RSP",
    );
    flow.then(
        Peripheral,
        Op::LlControl,
        LL_START_ENC_RSP_LEN,
        "LL_START_ENC_RSP",
    );
    flow
}
