//! One group commit being assembled: what each operation means (set, delete, rotate, session
//! save and destroy, purges, clear) as frames to append and frames it supersedes. Later
//! operations of the batch see the effect of earlier ones through the overlay.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::frame::{self, GenKeys, FRAME_HEADER};
use crate::index::{Entry, Overlay, Tag, MAX_ALIAS_DEPTH};
use crate::ops::{Done, Op};
use crate::shared::Shared;
use crate::Error;

pub(crate) struct Batch<'a> {
    shared: &'a Shared,
    gen: &'a GenKeys,
    now: u64,
    /// File offset of the batch's first frame.
    pub start: u64,
    /// The frames, in order.
    pub buf: Vec<u8>,
    /// Effect of the batch so far, consulted before the index.
    pub overlay: Overlay,
    /// Frames this batch supersedes: declared dead by its commit, wiped once it is durable.
    pub dead: Vec<(u64, u32)>,
    finishes: Vec<Done<()>>,
    /// Write operations in the batch (for the counters).
    pub writes: u64,
}

impl<'a> Batch<'a> {
    pub(crate) fn new(shared: &'a Shared, gen: &'a GenKeys, start: u64, now: u64) -> Batch<'a> {
        Batch {
            shared,
            gen,
            now,
            start,
            buf: Vec::new(),
            overlay: Overlay::new(),
            dead: Vec::new(),
            finishes: Vec::new(),
            writes: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.dead.is_empty()
    }

    fn append(&mut self, plaintext: &[u8], alias: bool, expires_at: u64) -> Result<Entry, Error> {
        let offset = self.start + self.buf.len() as u64;
        let frame = self.gen.seal_frame(offset, plaintext)?;
        let e = Entry {
            offset,
            len: frame.len() as u32,
            alias,
            expires_at,
            body: Arc::from(&frame[FRAME_HEADER..]),
        };
        self.buf.extend_from_slice(&frame);
        Ok(e)
    }

    /// Appends the commit record that closes the batch.
    pub(crate) fn seal(&mut self) -> Result<(), Error> {
        let at = self.start + self.buf.len() as u64;
        let commit = self
            .gen
            .seal_frame(at, &frame::encode_commit(self.start, &self.dead))?;
        self.buf.extend_from_slice(&commit);
        Ok(())
    }

