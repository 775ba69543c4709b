//! The device's state machine fed a script of arbitrary bytes, genuine
//! host messages, time and disconnects, from four starting points: a fresh
//! link, after a genuine pairing request, after a genuine resume request,
//! and in an open session. It must never panic, and it must deliver only
//! messages the genuine host sent, in order.
#![no_main]

use blepake_fuzz::{Fuzzed, World, script};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&start, data)) = data.split_first() else { return };
    let mut world = World::new(start);
    for step in script(data) {
        world.play(Fuzzed::Device, step);
    }
});
