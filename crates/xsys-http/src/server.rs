//! Listeners, connections and the per-request service.

use std::future::poll_fn;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use xsys_router::{Lookup, Methods, RouteTable};

use crate::body::ResponseBody;
use crate::bridge::{BodyPayload, ConnectionInfo, Event, EventQueue, LayerCandidates, RequestHead};
use crate::exchange::{BodyPump, Exchange, HandOver};
use crate::native::NotFoundPage;
use crate::prelude::{Entered, HeaderList, Prelude};
use crate::runtime::runtime;
use crate::wire::{Recordings, WireIo};
use crate::Error;

/// Bounds that keep one client from holding the server's resources.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time allowed to receive a request head, idle keep-alive wait included (hyper has one knob).
    pub headers_timeout: Duration,
    /// Request line plus headers, in bytes (Node's default: 16 KiB); beyond it, 431.
    pub max_header_size: usize,
    /// Number of request headers; beyond it, 431.
    pub max_headers: usize,
    /// A body announced with a Content-Length up to this size, and arriving with its head, is read
    /// before dispatch and comes with the request; a larger, chunked or slower one streams.
    pub inline_body_limit: usize,
    /// Node's `server.keepAliveTimeout`: announced in `Keep-Alive: timeout=N` (not at all when
    /// zero), and an idle connection is kept at least this long (load balancers that reuse
    /// connections for 60 s rely on it).
    pub keep_alive: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            headers_timeout: Duration::from_secs(30),
            max_header_size: 16 * 1024,
            max_headers: 100,
            inline_body_limit: 64 * 1024,
            keep_alive: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// A Unix socket path to listen on instead of a TCP port (Node's `listen(path)`).
    pub path: Option<std::path::PathBuf>,
    /// None listens on `::` (dual stack) when IPv6 is available, else `0.0.0.0`, as Node does.
    pub host: Option<String>,
    pub port: u16,
    pub backlog: i32,
    pub limits: Limits,
}

/// What the engine knows of the app: the mirrored route table and the settings that shape the
/// responses it gives natively.
pub struct RoutingMirror {
    table: RwLock<Option<RouteTable>>,
    /// What a request no layer can match gets; without one such requests go to the handlers.
    not_found: RwLock<Option<Arc<NotFoundPage>>>,
    /// The headers a response has before the app's stack runs (Express's X-Powered-By), which
    /// native answers start from.
    initial: RwLock<Arc<HeaderList>>,
    /// The app's leading middleware, run natively before the table is asked.
    prelude: RwLock<Option<Arc<Prelude>>>,
    connect_listener: AtomicBool,
    upgrade_listener: AtomicBool,
    version: AtomicU32,
}

impl RoutingMirror {
    pub fn new() -> Arc<Self> {
        Arc::new(RoutingMirror {
            table: RwLock::new(None),
            not_found: RwLock::new(None),
            initial: RwLock::new(Arc::default()),
            prelude: RwLock::new(None),
            connect_listener: AtomicBool::new(false),
            upgrade_listener: AtomicBool::new(false),
            version: AtomicU32::new(0),
        })
    }

    /// Tags the table with the JS stack version it mirrors; requests carry it with their
    /// candidates so JS can tell a stale match from a current one.
    pub fn set_version(&self, version: u32) {
        self.version.store(version, Ordering::Relaxed);
    }

