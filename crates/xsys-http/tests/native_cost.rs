//! What the engine's native answers cost its I/O threads, whole: the request read, the stages,
//! hyper's head, the response writer, the socket. A measurement printed for people (`cargo test
//! --release -p xsys-http --test native_cost -- --ignored --nocapture`), not a pass/fail check;
//! under `valgrind --tool=callgrind --separate-threads=yes` the I/O thread's instruction count per
//! request compares two builds without the noise of a shared machine's timing.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use xsys_http::native::EntityTag;
use xsys_http::prelude::{Prelude, PreludeOptions, Stage, StageKind, StagePath};
use xsys_http::{EventQueue, RouteDraft, RoutingMirror, Server, Wake};
use xsys_router::TableOptions;
use xsys_security::cors::Cors;
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::RateLimit;
use xsys_security::OptionValue as V;

struct NoWake;
impl Wake for NoWake {
    fn wake(&self) {}
}

/// Express's 404 page and X-Powered-By, as lib/ gives them, with `stages` in front.
fn app(stages: Vec<StageKind>) -> Arc<RoutingMirror> {
    let routing = RoutingMirror::new();
    common::express_like(&routing);
    routing.publish(Some(RouteDraft::new(TableOptions::default())), 0);
    if !stages.is_empty() {
        let stages = stages
            .into_iter()
            .map(|kind| Stage {
                kind,
                path: StagePath::Everywhere,
            })
            .collect();
        let options = PreludeOptions {
            case_sensitive: false,
            etag: EntityTag::Weak,
        };
        routing.set_prelude(Some(Prelude::new(1, stages, options).expect("prelude")));
    }
    routing
}

/// The bench's production stack: helmet, cors and a limit of one request per hour (draft-8).
fn production() -> Arc<RoutingMirror> {
    let limit = RateLimit::from_option_value(&V::Object(vec![
        ("windowMs".into(), V::Number(3_600_000.0)),
        ("limit".into(), V::Number(1.0)),
        ("standardHeaders".into(), V::String("draft-8".into())),
        ("legacyHeaders".into(), V::Bool(false)),
    ]))
    .expect("limit");
    app(vec![
        StageKind::Helmet(Arc::new(
            Helmet::from_option_value(&V::Undefined).expect("helmet"),
        )),
        StageKind::Cors(Arc::new(
            Cors::from_option_value(&V::Undefined).expect("cors"),
        )),
        StageKind::RateLimit(Arc::new(limit)),
    ])
}

/// CPU time of this process's I/O threads so far, µs (Linux; 0 elsewhere).
fn io_threads_cpu_us() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ticks: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter(|stat| stat.contains("(xypriss-io)"))
        .filter_map(|stat| {
            let after = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 * 10_000.0
}

/// Sends `count` copies of `request` on one connection, `batch` at a time, reading every answer.
fn drive(port: u16, request: &[u8], count: usize, batch: usize) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let burst: Vec<u8> = request.repeat(batch);
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < count {
        stream.write_all(&burst).expect("write");
        sent += batch;
        let mut answered = 0;
        while answered < batch {
            match complete_answer(&buffer) {
                Some(length) => {
                    buffer.drain(..length);
                    answered += 1;
                }
                None => {
                    let n = stream.read(&mut chunk).expect("read");
                    assert!(n > 0, "the server closed the connection");
                    buffer.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
}

/// The length of the first whole answer in `bytes` (a head with Content-Length, and its body).
fn complete_answer(bytes: &[u8]) -> Option<usize> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&bytes[..head_end]).expect("ascii head");
    let length: usize = head
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (bytes.len() >= head_end + length).then_some(head_end + length)
}

#[test]
#[ignore]
fn native_answers_cost() {
    let count: usize = std::env::var("COST_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let batch = 32;
    let get = b"GET /api/json HTTP/1.1\r\nHost: t\r\nOrigin: http://example.com\r\n\r\n".to_vec();
    let preflight = b"OPTIONS /api/json HTTP/1.1\r\nHost: t\r\nOrigin: http://example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n".to_vec();
    let cases: [(&str, Arc<RoutingMirror>, &[u8]); 3] = [
        ("bare 404", app(Vec::new()), &get),
        ("429", production(), &get),
        ("preflight", production(), &preflight),
    ];
    // COST_CASE picks one (for a profiler's run of one case)
    let only = std::env::var("COST_CASE").ok();
    for (label, routing, request) in cases {
        if only.as_deref().is_some_and(|only| only != label) {
            continue;
        }
        let queue = EventQueue::new(NoWake);
        let server: Server = common::serve(&queue, routing);
        let port = server.local_addr().expect("tcp").port();
        // uses up the limit, and warms up
        drive(port, request, 1_000.min(count), batch.min(count));
        let before = io_threads_cpu_us();
        drive(port, request, count, batch);
        let spent = io_threads_cpu_us() - before;
        println!(
            "{label}: {:.2} µs of I/O-thread CPU per request ({count} requests, {batch} per write)",
            spent / count as f64
        );
    }
}
