//! Waking a JS thread once per round of the I/O worker instead of on its first event.
//!
//! A JS thread woken on the first request of a round drains that one request (or a few), while
//! the I/O worker is still reading the others: on 1-2 cores each wake-up then costs both threads
//! a sleep and a wake for ~2-5 requests (measured: 2.6 requests per wake-up through the
//! production stack). So a push on an I/O worker keeps its wake until the worker has nothing
//! left to run (tokio's park hook, [`worker_idle`]), and the JS thread gets the whole round at
//! once. Two bounds keep a request from waiting on a worker that stays busy: the queue reaching
//! [`EARLY_WAKE_EVENTS`] wakes at once, and a task that yields once fires the wake at the
//! worker's next poll of the I/O driver (every few dozen tasks even when it never idles).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::Wake;

/// Events a deferred wake lets accumulate before it wakes anyway: past this, the JS thread
/// working in parallel with the I/O worker is worth more than a larger batch (measured on 2
/// cores, GET /json at 64 and 8 connections: 8 kept most of the JS thread's saving of 16 and 32
/// at 64 connections, and 8 connections' rate, which 16 and 32 lowered).
pub(super) const EARLY_WAKE_EVENTS: usize = 8;

/// A consumer's wake that may be kept for later; firing it twice wakes once.
pub(super) struct PendingWake {
    armed: AtomicBool,
    /// In some worker's kept list already: a worker that never idles must not list it again on
    /// every round.
    listed: AtomicBool,
    waker: Box<dyn Wake>,
}

impl PendingWake {
    pub(super) fn new(waker: Box<dyn Wake>) -> Arc<Self> {
        Arc::new(PendingWake {
            armed: AtomicBool::new(false),
            listed: AtomicBool::new(false),
            waker,
        })
    }

    /// Wakes the consumer now.
    pub(super) fn wake_now(&self) {
        self.armed.store(false, Ordering::Release);
        self.waker.wake();
    }

    /// Wakes the consumer if a deferred wake is still pending.
    pub(super) fn fire(&self) {
        if self.armed.swap(false, Ordering::AcqRel) {
            self.waker.wake();
        }
    }

    /// Wakes the consumer when this thread's I/O worker is done with its round, or now when this
    /// thread is not an I/O worker (or outside the runtime).
    pub(super) fn wake_after_round(self: &Arc<Self>) {
        let kept = KEPT.with(|kept| match kept.borrow_mut().as_mut() {
            Some(list) => {
                self.armed.store(true, Ordering::Release);
                if !self.listed.swap(true, Ordering::AcqRel) {
                    list.push(self.clone());
                }
                true
            }
            None => false,
        });
        if !kept {
            self.wake_now();
            return;
        }
        // The bound for a worker that never idles: after one yield, the task runs again once
        // the worker has polled its I/O driver, which it does at least every few dozen tasks.
        let pending = self.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            pending.fire();
        });
    }
}

thread_local! {
    /// On an I/O worker (known from its first idle moment): the wakes kept until its next one.
    /// `None` on every other thread, whose pushes wake at once.
    static KEPT: RefCell<Option<Vec<Arc<PendingWake>>>> = const { RefCell::new(None) };
}

/// tokio's park hook of the I/O runtime: the worker has nothing left to run. Fires the wakes its
/// pushes kept, and marks the thread as a worker whose pushes may wait for this moment.
pub fn worker_idle() {
    let kept = KEPT.with(|kept| {
        let mut kept = kept.borrow_mut();
        match kept.as_mut() {
            Some(list) => std::mem::take(list),
            None => {
                *kept = Some(Vec::new());
                Vec::new()
            }
        }
    });
    for pending in kept {
        pending.listed.store(false, Ordering::Release);
        pending.fire();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::super::tests::CountingWake;
    use super::super::{Event, EventQueue};
    use super::*;

    /// One I/O worker with the engine's park hook, already idle once (so marked as a worker).
    fn io_runtime() -> tokio::runtime::Runtime {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .on_thread_park(worker_idle)
            .enable_all()
            .build()
            .expect("runtime");
        std::thread::sleep(Duration::from_millis(20));
        runtime
    }

    /// Runs `task` as a task of the runtime's worker (not on the test thread).
    fn on_worker<T: Send + 'static>(
        runtime: &tokio::runtime::Runtime,
        task: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        runtime
            .block_on(runtime.spawn(task))
            .expect("the task completes")
    }

    fn queue() -> (Arc<EventQueue>, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        (EventQueue::new(CountingWake(wakes.clone())), wakes)
    }

    fn kept_len() -> usize {
        KEPT.with(|kept| kept.borrow().as_ref().map_or(0, Vec::len))
    }

    #[test]
    fn a_push_on_a_worker_wakes_once_the_worker_has_finished_its_round() {
        let runtime = io_runtime();
        let (queue, wakes) = queue();
        let (pushed, counted) = (queue.clone(), wakes.clone());
        let seen = on_worker(&runtime, async move {
            pushed.push(Event::BodyEnd { id: 1 });
            pushed.push(Event::BodyEnd { id: 2 });
            counted.load(Ordering::SeqCst)
        });
        assert_eq!(seen, 0, "no wake while the worker's round runs");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "woken once the worker idled"
        );
        assert_eq!(queue.drain().len(), 2);
    }

    #[test]
    fn a_push_elsewhere_wakes_at_once() {
        let (queue, wakes) = queue();
        queue.push(Event::BodyEnd { id: 1 });
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_worker_that_never_idles_still_wakes_within_a_few_yields() {
        let runtime = io_runtime();
        let (queue, wakes) = queue();
        let yields = on_worker(&runtime, async move {
            queue.push(Event::BodyEnd { id: 1 });
            // always runnable: the worker polls its driver between yields but never parks
            for yields in 0..1000 {
                if wakes.load(Ordering::SeqCst) == 1 {
                    return Some(yields);
                }
                tokio::task::yield_now().await;
            }
            None
        });
        let yields = yields.expect("woken while the worker stayed busy");
        assert!(yields <= 4, "woken after {yields} yields");
    }

    #[test]
    fn a_round_that_queues_many_events_wakes_early_and_once() {
        let runtime = io_runtime();
        let (queue, wakes) = queue();
        let counted = wakes.clone();
        let seen = on_worker(&runtime, async move {
            let mut seen = Vec::new();
            for id in 0..EARLY_WAKE_EVENTS as u64 + 4 {
                queue.push(Event::BodyEnd { id });
                seen.push(counted.load(Ordering::SeqCst));
            }
            seen
        });
        assert_eq!(seen[EARLY_WAKE_EVENTS - 2], 0);
        assert_eq!(seen[EARLY_WAKE_EVENTS - 1], 1, "the limit'th event wakes");
        assert_eq!(*seen.last().expect("seen"), 1);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "the idle hook finds it woken"
        );
    }

    #[test]
    fn rounds_without_idling_keep_one_entry_per_consumer() {
        let runtime = io_runtime();
        let (queue, wakes) = queue();
        let most = on_worker(&runtime, async move {
            let mut most = 0;
            for id in 0..500 {
                queue.push(Event::BodyEnd { id });
                most = most.max(kept_len());
                tokio::task::yield_now().await;
                queue.drain();
            }
            most
        });
        assert_eq!(most, 1);
        assert!(wakes.load(Ordering::SeqCst) >= 1);
    }
}
