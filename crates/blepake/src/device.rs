//! The device's side: the SPAKE2+ verifier with persistent attempt
//! limiting, bonded reconnects, then records.
//!
//! A [`Device`] lives as long as the firmware runs: it holds the record,
//! the policy, storage, the RNG and the attempt state. Each BLE link gets a
//! [`DeviceConnection`], whose input calls borrow the device.

use core::time::Duration;

use p256::elliptic_curve::point::AffineCoordinates;
use p256::{AffinePoint, NonZeroScalar, ProjectivePoint};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::bond::Bond;
use crate::channel::{Channel, Event, Frame, Mode, Role, SessionInfo};
use crate::connection::Connection;
use crate::device_record::DeviceRecord;
use crate::error::{Error, InputError, ProtocolViolation};
use crate::group;
use crate::handshake::{self, ResumeKeys};
use crate::id::HostId;
use crate::record::MAX_RECORDS_PER_KEY;
use crate::setup::SetupInfo;
use crate::spake2plus::{self, Keys};
use crate::storage::{self, Slot, Storage, Stored};
use crate::time::Instant;
use crate::wire::{
    self, Alert, FrameType, PairRequest, PairResponse, RequestHead, ResumeRequest, ResumeResponse,
};

/// How a device limits guesses and runs handshakes.
#[derive(Clone, Copy, Debug)]
pub struct DevicePolicy {
    /// Failed pairings after which the device refuses all pairing until
    /// the application reopens the pairing window.
    pub max_failures: u16,
    /// Failed pairings allowed without waiting.
    pub free_attempts: u16,
    /// The wait after the first failure beyond the free ones; it doubles
    /// with each further failure.
    pub backoff_base: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// How long a host has to finish a handshake.
    pub handshake_timeout: Duration,
    /// Whether pairings leave a bond.
    pub keep_bonds: bool,
    /// Records sent under one key before a key update.
    pub records_per_key: u64,
}

impl Default for DevicePolicy {
    fn default() -> Self {
        Self {
            max_failures: 10,
            free_attempts: 3,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(30),
            keep_bonds: true,
            records_per_key: MAX_RECORDS_PER_KEY,
        }
    }
}

/// Where the attempt limit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptStatus {
    /// Failed pairings since the last success or window reopening, as
    /// stored (or assumed, if storage failed).
    pub failures: u16,
    /// Whether pairing is refused until the window is reopened.
    pub locked: bool,
}

const ATTEMPTS_FORMAT: u8 = 1;
const BOND_FORMAT: u8 = 1;

struct Lock {
    connection: u32,
    expires: Instant,
}

/// A device: its record, policy, storage and RNG, and the attempt state.
pub struct Device<S: Storage, R: CryptoRngCore> {
    record: DeviceRecord,
    policy: DevicePolicy,
    storage: S,
    rng: R,
    failures: u16,
    /// When the last counted attempt began; after boot, boot time, so that
    /// a power cycle does not skip a wait.
    last_attempt: Option<Instant>,
    handshake: Option<Lock>,
    next_connection: u32,
}

impl<S: Storage, R: CryptoRngCore> Device<S, R> {
    /// Starts a device at boot. The stored failure count is read; a count
    /// that cannot be read or is damaged counts as exhausted (locked), so
    /// no fault of storage ever grants a guess.
    pub fn new(
        record: DeviceRecord,
        policy: DevicePolicy,
        mut storage: S,
        rng: R,
        now: Instant,
    ) -> Self {
        let failures = match storage::read_value::<S, 3>(&mut storage, Slot::Attempts) {
            Ok(Stored::Empty) => 0,
            Ok(Stored::Intact([ATTEMPTS_FORMAT, low, high])) => u16::from_le_bytes([low, high]),
            Ok(_) | Err(_) => policy.max_failures,
        };
        Self {
            record,
            policy,
            storage,
            rng,
            failures,
            last_attempt: (failures > 0).then_some(now),
            handshake: None,
            next_connection: 0,
        }
    }

    /// A connection object for a new BLE link.
    pub fn accept(&mut self) -> DeviceConnection {
        self.next_connection = self.next_connection.wrapping_add(1);
        let role = DeviceSide {
            id: self.next_connection,
            state: State::Idle,
        };
        Connection::new(role, None)
    }

    /// What the `Setup Info` characteristic serves.
    pub fn setup_info(&self) -> SetupInfo {
        self.record.setup_info()
    }

    /// The attempt limit's state.
    pub fn attempts(&self) -> AttemptStatus {
        AttemptStatus {
            failures: self.failures,
            locked: self.failures >= self.policy.max_failures,
        }
    }

