//! One connection: hyper serving it over the wire reader and writer, and the service that turns
//! each request hyper dispatches into an event for the handlers (or answers it natively).

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use crate::body::{ConnectionStreams, ResponseBody};
use crate::bridge::{BodyPayload, ConnectionInfo, Event, EventQueue, RequestHead};
use crate::exchange::Exchange;
use crate::handover::HandOver;
use crate::head::NoDate;
use crate::native;
use crate::request_body::{self, BodyPump, Inline};
use crate::routing::{self, Entered};
use crate::shutdown::Closing;
use crate::threads::JsThreads;
use crate::wire::{
    ConnectionWire, HandOverKind, HeadLimits, Lingering, Timeouts, WireIo, CLOSE_KEPT_OPEN,
};

/// What every connection of a server shares.
pub(crate) struct Shared {
    /// The JS threads that serve the listener; each request goes to one of them.
    pub(crate) threads: Arc<JsThreads>,
    /// `timeout=N[, max=M]` for the Keep-Alive header, None when keepAliveTimeout is 0.
    keep_alive_hint: RwLock<Option<http::HeaderValue>>,
    pub(crate) timeouts: Arc<Timeouts>,
    /// Node's maxHeaderSize and maxHeadersCount, taken by each connection when accepted.
    head_limits: RwLock<HeadLimits>,
    /// Node's `server.maxRequestsPerSocket`; 0 for none.
    max_requests: AtomicU32,
    /// Node's `server.maxConnections`; negative for none.
    max_connections: AtomicI64,
    /// A body announced with a Content-Length up to this size, and arriving with its head, is
    /// read before dispatch.
    inline_body_limit: usize,
    builder: http1::Builder,
    pub(crate) connections: AtomicUsize,
}

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// hyper's read buffer bound when none is set (its `DEFAULT_MAX_BUFFER_SIZE`).
const HYPER_DEFAULT_MAX_BUFFER: usize = 8192 + 4096 * 100;

impl Shared {
    pub(crate) fn new(threads: Arc<JsThreads>, limits: &crate::Limits) -> Self {
        let mut builder = http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            // The wire reader times heads out as Node does (408); hyper's timer would close
            // without a word, and covers the idle wait with the same duration.
            .header_read_timeout(None)
            .keep_alive(true)
            // No title_case_headers: hyper writes names in lower case, as fast as it can, and the
            // response writer puts them as Node sends them (see header_case).
            // The engine adds Date itself, before Connection as Node does; hyper would append it last.
            .auto_date_header(false)
            // No pipeline_flush: with it, hyper 1.12 drops the automatic 400/431 of a malformed
            // request (the aggregated flush never happens before the connection closes).
            ;
        // No max_header_size nor max_headers for hyper: the wire reader measures heads as Node
        // does and refuses them itself, and compacts long ones so that hyper keeps its default
        // of 100 header lines in arrays on the stack (an explicit count makes it fill heap
        // arrays of that size for every request).
        let shared = Shared {
            threads,
            keep_alive_hint: RwLock::new(None),
            timeouts: Arc::new(Timeouts::new(limits.headers_timeout, limits.keep_alive)),
            head_limits: RwLock::new(limits.head),
            max_requests: AtomicU32::new(0),
            max_connections: AtomicI64::new(-1),
            inline_body_limit: limits.inline_body_limit,
            builder,
            connections: AtomicUsize::new(0),
        };
        shared.set_limits(limits);
        shared
    }

    /// Node's server settings changed while listening: the timeouts and maxRequestsPerSocket
    /// apply to every connection from its next wait or request on, the Keep-Alive hint at once,
    /// maxConnections at the next accept, the head limits to connections accepted from now on
    /// (as Node's parser takes them when a connection comes).
    pub(crate) fn set_limits(&self, limits: &crate::Limits) {
        self.timeouts.set(limits.headers_timeout, limits.keep_alive);
        self.timeouts.set_request(limits.request_timeout);
        *self.head_limits.write().unwrap_or_else(|e| e.into_inner()) = limits.head;
        self.max_requests
            .store(limits.max_requests_per_socket, Ordering::Relaxed);
        self.max_connections.store(
            limits.max_connections.map_or(-1, i64::from),
            Ordering::Relaxed,
        );
        // As Node: `timeout=N` in whole seconds, `, max=M` with maxRequestsPerSocket.
        let hint = (!limits.keep_alive.is_zero())
            .then(|| {
                let max = match limits.max_requests_per_socket {
                    0 => String::new(),
                    max => format!(", max={max}"),
                };
                let text = format!("timeout={}{max}", limits.keep_alive.as_secs());
                http::HeaderValue::from_str(&text).ok()
            })
            .flatten();
        *self
            .keep_alive_hint
            .write()
            .unwrap_or_else(|e| e.into_inner()) = hint;
    }

