//! The device's side: the SPAKE2+ verifier with persistent attempt
//! limiting and a pairing window, bonded reconnects, then records.
//!
//! A [`Device`] lives as long as the firmware runs. It holds the record,
//! the policy, storage, the RNG, the attempt state and its links: each BLE
//! link is [`accept`](Device::accept)ed into a slot and named by a
//! [`LinkId`], driven through [`Device::link`], and [`remove`](Device::remove)d
//! when it drops. Because the device owns its links, no forgotten object
//! can hold the pairing lock: removing a link releases it at once, and a
//! link left behind loses it at its deadline.

use core::time::Duration;

use p256::NonZeroScalar;
use p256::elliptic_curve::point::AffineCoordinates;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::bond::Bond;
use super::channel::{Channel, Core};
use super::handshake::{self, ResumeKeys};
use super::record::MAX_RECORDS_PER_KEY;
use super::{Connection, Event, Mode, Role, SessionInfo, State, sealed};
use crate::crypto::group;
use crate::crypto::spake2plus;
use crate::error::{Error, InputError, ProtocolViolation};
use crate::id::HostId;
use crate::provisioning::{DeviceRecord, SetupInfo};
use crate::storage::Storage;
use crate::time::Instant;
use crate::wire::{
    self, Alert, BINDER_LEN, CONFIRM_LEN, FrameType, PairRequest, PairResponse, RequestHead,
    ResumeRequest, ResumeResponse,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

mod attempts;
mod bonds;

use attempts::Attempts;
pub use bonds::{Bonds, MAX_BONDS};

/// How a device limits guesses and runs handshakes.
#[derive(Clone, Copy, Debug)]
pub struct DevicePolicy {
    /// Failed pairings after which the device refuses all pairing until a
    /// person reopens the pairing window.
    pub max_failures: u16,
    /// Failed pairings allowed without waiting.
    pub free_attempts: u16,
    /// The wait after the first failure beyond the free ones; it doubles
    /// with each further failure.
    pub backoff_base: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// How long a new link has to deliver its first complete request.
    pub request_timeout: Duration,
    /// How long a host has to finish a handshake once the device answered.
    pub handshake_timeout: Duration,
    /// How long the pairing window stays open after
    /// [`Device::open_pairing_window`] (a device without bonds is open
    /// regardless).
    pub pairing_window: Duration,
    /// Whether pairings leave a bond.
    pub keep_bonds: bool,
    /// Bonds kept (at most [`MAX_BONDS`]); a new host beyond them replaces
    /// the oldest.
    pub max_bonds: u8,
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
            request_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(30),
            pairing_window: Duration::from_secs(300),
            keep_bonds: true,
            max_bonds: 8,
            records_per_key: MAX_RECORDS_PER_KEY,
        }
    }
}

/// Where the attempt limit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AttemptStatus {
    /// Failed pairings since the last success or window opening, as stored
    /// (or assumed, if storage failed).
    pub failures: u16,
    /// Whether pairing is refused until a person reopens the window.
    pub locked: bool,
}

/// Whether the device answers pairing requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PairingWindow {
    /// Closed: pairing requests get `PairingClosed` and count nothing.
    Closed,
    /// Open until this time, after a person opened it.
    OpenUntil(Instant),
    /// Open because the device holds no bond (a new or reset device).
    OpenWhileUnbonded,
}

/// A link a [`Device`] holds. Identifiers are not reused while the device
/// runs, so a stale one names nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkId(u32);

impl LinkId {
    /// The identifier as a number, for bindings.
    pub fn to_raw(self) -> u32 {
        self.0
    }

    /// An identifier from [`to_raw`](Self::to_raw)'s number.
    pub fn from_raw(raw: u32) -> Self {
        Self(raw)
    }
}

/// Why a link could not be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LinkError {
    /// Every link slot is taken: remove a link first.
    NoFreeSlot,
    /// No link has this identifier (it was removed).
    UnknownLink,
}

impl LinkError {
    /// The stable numeric code: 40 `NoFreeSlot`, 41 `UnknownLink`.
    pub fn code(&self) -> u8 {
        match self {
            Self::NoFreeSlot => 40,
            Self::UnknownLink => 41,
        }
    }
}

impl core::fmt::Display for LinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoFreeSlot => "every link slot is taken",
            Self::UnknownLink => "no such link",
        })
    }
}

impl core::error::Error for LinkError {}

