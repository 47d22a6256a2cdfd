//! The writer thread, the only code that writes the file. It drains the whole queue, appends
//! every record of the batch plus one commit record, fsyncs once, publishes the batch to the
//! index, wipes superseded records, and only then completes the waiters. It also runs
//! compactions, those asked for and those the auto-compaction policy calls for.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ring::hmac;

use crate::batch::Batch;
use crate::compaction;
use crate::crypto::KeyBytes;
use crate::files::{self, sync, write_at};
use crate::header::Header;
use crate::index::now_ms;
use crate::ops::Op;
use crate::options::AutoCompaction;
use crate::shared::Shared;
use crate::wipe::{wipe_frames, wipe_whole_file};
use crate::Error;

pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    /// `None` only while dropping (the lock is released before `closed` is signalled).
    pub file: Option<File>,
    pub path: PathBuf,
    pub header: Header,
    /// Needed to derive the next generation's record key at compaction.
    pub master: KeyBytes,
    pub header_mac: hmac::Key,
    pub end: u64,
    /// After a failed fsync the on-disk state is unknown (a retried fsync can falsely succeed),
    /// so every later write fails until the store is reopened and re-verified.
    pub failed: Option<Error>,
    pub auto_compaction: Option<AutoCompaction>,
    /// After a failed automatic compaction, the next one waits until the file reaches this
    /// size, so a full disk is not hammered after every write.
    pub auto_retry_at: u64,
}

impl Writer {
    fn file(&self) -> &File {
        // Only `Drop` takes the file, and nothing runs after it.
        self.file
            .as_ref()
            .unwrap_or_else(|| unreachable!("writer used after its file was released"))
    }

    pub(crate) fn run(mut self) {
        // A store that was left mostly dead is compacted as soon as it is opened.
        self.maybe_auto_compact();
        loop {
            let ops = self.shared.next_ops();
            let mut batch = Vec::new();
            let mut it = ops.into_iter();
            while let Some(op) = it.next() {
                match op {
                    Op::Compact { done } => {
                        self.commit(std::mem::take(&mut batch));
                        let r = self.compact(false);
                        done(r);
                    }
                    Op::Close { done } => {
                        // Every batch was fsynced when it completed: nothing left to flush.
                        self.commit(std::mem::take(&mut batch));
                        // Dropping releases the file lock and fails whatever is still queued.
                        drop(self);
                        for rest in it {
                            rest.fail(Error::closed());
                        }
                        if let Some(d) = done {
                            d(Ok(()));
                        }
                        return;
                    }
                    op => batch.push(op),
                }
            }
            self.commit(batch);
            self.maybe_auto_compact();
        }
    }

    /// One group commit: append all records + a commit record, fsync once, publish, wipe,
    /// then complete every waiter.
    fn commit(&mut self, ops: Vec<Op>) {
        if ops.is_empty() {
            return;
        }
        if let Some(e) = &self.failed {
            for op in ops {
                op.fail(e.clone());
            }
            return;
        }
        let gen = self.shared.read().gen.clone();
        let shared = self.shared.clone();
        let mut b = Batch::new(&shared, &gen, self.end, now_ms());
        let mut rest = ops.into_iter();
        for op in rest.by_ref() {
            if let Err(e) = b.apply(op) {
                for op in rest {
                    op.fail(e.clone());
                }
                b.finish_all(Err(e));
                return;
            }
        }
        if b.is_empty() {
            b.finish_all(Ok(()));
            return;
        }
        if let Err(e) = b.seal() {
            b.finish_all(Err(e));
            return;
        }
        if let Err(e) = write_at(self.file(), b.start, &b.buf) {
            let e = Error::io("append to store", e);
            // Take the partial batch back out; if even that fails the file state is unknown.
            if self
                .file()
                .set_len(b.start)
                .and_then(|()| self.file().sync_data())
                .is_err()
            {
                self.failed = Some(e.clone());
            }
            b.finish_all(Err(e));
            return;
        }
        if let Err(e) = sync(self.file(), &self.shared.counters.fsyncs) {
            let e = Error::io("fsync (store must be reopened)", e);
            self.failed = Some(e.clone());
            b.finish_all(Err(e));
            return;
        }
        self.end = b.start + b.buf.len() as u64;
        self.shared
            .write()
            .apply(std::mem::take(&mut b.overlay), self.end);
        let c = &self.shared.counters;
        c.batches.fetch_add(1, Ordering::Relaxed);
        c.writes.fetch_add(b.writes, Ordering::Relaxed);
        match wipe_frames(self.file(), &b.dead, &c.fsyncs) {
            Ok(()) => {
                c.wiped.fetch_add(b.dead.len() as u64, Ordering::Relaxed);
                b.finish_all(Ok(()));
            }
            Err(e) => {
                // The write is durable, but the promise that old bytes are gone is not kept:
                // report it. Reopening finishes the wipe (the commit declares those frames dead).
                self.failed = Some(e.clone());
                b.finish_all(Err(e));
            }
        }
    }

    /// Compacts when the policy says the file is mostly dead. Runs after the batch's waiters
    /// have been completed, so it delays the next batch, never an acknowledged one.
    fn maybe_auto_compact(&mut self) {
        let Some(policy) = self.auto_compaction else {
            return;
        };
        if self.failed.is_some() || self.end < self.auto_retry_at {
            return;
        }
        let dead = self.shared.read().dead_bytes();
        if !policy.due(self.end, dead) {
            return;
        }
        match self.compact(true) {
            Ok(()) => self.auto_retry_at = 0,
            Err(_) => {
                self.auto_retry_at = self.end + (self.end / 4).max(policy.min_file_size);
            }
        }
    }

    fn compact(&mut self, automatic: bool) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let next = {
            let st = self.shared.read();
            compaction::next_generation(
                &self.header,
                &self.master,
                &self.header_mac,
                &st,
                now_ms(),
            )?
        };
        let mode = files::mode_of(self.file());
        let (new_file, dir_err) = files::replace_file(
            &self.path,
            "compact",
            &next.bytes,
            mode,
            &self.shared.counters.fsyncs,
        )?;
        let old = self.file.replace(new_file);
        self.header = next.header;
        self.end = next.state.end;
        let c = &self.shared.counters;
        c.compactions.fetch_add(1, Ordering::Relaxed);
        if automatic {
            c.auto_compactions.fetch_add(1, Ordering::Relaxed);
        }
        *self.shared.write() = next.state;
        if let Some(old) = old {
            // Unreachable by name now; overwrite its blocks before freeing them (best effort).
            let _ = wipe_whole_file(&old, &self.shared.counters.fsyncs);
        }
        if let Some(e) = dir_err {
            // The rename may not survive a crash: which file the path names is unknown, so
            // stop writing until the store is reopened.
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Also runs if the writer panics: waiters and later submitters must never hang.
        drop(self.file.take());
        self.shared.writer_gone();
    }
}
