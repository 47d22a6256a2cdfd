//! Listening: binding the socket as Node does, accepting connections on the shared runtime, and
//! the [`Server`] handle the binding drives.

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Poll;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use crate::bridge::{Event, EventQueue};
use crate::connection::{self, Peers, Shared};
use crate::runtime::runtime;
use crate::shutdown::{Closer, Watcher};
use crate::threads::JsThreads;
use crate::wire::HeadLimits;
use crate::Error;

/// Bounds that keep one client from holding the server's resources: Node's server settings of
/// the same names.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Node's `server.headersTimeout`: time allowed to receive a request head, from the
    /// connection's start or the head's first byte; then 408 and the close. Zero for none.
    pub headers_timeout: Duration,
    /// Node's `server.requestTimeout`: time allowed to receive a whole request, head and body,
    /// from the same start; then 408 and the close. Zero for none.
    pub request_timeout: Duration,
    /// Node's `maxHeaderSize` and `maxHeadersCount`.
    pub head: HeadLimits,
    /// Node's `server.maxRequestsPerSocket`; 0 for none.
    pub max_requests_per_socket: u32,
    /// Node's `server.maxConnections`: connections beyond it are closed as they are accepted.
    pub max_connections: Option<u32>,
    /// A body announced with a Content-Length up to this size, and arriving with its head, is read
    /// before dispatch and comes with the request; a larger, chunked or slower one streams.
    pub inline_body_limit: usize,
    /// Node's `server.keepAliveTimeout`: announced in `Keep-Alive: timeout=N` (not at all when
    /// zero); an idle connection is closed 1 s after it, as by Node (load balancers that reuse
    /// connections for 60 s rely on it being at least that).
    pub keep_alive: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            headers_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            head: HeadLimits::default(),
            max_requests_per_socket: 0,
            max_connections: None,
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

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Unix(std::path::PathBuf),
}

/// A listening server as any thread of the process may reach it: the worker threads of an app
/// find the listener they serve by its id ([`Listener::find`]).
#[derive(Clone)]
pub struct Listener(Arc<Listening>);

struct Listening {
    id: u32,
    bound: Bound,
    shared: Arc<Shared>,
    closer: Closer,
}

type Registry = HashMap<u32, Weak<Listening>>;

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static LISTENERS: OnceLock<Mutex<Registry>> = OnceLock::new();
    LISTENERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

impl Listener {
    /// The listener `id` of this process, until its owner closes it.
    pub fn find(id: u32) -> Option<Listener> {
        registry().get(&id).and_then(Weak::upgrade).map(Listener)
    }

    /// The process-wide id other threads find this listener by.
    pub fn id(&self) -> u32 {
        self.0.id
    }

    pub fn bound(&self) -> &Bound {
        &self.0.bound
    }

    /// The JS threads that serve this listener.
    pub fn threads(&self) -> &Arc<JsThreads> {
        &self.0.shared.threads
    }

    /// Open connections (Node's `server.getConnections`).
    pub fn connections(&self) -> usize {
        self.0.shared.connections.load(Ordering::Relaxed)
    }

    /// Node's server settings, changed while listening: the timeouts and maxRequestsPerSocket
    /// apply to open connections too, maxConnections at the next accept, the head limits to
    /// connections accepted from now on (as on Node). `inline_body_limit` stays.
    pub fn set_limits(&self, limits: &Limits) {
        self.0.shared.set_limits(limits);
    }

    /// Closes every HTTP connection now, busy or idle (Node's `server.closeAllConnections()`);
    /// requests in flight are aborted. Handed-over connections are not HTTP any more and stay.
    pub fn close_all_connections(&self) {
        self.0.closer.close_all_connections();
    }
}

/// The owner's handle: the listener closes when it is closed or dropped.
pub struct Server {
    listener: Listener,
}

impl Server {
    /// Binds synchronously (so EADDRINUSE is known at once), then accepts on the shared runtime.
    /// Requests go to the JS threads attached to [`Server::threads`] (they wait while none is).
    /// When `close` has been called and the last connection is gone, `Event::Closed` goes to
    /// `owner` and to every thread still attached.
    pub fn listen(options: ListenOptions, owner: Arc<EventQueue>) -> Result<Server, Error> {
        let rt = runtime();
        let _enter = rt.enter();
        let (closer, watcher) = Closer::new();
        let shared = Arc::new(Shared::new(JsThreads::new(owner), &options.limits));
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
                    watcher,
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
                rt.spawn(accept_loop(listener, shared.clone(), watcher, None));
                Bound::Tcp(local_addr)
            }
        };
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        let listening = Arc::new(Listening {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            bound,
            shared,
            closer,
        });
        let mut registry = registry();
        registry.retain(|_, listening| listening.strong_count() > 0);
        registry.insert(listening.id, Arc::downgrade(&listening));
        Ok(Server {
            listener: Listener(listening),
        })
    }

    /// What other threads may hold of this server.
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    pub fn bound(&self) -> &Bound {
        self.listener.bound()
    }

    /// The JS threads that serve this listener.
    pub fn threads(&self) -> &Arc<JsThreads> {
        self.listener.threads()
    }

    /// The TCP address; a Unix socket server has none.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.bound() {
            Bound::Tcp(addr) => Some(*addr),
            Bound::Unix(_) => None,
        }
    }

    /// Open connections (Node's `server.getConnections`).
    pub fn connections(&self) -> usize {
        self.listener.connections()
    }

    /// Stops accepting, closes idle connections, lets in-flight requests finish; no other thread
    /// finds the listener any more.
    pub fn close(&self) {
        registry().remove(&self.listener.id());
        self.listener.0.closer.close();
        self.threads().stop();
    }

    /// See [`Listener::set_limits`].
    pub fn set_limits(&self, limits: &Limits) {
        self.listener.set_limits(limits);
    }

    /// See [`Listener::close_all_connections`].
    pub fn close_all_connections(&self) {
        self.listener.close_all_connections();
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
    mut watcher: Watcher,
    unlink_on_close: Option<std::path::PathBuf>,
) {
    loop {
        tokio::select! {
            biased;
            () = watcher.stopped() => break,
            accepted = poll_fn(|cx| listener.poll_accept(cx)) => match accepted {
                // Node's maxConnections: closed at once, and 'drop' for the handlers.
                Ok((stream, peers)) if !shared.accepts_another() => {
                    drop(stream);
                    shared.threads.tell_owner(Event::Dropped {
                        remote: peers.remote,
                        local: peers.local,
                    });
                }
                Ok((stream, peers)) => {
                    tokio::spawn(connection::serve(stream, peers, shared.clone(), watcher.closing()));
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
    watcher.all_closed().await;
    shared.threads.closed();
}
