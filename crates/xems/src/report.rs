//! What the store reports: the outcome of an open, and counters and sizes.

use crate::RecoveryKey;

/// What [`crate::Store::open`] found and did.
#[derive(Debug)]
pub struct OpenReport {
    /// The file did not exist and was created.
    pub created: bool,
    /// The store was already open in this process: this is the same shared store.
    pub shared: bool,
    /// Set once, on creation with [`crate::Options::recovery_key`]; store it offline.
    pub recovery_key: Option<RecoveryKey>,
    /// A torn or unauthenticated tail (an unacknowledged last batch) was truncated.
    pub dropped_tail: Option<DroppedTail>,
    /// Records whose wipe had been interrupted (crash) and were wiped again.
    pub rewiped: u64,
    /// Live (unexpired) values after opening.
    pub live_records: u64,
}

/// A truncated tail: `bytes` bytes from `offset` were not a complete, authenticated batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DroppedTail {
    pub offset: u64,
    pub bytes: u64,
}

/// Counters and sizes (see [`crate::Store::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Unexpired values.
    pub live_records: u64,
    /// Unexpired rotation aliases (old tokens within their grace period).
    pub aliases: u64,
    /// Expired entries not yet purged (never returned).
    pub expired_pending: u64,
    pub sandboxes: u64,
    pub file_size: u64,
    /// Bytes of frames the index points at.
    pub live_bytes: u64,
    /// Wiped frames and commit records: reclaimed by compaction.
    pub dead_bytes: u64,
    /// Compaction generation of the file.
    pub generation: u64,
    /// Write operations made durable since open.
    pub writes: u64,
    /// Group commits (one append + one fsync each) since open.
    pub batches: u64,
    /// fsync calls since open (appends, wipe passes, compactions).
    pub fsyncs: u64,
    /// Records overwritten in place since open.
    pub wiped_records: u64,
    /// Compactions since open, automatic ones included.
    pub compactions: u64,
    /// Compactions the writer started by itself (see [`crate::AutoCompaction`]).
    pub auto_compactions: u64,
}
