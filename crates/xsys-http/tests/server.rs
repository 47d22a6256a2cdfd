//! The engine on a real socket (127.0.0.1:0), with a plain Rust thread playing the handler side.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use xsys_http::native::NotFoundPage;
use xsys_http::{
    Event, EventQueue, Exchange, ListenOptions, ResponseHead, RouteDraft, RoutingMirror, Server,
};
use xsys_router::{LayerId, Methods, TableOptions};

fn start(routing: Arc<RoutingMirror>) -> (Server, Arc<EventQueue>, mpsc::Receiver<()>) {
    common::serve_with_wakes(routing)
}

fn roundtrip(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers every request with its target as the body, until `count` requests were answered.
fn serve(
    queue: Arc<EventQueue>,
    wakes: mpsc::Receiver<()>,
    count: usize,
) -> std::thread::JoinHandle<usize> {
    serve_with(queue, wakes, count, |target| {
        (
            "content-type:text/plain\n",
            Bytes::copy_from_slice(target.as_bytes()),
            false,
        )
    })
}

/// Answers each request from `reply(target)`: a header block, a body, and whether to add an ETag.
fn serve_with(
    queue: Arc<EventQueue>,
    wakes: mpsc::Receiver<()>,
    count: usize,
    reply: fn(&str) -> (&'static str, Bytes, bool),
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut answered = 0;
        while answered < count {
            if wakes.recv_timeout(Duration::from_secs(5)).is_err() {
                break;
            }
            for event in queue.drain() {
                if let Event::Request(head) = event {
                    let (block, body, etag) =
                        reply(std::str::from_utf8(&head.target).expect("ascii target"));
                    let tag = if etag {
                        xsys_http::native::EntityTag::Weak
                    } else {
                        Default::default()
                    };
                    let reply = ResponseHead::from_block(200, block).expect("valid head");
                    Exchange::global()
                        .prepare(head.id, reply, body, tag)
                        .expect("in flight")
                        .send();
                    answered += 1;
                }
            }
        }
        answered
    })
}

#[test]
fn dispatches_a_request_and_writes_the_answer() {
    let (server, queue, wakes) = start(RoutingMirror::new());
    let handler = serve(queue, wakes, 1);
    let response = roundtrip(
        server.local_addr().expect("tcp").port(),
        "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\n/hello?x=1"), "{response}");
    assert_eq!(handler.join().expect("handler thread"), 1);
}

