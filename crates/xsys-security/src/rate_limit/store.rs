//! Counters per client, split across shards so tokio's worker threads rarely wait on each other.
//!
//! Each key lives in one shard (chosen by its hash), behind that shard's own mutex; a hit locks
//! one shard for one map operation. Memory is bounded: a shard holds at most its share of
//! `max_keys`. When a new key finds its shard full, entries whose window has ended are dropped
//! first (they carry no information: a new window would start anyway); if none has, the eighth
//! of the shard whose windows end soonest is dropped. Those clients start a new window early,
//! which only ever lets them through sooner: under a flood of distinct keys the limiter keeps
//! working for everyone and memory stays flat, at the cost of precision for the oldest entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::key::ClientKey;

/// State kept per key, and when it stops mattering.
pub(crate) trait Entry: Copy {
    /// The time (ms since the epoch) from which this entry is the same as no entry.
    fn expires_at(&self) -> f64;
}

pub(crate) struct Shards<E> {
    shards: Box<[Mutex<HashMap<ClientKey, E>>]>,
    hasher: RandomState,
    per_shard: usize,
}

impl<E: Entry> Shards<E> {
    pub(crate) fn new(shards: usize, max_keys: usize) -> Self {
        let count = shards.clamp(1, 1024).next_power_of_two();
        let per_shard = max_keys.div_ceil(count).max(1);
        Self {
            shards: (0..count).map(|_| Mutex::new(HashMap::new())).collect(),
            // Random keys: clients choose their addresses, so they must not choose collisions.
            hasher: RandomState::new(),
            per_shard,
        }
    }

    fn shard(&self, key: &ClientKey) -> MutexGuard<'_, HashMap<ClientKey, E>> {
        let hash = self.hasher.hash_one(key);
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        // A panic while holding a shard cannot leave a counter half-written (plain stores).
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `update` on the key's entry (`None` if absent); it returns the entry to keep (or
    /// `None` to drop it) and a result.
    pub(crate) fn update<R>(
        &self,
        key: &ClientKey,
        now: f64,
        update: impl FnOnce(Option<E>) -> (Option<E>, R),
    ) -> R {
        let mut shard = self.shard(key);
        // One lookup for a key already counted (the common case), no clone of the key.
        if let Some(slot) = shard.get_mut(key) {
            let (keep, result) = update(Some(*slot));
            match keep {
                Some(entry) => *slot = entry,
                None => {
                    shard.remove(key);
                }
            }
            return result;
        }
        let (keep, result) = update(None);
        if let Some(entry) = keep {
            if shard.len() >= self.per_shard {
                make_room(&mut shard, now);
            }
            shard.insert(key.clone(), entry);
        }
        result
    }

    pub(crate) fn get(&self, key: &ClientKey) -> Option<E> {
        self.shard(key).get(key).copied()
    }

    pub(crate) fn remove(&self, key: &ClientKey) {
        self.shard(key).remove(key);
    }

    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            shard.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    /// Drops every entry that no longer matters; one shard locked at a time.
    pub(crate) fn sweep(&self, now: f64) -> usize {
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let before = shard.len();
            shard.retain(|_, e| e.expires_at() > now);
            dropped += before - shard.len();
        }
        dropped
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

/// Frees at least one slot in a full shard (see the module docs).
fn make_room<E: Entry>(shard: &mut HashMap<ClientKey, E>, now: f64) {
    let before = shard.len();
    shard.retain(|_, e| e.expires_at() > now);
    if shard.len() < before {
        return;
    }
    let mut ends: Vec<f64> = shard.values().map(Entry::expires_at).collect();
    let cut = (ends.len() / 8).max(1) - 1;
    ends.select_nth_unstable_by(cut, f64::total_cmp);
    let threshold = ends[cut];
    let mut budget = cut + 1;
    shard.retain(|_, e| {
        if budget > 0 && e.expires_at() <= threshold {
            budget -= 1;
            false
        } else {
            true
        }
    });
}
