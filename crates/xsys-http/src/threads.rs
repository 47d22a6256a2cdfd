//! The JS threads that serve one listener, and which of them gets each request.
//!
//! A listener is bound once (by its owner, the main thread) and served by one or more JS threads,
//! each with its own [`EventQueue`] and [`RoutingMirror`]. Each request goes to the thread with
//! the fewest requests in flight, counted per request rather than per connection: a thread stuck
//! in a handler keeps its count up and stops getting new work, while the connection's next
//! request goes elsewhere. Everything about a request (its body, abort and drain events) then
//! goes to that thread's queue.
//!
//! A thread leaves gracefully ([`Attachment::detach`]: it gets `Closed` once its requests are
//! done) or dies ([`Attachment::abandon`]: its requests are closed at once, as the connections
//! of a crashed cluster worker are).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use crate::bridge::EventQueue;
use crate::exchange::Exchange;
use crate::routing::RoutingMirror;
use crate::wire::{HandOverKind, Listeners};

pub struct JsThreads {
    /// The listener's owner: told when the listener has closed.
    owner: Arc<EventQueue>,
    threads: RwLock<Vec<Arc<JsThread>>>,
    /// Where the search for the least loaded thread starts, so ties take turns.
    cursor: AtomicUsize,
    /// How many serving threads listen for `'connect'` / `'upgrade'`.
    pub(crate) listeners: Arc<Listeners>,
    /// Wakes requests waiting for a thread to serve them.
    attached: Notify,
    stopped: AtomicBool,
}

pub(crate) struct JsThread {
    /// The caller's name for the thread (Node's `threadId`), for [`JsThreads::abandon_thread`].
    key: u32,
    pub(crate) queue: Arc<EventQueue>,
    pub(crate) routing: Arc<RoutingMirror>,
}

/// A JS thread's place among a listener's serving threads.
pub struct Attachment {
    threads: Arc<JsThreads>,
    thread: Arc<JsThread>,
}

impl JsThreads {
    pub(crate) fn new(owner: Arc<EventQueue>) -> Arc<Self> {
        Arc::new(JsThreads {
            owner,
            threads: RwLock::default(),
            cursor: AtomicUsize::new(0),
            listeners: Arc::default(),
            attached: Notify::new(),
            stopped: AtomicBool::new(false),
        })
    }

    /// Serving threads now.
    pub fn count(&self) -> usize {
        self.read().len()
    }

