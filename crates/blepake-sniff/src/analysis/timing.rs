//! Reconstructs connection event counters and packet directions for sniffers that
//! record neither (LINKTYPE 251, 256 and Ubertooth's PPI), from packet times and
//! the connection interval.
//!
//! Every connection event starts with the central's packet at the anchor point,
//! the two sides then alternate, and the event ends well before the next anchor.
//! So a packet less than three quarters of an interval after an anchor belongs to
//! that anchor's event, the first packet of an event is the central's and each
//! later one answers the one before. Packets received with a bad CRC still take
//! their turn. Where the sniffer missed a packet altogether, PDUs that only one
//! side may send correct the guess (see [`EventClock::correct`]).

use crate::codec::frame::Direction;

/// Connection timing in microseconds.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    time_us: i64,
    /// Event counter, not wrapped at 16 bits.
    event: u64,
}

#[derive(Debug, Clone, Copy)]
struct PendingUpdate {
    instant: u16,
    interval_us: i64,
    win_offset_us: i64,
}

#[derive(Debug, Clone)]
pub struct EventClock {
    interval_us: Option<i64>,
    anchor: Option<Anchor>,
    /// Time and event of the last packet, and who sent it.
    last: Option<(i64, u64, Direction)>,
    /// Earliest time of the first anchor after CONNECT_IND.
    first_anchor_us: Option<i64>,
    pending: Option<PendingUpdate>,
}

impl EventClock {
    /// A clock for a connection whose CONNECT_IND or AUX_CONNECT_REQ ended at
    /// `connect_end_us` (None when the capture joined a connection already
    /// running), its transmit window opening `window_delay_us` plus the window
    /// offset later.
    pub fn new(
        interval_units: Option<u16>,
        connect_end_us: Option<i64>,
        window_delay_us: i64,
        win_offset_units: u16,
    ) -> Self {
        EventClock {
            interval_us: interval_units.map(|i| i64::from(i) * 1250),
            anchor: None,
            last: None,
            first_anchor_us: connect_end_us
                .map(|t| t + window_delay_us + i64::from(win_offset_units) * 1250),
            pending: None,
        }
    }

    /// A connection update takes effect at `instant`. One whose instant has
    /// already passed cannot take effect, and the clock keeps the old interval.
    pub fn schedule_update(&mut self, instant: u16, interval_units: u16, win_offset_units: u16) {
        if let Some(current) = self.current_event()
            && instant.wrapping_sub(current) >= 32767
        {
            return;
        }
        self.pending = Some(PendingUpdate {
            instant,
            interval_us: i64::from(interval_units) * 1250,
            win_offset_us: i64::from(win_offset_units) * 1250,
        });
    }

    /// The event counter of the last packet observed.
    pub fn current_event(&self) -> Option<u16> {
        self.last.map(|(_, event, _)| event as u16)
    }

    /// Places a packet: returns its event counter (when the interval is known) and
    /// direction. `known_*` is what the sniffer itself reported.
    pub fn observe(
        &mut self,
        time_us: i64,
        known_direction: Option<Direction>,
        known_event: Option<u16>,
    ) -> (Option<u16>, Direction) {
        let Some(interval) = self.interval_us.filter(|&i| i > 0) else {
            return (known_event, self.direction_by_gap(time_us, known_direction));
        };
        let event = match (known_event, self.anchor) {
            (Some(event), _) => self.unwrap_event(event),
            (None, None) => {
                let since_first = self.first_anchor_us.map_or(0, |t| time_us - t);
                (since_first + interval / 4).max(0) as u64 / interval as u64
            }
            (None, Some(anchor)) => self.event_after(anchor, interval, time_us),
        };
        let same_event = self
            .last
            .is_some_and(|(_, last_event, _)| last_event == event);
        let direction = known_direction.unwrap_or(match self.last {
            Some((_, _, last_dir)) if same_event => last_dir.reverse(),
            _ => Direction::CentralToPeripheral,
        });
        if (!same_event && direction == Direction::CentralToPeripheral) || self.anchor.is_none() {
            self.anchor = Some(Anchor { time_us, event });
        }
        self.last = Some((time_us, event, direction));
        (Some(event as u16), direction)
    }

    fn event_after(&mut self, anchor: Anchor, interval: i64, time_us: i64) -> u64 {
        let elapsed = time_us - anchor.time_us;
        let event = anchor.event + ((elapsed + interval / 4).max(0) / interval) as u64;
        let Some(update) = self.pending else {
            return event;
        };
        let instant = self
            .unwrap_near(update.instant, anchor.event)
            .max(anchor.event);
        if event < instant {
            return event;
        }
        // From the instant on, events follow the new interval after the window offset.
        let instant_time =
            anchor.time_us + (instant - anchor.event) as i64 * interval + update.win_offset_us;
        self.interval_us = Some(update.interval_us);
        self.pending = None;
        self.anchor = Some(Anchor {
            time_us: instant_time,
            event: instant,
        });
        let since = time_us - instant_time;
        instant + ((since + update.interval_us / 4).max(0) / update.interval_us.max(1)) as u64
    }

    /// The last packet was in fact sent in `direction` (its content says so): the
    /// packets after it alternate from there, and a central packet re-anchors the event.
    pub fn correct(&mut self, direction: Direction) {
        if let Some((time_us, event, last_dir)) = self.last.as_mut() {
            if *last_dir != direction && direction == Direction::CentralToPeripheral {
                self.anchor = Some(Anchor {
                    time_us: *time_us,
                    event: *event,
                });
            }
            *last_dir = direction;
        }
    }

    /// A 16-bit counter placed next to the unwrapped counter `near`.
    fn unwrap_near(&self, counter: u16, near: u64) -> u64 {
        let base = near & !0xffff;
        let candidate = base | u64::from(counter);
        if candidate + 0x8000 < near {
            candidate + 0x1_0000
        } else if candidate > near + 0x8000 && candidate >= 0x1_0000 {
            candidate - 0x1_0000
        } else {
            candidate
        }
    }

    fn unwrap_event(&self, event: u16) -> u64 {
        self.last.map_or(u64::from(event), |(_, last, _)| {
            self.unwrap_near(event, last)
        })
    }

    /// Without an interval: a pause longer than 3 ms starts a new event.
    fn direction_by_gap(&mut self, time_us: i64, known: Option<Direction>) -> Direction {
        let direction = known.unwrap_or(match self.last {
            Some((last_time, _, last_dir)) if time_us - last_time < 3_000 => last_dir.reverse(),
            _ => Direction::CentralToPeripheral,
        });
        self.last = Some((time_us, 0, direction));
        direction
    }
}
