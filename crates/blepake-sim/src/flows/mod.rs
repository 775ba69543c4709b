//! Scripted message flows, replayed on a simulated link to compare pairing
//! protocols on equal terms.
//!
//! A [`Flow`] lists messages with their direction, operation and size; each
//! message waits until the earlier one it depends on has been delivered, and
//! is then queued by the side that sends it (for a read, by the central, which
//! asks; the peripheral answers at once). [`run_flow`] drives a fresh
//! [`Link`] through the public API exactly as an application would, so a
//! driver sending real bytes over the same [`LinkConfig`] gets comparable
//! figures. [`models`] holds flows of well-known protocols.

use std::collections::VecDeque;
use std::fmt;

use crate::{
    ConfigError, DisconnectReason, FaultPlan, Link, LinkConfig, LinkEvent, Message, Op, Role,
    SendError, Stats, TimelineEntry,
};

pub mod models;

/// Virtual time after which [`run_flow`] gives up on a flow that cannot finish.
const GIVE_UP_US: u64 = 3_600_000_000;

/// One message of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the message is, for timelines and reports.
    pub label: String,
    /// The side whose value it is. For [`Op::Read`] that is the peripheral,
    /// although the central asks for it.
    pub from: Role,
    pub op: Op,
    /// Value bytes (ATT value, SMP PDU or LL control PDU).
    pub size: usize,
    /// The earlier step whose delivery this one waits for; `None`: ready at
    /// connection.
    pub after: Option<usize>,
}

impl Step {
    /// The side that queues the message.
    pub fn initiator(&self) -> Role {
        match self.op {
            Op::Read => Role::Central,
            _ => self.from,
        }
    }
}

/// A named sequence of messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Flow {
    pub fn new(name: &str) -> Flow {
        Flow {
            name: name.to_owned(),
            steps: Vec::new(),
        }
    }

    /// Appends a message that waits for the one before it (strict turn
    /// taking) and returns its index.
    pub fn then(&mut self, from: Role, op: Op, size: usize, label: &str) -> usize {
        let after = self.steps.len().checked_sub(1);
        self.steps.push(Step {
            label: label.to_owned(),
            from,
            op,
            size,
            after,
        });
        self.steps.len() - 1
    }

    /// Runs of consecutive messages in the same direction.
    pub fn turns(&self) -> usize {
        let changes = self
            .steps
            .windows(2)
            .filter(|pair| pair[0].from != pair[1].from)
            .count();
        if self.steps.is_empty() {
            0
        } else {
            changes + 1
        }
    }

    /// Value bytes of all messages together.
    pub fn value_bytes(&self) -> usize {
        self.steps.iter().map(|step| step.size).sum()
    }
}

/// What a flow cost on the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowReport {
    pub name: String,
    /// From the start of the connection to the delivery of the last message.
    pub time_us: u64,
    /// Messages in the flow.
    pub steps: usize,
    /// Runs of consecutive messages in the same direction.
    pub turns: usize,
    /// Everything sent until the end of the connection event that delivered
    /// the last message (which may add an acknowledging empty PDU).
    pub stats: Stats,
    pub timeline: Vec<TimelineEntry>,
}

/// Why [`run_flow`] could not run a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowError {
    Config(ConfigError),
    /// The step waits for itself or for a later or missing step.
    BadDependency {
        step: usize,
    },
    /// The link refused the step's message.
    Send {
        step: usize,
        error: SendError,
    },
    /// Something arrived that no step sent.
    Unexpected {
        event: LinkEvent,
    },
    Disconnected {
        reason: DisconnectReason,
    },
    /// The flow had not finished after an hour of virtual time.
    GaveUp,
}

impl From<ConfigError> for FlowError {
    fn from(error: ConfigError) -> Self {
        FlowError::Config(error)
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Config(error) => write!(f, "invalid link configuration: {error}"),
            FlowError::BadDependency { step } => write!(
                f,
                "step {step} waits for a step that does not come before it"
            ),
            FlowError::Send { step, error } => write!(f, "step {step}: {error}"),
            FlowError::Unexpected { event } => write!(f, "no step matches {event:?}"),
            FlowError::Disconnected { reason } => write!(f, "the link went down: {reason}"),
            FlowError::GaveUp => f.write_str("the flow had not finished after an hour"),
        }
    }
}

