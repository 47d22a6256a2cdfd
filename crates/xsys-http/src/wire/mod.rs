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
mod names;
mod reader;
mod writer;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;

pub(crate) use grammar::trim_ows;
pub(crate) use io::WireIo;

/// The `Connection` value the engine gives hyper for Node's `Connection: close` on a connection
/// that stays open (maxRequestsPerSocket reached); the response writer puts it as `close`.
pub(crate) const CLOSE_KEPT_OPEN: &str = "xypriss-close-kept-open";

/// What the reader kept of one request head, as sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The target as sent, when bytes of it were replaced for hyper's sake.
    pub original_target: Option<Bytes>,
    /// `name\nvalue\n` per header line, in order; names in their case, values trimmed.
    pub raw_headers: Bytes,
    /// Number of header lines.
    pub lines: usize,
    /// Header lines hyper got: fewer than `lines` when the head was compacted (see the reader).
    pub given: usize,
    /// The handlers' headers are the first this many lines of the recording, not hyper's: the
    /// head was compacted, or cut to Node 20's maxHeadersCount.
    pub app_lines: Option<usize>,
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

/// How many of a listener's JS threads listen for `'connect'` / `'upgrade'`: decides which
/// requests hand their connection over (read by the reader when such a head ends).
#[derive(Debug, Default)]
pub struct Listeners {
    connect: AtomicUsize,
    upgrade: AtomicUsize,
}

impl Listeners {
    /// One thread more (`true`) or fewer listening for `'connect'`.
    pub(crate) fn count_connect(&self, on: bool) {
        count(&self.connect, on);
    }
    pub(crate) fn count_upgrade(&self, on: bool) {
        count(&self.upgrade, on);
    }
    pub(crate) fn connect(&self) -> bool {
        self.connect.load(Ordering::Relaxed) != 0
    }
    pub(crate) fn upgrade(&self) -> bool {
        self.upgrade.load(Ordering::Relaxed) != 0
    }
}

fn count(counter: &AtomicUsize, on: bool) {
    if on {
        counter.fetch_add(1, Ordering::Relaxed);
    } else {
        counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Node's bounds on a request head, taken for a connection when it is accepted (as Node's parser
/// takes them from the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Node's `maxHeaderSize`: what Node's parser counts of a head (the target, then each header
    /// name and value, without the blanks before the value) must stay below it; at it, 431.
    pub max_size: usize,
    /// Node's `maxHeadersCount` in header lines (null is 1000); None when it is 0 (no limit).
    pub max_lines: Option<usize>,
    /// Node 22 and later refuse a head with more lines (431); Node 20 cuts `req.headers` to them.
    pub refuse_extra_lines: bool,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_size: 16 * 1024,
            max_lines: Some(1000),
            refuse_extra_lines: true,
        }
    }
}

impl HeadLimits {
    /// A head's bytes, blanks Node does not count included, are bounded too (hyper's buffer is).
    pub fn max_bytes(&self) -> usize {
        self.max_size.saturating_mul(4).saturating_add(64 * 1024)
    }

    /// Lines Node 20 keeps in `req.rawHeaders` when `req.headers` is cut to `max_lines`: the
    /// groups its parser hands over until it has that many.
    pub(crate) fn raw_lines(&self) -> Option<usize> {
        match self.max_lines {
            Some(max) if !self.refuse_extra_lines => {
                Some(max.div_ceil(NODE_HEADER_GROUP).max(1) * NODE_HEADER_GROUP)
            }
            _ => None,
        }
    }
}

/// Node's parser hands header lines to JS in groups of this many; Node 20 keeps whole groups in
/// `req.rawHeaders` until it has maxHeadersCount headers.
const NODE_HEADER_GROUP: usize = 31;

/// Node's `server.headersTimeout`, `server.requestTimeout` and `server.keepAliveTimeout`, in ms,
/// read by every connection each time it waits, so a change applies to open connections too.
/// Zero turns one off.
#[derive(Debug, Default)]
pub struct Timeouts {
    headers_ms: AtomicU64,
    request_ms: AtomicU64,
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

    pub fn set_request(&self, request: Duration) {
        let ms = u64::try_from(request.as_millis()).unwrap_or(u64::MAX);
        self.request_ms.store(ms, Ordering::Relaxed);
    }

    /// How long a request may take to come whole (head and body), from its first byte (or the
    /// connection's start); then 408.
    pub(crate) fn request(&self) -> Option<Duration> {
        match self.request_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
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

/// Answers whose bytes are all out while their handlers still hold them (hyper takes no body for
/// a HEAD, 204 or 304 answer, and nothing past a Content-Length, before the handler ends it).
pub(crate) trait Lingering: Send + Sync {
    /// Ready once none is left.
    fn poll_none_left(&self, cx: &mut Context<'_>) -> Poll<()>;
}

/// What one connection's service and its [`WireIo`] share.
pub(crate) struct ConnectionWire {
    recordings: Mutex<VecDeque<Recorded>>,
    pub(crate) listeners: Arc<Listeners>,
    pub(crate) timeouts: Arc<Timeouts>,
    /// Requests hyper has handed to the service.
    dispatched: AtomicU64,
    /// The request (counted from 1) the engine answered with a refusal of its own.
    engine_refusal: AtomicU64,
    peer_left: AtomicBool,
    peer_left_notify: Notify,
    /// A refused request body: the status to answer (400, 413, 431), 0 if none.
    body_refusal: AtomicU16,
    /// Some answer carries [`CLOSE_KEPT_OPEN`] for the writer to put as `close`.
    close_kept_open: AtomicBool,
    /// What a close waits for (see `WireIo::poll_shutdown`).
    lingering: OnceLock<Arc<dyn Lingering>>,
    /// A request body was left unread on purpose (a body parser's limit): the close reads and
    /// drops what the client still sends for a while, so the answer is not lost to a reset.
    unread_body: AtomicBool,
}

impl ConnectionWire {
    pub(crate) fn new(listeners: Arc<Listeners>, timeouts: Arc<Timeouts>) -> Self {
        ConnectionWire {
            recordings: Mutex::default(),
            listeners,
            timeouts,
            dispatched: AtomicU64::new(0),
            engine_refusal: AtomicU64::new(0),
            peer_left: AtomicBool::new(false),
            peer_left_notify: Notify::new(),
            body_refusal: AtomicU16::new(0),
            close_kept_open: AtomicBool::new(false),
            lingering: OnceLock::new(),
            unread_body: AtomicBool::new(false),
        }
    }

    /// The service leaves a request body unread and answers with `Connection: close`.
    pub(crate) fn leaves_body_unread(&self) {
        self.unread_body.store(true, Ordering::Relaxed);
    }

    fn left_body_unread(&self) -> bool {
        self.unread_body.load(Ordering::Relaxed)
    }

    /// The answers a close of this connection waits for.
    pub(crate) fn close_after(&self, lingering: Arc<dyn Lingering>) {
        let _ = self.lingering.set(lingering);
    }

    fn poll_no_lingering(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.lingering.get() {
            Some(lingering) => lingering.poll_none_left(cx),
            None => Poll::Ready(()),
        }
    }

    /// An answer of this connection says [`CLOSE_KEPT_OPEN`]; the writer looks for it from now on.
    pub(crate) fn says_close_kept_open(&self) {
        self.close_kept_open.store(true, Ordering::Relaxed);
    }

    fn any_close_kept_open(&self) -> bool {
        self.close_kept_open.load(Ordering::Relaxed)
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
