//! One connection: hyper serving it over the wire reader and writer, and the service that turns
//! each request hyper dispatches into an event for the handlers (or answers it natively).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use crate::body::ResponseBody;
use crate::bridge::{BodyPayload, ConnectionInfo, Event, EventQueue, RequestHead};
use crate::exchange::Exchange;
use crate::handover::HandOver;
use crate::head::NoDate;
use crate::native;
use crate::request_body::{self, BodyPump, Inline};
use crate::routing::{self, Entered, RoutingMirror};
use crate::shutdown::Closing;
use crate::wire::{ConnectionWire, HandOverKind, Timeouts, WireIo};

/// What every connection of a server shares.
pub(crate) struct Shared {
    pub(crate) queue: Arc<EventQueue>,
    /// `timeout=N` for the Keep-Alive header, None when keepAliveTimeout is 0.
    keep_alive_hint: RwLock<Option<http::HeaderValue>>,
    pub(crate) timeouts: Arc<Timeouts>,
    pub(crate) routing: Arc<RoutingMirror>,
    /// Request heads over this many bytes are refused (431).
    max_header_size: usize,
    /// A body announced with a Content-Length up to this size, and arriving with its head, is
    /// read before dispatch.
    inline_body_limit: usize,
    builder: http1::Builder,
    pub(crate) connections: AtomicUsize,
}

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// hyper's own limit on request headers when none is set.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

impl Shared {
    pub(crate) fn new(
        queue: Arc<EventQueue>,
        routing: Arc<RoutingMirror>,
        limits: &crate::Limits,
    ) -> Self {
        let mut builder = http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            // The wire reader times heads out as Node does (408); hyper's timer would close
            // without a word, and covers the idle wait with the same duration.
            .header_read_timeout(None)
            .keep_alive(true)
            // Names the app wrote in another case carry a case map (see header_case); the rest are
            // Title-Case, which is how Express and most middleware spell them.
            .title_case_headers(true)
            // The engine adds Date itself, before Connection as Node does; hyper would append it last.
            .auto_date_header(false)
            // No pipeline_flush: with it, hyper 1.12 drops the automatic 400/431 of a malformed
            // request (the aggregated flush never happens before the connection closes).
            .max_header_size(limits.max_header_size);
        // hyper's default is 100 headers, kept in arrays on the stack; an explicit count makes it
        // fill heap arrays of that size for every request (measured ~2% of the I/O thread).
        if limits.max_headers != HYPER_DEFAULT_MAX_HEADERS {
            builder.max_headers(limits.max_headers);
        }
        let shared = Shared {
            queue,
            keep_alive_hint: RwLock::new(None),
            timeouts: Arc::new(Timeouts::new(limits.headers_timeout, limits.keep_alive)),
            routing,
            max_header_size: limits.max_header_size,
            inline_body_limit: limits.inline_body_limit,
            builder,
            connections: AtomicUsize::new(0),
        };
        shared.set_timeouts(limits.headers_timeout, limits.keep_alive);
        shared
    }

    /// Node's `server.headersTimeout` and `server.keepAliveTimeout`: every connection follows
    /// them from its next wait on, and the Keep-Alive hint changes at once.
    pub(crate) fn set_timeouts(&self, headers: Duration, keep_alive: Duration) {
        self.timeouts.set(headers, keep_alive);
        let hint = (!keep_alive.is_zero())
            .then(|| http::HeaderValue::from_str(&format!("timeout={}", keep_alive.as_secs())).ok())
            .flatten();
        *self
            .keep_alive_hint
            .write()
            .unwrap_or_else(|e| e.into_inner()) = hint;
    }
}

/// The peers of an accepted connection, as Node reports them (none on a Unix socket).
pub(crate) struct Peers {
    pub(crate) remote: Option<std::net::SocketAddr>,
    pub(crate) local: Option<std::net::SocketAddr>,
}

struct Connection {
    info: ConnectionInfo,
    /// The handlers know this connection once its addresses were sent with a first request.
    announced: AtomicBool,
    shared: Arc<Shared>,
    wire: Arc<ConnectionWire>,
}

