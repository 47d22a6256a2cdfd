//! The request reader: what it records, where it refuses, how it frames.

use bytes::Bytes;

use super::{follow_with, wire, Followed};
use crate::wire::reader::{RequestReader, Stop};
use crate::wire::{HandOverKind, Recorded};

fn follow(stream: &[u8], piece: usize) -> Followed {
    follow_with(wire(false, false), stream, piece)
}

fn headers(r: &Recorded) -> &str {
    std::str::from_utf8(&r.raw_headers).expect("ascii")
}

#[test]
fn records_header_lines_in_order_and_case() {
    for piece in [1, 2, 7, 1000] {
        let followed = follow(
            b"GET /a HTTP/1.1\r\nHost: x\r\nX-Thing:  v1 \r\nX-Thing: v2\r\ncookie: c\r\n\r\n",
            piece,
        );
        assert_eq!(followed.recorded.len(), 1);
        let r = &followed.recorded[0];
        assert_eq!(headers(r), "Host\nx\nX-Thing\nv1\nX-Thing\nv2\ncookie\nc");
        assert_eq!(r.lines, 4);
        assert_eq!(r.original_target, None);
        assert_eq!(followed.stop, None);
    }
}

#[test]
fn replaces_target_bytes_http_refuses_and_keeps_the_original() {
    let line = b"GET /<script>`x`?q=\"a\"&b={1}#frag HTTP/1.1\r\nHost: h\r\n\r\n";
    for piece in [1, 3, 1000] {
        let followed = follow(line, piece);
        assert_eq!(
            &followed.seen[..],
            b"GET /_script__x_?q=_a_&b={1}_frag HTTP/1.1\r\nHost: h\r\n\r\n"
        );
        assert_eq!(
            followed.recorded[0].original_target.as_deref(),
            Some(&b"/<script>`x`?q=\"a\"&b={1}#frag"[..])
        );
    }
    // Characters the http crate takes stay as they are: no recording of the target.
    let followed = follow(b"GET /a\"{}|^\\?x=`{}|^ HTTP/1.1\r\nHost: h\r\n\r\n", 1000);
    assert_eq!(&followed.seen[..24], b"GET /a\"{}|^\\?x=`{}|^ HTT");
    assert_eq!(followed.recorded[0].original_target, None);
}

#[test]
fn follows_bodies_to_the_next_request() {
    let stream = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nGET /<x> \r\nGET /<y> HTTP/1.1\r\nHost: h\r\n\r\n\
        POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nGET /<\r\n0\r\nT: 1\r\n\r\n\
        GET /<z> HTTP/1.1\r\nHost: h\r\n\r\n";
    for piece in [1, 4, 1000] {
        let followed = follow(stream, piece);
        let seen = String::from_utf8(followed.seen).expect("ascii");
        assert!(
            seen.contains("Length: 9\r\n\r\nGET /<x> \r\n"),
            "body untouched: {seen}"
        );
        assert!(seen.contains("GET /_y_ HTTP"), "{seen}");
        assert!(seen.contains("\r\nGET /<\r\n"), "chunk untouched: {seen}");
        assert!(seen.contains("GET /_z_ HTTP"), "{seen}");
        let targets: Vec<_> = followed
            .recorded
            .iter()
            .map(|r| r.original_target.clone())
            .collect();
        assert_eq!(
            targets,
            [
                None,
                Some(Bytes::from_static(b"/<y>")),
                None,
                Some(Bytes::from_static(b"/<z>"))
            ]
        );
    }
}

/// A head refused: hyper gets the stream up to the deciding byte, made a NUL, and nothing after.
fn assert_refused_head(stream: &[u8], at: &[u8]) {
    for piece in [1, 5, 4096] {
        let followed = follow(stream, piece);
        assert_eq!(
            followed.stop,
            Some(Stop::RefusedHead),
            "{:?} in pieces of {piece}",
            String::from_utf8_lossy(stream)
        );
        let (last, before) = followed.seen.split_last().expect("some bytes");
        assert_eq!(*last, 0, "{:?}", String::from_utf8_lossy(stream));
        assert!(
            before.ends_with(at),
            "{:?}: {:?}",
            String::from_utf8_lossy(stream),
            String::from_utf8_lossy(before)
        );
    }
}

