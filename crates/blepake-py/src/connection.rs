//! Host and device connections, driven from Python through the core's
//! pump.
//!
//! Python owns the I/O and the clock's wake-ups: it calls `receive` with a
//! value the peer sent, `timer` when `poll_timeout` has come, `disconnected`
//! when the link drops and `flush` when it has room to send again or has
//! queued a message. Each call runs one `pump::step` over a transport that
//! collects what to send, and returns a [`Step`]: the values to send in
//! order, whether to enable notifications first (a host), and the events
//! and messages, in order. Messages the application sends wait in a short
//! queue and go into the session as the pump offers room, so a message
//! queued before the session opens rides with the handshake's last value.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use blepake::pump::{self, Input, Output, Transport};
use blepake::{
    Connection, Device as CoreDevice, DevicePolicy, Event, HostConfig, HostConnection as CoreHost,
    HostId, Instant, LinkId, MAX_MESSAGE_LEN, MemoryStorage, Mode, PairingWindow, SendError, Slot,
    State, Storage,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use rand_core::OsRng;

use crate::errors;
use crate::setup::{Bond, DeviceRecord, ProverSecrets};

/// Messages a connection holds for the application before they go into
/// the session: enough to keep a link busy, bounded so that a stalled link
/// pushes back (`QueueFull`).
pub const OUTBOX_MESSAGES: usize = 64;

/// Links a device serves at once.
pub const DEVICE_LINKS: usize = 4;

/// Milliseconds on the clock every connection of this process uses.
#[pyfunction]
pub fn monotonic_ms() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    let elapsed = EPOCH.get_or_init(std::time::Instant::now).elapsed();
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

fn instant(now: Option<u64>) -> Instant {
    Instant::from_millis(now.unwrap_or_else(monotonic_ms))
}

fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

/// The transport of one step: it collects the values to send.
struct Collect {
    now: Instant,
    max_value_len: usize,
    room: usize,
    values: Vec<Vec<u8>>,
    subscribe: bool,
}

impl Transport for Collect {
    type Error = Infallible;

    fn now(&self) -> Instant {
        self.now
    }

    fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    fn can_send(&self) -> bool {
        self.values.len() < self.room
    }

    fn send(&mut self, value: &[u8]) -> Result<(), Infallible> {
        self.values.push(value.to_vec());
        Ok(())
    }

    fn subscribe(&mut self) -> Result<(), Infallible> {
        self.subscribe = true;
        Ok(())
    }
}

/// Messages waiting to go into the session, and a close to follow them.
#[derive(Default)]
struct Outbox {
    messages: VecDeque<Vec<u8>>,
    close: Option<u8>,
}

impl Outbox {
    fn push(&mut self, py: Python<'_>, ended: bool, message: &[u8]) -> PyResult<()> {
        let refuse = if ended || self.close.is_some() {
            Some(SendError::NotOpen)
        } else if message.len() > MAX_MESSAGE_LEN {
            Some(SendError::TooLong)
        } else if self.messages.len() >= OUTBOX_MESSAGES {
            Some(SendError::QueueFull)
        } else {
            None
        };
        match refuse {
            Some(error) => Err(errors::send_error(py, error)),
            None => {
                self.messages.push_back(message.to_vec());
                Ok(())
            }
        }
    }

    /// Moves messages into the session while it takes them, then the close.
    fn feed<C: Connection + ?Sized>(&mut self, conn: &mut C) {
        while let Some(message) = self.messages.front() {
            if conn.send(message).is_err() {
                return;
            }
            self.messages.pop_front();
        }
        if let Some(reason) = self.close {
            if conn.close(reason).is_ok() {
                self.close = None;
            }
        }
    }
}

/// What one step produced, in Rust terms.
enum Item {
    Event(Event),
    Message(Vec<u8>),
}

/// Runs one pump step and hands back what it produced.
fn run<C: Connection + ?Sized>(
    py: Python<'_>,
    conn: &mut C,
    outbox: &mut Outbox,
    input: Input<'_>,
    max_value_len: usize,
    room: Option<usize>,
    now: Option<u64>,
) -> PyResult<Step> {
    let mut transport = Collect {
        now: instant(now),
        max_value_len,
        room: room.unwrap_or(usize::MAX),
        values: Vec::new(),
        subscribe: false,
    };
    let mut items = Vec::new();
    let Ok(()) = pump::step(conn, &mut transport, input, |conn, output| match output {
        Output::Event(event) => {
            let connected = matches!(event, Event::Connected(_));
            items.push(Item::Event(event));
            if connected {
                outbox.feed(conn);
            }
        }
        Output::Message(message) => items.push(Item::Message(message.to_vec())),
        Output::Writable => outbox.feed(conn),
        _ => {}
    });
    if conn.is_closed() {
        outbox.messages.clear();
        outbox.close = None;
    }
    let events = items
        .into_iter()
        .map(|item| match item {
            Item::Event(event) => event_object(py, event),
            Item::Message(message) => Ok(PyBytes::new(py, &message).into_any().unbind()),
        })
        .collect::<PyResult<_>>()?;
    let values = transport
        .values
        .iter()
        .map(|value| PyBytes::new(py, value).unbind())
        .collect();
    Ok(Step {
        values,
        subscribe: transport.subscribe,
        events,
    })
}

fn event_object(py: Python<'_>, event: Event) -> PyResult<Py<PyAny>> {
    Ok(match event {
        Event::Connected(info) => Py::new(
            py,
            Connected {
                device_id: info.device_id.to_string(),
                host_id: info.host_id.to_string(),
                mode: mode_name(info.mode),
            },
        )?
        .into_any(),
        Event::Bonded(bond) => Py::new(py, Bonded { bond: Bond(bond) })?.into_any(),
        Event::Closed { by_peer, reason } => Py::new(py, Closed { by_peer, reason })?.into_any(),
        Event::Failed { error, by_peer } => Py::new(
            py,
            Failed {
                error: errors::failure(py, &error, by_peer)
                    .into_value(py)
                    .into_any(),
                by_peer,
            },
        )?
        .into_any(),
        // An event a later core adds: nothing to hand over yet.
        _ => py.None(),
    })
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Paired => "paired",
        Mode::Resumed => "resumed",
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::AwaitingRequest => "awaiting-request",
        State::Pairing => "pairing",
        State::Resuming => "resuming",
        State::Open => "open",
        _ => "closed",
    }
}

