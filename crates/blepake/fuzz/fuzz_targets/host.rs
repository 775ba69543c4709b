//! The host's state machine fed a script of arbitrary bytes, genuine
//! device messages, time and disconnects: pairing, resuming, or in an open
//! session. It must never panic, and it must deliver only messages the
//! genuine device sent, in order.
#![no_main]

use blepake_fuzz::{Fuzzed, World, script};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&start, data)) = data.split_first() else { return };
    let mut world = World::new(start);
    for step in script(data) {
        world.play(Fuzzed::Host, step);
    }
});
