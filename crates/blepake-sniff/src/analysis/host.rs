//! The host's view from an HCI log: connections by handle, the local address,
//! the keys the host hands its controller, and ACL traffic.

use std::collections::HashMap;

use crate::analysis::connection::{Conn, LinkParams};
use crate::analysis::findings::Finding;
use crate::bytes::{DecodeResult, to_hex};
use crate::capture::Frame;
use crate::codec::frame::{Direction, HciDirection, HciKind, HciPacket, Phy};
use crate::codec::hci::{
    AclBoundary, Command, Event, Role, decode_acl, decode_command, decode_event,
};
use crate::codec::ll::Address;
use crate::report::{Source, Version, core_version_name};

/// What one controller's host has configured.
#[derive(Default)]
struct Controller {
    public: Option<Address>,
    random: Option<Address>,
    /// Own address type for connections it initiates and for advertising.
    own_type_initiating: u8,
    own_type_advertising: u8,
    /// Connection index and local role by handle.
    handles: HashMap<u16, (usize, Role)>,
}

impl Controller {
    fn own_address(&self, role: Role) -> Option<Address> {
        let own_type = match role {
            Role::Central => self.own_type_initiating,
            Role::Peripheral => self.own_type_advertising,
        };
        // Types 1 and 3 use the random address (3 when no RPA is available).
        if own_type & 1 == 1 {
            self.random
        } else {
            self.public
        }
    }
}

#[derive(Default)]
pub struct Host {
    controllers: HashMap<u16, Controller>,
    /// L2CAP messages from a log without directions whose sender their
    /// content does not show: not analysed.
    pub direction_unknown: u64,
}

fn phy_from_hci(code: u8) -> Option<Phy> {
    match code {
        1 => Some(Phy::Le1M),
        2 => Some(Phy::Le2M),
        3 => Some(Phy::LeCoded),
        _ => None,
    }
}

/// Direction on the air of data the local host sends (`outgoing`) or receives.
fn air_direction(local: Role, outgoing: bool) -> Direction {
    match (local, outgoing) {
        (Role::Central, true) | (Role::Peripheral, false) => Direction::CentralToPeripheral,
        _ => Direction::PeripheralToCentral,
    }
}

impl Host {
    pub fn on_packet(
        &mut self,
        frame: &Frame,
        packet: &HciPacket<'_>,
        conns: &mut Vec<Conn>,
        findings: &mut Vec<Finding>,
    ) -> DecodeResult<()> {
        let controller = self.controllers.entry(packet.controller).or_default();
        let (number, time_ns) = (frame.number, frame.timestamp_ns);
        match packet.kind {
            HciKind::Command => on_command(
                controller,
                &decode_command(packet.data)?,
                conns,
                number,
                time_ns,
            ),
            HciKind::Event => on_event(
                controller,
                &decode_event(packet.data)?,
                conns,
                number,
                time_ns,
                findings,
            ),
            HciKind::Acl => {
                let fragment = decode_acl(packet.data)?;
                let Some(&(index, role)) = controller.handles.get(&fragment.handle) else {
                    return Ok(());
                };
                let conn = &mut conns[index];
                conn.touch(number, time_ns);
                let start = fragment.boundary == AclBoundary::First;
                let direction = packet
                    .direction
                    .map(|d| air_direction(role, d == HciDirection::HostToController));
                if let Some(sdu) = conn.reassemble(direction, start, fragment.data, number) {
                    // H4 without directions (LINKTYPE 187): the content may
                    // say who sent it.
                    match direction.or_else(|| conn.sender_by_content(&sdu)) {
                        Some(direction) => conn.on_sdu(direction, &sdu, time_ns, findings),
                        None => self.direction_unknown += 1,
                    }
                }
            }
            HciKind::Sco | HciKind::Iso => {}
        }
        Ok(())
    }
}

