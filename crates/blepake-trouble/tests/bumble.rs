//! The trouble-host device and host end to end over real BLE stacks: two
//! Bumble virtual controllers on one virtual radio link, each exposed as H4
//! over TCP on a port chosen free at run time. The host side and the device
//! side each run a trouble-host stack in this process (two threads), and
//! Bumble's controllers carry the link layer between them.
//!
//! Bumble comes from the project's virtual environment (`.venv`, made by
//! `scripts/setup`); without it these tests fail and say so.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use blepake::pump::Output;
use blepake::{
    AttemptStatus, Bond, Connection, Device, DeviceId, DevicePolicy, DeviceRecord, Error, Event,
    HostConfig, HostConnection, KdfAlgorithm, KdfParams, MemoryStorage, Mode, PairingWindow,
    Password, QrSecret, SetupCode, SetupInfo, SetupPayload,
};
use blepake_trouble::client::ServiceClient as _;
use blepake_trouble::tcp::HeapPacketPool;
use blepake_trouble::trouble_host::prelude::{Address, PacketPool};
use blepake_trouble::{Application, device, host, tcp};
use rand_core::OsRng;
use tokio::sync::{mpsc, oneshot};

/// One test at a time: the device's stack takes trouble-host's one
/// global packet pool.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[path = "support/controllers.rs"]
mod controllers;
use controllers::Controllers;

/// Connects to a controller.
async fn controller(port: u16) -> tcp::TcpController {
    tcp::connect(("127.0.0.1", port))
        .await
        .expect("Bumble's controller takes the connection")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

// ---------------------------------------------------------------------------
// The device: a thread serving a provisioned device that echoes messages

enum Control {
    OpenWindow,
    Status(oneshot::Sender<(AttemptStatus, bool)>),
}

struct DeviceThread {
    control: mpsc::UnboundedSender<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DeviceThread {
    fn start(controllers: &mut Controllers, record: DeviceRecord, policy: DevicePolicy) -> Self {
        let (control, mut commands) = mpsc::unbounded_channel();
        let port = controllers.device_port;
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let controller = controller(port).await;
                let device: RefCell<Device<MemoryStorage, OsRng>> = RefCell::new(Device::new(
                    record,
                    policy,
                    MemoryStorage::default(),
                    OsRng,
                    blepake_trouble::now(),
                ));
                let config = device::Config {
                    name: "blepake test",
                    address: Address::random([0xc0, 0x11, 0x22, 0x33, 0x44, 0xd5]),
                };
                let control = async {
                    while let Some(command) = commands.recv().await {
                        let now = blepake_trouble::now();
                        let mut device = device.borrow_mut();
                        match command {
                            Control::OpenWindow => device
                                .open_pairing_window(now)
                                .expect("memory storage writes"),
                            Control::Status(reply) => {
                                let open = device.pairing_window(now) != PairingWindow::Closed;
                                let _ = reply.send((device.attempts(), open));
                            }
                        }
                    }
                };
                let mut echo = Echo;
                let serve = device::run(controller, &config, &device, &(), &mut echo);
                tokio::select! {
                    result = serve => panic!("the device stopped: {:?}", result.err()),
                    () = control => {}
                }
            });
        });
        Self {
            control,
            thread: Some(thread),
        }
    }

    fn open_window(&self) {
        self.control
            .send(Control::OpenWindow)
            .expect("the device runs");
    }

    /// The device's failure count, and whether its pairing window is open.
    fn status(&self) -> (AttemptStatus, bool) {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::Status(reply))
            .expect("the device runs");
        answer.blocking_recv().expect("the device answers")
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        // Closing the channel ends the control loop and the thread.
        let (closed, _) = mpsc::unbounded_channel();
        self.control = closed;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The device's application: sends every message back.
struct Echo;

impl Application for Echo {
    fn on_output<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>) {
        if let Output::Message(message) = output {
            let _ = conn.send(message);
        }
    }
}

