//! Decoders against tshark's dissection of the same real packets.

mod common;

use blepake_sniff::capture::CaptureReader;
use blepake_sniff::codec::frame::{Packet, RadioPacket, decode_frame};
use blepake_sniff::codec::hci::{Event, Role, decode_event};
use blepake_sniff::codec::l2cap::{CID_SMP, Reassembler};
use blepake_sniff::codec::ll::{AdvPdu, ControlPdu, Llid, decode_adv, decode_control, decode_data};
use common::data;

/// Runs `check` on the decoded packet `number` (1-based) of a capture.
fn with_packet(path: &str, number: u64, check: impl FnOnce(Packet<'_>)) {
    let bytes = data(path);
    let frame = CaptureReader::new(bytes.as_slice())
        .unwrap()
        .map(Result::unwrap)
        .find(|f| f.number == number)
        .expect("packet number in range");
    check(decode_frame(&frame).expect("decodes"));
}

fn radio(packet: Packet<'_>) -> RadioPacket<'_> {
    match packet {
        Packet::Radio(radio) => radio,
        other => panic!("not a radio packet: {other:?}"),
    }
}

#[test]
fn connect_ind_fields_match_tshark() {
    // tshark -V, le_secure_connections.pcapng frame 44.
    with_packet("crackle/le_secure_connections.pcapng", 44, |packet| {
        let packet = radio(packet);
        // RF channel 0 (2402 MHz) in the header: advertising channel 37.
        assert_eq!(packet.channel, Some(37));
        let Ok(AdvPdu::ConnectInd(ind)) = decode_adv(packet.pdu) else {
            panic!("CONNECT_IND")
        };
        assert_eq!(ind.initiator.to_string(), "5c:f3:70:73:3e:f4 (public)");
        assert_eq!(ind.advertiser.to_string(), "7d:43:82:42:23:16 (random)");
        assert_eq!(ind.access_address, 0x5065_4a27);
        assert_eq!(ind.crc_init, 0x2e_d45d);
        assert_eq!(
            (
                ind.win_size,
                ind.win_offset,
                ind.interval,
                ind.latency,
                ind.timeout
            ),
            (3, 38, 54, 0, 42)
        );
        assert_eq!(ind.channel_map, [0xff, 0xff, 0xff, 0xff, 0x1f]);
        assert_eq!((ind.hop, ind.sca), (5, 5));
    });
}

#[test]
fn ll_control_pdus_match_tshark() {
    // Frame 48: LL_VERSION_IND 4.2 (0x08), Broadcom (0x000f), subversion 0x6607.
    with_packet("crackle/le_secure_connections.pcapng", 48, |packet| {
        let (header, payload) = decode_data(radio(packet).pdu).unwrap();
        assert_eq!(header.llid, Llid::Control);
        assert_eq!(
            decode_control(payload).unwrap(),
            ControlPdu::VersionInd {
                version: 8,
                company: 0x000f,
                subversion: 0x6607
            }
        );
    });
    // Frame 51: LL_FEATURE_REQ, feature set 0x0000000000000001.
    with_packet("crackle/le_secure_connections.pcapng", 51, |packet| {
        let (_, payload) = decode_data(radio(packet).pdu).unwrap();
        assert_eq!(
            decode_control(payload).unwrap(),
            ControlPdu::FeatureReq { features: 1 }
        );
    });
}

#[test]
fn l2cap_reassembly_across_ll_fragments_matches_tshark() {
    // Frames 71 (start), 73 and 75 (continuations) carry a 69-octet L2CAP frame:
    // the SMP Pairing Public Key, whose first octets tshark shows as 41 00 06 00 0c 44 0e d0.
    let bytes = data("crackle/le_secure_connections.pcapng");
    let frames: Vec<_> = CaptureReader::new(bytes.as_slice())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut reassembler = Reassembler::default();
    let mut complete = None;
    for number in [71u64, 73, 75] {
        let packet = radio(decode_frame(&frames[number as usize - 1]).unwrap());
        let (header, payload) = decode_data(packet.pdu).unwrap();
        assert_eq!(complete, None);
        complete = reassembler
            .push(header.llid == Llid::Start, payload, number)
            .unwrap();
    }
    let sdu = complete.expect("complete after frame 75");
    assert_eq!(sdu.cid, CID_SMP);
    assert_eq!(sdu.payload.len(), 69 - 4);
    assert_eq!(&sdu.payload[..4], &[0x0c, 0x44, 0x0e, 0xd0]);
    assert_eq!(
        &sdu.payload[sdu.payload.len() - 5..],
        &[0x71, 0xaf, 0xd2, 0xa7, 0x59]
    );
    assert_eq!((sdu.first_packet, sdu.last_packet), (71, 75));
}

#[test]
fn hci_le_connection_complete_matches_tshark() {
    // Bumble pcap frame 31: handle 0x0001, central, peer random f1:f1:f1:f1:f1:f1,
    // interval 12 (15 ms), latency 0, supervision timeout 72 (720 ms).
    with_packet("bumble/bumble_lesc_passkey_654321_ok.pcap", 31, |packet| {
        let Packet::Hci(hci) = packet else {
            panic!("HCI")
        };
        let Ok(Event::LeConnectionComplete(complete)) = decode_event(hci.data) else {
            panic!("connection complete")
        };
        assert_eq!(
            (complete.status, complete.handle, complete.role),
            (0, 1, Role::Central)
        );
        assert_eq!(complete.peer.to_string(), "f1:f1:f1:f1:f1:f1 (random)");
        assert_eq!(
            (complete.interval, complete.latency, complete.timeout),
            (12, 0, 72)
        );
    });
}

#[test]
fn truncated_pdus_are_errors_with_offsets() {
    // LL_CONNECTION_UPDATE_IND needs 11 parameter octets; 5 given.
    let error = decode_control(&[0x00, 1, 2, 3, 4, 5]).unwrap_err();
    assert_eq!((error.what, error.offset), ("LL_CONNECTION_UPDATE_IND", 5));
    // An ACL header announcing more data than present.
    assert!(blepake_sniff::codec::hci::decode_acl(&[0x01, 0x20, 0x10, 0x00, 1, 2]).is_err());
    // A data PDU whose length octet exceeds the bytes present.
    assert!(decode_data(&[0x02, 0x05, 1, 2]).is_err());
}