    /// Changes the table; `None` turns native routing off (every request goes to the handlers).
    pub fn update<R>(&self, change: impl FnOnce(&mut Option<RouteTable>) -> R) -> R {
        change(&mut self.table.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// The page for requests no layer can match (the framework's 404).
    pub fn set_not_found(&self, page: NotFoundPage) {
        *self.not_found.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(page));
    }

    pub(crate) fn not_found(&self) -> Option<Arc<NotFoundPage>> {
        self.not_found
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The headers every response has before the app's stack runs, as a header block
    /// (`name:value\n`...), in the case and order the framework sets them.
    pub fn set_initial_headers(&self, block: &str) -> Result<(), Error> {
        let headers = HeaderList::from_block(block)?;
        *self.initial.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(headers);
        Ok(())
    }

    pub(crate) fn initial_headers(&self) -> HeaderList {
        self.initial
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .copy_with_room()
    }

    /// Installs (or, with `None`, removes) the app's native prelude.
    pub fn set_prelude(&self, prelude: Option<Prelude>) {
        *self.prelude.write().unwrap_or_else(|e| e.into_inner()) = prelude.map(Arc::new);
    }

    pub(crate) fn prelude(&self) -> Option<Arc<Prelude>> {
        self.prelude
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Without a `'connect'` listener, Node closes a CONNECT request's connection.
    pub fn set_connect_listener(&self, on: bool) {
        self.connect_listener.store(on, Ordering::Relaxed);
    }

    /// With an `'upgrade'` listener, Node hands an Upgrade request's connection to it.
    pub fn set_upgrade_listener(&self, on: bool) {
        self.upgrade_listener.store(on, Ordering::Relaxed);
    }

    /// What the table says about a request: Express's 404 or automatic OPTIONS answer when no
    /// layer will handle it, else the layers (stack indices) the JS router has to visit.
    pub(crate) fn route(&self, method: &Method, path: &str) -> Routed {
        if !path.starts_with('/') {
            return Routed::Dispatch(None);
        }
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let Some(table) = table.as_ref() else {
            return Routed::Dispatch(None);
        };
        let layers = match table.find(path) {
            Lookup::Layers(layers) => layers,
            Lookup::Defer => return Routed::Dispatch(None),
        };
        let candidates = |ids: Vec<u32>| {
            Routed::Dispatch(Some(LayerCandidates {
                version: self.version.load(Ordering::Relaxed),
                ids,
            }))
        };
        // Without the framework's page the handlers answer, visiting no layer that cannot run.
        let answers = self
            .not_found
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if layers.is_empty() {
            return if answers {
                Routed::NotFound
            } else {
                candidates(Vec::new())
            };
        }
        if answers {
            if let Some(answer) = unhandled(method, &layers) {
                return answer;
            }
        }
        candidates(layers.iter().map(|layer| layer.id.0).collect())
    }
}

/// When only routes match and none handles the method, router@2 runs none of them: OPTIONS gets
/// its `Allow` answer, anything else falls through to the 404. Decided here only where JS could
/// not tell otherwise: no middleware among them, and no parameter that JS would decode (a bad
/// escape is a 400 there) or hand to `app.param` callbacks (which run for HEAD).
fn unhandled(method: &Method, layers: &[xsys_router::LayerMatch<'_, '_>]) -> Option<Routed> {
    let request = Methods::from_name(method.as_str());
    let mut allowed = Methods::NONE;
    for layer in layers {
        let params_safe = if *method == Method::HEAD {
            layer.params.is_empty()
        } else {
            layer.params.iter().all(|(_, value)| !value.contains('%'))
        };
        if !layer.end || layer.methods.may_handle(request) || !params_safe {
            return None;
        }
        allowed |= layer.methods;
    }
    if *method != Method::OPTIONS {
        return Some(Routed::NotFound);
    }
    match allowed.allow_header()? {
        allow if allow.is_empty() => Some(Routed::NotFound),
        allow => Some(Routed::Allow(allow)),
    }
}

/// What the route mirror says about a request.
pub(crate) enum Routed {
    /// No layer will handle it: Express's 404.
    NotFound,
    /// OPTIONS that only routes of other methods match: router@2's answer with this `Allow`.
    Allow(String),
    /// On to JS, with the matching layers when known.
    Dispatch(Option<LayerCandidates>),
}

struct Shared {
    queue: Arc<EventQueue>,
    /// `timeout=N` for the Keep-Alive header, None when keepAliveTimeout is 0.
    keep_alive_hint: RwLock<Option<http::HeaderValue>>,
    /// hyper's head timer for new connections, in ms: the longer of headersTimeout and
    /// keepAliveTimeout (it covers the idle wait too).
    head_timer_ms: AtomicU64,
    /// Bumped by `close_all_connections`: every connection open at that moment closes.
    cut: watch::Sender<u64>,
    routing: Arc<RoutingMirror>,
    limits: Limits,
    connections: AtomicUsize,
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Unix(std::path::PathBuf),
}

impl Shared {
    fn set_timeouts(&self, headers: Duration, keep_alive: Duration) {
        let hint = (!keep_alive.is_zero())
            .then(|| http::HeaderValue::from_str(&format!("timeout={}", keep_alive.as_secs())).ok())
            .flatten();
        *self
            .keep_alive_hint
            .write()
            .unwrap_or_else(|e| e.into_inner()) = hint;
        let timer = headers
            .max(keep_alive)
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX);
        self.head_timer_ms.store(timer, Ordering::Relaxed);
    }
}

pub struct Server {
    shared: Arc<Shared>,
    bound: Bound,
    shutdown: watch::Sender<bool>,
}

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// hyper's own limit on request headers when none is set.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

impl Server {
    /// Binds synchronously (so EADDRINUSE is known at once), then accepts on the shared runtime.
    /// When `close` has been called and the last connection is gone, `Event::Closed` is queued.
    pub fn listen(
        options: ListenOptions,
        queue: Arc<EventQueue>,
        routing: Arc<RoutingMirror>,
    ) -> Result<Server, Error> {
        let rt = runtime();
        let _enter = rt.enter();
        let shared = Arc::new(Shared {
            keep_alive_hint: RwLock::new(None),
            head_timer_ms: AtomicU64::new(0),
            queue,
            cut: watch::Sender::new(0),
            routing,
            limits: options.limits.clone(),
            connections: AtomicUsize::new(0),
        });
        shared.set_timeouts(options.limits.headers_timeout, options.limits.keep_alive);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let bound = match &options.path {
            Some(path) => {
                let listener = std::os::unix::net::UnixListener::bind(path)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .and_then(tokio::net::UnixListener::from_std)
                    .map_err(|e| Error::listen(e, path.display().to_string()))?;
                // Node removes its socket file when the server closes.
                rt.spawn(accept_loop(
                    listener,
                    shared.clone(),
                    shutdown_rx,
                    Some(path.clone()),
                ));
                Bound::Unix(path.clone())
            }
            None => {
                let std_listener = bind(&options)?;
                let local_addr = std_listener
                    .local_addr()
                    .map_err(|e| Error::listen(e, describe(&options)))?;
                let listener = TcpListener::from_std(std_listener)
                    .map_err(|e| Error::listen(e, describe(&options)))?;
                rt.spawn(accept_loop(listener, shared.clone(), shutdown_rx, None));
                Bound::Tcp(local_addr)
            }
        };
        Ok(Server {
            shared,
            bound,
            shutdown,
        })
    }

    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// The TCP address; a Unix socket server has none.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.bound {
            Bound::Tcp(addr) => Some(addr),
            Bound::Unix(_) => None,
        }
    }

