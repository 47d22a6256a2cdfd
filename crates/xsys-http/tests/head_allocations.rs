//! hyper keeps up to 100 header lines in arrays on the stack; given an explicit `max_headers` it
//! allocates arrays of that size on the heap for every request it parses. The engine takes heads
//! of up to Node's 1000 lines (and more on Node 20) without giving hyper a count, by compacting
//! long heads: these tests measure the bytes allocated per ordinary request, on the engine and on
//! plain hyper with and without a count, so a change that loses the stack arrays fails here.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use xsys_http::native::NotFoundPage;
use xsys_http::{EventQueue, ResponseHead, RouteDraft, RoutingMirror, Server, Wake};
use xsys_router::TableOptions;

/// Counts every byte allocated in the process.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The count is the whole process's: one measurement at a time.
static MEASURING: Mutex<()> = Mutex::new(());

struct NoWake;
impl Wake for NoWake {
    fn wake(&self) {}
}

/// An ordinary browser-like request: a dozen header lines.
const ORDINARY: &str = "GET /nothing/here?q=1 HTTP/1.1\r\nHost: example.test\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n\
Referer: https://example.test/\r\nCookie: a=1; b=2\r\nDNT: 1\r\nSec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\nSec-Fetch-Site: same-origin\r\nUpgrade-Insecure-Requests: 1\r\n\r\n";

/// An engine server whose route table knows nothing: every request gets its native 404.
fn engine() -> Server {
    let routing = RoutingMirror::new();
    routing.publish(Some(RouteDraft::new(TableOptions::default())), 0);
    let head = ResponseHead::from_block(404, "Content-Type:text/html\n").expect("head");
    routing.set_not_found(NotFoundPage::new(
        head,
        ["<pre>Cannot ".into(), " ".into(), "</pre>".into()],
    ));
    common::serve(&EventQueue::new(NoWake), routing)
}

/// Plain hyper on its own runtime thread, answering 404, with `max_headers` if given.
fn plain_hyper(max_headers: Option<usize>) -> u16 {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr").port())
                .expect("port");
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                let mut builder = hyper::server::conn::http1::Builder::new();
                if let Some(max) = max_headers {
                    builder.max_headers(max);
                }
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        let mut response =
                            http::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
                        *response.status_mut() = http::StatusCode::NOT_FOUND;
                        Ok::<_, std::convert::Infallible>(response)
                    });
                    let _ = builder
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("plain hyper up")
}

/// Bytes allocated per request over `count` requests on one kept-alive connection (after a
/// warm-up), the whole process counted.
fn allocated_per_request(port: u16, request: &str, count: usize) -> usize {
    let _alone = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0u8; 64 * 1024];
    let mut one = |stream: &mut TcpStream| {
        stream.write_all(request.as_bytes()).expect("write");
        let mut got = Vec::new();
        // Every answer here is a 404 with a body that ends the way this checks.
        while !(got.starts_with(b"HTTP/1.1 404")
            && (got.ends_with(b"</pre>") || got.ends_with(b"\r\n\r\n")))
        {
            let n = stream.read(&mut buf).expect("read");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    };
    for _ in 0..50 {
        one(&mut stream);
    }
    let before = ALLOCATED.load(Ordering::Relaxed);
    for _ in 0..count {
        one(&mut stream);
    }
    (ALLOCATED.load(Ordering::Relaxed) - before) / count
}

#[test]
fn ordinary_requests_keep_hypers_stack_arrays() {
    let server = engine();
    let engine_port = server.local_addr().expect("tcp").port();
    let hyper_default = plain_hyper(None);
    let hyper_counted = plain_hyper(Some(1000));

    let on_engine = allocated_per_request(engine_port, ORDINARY, 300);
    let on_hyper = allocated_per_request(hyper_default, ORDINARY, 300);
    let on_counted_hyper = allocated_per_request(hyper_counted, ORDINARY, 300);
    eprintln!(
        "bytes allocated per request: engine {on_engine}, hyper {on_hyper}, hyper with max_headers(1000) {on_counted_hyper}"
    );
    // A count of 1000 costs two heap arrays of 1000 entries (32 bytes each) per request.
    assert!(
        on_counted_hyper >= on_hyper + 60_000,
        "the measurement sees hyper's heap arrays: {on_counted_hyper} vs {on_hyper}"
    );
    // The engine allocates for its own work (the recording, the 404 page), never those arrays.
    assert!(
        on_engine + 40_000 < on_counted_hyper,
        "the engine allocates {on_engine} bytes per request, hyper with a count {on_counted_hyper}"
    );
}

#[test]
fn a_head_of_more_than_100_lines_is_served_with_hypers_default() {
    let server = engine();
    let port = server.local_addr().expect("tcp").port();
    let mut request = String::from("GET /x HTTP/1.1\r\nHost: t\r\n");
    for i in 0..900 {
        request.push_str(&format!("X-{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    // Twice on one connection: the compacted head ends where the next request begins.
    let per_request = allocated_per_request(port, &request, 3);
    assert!(per_request > 0);
}