    /// Node's maxConnections: a connection beyond it is closed as it is accepted.
    pub(crate) fn accepts_another(&self) -> bool {
        let max = self.max_connections.load(Ordering::Relaxed);
        max < 0 || (self.connections.load(Ordering::Relaxed) as i64) < max
    }
}

/// The peers of an accepted connection, as Node reports them (none on a Unix socket).
pub(crate) struct Peers {
    pub(crate) remote: Option<std::net::SocketAddr>,
    pub(crate) local: Option<std::net::SocketAddr>,
}

struct Connection {
    info: ConnectionInfo,
    /// The JS threads that know this connection: its addresses went to each with the first
    /// request it sent there. Each hears of its close.
    announced: Mutex<Vec<Arc<EventQueue>>>,
    shared: Arc<Shared>,
    wire: Arc<ConnectionWire>,
    streams: Arc<ConnectionStreams>,
}

/// Serves one accepted connection until it closes (or the server closes it), then reports it.
pub(crate) async fn serve<T>(stream: T, peers: Peers, shared: Arc<Shared>, closing: Closing)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let wire = Arc::new(ConnectionWire::new(
        shared.threads.listeners.clone(),
        shared.timeouts.clone(),
    ));
    let connection = Arc::new(Connection {
        info: ConnectionInfo {
            id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
            remote: peers.remote,
            local: peers.local,
        },
        announced: Mutex::default(),
        shared: shared.clone(),
        wire: wire.clone(),
        streams: Arc::default(),
    });
    wire.close_after(connection.streams.clone());
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let head_limits = *shared.head_limits.read().unwrap_or_else(|e| e.into_inner());
    let io = TokioIo::new(WireIo::new(stream, wire, head_limits));
    let service_connection = connection.clone();
    let service = service_fn(move |req| handle(req, service_connection.clone()));
    // hyper's buffer must hold any head the reader lets through whole.
    let builder = if head_limits.max_bytes() > HYPER_DEFAULT_MAX_BUFFER {
        let mut builder = shared.builder.clone();
        builder.max_buf_size(head_limits.max_bytes() + 8192);
        std::borrow::Cow::Owned(builder)
    } else {
        std::borrow::Cow::Borrowed(&shared.builder)
    };
    // with_upgrades: a 101 (or a 2xx to CONNECT) hands the socket to the tunnel.
    let serving = builder.serve_connection(io, service).with_upgrades();
    let streams = connection.streams.clone();
    tokio::select! {
        () = closing.supervise(serving) => {}
        // Dropping the connection closes its socket.
        () = streams.cut_requested() => {}
    }
    // Responses whose bodies hyper released early are over for the handlers only now.
    streams.connection_closed(Exchange::report_lost);
    shared.connections.fetch_sub(1, Ordering::Relaxed);
    let announced = std::mem::take(&mut *connection.announced());
    for queue in announced {
        queue.push(Event::ConnectionClosed {
            id: connection.info.id,
        });
    }
}

impl Connection {
    fn announced(&self) -> std::sync::MutexGuard<'_, Vec<Arc<EventQueue>>> {
        self.announced.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the connection's addresses to the thread of `queue` before its first request there.
    fn announce_to(&self, queue: &Arc<EventQueue>) {
        let mut announced = self.announced();
        if !announced.iter().any(|known| Arc::ptr_eq(known, queue)) {
            // Threads that are gone hear nothing more.
            announced.retain(|known| !known.is_shut());
            announced.push(queue.clone());
            queue.push(Event::Connection(self.info.clone()));
        }
    }
}

impl Lingering for ConnectionStreams {
    fn poll_none_left(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.poll_all_ended(cx)
    }
}

