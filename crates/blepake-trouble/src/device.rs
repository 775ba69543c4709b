//! The device: the blepake GATT service (`PROTOCOL.md` §2) on a
//! trouble-host peripheral.
//!
//! [`run`] advertises the service, serves each central that connects
//! until it leaves, and advertises again. Each BLE link is a link of the
//! core's [`Device`], which the caller keeps in a `RefCell` so that, between
//! steps, the rest of the firmware can open the pairing window (a button)
//! or revoke bonds.

use core::cell::RefCell;

use blepake::pump::{self, Input};
use blepake::{Connection, CryptoRngCore, Device, LinkId, SetupInfo, Storage, gatt};
use embassy_futures::select::{Either, Either4, select, select4};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use trouble_host::prelude::*;

use crate::Application;
use crate::outbox::{Item, Outbox};

/// Attributes: the GAP service (5) and the blepake service (8).
const ATTRIBUTES: usize = 16;

/// The GATT server: the GAP service and the blepake service.
pub struct Server<'d> {
    attributes: AttributeServer<'d, NoopRawMutex, DefaultPacketPool, ATTRIBUTES, 1>,
    /// Inbound, the host-to-device stream. Its values go to the core as
    /// they come, never into the attribute table.
    inbound: Characteristic<()>,
    /// Outbound, the device-to-host stream, as notifications.
    outbound: Characteristic<()>,
}

impl<'d> Server<'d> {
    /// The server of a device called `name` with this Setup Info.
    fn new(name: &'d str, setup_info: &'d [u8; SetupInfo::LEN]) -> Result<Self, &'static str> {
        let mut table = AttributeTable::new();
        GapConfig::default(name).build(&mut table)?;
        let mut service = table.add_service(Service::new(gatt::SERVICE));
        let inbound = service
            .add_characteristic_small(
                gatt::INBOUND,
                [
                    CharacteristicProp::Write,
                    CharacteristicProp::WriteWithoutResponse,
                ],
                (),
            )
            .build();
        let outbound = service
            .add_characteristic_small(gatt::OUTBOUND, [CharacteristicProp::Notify], ())
            .build();
        service
            .add_characteristic_ro(gatt::SETUP_INFO, setup_info)
            .build();
        service.build();
        Ok(Self {
            attributes: AttributeServer::new(table),
            inbound,
            outbound,
        })
    }
}

/// How the device shows itself.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// The name in the scan response.
    pub name: &'a str,
    /// The device's (random static) address.
    pub address: Address,
}

