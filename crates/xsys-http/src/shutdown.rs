//! Closing a server as Node does: `close()` stops accepting, lets requests in flight finish and
//! closes idle connections; `closeAllConnections()` closes every connection now. The server is
//! closed once the last connection is gone.

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1::UpgradeableConnection;
use hyper::service::HttpService;
use tokio::sync::{mpsc, watch};

/// The server's side: what `close()` and `closeAllConnections()` act on.
pub(crate) struct Closer {
    stop: watch::Sender<bool>,
    cut: watch::Sender<u64>,
}

/// The accept loop's side: when to stop accepting, and when the last connection is gone.
pub(crate) struct Watcher {
    stop: watch::Receiver<bool>,
    cut: watch::Receiver<u64>,
    // Every connection holds a clone; when the last is dropped, every connection has closed.
    alive: mpsc::Sender<()>,
    all_closed: mpsc::Receiver<()>,
}

/// One connection's side.
pub(crate) struct Closing {
    stop: watch::Receiver<bool>,
    cut: watch::Receiver<u64>,
    _alive: mpsc::Sender<()>,
}

impl Closer {
    pub(crate) fn new() -> (Closer, Watcher) {
        let (stop, stop_rx) = watch::channel(false);
        let (cut, cut_rx) = watch::channel(0);
        let (alive, all_closed) = mpsc::channel(1);
        (
            Closer { stop, cut },
            Watcher {
                stop: stop_rx,
                cut: cut_rx,
                alive,
                all_closed,
            },
        )
    }

    /// Stops accepting; connections finish their request in flight, then close.
    pub(crate) fn close(&self) {
        let _ = self.stop.send(true);
    }

    /// Closes every connection open now, busy or idle; requests in flight are aborted.
    /// Handed-over connections are not HTTP any more and stay.
    pub(crate) fn close_all_connections(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }
}

impl Watcher {
    /// Resolves once the server is closing.
    pub(crate) async fn stopped(&mut self) {
        let _ = self.stop.wait_for(|&stopping| stopping).await;
    }

    pub(crate) fn closing(&self) -> Closing {
        let mut cut = self.cut.clone();
        // Only a cut from now on concerns the new connection.
        cut.borrow_and_update();
        Closing {
            stop: self.stop.clone(),
            cut,
            _alive: self.alive.clone(),
        }
    }

    /// Resolves once every connection has closed.
    pub(crate) async fn all_closed(self) {
        let Watcher {
            alive,
            mut all_closed,
            ..
        } = self;
        drop(alive);
        let _ = all_closed.recv().await;
    }
}

impl Closing {
    /// Serves the connection until it ends, the server closes it gracefully, or closes it now.
    pub(crate) async fn supervise<I, S, B>(self, serving: UpgradeableConnection<I, S>)
    where
        S: HttpService<Incoming, ResBody = B>,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
        B: Body + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // `_alive` is held until the connection is done.
        let Closing {
            mut stop,
            mut cut,
            _alive,
        } = self;
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
    }
}