    /// The serving threads' queues, for the benchmark's counters.
    pub fn queues(&self) -> Vec<Arc<EventQueue>> {
        self.read().iter().map(|t| t.queue.clone()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<JsThread>>> {
        self.threads.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<JsThread>>> {
        self.threads.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a thread that serves requests from now on: `queue` gets its events, `routing` routes
    /// them. None once the listener is closing.
    pub fn attach(
        self: &Arc<Self>,
        key: u32,
        queue: Arc<EventQueue>,
        routing: Arc<RoutingMirror>,
    ) -> Option<Attachment> {
        let thread = Arc::new(JsThread {
            key,
            queue,
            routing,
        });
        {
            let mut threads = self.write();
            if self.stopped.load(Ordering::SeqCst) {
                return None;
            }
            thread.routing.join(self.listeners.clone());
            threads.push(thread.clone());
        }
        self.attached.notify_waiters();
        Some(Attachment {
            threads: self.clone(),
            thread,
        })
    }

    fn remove(&self, thread: &Arc<JsThread>) -> bool {
        let mut threads = self.write();
        let Some(at) = threads.iter().position(|t| Arc::ptr_eq(t, thread)) else {
            return false;
        };
        threads.remove(at);
        thread.routing.leave();
        true
    }

    /// The thread named `key` died: see [`Attachment::abandon`]. False when no such thread serves.
    pub fn abandon_thread(&self, key: u32) -> bool {
        let thread = self.read().iter().find(|t| t.key == key).cloned();
        match thread {
            Some(thread) => {
                abandon(self, &thread);
                true
            }
            None => false,
        }
    }

    /// The serving thread with the fewest requests in flight, its count taken for one more; for
    /// a handed-over connection, only among those that listen for it. None when no thread can
    /// take it now.
    pub(crate) fn pick(&self, hand_over: Option<HandOverKind>) -> Option<Arc<JsThread>> {
        let threads = self.read();
        let eligible = |t: &JsThread| match hand_over {
            None => true,
            Some(kind) => t.routing.listens(kind == HandOverKind::Connect),
        };
        let count = threads.len();
        if count == 1 {
            let only = &threads[0];
            return (eligible(only) && only.queue.start_request()).then(|| only.clone());
        }
        // A thread that starts closing between the choice and the count refuses the request and
        // is not chosen again.
        for _ in 0..=count {
            let start = self.cursor.fetch_add(1, Ordering::Relaxed);
            let mut best: Option<(usize, &Arc<JsThread>)> = None;
            for offset in 0..count {
                let thread = &threads[(start + offset) % count];
                if thread.queue.is_closing() || !eligible(thread) {
                    continue;
                }
                let load = thread.queue.in_flight();
                if best.is_none_or(|(least, _)| load < least) {
                    best = Some((load, thread));
                }
            }
            let (_, thread) = best?;
            if thread.queue.start_request() {
                return Some(thread.clone());
            }
        }
        None
    }

    /// [`pick`](Self::pick), waiting while no thread serves yet (the workers are starting, or
    /// the only one is being replaced). None when the listener is closing, or no serving thread
    /// takes this kind of hand-over.
    pub(crate) async fn acquire(&self, hand_over: Option<HandOverKind>) -> Option<Arc<JsThread>> {
        // Almost always a thread serves: no waiting list to join then.
        if let Some(thread) = self.pick(hand_over) {
            return Some(thread);
        }
        loop {
            let attached = self.attached.notified();
            tokio::pin!(attached);
            attached.as_mut().enable();
            if let Some(thread) = self.pick(hand_over) {
                return Some(thread);
            }
            if self.stopped.load(Ordering::SeqCst) || self.count() != 0 {
                return None;
            }
            attached.await;
        }
    }

    /// The listener is closing: no thread attaches any more, and requests waiting for one stop
    /// waiting.
    pub(crate) fn stop(&self) {
        {
            let _threads = self.write();
            self.stopped.store(true, Ordering::SeqCst);
        }
        self.attached.notify_waiters();
    }

    /// An event about the listener itself (a connection dropped at accept) for its owner.
    pub(crate) fn tell_owner(&self, event: crate::bridge::Event) {
        self.owner.push(event);
    }

    /// Every connection has closed: the owner and every serving thread get `Closed`.
    pub(crate) fn closed(&self) {
        let threads = std::mem::take(&mut *self.write());
        for thread in &threads {
            thread.routing.leave();
            if !Arc::ptr_eq(&thread.queue, &self.owner) {
                thread.queue.send_closed();
            }
        }
        self.owner.send_closed();
    }
}

/// Removes `thread` and closes what it had in flight.
fn abandon(threads: &JsThreads, thread: &Arc<JsThread>) {
    threads.remove(thread);
    thread.queue.shut();
    Exchange::global().abandon_queue(&thread.queue);
}

impl Attachment {
    /// The listener this thread serves.
    pub fn threads(&self) -> &Arc<JsThreads> {
        &self.threads
    }

    /// The thread stops taking requests; its queue gets `Closed` once those in flight are done
    /// (at once if none is).
    pub fn detach(&self) {
        self.threads.remove(&self.thread);
        self.thread.queue.close_when_idle();
    }

    /// The thread is gone (its JS died): it takes no more requests, events for it are dropped,
    /// and its requests in flight are closed, so their clients see a closed connection rather
    /// than waiting for an answer that cannot come.
    pub fn abandon(&self) {
        abandon(&self.threads, &self.thread);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::Wake;

    struct NoWake;
    impl Wake for NoWake {
        fn wake(&self) {}
    }

    fn listener() -> Arc<JsThreads> {
        JsThreads::new(EventQueue::new(NoWake))
    }

    #[test]
    fn each_request_goes_to_the_thread_with_the_fewest_in_flight() {
        let threads = listener();
        let a = threads.attach(1, EventQueue::new(NoWake), RoutingMirror::new());
        let b = threads.attach(2, EventQueue::new(NoWake), RoutingMirror::new());
        let (a, b) = (a.expect("open"), b.expect("open"));
        let first = threads.pick(None).expect("a thread");
        let second = threads.pick(None).expect("a thread");
        assert!(!Arc::ptr_eq(&first, &second), "one request each");
        // `first` stays busy: the next requests all go to the other as it finishes each.
        second.queue.request_done();
        for _ in 0..10 {
            let next = threads.pick(None).expect("a thread");
            assert!(Arc::ptr_eq(&next, &second));
            next.queue.request_done();
        }
        assert_eq!(first.queue.in_flight(), 1);
        drop((a, b));
    }

    #[test]
    fn a_detached_or_dead_thread_gets_no_request_and_a_closing_listener_no_thread() {
        let threads = listener();
        let a = threads.attach(1, EventQueue::new(NoWake), RoutingMirror::new());
        let b = threads.attach(2, EventQueue::new(NoWake), RoutingMirror::new());
        let (a, b) = (a.expect("open"), b.expect("open"));
        a.detach();
        for _ in 0..4 {
            let next = threads.pick(None).expect("b serves");
            assert!(Arc::ptr_eq(&next, &b.thread));
        }
        assert!(threads.abandon_thread(2));
        assert!(threads.pick(None).is_none(), "nobody serves");
        assert!(b.thread.queue.is_shut());
        threads.stop();
        assert!(
            threads
                .attach(3, EventQueue::new(NoWake), RoutingMirror::new())
                .is_none(),
            "a closing listener takes no new thread"
        );
    }

    #[tokio::test]
    async fn a_request_waits_for_a_first_thread_and_gives_up_when_the_listener_closes() {
        let threads = listener();
        let waiting = tokio::spawn({
            let threads = threads.clone();
            async move { threads.acquire(None).await.map(|t| t.key) }
        });
        tokio::task::yield_now().await;
        let _a = threads.attach(7, EventQueue::new(NoWake), RoutingMirror::new());
        assert_eq!(waiting.await.expect("joined"), Some(7));

        let empty = listener();
        let waiting = tokio::spawn({
            let empty = empty.clone();
            async move { empty.acquire(None).await.is_none() }
        });
        tokio::task::yield_now().await;
        empty.stop();
        assert!(waiting.await.expect("joined"));
    }

    #[test]
    fn a_hand_over_goes_only_to_a_thread_that_listens_for_it() {
        let threads = listener();
        let plain = RoutingMirror::new();
        let listening = RoutingMirror::new();
        listening.set_upgrade_listener(true);
        let _a = threads.attach(1, EventQueue::new(NoWake), plain);
        let _b = threads.attach(2, EventQueue::new(NoWake), listening);
        assert!(threads.listeners.upgrade());
        for _ in 0..4 {
            let thread = threads.pick(Some(HandOverKind::Upgrade)).expect("b");
            assert_eq!(thread.key, 2);
        }
        assert!(threads.pick(Some(HandOverKind::Connect)).is_none());
    }
}
