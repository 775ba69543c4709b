//! What went over the air: counters per direction and a timeline of PDUs.

use std::ops::Add;

use crate::message::{PduKind, Role};

/// Counters for what one side sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Upper-layer PDUs that arrived or were dropped by an attack: L2CAP SDUs
    /// (ATT and SMP PDUs) and LL control PDUs.
    pub sdus: u64,
    /// Application value bytes among them: write, notification, indication
    /// and read values, SMP and LL control PDUs. Stack responses count nothing.
    pub value_bytes: u64,
    /// Bytes of those PDUs with their ATT headers, without L2CAP headers.
    pub att_bytes: u64,
    /// LL data PDUs sent, retransmissions included, LL control PDUs included.
    pub data_pdus: u64,
    /// Empty LL PDUs sent (polls and acknowledgements).
    pub empty_pdus: u64,
    /// Every byte put on air: preamble, access address, LL header, L2CAP
    /// header, ATT header, value and CRC, for data and empty PDUs.
    pub air_bytes: u64,
}

impl Add for DirectionStats {
    type Output = DirectionStats;

    fn add(self, other: DirectionStats) -> DirectionStats {
        DirectionStats {
            sdus: self.sdus + other.sdus,
            value_bytes: self.value_bytes + other.value_bytes,
            att_bytes: self.att_bytes + other.att_bytes,
            data_pdus: self.data_pdus + other.data_pdus,
            empty_pdus: self.empty_pdus + other.empty_pdus,
            air_bytes: self.air_bytes + other.air_bytes,
        }
    }
}

/// Counters of a whole link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// What the central sent.
    pub central: DirectionStats,
    /// What the peripheral sent.
    pub peripheral: DirectionStats,
    /// Connection events that have started, idle and stalled ones included.
    pub connection_events: u64,
}

impl Stats {
    /// What `role` sent.
    pub fn sent_by(&self, role: Role) -> &DirectionStats {
        match role {
            Role::Central => &self.central,
            Role::Peripheral => &self.peripheral,
        }
    }

    pub(crate) fn sent_by_mut(&mut self, role: Role) -> &mut DirectionStats {
        match role {
            Role::Central => &mut self.central,
            Role::Peripheral => &mut self.peripheral,
        }
    }

    /// Both directions together.
    pub fn total(&self) -> DirectionStats {
        self.central + self.peripheral
    }
}

/// What an attacker did to a timeline entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    /// Lost before the application saw it.
    Dropped,
    /// Delivered with flipped bits.
    Tampered,
    /// Injected copy of an earlier message.
    Replayed,
    /// Injected random bytes.
    Garbage,
}

/// One upper-layer PDU, recorded when it arrived (or was injected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    /// When its last fragment arrived, µs since the connection started.
    pub at_us: u64,
    /// The side that sent it (for injected ones, the side it pretends to be).
    pub from: Role,
    pub kind: PduKind,
    pub handle: u16,
    /// PDU length with ATT header, without L2CAP header.
    pub att_len: usize,
    /// Value bytes in it.
    pub value_len: usize,
    /// LL PDUs it took (0 for injected ones, which cost no air time).
    pub ll_pdus: usize,
    pub mark: Option<Mark>,
}
