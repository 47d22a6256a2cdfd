//! The in-memory index: per sandbox, a keyed hash of each key to where its record lies in the
//! file and its still-encrypted body. Neither keys (tokens) nor values are held in clear.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::frame::{self, Decoded, GenKeys};
use crate::header::HEADER_LEN;
use crate::Error;

/// Rotation aliases are followed at most this deep (a token rotated repeatedly within grace).
pub(crate) const MAX_ALIAS_DEPTH: usize = 16;

/// HMAC-SHA256 of a key under a random per-process key.
pub(crate) type Tag = [u8; 32];

/// Wall-clock milliseconds since the Unix epoch: the unit of every expiry.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub offset: u64,
    pub len: u32,
    /// A rotated-away key pointing to its successor until `expires_at`.
    pub alias: bool,
    /// Unix ms, 0 = never.
    pub expires_at: u64,
    /// nonce | ciphertext | tag: values stay encrypted in memory.
    pub body: Arc<[u8]>,
}

impl Entry {
    pub(crate) fn expired(&self, now: u64) -> bool {
        self.expires_at != 0 && now >= self.expires_at
    }

    /// An unexpired value (not an alias).
    pub(crate) fn live_value(&self, now: u64) -> bool {
        !self.alias && !self.expired(now)
    }

    /// Decrypts the record and checks it is the one (`sandbox`, `key`) indexes; returns the value
    /// (or, for an alias, the key it points to).
    pub(crate) fn open(
        &self,
        gen: &GenKeys,
        sandbox: &str,
        key: &str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let pt = gen
            .open_body(self.offset, self.len, &self.body)
            .ok_or_else(|| {
                Error::integrity(
                    "an in-memory record failed authentication",
                    Some(self.offset),
                )
            })?;
        match frame::decode(&pt) {
            Some(Decoded::Entry {
                alias,
                sandbox: s,
                key: k,
                rest,
                ..
            }) if alias == self.alias && s == sandbox && k == key => {
                Ok(Zeroizing::new(rest.to_vec()))
            }
            _ => Err(Error::integrity(
                "a record does not belong to the key that indexes it",
                Some(self.offset),
            )),
        }
    }

    /// The key an alias points to.
    pub(crate) fn alias_target(
        &self,
        gen: &GenKeys,
        sandbox: &str,
        key: &str,
    ) -> Result<Zeroizing<String>, Error> {
        let rest = self.open(gen, sandbox, key)?;
        // decode() accepts an alias only if its target is UTF-8.
        Ok(Zeroizing::new(String::from_utf8_lossy(&rest).into_owned()))
    }
}

pub(crate) type Index = HashMap<String, HashMap<Tag, Entry>>;

/// Changes of one batch, by sandbox and tag: `None` removes the entry.
pub(crate) type Overlay = HashMap<String, HashMap<Tag, Option<Entry>>>;

/// What readers see: the index, the record keys of the file's generation, and sizes.
pub(crate) struct State {
    pub sandboxes: Index,
    pub gen: Arc<GenKeys>,
    /// End of the last durable batch.
    pub end: u64,
    /// Bytes of the frames the index points at.
    pub live_bytes: u64,
}

impl State {
    pub(crate) fn new(gen: GenKeys, end: u64) -> State {
        State {
            sandboxes: HashMap::new(),
            gen: Arc::new(gen),
            end,
            live_bytes: 0,
        }
    }

    pub(crate) fn get(&self, sandbox: &str, tag: &Tag) -> Option<&Entry> {
        self.sandboxes.get(sandbox).and_then(|m| m.get(tag))
    }

    /// Sets or removes one entry, keeping `live_bytes` in step.
    pub(crate) fn put(&mut self, sandbox: &str, tag: Tag, entry: Option<Entry>) {
        let added = entry.as_ref().map_or(0, |e| u64::from(e.len));
        let old = match entry {
            Some(e) => self
                .sandboxes
                .entry(sandbox.to_owned())
                .or_default()
                .insert(tag, e),
            None => {
                let map = self.sandboxes.get_mut(sandbox);
                let old = map.and_then(|m| m.remove(&tag));
                if self.sandboxes.get(sandbox).is_some_and(HashMap::is_empty) {
                    self.sandboxes.remove(sandbox);
                }
                old
            }
        };
        let removed = old.map_or(0, |o| u64::from(o.len));
        self.live_bytes = (self.live_bytes + added).saturating_sub(removed);
    }

    /// Publishes a durable batch.
    pub(crate) fn apply(&mut self, overlay: Overlay, end: u64) {
        for (sandbox, changes) in overlay {
            for (tag, entry) in changes {
                self.put(&sandbox, tag, entry);
            }
        }
        self.end = end;
    }

    /// Wiped frames and commit records: what compaction would reclaim.
    pub(crate) fn dead_bytes(&self) -> u64 {
        self.end.saturating_sub(HEADER_LEN as u64 + self.live_bytes)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.sandboxes.values().flat_map(|m| m.values())
    }

    pub(crate) fn live_records(&self, now: u64) -> u64 {
        self.entries().filter(|e| e.live_value(now)).count() as u64
    }
}
