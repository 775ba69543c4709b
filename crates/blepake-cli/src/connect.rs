//! `blepake connect`: a host session with a real device. It pairs from the
//! setup code or the QR code, or reconnects with the bond it keeps for the
//! device, then sends, receives or chats.
//!
//! The session knows nothing of what carries it: [`attempt`] runs over any
//! [`HostLink`] (read Setup Info, run a connection). Three links are here:
//! an HCI controller over TCP through trouble-host (`--hci`), the
//! computer's own Bluetooth through the OS with btleplug (`--ble`, feature
//! `btleplug`, in [`crate::ble`]), and a device on a UART behind a TCP
//! socket (`--uart`, in [`crate::uart`]). All run the core's pump through
//! `blepake_trouble::client`.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use blepake::pump::Output;
use blepake::{
    Bond, Connection, DeviceId, Event, HostConfig, HostConnection, Mode, Password, SetupCode,
    SetupInfo, SetupPayload,
};
use blepake_sniff::bytes::{parse_hex, to_hex};
use blepake_trouble::Application;
use blepake_trouble::host;
use blepake_trouble::tcp::{self, HeapPacketPool};
use blepake_trouble::trouble_host::prelude::Address;
use rand_core::{OsRng, RngCore};
use serde_json::json;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// An HCI controller that speaks H4 over TCP (a Bumble virtual
    /// controller, a serial HCI controller behind a TCP bridge)
    #[arg(long, value_name = "tcp:HOST:PORT", required_unless_present_any = ["ble", "uart"])]
    pub hci: Option<String>,
    /// The computer's own Bluetooth, through the OS (needs the `btleplug`
    /// feature); the OS is never asked to pair
    #[arg(long, conflicts_with_all = ["hci", "uart"])]
    pub ble: bool,
    /// A device on a UART behind a TCP socket (an emulator's serial port,
    /// a serial-to-TCP bridge), in the UART framing of PROTOCOL.md §16
    #[arg(long, value_name = "tcp:HOST:PORT", conflicts_with = "hci")]
    pub uart: Option<String>,
    /// Pair with the setup code: 8 digits, or the label's 9 (314-159-266)
    #[arg(long, conflicts_with = "qr")]
    pub code: Option<String>,
    /// Pair from the text of the device's QR code (BP:...)
    #[arg(long)]
    pub qr: Option<String>,
    /// Keep bonds in this file rather than under the user's configuration
    /// directory (blepake/bonds/DEVICE_ID)
    #[arg(long, value_name = "FILE")]
    pub bond: Option<PathBuf>,
    /// Pair even if a bond is kept for the device (the new bond replaces it)
    #[arg(long)]
    pub pair: bool,
    /// Send this message once connected (repeatable, in order)
    #[arg(long = "send", value_name = "TEXT")]
    pub send: Vec<String>,
    /// Wait for this many messages from the device and print them
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub recv: usize,
    /// Send each line typed and print what the device sends, until the end
    /// of input
    #[arg(long, conflicts_with_all = ["send", "recv"])]
    pub chat: bool,
    /// Seconds to find the device; a session that is not a chat has as
    /// long again to finish
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
    /// Print one JSON object per line (events, messages, the error) for
    /// scripts
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ConnectArgs) -> ExitCode {
    let printer = Printer { json: args.json };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the runtime: {e}")))
        .and_then(|rt| rt.block_on(connect(&args, printer)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            printer.error(&failure);
            ExitCode::from(if matches!(failure, Failure::Usage(_)) {
                2
            } else {
                1
            })
        }
    }
}

/// Why the command failed: its arguments or surroundings (exit status 2),
/// or the device and the session (1).
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments, an unreadable file, no controller.
    Usage(String),
    /// No device advertising the blepake service was found.
    NotFound,
    /// The handshake or the session failed.
    Session(blepake::Error),
    /// The link failed otherwise.
    Link(String),
}

