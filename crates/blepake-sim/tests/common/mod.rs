//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a subset

use blepake_sim::{FaultPlan, Link, LinkConfig, LinkEvent, Op, Role};

pub fn link(config: LinkConfig) -> Link {
    Link::new(config, FaultPlan::new(), 0).expect("valid config")
}

pub fn faulty_link(plan: FaultPlan, seed: u64) -> Link {
    Link::new(LinkConfig::default(), plan, seed).expect("valid config")
}

/// An application message as a test checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Got {
    pub to: Role,
    pub op: Op,
    pub value: Vec<u8>,
    pub at_us: u64,
}

pub fn deliveries(events: &[LinkEvent]) -> Vec<Got> {
    events
        .iter()
        .filter_map(|event| match event {
            LinkEvent::Received {
                to,
                op,
                value,
                at_us,
                ..
            } => Some(Got {
                to: *to,
                op: *op,
                value: value.clone(),
                at_us: *at_us,
            }),
            _ => None,
        })
        .collect()
}

/// Runs `count` connection events and returns everything they produced.
pub fn run_events(link: &mut Link, count: usize) -> Vec<LinkEvent> {
    (0..count).flat_map(|_| link.run_event()).collect()
}

/// Index of the connection event a time falls in.
pub fn event_of(link: &Link, at_us: u64) -> u64 {
    at_us / link.config().interval_us
}
