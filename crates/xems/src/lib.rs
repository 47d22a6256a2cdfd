//! XEMS: an encrypted, hardware-bound, crash-safe store for sessions and tokens in one `.xem`
//! file. This crate is the pure-Rust core; `crates/xypriss-napi` wraps it for JS.
//!
//! * Records are AES-256-GCM encrypted with a random data key that exists on disk only
//!   wrapped by a key derived from the secret and this machine's hardware id.
//! * Writes are group-committed by one writer thread per store: a write's [`Completion`]
//!   resolves once it is appended and fsynced.
//! * Superseded records (overwritten, deleted, rotated tokens) are overwritten in place before
//!   their space counts as free; a mostly dead file is compacted.
//! * Any damage is reported: a torn last batch is dropped and reported at open, anything else
//!   is an Integrity error naming the offset.
//!
//! The byte layout and the threat model are in `docs/xem-format.md`.
//!
//! Modules, from the bytes up (each uses only those above it):
//! `crypto`, `hardware`, `error`, `completion` | `frame` (frames, records) | `header` (header,
//! key wraps) | `walk` (open-time recovery walk) | `files` (file hygiene) | `wipe` |
//! `options`, `report` | `index` (in-memory index) | `ops` | `shared` | `batch` (what each op
//! writes) | `compaction` | `writer` (the writer thread) | `open` | `registry` | `store` (the
//! handle) | `session`, `rebind`.
#![forbid(unsafe_code)]

mod batch;
mod compaction;
mod completion;
mod crypto;
mod error;
mod files;
mod frame;
#[cfg(test)]
mod fuzzing;
mod hardware;
mod header;
mod index;
mod open;
mod ops;
mod options;
mod rebind;
mod registry;
mod report;
mod session;
mod shared;
mod store;
mod walk;
mod wipe;
mod writer;

pub use completion::Completion;
pub use crypto::RecoveryKey;
pub use error::Error;
pub use hardware::HardwareId;
pub use options::{
    AutoCompaction, Options, DEFAULT_PBKDF2_ITERATIONS, MIN_KEY_SECRET_LEN, MIN_PBKDF2_ITERATIONS,
};
pub use report::{DroppedTail, OpenReport, Stats};
pub use store::Store;
/// Values come back in this wrapper so the plaintext is wiped when dropped.
pub use zeroize::Zeroizing;

// The binding shares one store across JS worker threads and awaits completions from any
// thread: these bounds are part of the API (checked at compile time).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Store>();
    send_sync::<Completion<()>>();
    send_sync::<Completion<String>>();
    send_sync::<Error>();
    send_sync::<Options>();
};
