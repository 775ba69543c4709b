//! The device's bond table: one bond per slot `Bond(0)` to
//! `Bond(max_bonds - 1)`, each naming its host (`PROTOCOL.md` §10).

use zeroize::Zeroizing;

use crate::id::HostId;
use crate::storage::{self, MAX_VALUE_LEN, Slot, Storage, Stored};

/// The most bonds a device keeps (its table's slots).
pub const MAX_BONDS: usize = 16;

const FORMAT: u8 = 2;
/// `format (1) | host_id (8) | sequence (4, LE) | bond_secret (32)`.
const PAYLOAD_LEN: usize = 45;

/// An intact bond as stored.
struct Entry {
    host_id: HostId,
    /// Pairings are numbered, so that a full table evicts its oldest bond.
    sequence: u32,
    secret: Zeroizing<[u8; 32]>,
}

/// The bond in slot `index`, if intact; empty, damaged and unreadable
/// slots read as holding none (a damaged bond is absent, never wrong).
fn read_entry<S: Storage>(storage: &mut S, index: u8) -> Option<Entry> {
    let Ok(Stored::Intact(payload)) =
        storage::read_value::<S, PAYLOAD_LEN>(storage, Slot::Bond(index))
    else {
        return None;
    };
    let payload = Zeroizing::new(payload);
    if payload[0] != FORMAT {
        return None;
    }
    let mut host_id = [0; HostId::LEN];
    host_id.copy_from_slice(&payload[1..9]);
    let mut sequence = [0; 4];
    sequence.copy_from_slice(&payload[9..13]);
    let mut secret = Zeroizing::new([0; 32]);
    secret.copy_from_slice(&payload[13..]);
    Some(Entry {
        host_id: HostId(host_id),
        sequence: u32::from_le_bytes(sequence),
        secret,
    })
}

/// The table's slots under a policy.
fn slots(max_bonds: u8) -> core::ops::Range<u8> {
    0..max_bonds.min(MAX_BONDS as u8)
}

/// The secret of the bond with `host_id`.
pub(super) fn find<S: Storage>(
    storage: &mut S,
    max_bonds: u8,
    host_id: HostId,
) -> Option<Zeroizing<[u8; 32]>> {
    slots(max_bonds)
        .filter_map(|index| read_entry(storage, index))
        .find(|entry| entry.host_id == host_id)
        .map(|entry| entry.secret)
}

/// Stores a bond: over the host's old bond if there is one, else in a free
/// slot, else over the oldest bond.
pub(super) fn store<S: Storage>(
    storage: &mut S,
    max_bonds: u8,
    host_id: HostId,
    secret: &[u8; 32],
) -> Result<(), S::Error> {
    let mut same_host = None;
    let mut free = None;
    let mut oldest: Option<(u8, u32)> = None;
    let mut newest_sequence = 0;
    for index in slots(max_bonds) {
        match read_entry(storage, index) {
            Some(entry) => {
                newest_sequence = newest_sequence.max(entry.sequence);
                if entry.host_id == host_id {
                    same_host = Some(index);
                }
                if oldest.is_none_or(|(_, sequence)| entry.sequence < sequence) {
                    oldest = Some((index, entry.sequence));
                }
            }
            None => {
                free.get_or_insert(index);
            }
        }
    }
    let Some(index) = same_host.or(free).or(oldest.map(|(index, _)| index)) else {
        return Ok(());
    };
    let mut payload = Zeroizing::new([0; PAYLOAD_LEN]);
    payload[0] = FORMAT;
    payload[1..9].copy_from_slice(&host_id.0);
    payload[9..13].copy_from_slice(&newest_sequence.wrapping_add(1).to_le_bytes());
    payload[13..].copy_from_slice(secret);
    let mut value = Zeroizing::new([0; MAX_VALUE_LEN]);
    let len = storage::seal_value(&payload[..], &mut value);
    storage.write(Slot::Bond(index), &value[..len])
}