impl Failure {
    /// A stable name for scripts.
    fn kind(&self) -> &'static str {
        match self {
            Self::Usage(_) => "usage",
            Self::NotFound => "device_not_found",
            Self::Session(error) => match error {
                blepake::Error::AuthenticationFailed => "wrong_code",
                blepake::Error::Locked => "locked",
                blepake::Error::PairingClosed => "window_closed",
                blepake::Error::Busy { .. } => "busy",
                blepake::Error::LinkLost => "link_lost",
                blepake::Error::ResumeRejected => "bond_rejected",
                blepake::Error::Timeout => "timeout",
                _ => "session_failed",
            },
            Self::Link(_) => "link_failed",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Usage(message) | Self::Link(message) => f.write_str(message),
            Self::NotFound => f.write_str(
                "device not found: no device advertising the blepake service answered in time",
            ),
            Self::Session(blepake::Error::AuthenticationFailed) => f.write_str(
                "wrong code: the device's confirmation did not verify (the attempt was counted)",
            ),
            Self::Session(blepake::Error::LinkLost) => {
                f.write_str("link lost: the link dropped before the session closed")
            }
            Self::Session(error) => write!(f, "{error}"),
        }
    }
}

impl<E: std::fmt::Debug> From<host::Error<E>> for Failure {
    fn from(error: host::Error<E>) -> Self {
        match error {
            host::Error::NotFound | host::Error::ConnectTimeout => Self::NotFound,
            host::Error::Ble(blepake_trouble::trouble_host::BleHostError::BleHost(
                blepake_trouble::trouble_host::Error::Disconnected,
            )) => Self::Session(blepake::Error::LinkLost),
            other => Self::Link(other.to_string()),
        }
    }
}

/// What carries a host session to a device.
pub trait HostLink {
    /// Reads the device's Setup Info (its id and KDF parameters).
    fn setup_info(&mut self) -> impl Future<Output = Result<SetupInfo, Failure>>;

    /// Drives `host` through `session` until it ends or the link drops.
    fn run(
        &mut self,
        host: &mut HostConnection,
        session: &mut Session,
    ) -> impl Future<Output = Result<(), Failure>>;
}

impl<C, P> HostLink for host::Link<'_, '_, C, P>
where
    C: blepake_trouble::trouble_host::prelude::Controller,
    C::Error: std::fmt::Debug,
    P: blepake_trouble::trouble_host::prelude::PacketPool,
{
    async fn setup_info(&mut self) -> Result<SetupInfo, Failure> {
        Ok(self.read_setup_info().await?)
    }

    async fn run(
        &mut self,
        host: &mut HostConnection,
        session: &mut Session,
    ) -> Result<(), Failure> {
        Ok(host::Link::run(self, host, session).await?)
    }
}

/// How the host begins: what it was given.
struct Credentials {
    password: Option<Password>,
    /// From a QR payload: the device's Setup Info, so no read is needed.
    info: Option<SetupInfo>,
}

fn credentials(args: &ConnectArgs) -> Result<Credentials, Failure> {
    if let Some(text) = &args.code {
        let code: SetupCode = text
            .parse()
            .map_err(|e| Failure::Usage(format!("--code: {e}")))?;
        return Ok(Credentials {
            password: Some(code.into()),
            info: None,
        });
    }
    if let Some(text) = &args.qr {
        let payload =
            SetupPayload::parse(text).map_err(|e| Failure::Usage(format!("--qr: {e}")))?;
        return Ok(Credentials {
            password: Some(payload.password),
            info: Some(payload.info),
        });
    }
    Ok(Credentials {
        password: None,
        info: None,
    })
}