/// Binders of resume requests answered lately (first 8 bytes), so that a
/// replayed request gets nothing: no answer and no scalar multiplication.
const REPLAY_CACHE_LEN: usize = 8;

struct Lock {
    link: LinkId,
    expires: Instant,
}

/// The policy as a device keeps it, times in milliseconds: a third of the
/// size of [`DevicePolicy`].
#[derive(Clone, Copy)]
struct Limits {
    max_failures: u16,
    free_attempts: u16,
    backoff_base_ms: u32,
    backoff_max_ms: u32,
    request_timeout_ms: u32,
    handshake_timeout_ms: u32,
    pairing_window_ms: u32,
    records_per_key: u32,
    keep_bonds: bool,
    max_bonds: u8,
}

fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

fn later(now: Instant, ms: u32) -> Instant {
    now + Duration::from_millis(u64::from(ms))
}

impl From<DevicePolicy> for Limits {
    fn from(policy: DevicePolicy) -> Self {
        Self {
            max_failures: policy.max_failures,
            free_attempts: policy.free_attempts,
            backoff_base_ms: millis(policy.backoff_base),
            backoff_max_ms: millis(policy.backoff_max),
            request_timeout_ms: millis(policy.request_timeout),
            handshake_timeout_ms: millis(policy.handshake_timeout),
            pairing_window_ms: millis(policy.pairing_window),
            records_per_key: u32::try_from(policy.records_per_key).unwrap_or(u32::MAX),
            keep_bonds: policy.keep_bonds,
            max_bonds: policy.max_bonds,
        }
    }
}

/// What a device needs once it has answered a request: the confirmation
/// it expects and the session's root secret. Zeroized on drop.
struct Expected {
    confirmation: [u8; CONFIRM_LEN],
    root: [u8; 32],
    host_id: HostId,
    mode: Mode,
}

impl Drop for Expected {
    fn drop(&mut self) {
        self.confirmation.zeroize();
        self.root.zeroize();
    }
}

enum DeviceState {
    Idle,
    /// Answered; waits for the host's confirmation.
    Answered(Expected),
    Done,
}

struct Link {
    id: LinkId,
    channel: Channel,
    state: DeviceState,
}

/// What every link of a device shares.
struct Shared<S: Storage, R> {
    record: DeviceRecord,
    policy: Limits,
    storage: S,
    rng: R,
    attempts: Attempts,
    /// Until when a person opened the pairing window.
    window_until: Option<Instant>,
    /// Bonds in the table; the window stays open while there are none.
    bonds_held: u8,
    /// The one pairing at a time.
    lock: Option<Lock>,
    /// The first 8 bytes of recent resume binders, `replays_held` of them.
    replays: [[u8; 8]; REPLAY_CACHE_LEN],
    replays_held: u8,
    next_replay: u8,
    storage_error: Option<S::Error>,
}

/// A device: its record, policy, storage, RNG, attempt state and up to
/// `LINKS` links at once.
pub struct Device<S: Storage, R: CryptoRngCore, const LINKS: usize = 1> {
    shared: Shared<S, R>,
    links: [Option<Link>; LINKS],
    next_id: u32,
}

/// One link of a [`Device`], borrowed from it: drive it through the
/// [`Connection`] trait.
pub struct DeviceLink<'a, S: Storage, R: CryptoRngCore> {
    shared: &'a mut Shared<S, R>,
    link: &'a mut Link,
}

impl<S: Storage, R: CryptoRngCore, const LINKS: usize> Device<S, R, LINKS> {
    /// Starts a device at boot: reads the failure count (a damaged count
    /// reads as exhausted) and counts the bonds.
    pub fn new(
        record: DeviceRecord,
        policy: DevicePolicy,
        mut storage: S,
        rng: R,
        now: Instant,
    ) -> Self {
        let attempts = Attempts::load(&mut storage, policy.max_failures, now);
        // At most MAX_BONDS.
        let bonds_held = Bonds::read(&mut storage, policy.max_bonds).len() as u8;
        Self {
            shared: Shared {
                record,
                policy: policy.into(),
                storage,
                rng,
                attempts,
                window_until: None,
                bonds_held,
                lock: None,
                replays: [[0; 8]; REPLAY_CACHE_LEN],
                replays_held: 0,
                next_replay: 0,
                storage_error: None,
            },
            // Each `None` written where it lies: a constant array of them
            // would be a link's size of zeros in flash, copied in.
            links: core::array::from_fn(|_| None),
            next_id: 0,
        }
    }

