//! Events from the I/O threads to the one thread that runs the handlers.
//!
//! Every request, body chunk and disconnect becomes an [`Event`] in an [`EventQueue`]. The queue
//! wakes its consumer only when it goes from empty to non-empty, so under load one wake-up
//! carries many events: the consumer drains everything that accumulated while it was busy.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Method};

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
}

/// Counters for the benchmark report: how well wake-ups are batched.
#[derive(Debug, Default)]
pub struct QueueStats {
    pub events: AtomicU64,
    pub wakeups: AtomicU64,
    pub drains: AtomicU64,
    pub max_batch: AtomicU64,
}

pub struct EventQueue {
    state: Mutex<QueueState>,
    waker: Box<dyn Wake>,
    pub stats: QueueStats,
}

struct QueueState {
    events: Vec<Event>,
    /// A wake-up is on its way and has not drained yet: no need for another.
    scheduled: bool,
}

impl EventQueue {
    pub fn new(waker: impl Wake) -> Arc<Self> {
        Arc::new(EventQueue {
            state: Mutex::new(QueueState {
                events: Vec::with_capacity(64),
                scheduled: false,
            }),
            waker: Box::new(waker),
            stats: QueueStats::default(),
        })
    }

    pub fn push(&self, event: Event) {
        let wake = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.events.push(event);
            !std::mem::replace(&mut state.scheduled, true)
        };
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        if wake {
            self.stats.wakeups.fetch_add(1, Ordering::Relaxed);
            self.waker.wake();
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

    struct CountingWake(Arc<AtomicUsize>);
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
}