#[test]
fn heads_node_refuses_are_refused_at_the_deciding_byte() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"GET / HTTP/1.1\nHost: x\r\n\r\n", b"HTTP/1.1"),
        (b"GET / HTTP/1.1\r\nHost: x\n\r\n", b"Host: x"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\n", b"Host: x\r\n"),
        (b"get / HTTP/1.1\r\n\r\n", b"get"),
        (b"FOO / HTTP/1.1\r\n\r\n", b"FOO"),
        (b"GET  / HTTP/1.1\r\n\r\n", b"GET "),
        (b"GET /a\x00 HTTP/1.1\r\n\r\n", b"GET /a"),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", b"GET /caf"),
        (b"GET / HTTP/1.2\r\n\r\n", b"HTTP/1.2"),
        (b"GET / HTTP/2.0\r\n\r\n", b"HTTP/2.0"),
        (b"GET /\r\n\r\n", b"GET /"),
        (b"GET / HTTP/1.1\rX", b"HTTP/1.1\r"),
        (b"\rGET / HTTP/1.1\r\n\r\n", b"\r"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b" folded\r",
        ),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", b"Host : x\r"),
        (b"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", b"No-Colon\r"),
        (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", b"X: a\rb\r"),
        (b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", b"X: a\x01b\r"),
        (b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", b"X: a\x7fb\r"),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"Host: b\r",
        ),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", b"Host: a b\r"),
        (b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", b"Host: u@a\r"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"Content-Length: 1\r",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            b"Content-Length: +1\r",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"99999999999999999999\r",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            b"\r\n\r",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"chunked\r\n\r",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"gzip\r\n\r",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
            b"chunked;q=1\r",
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"chunked\r\n\r",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"chunked\r\n\r",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            b"3\r\n\r",
        ),
    ];
    for (stream, at) in cases {
        assert_refused_head(stream, at);
    }
}

#[test]
fn bodies_node_refuses_are_cut_before_the_faulty_line_with_their_status() {
    let chunked = |body: &str| {
        format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{body}")
            .into_bytes()
    };
    let cases: &[(&str, u16)] = &[
        ("zz\r\n", 400),
        ("3 \r\nabc\r\n", 400),
        ("3;a = b\r\n", 400),
        ("3;\r\n", 400),
        ("3\nabc", 400),
        ("3\r\nabcXX", 400),
        ("3\r\nabc\n", 400),
        ("3\r\nabc\r\n0\r\nX : 1\r\n\r\n", 400),
        ("3\r\nabc\r\n0\r\n\n", 400),
        ("FFFFFFFFFFFFFFFFF\r\n", 400),
    ];
    for (body, status) in cases {
        for piece in [1, 3, 4096] {
            let followed = follow(&chunked(body), piece);
            assert_eq!(
                followed.stop,
                Some(Stop::RefusedBody(*status)),
                "{body:?} in pieces of {piece}"
            );
            assert_eq!(followed.recorded.len(), 1);
        }
    }
    let extensions = chunked(&format!("3;{}\r\nabc\r\n", "a".repeat(20_000)));
    assert_eq!(follow(&extensions, 4096).stop, Some(Stop::RefusedBody(413)));
}

#[test]
fn a_transfer_coding_the_engine_does_not_implement_is_a_501_and_ends_the_reading() {
    let followed = follow(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        7,
    );
    assert_eq!(followed.stop, Some(Stop::End));
    assert_eq!(followed.recorded[0].refusal, Some(501));
    assert!(
        followed.seen.ends_with(b"gzip, chunked\r\n\r\n"),
        "the head and nothing after"
    );
}

#[test]
fn requests_after_an_upgrade_header_nobody_takes_are_read_as_strictly() {
    let stream = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET /<b> HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\nHost: h\r\n\r\n";
    let followed = follow(stream, 1000);
    assert_eq!(followed.recorded.len(), 2);
    assert_eq!(
        followed.recorded[1].original_target.as_deref(),
        Some(&b"/<b>"[..])
    );
    assert_eq!(followed.stop, Some(Stop::RefusedHead));
}

#[test]
fn a_hand_over_holds_what_follows_its_head_until_the_verdict() {
    let stream = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nGET /<not http> \n\x00raw";
    for piece in [1000, 1] {
        let followed = follow_with(wire(false, true), stream, piece);
        assert_eq!(followed.stop, Some(Stop::Hold));
        assert!(followed.seen.ends_with(b"upgrade\r\n\r\n"));
        assert_eq!(followed.recorded[0].hand_over, Some(HandOverKind::Upgrade));
        let expected: &[u8] = if piece == 1000 {
            b"GET /<not http> \n\x00raw"
        } else {
            b""
        };
        assert_eq!(
            followed.recorded[0].after_head, expected,
            "pieces of {piece}"
        );
    }
    // Switched: the rest is not HTTP and is not touched.
    let mut reader = RequestReader::new(wire(false, true), 16 * 1024);
    let mut bytes = stream.to_vec();
    let fed = reader.feed(&mut bytes);
    assert_eq!(fed.stop, Some(Stop::Hold));
    reader.verdict(true);
    let mut rest = bytes[fed.consumed..].to_vec();
    assert_eq!(reader.feed(&mut rest).consumed, rest.len());
    assert_eq!(&rest[..], b"GET /<not http> \n\x00raw");
    // Not switched: HTTP again, from the byte after the head.
    let mut reader = RequestReader::new(wire(false, true), 16 * 1024);
    let mut bytes = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nGET /<n> HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
    let fed = reader.feed(&mut bytes);
    reader.verdict(false);
    let mut rest = bytes[fed.consumed..].to_vec();
    assert_eq!(reader.feed(&mut rest).stop, None);
    assert_eq!(&rest[..], b"GET /_n_ HTTP/1.1\r\nHost: h\r\n\r\n");
}

#[test]
fn connect_is_handed_over_only_with_a_listener_and_never_with_a_body() {
    let stream = b"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\nhello";
    let taken = follow_with(wire(true, false), stream, 1000);
    assert_eq!(taken.stop, Some(Stop::Hold));
    assert_eq!(taken.recorded[0].hand_over, Some(HandOverKind::Connect));
    assert_eq!(taken.recorded[0].after_head, &b"hello"[..]);
    let closed = follow_with(wire(false, false), stream, 1000);
    assert_eq!(closed.stop, Some(Stop::End));
    assert_eq!(closed.recorded[0].hand_over, None);
    let with_body = follow_with(
        wire(true, false),
        b"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 5\r\n\r\nhello",
        1000,
    );
    assert_eq!(with_body.stop, Some(Stop::RefusedHead));
}

#[test]
fn an_oversized_head_is_left_to_hyper_and_not_recorded() {
    let mut stream = b"GET / HTTP/1.1\r\nX: ".to_vec();
    stream.extend(std::iter::repeat_n(b'a', 20 * 1024));
    stream.extend_from_slice(b"\r\n\r\nGET /<x> HTTP/1.1\r\n\r\n");
    let followed = follow(&stream, 4096);
    assert!(followed.recorded.is_empty());
    assert_eq!(followed.stop, None);
    assert_eq!(followed.seen, stream, "passed as it is");
}