    /// Takes a new BLE link; it has
    /// [`request_timeout`](DevicePolicy::request_timeout) to deliver a
    /// complete request. When every slot is taken, a link that has ended
    /// (closed or failed) but was never removed gives up its slot.
    pub fn accept(&mut self, now: Instant) -> Result<LinkId, LinkError> {
        let free = self.links.iter().position(Option::is_none);
        let ended = || {
            self.links.iter().position(|slot| {
                slot.as_ref()
                    .is_some_and(|link| link.channel.core.is_closed())
            })
        };
        let index = free.or_else(ended).ok_or(LinkError::NoFreeSlot)?;
        if let Some(old) = self.links[index].take() {
            self.shared.unlock(old.id);
        }
        let slot = &mut self.links[index];
        self.next_id = self.next_id.wrapping_add(1);
        let id = LinkId(self.next_id);
        *slot = Some(Link {
            id,
            channel: Channel::new(later(now, self.shared.policy.request_timeout_ms)),
            state: DeviceState::Idle,
        });
        Ok(id)
    }

    /// The link `id`, to drive; `None` once it has been removed.
    pub fn link(&mut self, id: LinkId) -> Option<DeviceLink<'_, S, R>> {
        let link = self.links.iter_mut().flatten().find(|link| link.id == id)?;
        Some(DeviceLink {
            shared: &mut self.shared,
            link,
        })
    }

    /// Forgets a link (its BLE link is gone): its keys are erased and the
    /// pairing lock it held, if any, is released at once. A pairing it
    /// had answered stays counted. Returns whether the link existed.
    pub fn remove(&mut self, id: LinkId) -> bool {
        let Some(slot) = self
            .links
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|link| link.id == id))
        else {
            return false;
        };
        *slot = None;
        self.shared.unlock(id);
        true
    }

    /// The links held, in slot order.
    pub fn links(&self) -> impl Iterator<Item = LinkId> + '_ {
        self.links.iter().flatten().map(|link| link.id)
    }

    /// What the `Setup Info` characteristic serves.
    pub fn setup_info(&self) -> SetupInfo {
        self.shared.record.setup_info()
    }

    /// The attempt limit's state.
    pub fn attempts(&self) -> AttemptStatus {
        let failures = self.shared.attempts.failures();
        AttemptStatus {
            failures,
            locked: failures >= self.shared.policy.max_failures,
        }
    }

    /// Whether the device answers pairing requests at `now`.
    pub fn pairing_window(&self, now: Instant) -> PairingWindow {
        self.shared.pairing_window(now)
    }

    /// A person opened the pairing window (a button press): for
    /// [`pairing_window`](DevicePolicy::pairing_window) from `now` the
    /// device answers pairing requests, with the failure count cleared and
    /// a lockout lifted. A successful pairing closes it.
    pub fn open_pairing_window(&mut self, now: Instant) -> Result<(), S::Error> {
        let shared = &mut self.shared;
        shared.attempts.clear(&mut shared.storage)?;
        shared.window_until = Some(later(now, shared.policy.pairing_window_ms));
        Ok(())
    }

    /// Closes the pairing window early. (A device without bonds stays
    /// open.)
    pub fn close_pairing_window(&mut self) {
        self.shared.window_until = None;
    }

    /// The hosts the device holds bonds with.
    pub fn bonds(&mut self) -> Bonds {
        Bonds::read(&mut self.shared.storage, self.shared.policy.max_bonds)
    }

    /// Forgets the bond with `host_id`: that host must pair with the code
    /// again. A session already open stays open until its link drops.
    /// Returns whether there was such a bond.
    pub fn revoke_bond(&mut self, host_id: HostId) -> Result<bool, S::Error> {
        let shared = &mut self.shared;
        let revoked = bonds::revoke(&mut shared.storage, shared.policy.max_bonds, host_id)?;
        shared.count_bonds();
        Ok(revoked)
    }

    /// Forgets every bond (a long press, a factory reset): every host must
    /// pair again, and with no bond left the pairing window is open.
    pub fn revoke_all_bonds(&mut self) -> Result<(), S::Error> {
        let result = bonds::revoke_all(&mut self.shared.storage);
        self.shared.count_bonds();
        result
    }

    /// The error of the last storage write that failed during a handshake
    /// (the handshake itself failed with [`Error::Internal`]).
    pub fn storage_error(&self) -> Option<&S::Error> {
        self.shared.storage_error.as_ref()
    }

    /// The storage, for the application's own use.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.shared.storage
    }
}

