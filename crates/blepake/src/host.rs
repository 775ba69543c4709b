//! The host's side: the SPAKE2+ prover, or a bonded reconnect, then records.

use core::time::Duration;

use p256::elliptic_curve::point::AffineCoordinates;
use p256::{NonZeroScalar, ProjectivePoint};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::bond::Bond;
use crate::channel::{Channel, Event, Frame, Mode, Role, SessionInfo};
use crate::connection::Connection;
use crate::error::{Error, InputError, ProtocolViolation};
use crate::group;
use crate::handshake::{self, ResumeKeys};
use crate::id::{HostId, SessionId};
use crate::kdf::KdfParams;
use crate::record::MAX_RECORDS_PER_KEY;
use crate::setup::SetupInfo;
use crate::spake2plus::{Prover, ProverSecrets};
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

enum State {
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

/// A host's connection to one device: the prover of a pairing, or a
/// bonded reconnect, then records. See [`Connection`] for the common part.
pub type HostConnection = Connection<HostSide>;

/// What a [`HostConnection`] knows of its handshake.
pub struct HostSide {
    state: State,
    records_per_key: u64,
}

impl Connection<HostSide> {
    /// Starts a pairing with the device `info` describes, from the secrets
    /// derived from its code (see [`KdfParams::derive`]). The first message
    /// is queued at once.
    pub fn pair(
        info: &SetupInfo,
        secrets: &ProverSecrets,
        config: HostConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        let x = Zeroizing::new(NonZeroScalar::random(&mut *rng));
        let prover = Prover::new(secrets, &x);
        let request = PairRequest {
            head: RequestHead::new(info.device_id, HostId::random(rng)),
            session_id: SessionId::random(rng),
            share_p: group::encode_compressed(prover.share()),
        };
        let mut connection = Self::start(config, now);
        connection
            .channel
            .queue_frame(FrameType::PairRequest, &request.encode());
        connection.role.state = State::AwaitPairResponse {
            prover,
            request,
            kdf: info.kdf,
        };
        connection
    }

    /// Starts a reconnect with a bond from an earlier pairing: one round
    /// trip, no code and no key derivation.
    pub fn resume(
        bond: &Bond,
        config: HostConfig,
        rng: &mut impl CryptoRngCore,
        now: Instant,
    ) -> Self {
        let x = Zeroizing::new(NonZeroScalar::random(rng));
        let ephemeral = (ProjectivePoint::GENERATOR * **x).to_affine();
        let mut request = ResumeRequest {
            head: RequestHead::new(bond.device_id, bond.host_id),
            ephemeral: group::encode_compressed(&ephemeral),
            binder: [0; wire::BINDER_LEN],
        };
        request.binder = handshake::binder(&bond.secret, &request);
        let mut connection = Self::start(config, now);
        connection
            .channel
            .queue_frame(FrameType::ResumeRequest, &request.encode());
        connection.role.state = State::AwaitResumeResponse {
            x,
            request,
            bond: bond.clone(),
        };
        connection
    }

    fn start(config: HostConfig, now: Instant) -> Self {
        let role = HostSide {
            state: State::Done,
            records_per_key: config.records_per_key,
        };
        Connection::new(role, Some(now + config.handshake_timeout))
    }

    /// Takes bytes the device sent (one notification's value).
    pub fn handle_input(&mut self, data: &[u8], _now: Instant) -> Result<(), InputError> {
        let state = &mut self.role.state;
        let deadline = &mut self.deadline;
        let records_per_key = self.role.records_per_key;
        self.channel.handle_input(data, |channel, frame| {
            on_handshake(state, channel, frame, records_per_key);
            if channel.is_open() || channel.is_closed() {
                *deadline = None;
            }
        })
    }

    /// Fails the handshake if its time is up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timed_out(now) {
            self.deadline = None;
            self.channel.fail(Error::Timeout, Some(Alert::Timeout));
        }
    }

    /// The link dropped: a session not closed by an authenticated close
    /// fails with [`Error::LinkLost`].
    pub fn handle_disconnect(&mut self) {
        self.channel.fail(Error::LinkLost, None);
    }
}

fn on_handshake(state: &mut State, channel: &mut Channel, frame: &Frame, records_per_key: u64) {
    match (
        core::mem::replace(state, State::Done),
        frame.header.frame_type,
    ) {
        (
            State::AwaitPairResponse {
                prover,
                request,
                kdf,
            },
            FrameType::PairResponse,
        ) => {
            if let Err((error, alert)) = finish_pairing(
                &prover,
                &request,
                &kdf,
                channel,
                frame.body(),
                records_per_key,
            ) {
                channel.fail(error, Some(alert));
            }
        }
        (State::AwaitResumeResponse { x, request, bond }, FrameType::ResumeResponse) => {
            if let Err((error, alert)) =
                finish_resume(&x, &request, &bond, channel, frame.body(), records_per_key)
            {
                channel.fail(error, Some(alert));
            }
        }
        _ => channel.fail(
            Error::Protocol(ProtocolViolation::Unexpected),
            Some(Alert::ProtocolError),
        ),
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
    channel: &mut Channel,
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
    channel: &mut Channel,
    body: &[u8],
    records_per_key: u64,
) -> Result<(), Failure> {
    let response = ResumeResponse::decode(body).map_err(|e| (e.into(), Alert::ProtocolError))?;
    let device_ephemeral =
        group::decode_compressed(&response.ephemeral).map_err(|_| INVALID_POINT)?;
    let shared =
        zeroize::Zeroizing::new((ProjectivePoint::from(device_ephemeral) * **x).to_affine());
    let shared_x = zeroize::Zeroizing::new(<[u8; 32]>::from(shared.x()));
    let keys = ResumeKeys::derive(&bond.secret, &shared_x, request, &response.ephemeral);
    let expected = zeroize::Zeroizing::new(keys.device_confirmation());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &expected[..],
        &response.confirm[..],
    )) {
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
