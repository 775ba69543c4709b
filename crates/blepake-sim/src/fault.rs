//! Faults a test injects into a link: link failures and attacks.

use std::fmt;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::message::Role;

/// An HCI disconnect reason (Core v5.4 Vol 1 Part F, error codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DisconnectReason(pub u8);

impl DisconnectReason {
    /// 0x08: the supervision timeout expired without a packet from the peer.
    pub const CONNECTION_TIMEOUT: DisconnectReason = DisconnectReason(0x08);
    /// 0x13: the peer's host ended the connection.
    pub const REMOTE_USER_TERMINATED: DisconnectReason = DisconnectReason(0x13);
    /// 0x3E: no packet arrived in the first six connection events.
    pub const FAILED_TO_ESTABLISH: DisconnectReason = DisconnectReason(0x3E);
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            DisconnectReason::CONNECTION_TIMEOUT => "connection timeout",
            DisconnectReason::REMOTE_USER_TERMINATED => "remote user terminated connection",
            DisconnectReason::FAILED_TO_ESTABLISH => "connection failed to be established",
            _ => "other",
        };
        write!(f, "0x{:02X} ({name})", self.0)
    }
}

/// When a fault strikes.
///
/// Deliveries are counted over both directions: the n-th application message
/// any application receives (a dropped one counts; injected ones do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// At the first connection-event boundary at or after this time (µs).
    At { us: u64 },
    /// Just before the n-th (1-based) application message would be delivered.
    BeforeDelivery(u64),
    /// Just after the n-th application message is delivered (0: at the start).
    AfterDelivery(u64),
}

/// Failures of the radio link itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkFault {
    /// The link drops; both applications see `Disconnected { reason }`.
    Disconnect { reason: DisconnectReason },
    /// No packet gets through for this long. Data waits and is retransmitted
    /// afterwards; once nothing has arrived for the supervision timeout the
    /// link drops with reason 0x08.
    Stall { duration_us: u64 },
}

/// What an attacker on the link does to application messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// `len` random bytes arrive at `to` as if its peer had sent them, with the
    /// operation the peer last used towards `to` (a write command or a
    /// notification before any), cut to that operation's longest value.
    Garbage { to: Role, len: usize },
    /// A copy of an earlier delivered message arrives again at its receiver:
    /// the `message`-th delivered (1-based), or the latest when `None`. Waits
    /// until that message has been delivered.
    Replay { message: Option<u64> },
    /// `bits` distinct bits of the next delivered value flip (all of them if
    /// the value is shorter). Waits for a non-empty value.
    Tamper { bits: u32 },
    /// The next Write Command or Notification is lost, as when the receiver's
    /// buffer is full. Other operations are acknowledged end to end, so the
    /// attack waits for one of these two.
    Drop,
}

/// A fault: a link failure or an attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    Link(LinkFault),
    Attack(Attack),
}

impl From<LinkFault> for FaultAction {
    fn from(fault: LinkFault) -> Self {
        FaultAction::Link(fault)
    }
}

impl From<Attack> for FaultAction {
    fn from(attack: Attack) -> Self {
        FaultAction::Attack(attack)
    }
}

/// One planned fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub trigger: Trigger,
    pub action: FaultAction,
}

/// The faults a link will suffer, in the order they are checked.
///
/// Injected messages (garbage, replays) reach the application but get no
/// automatic response from its stack: the attacker absorbs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

impl FaultPlan {
    /// A plan without faults.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// This plan with one more fault.
    pub fn with(mut self, trigger: Trigger, action: impl Into<FaultAction>) -> FaultPlan {
        self.faults.push(Fault {
            trigger,
            action: action.into(),
        });
        self
    }

    /// The planned faults.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// One fault of a kind, at a message boundary and with parameters drawn from
    /// `seed`: before or after one of the first `messages` deliveries.
    /// Stalls last up to 8 s, so with the default 4 s supervision timeout
    /// about half of them drop the link.
    pub fn random(seed: u64, messages: u64) -> FaultPlan {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut below = |n: u64| rng.next_u64() % n.max(1);
        let n = 1 + below(messages);
        let trigger = if below(2) == 0 {
            Trigger::BeforeDelivery(n)
        } else {
            Trigger::AfterDelivery(n)
        };
        let to = if below(2) == 0 {
            Role::Central
        } else {
            Role::Peripheral
        };
        let action: FaultAction = match below(6) {
            0 => LinkFault::Disconnect {
                reason: DisconnectReason::REMOTE_USER_TERMINATED,
            }
            .into(),
            1 => LinkFault::Stall {
                duration_us: 1 + below(8_000_000),
            }
            .into(),
            2 => Attack::Garbage {
                to,
                len: 1 + below(64) as usize,
            }
            .into(),
            3 => Attack::Replay { message: None }.into(),
            4 => Attack::Tamper {
                bits: 1 + below(3) as u32,
            }
            .into(),
            _ => Attack::Drop.into(),
        };
        FaultPlan::new().with(trigger, action)
    }
}