#[test]
fn a_request_completed_by_its_handler_is_answered_from_another_thread() {
    let (server, queue, wakes) = start(RoutingMirror::new());
    let handler = std::thread::spawn(move || {
        // the connection's event may come in a wake-up of its own
        let id = loop {
            wakes
                .recv_timeout(Duration::from_secs(5))
                .expect("a request");
            let request = queue.drain().into_iter().find_map(|event| match event {
                Event::Request(head) => Some(head.id),
                _ => None,
            });
            if let Some(id) = request {
                break id;
            }
        };
        let completion = Exchange::global().complete(id).expect("in flight");
        assert!(
            matches!(Exchange::global().complete(id), Err(e) if e.is_unknown_request()),
            "a completed request is no longer in flight"
        );
        // the head is built and the answer sent elsewhere, as the binding does on the I/O thread
        std::thread::spawn(move || {
            let head = ResponseHead::from_block(201, "x-built:elsewhere\n").expect("head");
            completion
                .ready(head, Bytes::from_static(b"done"), Default::default())
                .send();
        })
        .join()
        .expect("builder thread");
    });
    let response = roundtrip(
        server.local_addr().expect("tcp").port(),
        "GET /later HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    handler.join().expect("handler thread");
    assert!(
        response.starts_with("HTTP/1.1 201 Created\r\n"),
        "{response}"
    );
    assert!(response.contains("x-built: elsewhere\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\ndone"), "{response}");
}

/// A mirror whose table knows only `GET /known`.
fn known_only() -> Arc<RoutingMirror> {
    let routing = RoutingMirror::new();
    let mut draft = RouteDraft::new(TableOptions::default());
    draft
        .insert(LayerId(0), "/known", true, Methods::GET)
        .expect("valid pattern");
    routing.publish(Some(draft), 0);
    routing
}

#[test]
fn answers_what_no_layer_matches_without_dispatching() {
    let routing = known_only();
    let head =
        ResponseHead::from_block(404, "Content-Type:text/html; charset=utf-8\n").expect("head");
    routing.set_not_found(NotFoundPage::new(
        head,
        ["<pre>Cannot ".into(), " ".into(), "</pre>".into()],
    ));
    let (server, queue, _wakes) = start(routing);
    let response = roundtrip(
        server.local_addr().expect("tcp").port(),
        "GET /unknown HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(
        response.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{response}"
    );
    assert!(
        response.contains("<pre>Cannot GET /unknown</pre>"),
        "{response}"
    );
    assert!(queue.drain().is_empty(), "nothing reached the handler side");
}

#[test]
fn without_a_not_found_page_what_no_layer_matches_goes_to_the_handlers() {
    let (server, queue, wakes) = start(known_only());
    let handler = serve(queue, wakes, 1);
    let response = roundtrip(
        server.local_addr().expect("tcp").port(),
        "GET /unknown HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert_eq!(handler.join().expect("handler thread"), 1);
}

#[test]
fn a_client_that_leaves_frees_its_request() {
    let (server, queue, wakes) = start(RoutingMirror::new());
    let mut stream = TcpStream::connect(("127.0.0.1", server.local_addr().expect("tcp").port()))
        .expect("connect");
    stream
        .write_all(b"GET /wait HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let mut id = None;
    let deadline = Instant::now() + Duration::from_secs(5);
    while id.is_none() && Instant::now() < deadline {
        let _ = wakes.recv_timeout(Duration::from_millis(100));
        for event in queue.drain() {
            if let Event::Request(head) = event {
                id = Some(head.id);
            }
        }
    }
    let id = id.expect("request dispatched");
    drop(stream);
    let mut aborted = false;
    while !aborted && Instant::now() < deadline {
        let _ = wakes.recv_timeout(Duration::from_millis(100));
        aborted = queue
            .drain()
            .iter()
            .any(|e| matches!(e, Event::Aborted { id: a } if *a == id));
    }
    assert!(aborted, "the handler side hears of the abort");
    let late = ResponseHead::from_block(200, "").expect("valid");
    assert!(Exchange::global()
        .respond(id, late, Bytes::new())
        .unwrap_err()
        .is_unknown_request());
}

#[test]
fn close_stops_accepting_and_reports_closed() {
    let (server, queue, wakes) = start(RoutingMirror::new());
    let port = server.local_addr().expect("tcp").port();
    server.close();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        let _ = wakes.recv_timeout(Duration::from_millis(100));
        closed = queue.drain().iter().any(|e| matches!(e, Event::Closed));
    }
    assert!(closed);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "no longer accepting"
    );
}

#[test]
fn a_taken_port_is_a_listen_error_with_the_os_cause() {
    let (server, _queue, _wakes) = start(RoutingMirror::new());
    let (tx, _rx) = mpsc::channel();
    let options = ListenOptions {
        path: None,
        host: Some("127.0.0.1".into()),
        port: server.local_addr().expect("tcp").port(),
        backlog: 16,
        limits: Default::default(),
    };
    let err = Server::listen(options, EventQueue::new(common::ChannelWake(tx)))
        .err()
        .expect("second bind fails");
    assert!(err.is_listen());
    assert_eq!(
        err.io_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
}

#[test]
fn a_malformed_request_gets_400_and_no_dispatch() {
    let (server, queue, _wakes) = start(RoutingMirror::new());
    let response = roundtrip(
        server.local_addr().expect("tcp").port(),
        "GET /x HTTP/1.1\r\nHost x\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 400"), "{response:?}");
    assert!(queue
        .drain()
        .iter()
        .all(|e| !matches!(e, Event::Request(_))));
}

/// Header lines of a raw response, the Date value masked.
fn head_lines(response: &str) -> Vec<String> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n")
        .skip(1)
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: <date>".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect()
}

