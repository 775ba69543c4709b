//! A host and a device joined by the UART framing in memory: the host's
//! values go out as Inbound frames, the device's side answers with
//! Outbound frames, and every byte crosses the decoders in small pieces.

use blepake::pump::{self, Input, Output, Transport};
use blepake::{
    Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Error, Event, HostConfig,
    HostConnection, Instant, KdfAlgorithm, KdfParams, MemoryStorage, Mode, SetupCode, SetupInfo,
};
use blepake_uart::{Decoder, DeviceSide, FrameType, MAX_ENCODED_LEN, MAX_VALUE_LEN, Uart};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

type TestDevice = Device<MemoryStorage, ChaCha20Rng>;

#[derive(Default)]
struct Wire(Vec<u8>);

impl Uart for Wire {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

impl Wire {
    fn frame(&mut self, kind: FrameType, payload: &[u8]) {
        let mut out = [0; MAX_ENCODED_LEN];
        let len = blepake_uart::encode(kind, payload, &mut out).unwrap();
        self.0.extend_from_slice(&out[..len]);
    }
}

/// The host's transport: each value an Inbound frame.
struct HostSide<'a> {
    wire: &'a mut Wire,
}

impl Transport for HostSide<'_> {
    type Error = std::convert::Infallible;
    fn now(&self) -> Instant {
        Instant::from_millis(0)
    }
    fn max_value_len(&self) -> usize {
        MAX_VALUE_LEN
    }
    fn can_send(&self) -> bool {
        true
    }
    fn send(&mut self, value: &[u8]) -> Result<(), Self::Error> {
        self.wire.frame(FrameType::Inbound, value);
        Ok(())
    }
    fn subscribe(&mut self) -> Result<(), Self::Error> {
        self.wire.frame(FrameType::Subscribe, &[]);
        Ok(())
    }
}

struct Outcome {
    connected: Option<Mode>,
    echoed: Vec<Vec<u8>>,
    bond: Option<Bond>,
    failure: Option<Error>,
    device_closed: bool,
}

/// One link: Open, then the host's session until the device sends Close.
fn run(
    device: &mut TestDevice,
    side: &mut DeviceSide,
    mut host: HostConnection,
    messages: &[&[u8]],
) -> Outcome {
    let mut outcome = Outcome {
        connected: None,
        echoed: Vec::new(),
        bond: None,
        failure: None,
        device_closed: false,
    };
    let now = Instant::from_millis(0);
    let mut to_device = Wire::default();
    to_device.frame(FrameType::Open, &[]);
    let _ = pump::step(
        &mut host,
        &mut HostSide {
            wire: &mut to_device,
        },
        Input::Ready,
        |_, _| {},
    );
    let mut host_decoder = Decoder::default();
    for _round in 0..20 {
        let mut to_host = Wire::default();
        for piece in to_device.0.chunks(3) {
            side.receive(
                device,
                &mut to_host,
                piece,
                now,
                &mut |link, output| {
                    if let Output::Message(message) = output {
                        let _ = link.send(message);
                    }
                },
                &mut |_, _, _| {},
            );
        }
        to_device.0.clear();
        let mut rest = &to_host.0[..];
        while !rest.is_empty() {
            let (taken, frame) = host_decoder.push(rest);
            rest = &rest[taken..];
            let Some(frame) = frame else { continue };
            match frame.kind {
                FrameType::Outbound => {
                    let _ = pump::step(
                        &mut host,
                        &mut HostSide {
                            wire: &mut to_device,
                        },
                        Input::Received(frame.payload),
                        |host, output| match output {
                            Output::Event(Event::Connected(info)) => {
                                outcome.connected = Some(info.mode);
                                for message in messages {
                                    host.send(message).unwrap();
                                }
                            }
                            Output::Event(Event::Bonded(bond)) => outcome.bond = Some(bond),
                            Output::Event(Event::Failed { error, .. }) => {
                                outcome.failure = Some(error)
                            }
                            Output::Message(message) => {
                                outcome.echoed.push(message.to_vec());
                                if outcome.echoed.len() == messages.len() {
                                    host.close(0).unwrap();
                                }
                            }
                            _ => {}
                        },
                    );
                }
                FrameType::Close => outcome.device_closed = true,
                other => panic!("unexpected frame {other:?}"),
            }
        }
        if outcome.device_closed {
            break;
        }
    }
    assert!(!side.is_linked(), "the device keeps no link after Close");
    outcome
}

