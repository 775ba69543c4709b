//! `blepake device`: serves a provisioned device over an HCI controller
//! (trouble-host's GATT server), echoing each message back. The Enter key
//! or SIGUSR1 opens the pairing window, as a device's button would.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;

use blepake::pump::Output;
use blepake::{
    Connection, Device, DevicePolicy, DeviceRecord, Event, FileStorage, Mode, PairingWindow,
};
use blepake_trouble::trouble_host::prelude::Address;
use blepake_trouble::{Application, device, tcp};
use rand_core::OsRng;
use serde_json::json;
use tokio::sync::mpsc;

#[derive(clap::Args)]
pub struct DeviceArgs {
    /// An HCI controller that speaks H4 over TCP (a Bumble virtual
    /// controller, a serial HCI controller behind a TCP bridge)
    #[arg(long, value_name = "tcp:HOST:PORT")]
    pub hci: String,
    /// The device record `blepake provision` wrote (DEVICE_ID.record)
    #[arg(long, value_name = "FILE")]
    pub record: PathBuf,
    /// The device's flash: its attempt counter and bonds (default: the
    /// record's path with .state)
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The name it advertises
    #[arg(long, default_value = "blepake")]
    pub name: String,
    /// Print one JSON object per line, for scripts
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DeviceArgs) -> ExitCode {
    let printer = Printer { json: args.json };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
        .and_then(|rt| rt.block_on(serve(&args, printer)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if args.json {
                printer.emit(json!({"event": "error", "message": message}), "");
            } else {
                eprintln!("blepake device: {message}");
            }
            ExitCode::from(2)
        }
    }
}

async fn serve(args: &DeviceArgs, printer: Printer) -> Result<(), String> {
    let bytes = std::fs::read(&args.record)
        .map_err(|e| format!("cannot read {}: {e}", args.record.display()))?;
    let record = DeviceRecord::from_bytes(&bytes)
        .map_err(|e| format!("{} is not a device record: {e}", args.record.display()))?;
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| args.record.with_extension("state"));
    let storage = FileStorage::open(&state)
        .map_err(|e| format!("cannot open the device's state in {}: {e}", state.display()))?;
    let target = crate::tcp_address("--hci", &args.hci)?;
    let controller = tcp::connect(target)
        .await
        .map_err(|e| format!("cannot reach the HCI controller at {target}: {e}"))?;

    let device_id = record.device_id;
    let device: RefCell<Device<FileStorage, OsRng>> = RefCell::new(Device::new(
        record,
        DevicePolicy::default(),
        storage,
        OsRng,
        blepake_trouble::now(),
    ));
    // A random static address derived from the device id: the same on
    // every start.
    let mut address = [0; 6];
    address.copy_from_slice(&device_id.0[..6]);
    address[5] |= 0xc0;
    let config = device::Config {
        name: &args.name,
        address: Address::random(address),
    };
    printer.emit(
        json!({"event": "advertising", "device": device_id.to_string(), "name": args.name}),
        &format!(
            "device {device_id} advertising as {:?} on {}; press Enter or send SIGUSR1 to open \
             the pairing window",
            args.name, args.hci
        ),
    );
    printer.window(device.borrow().pairing_window(blepake_trouble::now()));

    let mut app = Echo { printer };
    let mut presses = button();
    let button = async {
        while presses.recv().await.is_some() {
            let now = blepake_trouble::now();
            let mut device = device.borrow_mut();
            match device.open_pairing_window(now) {
                Ok(()) => printer.window(device.pairing_window(now)),
                Err(e) => printer.emit(
                    json!({"event": "error", "message": format!("storage: {e}")}),
                    &format!("cannot open the pairing window: storage: {e}"),
                ),
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        result = device::run(controller, &config, &device, &(), &mut app) => match result {
            Err(error) => Err(format!("the BLE stack stopped: {error:?}")),
            Ok(never) => match never {},
        },
        () = button => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// The device's button: a line on standard input or SIGUSR1.
fn button() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    let keys = tx.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if line.is_err() || keys.send(()).is_err() {
                return;
            }
        }
    });
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
            return;
        };
        while usr1.recv().await.is_some() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    rx
}

/// The device's application: prints what happens and sends every message
/// back.
struct Echo {
    printer: Printer,
}

impl Application for Echo {
    fn on_output<C: Connection + ?Sized>(&mut self, conn: &mut C, output: Output<'_>) {
        let printer = self.printer;
        match output {
            Output::Event(Event::Connected(info)) => {
                let mode = match info.mode {
                    Mode::Paired => "paired",
                    Mode::Resumed => "resumed",
                };
                printer.emit(
                    json!({"event": "connected", "mode": mode, "host": info.host_id.to_string()}),
                    &format!("host {} {mode}", info.host_id),
                );
            }
            Output::Event(Event::Failed { error, .. }) => printer.emit(
                json!({"event": "failed", "code": error.code(), "message": error.to_string()}),
                &format!("link failed: {error}"),
            ),
            Output::Event(Event::Closed { .. }) => {
                printer.emit(json!({"event": "closed"}), "session closed")
            }
            Output::Message(message) => {
                let text = String::from_utf8_lossy(message);
                printer.emit(
                    json!({"event": "received", "text": text}),
                    &format!("received: {text} (echoing it)"),
                );
                let _ = conn.send(message);
            }
            _ => {}
        }
    }
}

#[derive(Clone, Copy)]
struct Printer {
    json: bool,
}

impl Printer {
    fn emit(&self, value: serde_json::Value, text: &str) {
        crate::lines::emit(self.json, value, text);
    }

    fn window(&self, window: PairingWindow) {
        let now = blepake_trouble::now();
        let (state, text) = match window {
            PairingWindow::Closed => ("closed", "pairing window closed".to_string()),
            PairingWindow::OpenWhileUnbonded => (
                "open",
                "pairing window open: the device holds no bond".to_string(),
            ),
            PairingWindow::OpenUntil(until) => (
                "open",
                format!(
                    "pairing window open for {} s",
                    until.saturating_duration_since(now).as_secs()
                ),
            ),
        };
        self.emit(json!({"event": "window", "state": state}), &text);
    }
}
