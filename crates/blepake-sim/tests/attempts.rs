//! A power cut, a failed write or a torn write at any point never gives a
//! guesser an extra guess.

mod pipe;

use blepake::{DevicePolicy, Instant};
use blepake_sim::storage::WriteFault;
use pipe::*;

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
    let mut device = device(policy(), storage.clone(), T0);
    let mut guesses = 0;
    for round in 0..rounds {
        let faulted_before = device.storage_mut().faulted();
        let pipe = pair(&mut device, 9, round, T0);
        guesses += u16::from(answered(&pipe));
        storage = device.storage_mut().clone();
        if storage.faulted() && !faulted_before {
            device = pipe::device(policy(), storage.clone(), T0);
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
    assert!(pipe::device(policy(), storage, T0).attempts().locked);
}

#[test]
fn a_fault_at_any_write_never_yields_an_extra_guess() {
    let faults = [WriteFault::Fail]
        .into_iter()
        .chain((0..=7).map(WriteFault::Tear));
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
    assert_eq!(cases, 9 * 6);
}

#[test]
fn a_torn_reset_after_success_fails_closed() {
    // Write 0 counts the attempt; write 1 clears it after the right code.
    // Tear the clearing write and cut the power.
    for keep in 0..7 {
        let storage = MemoryStorage::faulting(1, WriteFault::Tear(keep));
        let mut device = device(policy(), storage, T0);
        let pipe = pair(&mut device, 1, 1, T0);
        assert!(pipe.host.is_open(), "the pairing itself succeeded");
        let storage = device.storage_mut().clone();
        let mut rebooted = pipe::device(policy(), storage, T0);
        let status = rebooted.attempts();
        // A torn value never reads back: the damage reads as exhausted.
        assert!(status.locked, "keep {keep}: {status:?}");
        rebooted.open_pairing_window().unwrap();
        assert!(pair(&mut rebooted, 1, 2, T0).host.is_open());
    }
}

#[test]
fn a_failed_count_write_sends_nothing_a_guesser_can_use() {
    let storage = MemoryStorage::faulting(0, WriteFault::Fail);
    let mut device = device(policy(), storage, T0);
    let pipe = pair(&mut device, 9, 1, T0);
    assert!(!answered(&pipe));
    assert_eq!(pipe.device_seen.failure(), Some(blepake::Error::Storage));
    assert_eq!(
        pipe.host_seen.failure(),
        Some(blepake::Error::Rejected(blepake::Alert::Internal))
    );
    // The device keeps the count raised: storage may hold either value.
    assert_eq!(device.attempts().failures, 1);
}
