//! The host's side: the SPAKE2+ prover, or a bonded reconnect, then records.

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
use crate::crypto::kdf::KdfParams;
use crate::crypto::spake2plus::{Prover, ProverSecrets};
use crate::error::{Error, InputError, ProtocolViolation};
use crate::id::{HostId, SessionId};
use crate::provisioning::SetupInfo;
use crate::time::Instant;
use crate::wire::{
    self, Alert, FrameType, PairRequest, PairResponse, RequestHead, ResumeRequest, ResumeResponse,
};

/// A host's settings.
#[derive(Clone, Copy, Debug)]
pub struct HostConfig {
    /// How long the device has to answer.
    pub handshake_timeout: Duration,
    /// Records sent under one key before a key update (at most
    /// [`MAX_RECORDS_PER_KEY`]).
    pub records_per_key: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(30),
            records_per_key: MAX_RECORDS_PER_KEY,
        }
    }
}

enum HostState {
    AwaitPairResponse {
        prover: Prover,
        request: PairRequest,
        kdf: KdfParams,
    },
    AwaitResumeResponse {
        x: Zeroizing<NonZeroScalar>,
        request: ResumeRequest,
        bond: Bond,
    },
    Done,
}

/// A host's connection to one device over one BLE link: the prover of a
/// pairing, or a bonded reconnect, then records. It is driven through the
/// [`Connection`] trait.
pub struct HostConnection {
    channel: Channel,
    state: HostState,
    records_per_key: u64,
    /// Whether notifications still need enabling before the first write.
    subscribe: bool,
}

impl HostConnection {
    /// Starts a pairing with the device `info` describes, from the secrets
    /// derived from its password (see [`KdfParams::derive`]). The first
    /// message is queued at once.
    ///
    /// A host that pairs again with a device it holds a bond for passes
    /// that bond as `previous`: the new pairing then uses the same host id
    /// and the device replaces the old bond (`PROTOCOL.md` §8.1). The host
    /// id stays random and per device, so it links nothing across devices.
    #[must_use = "the connection holds the queued request"]
    pub fn pair(
        info: &SetupInfo,
        secrets: &ProverSecrets,
        previous: Option<&Bond>,
        config: HostConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        // Each draw is refused with probability 2^-256 (`Prover::new`).
        let prover = loop {
            let x = Zeroizing::new(NonZeroScalar::random(&mut *rng));
            if let Ok(prover) = Prover::new(secrets, &x) {
                break prover;
            }
        };
        let host_id = previous
            .filter(|bond| bond.device_id == info.device_id)
            .map_or_else(|| HostId::random(rng), |bond| bond.host_id);
        let request = PairRequest {
            head: RequestHead::new(info.device_id, host_id),
            session_id: SessionId::random(rng),
            share_p: group::encode_compressed(prover.share()),
        };
        let mut connection = Self::start(config, now);
        connection
            .channel
            .core
            .queue_frame(FrameType::PairRequest, &request.encode());
        connection.state = HostState::AwaitPairResponse {
            prover,
            request,
            kdf: info.kdf,
        };
        connection
    }

    /// Starts a reconnect with a bond from an earlier pairing: one round
    /// trip, no code and no key derivation.
    #[must_use = "the connection holds the queued request"]
    pub fn resume(
        bond: &Bond,
        config: HostConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        let x = Zeroizing::new(NonZeroScalar::random(rng));
        let ephemeral = group::mul_base_affine(&x);
        let mut request = ResumeRequest {
            head: RequestHead::new(bond.device_id, bond.host_id),
            ephemeral: group::encode_compressed(&ephemeral),
            binder: [0; wire::BINDER_LEN],
        };
        request.binder = handshake::binder(&bond.secret, &request);
        let mut connection = Self::start(config, now);
        connection
            .channel
            .core
            .queue_frame(FrameType::ResumeRequest, &request.encode());
        connection.state = HostState::AwaitResumeResponse {
            x,
            request,
            bond: bond.clone(),
        };
        connection
    }

    fn start(config: HostConfig, now: Instant) -> Self {
        Self {
            channel: Channel::new(now + config.handshake_timeout),
            state: HostState::Done,
            records_per_key: config.records_per_key,
            subscribe: true,
        }
    }
}

impl sealed::Parts for HostConnection {
    fn channel(&self) -> &Channel {
        &self.channel
    }

    fn channel_mut(&mut self) -> &mut Channel {
        &mut self.channel
    }
}

impl Connection for HostConnection {
    fn role(&self) -> Role {
        Role::Host
    }

