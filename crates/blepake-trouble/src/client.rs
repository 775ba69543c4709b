//! The host's side of a GATT link, whatever stack carries it: trouble-host
//! here ([`host::Link`](crate::host::Link)), an OS's through btleplug in
//! the command line. A stack says how to write Inbound and enable
//! notifications ([`ServiceClient`]) and hands over what Outbound notifies
//! ([`Notifications`]); [`run`] does the rest with the core's pump.

use core::future::Future;

use blepake::pump::{self, Input};
use blepake::{Connection, HostConnection};
use embassy_futures::select::{Either, Either4, select, select4};

use crate::Application;
use crate::outbox::{Item, Outbox};

/// What a host's GATT stack does for it on a connected device's blepake
/// service.
pub trait ServiceClient {
    /// The stack's error.
    type Error;

    /// The ATT MTU in force.
    fn att_mtu(&self) -> u16;

    /// Enables notifications of Outbound (writes `0x0001` to its CCCD).
    fn enable_notifications(&self) -> impl Future<Output = Result<(), Self::Error>>;

    /// Writes one value to Inbound, in order with the ones before.
    fn write_inbound(&self, value: &[u8]) -> impl Future<Output = Result<(), Self::Error>>;
}

/// The values a device notifies on Outbound, as a host's stack delivers
/// them.
pub trait Notifications {
    /// One value.
    type Value: AsRef<[u8]>;

    /// The next value, or `None` once the link has dropped.
    fn next(&mut self) -> impl Future<Output = Option<Self::Value>>;
}

/// Why [`run`] ended before the session did.
#[derive(Debug)]
pub enum Ended<E> {
    /// The link dropped.
    LinkLost,
    /// The stack failed to write.
    Stack(E),
}

/// Drives `host` through `app` until it ends (closed or failed) and its
/// last values are out, or the link drops (then `host` has failed with
/// `LinkLost`).
pub async fn run<G, N, A>(
    client: &G,
    values: &mut N,
    host: &mut HostConnection,
    app: &mut A,
) -> Result<(), Ended<G::Error>>
where
    G: ServiceClient,
    N: Notifications,
    A: Application,
{
    let outbox = Outbox::default();
    let step = |host: &mut HostConnection, app: &mut A, input: Input<'_>| {
        let mtu = usize::from(client.att_mtu());
        let mut transport = outbox.transport(mtu.saturating_sub(3), true);
        let Ok(()) = pump::step(host, &mut transport, input, |host, output| {
            app.on_output(host, output)
        });
    };
    let stepper = async {
        step(host, app, Input::Ready);
        loop {
            if host.is_closed() {
                // A device may leave as soon as it reads the close, before
                // it answers the write that carried it: its leaving ends
                // the wait as well.
                let link_dropped = async { while values.next().await.is_some() {} };
                select(outbox.wait_drained(), link_dropped).await;
                return Ok(());
            }
            let woke = select4(
                values.next(),
                crate::timer(host.poll_timeout()),
                outbox.wait_room(),
                app.wait(),
            )
            .await;
            match woke {
                Either4::First(Some(value)) => step(host, app, Input::Received(value.as_ref())),
                Either4::First(None) => {
                    step(host, app, Input::Disconnected);
                    return Err(Ended::LinkLost);
                }
                Either4::Second(()) => step(host, app, Input::Timer),
                Either4::Third(()) => step(host, app, Input::Ready),
                Either4::Fourth(()) => {
                    app.act(host);
                    step(host, app, Input::Ready);
                }
            }
        }
    };
    match select(stepper, send_all(client, &outbox)).await {
        Either::First(result) => result,
        Either::Second(Ok(never)) => match never {},
        Either::Second(Err(error)) => {
            step(host, app, Input::Disconnected);
            Err(Ended::Stack(error))
        }
    }
}

/// Writes what the pump queued: the CCCD first, then Inbound.
async fn send_all<G: ServiceClient>(
    client: &G,
    outbox: &Outbox,
) -> Result<core::convert::Infallible, G::Error> {
    loop {
        match outbox.next().await {
            Item::Subscribe => client.enable_notifications().await?,
            Item::Value(value) => client.write_inbound(&value).await?,
        }
        outbox.sent();
    }
}