fn on_command(
    controller: &mut Controller,
    command: &Command,
    conns: &mut [Conn],
    number: u64,
    time_ns: i64,
) {
    match command {
        Command::LeSetRandomAddress { address } => controller.random = Some(*address),
        Command::LeCreateConnection {
            own_address_type, ..
        }
        | Command::LeExtendedCreateConnection {
            own_address_type, ..
        } => {
            controller.own_type_initiating = *own_address_type;
        }
        Command::LeSetAdvertisingParameters { own_address_type } => {
            controller.own_type_advertising = *own_address_type
        }
        Command::LeStartEncryption { handle, ltk, .. }
        | Command::LeLtkRequestReply { handle, ltk } => {
            if let Some(&(index, _)) = controller.handles.get(handle) {
                let conn = &mut conns[index];
                conn.touch(number, time_ns);
                if !conn.controller_keys.contains(ltk) {
                    conn.controller_keys.push(*ltk);
                }
                conn.encryption.key = Some(to_hex(ltk));
                conn.encryption.key_source = Some("hci".into());
            }
        }
        _ => {}
    }
}

fn on_event(
    controller: &mut Controller,
    event: &Event,
    conns: &mut Vec<Conn>,
    number: u64,
    time_ns: i64,
    findings: &mut Vec<Finding>,
) {
    fn conn_for<'c>(
        controller: &Controller,
        conns: &'c mut [Conn],
        handle: &u16,
        number: u64,
        time_ns: i64,
    ) -> Option<(&'c mut Conn, Role)> {
        let &(index, role) = controller.handles.get(handle)?;
        let conn = conns.get_mut(index)?;
        conn.touch(number, time_ns);
        Some((conn, role))
    }
    match event {
        Event::ReadBdAddrComplete { status: 0, address } => controller.public = Some(*address),
        Event::LeConnectionComplete(complete) if complete.status == 0 => {
            let id = conns.len();
            let mut conn = Conn::new(id, Source::Hci, number, time_ns);
            conn.handle = Some(complete.handle);
            let local = controller.own_address(complete.role);
            (conn.central, conn.peripheral) = match complete.role {
                Role::Central => (local, Some(complete.peer)),
                Role::Peripheral => (Some(complete.peer), local),
            };
            let params = LinkParams {
                interval: complete.interval,
                latency: complete.latency,
                timeout: complete.timeout,
            };
            conn.set_params(params, number, findings);
            conns.push(conn);
            controller
                .handles
                .insert(complete.handle, (id, complete.role));
        }
        Event::LeConnectionUpdateComplete {
            status: 0,
            handle,
            interval,
            latency,
            timeout,
        } => {
            if let Some((conn, _)) = conn_for(controller, conns, handle, number, time_ns) {
                conn.set_params(
                    LinkParams {
                        interval: *interval,
                        latency: *latency,
                        timeout: *timeout,
                    },
                    number,
                    findings,
                );
            }
        }
        Event::DisconnectionComplete {
            status: 0,
            handle,
            reason,
        } => {
            if let Some((conn, _)) = conn_for(controller, conns, handle, number, time_ns) {
                conn.disconnected(number, *reason, time_ns, findings);
            }
            controller.handles.remove(handle);
        }
        Event::EncryptionChange {
            status: 0,
            handle,
            enabled: true,
        } => {
            if let Some((conn, _)) = conn_for(controller, conns, handle, number, time_ns) {
                conn.encryption_started();
            }
        }
        Event::LeReadRemoteFeaturesComplete {
            status: 0,
            handle,
            features,
        } => {
            if let Some((conn, role)) = conn_for(controller, conns, handle, number, time_ns) {
                *conn.features.get_mut(air_direction(role, false)) = Some(*features);
            }
        }
        Event::ReadRemoteVersionComplete {
            status: 0,
            handle,
            version,
            company,
            subversion,
        } => {
            if let Some((conn, role)) = conn_for(controller, conns, handle, number, time_ns) {
                *conn.versions.get_mut(air_direction(role, false)) = Some(Version {
                    core: core_version_name(*version),
                    company: *company,
                    subversion: *subversion,
                });
            }
        }
        Event::LePhyUpdateComplete {
            status: 0,
            handle,
            tx_phy,
            rx_phy,
        } => {
            if let Some((conn, role)) = conn_for(controller, conns, handle, number, time_ns) {
                let (outgoing, incoming) = (phy_from_hci(*tx_phy), phy_from_hci(*rx_phy));
                match air_direction(role, true) {
                    Direction::CentralToPeripheral => {
                        conn.phy.central_to_peripheral = outgoing;
                        conn.phy.peripheral_to_central = incoming;
                    }
                    Direction::PeripheralToCentral => {
                        conn.phy.peripheral_to_central = outgoing;
                        conn.phy.central_to_peripheral = incoming;
                    }
                }
            }
        }
        _ => {}
    }
}
