//! A power cut, a failed write or a torn write at any point never gives a
//! guesser an extra guess.

mod common;

use blepake::{Connection, DevicePolicy, Error, Instant, MemoryStorage, WriteFault};
use common::*;

const T0: Instant = Instant::from_millis(0);
const MAX_FAILURES: u16 = 4;

fn policy() -> DevicePolicy {
    DevicePolicy {
        max_failures: MAX_FAILURES,
        free_attempts: MAX_FAILURES,
        ..DevicePolicy::default()
    }
}

/// Whether the device answered with a PairResponse: the one message that
/// lets a guesser test a code (its header is 0x20 0x41).
fn answered(pipe: &Pipe) -> bool {
    pipe.device_seen
        .sent_values
        .first()
        .is_some_and(|value| value.starts_with(&[0x20, 0x41]))
}

/// A guesser's campaign of `rounds` wrong-code pairings, with the storage
/// faulting as `storage` was set up to. After a faulted write the power
/// fails: the device reboots from what storage holds. Returns the guesses
/// the campaign got and the device at the end.
fn campaign(mut storage: MemoryStorage, rounds: u64) -> (u16, TestDevice) {
    let mut device: TestDevice = device(policy(), storage.clone(), T0);
    let mut guesses = 0;
    for round in 0..rounds {
        let faulted_before = device.storage_mut().faulted();
        let pipe = pair(&mut device, 9, round, T0);
        guesses += u16::from(answered(&pipe));
        storage = device.storage_mut().clone();
        if storage.faulted() && !faulted_before {
            device = common::device(policy(), storage.clone(), T0);
        }
    }
    (guesses, device)
}

#[test]
fn no_fault_gives_exactly_the_limit() {
    let (guesses, mut device) = campaign(MemoryStorage::default(), 10);
    assert_eq!(guesses, MAX_FAILURES);
    assert!(device.attempts().locked);
    // And a reboot remembers.
    let storage = device.storage_mut().clone();
    let rebooted: TestDevice = common::device(policy(), storage, T0);
    assert!(rebooted.attempts().locked);
}

#[test]
fn a_fault_at_any_write_never_yields_an_extra_guess() {
    // Failed writes, and writes torn as erase-then-program storage tears
    // them (emptied, or a prefix of the new value kept), at every write of
    // the campaign; the counter value is 11 bytes long.
    let faults = [WriteFault::Fail]
        .into_iter()
        .chain((0..=11).map(WriteFault::Tear));
    let mut cases = 0;
    for fault in faults {
        for at in 0..usize::from(MAX_FAILURES) + 2 {
            let storage = MemoryStorage::faulting(at, fault);
            let (guesses, device) = campaign(storage, 12);
            assert!(
                guesses <= MAX_FAILURES,
                "{fault:?} at write {at}: {guesses} guesses"
            );
            assert!(device.attempts().locked, "{fault:?} at write {at}");
            cases += 1;
        }
    }
    assert_eq!(cases, 13 * 6);
}

#[test]
fn erase_then_program_tears_at_every_counting_write_never_reset_the_count() {
    // The attack on a single-copy counter: cut the power after the erase of
    // each counting write, over and over. Every cut costs the guesser its
    // guess, and the count never falls back to zero.
    let mut storage = MemoryStorage::default();
    let mut guesses = 0;
    for round in 0..50 {
        let mut device: TestDevice = device(policy(), storage.clone(), T0);
        let cut = round % 2 == 1;
        if cut {
            *device.storage_mut() = storage.clone().with_fault(0, WriteFault::Tear(0));
        }
        let pipe = pair(&mut device, 9, round, T0);
        guesses += u16::from(answered(&pipe));
        storage = device.storage_mut().clone();
    }
    assert!(guesses <= MAX_FAILURES, "{guesses} answered guesses");
    let device: TestDevice = device(policy(), storage, T0);
    assert!(device.attempts().locked);
}

#[test]
fn a_torn_reset_after_success_fails_closed() {
    // Write 0 counts the attempt; write 1 clears it after the right code.
    // Tear the clearing write (erase-then-program, 1 to 10 bytes kept) and
    // cut the power: the count reads as it was, raised.
    for keep in 0..11 {
        let storage = MemoryStorage::faulting(1, WriteFault::Tear(keep));
        let mut device: TestDevice = device(policy(), storage, T0);
        let pipe = pair(&mut device, 1, 1, T0);
        assert!(pipe.host.is_open(), "the pairing itself succeeded");
        let storage = device.storage_mut().clone();
        let mut rebooted: TestDevice = common::device(policy(), storage, T0);
        let status = rebooted.attempts();
        assert_eq!(status.failures, 1, "keep {keep}: {status:?}");
        rebooted.open_pairing_window(T0).unwrap();
        assert!(pair(&mut rebooted, 1, 2, T0).host.is_open());
    }
}

#[test]
fn a_failed_count_write_sends_nothing_a_guesser_can_use() {
    let storage = MemoryStorage::faulting(0, WriteFault::Fail);
    let mut device: TestDevice = device(policy(), storage, T0);
    let pipe = pair(&mut device, 9, 1, T0);
    assert!(!answered(&pipe));
    assert_eq!(pipe.device_seen.failure(), Some((Error::Internal, false)));
    assert_eq!(pipe.host_seen.failure(), Some((Error::Internal, true)));
    assert!(
        device.storage_error().is_some(),
        "the storage's own error is kept"
    );
    // The device keeps the count raised: storage may hold either value.
    assert_eq!(device.attempts().failures, 1);
}
