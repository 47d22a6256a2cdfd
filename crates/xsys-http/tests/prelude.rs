//! The native prelude on a real socket (127.0.0.1:0): stages built from the packages' options,
//! run before the handler side, with a plain Rust thread playing that side. The responses are
//! compared line by line with what Express sends for the same npm middleware (recorded in
//! `__test__/xypriss.*.test.ts` differentially; here the engine's own decisions are pinned).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use xsys_http::native::EntityTag;
use xsys_http::prelude::{Prelude, PreludeOptions, Stage, StageKind, StagePath};
use xsys_http::{
    Event, EventQueue, Exchange, RequestHead, ResponseHead, RouteDraft, RoutingMirror, Server,
};
use xsys_router::{LayerId, Methods, TableOptions};
use xsys_security::cors::Cors;
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::RateLimit;
use xsys_security::OptionValue;

fn start(routing: Arc<RoutingMirror>) -> (Server, Arc<EventQueue>, mpsc::Receiver<()>) {
    common::serve_with_wakes(routing)
}

fn port(server: &Server) -> u16 {
    server.local_addr().expect("tcp").port()
}

/// Sends one request on its own connection and reads the answer until the server closes.
fn roundtrip(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out.iter().map(|&b| char::from(b)).collect()
}

/// The head's lines after the status line, Date's value masked, and the body.
fn split(response: &str) -> (String, Vec<String>, String) {
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.split("\r\n");
    let status = lines.next().expect("status line").to_owned();
    let lines = lines
        .map(|l| {
            if l.starts_with("Date: ") {
                "Date: <date>".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect();
    (status, lines, body.to_owned())
}

fn obj(props: &[(&str, OptionValue)]) -> OptionValue {
    OptionValue::Object(
        props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn helmet(options: OptionValue) -> StageKind {
    StageKind::Helmet(Arc::new(
        Helmet::from_option_value(&options).expect("helmet"),
    ))
}

fn cors(options: OptionValue) -> StageKind {
    StageKind::Cors(Arc::new(Cors::from_option_value(&options).expect("cors")))
}

fn rate_limit(options: OptionValue) -> (Arc<RateLimit>, StageKind) {
    let limiter = Arc::new(RateLimit::from_option_value(&options).expect("rate limit"));
    (limiter.clone(), StageKind::RateLimit(limiter))
}

fn everywhere(kind: StageKind) -> Stage {
    Stage {
        kind,
        path: StagePath::Everywhere,
    }
}

/// A mirror with `GET /known` as layer 3 (layers 0..3 are the prelude's), and `stages` before it.
fn app(stages: Vec<Stage>, etag: EntityTag) -> Arc<RoutingMirror> {
    let routing = RoutingMirror::new();
    common::express_like(&routing);
    let mut draft = RouteDraft::new(TableOptions::default());
    draft
        .insert(LayerId(3), "/known", true, Methods::GET)
        .expect("valid pattern");
    routing.publish(Some(draft), 0);
    let prelude = Prelude::new(
        7,
        stages,
        PreludeOptions {
            case_sensitive: false,
            etag,
        },
    )
    .expect("prelude");
    routing.set_prelude(Some(prelude));
    routing
}

/// The next request the handler side gets, with the time to wait for it.
fn next_request(queue: &EventQueue, wakes: &mpsc::Receiver<()>) -> Box<RequestHead> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let _ = wakes.recv_timeout(Duration::from_millis(50));
        for event in queue.drain() {
            if let Event::Request(head) = event {
                return head;
            }
        }
    }
    panic!("no request reached the handler side");
}

const HELMET_HEAD: [&str; 12] = [
    "Content-Security-Policy: default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    "Cross-Origin-Opener-Policy: same-origin",
    "Cross-Origin-Resource-Policy: same-origin",
    "Origin-Agent-Cluster: ?1",
    "Referrer-Policy: no-referrer",
    "Strict-Transport-Security: max-age=31536000; includeSubDomains",
    "X-Content-Type-Options: nosniff",
    "X-DNS-Prefetch-Control: off",
    "X-Download-Options: noopen",
    "X-Frame-Options: SAMEORIGIN",
    "X-Permitted-Cross-Domain-Policies: none",
    "X-XSS-Protection: 0",
];

fn with_helmet(head: &[&str]) -> Vec<String> {
    HELMET_HEAD
        .iter()
        .chain(head)
        .map(|l| (*l).to_owned())
        .collect()
}

#[test]
fn a_request_past_the_limit_is_answered_with_the_headers_of_the_stages_before() {
    let (_, limiter) = rate_limit(obj(&[
        ("limit", OptionValue::Number(1.0)),
        ("standardHeaders", OptionValue::String("draft-7".into())),
        ("legacyHeaders", OptionValue::Bool(false)),
    ]));
    let routing = app(
        vec![
            everywhere(helmet(OptionValue::Undefined)),
            everywhere(cors(obj(&[(
                "origin",
                OptionValue::String("https://a.example".into()),
            )]))),
            everywhere(limiter),
        ],
        EntityTag::Weak,
    );
    let (server, queue, _wakes) = start(routing);
    let port = port(&server);
    // the first one is counted, and answered by the "route" (no handler side here: 404 page)
    let (status, _, _) = split(&roundtrip(port, "GET", "/nope", &[]));
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, head, body) = split(&roundtrip(port, "GET", "/known", &[]));
    assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
    assert_eq!(body, "Too many requests, please try again later.");
    // what Express sends: helmet's headers (X-Powered-By removed), cors's, the limiter's, then
    // res.status(429).send(message)'s
    let expected = with_helmet(&[
        "Access-Control-Allow-Origin: https://a.example",
        "Vary: Origin",
        "RateLimit-Policy: 1;w=60",
        "RateLimit: limit=1, remaining=0, reset=60",
        "Retry-After: 60",
        "Content-Type: text/html; charset=utf-8",
        "Content-Length: 42",
        "ETag: W/\"2a-UpTsLJ74nYuiLgNgEwlQMxGqwrE\"",
        "Date: <date>",
        "Connection: close",
    ]);
    assert_eq!(head, expected);
    assert!(
        queue
            .drain()
            .iter()
            .all(|e| !matches!(e, Event::Request(_))),
        "nothing reached the handler side"
    );
}

#[test]
fn a_preflight_is_answered_with_x_powered_by_and_the_cors_headers() {
    let routing = app(
        vec![everywhere(cors(obj(&[(
            "maxAge",
            OptionValue::Number(600.0),
        )])))],
        EntityTag::Weak,
    );
    let (server, _queue, _wakes) = start(routing);
    let (status, head, body) = split(&roundtrip(
        port(&server),
        "OPTIONS",
        "/anything",
        &[
            ("Origin", "https://x.example"),
            ("Access-Control-Request-Headers", "x-a"),
        ],
    ));
    assert_eq!(status, "HTTP/1.1 204 No Content");
    assert_eq!(body, "");
    assert_eq!(
        head,
        [
            "X-Powered-By: Express",
            "Access-Control-Allow-Origin: *",
            "Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE",
            "Vary: Access-Control-Request-Headers",
            "Access-Control-Allow-Headers: x-a",
            "Access-Control-Max-Age: 600",
            "Content-Length: 0",
            "Date: <date>",
            "Connection: close",
        ]
    );
}

#[test]
fn the_404_page_sets_its_headers_over_the_stages_as_finalhandler_does() {
    let routing = app(
        vec![everywhere(helmet(obj(&[(
            "xPoweredBy",
            OptionValue::Bool(false),
        )])))],
        EntityTag::Weak,
    );
    let (server, _queue, _wakes) = start(routing);
    let (status, head, body) = split(&roundtrip(port(&server), "GET", "/a/b", &[]));
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(body, "<pre>Cannot GET /a/b</pre>\n");
    // X-Powered-By first (helmet keeps it here), helmet's CSP replaced in place, nosniff kept in
    // place, then the page's own
    let mut expected = vec!["X-Powered-By: Express".to_owned()];
    expected.extend(with_helmet(&[]));
    expected[1] = "Content-Security-Policy: default-src 'none'".to_owned();
    expected.extend(
        [
            "Content-Type: text/html; charset=utf-8",
            "Content-Length: 27",
            "Date: <date>",
            "Connection: close",
        ]
        .map(str::to_owned),
    );
    assert_eq!(head, expected);
}

#[test]
fn options_that_only_routes_of_other_methods_match_get_the_routers_allow_answer() {
    let routing = app(
        vec![everywhere(helmet(OptionValue::Undefined))],
        EntityTag::Weak,
    );
    let (server, _queue, _wakes) = start(routing);
    let (status, head, body) = split(&roundtrip(port(&server), "OPTIONS", "/known", &[]));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "GET, HEAD");
    let mut expected = with_helmet(&[]);
    expected.extend(
        [
            "Allow: GET, HEAD",
            "Content-Length: 9",
            "Content-Type: text/plain",
            "Date: <date>",
            "Connection: close",
        ]
        .map(str::to_owned),
    );
    assert_eq!(head, expected);
    // a method the route does not handle is Express's 404, natively too
    let (status, _, body) = split(&roundtrip(port(&server), "DELETE", "/known", &[]));
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(body, "<pre>Cannot DELETE /known</pre>\n");
}

#[test]
fn a_dispatched_request_carries_the_decisions_and_its_answer_gets_the_headers_in_front() {
    let (_, limiter) = rate_limit(obj(&[("limit", OptionValue::Number(5.0))]));
    let routing = app(
        vec![
            everywhere(helmet(obj(&[(
                "contentSecurityPolicy",
                OptionValue::Bool(false),
            )]))),
            everywhere(limiter),
        ],
        EntityTag::Weak,
    );
    let (server, queue, wakes) = start(routing);
    let port = port(&server);
    let client = std::thread::spawn(move || roundtrip(port, "GET", "/known", &[]));
    let head = next_request(&queue, &wakes);
    // the layers the prelude ran are not among the candidates: only the route
    assert_eq!(head.candidates.as_ref().expect("mirrored").ids, vec![3]);
    let text =
        String::from_utf8(head.prelude.clone().expect("the prelude ran").to_vec()).expect("ascii");
    let lines: Vec<&str> = text.lines().collect();
    // plan, notices (the limiter's first request: bit 0), stages run (both), one limiter:
    // ordinal, limit, used, remaining, reset, key
    assert_eq!(&lines[..5], ["7", "1", "2", "1", "0"]);
    assert_eq!(&lines[5..8], ["5", "1", "4"]);
    assert_eq!(lines[9], "127.0.0.1");
    assert_eq!(lines[10], "Cross-Origin-Opener-Policy:same-origin");
    assert!(text.contains("X-RateLimit-Remaining:4\n"), "{text}");
    // the handler sets its own headers, one of them a name a stage set (without reading it)
    let reply = ResponseHead::from_block(
        200,
        "Content-Type:text/plain\nX-Frame-Options:DENY\nx-custom:1\n",
    )
    .expect("head");
    Exchange::global()
        .prepare(head.id, reply, Bytes::from_static(b"ok"), EntityTag::None)
        .expect("in flight")
        .send();
    let (status, head, body) = split(&client.join().expect("client"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "ok");
    let frame = head
        .iter()
        .position(|l| l.starts_with("X-Frame-Options"))
        .expect("set");
    assert_eq!(
        head[frame], "X-Frame-Options: DENY",
        "JS's value, in helmet's place"
    );
    assert_eq!(head[0], "Cross-Origin-Opener-Policy: same-origin");
    assert!(
        frame
            < head
                .iter()
                .position(|l| l == "Content-Type: text/plain")
                .expect("own"),
        "{head:?}"
    );
    assert!(head.contains(&"x-custom: 1".to_owned()), "{head:?}");
    assert!(head.contains(&"X-XSS-Protection: 0".to_owned()), "{head:?}");
    assert_eq!(
        head.iter().filter(|l| l.starts_with("Date")).count(),
        1,
        "{head:?}"
    );
}

#[test]
fn a_response_whose_headers_js_took_gets_none_added() {
    let routing = app(
        vec![everywhere(helmet(OptionValue::Undefined))],
        EntityTag::Weak,
    );
    let (server, queue, wakes) = start(routing);
    let port = port(&server);
    let client = std::thread::spawn(move || roundtrip(port, "GET", "/known", &[]));
    let head = next_request(&queue, &wakes);
    // JS removed everything but one header of the stages'
    let reply = ResponseHead::from_block(200, "X-Frame-Options:SAMEORIGIN\nContent-Length:2\n")
        .expect("head")
        .with_prelude_headers();
    Exchange::global()
        .prepare(head.id, reply, Bytes::from_static(b"ok"), EntityTag::None)
        .expect("in flight")
        .send();
    let (_, head, _) = split(&client.join().expect("client"));
    assert_eq!(
        head,
        [
            "X-Frame-Options: SAMEORIGIN",
            "Content-Length: 2",
            "Date: <date>",
            "Connection: close"
        ]
    );
}

#[test]
fn skip_failed_requests_takes_back_a_failed_or_abandoned_hit() {
    let (counter, limiter) = rate_limit(obj(&[
        ("limit", OptionValue::Number(1.0)),
        ("skipFailedRequests", OptionValue::Bool(true)),
    ]));
    let routing = app(vec![everywhere(limiter)], EntityTag::Weak);
    let (server, queue, wakes) = start(routing);
    let port = port(&server);
    let key = counter.key_for_ip("127.0.0.1".parse().expect("ip"));
    let hits = || counter.get(&key, now_ms()).map_or(0, |(hits, _)| hits);
    // answered 500 by the handler side: taken back
    let client = std::thread::spawn(move || roundtrip(port, "GET", "/known", &[]));
    let head = next_request(&queue, &wakes);
    assert_eq!(hits(), 1);
    let reply = ResponseHead::from_block(500, "").expect("head");
    Exchange::global()
        .prepare(head.id, reply, Bytes::new(), EntityTag::None)
        .expect("in flight")
        .send();
    client.join().expect("client");
    assert_eq!(hits(), 0);
    // the client leaves before any answer: taken back too
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /known HTTP/1.1\r\nHost: t\r\n\r\n")
        .expect("write");
    let _ = next_request(&queue, &wakes);
    assert_eq!(hits(), 1);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while hits() != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(hits(), 0, "the abandoned hit was taken back");
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

#[test]
fn a_stage_mounted_on_a_path_runs_for_that_path_only() {
    let routing = app(
        vec![Stage {
            kind: cors(OptionValue::Undefined),
            path: StagePath::Path("/api".into()),
        }],
        EntityTag::Weak,
    );
    let (server, _queue, _wakes) = start(routing);
    let port = port(&server);
    let (_, head, _) = split(&roundtrip(port, "GET", "/API/x", &[]));
    assert!(
        head.contains(&"Access-Control-Allow-Origin: *".to_owned()),
        "{head:?}"
    );
    let (_, head, _) = split(&roundtrip(port, "GET", "/apix", &[]));
    assert!(
        !head.iter().any(|l| l.starts_with("Access-Control")),
        "{head:?}"
    );
}

#[test]
fn a_conditional_get_to_a_limiter_answering_2xx_is_left_to_js() {
    let (_, limiter) = rate_limit(obj(&[
        ("limit", OptionValue::Number(0.0)),
        ("statusCode", OptionValue::Number(200.0)),
    ]));
    let routing = app(vec![everywhere(limiter)], EntityTag::Weak);
    let (server, queue, wakes) = start(routing);
    let port = port(&server);
    // without a condition the engine answers (its ETag would be compared by JS's res.send)
    let (status, _, _) = split(&roundtrip(port, "GET", "/known", &[]));
    assert_eq!(status, "HTTP/1.1 200 OK");
    let client = std::thread::spawn(move || {
        roundtrip(port, "GET", "/known", &[("If-None-Match", "W/\"x\"")])
    });
    let head = next_request(&queue, &wakes);
    assert!(head.prelude.is_none(), "JS runs the stages itself");
    assert!(head.candidates.is_none(), "and sees the whole stack");
    Exchange::global()
        .prepare(
            head.id,
            ResponseHead::from_block(304, "").expect("head"),
            Bytes::new(),
            EntityTag::None,
        )
        .expect("in flight")
        .send();
    client.join().expect("client");
}

#[test]
fn what_a_limiter_first_sees_is_reported_once_even_when_answered_natively() {
    let (_, limiter) = rate_limit(obj(&[("limit", OptionValue::Number(0.0))]));
    let routing = app(vec![everywhere(limiter)], EntityTag::None);
    let (server, queue, wakes) = start(routing);
    let port = port(&server);
    for _ in 0..2 {
        let (status, _, _) = split(&roundtrip(
            port,
            "GET",
            "/known",
            &[("X-Forwarded-For", "10.0.0.1")],
        ));
        assert_eq!(status, "HTTP/1.1 429 Too Many Requests");
    }
    let mut notices = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let _ = wakes.recv_timeout(Duration::from_millis(50));
        for event in queue.drain() {
            if let Event::PreludeNotices { plan, bits } = event {
                notices.push((plan, bits));
            }
        }
    }
    // first request seen (bit 0), with X-Forwarded-For (bit 1); once
    assert_eq!(notices, [(7, 0b011)]);
}