/// What one step of a connection gives the caller to do.
#[pyclass(module = "blepake._native", frozen, get_all)]
pub struct Step {
    /// Values to send, in order: a host writes them to Inbound, a device
    /// notifies them on Outbound.
    values: Vec<Py<PyBytes>>,
    /// A host must enable notifications of Outbound before (or together
    /// with) writing `values`.
    subscribe: bool,
    /// In order: events (`Connected`, `Bonded`, `Closed`, `Failed`) and
    /// messages (`bytes`).
    events: Vec<Py<PyAny>>,
}

/// The peer is authenticated and the session open.
#[pyclass(module = "blepake._native", frozen, get_all)]
pub struct Connected {
    /// The device, 16 hex digits.
    device_id: String,
    /// The host as the device knows it, 16 hex digits.
    host_id: String,
    /// `"paired"` (with the code) or `"resumed"` (with a bond).
    mode: &'static str,
}

#[pymethods]
impl Connected {
    fn __repr__(&self) -> String {
        format!(
            "Connected(device_id={:?}, host_id={:?}, mode={:?})",
            self.device_id, self.host_id, self.mode
        )
    }
}

/// A pairing made a bond; a host keeps it to reconnect without the code.
#[pyclass(module = "blepake._native", frozen, get_all)]
pub struct Bonded {
    bond: Bond,
}

#[pymethods]
impl Bonded {
    fn __repr__(&self) -> String {
        format!("Bonded({})", self.bond.0.host_id)
    }
}

/// The session ended with an authenticated close.
#[pyclass(module = "blepake._native", frozen, get_all)]
pub struct Closed {
    /// Whether the peer closed it.
    by_peer: bool,
    /// The application's reason.
    reason: u8,
}

