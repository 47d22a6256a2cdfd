//! What the engine's socket tests share: a server on 127.0.0.1:0 served by one thread whose queue
//! the test drains itself.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::sync::mpsc;
use std::sync::Arc;

use xsys_http::native::NotFoundPage;
use xsys_http::{EventQueue, ListenOptions, ResponseHead, RoutingMirror, Server, Wake};

/// Forwards wake-ups to the test thread.
pub struct ChannelWake(pub mpsc::Sender<()>);

impl Wake for ChannelWake {
    fn wake(&self) {
        let _ = self.0.send(());
    }
}

/// A TCP listener on 127.0.0.1, any free port, the default limits.
pub fn local() -> ListenOptions {
    ListenOptions {
        path: None,
        host: Some("127.0.0.1".into()),
        port: 0,
        backlog: 128,
        limits: Default::default(),
    }
}

/// Listens on [`local`] with one thread attached: its `queue` gets the requests, routed with
/// `routing`.
pub fn serve(queue: &Arc<EventQueue>, routing: Arc<RoutingMirror>) -> Server {
    let server = Server::listen(local(), queue.clone()).expect("listen on 127.0.0.1:0");
    server
        .threads()
        .attach(0, queue.clone(), routing)
        .expect("a new listener takes threads");
    server
}

/// [`serve`] with a queue that wakes the returned receiver.
pub fn serve_with_wakes(
    routing: Arc<RoutingMirror>,
) -> (Server, Arc<EventQueue>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let queue = EventQueue::new(ChannelWake(tx));
    (serve(&queue, routing), queue, rx)
}

/// Express's 404 page and X-Powered-By, as lib/ gives them.
pub fn express_like(routing: &RoutingMirror) {
    routing
        .set_initial_headers("X-Powered-By:Express\n")
        .expect("block");
    let head = ResponseHead::from_block(
        404,
        "Content-Security-Policy:default-src 'none'\nX-Content-Type-Options:nosniff\nContent-Type:text/html; charset=utf-8\n",
    )
    .expect("head");
    routing.set_not_found(NotFoundPage::new(
        head,
        ["<pre>Cannot ".into(), " ".into(), "</pre>\n".into()],
    ));
}
