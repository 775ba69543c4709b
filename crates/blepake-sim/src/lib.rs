//! A deterministic simulated BLE link, for testing and measuring protocols
//! that run over GATT.
//!
//! A [`Link`] joins a central (GATT client) and a peripheral (GATT server) on
//! a virtual clock in µs. Applications queue [`Message`]s with
//! [`Link::send`]; each [`Link::run_event`] runs one connection event and
//! returns the [`LinkEvent`]s the applications must handle. The link models
//! connection events, LL fragmentation, the one-outstanding-request rule of
//! ATT, long reads and writes, peripheral latency, the supervision timeout and
//! air time, and counts every byte ([`Stats`], [`TimelineEntry`]). A seeded
//! [`FaultPlan`] injects link failures and attacks at chosen times or message
//! boundaries. The [`flows`] module replays the message flows of other
//! pairing protocols on the same link, for comparison.
//!
//! ```
//! use blepake_sim::{Link, LinkConfig, LinkEvent, FaultPlan, Message, Op, Role};
//!
//! let mut link = Link::new(LinkConfig::default(), FaultPlan::new(), 1).unwrap();
//! link.send(Role::Central, Message::write_command(b"hello")).unwrap();
//! let events = link.run_event();
//! assert!(matches!(
//!     &events[..],
//!     [LinkEvent::Received { to: Role::Peripheral, op: Op::WriteCommand, value, .. }] if value == b"hello"
//! ));
//! ```
//!
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod config;
pub mod driver;
mod fault;
pub mod flows;
mod link;
mod message;
mod stats;

pub use config::{
    ConfigError, LinkConfig, MAX_ATTRIBUTE_LEN, MAX_LL_CONTROL_LEN, MAX_SMP_LEN, Phy, T_IFS_US,
};
pub use fault::{Attack, DisconnectReason, Fault, FaultAction, FaultPlan, LinkFault, Trigger};
pub use link::{END_OF_TIME_US, Link, LinkEvent};
pub use message::{DEFAULT_HANDLE, Message, Op, PduKind, Role, SendError};
pub use stats::{DirectionStats, Mark, Stats, TimelineEntry};