#[pymethods]
impl Closed {
    fn __repr__(&self) -> String {
        format!("Closed(by_peer={}, reason={})", self.by_peer, self.reason)
    }
}

/// The handshake or session failed; `error` is the exception to raise.
#[pyclass(module = "blepake._native", frozen, get_all)]
pub struct Failed {
    error: Py<PyAny>,
    /// Whether the peer reported it with an alert.
    by_peer: bool,
}

#[pymethods]
impl Failed {
    fn __repr__(&self, py: Python<'_>) -> String {
        let error = self.error.bind(py);
        format!("Failed({error:?}, by_peer={})", self.by_peer)
    }
}

/// Methods every connection has, host or device link: the core's
/// `Connection` surface with the pump in front.
macro_rules! driven {
    ($class:ident, $with:ident, { $($own:tt)* }) => {
        #[pymethods]
        impl $class {
            $($own)*

            /// A value the peer sent (a notification of Outbound, a write
            /// of Inbound), of any length. `room` is how many values the
            /// caller can send now (`None`: no limit).
            #[pyo3(signature = (value, *, room = None, now = None))]
            fn receive(
                &mut self,
                py: Python<'_>,
                value: PyBackedBytes,
                room: Option<usize>,
                now: Option<u64>,
            ) -> PyResult<Step> {
                self.$with(py, Input::Received(&value), room, now)
            }

            /// The time `poll_timeout` named has come.
            #[pyo3(signature = (*, room = None, now = None))]
            fn timer(&mut self, py: Python<'_>, room: Option<usize>, now: Option<u64>) -> PyResult<Step> {
                self.$with(py, Input::Timer, room, now)
            }

            /// The link dropped: a session not closed fails with `LinkLost`.
            #[pyo3(signature = (*, now = None))]
            fn disconnected(&mut self, py: Python<'_>, now: Option<u64>) -> PyResult<Step> {
                self.$with(py, Input::Disconnected, Some(0), now)
            }

            /// Nothing new from the link: the caller has room again or has
            /// queued messages. Gives what there is to send.
            #[pyo3(signature = (*, room = None, now = None))]
            fn flush(&mut self, py: Python<'_>, room: Option<usize>, now: Option<u64>) -> PyResult<Step> {
                self.$with(py, Input::Ready, room, now)
            }

            /// Queues one message of at most `MAX_MESSAGE_LEN` bytes; it
            /// goes out on a later step as soon as the session is open (a
            /// host's first ones with the handshake's last value). Raises
            /// `QueueFull` while `OUTBOX_MESSAGES` wait, `NotOpen` once the
            /// connection has ended or is closing.
            fn send(&mut self, py: Python<'_>, message: PyBackedBytes) -> PyResult<()> {
                let ended = self.is_closed(py)?;
                self.outbox.push(py, ended, &message)
            }

            /// Ends the open session with an authenticated close once the
            /// queued messages have gone into it.
            #[pyo3(signature = (reason = 0))]
            fn close(&mut self, py: Python<'_>, reason: u8) -> PyResult<()> {
                if !self.is_open(py)? || self.outbox.close.is_some() {
                    return Err(errors::send_error(py, SendError::NotOpen));
                }
                self.outbox.close = Some(reason);
                Ok(())
            }

            /// Messages queued by `send` that have not gone into the session.
            #[getter]
            fn queued(&self) -> usize {
                self.outbox.messages.len() + usize::from(self.outbox.close.is_some())
            }

            /// The largest value the link takes: the ATT MTU minus 3.
            #[getter]
            fn get_max_value_len(&self) -> usize {
                self.max_value_len
            }

            #[setter]
            fn set_max_value_len(&mut self, len: usize) {
                self.max_value_len = len;
            }
        }
    };
}

/// A host's connection to one device over one BLE link: a pairing from
/// the code, or a reconnect with a bond, then messages.
#[pyclass(module = "blepake._native")]
pub struct HostConnection {
    conn: CoreHost,
    outbox: Outbox,
    max_value_len: usize,
}

