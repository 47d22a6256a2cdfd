//! Listening: binding the socket as Node does, accepting connections on the shared runtime, and
//! the [`Server`] handle the binding drives.

use std::future::poll_fn;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use crate::bridge::{Event, EventQueue};
use crate::connection::{self, Peers, Shared};
use crate::routing::RoutingMirror;
use crate::runtime::runtime;
use crate::shutdown::{Closer, Watcher};
use crate::Error;

/// Bounds that keep one client from holding the server's resources.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Node's `server.headersTimeout`: time allowed to receive a request head, from the
    /// connection's start or the head's first byte; then 408 and the close.
    pub headers_timeout: Duration,
    /// Request line plus headers, in bytes (Node's default: 16 KiB); beyond it, 431.
    pub max_header_size: usize,
    /// Number of request headers; beyond it, 431.
    pub max_headers: usize,
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

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Tcp(SocketAddr),
    Unix(std::path::PathBuf),
}

pub struct Server {
    shared: Arc<Shared>,
    bound: Bound,
    closer: Closer,
}

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
        let shared = Arc::new(Shared::new(queue, routing, &options.limits));
        let (closer, watcher) = Closer::new();
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
        Ok(Server {
            shared,
            bound,
            closer,
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
        self.closer.close();
    }

    /// Node's `server.headersTimeout` and `server.keepAliveTimeout`, changed while listening:
    /// open connections follow them from their next wait on, the Keep-Alive hint at once.
    pub fn set_timeouts(&self, headers: Duration, keep_alive: Duration) {
        self.shared.set_timeouts(headers, keep_alive);
    }

    /// Closes every HTTP connection now, busy or idle (Node's `server.closeAllConnections()`);
    /// requests in flight are aborted. Handed-over connections are not HTTP any more and stay.
    pub fn close_all_connections(&self) {
        self.closer.close_all_connections();
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
    shared.queue.push(Event::Closed);
}