    /// Open connections (Node's `server.getConnections`).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes idle connections, lets in-flight requests finish.
    pub fn close(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Node's `server.headersTimeout` and `server.keepAliveTimeout`, changed while listening:
    /// the Keep-Alive hint changes at once, the timer for connections accepted from now on.
    pub fn set_timeouts(&self, headers: Duration, keep_alive: Duration) {
        self.shared.set_timeouts(headers, keep_alive);
    }

    /// Closes every HTTP connection now, busy or idle (Node's `server.closeAllConnections()`);
    /// requests in flight are aborted. Handed-over connections are not HTTP any more and stay.
    pub fn close_all_connections(&self) {
        self.shared.cut.send_modify(|generation| *generation += 1);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

fn describe(options: &ListenOptions) -> String {
    match &options.host {
        Some(host) if host.contains(':') => format!("[{host}]:{}", options.port),
        Some(host) => format!("{host}:{}", options.port),
        None => format!(":::{}", options.port),
    }
}

fn bind(options: &ListenOptions) -> Result<std::net::TcpListener, Error> {
    let addrs: Vec<SocketAddr> = match &options.host {
        None => vec![
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, options.port)),
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, options.port)),
        ],
        Some(host) => (host.as_str(), options.port)
            .to_socket_addrs()
            .map_err(|e| Error::resolve(host, Some(e)))?
            .collect(),
    };
    let mut last_error = None;
    for addr in addrs {
        match bind_one(addr, options.backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => Error::listen(e, describe(options)),
        None => Error::resolve(options.host.as_deref().unwrap_or(""), None),
    })
}