impl<S: Storage, R> Shared<S, R> {
    fn pairing_window(&self, now: Instant) -> PairingWindow {
        match self.window_until {
            Some(until) if now < until => PairingWindow::OpenUntil(until),
            _ if self.bonds_held == 0 => PairingWindow::OpenWhileUnbonded,
            _ => PairingWindow::Closed,
        }
    }

    fn count_bonds(&mut self) {
        // At most MAX_BONDS.
        self.bonds_held = Bonds::read(&mut self.storage, self.policy.max_bonds).len() as u8;
    }

    /// Whether a pairing may start now: not locked out, not backing off.
    fn pairing_allowed(&self, now: Instant) -> Result<(), Alert> {
        let policy = &self.policy;
        if self.attempts.failures() >= policy.max_failures {
            return Err(Alert::Locked);
        }
        let base = Duration::from_millis(policy.backoff_base_ms.into());
        let max = Duration::from_millis(policy.backoff_max_ms.into());
        match self.attempts.wait_until(policy.free_attempts, base, max) {
            Some(allowed_at) if now < allowed_at => Err(Alert::Unavailable {
                retry_after_secs: seconds_until(now, allowed_at),
            }),
            _ => Ok(()),
        }
    }

    /// Takes the one-pairing-at-a-time lock for `link`; a lock whose
    /// pairing timed out is taken over.
    fn lock(&mut self, link: LinkId, now: Instant) -> Result<(), Alert> {
        if let Some(lock) = &self.lock {
            if lock.link != link && now < lock.expires {
                return Err(Alert::Unavailable {
                    retry_after_secs: seconds_until(now, lock.expires),
                });
            }
        }
        self.lock = Some(Lock {
            link,
            expires: later(now, self.policy.handshake_timeout_ms),
        });
        Ok(())
    }

    fn unlock(&mut self, link: LinkId) {
        if self.lock.as_ref().is_some_and(|lock| lock.link == link) {
            self.lock = None;
        }
    }

    /// Remembers a resume binder; returns whether it was seen before.
    fn seen_before(&mut self, binder: &[u8; BINDER_LEN]) -> bool {
        let mut tag = [0; 8];
        tag.copy_from_slice(&binder[..8]);
        if self.replays[..usize::from(self.replays_held)].contains(&tag) {
            return true;
        }
        self.replays[usize::from(self.next_replay)] = tag;
        self.next_replay = (self.next_replay + 1) % REPLAY_CACHE_LEN as u8;
        self.replays_held = (self.replays_held + 1).min(REPLAY_CACHE_LEN as u8);
        false
    }
}

fn seconds_until(now: Instant, then: Instant) -> u16 {
    let millis = then.saturating_duration_since(now).as_millis();
    u16::try_from(millis.div_ceil(1000)).unwrap_or(u16::MAX)
}

impl<S: Storage, R: CryptoRngCore> DeviceLink<'_, S, R> {
    /// This link's identifier.
    pub fn id(&self) -> LinkId {
        self.link.id
    }

    /// Ends the handshake's hold on the device once the session is open or
    /// the link has ended.
    fn settle(&mut self) {
        let core = &self.link.channel.core;
        if core.is_open() || core.is_closed() {
            if core.is_closed() {
                self.link.state = DeviceState::Done;
            }
            self.shared.unlock(self.link.id);
        }
    }
}

impl<S: Storage, R: CryptoRngCore> sealed::Parts for DeviceLink<'_, S, R> {
    fn channel(&self) -> &Channel {
        &self.link.channel
    }

    fn channel_mut(&mut self) -> &mut Channel {
        &mut self.link.channel
    }
}

impl<S: Storage, R: CryptoRngCore> Connection for DeviceLink<'_, S, R> {
    fn role(&self) -> Role {
        Role::Device
    }

    fn state(&self) -> State {
        let core = &self.link.channel.core;
        match &self.link.state {
            _ if core.is_closed() => State::Closed,
            _ if core.is_open() => State::Open,
            DeviceState::Idle => State::AwaitingRequest,
            DeviceState::Answered(expected) if expected.mode == Mode::Paired => State::Pairing,
            DeviceState::Answered(_) => State::Resuming,
            DeviceState::Done => State::Closed,
        }
    }

    fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<usize, InputError> {
        let (shared, link) = (&mut *self.shared, &mut *self.link);
        let (id, state) = (link.id, &mut link.state);
        let result = link
            .channel
            .handle_input(data, now, |core, frame_type, body| {
                if let Err((error, alert)) =
                    on_handshake(id, state, shared, core, frame_type, body, now)
                {
                    *state = DeviceState::Done;
                    core.fail(error, alert);
                }
            });
        self.settle();
        result
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.link.channel.core.check_deadline(now);
        self.settle();
    }

    fn handle_disconnect(&mut self) {
        self.link.channel.core.disconnect();
        self.settle();
    }
}

