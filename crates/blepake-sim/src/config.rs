//! Link parameters: what the two controllers agreed on when they connected.

use std::fmt;

/// Inter frame space: the gap between two packets of a connection event (µs).
pub const T_IFS_US: u64 = 150;

/// Bytes of every data channel PDU besides its payload on the LE 1M PHY:
/// preamble 1, access address 4, header 2, CRC 3.
const PDU_OVERHEAD_1M: usize = 1 + 4 + 2 + 3;

/// Largest ATT attribute value (Core v5.4 Vol 3 Part F §3.2.9).
pub const MAX_ATTRIBUTE_LEN: usize = 512;

/// Largest SMP PDU: the LE Secure Connections SMP MTU (Core v5.4 Vol 3 Part H §3.2).
pub const MAX_SMP_LEN: usize = 65;

/// Largest LL control PDU payload, opcode included (Core v5.4 Vol 6 Part B §2.4.2).
pub const MAX_LL_CONTROL_LEN: usize = 27;

/// The physical layer the connection uses; it sets the air time of each byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phy {
    /// LE 1M: 1 Mbit/s, 1-byte preamble.
    Le1M,
    /// LE 2M: 2 Mbit/s, 2-byte preamble.
    Le2M,
}

impl Phy {
    fn us_per_byte(self) -> u64 {
        match self {
            Phy::Le1M => 8,
            Phy::Le2M => 4,
        }
    }

    fn overhead_bytes(self) -> usize {
        match self {
            Phy::Le1M => PDU_OVERHEAD_1M,
            Phy::Le2M => PDU_OVERHEAD_1M + 1,
        }
    }
}

/// Connection parameters of one simulated link.
///
/// The default is a common phone-to-device connection without Data Length
/// Extension: 30 ms interval, ATT MTU 23, 27-byte LL payloads, 4 packets per
/// side and event, no peripheral latency, 4 s supervision timeout, LE 1M.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Connection interval in µs: a multiple of 1250 from 7500 to 4 000 000.
    pub interval_us: u64,
    /// ATT MTU both sides use, 23..=517.
    pub att_mtu: u16,
    /// Largest LL data PDU payload, 27 (no Data Length Extension) to 251.
    pub ll_payload: u16,
    /// Largest number of data PDUs each side sends in one connection event.
    pub packets_per_event: u16,
    /// Connection events the peripheral may skip when it has nothing to send, 0..=499.
    pub peripheral_latency: u16,
    /// Time without any received packet after which the link is lost, in µs:
    /// a multiple of 10 ms from 100 ms to 32 s, more than
    /// `2 × (1 + peripheral_latency) × interval_us`.
    pub supervision_timeout_us: u64,
    /// Physical layer, for air time.
    pub phy: Phy,
    /// Messages each side may have accepted but not yet sent before
    /// [`Link::send`](crate::Link::send) answers [`SendError::QueueFull`](crate::SendError::QueueFull).
    pub queue_limit: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            interval_us: 30_000,
            att_mtu: 23,
            ll_payload: 27,
            packets_per_event: 4,
            peripheral_latency: 0,
            supervision_timeout_us: 4_000_000,
            phy: Phy::Le1M,
            queue_limit: 32,
        }
    }
}

impl LinkConfig {
    /// Checks every parameter against the range the Core specification allows.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check("interval_us", self.interval_us, 7_500, 4_000_000)?;
        if self.interval_us % 1_250 != 0 {
            return Err(ConfigError::NotMultiple {
                field: "interval_us",
                value: self.interval_us,
                unit: 1_250,
            });
        }
        check("att_mtu", self.att_mtu.into(), 23, 517)?;
        check("ll_payload", self.ll_payload.into(), 27, 251)?;
        check(
            "packets_per_event",
            self.packets_per_event.into(),
            1,
            u16::MAX.into(),
        )?;
        check("peripheral_latency", self.peripheral_latency.into(), 0, 499)?;
        check(
            "supervision_timeout_us",
            self.supervision_timeout_us,
            100_000,
            32_000_000,
        )?;
        if self.supervision_timeout_us % 10_000 != 0 {
            return Err(ConfigError::NotMultiple {
                field: "supervision_timeout_us",
                value: self.supervision_timeout_us,
                unit: 10_000,
            });
        }
        let shortest = 2 * (1 + u64::from(self.peripheral_latency)) * self.interval_us;
        if self.supervision_timeout_us <= shortest {
            return Err(ConfigError::TimeoutTooShort {
                timeout_us: self.supervision_timeout_us,
                min_exclusive_us: shortest,
            });
        }
        check("queue_limit", self.queue_limit as u64, 1, u32::MAX.into())?;
        Ok(())
    }

    /// Largest value of a Write Request, Write Command, Notification or
    /// Indication that fits one ATT PDU: MTU − 3.
    pub fn max_att_value(&self) -> usize {
        usize::from(self.att_mtu) - 3
    }

    /// Bytes on air of one data channel PDU with `payload` bytes.
    pub fn pdu_air_bytes(&self, payload: usize) -> u64 {
        (self.phy.overhead_bytes() + payload) as u64
    }

    /// Air time of one data channel PDU with `payload` bytes, in µs.
    pub fn pdu_air_time_us(&self, payload: usize) -> u64 {
        self.pdu_air_bytes(payload) * self.phy.us_per_byte()
    }
}

fn check(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// A [`LinkConfig`] parameter the Core specification does not allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The parameter lies outside `min..=max`.
    OutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    /// The parameter is not a multiple of the unit it is negotiated in.
    NotMultiple {
        field: &'static str,
        value: u64,
        unit: u64,
    },
    /// The supervision timeout must exceed `2 × (1 + latency) × interval`.
    TimeoutTooShort {
        timeout_us: u64,
        min_exclusive_us: u64,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
            } => {
                write!(f, "{field} = {value} is outside {min}..={max}")
            }
            ConfigError::NotMultiple { field, value, unit } => {
                write!(f, "{field} = {value} is not a multiple of {unit}")
            }
            ConfigError::TimeoutTooShort {
                timeout_us,
                min_exclusive_us,
            } => write!(
                f,
                "supervision timeout {timeout_us} µs must exceed 2 × (1 + latency) × interval = {min_exclusive_us} µs"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}
