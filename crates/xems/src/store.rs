//! The public handle: opening (one shared store per file per process), reads decrypted on the
//! calling thread, writes queued to the writer thread and completed once durable.
//!
//! Threading model: any thread may call any method. Reads (`get`, `len`, `stats`, ...) take a
//! read lock on the in-memory index and decrypt outside it. Writes are queued to one writer
//! thread per store (see `writer.rs`); a write is visible to readers only once durable.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::completion::{self, Completion};
use crate::frame::{self, Decoded, MAX_KEY, MAX_SANDBOX, MAX_VALUE};
use crate::index::{now_ms, Entry, MAX_ALIAS_DEPTH};
use crate::open::{open_fresh, StoreInner};
use crate::ops::{done_of, Done, Op};
use crate::options::Options;
use crate::registry::{canonical, lock_registry_for, RegistryEntry};
use crate::report::{OpenReport, Stats};
use crate::shared::Shared;
use crate::Error;

/// An open XEMS store. Cheap to clone; all clones (and every `open` of the same path in this
/// process) share one store, one file lock and one writer thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// Sandboxes and keys are 1..=`max` bytes (they are length-prefixed in the record).
pub(crate) fn check_name(what: &str, s: &str, max: usize) -> Result<(), Error> {
    if s.is_empty() || s.len() > max {
        return Err(Error::invalid(format!(
            "{what} must be 1..={max} bytes, got {}",
            s.len()
        )));
    }
    Ok(())
}

/// The expiry (Unix ms) of a write made now with `ttl`; 0 is never.
pub(crate) fn ttl_ms(ttl: Option<Duration>) -> Result<u64, Error> {
    match ttl {
        None => Ok(0),
        Some(d) if d.is_zero() => Err(Error::invalid(
            "ttl must be positive (use None for no expiry)",
        )),
        Some(d) => {
            Ok(now_ms().saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)))
        }
    }
}