impl std::error::Error for FlowError {}

/// The value a step sends: its index repeated, so timelines tell steps apart.
fn step_value(index: usize, step: &Step) -> Vec<u8> {
    vec![index as u8; step.size]
}

fn step_message(index: usize, step: &Step) -> Message {
    let value = step_value(index, step);
    match step.op {
        Op::WriteRequest => Message::write_request(&value),
        Op::WriteCommand => Message::write_command(&value),
        Op::Notification => Message::notification(&value),
        Op::Indication => Message::indication(&value),
        Op::Read => Message::read(),
        Op::Smp => Message::smp(&value),
        Op::LlControl => Message::ll_control(&value),
    }
}

/// Runs `flow` on a fresh link with `config` and no faults, from the moment
/// of connection until its last message is delivered.
pub fn run_flow(config: &LinkConfig, flow: &Flow) -> Result<FlowReport, FlowError> {
    let steps = &flow.steps;
    if let Some(step) = steps
        .iter()
        .enumerate()
        .position(|(i, step)| step.after.is_some_and(|after| after >= i))
    {
        return Err(FlowError::BadDependency { step });
    }
    for (i, step) in steps.iter().enumerate() {
        if step.op.sender().is_some_and(|sender| sender != step.from) {
            return Err(FlowError::Send {
                step: i,
                error: SendError::WrongRole { role: step.from },
            });
        }
        // Checked before any value of this size is made.
        let max = step.op.max_len(config);
        if step.size > max {
            return Err(FlowError::Send {
                step: i,
                error: SendError::BadLength {
                    len: step.size,
                    min: 0,
                    max,
                },
            });
        }
    }
    let mut link = Link::new(config.clone(), FaultPlan::new(), 0)?;
    let mut delivered_at: Vec<Option<u64>> = vec![None; steps.len()];
    let mut queued = vec![false; steps.len()];
    // Steps on their way, by receiver, in the order they were queued.
    let mut in_flight: [VecDeque<usize>; 2] = Default::default();
    // Reads the peripheral must answer, in order.
    let mut reads: VecDeque<usize> = VecDeque::new();
    loop {
        for (i, step) in steps.iter().enumerate() {
            let ready_at = match step.after {
                _ if queued[i] => continue,
                None => 0,
                Some(after) => match delivered_at[after] {
                    Some(at) => at,
                    None => continue,
                },
            };
            link.send_at(step.initiator(), step_message(i, step), ready_at)
                .map_err(|error| FlowError::Send { step: i, error })?;
            queued[i] = true;
            in_flight[step.from.peer().index()].push_back(i);
            if step.op == Op::Read {
                reads.push_back(i);
            }
        }
        if delivered_at.iter().all(Option::is_some) {
            break;
        }
        if link.now_us() > GIVE_UP_US {
            return Err(FlowError::GaveUp);
        }
        for event in link.run_event() {
            match &event {
                LinkEvent::Received { to, op, at_us, .. } => {
                    let waiting = &mut in_flight[to.index()];
                    let Some(i) = waiting
                        .iter()
                        .position(|&i| steps[i].op == *op)
                        .and_then(|pos| waiting.remove(pos))
                    else {
                        return Err(FlowError::Unexpected { event });
                    };
                    delivered_at[i] = Some(*at_us);
                    reads.retain(|&read| read != i);
                }
                LinkEvent::ReadRequested { .. } => {
                    let Some(&i) = reads.front() else {
                        return Err(FlowError::Unexpected { event });
                    };
                    link.send(
                        Role::Peripheral,
                        Message::read_response(&step_value(i, &steps[i])),
                    )
                    .map_err(|error| FlowError::Send { step: i, error })?;
                }
                LinkEvent::Disconnected { reason, .. } => {
                    return Err(FlowError::Disconnected { reason: *reason });
                }
                LinkEvent::WriteAcknowledged { .. }
                | LinkEvent::IndicationConfirmed { .. }
                | LinkEvent::FaultApplied { .. } => {}
            }
        }
    }
    Ok(FlowReport {
        name: flow.name.clone(),
        time_us: delivered_at.iter().flatten().copied().max().unwrap_or(0),
        steps: steps.len(),
        turns: flow.turns(),
        stats: *link.stats(),
        timeline: link.timeline().to_vec(),
    })
}
