//! Streamed answers whose bytes are all out before their handler ends them: hyper takes no body
//! for a HEAD, 204 or 304 answer and nothing past a Content-Length, lets go of the body and goes
//! on with the connection. The handler still holds the answer: it is not lost, the next answer
//! on the connection is whole, and the connection closes only after the handler ends it.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use xsys_http::{Event, EventQueue, Exchange, ResponseHead, RoutingMirror, Server};

/// The handler side, played by the test: the events so far, in order.
struct Handlers {
    queue: Arc<EventQueue>,
    wakes: mpsc::Receiver<()>,
    seen: Vec<Event>,
}

impl Handlers {
    /// Waits (up to 5 s) for an event `pick` accepts, keeping every event seen.
    fn wait_for<T>(&mut self, pick: impl Fn(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut checked = 0;
        loop {
            while checked < self.seen.len() {
                if let Some(found) = pick(&self.seen[checked]) {
                    return found;
                }
                checked += 1;
            }
            assert!(
                Instant::now() < deadline,
                "not seen in time; events: {:?}",
                self.seen
            );
            let _ = self.wakes.recv_timeout(Duration::from_millis(20));
            self.seen.extend(self.queue.drain());
        }
    }

    /// The id of the request for `target`.
    fn request(&mut self, target: &'static str) -> u64 {
        self.wait_for(|event| match event {
            Event::Request(head) if head.target == target.as_bytes() => Some(head.id),
            _ => None,
        })
    }

    /// Collects what came in the meantime.
    fn settle(&mut self, pause: Duration) {
        std::thread::sleep(pause);
        self.seen.extend(self.queue.drain());
    }

    fn aborted(&self, id: u64) -> bool {
        self.seen
            .iter()
            .any(|event| matches!(event, Event::Aborted { id: a } if *a == id))
    }
}

fn start() -> (Server, Handlers) {
    let (tx, wakes) = mpsc::channel();
    let queue = EventQueue::new(common::ChannelWake(tx));
    let server = common::serve(&queue, RoutingMirror::new());
    let handlers = Handlers {
        queue,
        wakes,
        seen: Vec::new(),
    };
    (server, handlers)
}

fn connect(server: &Server, requests: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.local_addr().expect("tcp").port()))
        .expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(requests.as_bytes()).expect("write");
    stream
}

/// Everything until the server closes; the Date values masked.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("closed in time");
    mask_dates(&String::from_utf8_lossy(&out))
}