    /// Reopens the pairing window (a button press): clears the failure
    /// count and lifts a lockout.
    pub fn open_pairing_window(&mut self) -> Result<(), S::Error> {
        self.write_failures(0)?;
        self.failures = 0;
        self.last_attempt = None;
        Ok(())
    }

    /// Forgets the bond with `host_id`: that host must pair with the code
    /// again. A session already open stays open until the link drops.
    pub fn revoke_bond(&mut self, host_id: HostId) -> Result<(), S::Error> {
        self.storage.erase(Slot::Bond(host_id))
    }

    /// The storage, for the application's own use.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    fn write_failures(&mut self, failures: u16) -> Result<(), S::Error> {
        let [low, high] = failures.to_le_bytes();
        let mut value = [0; storage::MAX_VALUE_LEN];
        let len = storage::seal_value(&[ATTEMPTS_FORMAT, low, high], &mut value);
        self.storage.write(Slot::Attempts, &value[..len])
    }

    /// Takes the one-handshake-at-a-time lock for `connection`; a lock
    /// whose handshake timed out is taken over.
    fn lock(&mut self, connection: u32, now: Instant) -> Result<(), Alert> {
        if let Some(lock) = &self.handshake {
            if lock.connection != connection && now < lock.expires {
                return Err(Alert::Unavailable {
                    retry_after_secs: seconds_until(now, lock.expires),
                });
            }
        }
        self.handshake = Some(Lock {
            connection,
            expires: now + self.policy.handshake_timeout,
        });
        Ok(())
    }

    fn unlock(&mut self, connection: u32) {
        if self
            .handshake
            .as_ref()
            .is_some_and(|lock| lock.connection == connection)
        {
            self.handshake = None;
        }
    }

    /// Whether a pairing may start now: not locked out, not backing off.
    fn pairing_allowed(&self, now: Instant) -> Result<(), Alert> {
        if self.failures >= self.policy.max_failures {
            return Err(Alert::Locked);
        }
        let beyond_free = self.failures.checked_sub(self.policy.free_attempts);
        if let (Some(extra), Some(last)) = (beyond_free, self.last_attempt) {
            let wait = self
                .policy
                .backoff_base
                .saturating_mul(1 << extra.min(16))
                .min(self.policy.backoff_max);
            let allowed_at = last + wait;
            if now < allowed_at {
                return Err(Alert::Unavailable {
                    retry_after_secs: seconds_until(now, allowed_at),
                });
            }
        }
        Ok(())
    }

    /// Spends a guess: the raised count is stored before anything that
    /// lets the host test its code is sent. If the write fails, the count
    /// is kept raised here too (the flash may hold either value).
    fn count_attempt(&mut self, now: Instant) -> Result<(), S::Error> {
        self.failures = self.failures.saturating_add(1);
        self.last_attempt = Some(now);
        self.write_failures(self.failures)
    }

    /// A verified pairing clears the count. If the write fails the stored
    /// count stays raised, which is the safe direction, and so does ours.
    fn clear_attempts(&mut self) {
        if self.write_failures(0).is_ok() {
            self.failures = 0;
            self.last_attempt = None;
        }
    }

    fn store_bond(&mut self, bond: &Bond) -> bool {
        let mut payload = Zeroizing::new([0; 33]);
        payload[0] = BOND_FORMAT;
        payload[1..].copy_from_slice(&bond.secret);
        let mut value = Zeroizing::new([0; storage::MAX_VALUE_LEN]);
        let len = storage::seal_value(&payload[..], &mut value);
        self.storage
            .write(Slot::Bond(bond.host_id), &value[..len])
            .is_ok()
    }

    fn load_bond_secret(&mut self, host_id: HostId) -> Option<Zeroizing<[u8; 32]>> {
        match storage::read_value::<S, 33>(&mut self.storage, Slot::Bond(host_id)) {
            Ok(Stored::Intact(value)) if value[0] == BOND_FORMAT => {
                let value = Zeroizing::new(value);
                let mut secret = Zeroizing::new([0; 32]);
                secret.copy_from_slice(&value[1..]);
                Some(secret)
            }
            _ => None,
        }
    }
}

fn seconds_until(now: Instant, then: Instant) -> u16 {
    let millis = then.saturating_duration_since(now).as_millis();
    u16::try_from(millis.div_ceil(1000)).unwrap_or(u16::MAX)
}

enum State {
    Idle,
    AwaitPairConfirm { keys: Keys, host_id: HostId },
    AwaitResumeFinish { keys: ResumeKeys, host_id: HostId },
    Done,
}

