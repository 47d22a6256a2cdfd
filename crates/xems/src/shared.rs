//! What the store's handles and its writer thread share: the queue of pending operations, the
//! index readers see, the counters, and the closing handshake.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{
    Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

use ring::hmac;

use crate::index::{now_ms, State, Tag};
use crate::ops::{Done, Op};
use crate::Error;

/// Ops drained per batch: bounds the latency one huge burst adds to the next waiter.
const MAX_BATCH_OPS: usize = 4096;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Queue {
    ops: VecDeque<Op>,
    /// close() was called: no new work is accepted.
    closing: bool,
    /// The writer has exited.
    dead: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub writes: AtomicU64,
    pub batches: AtomicU64,
    pub fsyncs: AtomicU64,
    pub wiped: AtomicU64,
    pub compactions: AtomicU64,
    pub auto_compactions: AtomicU64,
}

pub(crate) struct Shared {
    queue: Mutex<Queue>,
    queue_cv: Condvar,
    pub closing: AtomicBool,
    closed: Mutex<bool>,
    closed_cv: Condvar,
    state: RwLock<State>,
    /// Random per open: the index is keyed by HMAC(key), so tokens are not held in plaintext.
    index_key: hmac::Key,
    pub counters: Counters,
}

impl Shared {
    pub(crate) fn new(state: State, index_key: hmac::Key, counters: Counters) -> Shared {
        Shared {
            queue: Mutex::new(Queue::default()),
            queue_cv: Condvar::new(),
            closing: AtomicBool::new(false),
            closed: Mutex::new(false),
            closed_cv: Condvar::new(),
            state: RwLock::new(state),
            index_key,
            counters,
        }
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn tag(&self, key: &str) -> Tag {
        let mut t = [0u8; 32];
        t.copy_from_slice(hmac::sign(&self.index_key, key.as_bytes()).as_ref());
        t
    }

    pub(crate) fn submit(&self, op: Op) {
        let mut q = lock(&self.queue);
        if q.closing || q.dead {
            drop(q);
            op.fail(Error::closed());
            return;
        }
        q.ops.push_back(op);
        drop(q);
        self.queue_cv.notify_one();
    }

    pub(crate) fn submit_close(&self, done: Option<Done<()>>) {
        let mut q = lock(&self.queue);
        if q.dead {
            drop(q);
            if let Some(d) = done {
                d(Ok(()));
            }
            return;
        }
        q.closing = true;
        self.closing.store(true, Ordering::SeqCst);
        q.ops.push_back(Op::Close { done });
        drop(q);
        self.queue_cv.notify_one();
    }

    /// The writer's side: waits for work and takes up to one batch's worth of it.
    pub(crate) fn next_ops(&self) -> Vec<Op> {
        let mut q = lock(&self.queue);
        while q.ops.is_empty() {
            q = self
                .queue_cv
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let n = q.ops.len().min(MAX_BATCH_OPS);
        q.ops.drain(..n).collect()
    }

    /// The writer has exited (or is unwinding): refuse new work, fail what is queued, and
    /// wake whoever waits for the close.
    pub(crate) fn writer_gone(&self) {
        let rest = {
            let mut q = lock(&self.queue);
            q.dead = true;
            q.closing = true;
            std::mem::take(&mut q.ops)
        };
        self.closing.store(true, Ordering::SeqCst);
        for op in rest {
            op.fail(Error::closed());
        }
        *lock(&self.closed) = true;
        self.closed_cv.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        *lock(&self.closed)
    }

    pub(crate) fn wait_closed(&self) {
        let mut c = lock(&self.closed);
        while !*c {
            c = self
                .closed_cv
                .wait(c)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(crate) fn live_records(&self) -> u64 {
        self.read().live_records(now_ms())
    }
}