// ---------------------------------------------------------------------------
// The host: a session that sends messages and waits for their echoes

/// ATT MTU 247.
type Mtu247 = HeapPacketPool<251>;
/// ATT MTU 23, the smallest.
type Mtu23 = HeapPacketPool<27>;

/// What the host starts from.
enum Start {
    /// A typed code: the host reads Setup Info first.
    Code(SetupCode),
    /// A scanned QR payload.
    Qr(SetupPayload),
    /// A bond from an earlier pairing.
    Bond(Bond),
}

/// The host's application: sends its messages once connected, closes once
/// all have come back.
#[derive(Default)]
struct Chat {
    to_send: Vec<Vec<u8>>,
    sent: usize,
    received: Vec<Vec<u8>>,
    connected: Option<Mode>,
    bond: Option<Bond>,
    failure: Option<Error>,
    closed: bool,
}

impl Application for Chat {
    fn on_output<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>) {
        match output {
            Output::Event(Event::Connected(info)) => self.connected = Some(info.mode),
            Output::Event(Event::Bonded(bond)) => self.bond = Some(bond),
            Output::Event(Event::Failed { error, .. }) => self.failure = Some(error),
            Output::Event(Event::Closed { .. }) => self.closed = true,
            Output::Message(message) => {
                self.received.push(message.to_vec());
                if self.received.len() == self.to_send.len() {
                    conn.close(0).expect("the session is open");
                }
            }
            // One message at a time, as room allows.
            Output::Writable
                if self.sent < self.to_send.len() && self.sent == self.received.len() =>
            {
                conn.send(&self.to_send[self.sent])
                    .expect("the session is open");
                self.sent += 1;
            }
            _ => {}
        }
    }
}

/// The outcome of one host session.
struct Session {
    chat: Chat,
    att_mtu: u16,
}

/// Connects to the device, pairs or resumes, and exchanges `messages`.
fn session<P: PacketPool>(
    controllers: &mut Controllers,
    start: Start,
    messages: &[&[u8]],
) -> Session {
    let rt = runtime();
    let port = controllers.host_port;
    rt.block_on(deadline(async {
        let controller = controller(port).await;
        let config = host::Config {
            address: Address::random([0xc0, 0x55, 0x66, 0x77, 0x88, 0xe9]),
            scan_timeout: embassy_time::Duration::from_secs(10),
        };
        let mut chat = Chat {
            to_send: messages.iter().map(|m| m.to_vec()).collect(),
            ..Chat::default()
        };
        let att_mtu = host::run::<_, P, _>(controller, &config, async |link| {
            let mut host = match start {
                Start::Code(code) => {
                    let info = link.read_setup_info().await.expect("Setup Info reads");
                    pair(&info, &code.into())
                }
                Start::Qr(payload) => pair(&payload.info, &payload.password),
                Start::Bond(bond) => HostConnection::resume(
                    &bond,
                    HostConfig::default(),
                    &mut OsRng,
                    blepake_trouble::now(),
                ),
            };
            // A failed handshake ends the link from the device's side.
            let _ = link.run(&mut host, &mut chat).await;
            link.att_mtu()
        })
        .await
        .expect("the host reaches the device");
        Session { chat, att_mtu }
    }))
}

/// Fails a test that hangs, rather than hanging the test run.
async fn deadline<T>(run: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the session ends within a minute")
}

fn pair(info: &SetupInfo, password: &Password) -> HostConnection {
    let secrets = info.kdf.derive(password, &info.device_id).expect("derives");
    HostConnection::pair(
        info,
        &secrets,
        None,
        HostConfig::default(),
        &mut OsRng,
        blepake_trouble::now(),
    )
}

// ---------------------------------------------------------------------------
// Provisioning

/// Argon2id small enough for a test (the parameters travel in Setup Info).
fn test_kdf() -> KdfParams {
    KdfParams {
        algorithm: KdfAlgorithm::Argon2id,
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        salt: [7; 16],
    }
}