/// A device's side of one BLE link: the verifier of a pairing, or a
/// bonded reconnect, then records. Its input calls borrow the [`Device`].
/// See [`Connection`] for the common part.
pub type DeviceConnection = Connection<DeviceSide>;

/// What a [`DeviceConnection`] knows of its handshake.
pub struct DeviceSide {
    /// Which connection of the device this is, for the handshake lock.
    id: u32,
    state: State,
}

type Failure = (Error, Option<Alert>);

fn refused(alert: Alert) -> Failure {
    (Error::Refused(alert), Some(alert))
}

fn malformed(e: wire::DecodeError) -> Failure {
    (e.into(), Some(Alert::ProtocolError))
}

const INVALID_POINT: Failure = (
    Error::Protocol(ProtocolViolation::InvalidPoint),
    Some(Alert::ProtocolError),
);

impl Connection<DeviceSide> {
    /// Takes bytes the host wrote (one write's value).
    pub fn handle_input<S: Storage, R: CryptoRngCore>(
        &mut self,
        device: &mut Device<S, R>,
        data: &[u8],
        now: Instant,
    ) -> Result<(), InputError> {
        let (id, state, deadline) = (self.role.id, &mut self.role.state, &mut self.deadline);
        let result = self.channel.handle_input(data, |channel, frame| {
            if let Err((error, alert)) =
                on_handshake(id, state, deadline, device, channel, frame, now)
            {
                *state = State::Done;
                channel.fail(error, alert);
            }
        });
        if self.channel.is_open() || self.channel.is_closed() {
            self.end_handshake(device);
        }
        result
    }

    fn end_handshake<S: Storage, R: CryptoRngCore>(&mut self, device: &mut Device<S, R>) {
        self.deadline = None;
        device.unlock(self.role.id);
    }

    /// Fails the handshake if its time is up. The attempt stays counted.
    pub fn handle_timeout<S: Storage, R: CryptoRngCore>(
        &mut self,
        device: &mut Device<S, R>,
        now: Instant,
    ) {
        if self.timed_out(now) {
            self.role.state = State::Done;
            self.channel.fail(Error::Timeout, Some(Alert::Timeout));
            self.end_handshake(device);
        }
    }

    /// The link dropped. A handshake in flight ends (its attempt stays
    /// counted); a session not closed by an authenticated close fails
    /// with [`Error::LinkLost`].
    pub fn handle_disconnect<S: Storage, R: CryptoRngCore>(&mut self, device: &mut Device<S, R>) {
        self.role.state = State::Done;
        self.channel.fail(Error::LinkLost, None);
        self.end_handshake(device);
    }
}

fn on_handshake<S: Storage, R: CryptoRngCore>(
    id: u32,
    state: &mut State,
    deadline: &mut Option<Instant>,
    device: &mut Device<S, R>,
    channel: &mut Channel,
    frame: &Frame,
    now: Instant,
) -> Result<(), Failure> {
    let unexpected = (
        Error::Protocol(ProtocolViolation::Unexpected),
        Some(Alert::ProtocolError),
    );
    match (
        core::mem::replace(state, State::Done),
        frame.header.frame_type,
    ) {
        (State::Idle, FrameType::PairRequest) => {
            check_request_version(frame.body())?;
            let request = PairRequest::decode(frame.body()).map_err(malformed)?;
            let (keys, share_v) = start_pairing(id, device, &request, now)?;
            channel.queue_frame(
                FrameType::PairResponse,
                &PairResponse {
                    share_v,
                    confirm_v: *keys.confirm_v(),
                }
                .encode(),
            );
            *state = State::AwaitPairConfirm {
                keys,
                host_id: request.head.host_id,
            };
            *deadline = Some(now + device.policy.handshake_timeout);
            Ok(())
        }
        (State::AwaitPairConfirm { keys, host_id }, FrameType::PairConfirm) => {
            let confirm = wire::decode_confirm(frame.body()).map_err(malformed)?;
            if !keys.verify_confirm_p(&confirm) {
                return Err((
                    Error::AuthenticationFailed,
                    Some(Alert::AuthenticationFailed),
                ));
            }
            device.clear_attempts();
            let device_id = device.record.device_id;
            let info = SessionInfo {
                device_id,
                host_id,
                mode: Mode::Paired,
            };
            channel.open(
                keys.shared_key(),
                Role::Device,
                device.policy.records_per_key,
                info,
            );
            let bond = Bond::from_pairing(device_id, host_id, keys.shared_key());
            if device.policy.keep_bonds && device.store_bond(&bond) {
                channel.push_event(Event::Bonded(bond));
            }
            Ok(())
        }
        (State::Idle, FrameType::ResumeRequest) => {
            check_request_version(frame.body())?;
            let request = ResumeRequest::decode(frame.body()).map_err(malformed)?;
            let (keys, ephemeral) = start_resume(id, device, &request, now)?;
            let confirm = keys.device_confirmation();
            channel.queue_frame(
                FrameType::ResumeResponse,
                &ResumeResponse { ephemeral, confirm }.encode(),
            );
            *state = State::AwaitResumeFinish {
                keys,
                host_id: request.head.host_id,
            };
            *deadline = Some(now + device.policy.handshake_timeout);
            Ok(())
        }
        (State::AwaitResumeFinish { keys, host_id }, FrameType::ResumeFinish) => {
            let confirm = wire::decode_confirm(frame.body()).map_err(malformed)?;
            let expected = Zeroizing::new(keys.host_confirmation());
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &confirm[..])) {
                return Err((
                    Error::AuthenticationFailed,
                    Some(Alert::AuthenticationFailed),
                ));
            }
            let info = SessionInfo {
                device_id: device.record.device_id,
                host_id,
                mode: Mode::Resumed,
            };
            channel.open(
                &keys.session_root,
                Role::Device,
                device.policy.records_per_key,
                info,
            );
            Ok(())
        }
        _ => Err(unexpected),
    }
}

