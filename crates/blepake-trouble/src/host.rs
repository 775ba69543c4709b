//! The host: a trouble-host central that scans for the blepake service,
//! connects, finds the service's characteristics, and runs a
//! [`HostConnection`] over them.
//!
//! [`run`] does the BLE part and hands the caller a [`Link`]: it may read
//! Setup Info (a host with a typed code needs the device's KDF
//! parameters), then [`Link::run`] drives the connection to its end.

use core::cell::Cell;

use blepake::{HostConnection, SetupInfo, gatt};
use bt_hci::cmd::le::{
    LeAddDeviceToFilterAcceptList, LeClearFilterAcceptList, LeCreateConn, LeSetScanEnable,
    LeSetScanParams,
};
use bt_hci::controller::{ControllerCmdAsync, ControllerCmdSync};
use bt_hci::param::{LeAdvReportsIter, LeExtAdvReportsIter};
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, with_timeout};
use trouble_host::connection::Connection as BleConnection;
use trouble_host::prelude::*;

use crate::Application;
use crate::client::{self, Ended, Notifications, ServiceClient};

/// The values a device notifies on Outbound.
pub type OutboundValues<'a> =
    NotificationListener<'a, { trouble_host::config::GATT_CLIENT_NOTIFICATION_MTU }>;

/// Services the client keeps track of: GAP, GATT and blepake, with room.
const SERVICES: usize = 4;

/// How the host looks for a device.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The host's own (random static) address.
    pub address: Address,
    /// How long to scan for a device advertising the blepake service, and
    /// how long connecting to it may take.
    pub scan_timeout: Duration,
}

/// Why the host could not reach a device, or lost it.
#[derive(Debug)]
pub enum Error<E> {
    /// No device advertising the blepake service was found in time.
    NotFound,
    /// The device was found but did not connect in time.
    ConnectTimeout,
    /// The device has no blepake service, or one without its
    /// characteristics.
    NoService,
    /// Setup Info was not 32 valid bytes.
    BadSetupInfo,
    /// The BLE stack or the controller failed, or the link dropped.
    Ble(BleHostError<E>),
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

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFound => f.write_str("no device advertising the blepake service was found"),
            Self::ConnectTimeout => f.write_str("the device was found but did not connect"),
            Self::NoService => f.write_str("the device has no blepake service"),
            Self::BadSetupInfo => f.write_str("the device's Setup Info is invalid"),
            Self::Ble(BleHostError::BleHost(trouble_host::Error::Disconnected)) => {
                f.write_str("the BLE link was lost")
            }
            Self::Ble(error) => write!(f, "BLE stack error: {error:?}"),
        }
    }
}

/// What a controller must do for the host: scan and connect.
pub trait CentralController:
    Controller
    + ControllerCmdSync<LeSetScanParams>
    + ControllerCmdSync<LeSetScanEnable>
    + ControllerCmdSync<LeClearFilterAcceptList>
    + ControllerCmdSync<LeAddDeviceToFilterAcceptList>
    + ControllerCmdAsync<LeCreateConn>
{
}

impl<C> CentralController for C where
    C: Controller
        + ControllerCmdSync<LeSetScanParams>
        + ControllerCmdSync<LeSetScanEnable>
        + ControllerCmdSync<LeClearFilterAcceptList>
        + ControllerCmdSync<LeAddDeviceToFilterAcceptList>
        + ControllerCmdAsync<LeCreateConn>
{
}