fn mask_dates(text: &str) -> String {
    text.split("\r\n")
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: <date>"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// True if the server has neither sent anything nor closed within `pause`.
fn still_open(stream: &mut TcpStream, pause: Duration) -> bool {
    stream.set_read_timeout(Some(pause)).expect("timeout");
    let mut byte = [0u8; 1];
    let open = matches!(stream.read(&mut byte), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    open
}

fn head(block: &str) -> ResponseHead {
    ResponseHead::from_block(200, block).expect("valid head")
}

const REFUSAL: &str = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

#[test]
fn a_head_answer_streamed_then_ended_is_not_lost_and_the_next_answer_is_whole() {
    let (server, mut handlers) = start();
    let mut client = connect(
        &server,
        "HEAD /head HTTP/1.1\r\nHost: t\r\n\r\nGET /chunked HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let exchange = Exchange::global();
    let head_id = handlers.request("/head");
    exchange
        .write_head(
            head_id,
            head(&format!("Content-Length:{}\n", REFUSAL.len())),
        )
        .expect("head sent");
    // hyper reads the next request once the HEAD answer is out, body and all.
    let get = handlers.request("/chunked");
    exchange.write_head(get, head("")).expect("head sent");
    assert!(exchange
        .write(get, Bytes::from_static(b"A"))
        .expect("in flight"));
    handlers.settle(Duration::from_millis(50));
    assert!(
        !handlers.aborted(head_id),
        "the HEAD answer is the handler's until it ends it"
    );
    exchange
        .write(head_id, Bytes::from_static(b"dropped"))
        .expect("a write to a HEAD answer is taken");
    exchange
        .end(head_id, Some(Bytes::from_static(REFUSAL.as_bytes())))
        .expect("the handler ends it");
    assert!(exchange
        .write(get, Bytes::from_static(b"B"))
        .expect("in flight"));
    exchange.end(get, None).expect("in flight");
    assert_eq!(
        read_to_close(&mut client),
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nDate: <date>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n\
             HTTP/1.1 200 OK\r\nDate: <date>\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n1\r\nB\r\n0\r\n\r\n",
            REFUSAL.len()
        )
    );
    handlers.settle(Duration::from_millis(50));
    assert!(
        !handlers.aborted(head_id) && !handlers.aborted(get),
        "{:?}",
        handlers.seen
    );
}

#[test]
fn an_answer_whose_content_length_is_reached_before_its_end_is_not_lost() {
    let (server, mut handlers) = start();
    let mut client = connect(
        &server,
        "GET /length HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let exchange = Exchange::global();
    let length = handlers.request("/length");
    exchange
        .write_head(length, head("Content-Length:10\n"))
        .expect("head sent");
    assert!(exchange
        .write(length, Bytes::from_static(b"0123456789"))
        .expect("in flight"));
    let next = handlers.request("/next");
    handlers.settle(Duration::from_millis(50));
    assert!(!handlers.aborted(length), "{:?}", handlers.seen);
    // Past the announced length: nowhere to go, and no reason to wait.
    assert!(exchange
        .write(length, Bytes::from_static(b"extra"))
        .expect("taken"));
    exchange
        .end(length, Some(Bytes::from_static(b"more")))
        .expect("the handler ends it");
    exchange
        .respond(next, head(""), Bytes::from_static(b"next"))
        .expect("in flight");
    assert_eq!(
        read_to_close(&mut client),
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nDate: <date>\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n0123456789\
         HTTP/1.1 200 OK\r\nDate: <date>\r\nConnection: close\r\nContent-Length: 4\r\n\r\nnext"
    );
    handlers.settle(Duration::from_millis(50));
    assert!(
        !handlers.aborted(length) && !handlers.aborted(next),
        "{:?}",
        handlers.seen
    );
}

#[test]
fn a_connection_to_close_waits_for_the_handler_to_end_an_answer_whose_bytes_are_out() {
    let (server, mut handlers) = start();
    let mut client = connect(
        &server,
        "GET /length HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let exchange = Exchange::global();
    let id = handlers.request("/length");
    exchange
        .write_head(id, head("Content-Length:2\n"))
        .expect("head sent");
    assert!(exchange
        .write(id, Bytes::from_static(b"ok"))
        .expect("in flight"));
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !seen.ends_with(b"\r\n\r\nok") {
        let n = client.read(&mut buffer).expect("the answer comes");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buffer[..n]);
    }
    assert!(
        still_open(&mut client, Duration::from_millis(300)),
        "closed before the handler ended"
    );
    handlers.settle(Duration::ZERO);
    assert!(!handlers.aborted(id), "{:?}", handlers.seen);
    exchange.end(id, None).expect("the handler ends it");
    assert_eq!(read_to_close(&mut client), "", "the close follows the end");
    handlers.settle(Duration::from_millis(50));
    assert!(!handlers.aborted(id), "{:?}", handlers.seen);
}

#[test]
fn a_client_that_leaves_ends_an_answer_its_handler_still_holds() {
    let (server, mut handlers) = start();
    let mut client = connect(
        &server,
        "HEAD /events HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let exchange = Exchange::global();
    let events = handlers.request("/events");
    exchange.write_head(events, head("")).expect("head sent");
    let next = handlers.request("/next");
    exchange
        .respond(next, head(""), Bytes::from_static(b"next"))
        .expect("in flight");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    while !seen.ends_with(b"\r\n\r\nnext") {
        let n = client.read(&mut buffer).expect("both answers come");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buffer[..n]);
    }
    assert!(!handlers.aborted(events));
    drop(client);
    handlers
        .wait_for(|event| matches!(event, Event::Aborted { id } if *id == events).then_some(()));
    assert!(
        exchange.write(events, Bytes::from_static(b"late")).is_err(),
        "the answer is over once its connection is"
    );
}

#[test]
fn destroying_an_answer_whose_bytes_are_out_closes_its_connection() {
    let (server, mut handlers) = start();
    let mut client = connect(
        &server,
        "HEAD /head HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let exchange = Exchange::global();
    let head_id = handlers.request("/head");
    exchange
        .write_head(head_id, head("Content-Length:5\n"))
        .expect("head sent");
    let next = handlers.request("/next");
    exchange.destroy(head_id).expect("still the handler's");
    handlers.wait_for(|event| matches!(event, Event::Aborted { id } if *id == next).then_some(()));
    let text = read_to_close(&mut client);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"),
        "{text}"
    );
    assert!(
        !text.contains("\r\n\r\nHTTP/"),
        "nothing after the HEAD answer: {text}"
    );
}

#[test]
fn writes_to_an_answer_without_a_body_never_wait_for_a_drain_that_cannot_come() {
    let (server, mut handlers) = start();
    let _client = connect(
        &server,
        "HEAD /big HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let exchange = Exchange::global();
    let id = handlers.request("/big");
    exchange.write_head(id, head("")).expect("head sent");
    // Over any high-water mark, written at once, before or after hyper lets go of the body.
    let below = exchange
        .write(id, Bytes::from(vec![b'x'; 1 << 20]))
        .expect("in flight");
    if !below {
        handlers
            .wait_for(|event| matches!(event, Event::Drain { id: d } if *d == id).then_some(()));
    }
    handlers.request("/next");
    assert!(exchange
        .write(id, Bytes::from(vec![b'x'; 1 << 20]))
        .expect("in flight"));
    assert!(!handlers.aborted(id), "{:?}", handlers.seen);
    exchange.end(id, None).expect("the handler ends it");
}

#[test]
fn an_answer_ended_before_hyper_took_its_last_bytes_closes_its_connection_at_once() {
    let (server, mut handlers) = start();
    let mut client = connect(
        &server,
        "GET /length HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let exchange = Exchange::global();
    let id = handlers.request("/length");
    exchange
        .write_head(id, head("Content-Length:4\n"))
        .expect("head sent");
    // The whole body with the end: hyper lets go of the body as it takes the last byte.
    exchange
        .end(id, Some(Bytes::from_static(b"done")))
        .expect("in flight");
    let started = Instant::now();
    let text = read_to_close(&mut client);
    assert!(text.ends_with("\r\n\r\ndone"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the close waited for nothing"
    );
    handlers.settle(Duration::from_millis(50));
    assert!(!handlers.aborted(id), "{:?}", handlers.seen);
}