async fn connect(args: &ConnectArgs, printer: Printer) -> Result<(), Failure> {
    let credentials = credentials(args)?;
    let bonds = match &args.bond {
        Some(file) => Bonds::File(file.clone()),
        None => Bonds::config_dir()?,
    };
    if credentials.password.is_none() && bonds.is_empty() {
        return Err(Failure::Usage(
            "nothing to connect with: give --code or --qr, or pair once to keep a bond".into(),
        ));
    }
    let lines = if args.chat { Some(stdin_lines()) } else { None };
    let mut session = Session::new(args, printer, lines);
    let plan = Plan {
        credentials: &credentials,
        bonds: &bonds,
        pair: args.pair,
    };
    let timeout = Duration::from_secs(args.timeout);
    let run = async {
        let outcome = with_link(args, timeout, &plan, &mut session, Try::Bond).await?;
        if let Outcome::BondRejected = outcome {
            printer.note("the device refused the bond: pairing again");
            with_link(args, timeout, &plan, &mut session, Try::Password).await?;
        }
        Ok::<(), Failure>(())
    };
    if args.chat {
        run.await?;
    } else {
        // A script's session has the timeout twice over: to find the
        // device, then to do its work.
        tokio::time::timeout(timeout * 2, run)
            .await
            .map_err(|_| Failure::Link(format!("no answer within {} s", 2 * args.timeout)))??;
    }
    session.result()
}

/// What to try on a link.
#[derive(Clone, Copy)]
enum Try {
    /// The bond if one is kept for the device (else the password).
    Bond,
    /// The password.
    Password,
}

enum Outcome {
    Done,
    /// The device refused the bond and a password is at hand.
    BondRejected,
}

struct Plan<'a> {
    credentials: &'a Credentials,
    bonds: &'a Bonds,
    pair: bool,
}

/// Opens the link the arguments name and runs one attempt over it.
async fn with_link(
    args: &ConnectArgs,
    timeout: Duration,
    plan: &Plan<'_>,
    session: &mut Session,
    what: Try,
) -> Result<Outcome, Failure> {
    if args.ble {
        return crate::ble::with_link(timeout, async |link| {
            attempt(link, plan, session, what).await
        })
        .await?;
    }
    if let Some(address) = &args.uart {
        return crate::uart::with_link(address, timeout, async |link| {
            attempt(link, plan, session, what).await
        })
        .await?;
    }
    let address = args.hci.as_deref().unwrap_or_default();
    let target = crate::tcp_address("--hci", address).map_err(Failure::Usage)?;
    let controller = tcp::connect(target)
        .await
        .map_err(|e| Failure::Usage(format!("cannot reach the HCI controller at {target}: {e}")))?;
    let mut own = [0; 6];
    OsRng.fill_bytes(&mut own);
    own[5] |= 0xc0; // a random static address
    let config = host::Config {
        address: Address::random(own),
        scan_timeout: embassy_time::Duration::from_secs(timeout.as_secs()),
    };
    host::run::<_, HeapPacketPool<251>, _>(controller, &config, async |link| {
        attempt(link, plan, session, what).await
    })
    .await?
}

/// One connection: pair or resume, then the session.
async fn attempt<L: HostLink>(
    link: &mut L,
    plan: &Plan<'_>,
    session: &mut Session,
    what: Try,
) -> Result<Outcome, Failure> {
    let info = match plan.credentials.info {
        Some(info) => info,
        None => link.setup_info().await?,
    };
    let bond = plan.bonds.get(&info.device_id)?;
    let now = blepake_trouble::now();
    let mut host = match (&bond, what, plan.pair, &plan.credentials.password) {
        (Some(bond), Try::Bond, false, _) => {
            HostConnection::resume(bond, HostConfig::default(), &mut OsRng, now)
        }
        (_, _, _, Some(password)) => {
            if !info.takes_setup_code() && matches!(password, Password::Code(_)) {
                return Err(Failure::Usage(
                    "this device pairs from its QR code only: give --qr".into(),
                ));
            }
            let secrets = info
                .kdf
                .derive(password, &info.device_id)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            HostConnection::pair(
                &info,
                &secrets,
                bond.as_ref(),
                HostConfig::default(),
                &mut OsRng,
                blepake_trouble::now(),
            )
        }
        (_, _, _, None) => {
            return Err(Failure::Usage(format!(
                "no bond is kept for device {}: give --code or --qr",
                info.device_id
            )));
        }
    };
    session
        .printer
        .note(&format!("device {} found", info.device_id));
    let ran = link.run(&mut host, session).await;
    if let Some(new_bond) = session.bond.take() {
        plan.bonds.put(&new_bond)?;
    }
    if let Some(blepake::Error::ResumeRejected) = session.failure
        && plan.credentials.password.is_some()
    {
        session.failure = None;
        return Ok(Outcome::BondRejected);
    }
    match ran {
        Ok(()) => Ok(Outcome::Done),
        // The session says why, if it knows.
        Err(_) if session.failure.is_some() => Ok(Outcome::Done),
        Err(failure) => Err(failure),
    }
}