/// Runs the host over `controller`: finds the nearest device advertising
/// the blepake service, connects, finds its characteristics, and gives the
/// link to `session`. Disconnects when `session` returns. `P` sets the
/// largest ATT MTU the host offers: its packets' size less 4.
pub async fn run<C, P, T>(
    controller: C,
    config: &Config,
    session: impl AsyncFnOnce(&mut Link<'_, '_, C, P>) -> T,
) -> Result<T, Error<C::Error>>
where
    C: CentralController,
    P: PacketPool,
{
    // One connection: its signalling and ATT channels.
    let mut resources: HostResources<P, 1, 2> = HostResources::new();
    let stack = trouble_host::new(controller, &mut resources)
        .set_random_address(config.address)
        .build();
    let mut runner = stack.runner();
    let mut central = stack.central();
    let finder = Finder::default();
    let host = async {
        let target = find(&mut central, &finder, config.scan_timeout).await?;
        let connect = ConnectConfig {
            scan_config: ScanConfig {
                filter_accept_list: &[target],
                ..Default::default()
            },
            connect_params: Default::default(),
        };
        let conn = with_timeout(config.scan_timeout, central.connect(&connect))
            .await
            .map_err(|_| Error::ConnectTimeout)??;
        let client = GattClient::<C, P, SERVICES>::new(&stack, &conn).await?;
        // The client's task ends when the link drops, once it has handed
        // over every value received before; the session finds out through
        // its own calls and ends too.
        let client_ended = Signal::new();
        let client_task = async {
            let _ = client.task().await;
            client_ended.signal(());
            core::future::pending::<core::convert::Infallible>().await
        };
        let result = match select(client_task, async {
            let mut link = Link::discover(&client, &conn, &client_ended).await?;
            Ok(session(&mut link).await)
        })
        .await
        {
            Either::First(never) => match never {},
            Either::Second(result) => result,
        };
        // Leave cleanly, so that the device sees the link end at once.
        conn.disconnect();
        let _ = with_timeout(Duration::from_secs(2), dropped(&conn)).await;
        result
    };
    match select(runner.run_with_handler(&finder), host).await {
        Either::First(Err(error)) => Err(error.into()),
        Either::First(Ok(())) => Err(trouble_host::Error::Disconnected.into()),
        Either::Second(result) => result,
    }
}

/// Watches advertising reports for the blepake service's UUID.
#[derive(Default)]
struct Finder {
    found: Cell<Option<Address>>,
    signal: Signal<NoopRawMutex, ()>,
}

impl Finder {
    /// Takes the first advertiser whose data offers the blepake service.
    fn consider(&self, kind: AddrKind, addr: BdAddr, data: &[u8]) {
        let service = gatt::SERVICE.to_le_bytes();
        let offers = AdStructure::decode(data).flatten().any(|ad| {
            matches!(ad, AdStructure::CompleteServiceUuids128(uuids)
                | AdStructure::IncompleteServiceUuids128(uuids) if uuids.contains(&service))
        });
        if offers && self.found.get().is_none() {
            self.found.set(Some(Address { kind, addr }));
            self.signal.signal(());
        }
    }
}

impl EventHandler for Finder {
    fn on_adv_reports(&self, reports: LeAdvReportsIter) {
        for report in reports.flatten() {
            self.consider(report.addr_kind, report.addr, report.data);
        }
    }

    // Controllers report legacy advertising this way too once the host
    // has unmasked the extended report event.
    fn on_ext_adv_reports(&self, reports: LeExtAdvReportsIter) {
        for report in reports.flatten() {
            self.consider(report.addr_kind, report.addr, report.data);
        }
    }
}

/// Scans until a device advertises the blepake service.
async fn find<C: CentralController, P: PacketPool>(
    central: &mut Central<'_, C, P>,
    finder: &Finder,
    timeout: Duration,
) -> Result<Address, Error<C::Error>> {
    let mut scanner = Scanner::new(central);
    let scan = scanner.scan(&ScanConfig::default()).await?;
    let found = with_timeout(timeout, finder.signal.wait()).await;
    scan.stop().await;
    found.map_err(|_| Error::NotFound)?;
    finder.found.get().ok_or(Error::NotFound)
}

/// A connected device's blepake service, seen from the host.
pub struct Link<'a, 'c, C: Controller, P: PacketPool> {
    client: &'a GattClient<'c, C, P, SERVICES>,
    conn: &'a BleConnection<'c, P>,
    client_ended: &'a Signal<NoopRawMutex, ()>,
    inbound: Characteristic<[u8]>,
    outbound: Characteristic<[u8]>,
    setup_info: Characteristic<[u8]>,
}