#[test]
fn headers_go_out_as_node_writes_them_in_case_and_order() {
    let (server, queue, wakes) = start(RoutingMirror::new());
    let handler = serve_with(queue, wakes, 3, |target| {
        match target {
        "/named" => (
            "X-Powered-By:Express\nx-lower:1\nX-XSS-Protection:0\nset-cookie:a=1\nset-cookie:b=2\nContent-Type:text/plain\nContent-Length:2\n",
            Bytes::from_static(b"hi"),
            true,
        ),
        "/empty" => ("X-Powered-By:Express\nContent-Length:0\n", Bytes::new(), false),
        _ => ("Content-Length:5\n", Bytes::new(), false),
    }
    });
    let port = server.local_addr().expect("tcp").port();

    // Kept alive: read just this response.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /named HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let mut named = String::new();
    let mut buffer = [0u8; 4096];
    while !named.ends_with("\r\n\r\nhi") {
        let n = stream.read(&mut buffer).expect("read");
        assert!(n > 0, "closed early: {named}");
        named.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert_eq!(
        head_lines(&named),
        [
            "X-Powered-By: Express",
            "x-lower: 1",
            "X-XSS-Protection: 0",
            "set-cookie: a=1",
            "set-cookie: b=2",
            "Content-Type: text/plain",
            "Content-Length: 2",
            "ETag: W/\"2-witfkXg0JglCjW9RssWvTAveakI\"",
            "Date: <date>",
            "Connection: keep-alive",
            "Keep-Alive: timeout=5",
        ],
        "{named}"
    );

    let empty = roundtrip(
        port,
        "GET /empty HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        head_lines(&empty),
        [
            "X-Powered-By: Express",
            "Content-Length: 0",
            "Date: <date>",
            "Connection: close"
        ],
        "{empty}"
    );

    // A length the (empty) body does not have would leave the client waiting: it becomes 0.
    let wrong = roundtrip(
        port,
        "GET /wrong HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        head_lines(&wrong),
        ["Date: <date>", "Connection: close", "Content-Length: 0"],
        "{wrong}"
    );
    assert_eq!(handler.join().expect("handler thread"), 3);
}

#[test]
fn an_upgrade_hands_the_connection_over_for_raw_bytes_both_ways() {
    let routing = RoutingMirror::new();
    routing.set_upgrade_listener(true);
    let (server, queue, wakes) = start(routing);
    let handler = std::thread::spawn(move || {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if wakes.recv_timeout(Duration::from_millis(100)).is_err() {
                continue;
            }
            for event in queue.drain() {
                match event {
                    Event::Request(head) => {
                        // "early" came with the head: it is the request's, not the tunnel's.
                        assert!(
                            matches!(&head.body, xsys_http::BodyPayload::Tunnel(early) if early.as_ref() == b"early")
                        );
                        // The head in two writes, the first tunnel bytes with the second.
                        Exchange::global()
                            .tunnel_write(
                                head.id,
                                Bytes::from_static(
                                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n",
                                ),
                            )
                            .expect("write");
                        Exchange::global()
                            .tunnel_write(
                                head.id,
                                Bytes::from_static(b"Connection: Upgrade\r\n\r\nhello"),
                            )
                            .expect("write");
                    }
                    Event::Body { id, chunk } => {
                        got.extend_from_slice(&chunk);
                        Exchange::global().tunnel_write(id, chunk).expect("echo");
                        Exchange::global().tunnel_end(id).expect("end");
                    }
                    Event::Aborted { .. } => return got,
                    _ => {}
                }
            }
        }
        got
    });
    let mut stream = TcpStream::connect(("127.0.0.1", server.local_addr().expect("tcp").port()))
        .expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly",
        )
        .expect("write");
    let mut seen = String::new();
    let mut buffer = [0u8; 1024];
    while !seen.ends_with("hello") {
        let n = stream.read(&mut buffer).expect("read");
        assert!(n > 0, "closed early: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert_eq!(
        seen,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello"
    );
    stream.write_all(b"ping").expect("write");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half close");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("read to end");
    assert_eq!(rest, b"ping");
    assert_eq!(handler.join().expect("handler"), b"ping");
}

#[test]
fn listens_on_a_unix_socket_and_removes_it_on_close() {
    use std::os::unix::net::UnixStream;
    let path = std::env::temp_dir().join(format!("xypriss-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (tx, wakes) = mpsc::channel();
    let queue = EventQueue::new(common::ChannelWake(tx));
    let options = ListenOptions {
        path: Some(path.clone()),
        host: None,
        port: 0,
        backlog: 16,
        limits: Default::default(),
    };
    let server = Server::listen(options, queue.clone()).expect("listen on a path");
    let _serving = server
        .threads()
        .attach(0, queue.clone(), RoutingMirror::new());
    assert_eq!(server.bound(), &xsys_http::Bound::Unix(path.clone()));
    let handler = serve(queue.clone(), wakes, 1);
    let mut stream = UnixStream::connect(&path).expect("connect");
    stream
        .write_all(b"GET /over-unix HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("read");
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("/over-unix"),
        "{out}"
    );
    assert_eq!(handler.join().expect("handler"), 1);
    // A second server on the same path: the address is in use, as under Node.
    let (tx2, _rx2) = mpsc::channel();
    let again = ListenOptions {
        path: Some(path.clone()),
        host: None,
        port: 0,
        backlog: 16,
        limits: Default::default(),
    };
    let err = Server::listen(again, EventQueue::new(common::ChannelWake(tx2)))
        .err()
        .expect("in use");
    assert_eq!(
        err.io_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::AddrInUse)
    );
    server.close();
    let deadline = Instant::now() + Duration::from_secs(5);
    while path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!path.exists(), "socket file removed on close");
}

/// Events of one JS thread, drained on a plain Rust thread.
fn thread_queue() -> (Arc<EventQueue>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    (EventQueue::new(common::ChannelWake(tx)), rx)
}

/// The requests `queue` got within `wait` (ids), answering none.
fn requests_within(queue: &EventQueue, wakes: &mpsc::Receiver<()>, wait: Duration) -> Vec<u64> {
    let mut ids = Vec::new();
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if wakes.recv_timeout(left).is_err() {
            break;
        }
        for event in queue.drain() {
            if let Event::Request(head) = event {
                ids.push(head.id);
            }
        }
    }
    ids
}