/// The application side of the session: what to send, what was received.
pub struct Session {
    printer: Printer,
    to_send: VecDeque<Vec<u8>>,
    expect: usize,
    received: usize,
    lines: Option<mpsc::UnboundedReceiver<Option<String>>>,
    /// A line typed, to be sent.
    typed: Option<String>,
    /// When the input ended (the session closes a moment later).
    input_ended: Option<tokio::time::Instant>,
    connected: bool,
    bond: Option<Bond>,
    failure: Option<blepake::Error>,
}

impl Session {
    fn new(
        args: &ConnectArgs,
        printer: Printer,
        lines: Option<mpsc::UnboundedReceiver<Option<String>>>,
    ) -> Self {
        Self {
            printer,
            to_send: args
                .send
                .iter()
                .map(|text| text.as_bytes().to_vec())
                .collect(),
            expect: args.recv,
            received: 0,
            lines,
            typed: None,
            input_ended: None,
            connected: false,
            bond: None,
            failure: None,
        }
    }

    /// Whether a script's session has done all it was asked.
    fn done(&self) -> bool {
        self.lines.is_none() && self.to_send.is_empty() && self.received >= self.expect
    }

    fn result(self) -> Result<(), Failure> {
        match self.failure {
            Some(error) => Err(Failure::Session(error)),
            None if !self.connected => Err(Failure::Session(blepake::Error::LinkLost)),
            None => Ok(()),
        }
    }
}

impl Application for Session {
    fn on_output<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>) {
        match output {
            Output::Event(Event::Connected(info)) => {
                self.connected = true;
                self.printer.connected(info.mode, &info.device_id);
            }
            Output::Event(Event::Bonded(bond)) => self.bond = Some(bond),
            Output::Event(Event::Closed { by_peer, .. }) => self.printer.closed(by_peer),
            Output::Event(Event::Failed { error, .. }) => self.failure = Some(error),
            Output::Message(message) => {
                self.received += 1;
                self.printer.received(message);
            }
            Output::Writable => {
                if let Some(message) = self.to_send.pop_front() {
                    if conn.send(&message).is_ok() {
                        self.printer.sent(&message);
                    }
                } else if self.done() {
                    let _ = conn.close(0);
                }
            }
            _ => {}
        }
        if self.done() && self.connected && conn.is_open() && self.to_send.is_empty() {
            let _ = conn.close(0);
        }
    }

    async fn wait(&mut self) {
        match (&mut self.lines, self.input_ended) {
            (Some(_), Some(at)) => tokio::time::sleep_until(at + END_OF_INPUT_GRACE).await,
            (Some(lines), None) if self.typed.is_none() => match lines.recv().await.flatten() {
                Some(line) => self.typed = Some(line),
                None => self.input_ended = Some(tokio::time::Instant::now()),
            },
            _ => std::future::pending().await,
        }
    }

    fn act<C: Connection + ?Sized>(&mut self, conn: &mut C) {
        if let Some(line) = self.typed.take() {
            self.to_send.push_back(line.into_bytes());
        } else if self
            .input_ended
            .is_some_and(|at| at.elapsed() >= END_OF_INPUT_GRACE)
        {
            self.lines = None;
            let _ = conn.close(0);
        }
    }
}