impl<'a, 'c, C: Controller, P: PacketPool> Link<'a, 'c, C, P> {
    async fn discover(
        client: &'a GattClient<'c, C, P, SERVICES>,
        conn: &'a BleConnection<'c, P>,
        client_ended: &'a Signal<NoopRawMutex, ()>,
    ) -> Result<Self, Error<C::Error>> {
        let services = client.services_by_uuid(&Uuid::from(gatt::SERVICE)).await?;
        let service = services.first().ok_or(Error::NoService)?;
        let find = async |uuid: u128| {
            client
                .characteristic_by_uuid::<[u8]>(service, &Uuid::from(uuid))
                .await
                .map_err(|_| Error::NoService)
        };
        Ok(Self {
            inbound: find(gatt::INBOUND).await?,
            outbound: find(gatt::OUTBOUND).await?,
            setup_info: find(gatt::SETUP_INFO).await?,
            client,
            conn,
            client_ended,
        })
    }

    /// Reads the device's Setup Info (its id and KDF parameters), which a
    /// host with a typed code needs; a QR payload carries it.
    pub async fn read_setup_info(&self) -> Result<SetupInfo, Error<C::Error>> {
        let mut value = [0; SetupInfo::LEN + 1];
        let len = self
            .client
            .read_characteristic(&self.setup_info, &mut value)
            .await?;
        SetupInfo::decode(&value[..len]).map_err(|_| Error::BadSetupInfo)
    }

    /// Drives `host` through `app` until it ends (closed or failed) and its
    /// last values are out, or the link drops (then `host` has failed with
    /// `LinkLost` and the error says why).
    pub async fn run<A: Application>(
        &mut self,
        host: &mut HostConnection,
        app: &mut A,
    ) -> Result<(), Error<C::Error>> {
        let mut values = Values {
            client_ended: self.client_ended,
            link_gone: false,
            listener: self.outbound()?,
        };
        client::run(self, &mut values, host, app)
            .await
            .map_err(|ended| match ended {
                Ended::LinkLost => trouble_host::Error::Disconnected.into(),
                Ended::Stack(error) => error,
            })
    }

    /// Waits until the link drops.
    pub async fn disconnected(&self) {
        dropped(self.conn).await
    }

    /// The values the device notifies on Outbound from now on. This and
    /// the [`ServiceClient`] methods are for tools and tests that script
    /// the stream by hand; [`run`](Self::run) uses them itself.
    pub fn outbound(&self) -> Result<OutboundValues<'_>, Error<C::Error>> {
        Ok(self.client.listen(&self.outbound)?)
    }
}

impl<C: Controller, P: PacketPool> ServiceClient for Link<'_, '_, C, P> {
    type Error = Error<C::Error>;

    /// The ATT MTU agreed with the device.
    fn att_mtu(&self) -> u16 {
        self.conn.att_mtu()
    }

    async fn enable_notifications(&self) -> Result<(), Self::Error> {
        let cccd = self.outbound.cccd_handle.ok_or(Error::NoService)?;
        Ok(self.client.write_handle(cccd, &1u16.to_le_bytes()).await?)
    }

    /// Writes with a Write Request: ATT's own flow control, one value at a
    /// time. (trouble-host, on either side, drops what arrives while its
    /// queue is full, and a burst of Write Commands can fill it.)
    async fn write_inbound(&self, value: &[u8]) -> Result<(), Self::Error> {
        Ok(self
            .client
            .write_characteristic(&self.inbound, value)
            .await?)
    }
}

/// Outbound's notifications until the link drops, every one received
/// before the drop included: a device may notify an alert and leave at
/// once, and the alert says why.
struct Values<'a, 'l> {
    client_ended: &'a Signal<NoopRawMutex, ()>,
    link_gone: bool,
    listener: OutboundValues<'l>,
}

impl Notifications for Values<'_, '_> {
    type Value = Notification<{ trouble_host::config::GATT_CLIENT_NOTIFICATION_MTU }>;

    async fn next(&mut self) -> Option<Self::Value> {
        if self.link_gone {
            return None;
        }
        // The listener is polled first, so a value it holds wins over the
        // end of the client's task, which hands every value over first.
        match select(self.listener.next(), self.client_ended.wait()).await {
            Either::First(value) => Some(value),
            Either::Second(()) => {
                self.client_ended.signal(()); // for any later waiter
                self.link_gone = true;
                None
            }
        }
    }
}

/// Waits until the link drops.
async fn dropped<P: PacketPool>(conn: &BleConnection<'_, P>) {
    while !matches!(conn.next().await, ConnectionEvent::Disconnected { .. }) {}
}