impl Store {
    /// Opens (or creates) the store at `path`.
    ///
    /// A second `open` of the same file in this process returns the same store (`report.shared`)
    /// after checking the secret; another process gets a Locked error. A file (or directory)
    /// that other users can write is refused with a Permissions error. Nothing is written to
    /// the file before the key has been verified.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<(Store, OpenReport), Error> {
        options.validate()?;
        let canon = canonical(path.as_ref())?;
        let mut reg = lock_registry_for(&canon);
        // A closed store's handles may live on (they report Closed); it is replaced below.
        let existing = reg
            .get(&canon)
            .and_then(|e| e.store.upgrade())
            .filter(|i| !i.shared.closing.load(Ordering::SeqCst));
        if let Some(inner) = existing {
            if thread::current().id() == inner.writer_thread {
                return Err(Error::invalid(
                    "cannot open a store from inside its own completion callback",
                ));
            }
            options.unwrap_master(&inner.header)?;
            let live_records = inner.shared.live_records();
            let report = OpenReport {
                created: false,
                shared: true,
                recovery_key: None,
                dropped_tail: None,
                rewiped: 0,
                live_records,
            };
            return Ok((Store { inner }, report));
        }
        reg.retain(|_, e| e.shared.strong_count() > 0);
        let (inner, report) = open_fresh(&canon, &options)?;
        reg.insert(
            canon,
            RegistryEntry {
                store: Arc::downgrade(&inner),
                shared: Arc::downgrade(&inner.shared),
            },
        );
        Ok((Store { inner }, report))
    }
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    pub(crate) fn submit<T: Send + 'static>(
        &self,
        check: Result<(), Error>,
        make: impl FnOnce(Done<T>) -> Op,
    ) -> Completion<T> {
        if let Err(e) = check {
            return completion::ready(Err(e));
        }
        let (c, f) = completion::pair();
        self.shared().submit(make(done_of(c)));
        f
    }

    /// Stores `value` under (`sandbox`, `key`), replacing (and wiping) any previous record.
    /// `ttl: None` never expires.
    pub fn set(&self, sandbox: &str, key: &str, value: &[u8], ttl: Option<Duration>) -> Completion {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("key", key, MAX_KEY))
            .and_then(|()| {
                if value.len() > MAX_VALUE {
                    Err(Error::invalid(format!("value exceeds {MAX_VALUE} bytes")))
                } else {
                    Ok(())
                }
            })
            .and_then(|()| ttl_ms(ttl));
        let expires_at = match check {
            Ok(t) => t,
            Err(e) => return completion::ready(Err(e)),
        };
        self.submit(Ok(()), |done| Op::Set {
            sandbox: sandbox.to_owned(),
            key: Zeroizing::new(key.to_owned()),
            value: Zeroizing::new(value.to_vec()),
            expires_at,
            done,
        })
    }

    /// The value, decrypted now (no plaintext cache). Expired entries are never returned and
    /// are queued for purging; a rotated-away key resolves through its alias within the grace.
    pub fn get(&self, sandbox: &str, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        check_name("sandbox", sandbox, MAX_SANDBOX)?;
        check_name("key", key, MAX_KEY)?;
        if self.shared().closing.load(Ordering::SeqCst) {
            return Err(Error::closed());
        }
        self.resolve(sandbox, key)
    }

    /// Follows `key` through rotation aliases (at most [`MAX_ALIAS_DEPTH`]) to a live value.
    pub(crate) fn resolve(
        &self,
        sandbox: &str,
        key: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let mut key = Zeroizing::new(key.to_owned());
        for _ in 0..=MAX_ALIAS_DEPTH {
            let tag = self.shared().tag(&key);
            let (entry, gen) = {
                let st = self.shared().read();
                (st.get(sandbox, &tag).cloned(), st.gen.clone())
            };
            let Some(e) = entry else { return Ok(None) };
            if e.expired(now_ms()) {
                self.shared().submit(Op::Purge {
                    sandbox: sandbox.to_owned(),
                    tag,
                    offset: e.offset,
                });
                return Ok(None);
            }
            if !e.alias {
                return e.open(&gen, sandbox, &key).map(Some);
            }
            key = e.alias_target(&gen, sandbox, &key)?;
        }
        Ok(None)
    }

    /// Deletes (and wipes) the entry; resolves to whether a live entry existed.
    pub fn del(&self, sandbox: &str, key: &str) -> Completion<bool> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("key", key, MAX_KEY));
        self.submit(check, |done| Op::Del {
            sandbox: sandbox.to_owned(),
            key: Zeroizing::new(key.to_owned()),
            done,
        })
    }

    /// Moves the value of `old_key` to `new_key`. The old record is wiped at once; for `grace`
    /// an encrypted alias lets `old_key` still resolve (to the new value), then never again.
    /// Resolves to false if `old_key` is not a live value (missing, expired, or itself an alias).
    pub fn rotate(
        &self,
        sandbox: &str,
        old_key: &str,
        new_key: &str,
        grace: Duration,
    ) -> Completion<bool> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX)
            .and_then(|()| check_name("key", old_key, MAX_KEY))
            .and_then(|()| check_name("key", new_key, MAX_KEY))
            .and_then(|()| {
                if old_key == new_key {
                    Err(Error::invalid("rotation needs a different new key"))
                } else {
                    Ok(())
                }
            });
        let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.submit(check, |done| Op::Rotate {
            sandbox: sandbox.to_owned(),
            old: Zeroizing::new(old_key.to_owned()),
            new: Zeroizing::new(new_key.to_owned()),
            grace_ms,
            done,
        })
    }

    /// Deletes every entry of `sandbox`; resolves to how many were removed.
    pub fn clear(&self, sandbox: &str) -> Completion<u64> {
        let check = check_name("sandbox", sandbox, MAX_SANDBOX);
        self.submit(check, |done| Op::Clear {
            sandbox: sandbox.to_owned(),
            done,
        })
    }

    /// Wipes every expired entry now; resolves to how many. Reads purge lazily anyway; call
    /// this periodically so expired records do not linger on disk until the next read.
    pub fn purge_expired(&self) -> Completion<u64> {
        self.submit(Ok(()), |done| Op::PurgeExpired { done })
    }

    /// Rewrites live records into a new file generation (temp file, fsync, rename, directory
    /// fsync), dropping wiped and expired records; then overwrites the old file's blocks.
    pub fn compact(&self) -> Completion {
        self.submit(Ok(()), |done| Op::Compact { done })
    }

    /// Unexpired values in `sandbox`.
    pub fn len(&self, sandbox: &str) -> usize {
        let now = now_ms();
        let st = self.shared().read();
        st.sandboxes
            .get(sandbox)
            .map_or(0, |m| m.values().filter(|e| e.live_value(now)).count())
    }

    /// True when `sandbox` holds no unexpired value.
    pub fn is_empty(&self, sandbox: &str) -> bool {
        self.len(sandbox) == 0
    }

    /// Keys of the unexpired values in `sandbox` (decrypted on demand; the index only holds
    /// keyed hashes of keys).
    pub fn keys(&self, sandbox: &str) -> Result<Vec<String>, Error> {
        let now = now_ms();
        let (entries, gen): (Vec<Entry>, _) = {
            let st = self.shared().read();
            let v = st.sandboxes.get(sandbox).map_or_else(Vec::new, |m| {
                m.values().filter(|e| e.live_value(now)).cloned().collect()
            });
            (v, st.gen.clone())
        };
        let mut keys = Vec::with_capacity(entries.len());
        for e in entries {
            let pt = gen.open_body(e.offset, e.len, &e.body).ok_or_else(|| {
                Error::integrity("an in-memory record failed authentication", Some(e.offset))
            })?;
            match frame::decode(&pt) {
                Some(Decoded::Entry { key, .. }) => keys.push(key.to_owned()),
                _ => {
                    return Err(Error::integrity(
                        "an indexed record is not a value",
                        Some(e.offset),
                    ))
                }
            }
        }
        Ok(keys)
    }

    /// Sandboxes that hold at least one entry.
    pub fn sandboxes(&self) -> Vec<String> {
        self.shared().read().sandboxes.keys().cloned().collect()
    }

    pub fn stats(&self) -> Stats {
        let now = now_ms();
        let c = &self.shared().counters;
        let st = self.shared().read();
        let mut s = Stats {
            sandboxes: st.sandboxes.len() as u64,
            file_size: st.end,
            live_bytes: st.live_bytes,
            dead_bytes: st.dead_bytes(),
            generation: st.gen.generation,
            writes: c.writes.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            wiped_records: c.wiped.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            auto_compactions: c.auto_compactions.load(Ordering::Relaxed),
            ..Stats::default()
        };
        for e in st.entries() {
            if e.expired(now) {
                s.expired_pending += 1;
            } else if e.alias {
                s.aliases += 1;
            } else {
                s.live_records += 1;
            }
        }
        s
    }

    /// Finishes queued writes, releases the file and its lock. Later calls on any handle of
    /// this store fail with Closed; the path can then be opened again.
    pub fn close(&self) -> Completion {
        let (c, f) = completion::pair();
        self.shared().submit_close(Some(done_of(c)));
        f
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// True if both handles are the same shared store.
    pub fn ptr_eq(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