/// At the end of a chat's input, how long answers to its last lines have
/// to arrive before the session closes.
const END_OF_INPUT_GRACE: Duration = Duration::from_secs(1);

/// Lines typed on standard input; `None` at its end.
fn stdin_lines() -> mpsc::UnboundedReceiver<Option<String>> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    rx
}

/// Prints for a person or, with `--json`, one JSON object per line.
#[derive(Clone, Copy)]
struct Printer {
    json: bool,
}

impl Printer {
    fn emit(&self, value: serde_json::Value, text: &str) {
        crate::lines::emit(self.json, value, text);
    }

    fn note(&self, text: &str) {
        if !self.json {
            self.emit(json!(null), text);
        }
    }

    fn connected(&self, mode: Mode, device: &DeviceId) {
        let (mode, how) = match mode {
            Mode::Paired => ("paired", "paired (the bond is kept for reconnects)"),
            Mode::Resumed => ("resumed", "resumed with the bond (no code, one round trip)"),
        };
        self.emit(
            json!({"event": "connected", "mode": mode, "device": device.to_string()}),
            &format!("connected: {how}"),
        );
    }

    fn sent(&self, message: &[u8]) {
        let text = String::from_utf8_lossy(message);
        self.emit(
            json!({"event": "sent", "text": text}),
            &format!("sent: {text}"),
        );
    }

    fn received(&self, message: &[u8]) {
        let text = String::from_utf8_lossy(message);
        self.emit(
            json!({"event": "received", "text": text}),
            &format!("received: {text}"),
        );
    }

    fn closed(&self, by_peer: bool) {
        let by = if by_peer { "device" } else { "host" };
        self.emit(
            json!({"event": "closed", "by": by}),
            &format!("closed by the {by}"),
        );
    }

    fn error(&self, failure: &Failure) {
        if self.json {
            self.emit(
                json!({"event": "error", "kind": failure.kind(), "message": failure.to_string()}),
                "",
            );
        } else {
            eprintln!("blepake connect: {failure}");
        }
    }
}

/// Where bonds are kept: one file per device under the user's configuration
/// directory, or one file given, each readable by its owner only.
enum Bonds {
    Dir(PathBuf),
    File(PathBuf),
}

impl Bonds {
    fn config_dir() -> Result<Self, Failure> {
        let dir = dirs::config_dir().ok_or_else(|| {
            Failure::Usage("no user configuration directory: give --bond FILE".into())
        })?;
        Ok(Self::Dir(dir.join("blepake").join("bonds")))
    }

    fn path(&self, device: &DeviceId) -> PathBuf {
        match self {
            Self::Dir(dir) => dir.join(device.to_string()),
            Self::File(file) => file.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Self::Dir(dir) => std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none()),
            Self::File(file) => !file.exists(),
        }
    }

    /// The bond kept for `device`, if any.
    fn get(&self, device: &DeviceId) -> Result<Option<Bond>, Failure> {
        let path = self.path(device);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::Usage(format!("{}: {e}", path.display()))),
        };
        let bytes = Zeroizing::new(
            parse_hex::<{ Bond::LEN }>(&text)
                .ok_or_else(|| Failure::Usage(format!("{}: not a bond", path.display())))?,
        );
        let bond = Bond::from_bytes(&bytes[..])
            .map_err(|e| Failure::Usage(format!("{}: not a bond: {e}", path.display())))?;
        // A bond file given by hand may hold another device's bond.
        Ok(Some(bond).filter(|bond| bond.device_id == *device))
    }

    fn put(&self, bond: &Bond) -> Result<(), Failure> {
        let path = self.path(&bond.device_id);
        let text = Zeroizing::new(to_hex(&*Zeroizing::new(bond.to_bytes())));
        write_private(&path, text.as_bytes())
            .map_err(|e| Failure::Usage(format!("cannot keep the bond in {}: {e}", path.display())))
    }
}

/// Writes a file only its owner may read (mode 0600, directory 0700),
/// replacing it whole (through a temporary file beside it).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let temporary = path.with_extension("new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
