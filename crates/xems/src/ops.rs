//! The operations callers queue to the writer thread, each with the callback that completes it.

use zeroize::Zeroizing;

use crate::completion::Completer;
use crate::index::Tag;
use crate::Error;

pub(crate) type Done<T> = Box<dyn FnOnce(Result<T, Error>) + Send>;

pub(crate) fn done_of<T: Send + 'static>(c: Completer<T>) -> Done<T> {
    Box::new(move |r| c.complete(r))
}

pub(crate) enum Op {
    Set {
        sandbox: String,
        key: Zeroizing<String>,
        value: Zeroizing<Vec<u8>>,
        expires_at: u64,
        done: Done<()>,
    },
    Del {
        sandbox: String,
        key: Zeroizing<String>,
        done: Done<bool>,
    },
    Rotate {
        sandbox: String,
        old: Zeroizing<String>,
        new: Zeroizing<String>,
        grace_ms: u64,
        done: Done<bool>,
    },
    /// Replaces the data of the session `token` names now: itself if it is a live session, its
    /// successor if it is a rotated-away token within its grace period. Never creates one.
    SaveSession {
        sandbox: String,
        token: Zeroizing<String>,
        value: Zeroizing<Vec<u8>>,
        /// `None` keeps the session's expiry.
        expires_at: Option<u64>,
        done: Done<bool>,
    },
    /// Deletes the token and, through rotation aliases, the session it names.
    DestroySession {
        sandbox: String,
        token: Zeroizing<String>,
        done: Done<bool>,
    },
    Purge {
        sandbox: String,
        tag: Tag,
        offset: u64,
    },
    PurgeExpired {
        done: Done<u64>,
    },
    Clear {
        sandbox: String,
        done: Done<u64>,
    },
    Compact {
        done: Done<()>,
    },
    Close {
        done: Option<Done<()>>,
    },
}

impl Op {
    pub(crate) fn fail(self, e: Error) {
        match self {
            Op::Set { done, .. } | Op::Compact { done } => done(Err(e)),
            Op::Del { done, .. }
            | Op::Rotate { done, .. }
            | Op::SaveSession { done, .. }
            | Op::DestroySession { done, .. } => done(Err(e)),
            Op::PurgeExpired { done } | Op::Clear { done, .. } => done(Err(e)),
            Op::Purge { .. } => {}
            Op::Close { done } => {
                if let Some(d) = done {
                    d(Ok(()))
                }
            }
        }
    }
}