    fn state(&self) -> State {
        match (&self.state, self.channel.core.is_open()) {
            _ if self.channel.core.is_closed() => State::Closed,
            (_, true) => State::Open,
            (HostState::AwaitResumeResponse { .. }, _) => State::Resuming,
            _ => State::Pairing,
        }
    }

    fn handle_input(&mut self, data: &[u8], now: Instant) -> Result<usize, InputError> {
        let state = &mut self.state;
        let records_per_key = self.records_per_key;
        self.channel
            .handle_input(data, now, |core, frame_type, body| {
                on_handshake(state, core, frame_type, body, records_per_key);
            })
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.channel.core.check_deadline(now);
    }

    fn handle_disconnect(&mut self) {
        self.channel.core.disconnect();
    }

    fn poll_subscribe(&mut self) -> bool {
        !self.channel.core.is_closed() && core::mem::take(&mut self.subscribe)
    }
}

fn on_handshake(
    state: &mut HostState,
    channel: &mut Core,
    frame_type: FrameType,
    body: &[u8],
    records_per_key: u64,
) {
    let result = match (core::mem::replace(state, HostState::Done), frame_type) {
        (
            HostState::AwaitPairResponse {
                prover,
                request,
                kdf,
            },
            FrameType::PairResponse,
        ) => finish_pairing(&prover, &request, &kdf, channel, body, records_per_key),
        (HostState::AwaitResumeResponse { x, request, bond }, FrameType::ResumeResponse) => {
            finish_resume(&x, &request, &bond, channel, body, records_per_key)
        }
        _ => Err((
            Error::Protocol(ProtocolViolation::Unexpected),
            Alert::ProtocolError,
        )),
    };
    if let Err((error, alert)) = result {
        channel.fail(error, Some(alert));
    }
}

type Failure = (Error, Alert);

const INVALID_POINT: Failure = (
    Error::Protocol(ProtocolViolation::InvalidPoint),
    Alert::ProtocolError,
);
const WRONG_CONFIRMATION: Failure = (Error::AuthenticationFailed, Alert::AuthenticationFailed);

fn finish_pairing(
    prover: &Prover,
    request: &PairRequest,
    kdf: &KdfParams,
    channel: &mut Core,
    body: &[u8],
    records_per_key: u64,
) -> Result<(), Failure> {
    let response = PairResponse::decode(body).map_err(|e| (e.into(), Alert::ProtocolError))?;
    let share_v = group::decode_compressed(&response.share_v).map_err(|_| INVALID_POINT)?;
    let context = handshake::pairing_context(request, kdf);
    let keys = prover
        .finish(&handshake::pairing_ids(request, &context), &share_v)
        .map_err(|_| INVALID_POINT)?;
    if !keys.verify_confirm_v(&response.confirm_v) {
        return Err(WRONG_CONFIRMATION);
    }
    channel.queue_frame(FrameType::PairConfirm, keys.confirm_p());
    let info = SessionInfo {
        device_id: request.head.device_id,
        host_id: request.head.host_id,
        mode: Mode::Paired,
    };
    channel.open(keys.shared_key(), Role::Host, records_per_key, info);
    channel.push_event(Event::Bonded(Bond::from_pairing(
        request.head.device_id,
        request.head.host_id,
        keys.shared_key(),
    )));
    Ok(())
}

fn finish_resume(
    x: &NonZeroScalar,
    request: &ResumeRequest,
    bond: &Bond,
    channel: &mut Core,
    body: &[u8],
    records_per_key: u64,
) -> Result<(), Failure> {
    let response = ResumeResponse::decode(body).map_err(|e| (e.into(), Alert::ProtocolError))?;
    let device_ephemeral =
        group::decode_compressed(&response.ephemeral).map_err(|_| INVALID_POINT)?;
    let shared = Zeroizing::new(group::mul_affine(&device_ephemeral, x));
    let shared_x = Zeroizing::new(<[u8; 32]>::from(shared.x()));
    let keys = ResumeKeys::derive(&bond.secret, &shared_x, request, &response.ephemeral);
    if !keys.verify_device_confirmation(&response.confirm) {
        return Err(WRONG_CONFIRMATION);
    }
    channel.queue_frame(FrameType::ResumeFinish, &keys.host_confirmation());
    let info = SessionInfo {
        device_id: bond.device_id,
        host_id: bond.host_id,
        mode: Mode::Resumed,
    };
    channel.open(&keys.session_root, Role::Host, records_per_key, info);
    Ok(())
}
