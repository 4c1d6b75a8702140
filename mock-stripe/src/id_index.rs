//! Maps keyed by ids' hashes: the position index of every table ([`ShardedIndex`]) and the
//! global index of sessions a browser asks for ([`LockedIndex`]).
//!
//! A hash map that grows moves everything it holds into a table twice the size, all in one
//! insert. Under the account's lock (or, for the session index, a lock every account's
//! session create takes) that insert is a stall for every request waiting behind it, and it
//! grows with the data: 4 ms at 115,000 entries, 15 ms at 460,000, 30 ms at 920,000 and
//! 53 ms at 1.8 million on the benchmark's machine. A [`ShardedIndex`] splits into
//! [`SHARDS`] maps once it is large, so each growth moves a 64th of the entries; a
//! [`LockedIndex`] is [`SHARDS`] maps from the start, each under a lock of its own.
//!
//! Hand-written: the crates that resize incrementally are unmaintained or rebuild the whole
//! map API; this needs a handful of operations on `u64` keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A map keyed by ids' hashes, which are already well mixed: hashing them again is waste.
pub(crate) type IdIndex<V> = HashMap<u64, V, BuildHasherDefault<Prehashed>>;

/// The hasher of [`IdIndex`]: passes a `u64` key through.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; kept total for any other use.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// How many maps a large [`ShardedIndex`] is split into.
const SHARDS: usize = 64;

/// Entries at which a [`ShardedIndex`] splits: below it one map is smaller (a table of a
/// few objects needs no 64 maps) and its growth is short (under a millisecond).
pub(crate) const SPLIT_AT: usize = 16 * 1024;

/// An [`IdIndex`] that splits into [`SHARDS`] maps at [`SPLIT_AT`] entries; see the module
/// comment.
pub(crate) struct ShardedIndex<V> {
    /// One map, or [`SHARDS`] of them chosen by bits 32–37 of the hash. Not the top bits:
    /// the map keeps those in its control bytes, and keys that all share them would make
    /// every probe a false match. Not the low bits: they choose the bucket.
    shards: Vec<IdIndex<V>>,
    len: usize,
}

impl<V> Default for ShardedIndex<V> {
    fn default() -> Self {
        ShardedIndex {
            shards: vec![IdIndex::default()],
            len: 0,
        }
    }
}

/// The shard of `hash` among `count` (a power of two): bits 32 and up, for the reason
/// given at [`ShardedIndex::shards`].
fn shard_of(hash: u64, count: usize) -> usize {
    ((hash >> 32) as usize) & (count - 1)
}

impl<V> ShardedIndex<V> {
    fn shard_of(&self, hash: u64) -> usize {
        shard_of(hash, self.shards.len())
    }

    pub fn get(&self, hash: u64) -> Option<&V> {
        self.shards[self.shard_of(hash)].get(&hash)
    }

    pub fn get_mut(&mut self, hash: u64) -> Option<&mut V> {
        let shard = self.shard_of(hash);
        self.shards[shard].get_mut(&hash)
    }