fn setup() -> (TestDevice, SetupInfo, SetupCode) {
    let code: SetupCode = "31415926".parse().unwrap();
    let record = DeviceRecord::provision(
        &code.clone().into(),
        DeviceId([7; 8]),
        KdfParams {
            algorithm: KdfAlgorithm::Argon2id,
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            salt: [3; 16],
        },
    )
    .unwrap();
    let info = record.setup_info();
    let device = Device::new(
        record,
        DevicePolicy::default(),
        MemoryStorage::default(),
        ChaCha20Rng::seed_from_u64(1),
        Instant::from_millis(0),
    );
    (device, info, code)
}

fn pair(info: &SetupInfo, code: &str, seed: u64) -> HostConnection {
    let code: SetupCode = code.parse().unwrap();
    let secrets = info.kdf.derive(&code.into(), &info.device_id).unwrap();
    HostConnection::pair(
        info,
        &secrets,
        None,
        HostConfig::default(),
        &mut ChaCha20Rng::seed_from_u64(seed),
        Instant::from_millis(0),
    )
}

#[test]
fn setup_info_is_read_over_the_uart() {
    let (mut device, info, _) = setup();
    let mut side = DeviceSide::default();
    let mut request = Wire::default();
    request.frame(FrameType::ReadSetupInfo, &[]);
    let mut answer = Wire::default();
    side.receive(
        &mut device,
        &mut answer,
        &request.0,
        Instant::from_millis(0),
        &mut |_, _| {},
        &mut |_, _, _| {},
    );
    let mut decoder = Decoder::default();
    let (_, frame) = decoder.push(&answer.0);
    let frame = frame.unwrap();
    assert_eq!(frame.kind, FrameType::SetupInfo);
    assert_eq!(SetupInfo::decode(frame.payload).unwrap(), info);
}

#[test]
fn pairs_talks_refuses_a_wrong_code_and_resumes() {
    let (mut device, info, _) = setup();
    let mut side = DeviceSide::default();
    let long = vec![0xa5; 300];
    let messages: [&[u8]; 2] = [b"hello device", &long];
    let paired = run(
        &mut device,
        &mut side,
        pair(&info, "31415926", 2),
        &messages,
    );
    assert_eq!(paired.connected, Some(Mode::Paired));
    assert_eq!(paired.echoed, messages.map(<[u8]>::to_vec));
    assert!(paired.device_closed);
    let bond = paired.bond.expect("a bond");

    device.open_pairing_window(Instant::from_millis(0)).unwrap();
    let wrong = run(&mut device, &mut side, pair(&info, "27182818", 3), &[]);
    assert_eq!(wrong.connected, None);
    assert_eq!(wrong.failure, Some(Error::AuthenticationFailed));
    assert_eq!(device.attempts().failures, 1);

    let resumed = run(
        &mut device,
        &mut side,
        HostConnection::resume(
            &bond,
            HostConfig::default(),
            &mut ChaCha20Rng::seed_from_u64(4),
            Instant::from_millis(0),
        ),
        &[b"again"],
    );
    assert_eq!(resumed.connected, Some(Mode::Resumed));
    assert_eq!(resumed.echoed, [b"again".to_vec()]);
}

#[test]
fn a_board_command_reaches_the_board_and_open_replaces_a_link() {
    let (mut device, _, _) = setup();
    let mut side = DeviceSide::default();
    let mut input = Wire::default();
    input.frame(FrameType::Open, &[]);
    input.frame(FrameType::Open, &[]);
    input.frame(FrameType::Board(2), b"go");
    let mut commands = Vec::new();
    let mut out = Wire::default();
    side.receive(
        &mut device,
        &mut out,
        &input.0,
        Instant::from_millis(0),
        &mut |_, _| {},
        &mut |_, command, payload| commands.push((command, payload.to_vec())),
    );
    assert!(side.is_linked());
    assert_eq!(device.links().count(), 1);
    assert_eq!(commands, [(2, b"go".to_vec())]);
    assert!(out.0.is_empty());
}