impl HostConnection {
    fn step(
        &mut self,
        py: Python<'_>,
        input: Input<'_>,
        room: Option<usize>,
        now: Option<u64>,
    ) -> PyResult<Step> {
        run(
            py,
            &mut self.conn,
            &mut self.outbox,
            input,
            self.max_value_len,
            room,
            now,
        )
    }

    fn is_open(&self, _py: Python<'_>) -> PyResult<bool> {
        Ok(self.conn.is_open())
    }

    fn is_closed(&self, _py: Python<'_>) -> PyResult<bool> {
        Ok(self.conn.is_closed())
    }

    fn new(conn: CoreHost) -> Self {
        Self {
            conn,
            outbox: Outbox::default(),
            max_value_len: 20,
        }
    }
}

driven!(HostConnection, step, {
    /// Starts a pairing with the secrets derived from the device's code or
    /// QR secret; the request is queued at once. With the bond an earlier
    /// pairing left as `previous_bond`, the device replaces that bond.
    #[staticmethod]
    #[pyo3(signature = (secrets, *, previous_bond = None, handshake_timeout = 30.0, now = None))]
    fn pair(
        secrets: &ProverSecrets,
        previous_bond: Option<&Bond>,
        handshake_timeout: f64,
        now: Option<u64>,
    ) -> Self {
        let config = HostConfig {
            handshake_timeout: duration(handshake_timeout),
            ..HostConfig::default()
        };
        Self::new(CoreHost::pair(
            &secrets.info,
            &secrets.secrets,
            previous_bond.map(|bond| &bond.0),
            config,
            &mut OsRng,
            instant(now),
        ))
    }

    /// Starts a reconnect with a bond: one round trip, no code.
    #[staticmethod]
    #[pyo3(signature = (bond, *, handshake_timeout = 30.0, now = None))]
    fn resume(bond: &Bond, handshake_timeout: f64, now: Option<u64>) -> Self {
        let config = HostConfig {
            handshake_timeout: duration(handshake_timeout),
            ..HostConfig::default()
        };
        Self::new(CoreHost::resume(&bond.0, config, &mut OsRng, instant(now)))
    }

    /// When `timer` wants calling (milliseconds on `monotonic_ms`'s
    /// clock), or `None` while no deadline runs.
    fn poll_timeout(&self) -> Option<u64> {
        self.conn.poll_timeout().map(Instant::as_millis)
    }

    /// `"pairing"`, `"resuming"`, `"open"` or `"closed"`.
    #[getter]
    fn state(&self) -> &'static str {
        state_name(self.conn.state())
    }

    /// Whether messages flow.
    #[getter(is_open)]
    fn open(&self) -> bool {
        self.conn.is_open()
    }

    /// Whether the connection has ended (closed or failed).
    #[getter(is_closed)]
    fn closed(&self) -> bool {
        self.conn.is_closed()
    }
});

/// The storage a device keeps its counter and bonds in.
enum DeviceStorage {
    File(blepake::FileStorage),
    Memory(MemoryStorage),
}

impl Storage for DeviceStorage {
    type Error = String;

    fn read(&mut self, slot: Slot, buf: &mut [u8]) -> Result<Option<usize>, String> {
        match self {
            Self::File(s) => s.read(slot, buf).map_err(|e| e.to_string()),
            Self::Memory(s) => s.read(slot, buf).map_err(|e| format!("{e:?}")),
        }
    }

    fn write(&mut self, slot: Slot, value: &[u8]) -> Result<(), String> {
        match self {
            Self::File(s) => s.write(slot, value).map_err(|e| e.to_string()),
            Self::Memory(s) => s.write(slot, value).map_err(|e| format!("{e:?}")),
        }
    }

    fn erase(&mut self, slot: Slot) -> Result<(), String> {
        match self {
            Self::File(s) => s.erase(slot).map_err(|e| e.to_string()),
            Self::Memory(s) => s.erase(slot).map_err(|e| format!("{e:?}")),
        }
    }
}