/// Why the device stopped serving.
#[derive(Debug)]
pub enum Error<E> {
    /// The BLE stack or the controller failed.
    Ble(BleHostError<E>),
    /// The GATT server could not be built (a name too long).
    Gatt(&'static str),
}

impl<E> From<BleHostError<E>> for Error<E> {
    fn from(error: BleHostError<E>) -> Self {
        Self::Ble(error)
    }
}

impl<E> From<trouble_host::Error> for Error<E> {
    fn from(error: trouble_host::Error) -> Self {
        Self::Ble(BleHostError::BleHost(error))
    }
}

/// What a device's storage must finish before a value may leave.
///
/// The core writes its storage synchronously and relies on a write being
/// durable once it returns: an attempt is counted before it is answered.
/// Storage that writes through (a file) needs nothing more: give `&()`.
/// Storage that writes behind (an nRF52's flash under the SoftDevice
/// Controller, which waits for radio timeslots) stages the write, and the
/// device holds every notification here until what came before it is
/// durable.
pub trait WriteBarrier {
    /// Resolves once every write so far is durable: `true`, or `false` if
    /// one failed (the device then drops the link rather than answer).
    fn flushed(&self) -> impl core::future::Future<Output = bool>;
}

/// Storage that writes through.
impl WriteBarrier for () {
    async fn flushed(&self) -> bool {
        true
    }
}

/// Serves `device` over `controller` until the stack fails: advertises the
/// blepake service, serves one central at a time through `app`, and
/// advertises again when it leaves. Nothing is notified before `barrier`
/// says the storage has made durable what the core wrote.
pub async fn run<C, S, R, const LINKS: usize, B, A>(
    controller: C,
    config: &Config<'_>,
    device: &RefCell<Device<S, R, LINKS>>,
    barrier: &B,
    app: &mut A,
) -> Result<core::convert::Infallible, Error<C::Error>>
where
    C: Controller,
    S: Storage,
    R: CryptoRngCore,
    B: WriteBarrier,
    A: Application,
{
    // One connection: its signalling and ATT channels.
    let mut resources: HostResources<DefaultPacketPool, 1, 2> = HostResources::new();
    let stack = trouble_host::new(controller, &mut resources)
        .set_random_address(config.address)
        .build();
    let mut runner = stack.runner();
    let mut peripheral = stack.peripheral();
    let setup_info = device.borrow().setup_info().encode();
    let server = Server::new(config.name, &setup_info).map_err(Error::Gatt)?;

    let serve = async {
        loop {
            let conn = advertise(config.name, &mut peripheral)
                .await?
                .with_attribute_server(&server.attributes)?;
            serve_link(&server, &conn, device, barrier, app).await;
        }
    };
    match select(runner.run(), serve).await {
        Either::First(Ok(())) => Err(Error::Ble(BleHostError::BleHost(
            trouble_host::Error::Disconnected,
        ))),
        Either::First(Err(error)) => Err(error.into()),
        Either::Second(result) => result,
    }
}

/// Advertises the service (its UUID in the advertising data, the name in
/// the scan response) until a central connects.
async fn advertise<'d, C: Controller>(
    name: &str,
    peripheral: &mut Peripheral<'d, C, DefaultPacketPool>,
) -> Result<trouble_host::connection::Connection<'d, DefaultPacketPool>, BleHostError<C::Error>> {
    let mut adv_data = [0; 31];
    let adv_len = AdStructure::encode_slice(
        &[
            AdStructure::Flags(LE_GENERAL_DISCOVERABLE | BR_EDR_NOT_SUPPORTED),
            AdStructure::CompleteServiceUuids128(&[gatt::SERVICE.to_le_bytes()]),
        ],
        &mut adv_data,
    )?;
    let mut scan_data = [0; 31];
    let scan_len = AdStructure::encode_slice(
        &[AdStructure::CompleteLocalName(name.as_bytes())],
        &mut scan_data,
    )?;
    let advertiser = peripheral
        .advertise(
            &Default::default(),
            Advertisement::ConnectableScannableUndirected {
                adv_data: &adv_data[..adv_len],
                scan_data: &scan_data[..scan_len],
            },
        )
        .await?;
    Ok(advertiser.accept().await?)
}

/// Serves one central as one link of the device, until it disconnects.
async fn serve_link<P, S, R, const LINKS: usize, B, A>(
    server: &Server<'_>,
    conn: &GattConnection<'_, '_, P>,
    device: &RefCell<Device<S, R, LINKS>>,
    barrier: &B,
    app: &mut A,
) where
    P: PacketPool,
    S: Storage,
    R: CryptoRngCore,
    B: WriteBarrier,
    A: Application,
{
    let Ok(id) = device.borrow_mut().accept(crate::now()) else {
        // Every link slot is held: this central cannot be served.
        conn.raw().disconnect();
        wait_disconnected(conn).await;
        return;
    };
    let outbox = Outbox::default();
    let link = Link {
        server,
        conn,
        device,
        id,
        outbox: &outbox,
    };
    let sender = async {
        loop {
            if let Item::Value(value) = outbox.next().await {
                let durable = barrier.flushed().await;
                if !durable
                    || server
                        .outbound
                        .notify_raw(conn, &value, false)
                        .await
                        .is_err()
                {
                    // The link is going: the stepper sees it drop.
                    conn.raw().disconnect();
                }
            }
            outbox.sent();
        }
    };
    select(link.serve(app), sender).await;
    device.borrow_mut().remove(id);
}

