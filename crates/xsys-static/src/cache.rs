//! A bounded in-memory copy of small files, checked against a fresh `stat` on every use.
//!
//! send stats the file on every request; so does this crate, and a cached copy is used only
//! when that stat's identity (device, inode, size, modification and change times) is the one
//! the copy was read under. A file replaced (new inode), rewritten (times, size) or deleted
//! (the stat fails first) is therefore never served from a stale copy. Memory is bounded by
//! `CacheLimits`; eviction is CLOCK (second chance), so a hit takes only a read lock.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use crate::fs::Identity;
use crate::serve::FileMeta;
use crate::CacheLimits;

/// What an entry costs beyond its content: key, headers and bookkeeping, roughly.
const ENTRY_OVERHEAD: u64 = 512;

pub(crate) struct Entry {
    pub(crate) identity: Identity,
    pub(crate) meta: FileMeta,
    pub(crate) content: Bytes,
    cost: u64,
    referenced: AtomicBool,
}

pub(crate) struct ContentCache {
    limits: CacheLimits,
    entries: RwLock<HashMap<Arc<str>, Arc<Entry>>>,
    clock: Mutex<Clock>,
}

#[derive(Default)]
struct Clock {
    ring: VecDeque<Arc<str>>,
    total: u64,
}

impl ContentCache {
    pub(crate) fn new(limits: CacheLimits) -> Self {
        ContentCache {
            limits,
            entries: RwLock::new(HashMap::new()),
            clock: Mutex::new(Clock::default()),
        }
    }

    /// Whether a file of this size is kept once read.
    pub(crate) fn admits(&self, size: u64) -> bool {
        size <= self.limits.max_file_size && size + ENTRY_OVERHEAD <= self.limits.max_total_bytes
    }

    /// The copy of `path`, if it was read under exactly `identity`.
    pub(crate) fn get(&self, path: &str, identity: &Identity) -> Option<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(path)?;
        if entry.identity != *identity {
            return None;
        }
        entry.referenced.store(true, Ordering::Relaxed);
        Some(Arc::clone(entry))
    }

    pub(crate) fn insert(&self, path: &str, identity: Identity, meta: FileMeta, content: Bytes) {
        let size = content.len() as u64;
        if !self.admits(size) {
            return;
        }
        let cost = size + ENTRY_OVERHEAD + path.len() as u64;
        let entry = Arc::new(Entry {
            identity,
            meta,
            content,
            cost,
            referenced: AtomicBool::new(false),
        });
        // Lock order: clock, then entries.
        let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let key: Arc<str> = Arc::from(path);
        match entries.insert(Arc::clone(&key), entry) {
            Some(old) => clock.total -= old.cost,
            None => clock.ring.push_back(key),
        }
        clock.total += cost;
        while clock.total > self.limits.max_total_bytes {
            let Some(key) = clock.ring.pop_front() else {
                break;
            };
            let Some(candidate) = entries.get(&key) else {
                continue;
            };
            if candidate.referenced.swap(false, Ordering::Relaxed) {
                clock.ring.push_back(key);
                continue;
            }
            clock.total -= candidate.cost;
            entries.remove(&key);
        }
    }

    #[cfg(test)]
    pub(crate) fn total_bytes(&self) -> u64 {
        self.clock.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