fn with_code() -> (DeviceRecord, SetupCode) {
    let code = SetupCode::generate(&mut OsRng);
    let record = DeviceRecord::provision(
        &code.clone().into(),
        DeviceId::random(&mut OsRng),
        test_kdf(),
    )
    .expect("provisions");
    (record, code)
}

fn with_qr_secret() -> (DeviceRecord, SetupPayload) {
    let secret = QrSecret::generate(&mut OsRng);
    let kdf = KdfParams::for_qr_secret([9; 16]);
    let record = DeviceRecord::provision(&secret.clone().into(), DeviceId::random(&mut OsRng), kdf)
        .expect("provisions");
    let payload = SetupPayload {
        info: record.setup_info(),
        password: secret.into(),
    };
    (record, payload)
}

/// A code that is not `code`.
fn wrong(code: &SetupCode) -> SetupCode {
    SetupCode::new((code.value() + 1) % 100_000_000)
        .or_else(|_| SetupCode::new((code.value() + 2) % 100_000_000))
        .expect("a neighbour of a code is a code")
}

const LONG: [u8; 512] = [0x5a; 512];

// ---------------------------------------------------------------------------
// The tests

#[test]
fn pairs_with_a_typed_code_talks_and_resumes_at_mtu_247_and_the_capture_shows_no_secret() {
    let _serial = serial();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bumble");
    std::fs::create_dir_all(&dir).expect("a capture directory");
    let snoop = dir.join("pair-resume");
    for instance in 0..2 {
        let _ = std::fs::remove_file(dir.join(format!("pair-resume-{instance}.btsnoop")));
    }
    let mut controllers = Controllers::start(Some(&snoop));
    let (record, code) = with_code();
    let device = DeviceThread::start(&mut controllers, record, DevicePolicy::default());

    let greeting: &[u8] = b"plaintext the radio must never carry";
    let paired = session::<Mtu247>(
        &mut controllers,
        Start::Code(code.clone()),
        &[greeting, &LONG],
    );
    assert_eq!(paired.att_mtu, 247);
    assert_eq!(
        paired.chat.connected,
        Some(Mode::Paired),
        "{:?}",
        paired.chat.failure
    );
    assert_eq!(paired.chat.received, [greeting.to_vec(), LONG.to_vec()]);
    assert!(
        paired.chat.closed,
        "the session ends with an authenticated close"
    );
    let bond = paired.chat.bond.expect("the pairing made a bond");
    let (attempts, open) = device.status();
    assert_eq!(attempts.failures, 0);
    assert!(!open, "a pairing closes the window");

    let resumed = session::<Mtu247>(
        &mut controllers,
        Start::Bond(bond),
        &[b"again, with the bond"],
    );
    assert_eq!(
        resumed.chat.connected,
        Some(Mode::Resumed),
        "{:?}",
        resumed.chat.failure
    );
    assert_eq!(resumed.chat.received, [b"again, with the bond".to_vec()]);
    drop(device);
    drop(controllers);

    // The device's controller saw both links; its capture is kept.
    let capture = std::fs::read(dir.join("pair-resume-0.btsnoop")).expect("Bumble wrote a capture");
    let manual = code.manual().to_string();
    let digits = String::from_utf8(code.digits().to_vec()).expect("ASCII digits");
    for secret in [
        digits.as_bytes(),
        manual.as_bytes(),
        manual.replace('-', "").as_bytes(),
    ] {
        assert!(!contains(&capture, secret), "the capture carries the code");
    }
    for plaintext in [greeting, b"again, with the bond".as_slice(), &LONG[..32]] {
        assert!(
            !contains(&capture, plaintext),
            "the capture carries plaintext"
        );
    }
    // The analyser reads the capture and sees both links' GATT traffic.
    let report = blepake_sniff::analyse(&capture, &blepake_sniff::Options::default(), &mut |_| {})
        .expect("the analyser reads Bumble's capture");
    assert!(report.read_error.is_none());
    assert_eq!(report.stats.undecodable, 0, "every frame decoded");
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let links: Vec<_> = report
        .connections
        .iter()
        .filter(|c| c.att_mtu == Some(247))
        .collect();
    assert_eq!(
        links.len(),
        2,
        "both links, with their ATT MTU exchange: {:?}",
        report.connections
    );
    assert!(
        report.connections.iter().all(|c| c.pairings.is_empty()),
        "no OS pairing"
    );
    // The host left the first link itself (Remote User Terminated
    // Connection); the capture may stop before the second one's end.
    let ended = report.connections[0].disconnect.as_ref();
    assert_eq!(ended.map(|d| d.reason), Some(0x13));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn pairs_from_a_qr_code_at_mtu_23() {
    let _serial = serial();
    let mut controllers = Controllers::start(None);
    let (record, payload) = with_qr_secret();
    let _device = DeviceThread::start(&mut controllers, record, DevicePolicy::default());
    let paired = session::<Mtu23>(&mut controllers, Start::Qr(payload), &[b"small", &LONG]);
    assert_eq!(paired.att_mtu, 23);
    assert_eq!(
        paired.chat.connected,
        Some(Mode::Paired),
        "{:?}",
        paired.chat.failure
    );
    assert_eq!(paired.chat.received, [b"small".to_vec(), LONG.to_vec()]);
}

#[test]
fn wrong_codes_are_counted_then_held_off_then_locked_until_the_window_opens() {
    let _serial = serial();
    let mut controllers = Controllers::start(None);
    let (record, code) = with_code();
    let policy = DevicePolicy {
        max_failures: 4,
        free_attempts: 2,
        backoff_base: Duration::from_secs(2),
        backoff_max: Duration::from_secs(2),
        ..DevicePolicy::default()
    };
    let device = DeviceThread::start(&mut controllers, record, policy);
    let try_code = |controllers: &mut Controllers, code: &SetupCode| {
        let outcome = session::<Mtu247>(controllers, Start::Code(code.clone()), &[b"hi"]);
        (outcome.chat.connected, outcome.chat.failure)
    };

    // A new device is open; the pairing makes a bond and closes the window.
    assert_eq!(try_code(&mut controllers, &code).0, Some(Mode::Paired));
    // Closed: a guess is refused and counts nothing.
    assert_eq!(
        try_code(&mut controllers, &wrong(&code)).1,
        Some(Error::PairingClosed)
    );
    assert_eq!(device.status().0.failures, 0);

    device.open_window();
    for failures in 1..=2 {
        assert_eq!(
            try_code(&mut controllers, &wrong(&code)).1,
            Some(Error::AuthenticationFailed)
        );
        assert_eq!(device.status().0.failures, failures);
    }
    // Past the free attempts the device holds off, counting nothing.
    let held_off = try_code(&mut controllers, &wrong(&code)).1;
    assert!(matches!(held_off, Some(Error::Busy { .. })), "{held_off:?}");
    assert_eq!(device.status().0.failures, 2);
    for failures in 3..=4 {
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(
            try_code(&mut controllers, &wrong(&code)).1,
            Some(Error::AuthenticationFailed)
        );
        assert_eq!(device.status().0.failures, failures);
    }
    std::thread::sleep(Duration::from_millis(2100));
    // Locked: even the right code, until a person opens the window.
    assert_eq!(try_code(&mut controllers, &code).1, Some(Error::Locked));
    assert!(device.status().0.locked);
    device.open_window();
    assert_eq!(try_code(&mut controllers, &code).0, Some(Mode::Paired));
    assert_eq!(
        device.status().0,
        AttemptStatus {
            failures: 0,
            locked: false
        }
    );
}

/// Runs `script` against the device's blepake service by hand, then
/// leaves.
fn scripted<T>(
    controllers: &mut Controllers,
    script: impl AsyncFnOnce(&mut host::Link<'_, '_, tcp::TcpController, Mtu247>) -> T,
) -> T {
    let port = controllers.host_port;
    runtime().block_on(deadline(async {
        let config = host::Config {
            address: Address::random([0xc0, 0x55, 0x66, 0x77, 0x88, 0xea]),
            scan_timeout: embassy_time::Duration::from_secs(10),
        };
        host::run::<_, Mtu247, _>(controller(port).await, &config, script)
            .await
            .expect("the host reaches the device")
    }))
}

/// The first value a host connection sends: its request.
fn request(mut host: HostConnection) -> Vec<u8> {
    let _ = host.poll_subscribe();
    let mut value = [0; 244];
    let len = host.poll_transmit(&mut value).expect("a request");
    value[..len].to_vec()
}

/// Writes (part of) a request, and with `answer`, waits for the device's
/// answer and returns its frame type.
async fn send_request(
    link: &mut host::Link<'_, '_, tcp::TcpController, Mtu247>,
    request: &[u8],
    answer: bool,
) -> Option<u8> {
    let mut values = link.outbound().expect("a listener");
    link.enable_notifications()
        .await
        .expect("the CCCD is written");
    link.write_inbound(request)
        .await
        .expect("Inbound is written");
    if !answer {
        return None;
    }
    let value = tokio::time::timeout(Duration::from_secs(5), values.next())
        .await
        .expect("the device answers");
    Some(value.as_ref()[0] >> 4)
}

#[test]
fn links_dropped_in_each_handshake_state_leave_the_device_serving() {
    let _serial = serial();
    let mut controllers = Controllers::start(None);
    let (record, payload) = with_qr_secret();
    let device = DeviceThread::start(&mut controllers, record, DevicePolicy::default());
    let (info, password) = (payload.info, &payload.password);

    // Connected, nothing sent.
    scripted(&mut controllers, async |_| {});
    // Half a request.
    let pair_request = request(pair(&info, password));
    scripted(&mut controllers, async |link| {
        send_request(link, &pair_request[..pair_request.len() / 2], false).await
    });
    assert_eq!(device.status().0.failures, 0);
    // A whole request: the device counts it, answers, and waits for a
    // confirmation that never comes.
    let answer = scripted(&mut controllers, async |link| {
        send_request(link, &pair_request, true).await
    });
    assert_eq!(answer, Some(2), "a PairResponse");
    assert_eq!(device.status().0.failures, 1, "the attempt stays counted");

    // The dropped link released the pairing lock: a host pairs at once.
    let paired = session::<Mtu247>(&mut controllers, Start::Qr(payload), &[b"after the drops"]);
    assert_eq!(
        paired.chat.connected,
        Some(Mode::Paired),
        "{:?}",
        paired.chat.failure
    );
    assert_eq!(paired.chat.received, [b"after the drops".to_vec()]);
    assert_eq!(device.status().0.failures, 0);
    let bond = paired.chat.bond.expect("a bond");

    // A resume answered, never finished.
    let resume_request = request(HostConnection::resume(
        &bond,
        HostConfig::default(),
        &mut OsRng,
        blepake_trouble::now(),
    ));
    let answer = scripted(&mut controllers, async |link| {
        send_request(link, &resume_request, true).await
    });
    assert_eq!(answer, Some(5), "a ResumeResponse");
    // A host that stays after its session failed (a frame of a reserved
    // type) is dropped by the device within a moment.
    let dropped = scripted(&mut controllers, async |link| {
        send_request(link, &[0x00, 0x01, 0x00], false).await;
        tokio::time::timeout(Duration::from_secs(3), link.disconnected())
            .await
            .is_ok()
    });
    assert!(dropped, "the device dropped the link");

    // The bond still resumes.
    let resumed = session::<Mtu247>(&mut controllers, Start::Bond(bond), &[b"resumed"]);
    assert_eq!(
        resumed.chat.connected,
        Some(Mode::Resumed),
        "{:?}",
        resumed.chat.failure
    );
    assert_eq!(resumed.chat.received, [b"resumed".to_vec()]);
}