    fn finish<T: Send + 'static>(&mut self, done: Done<T>, value: T) {
        self.finishes.push(Box::new(move |r: Result<(), Error>| {
            done(r.map(|()| value))
        }));
    }

    /// Completes every operation of the batch with `r`.
    pub(crate) fn finish_all(self, r: Result<(), Error>) {
        for f in self.finishes {
            f(r.clone());
        }
    }

    fn put(&mut self, sandbox: &str, tag: Tag, e: Option<Entry>) {
        self.overlay
            .entry(sandbox.to_owned())
            .or_default()
            .insert(tag, e);
    }

    /// Supersedes `old`: its frame is declared dead, and the entry becomes `new`.
    fn replace(&mut self, sandbox: &str, tag: Tag, old: Option<&Entry>, new: Option<Entry>) {
        if let Some(p) = old {
            self.dead.push((p.offset, p.len));
        }
        self.put(sandbox, tag, new);
    }

    fn lookup(&self, sandbox: &str, tag: &Tag) -> Option<Entry> {
        if let Some(e) = self.overlay.get(sandbox).and_then(|m| m.get(tag)) {
            return e.clone();
        }
        self.shared.read().get(sandbox, tag).cloned()
    }

    /// Entries of `sandbox` (or of all sandboxes) as the batch currently sees them.
    fn visible(&self, sandbox: Option<&str>) -> Vec<(String, Tag, Entry)> {
        let mut out = Vec::new();
        let st = self.shared.read();
        for (sb, m) in &st.sandboxes {
            if sandbox.is_some_and(|s| s != sb) {
                continue;
            }
            let over = self.overlay.get(sb);
            for (tag, e) in m {
                if over.is_none_or(|o| !o.contains_key(tag)) {
                    out.push((sb.clone(), *tag, e.clone()));
                }
            }
        }
        for (sb, m) in &self.overlay {
            if sandbox.is_some_and(|s| s != sb) {
                continue;
            }
            for (tag, e) in m {
                if let Some(e) = e {
                    out.push((sb.clone(), *tag, e.clone()));
                }
            }
        }
        out
    }

    /// The chain of entries `key` leads to through rotation aliases, in order. It ends at a
    /// value, at an expired entry, at nothing, at a key already in the chain, or at
    /// [`MAX_ALIAS_DEPTH`].
    fn alias_chain(
        &self,
        sandbox: &str,
        key: &str,
    ) -> Result<Vec<(Zeroizing<String>, Tag, Entry)>, Error> {
        let mut chain = Vec::new();
        let mut key = Zeroizing::new(key.to_owned());
        for _ in 0..=MAX_ALIAS_DEPTH {
            let tag = self.shared.tag(&key);
            if chain.iter().any(|(_, t, _)| *t == tag) {
                break;
            }
            let Some(e) = self.lookup(sandbox, &tag) else {
                break;
            };
            let next = (e.alias && !e.expired(self.now))
                .then(|| e.alias_target(self.gen, sandbox, &key))
                .transpose()?;
            chain.push((key, tag, e));
            match next {
                Some(target) => key = target,
                None => break,
            }
        }
        Ok(chain)
    }

    /// Adds one op to the batch. `Err` means the batch cannot be built at all (the CSPRNG
    /// failed); per-op problems are reported to the op's own completion.
    pub(crate) fn apply(&mut self, op: Op) -> Result<(), Error> {
        let now = self.now;
        match op {
            Op::Set {
                sandbox,
                key,
                value,
                expires_at,
                done,
            } => {
                let tag = self.shared.tag(&key);
                let prev = self.lookup(&sandbox, &tag);
                let pt = frame::encode_entry(false, expires_at, &sandbox, &key, &value);
                let e = self.append(&pt, false, expires_at)?;
                self.replace(&sandbox, tag, prev.as_ref(), Some(e));
                self.writes += 1;
                self.finish(done, ());
            }
            Op::Del { sandbox, key, done } => {
                let tag = self.shared.tag(&key);
                let existed = match self.lookup(&sandbox, &tag) {
                    Some(p) => {
                        self.replace(&sandbox, tag, Some(&p), None);
                        self.writes += 1;
                        !p.expired(now)
                    }
                    None => false,
                };
                self.finish(done, existed);
            }
            Op::Rotate {
                sandbox,
                old,
                new,
                grace_ms,
                done,
            } => {
                let old_tag = self.shared.tag(&old);
                let prev = match self.lookup(&sandbox, &old_tag) {
                    Some(p) if p.live_value(now) => p,
                    _ => {
                        self.finish(done, false);
                        return Ok(());
                    }
                };
                let value = match prev.open(self.gen, &sandbox, &old) {
                    Ok(v) => v,
                    Err(e) => {
                        done(Err(e));
                        return Ok(());
                    }
                };
                let new_tag = self.shared.tag(&new);
                let replaced = self.lookup(&sandbox, &new_tag);
                let npt = frame::encode_entry(false, prev.expires_at, &sandbox, &new, &value);
                let ne = self.append(&npt, false, prev.expires_at)?;
                self.replace(&sandbox, new_tag, replaced.as_ref(), Some(ne));
                let alias = if grace_ms > 0 {
                    let until = now.saturating_add(grace_ms);
                    let apt = frame::encode_entry(true, until, &sandbox, &old, new.as_bytes());
                    Some(self.append(&apt, true, until)?)
                } else {
                    None
                };
                self.replace(&sandbox, old_tag, Some(&prev), alias);
                self.writes += 1;
                self.finish(done, true);
            }
            Op::SaveSession {
                sandbox,
                token,
                value,
                expires_at,
                done,
            } => {
                // Only the session the token names now is written: a rotated-away token never
                // gets a record of its own again (that would bring the session back under it).
                let current = match self.alias_chain(&sandbox, &token) {
                    Ok(mut chain) => chain.pop().filter(|(_, _, e)| e.live_value(now)),
                    Err(e) => {
                        done(Err(e));
                        return Ok(());
                    }
                };
                let Some((key, tag, prev)) = current else {
                    self.finish(done, false);
                    return Ok(());
                };
                let expires_at = expires_at.unwrap_or(prev.expires_at);
                let pt = frame::encode_entry(false, expires_at, &sandbox, &key, &value);
                let e = self.append(&pt, false, expires_at)?;
                self.replace(&sandbox, tag, Some(&prev), Some(e));
                self.writes += 1;
                self.finish(done, true);
            }
            Op::DestroySession {
                sandbox,
                token,
                done,
            } => {
                let chain = match self.alias_chain(&sandbox, &token) {
                    Ok(chain) => chain,
                    Err(e) => {
                        done(Err(e));
                        return Ok(());
                    }
                };
                let existed = chain.last().is_some_and(|(_, _, e)| e.live_value(now));
                for (_, tag, e) in &chain {
                    self.replace(&sandbox, *tag, Some(e), None);
                }
                self.writes += u64::from(!chain.is_empty());
                self.finish(done, existed);
            }
            Op::Purge {
                sandbox,
                tag,
                offset,
            } => {
                if let Some(p) = self.lookup(&sandbox, &tag) {
                    if p.offset == offset && p.expired(now) {
                        self.replace(&sandbox, tag, Some(&p), None);
                        self.writes += 1;
                    }
                }
            }
            Op::PurgeExpired { done } => {
                let mut n = 0u64;
                for (sb, tag, e) in self.visible(None) {
                    if e.expired(now) {
                        self.replace(&sb, tag, Some(&e), None);
                        n += 1;
                    }
                }
                self.writes += u64::from(n > 0);
                self.finish(done, n);
            }
            Op::Clear { sandbox, done } => {
                let mut n = 0u64;
                for (sb, tag, e) in self.visible(Some(&sandbox)) {
                    self.replace(&sb, tag, Some(&e), None);
                    n += u64::from(e.live_value(now));
                }
                self.writes += 1;
                self.finish(done, n);
            }
            Op::Compact { .. } | Op::Close { .. } => {
                unreachable!("barriers are handled by the writer loop")
            }
        }
        Ok(())
    }
}
