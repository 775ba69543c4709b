//! The baseline for blepake's size: the same board, controller and
//! trouble-host peripheral, advertising and serving a GATT server with the
//! GAP service only, without blepake. `./size` prints both images.

#![no_std]
#![no_main]

use embassy_executor::Spawner;
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use trouble_host::prelude::*;
use {defmt_rtt as _, panic_probe as _};

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let board = blepake_nrf52840::init(spawner);
    let mut resources: HostResources<DefaultPacketPool, 1, 2> = HostResources::new();
    let stack = trouble_host::new(board.sdc, &mut resources)
        .set_random_address(Address::random(board.address))
        .build();
    let mut runner = stack.runner();
    let mut peripheral = stack.peripheral();
    let mut table: AttributeTable<'_, NoopRawMutex, 8> = AttributeTable::new();
    defmt::unwrap!(GapConfig::default("baseline").build(&mut table));
    let server: AttributeServer<'_, NoopRawMutex, DefaultPacketPool, 8, 1> =
        AttributeServer::new(table);
    let serve = async {
        loop {
            let mut adv_data = [0; 31];
            let len = defmt::unwrap!(AdStructure::encode_slice(
                &[AdStructure::Flags(
                    LE_GENERAL_DISCOVERABLE | BR_EDR_NOT_SUPPORTED
                )],
                &mut adv_data,
            ));
            let advertiser = defmt::unwrap!(
                peripheral
                    .advertise(
                        &Default::default(),
                        Advertisement::ConnectableScannableUndirected {
                            adv_data: &adv_data[..len],
                            scan_data: &[],
                        },
                    )
                    .await
            );
            let conn = defmt::unwrap!(
                defmt::unwrap!(advertiser.accept().await).with_attribute_server(&server)
            );
            loop {
                match conn.next().await {
                    GattConnectionEvent::Disconnected { .. } => break,
                    GattConnectionEvent::Gatt { event } => {
                        if let Ok(reply) = event.accept() {
                            reply.send().await;
                        }
                    }
                    _ => {}
                }
            }
        }
    };
    if let Either::First(Err(error)) = select(runner.run(), serve).await {
        defmt::panic!("the BLE stack stopped: {}", defmt::Debug2Format(&error));
    }
}