/// Deletes the bond with `host_id`; returns whether there was one.
pub(super) fn revoke<S: Storage>(
    storage: &mut S,
    max_bonds: u8,
    host_id: HostId,
) -> Result<bool, S::Error> {
    let mut found = false;
    for index in slots(max_bonds) {
        if read_entry(storage, index).is_some_and(|entry| entry.host_id == host_id) {
            storage.erase(Slot::Bond(index))?;
            found = true;
        }
    }
    Ok(found)
}

/// Deletes every bond, in every slot of the largest table.
pub(super) fn revoke_all<S: Storage>(storage: &mut S) -> Result<(), S::Error> {
    for index in slots(MAX_BONDS as u8) {
        storage.erase(Slot::Bond(index))?;
    }
    Ok(())
}

/// The hosts a device holds bonds with, oldest pairing first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bonds {
    hosts: [Option<(u32, HostId)>; MAX_BONDS],
}

impl Bonds {
    pub(super) fn read<S: Storage>(storage: &mut S, max_bonds: u8) -> Self {
        let mut bonds = Self::default();
        for (place, entry) in bonds
            .hosts
            .iter_mut()
            .zip(slots(max_bonds).map(|index| read_entry(storage, index)))
        {
            *place = entry.map(|entry| (entry.sequence, entry.host_id));
        }
        bonds
            .hosts
            .sort_unstable_by_key(|host| host.map_or(u32::MAX, |(sequence, _)| sequence));
        bonds
    }

    /// The hosts, oldest pairing first.
    pub fn iter(&self) -> impl Iterator<Item = HostId> + '_ {
        self.hosts.iter().flatten().map(|&(_, host_id)| host_id)
    }

    /// How many bonds there are.
    pub fn len(&self) -> usize {
        self.hosts.iter().flatten().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    fn host(n: u8) -> HostId {
        HostId([n; 8])
    }

    #[test]
    fn a_host_that_pairs_again_replaces_its_bond() {
        let mut storage = MemoryStorage::default();
        store(&mut storage, 4, host(1), &[1; 32]).unwrap();
        store(&mut storage, 4, host(2), &[2; 32]).unwrap();
        store(&mut storage, 4, host(1), &[3; 32]).unwrap();
        assert_eq!(find(&mut storage, 4, host(1)).as_deref(), Some(&[3; 32]));
        let bonds = Bonds::read(&mut storage, 4);
        assert_eq!(
            bonds.iter().collect::<std::vec::Vec<_>>(),
            [host(2), host(1)]
        );
    }

    #[test]
    fn a_full_table_evicts_its_oldest_bond() {
        let mut storage = MemoryStorage::default();
        for n in 1..=3 {
            store(&mut storage, 3, host(n), &[n; 32]).unwrap();
        }
        store(&mut storage, 3, host(9), &[9; 32]).unwrap();
        assert!(find(&mut storage, 3, host(1)).is_none());
        for n in [2, 3, 9] {
            assert!(find(&mut storage, 3, host(n)).is_some(), "host {n}");
        }
        assert_eq!(Bonds::read(&mut storage, 3).len(), 3);
    }

    #[test]
    fn revoking_one_or_all() {
        let mut storage = MemoryStorage::default();
        for n in 1..=3 {
            store(&mut storage, 8, host(n), &[n; 32]).unwrap();
        }
        assert!(revoke(&mut storage, 8, host(2)).unwrap());
        assert!(!revoke(&mut storage, 8, host(2)).unwrap());
        assert_eq!(Bonds::read(&mut storage, 8).len(), 2);
        revoke_all(&mut storage).unwrap();
        assert!(Bonds::read(&mut storage, 8).is_empty());
    }

    #[test]
    fn a_damaged_bond_reads_as_absent_and_its_slot_as_free() {
        let mut storage = MemoryStorage::default();
        store(&mut storage, 2, host(1), &[1; 32]).unwrap();
        storage.write(Slot::Bond(0), &[0xee; 49]).unwrap();
        assert!(find(&mut storage, 2, host(1)).is_none());
        store(&mut storage, 2, host(2), &[2; 32]).unwrap();
        assert!(
            storage.value(Slot::Bond(1)).is_none(),
            "the damaged slot was reused"
        );
    }
}