type Failure = (Error, Option<Alert>);

/// This device refuses the request and tells the host why.
fn refused(alert: Alert) -> Failure {
    (Error::from(alert), Some(alert))
}

fn malformed(e: wire::DecodeError) -> Failure {
    (e.into(), Some(Alert::ProtocolError))
}

const INVALID_POINT: Failure = (
    Error::Protocol(ProtocolViolation::InvalidPoint),
    Some(Alert::ProtocolError),
);

fn on_handshake<S: Storage, R: CryptoRngCore>(
    id: LinkId,
    state: &mut DeviceState,
    shared: &mut Shared<S, R>,
    core: &mut Core,
    frame_type: FrameType,
    body: &[u8],
    now: Instant,
) -> Result<(), Failure> {
    // The state is changed in place, never moved: it holds the session's
    // secrets, and each move is a copy on the stack. On an error the
    // caller ends the state.
    match (&*state, frame_type) {
        (DeviceState::Idle, FrameType::PairRequest) => {
            answer_pairing(id, state, shared, core, body, now)?;
        }
        (DeviceState::Idle, FrameType::ResumeRequest) => answer_resume(state, shared, core, body)?,
        (DeviceState::Answered(expected), FrameType::PairConfirm | FrameType::ResumeFinish)
            if (frame_type == FrameType::PairConfirm) == (expected.mode == Mode::Paired) =>
        {
            let result = confirmed(shared, core, expected, body);
            *state = DeviceState::Done;
            return result;
        }
        _ => {
            return Err((
                Error::Protocol(ProtocolViolation::Unexpected),
                Some(Alert::ProtocolError),
            ));
        }
    }
    core.set_deadline(later(now, shared.policy.handshake_timeout_ms));
    Ok(())
}

// Each handshake message is handled in a frame of its own (never inlined
// into the pump): the values one message needs would otherwise share the
// pump's frame with every other message's, and lie under every step a
// link takes, records included.

/// Answers a pairing request, checked in the order of `PROTOCOL.md` §6.3,
/// and leaves the state expecting the host's confirmation. No guess is
/// spent, and no scalar multiplied, for a request that could not lead to a
/// response.
#[inline(never)]
fn answer_pairing<S: Storage, R: CryptoRngCore>(
    id: LinkId,
    state: &mut DeviceState,
    shared: &mut Shared<S, R>,
    core: &mut Core,
    body: &[u8],
    now: Instant,
) -> Result<(), Failure> {
    check_request_version(body)?;
    let request = PairRequest::decode(body).map_err(malformed)?;
    check_device(shared, &request.head)?;
    if shared.pairing_window(now) == PairingWindow::Closed {
        return Err(refused(Alert::PairingClosed));
    }
    let share_p = group::decode_compressed(&request.share_p).map_err(|_| INVALID_POINT)?;
    shared.pairing_allowed(now).map_err(refused)?;
    shared.lock(id, now).map_err(refused)?;
    if let Err(error) = shared.attempts.count(&mut shared.storage, now) {
        shared.storage_error = Some(error);
        return Err(refused(Alert::Internal));
    }
    let context = handshake::pairing_context(&request, &shared.record.kdf);
    let ids = handshake::pairing_ids(&request, &context);
    let y = Zeroizing::new(NonZeroScalar::random(&mut shared.rng));
    // Read in place: moving the keys and share out would copy them.
    let answer = spake2plus::respond(&shared.record.verifier, &ids, &y, &share_p);
    let Ok((share_v, keys)) = &answer else {
        return Err(INVALID_POINT);
    };
    let response = PairResponse {
        share_v: group::encode_compressed(share_v),
        confirm_v: *keys.confirm_v(),
    };
    core.queue_frame(FrameType::PairResponse, &response.encode());
    *state = DeviceState::Answered(Expected {
        confirmation: *keys.confirm_p(),
        root: *keys.shared_key(),
        host_id: request.head.host_id,
        mode: Mode::Paired,
    });
    Ok(())
}