    /// Sets the value of `hash`, returning the one it replaces.
    pub fn insert(&mut self, hash: u64, value: V) -> Option<V> {
        if self.len >= SPLIT_AT && self.shards.len() == 1 {
            self.split();
        }
        let shard = self.shard_of(hash);
        let old = self.shards[shard].insert(hash, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn clear(&mut self) {
        *self = ShardedIndex::default();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Moves the one map's entries into [`SHARDS`] maps, each with room for twice its share
    /// (so none grows again at once).
    fn split(&mut self) {
        let whole = std::mem::take(&mut self.shards[0]);
        let each = whole.len() / SHARDS * 2;
        self.shards = (0..SHARDS)
            .map(|_| IdIndex::with_capacity_and_hasher(each, Default::default()))
            .collect();
        for (hash, value) in whole {
            let shard = self.shard_of(hash);
            self.shards[shard].insert(hash, value);
        }
    }
}

/// An [`IdIndex`] many threads write at once: [`SHARDS`] maps, each under a lock of its
/// own, chosen by the hash. Why: every session create writes the global session index, and
/// with one lock over it all, two creates on two accounts waited for each other there
/// (a blocked worker thread sleeps in the kernel); creates over 50 keys ran at 0.95 of
/// creates over one key, which the account's own turn keeps from meeting there.
pub(crate) struct LockedIndex<V> {
    shards: Box<[Padded<RwLock<IdIndex<V>>>]>,
}

/// One shard on cache lines of its own, so that two threads writing neighbouring shards do
/// not take the line from each other (128 bytes: x86 fetches lines in pairs). Written out
/// because this one attribute is all that is needed of a crate such as crossbeam-utils.
#[repr(align(128))]
struct Padded<T>(T);

impl<V> Default for LockedIndex<V> {
    fn default() -> Self {
        LockedIndex {
            shards: (0..SHARDS).map(|_| Padded(RwLock::default())).collect(),
        }
    }
}

impl<V> LockedIndex<V> {
    fn shard(&self, hash: u64) -> &RwLock<IdIndex<V>> {
        &self.shards[shard_of(hash, SHARDS)].0
    }

    /// The shard holding `hash`, to read. A poisoned lock is recovered: every change is
    /// one map operation, which leaves the map whole.
    pub fn read(&self, hash: u64) -> RwLockReadGuard<'_, IdIndex<V>> {
        self.shard(hash).read().unwrap_or_else(|p| p.into_inner())
    }

    /// The shard holding `hash`, to change.
    pub fn write(&self, hash: u64) -> RwLockWriteGuard<'_, IdIndex<V>> {
        self.shard(hash).write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn finds_what_it_holds_before_and_after_splitting() {
        let hasher = std::collections::hash_map::RandomState::new();
        let mut index: ShardedIndex<u32> = ShardedIndex::default();
        let n = SPLIT_AT as u32 * 3;
        for i in 0..n {
            assert_eq!(index.insert(hasher.hash_one(i), i), None);
            if i == SPLIT_AT as u32 - 1 {
                assert_eq!(index.shards.len(), 1, "one map until {SPLIT_AT} entries");
            }
        }
        assert_eq!(index.shards.len(), SHARDS);
        assert_eq!(index.len(), n as usize);
        assert!(
            index.shards.iter().all(|s| s.len() < SPLIT_AT / 8),
            "entries spread over the shards"
        );
        for i in 0..n {
            assert_eq!(index.get(hasher.hash_one(i)), Some(&i), "{i}");
        }
        assert_eq!(index.get(hasher.hash_one(n)), None);

        let h = hasher.hash_one(7u32);
        assert_eq!(index.insert(h, 70), Some(7), "replacing keeps the count");
        *index.get_mut(h).unwrap() += 1;
        assert_eq!(index.get(h), Some(&71));
        assert_eq!(index.len(), n as usize);

        index.clear();
        assert_eq!((index.len(), index.shards.len()), (0, 1));
        assert_eq!(index.get(hasher.hash_one(1u32)), None);
    }

    #[test]
    fn a_locked_index_spreads_its_entries_and_finds_them_from_any_thread() {
        let hasher = std::collections::hash_map::RandomState::new();
        let index: LockedIndex<u32> = LockedIndex::default();
        let n = 4 * 16_000u32;
        std::thread::scope(|s| {
            for t in 0..4 {
                let (index, hasher) = (&index, &hasher);
                s.spawn(move || {
                    for i in (t * 16_000)..((t + 1) * 16_000) {
                        let h = hasher.hash_one(i);
                        assert_eq!(index.write(h).insert(h, i), None);
                    }
                });
            }
        });
        for i in 0..n {
            let h = hasher.hash_one(i);
            assert_eq!(index.read(h).get(&h), Some(&i), "{i}");
        }
        let sizes: Vec<usize> = index
            .shards
            .iter()
            .map(|s| s.0.read().unwrap().len())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), n as usize);
        // 1,000 a shard on average; a shard chosen badly would hold far more.
        assert!(sizes.iter().all(|&k| (700..1300).contains(&k)), "{sizes:?}");
        assert_eq!(std::mem::align_of::<Padded<RwLock<IdIndex<u32>>>>(), 128);
    }
}