/// The service failed on purpose: hyper closes the connection.
#[derive(Debug)]
struct CloseConnection(&'static str);

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for CloseConnection {}

/// A request counted in its thread's load before it has a slot: given back if the request
/// ends first (answered natively, or its connection failed meanwhile).
struct Counted<'a>(Option<&'a EventQueue>);

impl Counted<'_> {
    fn hand_to_slot(mut self) {
        self.0 = None;
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if let Some(queue) = self.0.take() {
            queue.request_done();
        }
    }
}

/// Frees a dispatched request's slot if the service future is dropped before the response
/// head went out (the connection failed), and tells the handlers.
struct AbortGuard {
    id: u64,
    armed: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if self.armed {
            Exchange::report_lost(self.id);
        }
    }
}

async fn handle(
    mut req: Request<Incoming>,
    connection: Arc<Connection>,
) -> Result<Response<ResponseBody>, CloseConnection> {
    let shared = &connection.shared;
    let wire = &connection.wire;
    let number = wire.begin_service();
    // Recorded as this very head came in; a count that disagrees means it is not this one's. The
    // reader records every head it lets hyper have, so a missing one is a disagreement between
    // the two parsers, and the engine does not guess its way through it.
    let Some(recorded) = wire
        .next_recording()
        .filter(|r| r.given == req.headers().len())
    else {
        wire.engine_refuses(number);
        return Ok(native::refusal(StatusCode::BAD_REQUEST));
    };
    if let Some(status) = recorded.refusal {
        wire.engine_refuses(number);
        return Ok(native::refusal(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        ));
    }
    let hand_over = recorded.hand_over;
    let mut tunnel = hand_over.map(|kind| HandOver {
        connect: kind == HandOverKind::Connect,
        upgrade: hyper::upgrade::on(&mut req),
        already_delivered: 0,
        paused: false,
    });
    let (mut parts, mut body) = req.into_parts();
    // hyper's view (every Connection line) decides the connection's fate, as llhttp's does Node's.
    let keep_alive = wants_keep_alive(parts.version, &parts.headers);
    if let Some(lines) = recorded.app_lines {
        // What Node's req.headers holds: the first lines, as recorded (hyper had only some).
        parts.headers = headers_of(&recorded.raw_headers, lines);
    }
    // Node's maxRequestsPerSocket: the last request's answer says close (the connection stays
    // open all the same, as with Node), and a request beyond it is the handlers' to drop (503).
    let max_requests = shared.max_requests.load(Ordering::Relaxed);
    let last_allowed = max_requests != 0 && number >= u64::from(max_requests);
    let beyond_max_requests = max_requests != 0 && number > u64::from(max_requests);
    // HTTP/1.1 without Host gets Node's server's own (chunked, empty) 400.
    if parts.version == http::Version::HTTP_11 && !parts.headers.contains_key(http::header::HOST) {
        return Ok(native::missing_host());
    }
    if parts.method == Method::CONNECT && tunnel.is_none() {
        return Err(CloseConnection("CONNECT without a 'connect' listener"));
    }
    // Node's req.url: the target as sent, fragment included.
    let (target, raw_headers, after_head) = (
        recorded.original_target,
        Some(recorded.raw_headers),
        recorded.after_head,
    );
    let target = target.unwrap_or_else(|| match parts.uri.path_and_query() {
        Some(pq) if parts.uri.scheme().is_none() => Bytes::copy_from_slice(pq.as_str().as_bytes()),
        _ => Bytes::from(parts.uri.to_string()),
    });
    // The one reading of the target that JS makes too (see target.rs). The target is ASCII:
    // the reader refuses other bytes, and targets Node's parser refuses, before hyper parses it.
    let target_text = std::str::from_utf8(&target).ok();
    let path = target_text.and_then(|target| crate::target::read(target).pathname);
    // The JS thread with the least work takes the request; it counts it from here on.
    let Some(thread) = shared.threads.acquire(hand_over).await else {
        if tunnel.is_some() {
            return Err(CloseConnection("no thread listens for the hand-over"));
        }
        // The server is closing and no thread is left to answer.
        return Ok(native::refusal(StatusCode::SERVICE_UNAVAILABLE));
    };
    let queue = &thread.queue;
    let counted = Counted(Some(queue));
    // A handed-over connection belongs to the 'upgrade' / 'connect' listener, not to the app:
    // the app's native prelude and route mirror (the thread's own) answer, or say what the
    // handlers get.
    let declared = (!body.is_end_stream())
        .then(|| body.size_hint().exact())
        .flatten();
    let entered = match (target_text, path) {
        (Some(target), Some(path)) if tunnel.is_none() && !beyond_max_requests => routing::enter(
            &thread.routing,
            queue,
            &parts.method,
            &parts.headers,
            target,
            path,
            connection.info.remote,
            declared,
        ),
        _ => Entered::dispatch(),
    };
    let (candidates, prelude, carried_headers, settlement, refused_body) = match entered {
        Entered::Answered(mut response) => {
            drop(counted);
            complete_head(
                &mut response,
                wire,
                keep_alive,
                last_allowed,
                &shared.keep_alive_hint,
            );
            return Ok(response);
        }
        Entered::Dispatch {
            candidates,
            carried,
            refuse_body,
        } => match carried {
            Some(carried) => (
                candidates,
                Some(carried.text()),
                Some(carried.headers),
                Some(carried.settlement),
                refuse_body,
            ),
            None => (candidates, None, None, None, refuse_body),
        },
    };

    let id = Exchange::next_id();
    let mut pump = None;
    let mut cut_short: Option<Bytes> = None;
    let spawn_pump = |body, awaits_continue, already_read| {
        let control = BodyPump::new();
        tokio::spawn(request_body::pump_body(
            id,
            body,
            control.clone(),
            queue.clone(),
            awaits_continue,
            already_read,
            Exchange::report_cut_short,
        ));
        control
    };
    let payload = if let Some(hand_over) = tunnel.as_mut() {
        // What came after the head is Node's `head` argument; the tunnel must not deliver it twice.
        hand_over.already_delivered = after_head.len();
        BodyPayload::Tunnel(after_head)
    } else if body.is_end_stream() {
        BodyPayload::Empty
    } else if refused_body {
        // A body parser refuses it for its length before reading it: the handlers get a body
        // that ends at once, hyper reads no more of it (and sends no 100 Continue), and the
        // connection closes after the response, the rest of the body unread.
        drop(body);
        wire.leaves_body_unread();
        BodyPayload::Empty
    } else {
        // A client waiting for 100 Continue gets it only when the handlers read the body, so a
        // handler may refuse the request without it, as with Node's 'checkContinue'.
        let awaits_continue = parts
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        match body.size_hint().exact() {
            Some(len) if len <= shared.inline_body_limit as u64 && !awaits_continue => {
                match request_body::read_inline(&mut body, len as usize).await {
                    Inline::Complete(received) => BodyPayload::Complete(received),
                    // The client left mid-body. Node has dispatched the request on its head by
                    // then, so the handlers get it all the same: what came, then the abort.
                    Inline::CutShort(received) => {
                        cut_short = Some(received);
                        BodyPayload::Streaming
                    }
                    // Still coming: the handlers get the request now, as from Node, and the body
                    // streams, starting with what already came.
                    Inline::Late(received) => {
                        pump = Some(spawn_pump(body, false, received));
                        BodyPayload::Streaming
                    }
                }
            }
            _ => {
                pump = Some(spawn_pump(body, awaits_continue, BytesMut::new()));
                BodyPayload::Streaming
            }
        }
    };

    connection.announce_to(queue);
    let head = RequestHead {
        id,
        connection: connection.info.id,
        method: parts.method,
        target,
        http_minor: if parts.version == http::Version::HTTP_10 {
            0
        } else {
            1
        },
        headers: parts.headers,
        body: payload,
        candidates,
        prelude,
        beyond_max_requests,
    };
    let (respond, response) = oneshot::channel();
    let handed_over = tunnel.is_some();
    // The slot gives the thread's count back when the request ends.
    counted.hand_to_slot();
    Exchange::global().register(
        id,
        respond,
        pump,
        queue.clone(),
        raw_headers,
        tunnel,
        settlement,
    );
    let mut guard = AbortGuard { id, armed: true };
    if !queue.push(Event::Request(Box::new(head))) {
        // The thread died since it was chosen: the guard closes the request.
        return Err(CloseConnection("the request's thread is gone"));
    }
    if let Some(received) = cut_short {
        if !received.is_empty() {
            queue.push(Event::Body {
                id,
                chunk: received,
            });
        }
        // The guard reports the abort and frees the slot; the connection is gone.
        return Err(CloseConnection("client left mid-body"));
    }
    let answered = tokio::select! {
        biased;
        answered = response => answered.ok(),
        () = wire.peer_gone() => {
            guard.armed = false;
            // The client closed after sending this request whole: the request is the handlers'
            // all the same (its body handed over whole), then they hear the connection is gone.
            if let Some(pump) = Exchange::global().lost(id) {
                let _ = tokio::time::timeout(Duration::from_secs(2), pump.reported()).await;
            }
            return Err(CloseConnection("client left"));
        }
    };
    guard.armed = false;
    let Some(mut response) = answered else {
        // A body the reader refused (malformed chunked framing): Node's refusal, if nothing was
        // sent yet. Else the handler destroyed the request.
        if let Some(status) = wire.body_refusal() {
            wire.engine_refuses(number);
            return Ok(native::refusal(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            ));
        }
        return Err(CloseConnection("destroyed by the handler"));
    };
    response.body().goes_out_on(&connection.streams);
    // A handed-over connection's head was written raw by the handler: nothing is added.
    if !handed_over {
        if let Some(headers) = carried_headers {
            crate::prelude::finish(&mut response, headers);
        }
        if refused_body {
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        complete_head(
            &mut response,
            wire,
            keep_alive,
            last_allowed,
            &shared.keep_alive_hint,
        );
    }
    Ok(response)
}

/// A header map of the first `lines` lines of a recording (`name\nvalue\n...`).
fn headers_of(raw: &[u8], lines: usize) -> http::HeaderMap {
    let mut headers = http::HeaderMap::with_capacity(lines.min(raw.len() / 2));
    let mut parts = raw.split(|&b| b == b'\n');
    for _ in 0..lines {
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            break;
        };
        // The reader checked both, as strictly as the http crate.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// HTTP/1.1 keeps the connection unless the client says close; HTTP/1.0 only if it asks.
fn wants_keep_alive(version: http::Version, headers: &http::HeaderMap) -> bool {
    let connection = |token: &str| {
        headers.get_all(http::header::CONNECTION).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    match version {
        http::Version::HTTP_10 => connection("keep-alive"),
        _ => !connection("close"),
    }
}

/// Named once: a name given as text is parsed on every insert.
const KEEP_ALIVE: http::HeaderName = http::HeaderName::from_static("keep-alive");

/// The headers Node adds after the app's, in Node's order: `Date` unless the app set one (or
/// turned `sendDate` off), then, on a kept-alive connection, `Connection: keep-alive` and
/// `Keep-Alive: timeout=5` (clients and byte-for-byte comparisons with Express expect them), else
/// `Connection: close`. The timeout is `server.keepAliveTimeout` in seconds: the engine's own
/// idle limit is never shorter. From the `last_allowed` request of maxRequestsPerSocket on, Node
/// says `Connection: close` on a connection it keeps open: hyper is told a word it keeps the
/// connection for, which the response writer puts as `close`.
fn complete_head(
    response: &mut Response<ResponseBody>,
    wire: &ConnectionWire,
    keep_alive: bool,
    last_allowed: bool,
    keep_alive_hint: &RwLock<Option<http::HeaderValue>>,
) {
    if last_allowed {
        wire.says_close_kept_open();
    }
    let send_date = response.extensions().get::<NoDate>().is_none();
    let headers = response.headers_mut();
    if send_date && !headers.contains_key(http::header::DATE) {
        headers.insert(http::header::DATE, crate::date::now());
    }
    if headers.contains_key(http::header::CONNECTION) {
        return;
    }
    if !keep_alive {
        // hyper would add it only for HTTP/1.1; Node says it to HTTP/1.0 clients too.
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        return;
    }
    if last_allowed {
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static(CLOSE_KEPT_OPEN),
        );
        return;
    }
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("keep-alive"),
    );
    if let Some(hint) = keep_alive_hint
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        headers.insert(KEEP_ALIVE, hint.clone());
    }
}
