//! Completion handles for writes.
//!
//! The writer thread completes many waiters per fsync (group commit). A waiter must not need a
//! blocked thread of its own: the JS binding has 64+ writers in flight from one JS thread. So a
//! [`Completion`] is a runtime-agnostic `Future` (shared state + `Waker`), can also be waited on
//! synchronously, or can hand its result to a callback that runs on the writer thread (what a
//! napi thread-safe function wants).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::Error;

type Callback<T> = Box<dyn FnOnce(Result<T, Error>) + Send>;

enum State<T> {
    Pending {
        waker: Option<Waker>,
        callback: Option<Callback<T>>,
    },
    Ready(Result<T, Error>),
    Taken,
}

struct Slot<T> {
    state: Mutex<State<T>>,
    cond: Condvar,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panicking callback cannot leave the state half-updated (we never call it under the
        // lock), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The outcome of a write, available once it is durable (appended and fsynced) or has failed.
///
/// Use it as a `Future` (any executor), block with [`Completion::wait`], or register a callback
/// with [`Completion::on_complete`]. Dropping it does not cancel the write.
#[must_use = "a write is only known to be durable once its completion reports success"]
pub struct Completion<T = ()> {
    slot: Arc<Slot<T>>,
}

/// The writer's end of a completion. Dropping it without completing reports `Closed`, so a
/// waiter can never hang because the writer went away.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

pub(crate) fn pair<T>() -> (Completer<T>, Completion<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Pending {
            waker: None,
            callback: None,
        }),
        cond: Condvar::new(),
    });
    (
        Completer {
            slot: Some(slot.clone()),
        },
        Completion { slot },
    )
}

/// A completion that is already resolved (argument errors, closed store).
pub(crate) fn ready<T>(result: Result<T, Error>) -> Completion<T> {
    Completion {
        slot: Arc::new(Slot {
            state: Mutex::new(State::Ready(result)),
            cond: Condvar::new(),
        }),
    }
}

impl<T> Completer<T> {
    pub(crate) fn complete(mut self, result: Result<T, Error>) {
        if let Some(slot) = self.slot.take() {
            deliver(&slot, result);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            deliver(&slot, Err(Error::closed()));
        }
    }
}

fn deliver<T>(slot: &Slot<T>, result: Result<T, Error>) {
    let mut st = slot.lock();
    match std::mem::replace(&mut *st, State::Taken) {
        State::Pending {
            callback: Some(cb), ..
        } => {
            drop(st);
            // Callbacks run on the writer thread: a panicking callback must not take the
            // store (and every other waiter) down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cb(result)));
        }
        State::Pending {
            waker,
            callback: None,
        } => {
            *st = State::Ready(result);
            drop(st);
            slot.cond.notify_all();
            if let Some(w) = waker {
                w.wake();
            }
        }
        // Completed twice cannot happen (complete consumes the Completer); keep the first.
        other => *st = other,
    }
}

impl<T> Completion<T> {
    /// Blocks the calling thread until the write is durable or failed.
    pub fn wait(self) -> Result<T, Error> {
        let mut st = self.slot.lock();
        loop {
            match std::mem::replace(&mut *st, State::Taken) {
                State::Ready(r) => return r,
                State::Taken => return Err(Error::invalid("completion already consumed")),
                pending @ State::Pending { .. } => {
                    *st = pending;
                    st = self
                        .slot
                        .cond
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// True once the result is available (`wait` would not block).
    pub fn is_complete(&self) -> bool {
        matches!(*self.slot.lock(), State::Ready(_))
    }
}

impl<T: Send + 'static> Completion<T> {
    /// Runs `f` with the result: immediately on this thread if it is already known, otherwise on
    /// the store's writer thread right after the fsync (a panic there is caught and ignored).
    /// Keep `f` short (it delays other waiters) and never block in it on the same store's
    /// completions (`wait()`), which would deadlock the writer.
    pub fn on_complete<F>(self, f: F)
    where
        F: FnOnce(Result<T, Error>) + Send + 'static,
    {
        let mut st = self.slot.lock();
        match std::mem::replace(&mut *st, State::Taken) {
            State::Ready(r) => {
                drop(st);
                f(r);
            }
            State::Pending { .. } => {
                *st = State::Pending {
                    waker: None,
                    callback: Some(Box::new(f)),
                };
            }
            State::Taken => {
                drop(st);
                f(Err(Error::invalid("completion already consumed")));
            }
        }
    }
}

impl<T> Future for Completion<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.slot.lock();
        match &mut *st {
            State::Ready(_) => match std::mem::replace(&mut *st, State::Taken) {
                State::Ready(r) => Poll::Ready(r),
                _ => Poll::Ready(Err(Error::invalid("completion already consumed"))),
            },
            State::Pending { waker, .. } => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            State::Taken => Poll::Ready(Err(Error::invalid("completion polled after it returned"))),
        }
    }
}

impl<T> std::fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion")
            .field("complete", &self.is_complete())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn future_wakes_once_completed() {
        let (c, mut f) = pair::<u32>();
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut f).poll(&mut cx).is_pending());
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        c.complete(Ok(7));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        match Pin::new(&mut f).poll(&mut cx) {
            Poll::Ready(Ok(7)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wait_blocks_until_another_thread_completes() {
        let (c, f) = pair::<&'static str>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            c.complete(Ok("done"));
        });
        assert_eq!(f.wait().ok(), Some("done"));
        t.join().ok();
    }

    #[test]
    fn dropped_completer_reports_closed_and_callback_runs() {
        let (c, f) = pair::<()>();
        let seen = Arc::new(Mutex::new(None));
        let s2 = seen.clone();
        f.on_complete(move |r| *s2.lock().unwrap_or_else(PoisonError::into_inner) = Some(r));
        drop(c);
        let got = seen.lock().unwrap_or_else(PoisonError::into_inner).take();
        assert!(matches!(got, Some(Err(ref e)) if e.is_closed()), "{got:?}");
        assert!(ready(Ok(3)).wait().is_ok_and(|v| v == 3));
    }
}