/// A device: its record, attempt limit, pairing window, bonds (in files
/// under `storage_dir`, or in memory without it) and up to `DEVICE_LINKS`
/// links at once. Times are in seconds.
#[pyclass(module = "blepake._native")]
pub struct Device {
    device: CoreDevice<DeviceStorage, OsRng, DEVICE_LINKS>,
}

#[pymethods]
impl Device {
    #[new]
    #[pyo3(signature = (
        record, *, storage_dir = None, max_failures = 10, free_attempts = 3,
        backoff_base = 1.0, backoff_max = 60.0, request_timeout = 10.0,
        handshake_timeout = 30.0, pairing_window = 300.0, keep_bonds = true,
        max_bonds = 8, now = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        record: &DeviceRecord,
        storage_dir: Option<std::path::PathBuf>,
        max_failures: u16,
        free_attempts: u16,
        backoff_base: f64,
        backoff_max: f64,
        request_timeout: f64,
        handshake_timeout: f64,
        pairing_window: f64,
        keep_bonds: bool,
        max_bonds: u8,
        now: Option<u64>,
    ) -> PyResult<Self> {
        if usize::from(max_bonds) > blepake::MAX_BONDS || max_bonds == 0 {
            return Err(errors::invalid(
                py,
                "policy",
                format!("max_bonds is 1 to {}", blepake::MAX_BONDS),
            ));
        }
        let storage = match storage_dir {
            Some(dir) => DeviceStorage::File(
                blepake::FileStorage::open(dir).map_err(|e| errors::storage_error(py, e))?,
            ),
            None => DeviceStorage::Memory(MemoryStorage::default()),
        };
        let policy = DevicePolicy {
            max_failures,
            free_attempts,
            backoff_base: duration(backoff_base),
            backoff_max: duration(backoff_max),
            request_timeout: duration(request_timeout),
            handshake_timeout: duration(handshake_timeout),
            pairing_window: duration(pairing_window),
            keep_bonds,
            max_bonds,
            ..DevicePolicy::default()
        };
        Ok(Self {
            device: CoreDevice::new(record.0.clone(), policy, storage, OsRng, instant(now)),
        })
    }

    /// Takes a new BLE link; it has `request_timeout` to deliver a request.
    #[pyo3(signature = (*, now = None))]
    fn accept(slf: Bound<'_, Self>, now: Option<u64>) -> PyResult<DeviceLink> {
        let py = slf.py();
        let id = slf
            .borrow_mut()
            .device
            .accept(instant(now))
            .map_err(|e| errors::link_error(py, e))?;
        Ok(DeviceLink {
            device: slf.unbind(),
            id,
            outbox: Outbox::default(),
            max_value_len: 20,
        })
    }

    /// What the Setup Info characteristic serves.
    #[getter]
    fn setup_info(&self) -> crate::setup::SetupInfo {
        crate::setup::SetupInfo(self.device.setup_info())
    }

    /// Failed pairings since the last success or window opening.
    #[getter]
    fn failures(&self) -> u16 {
        self.device.attempts().failures
    }

    /// Whether pairing is refused until a person reopens the window.
    #[getter]
    fn locked(&self) -> bool {
        self.device.attempts().locked
    }

    /// Whether the device answers pairing requests at `now`: `"open"`
    /// (a person opened it), `"unbonded"` (it holds no bond) or `"closed"`.
    #[pyo3(signature = (*, now = None))]
    fn pairing_window(&self, now: Option<u64>) -> &'static str {
        match self.device.pairing_window(instant(now)) {
            PairingWindow::Closed => "closed",
            PairingWindow::OpenUntil(_) => "open",
            PairingWindow::OpenWhileUnbonded => "unbonded",
        }
    }

    /// The button press: opens the pairing window for `pairing_window`
    /// seconds, clears the failure count and lifts a lockout.
    #[pyo3(signature = (*, now = None))]
    fn open_pairing_window(&mut self, py: Python<'_>, now: Option<u64>) -> PyResult<()> {
        self.device
            .open_pairing_window(instant(now))
            .map_err(|e| errors::storage_error(py, e))
    }

    /// Closes the pairing window early (a device without bonds stays open).
    fn close_pairing_window(&mut self) {
        self.device.close_pairing_window();
    }

    /// The hosts the device holds bonds with, as 16 hex digits each.
    fn bonds(&mut self) -> Vec<String> {
        self.device
            .bonds()
            .iter()
            .map(|id| id.to_string())
            .collect()
    }

    /// Forgets one host's bond; returns whether there was one.
    fn revoke_bond(&mut self, py: Python<'_>, host_id: &str) -> PyResult<bool> {
        let host_id = HostId::from_hex(host_id)
            .ok_or_else(|| errors::invalid(py, "host id", "it takes 16 hex digits"))?;
        self.device
            .revoke_bond(host_id)
            .map_err(|e| errors::storage_error(py, e))
    }

    /// The long press: forgets every bond, which opens the pairing window.
    fn revoke_all_bonds(&mut self, py: Python<'_>) -> PyResult<()> {
        self.device
            .revoke_all_bonds()
            .map_err(|e| errors::storage_error(py, e))
    }

    /// The links held, as numbers.
    #[getter]
    fn links(&self) -> Vec<u32> {
        self.device.links().map(LinkId::to_raw).collect()
    }
}

