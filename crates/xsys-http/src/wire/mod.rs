//! The bytes of a connection as they cross the wire, both ways, under hyper.
//!
//! [`WireIo`] wraps the socket. On the way in, the [request reader](reader) frames and checks
//! every request before hyper parses it, for the whole connection, and records what hyper does
//! not keep ([`Recorded`]). On the way out, the [response writer](writer) follows the framing of
//! every response hyper writes, so that it knows where each head begins and ends; it puts the few
//! head bytes Node writes differently the way Node does, and never touches a body.
//! [`ConnectionWire`] is what the connection's service and its `WireIo` share.
//! See docs/wire.md for the reasons behind each rule.

mod grammar;
mod io;
mod reader;
mod writer;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

pub(crate) use io::WireIo;

/// What the reader kept of one request head, as sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The target as sent, when bytes of it were replaced for hyper's sake.
    pub original_target: Option<Bytes>,
    /// `name\nvalue\n` per header line, in order; names in their case, values trimmed.
    pub raw_headers: Bytes,
    /// Number of header lines.
    pub lines: usize,
    /// A status the engine answers instead of the handlers (501 for a transfer coding it does not
    /// implement); the connection closes after it.
    pub refusal: Option<u16>,
    /// For a hand-over: the bytes that came in the same read after the head, Node's `head`
    /// argument of 'connect' / 'upgrade'.
    pub after_head: Bytes,
    /// The handlers take this connection over (a listener for it exists).
    pub hand_over: Option<HandOverKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOverKind {
    Connect,
    Upgrade,
}

/// Whether the app listens for `'connect'` / `'upgrade'`: decides which requests hand their
/// connection over (read by the reader when such a head ends).
#[derive(Debug, Default)]
pub struct Listeners {
    connect: AtomicBool,
    upgrade: AtomicBool,
}

impl Listeners {
    pub fn set_connect(&self, on: bool) {
        self.connect.store(on, Ordering::Relaxed);
    }
    pub fn set_upgrade(&self, on: bool) {
        self.upgrade.store(on, Ordering::Relaxed);
    }
    pub(crate) fn connect(&self) -> bool {
        self.connect.load(Ordering::Relaxed)
    }
    pub(crate) fn upgrade(&self) -> bool {
        self.upgrade.load(Ordering::Relaxed)
    }
}

/// Node's `server.headersTimeout` and `server.keepAliveTimeout`, in ms, read by every connection
/// each time it waits, so a change applies to open connections too. Zero turns one off.
#[derive(Debug, Default)]
pub struct Timeouts {
    headers_ms: AtomicU64,
    keep_alive_ms: AtomicU64,
}

/// Node keeps an idle connection this much longer than the keepAliveTimeout it announces, so a
/// client reusing it right at the announced end does not meet a closed socket.
const KEEP_ALIVE_GRACE: Duration = Duration::from_secs(1);

impl Timeouts {
    pub fn new(headers: Duration, keep_alive: Duration) -> Self {
        let timeouts = Timeouts::default();
        timeouts.set(headers, keep_alive);
        timeouts
    }

    pub fn set(&self, headers: Duration, keep_alive: Duration) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.headers_ms.store(ms(headers), Ordering::Relaxed);
        self.keep_alive_ms.store(ms(keep_alive), Ordering::Relaxed);
    }

    pub fn keep_alive(&self) -> Duration {
        Duration::from_millis(self.keep_alive_ms.load(Ordering::Relaxed))
    }

    /// How long a request head may take to come whole, from the connection's start or its first
    /// byte; then 408.
    pub(crate) fn headers(&self) -> Option<Duration> {
        match self.headers_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// How long a kept-alive connection may stay idle after its last answer; then it is closed.
    /// Without a keepAliveTimeout the head timeout bounds the wait.
    pub(crate) fn idle(&self) -> Option<Duration> {
        match self.keep_alive() {
            zero if zero.is_zero() => self.headers(),
            keep_alive => Some(keep_alive + KEEP_ALIVE_GRACE),
        }
    }
}

/// What one connection's service and its [`WireIo`] share.
pub(crate) struct ConnectionWire {
    recordings: Mutex<VecDeque<Recorded>>,
    pub(crate) listeners: std::sync::Arc<Listeners>,
    pub(crate) timeouts: std::sync::Arc<Timeouts>,
    /// Requests hyper has handed to the service.
    dispatched: AtomicU64,
    /// The request (counted from 1) the engine answered with a refusal of its own.
    engine_refusal: AtomicU64,
    peer_left: AtomicBool,
    peer_left_notify: Notify,
    /// A refused request body: the status to answer (400, 413, 431), 0 if none.
    body_refusal: AtomicU16,
}

impl ConnectionWire {
    pub(crate) fn new(
        listeners: std::sync::Arc<Listeners>,
        timeouts: std::sync::Arc<Timeouts>,
    ) -> Self {
        ConnectionWire {
            recordings: Mutex::default(),
            listeners,
            timeouts,
            dispatched: AtomicU64::new(0),
            engine_refusal: AtomicU64::new(0),
            peer_left: AtomicBool::new(false),
            peer_left_notify: Notify::new(),
            body_refusal: AtomicU16::new(0),
        }
    }

    fn push_recording(&self, recorded: Recorded) {
        self.recordings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(recorded);
    }

    /// The recording of the request hyper dispatches now (they come in the same order).
    pub(crate) fn next_recording(&self) -> Option<Recorded> {
        self.recordings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// The service got a request; returns its number on the connection (from 1).
    pub(crate) fn begin_service(&self) -> u64 {
        self.dispatched.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The engine answers request `number` with a refusal of its own (written as Node writes
    /// refusals).
    pub(crate) fn engine_refuses(&self, number: u64) {
        self.engine_refusal.store(number, Ordering::Release);
    }

    /// Whether the answer to request `number` is a refusal the engine or hyper made: hyper's
    /// own for a request it never dispatched.
    fn refusal_of_ours(&self, number: u64) -> bool {
        self.dispatched.load(Ordering::Acquire) < number
            || self.engine_refusal.load(Ordering::Acquire) == number
    }

    fn peer_left(&self) {
        self.peer_left.store(true, Ordering::Release);
        self.peer_left_notify.notify_waiters();
    }

    /// Resolves once the client has closed its side (or the connection failed) after sending
    /// whole requests.
    pub(crate) async fn peer_gone(&self) {
        loop {
            let notified = self.peer_left_notify.notified();
            if self.peer_left.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    fn refuse_body(&self, status: u16) {
        self.body_refusal.store(status, Ordering::Release);
    }

    /// The status for a request whose body the reader refused.
    pub(crate) fn body_refusal(&self) -> Option<u16> {
        match self.body_refusal.load(Ordering::Acquire) {
            0 => None,
            status => Some(status),
        }
    }
}