fn bind_one(addr: SocketAddr, backlog: i32) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As Node: rebinding a port in TIME_WAIT works, and `::` also accepts IPv4.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The peers of an accepted connection, as Node reports them (none on a Unix socket).
struct Peers {
    remote: Option<SocketAddr>,
    local: Option<SocketAddr>,
}

/// A listening socket the accept loop can take connections from.
trait Acceptor: Send + 'static {
    type Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<(Self::Io, Peers)>>;
}

impl Acceptor for TcpListener {
    type Io = tokio::net::TcpStream;
    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<(Self::Io, Peers)>> {
        TcpListener::poll_accept(self, cx).map_ok(|(stream, remote)| {
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().unwrap_or(remote);
            (
                stream,
                Peers {
                    remote: Some(remote),
                    local: Some(local),
                },
            )
        })
    }
}

impl Acceptor for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<(Self::Io, Peers)>> {
        tokio::net::UnixListener::poll_accept(self, cx).map_ok(|(stream, _)| {
            (
                stream,
                Peers {
                    remote: None,
                    local: None,
                },
            )
        })
    }
}

async fn accept_loop<A: Acceptor>(
    listener: A,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    unlink_on_close: Option<std::path::PathBuf>,
) {
    // Every connection task holds a clone; when the last is gone, every connection has closed.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        // Names the app wrote in another case carry a case map (see header_case); the rest are
        // Title-Case, which is how Express and most middleware spell them.
        .title_case_headers(true)
        // The engine adds Date itself, before Connection as Node does; hyper would append it last.
        .auto_date_header(false)
        // No pipeline_flush: with it, hyper 1.12 drops the automatic 400/431 of a malformed request
        // (the aggregated flush never happens before the connection closes).
        .max_header_size(shared.limits.max_header_size);
    // hyper's default is 100 headers, kept in arrays on the stack; an explicit count makes it
    // fill heap arrays of that size for every request (measured ~2% of the I/O thread).
    if shared.limits.max_headers != HYPER_DEFAULT_MAX_HEADERS {
        builder.max_headers(shared.limits.max_headers);
    }
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            accepted = poll_fn(|cx| listener.poll_accept(cx)) => match accepted {
                Ok((stream, peers)) => {
                    // hyper's one timer covers the idle wait and the head (see set_timeouts).
                    builder.header_read_timeout(Duration::from_millis(shared.head_timer_ms.load(Ordering::Relaxed)));
                    let connection = Arc::new(Connection {
                        info: ConnectionInfo {
                            id: NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed),
                            remote: peers.remote,
                            local: peers.local,
                        },
                        announced: AtomicBool::new(false),
                        shared: shared.clone(),
                        recordings: Arc::default(),
                    });
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    let service_connection = connection.clone();
                    let service = service_fn(move |req| handle(req, service_connection.clone()));
                    let io = TokioIo::new(WireIo::new(stream, connection.recordings.clone()));
                    // with_upgrades: a 101 (or a 2xx to CONNECT) hands the socket to the tunnel.
                    let serving = builder.serve_connection(io, service).with_upgrades();
                    let mut stop = shutdown.clone();
                    let mut cut = shared.cut.subscribe();
                    let alive = alive.clone();
                    tokio::spawn(async move {
                        let mut serving = std::pin::pin!(serving);
                        let stopping = async move { stop.wait_for(|&stopping| stopping).await.is_ok() };
                        tokio::select! {
                            _ = serving.as_mut() => {}
                            // Dropping the connection closes its socket.
                            Ok(()) = cut.changed() => {}
                            // Server closing: finish the request in flight, then close, as Node.
                            true = stopping => {
                                serving.as_mut().graceful_shutdown();
                                let _ = serving.await;
                            }
                        }
                        connection.shared.connections.fetch_sub(1, Ordering::Relaxed);
                        if connection.announced.load(Ordering::Acquire) {
                            connection.shared.queue.push(Event::ConnectionClosed { id: connection.info.id });
                        }
                        drop(alive);
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
    drop(listener);
    if let Some(path) = unlink_on_close {
        let _ = std::fs::remove_file(path);
    }
    drop(alive);
    let _ = all_closed.recv().await;
    shared.queue.push(Event::Closed);
}

struct Connection {
    info: ConnectionInfo,
    /// The handlers know this connection once its addresses were sent with a first request.
    announced: AtomicBool,
    shared: Arc<Shared>,
    /// The request heads as sent, in order (see `wire`).
    recordings: Arc<Recordings>,
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
/// head went out (the client disconnected), and tells the handlers.
struct AbortGuard {
    id: u64,
    armed: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if self.armed {
            if let Some(queue) = Exchange::global().abandon(self.id) {
                queue.push(Event::Aborted { id: self.id });
            }
        }
    }
}

async fn handle(
    mut req: Request<Incoming>,
    connection: Arc<Connection>,
) -> Result<Response<ResponseBody>, CloseConnection> {
    let shared = &connection.shared;
    let hand_over = (req.method() == Method::CONNECT
        && shared.routing.connect_listener.load(Ordering::Relaxed))
        || (shared.routing.upgrade_listener.load(Ordering::Relaxed) && asks_upgrade(req.headers()));
    let mut tunnel = hand_over.then(|| HandOver {
        connect: req.method() == Method::CONNECT,
        upgrade: hyper::upgrade::on(&mut req),
        already_delivered: 0,
    });
    let (parts, mut body) = req.into_parts();
    let recorded = connection.recordings.next();
    if recorded.as_ref().is_some_and(|r| r.refused) {
        return Ok(bad_request());
    }
    // Recorded as this very head came in; a count that disagrees means it is not this one's.
    let recorded = recorded.filter(|r| r.lines == parts.headers.len());
    let keep_alive = wants_keep_alive(parts.version, &parts.headers);
    // As Node's parser: a method it does not know is a 400; so is HTTP/1.1 without Host, which
    // Node's server answers with a (chunked, empty) response of its own.
    if !is_node_method(parts.method.as_str()) {
        return Ok(bad_request());
    }
    if parts.version == http::Version::HTTP_11 && !parts.headers.contains_key(http::header::HOST) {
        return Ok(missing_host());
    }
    if parts.method == Method::CONNECT && !shared.routing.connect_listener.load(Ordering::Relaxed) {
        return Err(CloseConnection("CONNECT without a 'connect' listener"));
    }
    // Node's req.url: the target as sent, fragment included.
    let (target, raw_headers, after_head) = match recorded {
        Some(recorded) => (
            recorded.original_target,
            Some(recorded.raw_headers),
            recorded.after_head,
        ),
        None => (None, None, Bytes::new()),
    };
    let target = target.unwrap_or_else(|| match parts.uri.path_and_query() {
        Some(pq) if parts.uri.scheme().is_none() => Bytes::copy_from_slice(pq.as_str().as_bytes()),
        _ => Bytes::from(parts.uri.to_string()),
    });
    if parts.method != Method::CONNECT && !crate::target::node_parser_accepts(&target) {
        return Ok(bad_request());
    }
    // The one reading of the target that JS makes too (see target.rs). The target is ASCII:
    // bytes above it are refused before hyper parses the line.
    let path = std::str::from_utf8(&target)
        .ok()
        .and_then(|target| crate::target::read(target).pathname);
    // A handed-over connection belongs to the 'upgrade' / 'connect' listener, not to the app.
    let remote = connection.info.remote;
    let (candidates, carried) = match path {
        Some(path) if tunnel.is_none() => {
            match crate::prelude::enter(
                &shared.routing,
                &shared.queue,
                &parts.method,
                &parts.headers,
                path,
                remote,
            ) {
                Entered::Answered(mut response) => {
                    complete_head(&mut response, keep_alive, &shared.keep_alive_hint);
                    return Ok(response);
                }
                Entered::Dispatch {
                    candidates,
                    carried,
                } => (candidates, carried),
            }
        }
        _ => (None, None),
    };
    let (prelude, carried_headers, settlement) = match carried {
        Some(carried) => {
            let text = carried.text();
            (Some(text), Some(carried.headers), Some(carried.settlement))
        }
        None => (None, None, None),
    };

    let id = Exchange::next_id();
    let mut pump = None;
    let mut left_mid_body: Option<Bytes> = None;
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
            Some(len) if len <= shared.limits.inline_body_limit as u64 && !awaits_continue => {
                let mut received = BytesMut::with_capacity(len as usize);
                let read_whole = async {
                    while let Some(frame) = body.frame().await {
                        match frame {
                            Ok(frame) => received
                                .extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..])),
                            Err(_) => return false,
                        }
                    }
                    true
                };
                match tokio::time::timeout(INLINE_BODY_GRACE, read_whole).await {
                    Ok(true) => BodyPayload::Complete(received.freeze()),
                    // The client left mid-body. Node has dispatched the request on its head by
                    // then, so the handlers get it all the same: what came, then the abort.
                    Ok(false) => {
                        left_mid_body = Some(received.freeze());
                        BodyPayload::Streaming
                    }
                    // Still coming: the handlers get the request now, as from Node, and the body
                    // streams, starting with what already came.
                    Err(_) => {
                        let control = BodyPump::new();
                        pump = Some(control.clone());
                        tokio::spawn(pump_body(
                            id,
                            body,
                            control,
                            shared.queue.clone(),
                            false,
                            received,
                        ));
                        BodyPayload::Streaming
                    }
                }
            }
            _ => {
                let control = BodyPump::new();
                pump = Some(control.clone());
                tokio::spawn(pump_body(
                    id,
                    body,
                    control,
                    shared.queue.clone(),
                    awaits_continue,
                    BytesMut::new(),
                ));
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
    if let Some(received) = left_mid_body {
        if !received.is_empty() {
            shared.queue.push(Event::Body {
                id,
                chunk: received,
            });
        }
        // The guard reports the abort and frees the slot; the connection is gone.
        return Err(CloseConnection("client left mid-body"));
    }
    let outcome = response.await;
    guard.armed = false;
    let mut response = outcome.map_err(|_| CloseConnection("destroyed by the handler"))?;
    // A handed-over connection's head was written raw by the handler: nothing is added.
    if !handed_over {
        if let Some(headers) = carried_headers {
            crate::prelude::finish(&mut response, headers);
        }
        complete_head(&mut response, keep_alive, &shared.keep_alive_hint);
    }
    Ok(response)
}

/// An Upgrade header with `upgrade` among the Connection tokens, as Node's parser reads it.
fn asks_upgrade(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::UPGRADE)
        && headers.get_all(http::header::CONNECTION).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
        })
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
/// turned `sendDate` off), then,
/// on a kept-alive connection, `Connection: keep-alive` and `Keep-Alive: timeout=5` (clients and
/// byte-for-byte comparisons with Express expect them), else `Connection: close`. The timeout is
/// `server.keepAliveTimeout` in seconds: the engine's own idle limit is never shorter.
fn complete_head(
    response: &mut Response<ResponseBody>,
    keep_alive: bool,
    keep_alive_hint: &RwLock<Option<http::HeaderValue>>,
) {
    let send_date = response
        .extensions()
        .get::<crate::exchange::NoDate>()
        .is_none();
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

/// The methods Node's HTTP parser accepts (`http.METHODS`).
fn is_node_method(method: &str) -> bool {
    matches!(
        method,
        "GET"
            | "POST"
            | "PUT"
            | "DELETE"
            | "HEAD"
            | "OPTIONS"
            | "PATCH"
            | "ACL"
            | "BIND"
            | "CHECKOUT"
            | "CONNECT"
            | "COPY"
            | "LINK"
            | "LOCK"
            | "M-SEARCH"
            | "MERGE"
            | "MKACTIVITY"
            | "MKCALENDAR"
            | "MKCOL"
            | "MOVE"
            | "NOTIFY"
            | "PROPFIND"
            | "PROPPATCH"
            | "PURGE"
            | "QUERY"
            | "REBIND"
            | "REPORT"
            | "SEARCH"
            | "SOURCE"
            | "SUBSCRIBE"
            | "TRACE"
            | "UNBIND"
            | "UNLINK"
            | "UNLOCK"
            | "UNSUBSCRIBE"
    )
}

fn bad_request() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::none());
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// Node's answer to HTTP/1.1 without Host: `writeHead(400, ['Connection', 'close'])` and `end()`.
fn missing_host() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Bytes::new()));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    headers.insert(http::header::DATE, crate::date::now());
    headers.insert(
        http::header::TRANSFER_ENCODING,
        http::HeaderValue::from_static("chunked"),
    );
    response
}

