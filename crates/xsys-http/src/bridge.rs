//! Events from the I/O threads to the JS threads that run the handlers.
//!
//! Every request, body chunk and disconnect becomes an [`Event`] in the [`EventQueue`] of the JS
//! thread that handles the request (one queue per thread; see `threads`). The queue wakes its
//! consumer only when it goes from empty to non-empty, so under load one wake-up carries many
//! events: the consumer drains everything that accumulated while it was busy. On an I/O worker
//! that wake waits for the end of the worker's round (see `deferred`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method};

mod deferred;
pub use deferred::worker_idle;
use deferred::{PendingWake, EARLY_WAKE_EVENTS};

/// Something that can make the consumer drain the queue soon; must not block.
pub trait Wake: Send + Sync + 'static {
    fn wake(&self);
}

/// The addresses of a connection, sent once before its first request.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub id: u64,
    /// None on a Unix socket, as Node's `remoteAddress` is undefined there.
    pub remote: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
}

/// How a request's body reaches the consumer.
#[derive(Debug)]
pub enum BodyPayload {
    /// No body at all (no Content-Length, not chunked, or length 0).
    Empty,
    /// The whole body, read before dispatch because it was small and announced.
    Complete(Bytes),
    /// The body follows as [`Event::Body`] chunks, one batch per `Exchange::read_body` call.
    Streaming,
    /// The connection is handed over (CONNECT, or an Upgrade the handlers listen for): the
    /// handlers answer with raw bytes through `Exchange::tunnel_write`, and the connection's
    /// bytes after that arrive as [`Event::Body`] / [`Event::BodyEnd`]; [`Event::Aborted`] ends it.
    /// It holds what came after the head in the same read (Node's `head` argument).
    Tunnel(Bytes),
}

/// The stack layers whose path matches a request, computed from the mirrored table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCandidates {
    /// The JS stack version the table mirrored.
    pub version: u32,
    /// Stack indices in order.
    pub ids: Vec<u32>,
}

#[derive(Debug)]
pub struct RequestHead {
    pub id: u64,
    pub connection: u64,
    pub method: Method,
    /// The raw request target as sent (path and query, still percent-encoded).
    pub target: Bytes,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub http_minor: u8,
    pub headers: HeaderMap,
    pub body: BodyPayload,
    /// Which layers can match, when the route mirror knows; `None` means JS scans the stack.
    pub candidates: Option<LayerCandidates>,
    /// What the native prelude decided, when it ran (see prelude.rs for the layout).
    pub prelude: Option<Bytes>,
    /// Beyond Node's `server.maxRequestsPerSocket` on its connection: the handlers drop it as
    /// Node does ('dropRequest', then 503).
    pub beyond_max_requests: bool,
}

#[derive(Debug)]
pub enum Event {
    /// A connection's addresses, before its first request.
    Connection(ConnectionInfo),
    /// A request that needs the handlers.
    Request(Box<RequestHead>),
    /// A chunk of a streaming request body.
    Body { id: u64, chunk: Bytes },
    /// The streaming request body is complete.
    BodyEnd { id: u64 },
    /// The client went away (or the request failed) before the response finished.
    Aborted { id: u64 },
    /// A streaming response's buffer went back under its high-water mark.
    Drain { id: u64 },
    /// A connection that carried at least one dispatched request closed.
    ConnectionClosed { id: u64 },
    /// The server stopped accepting and every connection has closed.
    Closed,
    /// What the native prelude's rate limiters saw on their first request, for JS to log as
    /// express-rate-limit does, when no request has carried it to JS (see prelude.rs).
    PreludeNotices { plan: u32, bits: u32 },
    /// A connection closed as it was accepted, beyond Node's `server.maxConnections` (Node's
    /// 'drop'); no addresses on a Unix socket.
    Dropped {
        remote: Option<std::net::SocketAddr>,
        local: Option<std::net::SocketAddr>,
    },
}

/// Counters for the benchmark report: how well wake-ups are batched.
#[derive(Debug, Default)]
pub struct QueueStats {
    pub requests: AtomicU64,
    pub events: AtomicU64,
    pub wakeups: AtomicU64,
    pub drains: AtomicU64,
    pub max_batch: AtomicU64,
}

pub struct EventQueue {
    state: Mutex<QueueState>,
    waker: Arc<PendingWake>,
    pub stats: QueueStats,
    /// Requests dispatched to this queue's thread and not finished: what the least-loaded choice
    /// compares (see `threads`).
    in_flight: AtomicUsize,
    /// The thread takes no new request and gets `Closed` once its last one is done.
    closing: AtomicBool,
    closed_sent: AtomicBool,
}