fn answer(id: u64) {
    let reply = ResponseHead::from_block(200, "content-type:text/plain\n").expect("valid head");
    Exchange::global()
        .respond(id, reply, Bytes::from_static(b"ok"))
        .expect("in flight");
}

fn send(port: u16, target: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    stream
}

#[test]
fn a_busy_thread_gets_no_new_request_while_another_is_free() {
    let (owner, _owner_wakes) = thread_queue();
    let server = Server::listen(common::local(), owner).expect("listen");
    let port = server.local_addr().expect("tcp").port();
    let (a, a_wakes) = thread_queue();
    let (b, b_wakes) = thread_queue();
    let threads = server.threads();
    let _a = threads.attach(1, a.clone(), RoutingMirror::new());
    let _b = threads.attach(2, b.clone(), RoutingMirror::new());
    // One request, left unanswered: its thread is busy.
    let _first = send(port, "/stuck");
    let wait = Duration::from_secs(5);
    let deadline = Instant::now() + wait;
    while a.in_flight() + b.in_flight() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (busy, busy_wakes, free, free_wakes) = if a.in_flight() == 1 {
        (&a, &a_wakes, &b, &b_wakes)
    } else {
        (&b, &b_wakes, &a, &a_wakes)
    };
    assert_eq!(requests_within(busy, busy_wakes, wait / 10).len(), 1);
    // Requests one after the other on a new connection all go to the free thread.
    let mut next = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    next.set_read_timeout(Some(wait)).expect("timeout");
    for round in 0..5 {
        next.write_all(b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n")
            .expect("write");
        let ids = requests_within(free, free_wakes, Duration::from_millis(500));
        assert_eq!(ids.len(), 1, "round {round}: the free thread gets it");
        answer(ids[0]);
        let mut buf = [0u8; 512];
        let n = next.read(&mut buf).expect("an answer");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    }
    assert!(requests_within(busy, busy_wakes, Duration::from_millis(50)).is_empty());
    assert_eq!(busy.in_flight(), 1);
}

#[test]
fn a_dead_thread_s_requests_are_closed_and_the_others_go_on() {
    let (owner, _owner_wakes) = thread_queue();
    let server = Server::listen(common::local(), owner).expect("listen");
    let port = server.local_addr().expect("tcp").port();
    let (a, a_wakes) = thread_queue();
    let threads = server.threads();
    let dying = threads
        .attach(1, a.clone(), RoutingMirror::new())
        .expect("open");
    let mut orphan = send(port, "/orphan");
    assert_eq!(
        requests_within(&a, &a_wakes, Duration::from_millis(500)).len(),
        1
    );
    let (b, b_wakes) = thread_queue();
    let _b = threads.attach(2, b.clone(), RoutingMirror::new());
    dying.abandon();
    // Its client sees the connection closed, without an answer.
    let mut out = Vec::new();
    let read = orphan.read_to_end(&mut out);
    assert!(read.is_ok() && out.is_empty(), "{read:?} {out:?}");
    assert_eq!(a.in_flight(), 0);
    // New requests go to the thread that is left.
    let mut next = send(port, "/next");
    let ids = requests_within(&b, &b_wakes, Duration::from_millis(500));
    assert_eq!(ids.len(), 1);
    answer(ids[0]);
    let mut buf = [0u8; 512];
    let n = next.read(&mut buf).expect("an answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
}

#[test]
fn closing_the_listener_closes_every_thread_once_requests_are_done() {
    let (owner, owner_wakes) = thread_queue();
    let server = Server::listen(common::local(), owner.clone()).expect("listen");
    let port = server.local_addr().expect("tcp").port();
    let (a, a_wakes) = thread_queue();
    let _a = server.threads().attach(1, a.clone(), RoutingMirror::new());
    let mut pending = send(port, "/slow");
    let ids = requests_within(&a, &a_wakes, Duration::from_millis(500));
    assert_eq!(ids.len(), 1);
    server.close();
    assert!(owner.drain().is_empty(), "a request is still in flight");
    answer(ids[0]);
    let mut buf = [0u8; 512];
    let n = pending.read(&mut buf).expect("the answer");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200 OK"),
        "in flight, answered"
    );
    let closed = |queue: &EventQueue, wakes: &mpsc::Receiver<()>| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let _ = wakes.recv_timeout(Duration::from_millis(50));
            if queue.drain().iter().any(|e| matches!(e, Event::Closed)) {
                return true;
            }
        }
        false
    };
    assert!(closed(&owner, &owner_wakes), "the owner hears of the close");
    assert!(closed(&a, &a_wakes), "so does the serving thread");
}