/// One BLE link of a `Device`: driven like a `HostConnection`. Call
/// `remove` when the BLE link is gone.
#[pyclass(module = "blepake._native")]
pub struct DeviceLink {
    device: Py<Device>,
    id: LinkId,
    outbox: Outbox,
    max_value_len: usize,
}

impl DeviceLink {
    fn step(
        &mut self,
        py: Python<'_>,
        input: Input<'_>,
        room: Option<usize>,
        now: Option<u64>,
    ) -> PyResult<Step> {
        let mut device = self.device.borrow_mut(py);
        let mut link = device
            .device
            .link(self.id)
            .ok_or_else(|| errors::link_error(py, blepake::LinkError::UnknownLink))?;
        run(
            py,
            &mut link,
            &mut self.outbox,
            input,
            self.max_value_len,
            room,
            now,
        )
    }

    fn with_link<T>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut blepake::DeviceLink<'_, DeviceStorage, OsRng>) -> T,
    ) -> Option<T> {
        let mut device = self.device.borrow_mut(py);
        device.device.link(self.id).map(|mut link| f(&mut link))
    }

    fn is_open(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.with_link(py, |link| link.is_open()).unwrap_or(false))
    }

    fn is_closed(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.with_link(py, |link| link.is_closed()).unwrap_or(true))
    }
}

driven!(DeviceLink, step, {
    /// The link's number.
    #[getter]
    fn id(&self) -> u32 {
        self.id.to_raw()
    }

    /// Forgets the link (its BLE link is gone): its keys are erased and a
    /// pairing lock it held is released. Returns whether it was held.
    fn remove(&mut self, py: Python<'_>) -> bool {
        self.outbox = Outbox::default();
        self.device.borrow_mut(py).device.remove(self.id)
    }

    /// When `timer` wants calling (milliseconds on `monotonic_ms`'s
    /// clock), or `None` while no deadline runs or once removed.
    fn poll_timeout(&self, py: Python<'_>) -> Option<u64> {
        self.with_link(py, |link| link.poll_timeout())
            .flatten()
            .map(Instant::as_millis)
    }

    /// `"awaiting-request"`, `"pairing"`, `"resuming"`, `"open"` or
    /// `"closed"` (also once removed).
    #[getter]
    fn state(&self, py: Python<'_>) -> &'static str {
        self.with_link(py, |link| state_name(link.state()))
            .unwrap_or("closed")
    }

    /// Whether messages flow.
    #[getter(is_open)]
    fn open(&self, py: Python<'_>) -> bool {
        self.with_link(py, |link| link.is_open()).unwrap_or(false)
    }

    /// Whether the link has ended (closed, failed or removed).
    #[getter(is_closed)]
    fn closed(&self, py: Python<'_>) -> bool {
        self.with_link(py, |link| link.is_closed()).unwrap_or(true)
    }
});