struct QueueState {
    events: Vec<Event>,
    /// A wake-up is on its way and has not drained yet: no need for another.
    scheduled: bool,
    /// The consumer is gone: events are dropped instead of kept for nobody.
    shut: bool,
}

impl EventQueue {
    pub fn new(waker: impl Wake) -> Arc<Self> {
        Arc::new(EventQueue {
            state: Mutex::new(QueueState {
                events: Vec::with_capacity(64),
                scheduled: false,
                shut: false,
            }),
            waker: PendingWake::new(Box::new(waker)),
            stats: QueueStats::default(),
            in_flight: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            closed_sent: AtomicBool::new(false),
        })
    }

    /// Queues an event for the consumer; false (and the event dropped) once it is gone.
    pub fn push(&self, event: Event) -> bool {
        let request = matches!(event, Event::Request(_));
        let (wake, grown) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.shut {
                return false;
            }
            state.events.push(event);
            let wake = !std::mem::replace(&mut state.scheduled, true);
            (wake, state.events.len() == EARLY_WAKE_EVENTS)
        };
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        if request {
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
        }
        if wake {
            self.stats.wakeups.fetch_add(1, Ordering::Relaxed);
            self.waker.wake_after_round();
        } else if grown {
            self.waker.fire();
        }
        true
    }

    /// The consumer is gone (its thread ended or released the server): what is queued and what
    /// comes later is dropped.
    pub fn shut(&self) {
        let dropped = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.shut = true;
            std::mem::take(&mut state.events)
        };
        drop(dropped);
    }

    pub fn is_shut(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).shut
    }

    /// Requests dispatched here and not finished yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The thread takes no new request (see `close_when_idle`).
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Counts one more request for this thread, unless it is closing.
    pub(crate) fn start_request(&self) -> bool {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.closing.load(Ordering::SeqCst) {
            self.request_done();
            return false;
        }
        true
    }

    pub(crate) fn request_done(&self) {
        if self.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 && self.closing.load(Ordering::SeqCst)
        {
            self.send_closed();
        }
    }

    /// No new request from now on; `Closed` follows once those in flight are done.
    pub(crate) fn close_when_idle(&self) {
        self.closing.store(true, Ordering::SeqCst);
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            self.send_closed();
        }
    }

    /// `Closed`, once per queue (the server's close and the thread's own may both send it).
    pub(crate) fn send_closed(&self) {
        if !self.closed_sent.swap(true, Ordering::SeqCst) {
            self.push(Event::Closed);
        }
    }

    /// Takes every pending event. The next push after this wakes the consumer again.
    pub fn drain(&self) -> Vec<Event> {
        let events = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.scheduled = false;
            std::mem::replace(&mut state.events, Vec::with_capacity(64))
        };
        self.stats.drains.fetch_add(1, Ordering::Relaxed);
        self.stats
            .max_batch
            .fetch_max(events.len() as u64, Ordering::Relaxed);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    pub(super) struct CountingWake(pub(super) Arc<AtomicUsize>);
    impl Wake for CountingWake {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn one_wake_up_carries_every_event_pushed_before_the_drain() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let queue = EventQueue::new(CountingWake(wakes.clone()));
        for id in 0..100 {
            queue.push(Event::BodyEnd { id });
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(queue.drain().len(), 100);
        queue.push(Event::Closed);
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            2,
            "a push after a drain wakes again"
        );
        assert_eq!(queue.stats.max_batch.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn a_shut_queue_drops_what_it_held_and_refuses_more() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let queue = EventQueue::new(CountingWake(wakes.clone()));
        assert!(queue.push(Event::BodyEnd { id: 1 }));
        queue.shut();
        assert!(!queue.push(Event::BodyEnd { id: 2 }));
        assert!(queue.drain().is_empty());
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_closing_queue_takes_no_request_and_is_closed_once_its_last_one_is_done() {
        let queue = EventQueue::new(CountingWake(Arc::default()));
        assert!(queue.start_request());
        assert!(queue.start_request());
        queue.close_when_idle();
        assert!(!queue.start_request(), "closing: no new request");
        queue.request_done();
        assert!(queue.drain().is_empty(), "one request is still in flight");
        queue.request_done();
        assert!(matches!(queue.drain()[..], [Event::Closed]));
        queue.send_closed();
        assert!(queue.drain().is_empty(), "Closed is sent once");
    }
}