/// Answers a resume request, checked against the stored bond and the
/// binders seen lately before any scalar multiplication, and leaves the
/// state expecting the host's confirmation.
#[inline(never)]
fn answer_resume<S: Storage, R: CryptoRngCore>(
    state: &mut DeviceState,
    shared: &mut Shared<S, R>,
    core: &mut Core,
    body: &[u8],
) -> Result<(), Failure> {
    check_request_version(body)?;
    let request = ResumeRequest::decode(body).map_err(malformed)?;
    check_device(shared, &request.head)?;
    let host_ephemeral = group::decode_compressed(&request.ephemeral).map_err(|_| INVALID_POINT)?;
    let secret = bonds::find(
        &mut shared.storage,
        shared.policy.max_bonds,
        request.head.host_id,
    )
    .ok_or(refused(Alert::ResumeRejected))?;
    if !handshake::binder_matches(&secret, &request) || shared.seen_before(&request.binder) {
        return Err(refused(Alert::ResumeRejected));
    }
    let y = Zeroizing::new(NonZeroScalar::random(&mut shared.rng));
    let ephemeral = group::encode_compressed(&group::mul_base_affine(&y));
    let shared_point = Zeroizing::new(group::mul_affine(&host_ephemeral, &y));
    let shared_x = Zeroizing::new(<[u8; 32]>::from(shared_point.x()));
    let keys = ResumeKeys::derive(&secret, &shared_x, &request, &ephemeral);
    let confirm = keys.device_confirmation();
    core.queue_frame(
        FrameType::ResumeResponse,
        &ResumeResponse { ephemeral, confirm }.encode(),
    );
    *state = DeviceState::Answered(Expected {
        confirmation: keys.host_confirmation(),
        root: keys.session_root,
        host_id: request.head.host_id,
        mode: Mode::Resumed,
    });
    Ok(())
}

/// Checks the host's confirmation and, if it matches, opens the session.
#[inline(never)]
fn confirmed<S: Storage, R>(
    shared: &mut Shared<S, R>,
    core: &mut Core,
    expected: &Expected,
    body: &[u8],
) -> Result<(), Failure> {
    let confirmation = wire::decode_confirm(body).map_err(malformed)?;
    if !bool::from(expected.confirmation.ct_eq(&confirmation)) {
        return Err((
            Error::AuthenticationFailed,
            Some(Alert::AuthenticationFailed),
        ));
    }
    finish(shared, core, expected);
    Ok(())
}

/// The version rule, applied before the rest of a request is read: its
/// layout depends on the version.
fn check_request_version(body: &[u8]) -> Result<(), Failure> {
    let (version, supported) = wire::request_versions(body).map_err(malformed)?;
    handshake::check_version(version, supported).map_err(refused)
}

/// The device a request names must be this one.
fn check_device<S: Storage, R>(shared: &Shared<S, R>, head: &RequestHead) -> Result<(), Failure> {
    if head.device_id == shared.record.device_id {
        Ok(())
    } else {
        Err(refused(Alert::UnknownDevice))
    }
}

/// A verified confirmation opens the session. After a pairing, the count
/// is cleared, the window closes and the bond is stored (over the host's
/// old one).
fn finish<S: Storage, R>(shared: &mut Shared<S, R>, core: &mut Core, expected: &Expected) {
    let device_id = shared.record.device_id;
    let info = SessionInfo {
        device_id,
        host_id: expected.host_id,
        mode: expected.mode,
    };
    core.open(
        &expected.root,
        Role::Device,
        u64::from(shared.policy.records_per_key),
        info,
    );
    if expected.mode == Mode::Resumed {
        return;
    }
    // A failed clear leaves the count raised: the safe direction.
    if let Err(error) = shared.attempts.clear(&mut shared.storage) {
        shared.storage_error = Some(error);
    }
    shared.window_until = None;
    if !shared.policy.keep_bonds {
        return;
    }
    let bond = Bond::from_pairing(device_id, expected.host_id, &expected.root);
    match bonds::store(
        &mut shared.storage,
        shared.policy.max_bonds,
        expected.host_id,
        &bond.secret,
    ) {
        Ok(()) => core.push_event(Event::Bonded(bond)),
        // The pairing still succeeds, without a bond (PROTOCOL.md §8.1).
        Err(error) => shared.storage_error = Some(error),
    }
    shared.count_bonds();
}