/// Serves one accepted connection until it closes (or the server closes it), then reports it.
pub(crate) async fn serve<T>(stream: T, peers: Peers, shared: Arc<Shared>, closing: Closing)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let wire = Arc::new(ConnectionWire::new(
        shared.routing.listeners.clone(),
        shared.timeouts.clone(),
    ));
    let connection = Arc::new(Connection {
        info: ConnectionInfo {
            id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
            remote: peers.remote,
            local: peers.local,
        },
        announced: AtomicBool::new(false),
        shared: shared.clone(),
        wire: wire.clone(),
    });
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let io = TokioIo::new(WireIo::new(stream, wire, shared.max_header_size));
    let service_connection = connection.clone();
    let service = service_fn(move |req| handle(req, service_connection.clone()));
    // with_upgrades: a 101 (or a 2xx to CONNECT) hands the socket to the tunnel.
    let serving = shared.builder.serve_connection(io, service).with_upgrades();
    closing.supervise(serving).await;
    shared.connections.fetch_sub(1, Ordering::Relaxed);
    if connection.announced.load(Ordering::Acquire) {
        shared.queue.push(Event::ConnectionClosed {
            id: connection.info.id,
        });
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
        .filter(|r| r.lines == req.headers().len())
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
    let mut tunnel = recorded.hand_over.map(|kind| HandOver {
        connect: kind == HandOverKind::Connect,
        upgrade: hyper::upgrade::on(&mut req),
        already_delivered: 0,
        paused: false,
    });
    let (parts, mut body) = req.into_parts();
    let keep_alive = wants_keep_alive(parts.version, &parts.headers);
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
    // A handed-over connection belongs to the 'upgrade' / 'connect' listener, not to the app:
    // the app's native prelude and route mirror answer, or say what the handlers get.
    let entered = match (target_text, path) {
        (Some(target), Some(path)) if tunnel.is_none() => routing::enter(
            &shared.routing,
            &shared.queue,
            &parts.method,
            &parts.headers,
            target,
            path,
            connection.info.remote,
        ),
        _ => Entered::dispatch(),
    };
    let (candidates, prelude, carried_headers, settlement) = match entered {
        Entered::Answered(mut response) => {
            complete_head(&mut response, keep_alive, &shared.keep_alive_hint);
            return Ok(response);
        }
        Entered::Dispatch {
            candidates,
            carried,
        } => match carried {
            Some(carried) => (
                candidates,
                Some(carried.text()),
                Some(carried.headers),
                Some(carried.settlement),
            ),
            None => (candidates, None, None, None),
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
            shared.queue.clone(),
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

    if !connection.announced.swap(true, Ordering::AcqRel) {
        shared
            .queue
            .push(Event::Connection(connection.info.clone()));
    }
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
    };
    let (respond, response) = oneshot::channel();
    let handed_over = tunnel.is_some();
    Exchange::global().register(
        id,
        respond,
        pump,
        shared.queue.clone(),
        raw_headers,
        tunnel,
        settlement,
    );
    let mut guard = AbortGuard { id, armed: true };
    shared.queue.push(Event::Request(Box::new(head)));
    if let Some(received) = cut_short {
        if !received.is_empty() {
            shared.queue.push(Event::Body {
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
    // A handed-over connection's head was written raw by the handler: nothing is added.
    if !handed_over {
        if let Some(headers) = carried_headers {
            crate::prelude::finish(&mut response, headers);
        }
        complete_head(&mut response, keep_alive, &shared.keep_alive_hint);
    }
    Ok(response)
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

/// The headers Node adds after the app's, in Node's order: `Date` unless the app set one (or
/// turned `sendDate` off), then, on a kept-alive connection, `Connection: keep-alive` and
/// `Keep-Alive: timeout=5` (clients and byte-for-byte comparisons with Express expect them), else
/// `Connection: close`. The timeout is `server.keepAliveTimeout` in seconds: the engine's own
/// idle limit is never shorter.
fn complete_head(
    response: &mut Response<ResponseBody>,
    keep_alive: bool,
    keep_alive_hint: &RwLock<Option<http::HeaderValue>>,
) {
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
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("keep-alive"),
    );
    if let Some(hint) = keep_alive_hint
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        headers.insert("keep-alive", hint.clone());
    }
}