async fn wait_disconnected<P: PacketPool>(conn: &GattConnection<'_, '_, P>) {
    while !matches!(conn.next().await, GattConnectionEvent::Disconnected { .. }) {}
}

/// How long a host has to leave once its session has ended: it should
/// disconnect itself (an ended session's last value, a close or an alert,
/// may still be on its way when a device's disconnection overtakes it).
const HOST_LEAVES_WITHIN: core::time::Duration = core::time::Duration::from_secs(1);

/// What one link's stepper holds.
struct Link<'a, 'v, 's, 'c, P: PacketPool, S: Storage, R: CryptoRngCore, const LINKS: usize> {
    server: &'a Server<'v>,
    conn: &'a GattConnection<'s, 'c, P>,
    device: &'a RefCell<Device<S, R, LINKS>>,
    id: LinkId,
    outbox: &'a Outbox,
}

impl<P: PacketPool, S: Storage, R: CryptoRngCore, const LINKS: usize>
    Link<'_, '_, '_, '_, P, S, R, LINKS>
{
    /// Steps the link with whatever wakes it, until the central leaves.
    async fn serve<A: Application>(&self, app: &mut A) {
        // When the session ended (closed or failed), the host has this long
        // to leave before the device drops the link itself.
        let mut leave_by = None;
        let mut dropping = false;
        loop {
            let (mut deadline, closed) = {
                let mut device = self.device.borrow_mut();
                match device.link(self.id) {
                    Some(link) => (link.poll_timeout(), link.is_closed()),
                    None => (None, true),
                }
            };
            if closed && !dropping && self.outbox.is_drained() {
                let now = crate::now();
                let at = *leave_by.get_or_insert(now + HOST_LEAVES_WITHIN);
                if now >= at {
                    self.conn.raw().disconnect();
                    dropping = true;
                }
                deadline = Some(at).filter(|_| !dropping);
            }
            let woke = select4(
                self.conn.next(),
                crate::timer(deadline),
                self.outbox.wait_room(),
                app.wait(),
            )
            .await;
            match woke {
                Either4::First(GattConnectionEvent::Disconnected { .. }) => {
                    self.step(app, Input::Disconnected);
                    return;
                }
                Either4::First(GattConnectionEvent::Gatt { event }) => {
                    self.handle_gatt(app, event).await;
                }
                Either4::First(_) => {}
                Either4::Second(()) if closed => {}
                Either4::Second(()) => self.step(app, Input::Timer),
                Either4::Third(()) => self.step(app, Input::Ready),
                Either4::Fourth(()) => {
                    if let Some(mut link) = self.device.borrow_mut().link(self.id) {
                        app.act(&mut link);
                    }
                    self.step(app, Input::Ready);
                }
            }
        }
    }

    /// Inbound values go to the core as they come; everything else (the
    /// CCCD, Setup Info) the attribute server answers.
    async fn handle_gatt<A: Application>(&self, app: &mut A, event: GattEvent<'_, '_, P>) {
        let inbound = self.server.inbound.handle;
        let reply = match event {
            GattEvent::Write(write) if write.handle() == inbound => {
                write.with_data(|_, value| self.step(app, Input::Received(value)));
                write.accept_unprocessed()
            }
            other => other.accept(),
        };
        if let Ok(reply) = reply {
            reply.send().await;
        }
        // Notifications may have been enabled: what waited can go.
        self.step(app, Input::Ready);
    }

    fn step<A: Application>(&self, app: &mut A, input: Input<'_>) {
        let mut device = self.device.borrow_mut();
        let Some(mut link) = device.link(self.id) else {
            return;
        };
        let mtu = usize::from(self.conn.raw().att_mtu());
        let subscribed = self.server.outbound.should_notify(self.conn);
        let mut transport = self.outbox.transport(mtu.saturating_sub(3), subscribed);
        let Ok(()) = pump::step(&mut link, &mut transport, input, |link, output| {
            app.on_output(link, output)
        });
    }
}
