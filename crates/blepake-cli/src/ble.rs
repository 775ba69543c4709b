//! `blepake connect --ble`: the computer's own Bluetooth, through the OS
//! with btleplug (BlueZ, CoreBluetooth, WinRT).
//!
//! It scans for the blepake service UUID, connects, and uses the service's
//! characteristics as plain GATT: it writes Inbound, subscribes to Outbound
//! and reads Setup Info. It never calls an OS pairing API, and the
//! characteristics need no ATT security, so the OS has no reason to pair.
//! The session loop is `blepake_trouble::client::run`, the one the
//! trouble-host central runs.

use crate::connect::{Failure, HostLink, Session};

#[cfg(not(feature = "btleplug"))]
pub async fn with_link<T>(
    _timeout: std::time::Duration,
    _f: impl AsyncFnOnce(&mut NoLink) -> Result<T, Failure>,
) -> Result<Result<T, Failure>, Failure> {
    Err(Failure::Usage(
        "--ble needs a blepake built with the btleplug feature \
         (cargo install blepake-cli --features btleplug)"
            .into(),
    ))
}

/// What `--ble` gives without btleplug: nothing.
#[cfg(not(feature = "btleplug"))]
pub enum NoLink {}

#[cfg(not(feature = "btleplug"))]
impl HostLink for NoLink {
    async fn setup_info(&mut self) -> Result<blepake::SetupInfo, Failure> {
        match *self {}
    }

    async fn run(
        &mut self,
        _host: &mut blepake::HostConnection,
        _session: &mut Session,
    ) -> Result<(), Failure> {
        match *self {}
    }
}

#[cfg(feature = "btleplug")]
pub use os::with_link;

#[cfg(feature = "btleplug")]
mod os {
    use std::pin::Pin;
    use std::time::Duration;

    use blepake::{HostConnection, SetupInfo, gatt};
    use blepake_trouble::client::{self, Ended, Notifications, ServiceClient};
    use btleplug::api::{
        Central, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter,
        ValueNotification, WriteType,
    };
    use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
    use futures::{Stream, StreamExt};
    use uuid::Uuid;

    use super::{Failure, HostLink, Session};

    type Events = Pin<Box<dyn Stream<Item = CentralEvent> + Send>>;

    fn ble(error: btleplug::Error) -> Failure {
        Failure::Link(format!("Bluetooth: {error}"))
    }

    /// A connected device's blepake service through the OS.
    pub struct BleLink {
        peripheral: Peripheral,
        id: PeripheralId,
        events: Events,
        inbound: Characteristic,
        outbound: Characteristic,
        setup_info: Characteristic,
    }

    /// Finds the nearest device advertising the blepake service, connects,
    /// runs `f` with the link, and disconnects.
    pub async fn with_link<T>(
        timeout: Duration,
        f: impl AsyncFnOnce(&mut BleLink) -> Result<T, Failure>,
    ) -> Result<Result<T, Failure>, Failure> {
        let manager = Manager::new().await.map_err(ble)?;
        let adapter = manager
            .adapters()
            .await
            .map_err(ble)?
            .into_iter()
            .next()
            .ok_or_else(|| Failure::Usage("no Bluetooth adapter".into()))?;
        let mut link = tokio::time::timeout(timeout, connect(&adapter))
            .await
            .map_err(|_| Failure::NotFound)??;
        let result = f(&mut link).await;
        let _ = link.peripheral.disconnect().await;
        Ok(result)
    }

    async fn connect(adapter: &Adapter) -> Result<BleLink, Failure> {
        let service = Uuid::from_u128(gatt::SERVICE);
        let mut events = adapter.events().await.map_err(ble)?;
        adapter
            .start_scan(ScanFilter {
                services: vec![service],
            })
            .await
            .map_err(ble)?;
        let peripheral = loop {
            let Some(event) = events.next().await else {
                return Err(Failure::NotFound);
            };
            let (CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id)) = event
            else {
                continue;
            };
            let peripheral = adapter.peripheral(&id).await.map_err(ble)?;
            let offers = peripheral
                .properties()
                .await
                .map_err(ble)?
                .is_some_and(|properties| properties.services.contains(&service));
            if offers {
                break peripheral;
            }
        };
        let _ = adapter.stop_scan().await;
        peripheral.connect().await.map_err(ble)?;
        peripheral.discover_services().await.map_err(ble)?;
        let characteristics = peripheral.characteristics();
        let find = |uuid: u128| {
            characteristics
                .iter()
                .find(|c| c.uuid == Uuid::from_u128(uuid) && c.service_uuid == service)
                .cloned()
                .ok_or_else(|| Failure::Link("the device has no blepake service".into()))
        };
        Ok(BleLink {
            id: peripheral.id(),
            inbound: find(gatt::INBOUND)?,
            outbound: find(gatt::OUTBOUND)?,
            setup_info: find(gatt::SETUP_INFO)?,
            peripheral,
            events,
        })
    }

    /// The writing half of a [`BleLink`].
    struct Client<'a> {
        peripheral: &'a Peripheral,
        inbound: &'a Characteristic,
        outbound: &'a Characteristic,
    }

    impl ServiceClient for Client<'_> {
        type Error = btleplug::Error;

        fn att_mtu(&self) -> u16 {
            self.peripheral.mtu()
        }

        async fn enable_notifications(&self) -> Result<(), Self::Error> {
            self.peripheral.subscribe(self.outbound).await
        }

        /// Writes with a Write Request: ATT's own flow control, so that a
        /// device with a shallow queue (trouble-host's) loses nothing.
        async fn write_inbound(&self, value: &[u8]) -> Result<(), Self::Error> {
            self.peripheral
                .write(self.inbound, value, WriteType::WithResponse)
                .await
        }
    }

    /// Outbound's notifications until the device disconnects.
    struct Values<'a> {
        notifications: Pin<Box<dyn Stream<Item = ValueNotification> + Send>>,
        events: &'a mut Events,
        id: &'a PeripheralId,
        outbound: Uuid,
    }

    impl Notifications for Values<'_> {
        type Value = Vec<u8>;

        async fn next(&mut self) -> Option<Vec<u8>> {
            loop {
                tokio::select! {
                    value = self.notifications.next() => match value {
                        Some(value) if value.uuid == self.outbound => return Some(value.value),
                        Some(_) => {}
                        None => return None,
                    },
                    event = self.events.next() => match event {
                        Some(CentralEvent::DeviceDisconnected(id)) if id == *self.id => return None,
                        Some(_) => {}
                        None => return None,
                    },
                }
            }
        }
    }

    impl HostLink for BleLink {
        async fn setup_info(&mut self) -> Result<SetupInfo, Failure> {
            let value = self.peripheral.read(&self.setup_info).await.map_err(ble)?;
            SetupInfo::decode(&value)
                .map_err(|_| Failure::Link("the device's Setup Info is invalid".into()))
        }

        async fn run(
            &mut self,
            host: &mut HostConnection,
            session: &mut Session,
        ) -> Result<(), Failure> {
            let notifications = self.peripheral.notifications().await.map_err(ble)?;
            let client = Client {
                peripheral: &self.peripheral,
                inbound: &self.inbound,
                outbound: &self.outbound,
            };
            let mut values = Values {
                notifications,
                events: &mut self.events,
                id: &self.id,
                outbound: self.outbound.uuid,
            };
            client::run(&client, &mut values, host, session)
                .await
                .map_err(|ended| match ended {
                    Ended::LinkLost => Failure::Session(blepake::Error::LinkLost),
                    Ended::Stack(error) => ble(error),
                })
        }
    }
}