/// How long a small announced body may take to follow its head before the request is handed to
/// the handlers without it (it then streams). Bodies sent with their head arrive well within it.
const INLINE_BODY_GRACE: Duration = Duration::from_millis(10);

/// Time allowed to receive a whole request body (Node's `server.requestTimeout` default).
const BODY_DEADLINE: Duration = Duration::from_secs(300);

/// Most bytes handed to the handlers per read request.
const PUMP_CHUNK: usize = 64 * 1024;

/// Reads a streaming request body as the handlers ask for it, so a slow reader slows the client
/// (TCP backpressure) instead of filling memory.
/// After the response, at most this much of an unread request body is read and dropped before
/// the connection is closed instead.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// Reads and drops what is left of a body the handlers did not read, within bounds, so hyper can
/// keep the connection (it closes one whose request body was left unread).
async fn drain(mut body: Incoming) {
    let mut drained = 0u64;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(frame)) = body.frame().await {
            drained += frame.data_ref().map_or(0, |d| d.len() as u64);
            if drained > DRAIN_LIMIT {
                return;
            }
        }
    })
    .await;
}

async fn pump_body(
    id: u64,
    mut body: Incoming,
    control: Arc<BodyPump>,
    queue: Arc<EventQueue>,
    awaits_continue: bool,
    already_read: BytesMut,
) {
    // The handlers asked for the body at least once / and have not been answered yet.
    let (mut started, mut owed) = (false, false);
    let mut pending = already_read;
    let mut ended = false;
    // As Node's requestTimeout: a body still not complete after this is given up on.
    let deadline = tokio::time::sleep(BODY_DEADLINE);
    tokio::pin!(deadline);
    loop {
        // Up to a chunk is read ahead while nobody asks, so a client that goes away is noticed as
        // Node notices it on its socket. A client waiting for 100 Continue is read only when asked.
        let may_read = !ended && pending.len() < PUMP_CHUNK && (started || !awaits_continue);
        tokio::select! {
            _ = control.wanted.notified() => {
                if control.closed.load(Ordering::Acquire) {
                    if control.drain.load(Ordering::Acquire) && !ended && (started || !awaits_continue) {
                        drain(body).await;
                    }
                    return;
                }
                started = true;
                owed = true;
            }
            _ = &mut deadline, if !ended => return report_abort(id),
            frame = body.frame(), if may_read => match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        pending.extend_from_slice(&data);
                    }
                    // Whatever else is already readable goes in the same event.
                    while pending.len() < PUMP_CHUNK {
                        match poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await {
                            Poll::Ready(Some(Ok(frame))) => {
                                if let Ok(data) = frame.into_data() {
                                    pending.extend_from_slice(&data);
                                }
                            }
                            Poll::Ready(None) => {
                                ended = true;
                                break;
                            }
                            Poll::Ready(Some(Err(_))) => return report_abort(id),
                            Poll::Pending => break,
                        }
                    }
                }
                None => ended = true,
                Some(Err(_)) => return report_abort(id),
            },
        }
        if owed && (!pending.is_empty() || ended) {
            owed = false;
            if !pending.is_empty() {
                queue.push(Event::Body {
                    id,
                    chunk: pending.split().freeze(),
                });
            }
            if ended {
                queue.push(Event::BodyEnd { id });
                return;
            }
        }
    }
}

/// The client went away mid-body. hyper keeps the request's service waiting for its response, so
/// the abort is reported here: the handlers get 'aborted', and dropping the slot's response
/// sender closes the connection.
fn report_abort(id: u64) {
    if let Some(queue) = Exchange::global().abandon(id) {
        queue.push(Event::Aborted { id });
    }
}
