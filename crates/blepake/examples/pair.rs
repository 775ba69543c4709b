//! A host and a device in one process, joined by in-memory transports and
//! driven by the core's pump: they pair from the QR code, send a message
//! each way (the host's first rides with its confirmation), close, then
//! reconnect with the bond. `cargo run -p blepake --example pair`

use blepake::pump::{self, Input, MemoryTransport, Output};
use blepake::wire::Deframer;
use blepake::{
    Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Event, HostConfig,
    HostConnection, Instant, KdfParams, MemoryStorage, SetupCode, SetupPayload,
};
use rand_core::{OsRng, RngCore};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    // The factory: a code, the device's record (for its flash) and the text
    // of the QR code on its label.
    let code = SetupCode::generate(&mut OsRng);
    let mut salt = [0; 16];
    OsRng.fill_bytes(&mut salt);
    let kdf = KdfParams::recommended(salt);
    let record = DeviceRecord::provision(&code.clone().into(), DeviceId::random(&mut OsRng), kdf)?;
    let label = SetupPayload {
        info: record.setup_info(),
        password: code.into(),
    }
    .to_text();

    let now = Instant::from_millis(0);
    let mut device: Device<_, _> = Device::new(
        record,
        DevicePolicy::default(),
        MemoryStorage::default(),
        OsRng,
        now,
    );

    // The host scans the label and derives the secrets (Argon2id).
    let payload = SetupPayload::parse(label.as_str())?;
    let secrets = payload
        .info
        .kdf
        .derive(&payload.password, &payload.info.device_id)?;
    let host = HostConnection::pair(
        &payload.info,
        &secrets,
        None,
        HostConfig::default(),
        &mut OsRng,
        now,
    );
    println!("pairing:");
    let bond = run_link(&mut device, host, now)?.ok_or("the pairing made no bond")?;

    println!("reconnecting with the bond:");
    let host = HostConnection::resume(&bond, HostConfig::default(), &mut OsRng, now);
    run_link(&mut device, host, now)?;
    Ok(())
}

/// One BLE link: the host writes values into `to_device`, the device
/// notifies them into `to_host`, and each side's pump takes the other's.
/// Returns the bond the host got, if any.
fn run_link(
    device: &mut Device<MemoryStorage, OsRng>,
    mut host: HostConnection,
    now: Instant,
) -> Result<Option<Bond>, Error> {
    let link = device.accept(now)?;
    let mut to_device = MemoryTransport::new(244, now);
    let mut to_host = MemoryTransport::new(244, now);
    let mut bond = None;
    // Only to print what each value carries: the frames of each stream.
    let (mut inbound, mut outbound) = (Deframer::new(), Deframer::new());
    pump::step(&mut host, &mut to_device, Input::Ready, |_, _| {})?;
    while !to_device.values.is_empty() || !to_host.values.is_empty() {
        // The device notifies only once the host has subscribed.
        to_host.can_send = to_device.subscribed;
        while let Some(value) = to_device.values.pop_front() {
            println!("  host -> device: {}", describe(&mut inbound, &value));
            let mut link = device.link(link).ok_or("the link is gone")?;
            pump::step(
                &mut link,
                &mut to_host,
                Input::Received(&value),
                |link, output| match output {
                    Output::Event(Event::Connected(info)) => {
                        println!("  device: connected ({:?})", info.mode);
                        link.send(b"hello host").expect("the session is open");
                    }
                    Output::Event(event) => println!("  device: {event:?}"),
                    Output::Message(message) => {
                        println!("  device got {:?}", String::from_utf8_lossy(message))
                    }
                    // Room to send more: nothing more to send here.
                    _ => {}
                },
            )?;
        }
        while let Some(value) = to_host.values.pop_front() {
            println!("  device -> host: {}", describe(&mut outbound, &value));
            pump::step(
                &mut host,
                &mut to_device,
                Input::Received(&value),
                |host, output| {
                    match output {
                        // Sent now, it rides in the same value as the confirmation.
                        Output::Event(Event::Connected(info)) => {
                            println!("  host: connected ({:?})", info.mode);
                            host.send(b"hello device").expect("the session is open");
                        }
                        Output::Event(Event::Bonded(new_bond)) => bond = Some(new_bond),
                        Output::Event(event) => println!("  host: {event:?}"),
                        Output::Message(message) => {
                            println!("  host got {:?}", String::from_utf8_lossy(message));
                            host.close(0).expect("the session is open");
                        }
                        _ => {}
                    }
                },
            )?;
        }
    }
    let closed = host.is_closed() && device.link(link).is_some_and(|link| link.is_closed());
    device.remove(link);
    if !closed {
        return Err("the session did not close".into());
    }
    Ok(bond)
}

/// The frames that end in a value, and its size.
fn describe(stream: &mut Deframer, value: &[u8]) -> String {
    let mut input = value;
    let mut names = Vec::new();
    while let Ok(Some(frame)) = stream.read(&mut input) {
        names.push(frame.header().frame_type.name());
    }
    format!("{} ({} bytes)", names.join(" + "), value.len())
}