/// The version rule, applied before the rest of a request is read: its
/// layout depends on the version.
fn check_request_version(body: &[u8]) -> Result<(), Failure> {
    let (version, supported) = wire::request_versions(body).map_err(malformed)?;
    handshake::check_version(version, supported).map_err(refused)
}

/// What pairing and resume requests share after the version: the device
/// must be this one and the host's point valid.
fn check_request<S: Storage, R: CryptoRngCore>(
    device: &Device<S, R>,
    head: &RequestHead,
    point: &[u8; wire::POINT_LEN],
) -> Result<AffinePoint, Failure> {
    if head.device_id != device.record.device_id {
        return Err(refused(Alert::UnknownDevice));
    }
    group::decode_compressed(point).map_err(|_| INVALID_POINT)
}

/// Checks a pairing request, spends a guess and computes the response. No
/// guess is spent on a request that could not lead to a response.
fn start_pairing<S: Storage, R: CryptoRngCore>(
    id: u32,
    device: &mut Device<S, R>,
    request: &PairRequest,
    now: Instant,
) -> Result<(Keys, [u8; wire::POINT_LEN]), Failure> {
    let share_p = check_request(device, &request.head, &request.share_p)?;
    device.pairing_allowed(now).map_err(refused)?;
    device.lock(id, now).map_err(refused)?;
    if device.count_attempt(now).is_err() {
        return Err((Error::Storage, Some(Alert::Internal)));
    }
    let context = handshake::pairing_context(request, &device.record.kdf);
    let ids = handshake::pairing_ids(request, &context);
    let y = Zeroizing::new(NonZeroScalar::random(&mut device.rng));
    let (share_v, keys) = spake2plus::respond(&device.record.verifier, &ids, &y, &share_p)
        .map_err(|_| INVALID_POINT)?;
    Ok((keys, group::encode_compressed(&share_v)))
}

/// Checks a resume request against the stored bond (before any scalar
/// multiplication) and computes the response.
fn start_resume<S: Storage, R: CryptoRngCore>(
    id: u32,
    device: &mut Device<S, R>,
    request: &ResumeRequest,
    now: Instant,
) -> Result<(ResumeKeys, [u8; wire::POINT_LEN]), Failure> {
    let host_ephemeral = check_request(device, &request.head, &request.ephemeral)?;
    let secret = device
        .load_bond_secret(request.head.host_id)
        .ok_or(refused(Alert::ResumeRejected))?;
    if !handshake::binder_matches(&secret, request) {
        return Err(refused(Alert::ResumeRejected));
    }
    device.lock(id, now).map_err(refused)?;
    let y = Zeroizing::new(NonZeroScalar::random(&mut device.rng));
    let ephemeral = group::encode_compressed(&(ProjectivePoint::GENERATOR * **y).to_affine());
    let shared = Zeroizing::new((ProjectivePoint::from(host_ephemeral) * **y).to_affine());
    let shared_x = Zeroizing::new(<[u8; 32]>::from(shared.x()));
    Ok((
        ResumeKeys::derive(&secret, &shared_x, request, &ephemeral),
        ephemeral,
    ))
}
