//! The request reader: what it records, where it refuses, how it frames.

use crate::wire::HeadLimits;
use bytes::Bytes;

use super::{follow_limited, follow_with, wire, Followed};
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
    let mut reader = RequestReader::new(wire(false, true), HeadLimits::default());
    let mut bytes = stream.to_vec();
    let fed = reader.feed(&mut bytes);
    assert_eq!(fed.stop, Some(Stop::Hold));
    reader.verdict(true);
    let mut rest = bytes[fed.consumed..].to_vec();
    assert_eq!(reader.feed(&mut rest).consumed, rest.len());
    assert_eq!(&rest[..], b"GET /<not http> \n\x00raw");
    // Not switched: HTTP again, from the byte after the head.
    let mut reader = RequestReader::new(wire(false, true), HeadLimits::default());
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

/// Node's count of a head toward maxHeaderSize (see `HeadLimits::max_size`), computed apart from
/// the reader: the target, and each header's name and value from its first non-blank byte.
fn node_count(target: &str, lines: &[(String, String)]) -> usize {
    target.len()
        + lines
            .iter()
            .map(|(name, value)| name.len() + value.trim_start_matches([' ', '\t']).len())
            .sum::<usize>()
}

fn head_of(target: &str, lines: &[(String, String)]) -> Vec<u8> {
    let mut head = format!("GET {target} HTTP/1.1\r\n");
    for (name, value) in lines {
        head.push_str(&format!("{name}:{value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn limited(stream: &[u8], piece: usize, limits: HeadLimits) -> Followed {
    follow_limited(wire(false, false), stream, piece, limits)
}

#[test]
fn a_head_is_refused_with_431_once_nodes_count_reaches_max_header_size() {
    let limits = HeadLimits {
        max_size: 100,
        ..HeadLimits::default()
    };
    // target 10 + "Host" "x" 5 = 15; each case adds a header whose count makes 99 or 100.
    let cases: [(&str, usize); 5] = [
        ("X:{}", 0),           // value counted whole
        ("X:    {}", 0),       // blanks before the value are not counted
        ("X:{}\t \t", 3),      // blanks after it are
        ("Long-Name:\t{}", 8), // the name is, the colon is not
        ("X: {} b", 2),        // inner blanks are
    ];
    for (shape, extra) in cases {
        for (total, refused) in [(99, false), (100, true)] {
            let value = "v".repeat(total - 15 - 1 - extra);
            let line = shape.replace("{}", &value);
            let stream = format!("GET /123456789 HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n");
            for piece in [1, 5, 1000] {
                let followed = limited(stream.as_bytes(), piece, limits);
                assert_eq!(
                    followed.stop == Some(Stop::TooLarge),
                    refused,
                    "{line:?} in pieces of {piece}"
                );
                assert_eq!(followed.recorded.len(), usize::from(!refused));
            }
        }
    }
}

#[test]
fn a_long_target_counts_toward_max_header_size_as_with_node() {
    let limits = HeadLimits {
        max_size: 64,
        ..HeadLimits::default()
    };
    // 63 counted bytes pass, 64 are refused: the target alone, before any header.
    for (length, refused) in [(63 - 5, false), (64 - 5, true)] {
        let stream = format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(length - 1)
        );
        let followed = limited(stream.as_bytes(), 7, limits);
        assert_eq!(followed.stop == Some(Stop::TooLarge), refused, "{length}");
    }
}

#[test]
fn blanks_node_does_not_count_are_still_bounded_in_bytes() {
    let limits = HeadLimits::default();
    let stream = format!(
        "GET / HTTP/1.1\r\nX:{}a\r\n\r\n",
        " ".repeat(limits.max_bytes())
    );
    assert_eq!(
        limited(stream.as_bytes(), 4096, limits).stop,
        Some(Stop::TooLarge)
    );
}

#[test]
fn a_long_head_is_compacted_for_hyper_and_recorded_whole() {
    let mut lines: Vec<(String, String)> =
        (0..150).map(|i| (format!("X-{i}"), "v".into())).collect();
    lines.insert(100, ("Content-Length".into(), "5".into()));
    lines.insert(120, ("Connection".into(), "keep-alive".into()));
    let mut stream = head_of("/a", &lines);
    stream.extend_from_slice(b"helloGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    for piece in [1, 9, 100_000] {
        let followed = limited(&stream, piece, HeadLimits::default());
        assert_eq!(followed.stop, None);
        // hyper: the first 64 lines as sent, the framing lines, the blank line, then the body
        // and the next request as they came.
        let mut expected = head_of("/a", &lines[..64]);
        expected.truncate(expected.len() - 2);
        expected.extend_from_slice(b"Content-Length:5\r\nConnection:keep-alive\r\n\r\n");
        expected.extend_from_slice(b"helloGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            String::from_utf8_lossy(&followed.seen),
            String::from_utf8_lossy(&expected),
            "pieces of {piece}"
        );
        let first = &followed.recorded[0];
        assert_eq!(
            (first.lines, first.given, first.app_lines),
            (152, 66, Some(152))
        );
        assert_eq!(headers(first).lines().count(), 152 * 2);
        let second = &followed.recorded[1];
        assert_eq!((second.lines, second.given, second.app_lines), (1, 1, None));
    }
}

#[test]
fn a_compacted_head_refused_gives_hyper_its_nul() {
    let lines: Vec<(String, String)> = (0..80).map(|i| (format!("X-{i}"), "v".into())).collect();
    let mut stream = head_of("/a", &lines);
    stream.truncate(stream.len() - 2);
    stream.extend_from_slice(b"Bad Name: x\r\n\r\n");
    let followed = limited(&stream, 1000, HeadLimits::default());
    assert_eq!(followed.stop, Some(Stop::RefusedHead));
    assert_eq!(followed.seen.last(), Some(&0));
    assert!(followed.seen.len() < stream.len());
}

#[test]
fn more_header_lines_than_max_headers_count_are_refused_or_cut_as_by_the_running_node() {
    let lines: Vec<(String, String)> = (0..40).map(|i| (format!("X-{i}"), String::new())).collect();
    let stream = head_of("/", &lines);
    let node_22 = HeadLimits {
        max_lines: Some(10),
        refuse_extra_lines: true,
        ..HeadLimits::default()
    };
    assert_eq!(limited(&stream, 1000, node_22).stop, Some(Stop::TooLarge));
    let at_the_count = head_of("/", &lines[..10]);
    assert_eq!(limited(&at_the_count, 1000, node_22).stop, None);
    // Node 20: req.headers holds 10, req.rawHeaders the first group of 31.
    let node_20 = HeadLimits {
        refuse_extra_lines: false,
        ..node_22
    };
    let followed = limited(&stream, 1000, node_20);
    let recorded = &followed.recorded[0];
    assert_eq!((recorded.lines, recorded.app_lines), (40, Some(10)));
    assert_eq!(headers(recorded).split('\n').count(), 31 * 2);
}

/// Random heads around the limits (seeded, so a failure replays): the reader refuses exactly
/// those whose Node count reaches maxHeaderSize or whose line count passes maxHeadersCount, in
/// any piece size, and records the others whole.
#[test]
fn property_random_heads_around_the_limits() {
    let mut next = crate::testing::seeded(0x5EED_1234_ABCD);
    for round in 0..300 {
        let max_size = 200 + next(3000);
        let max_lines = 5 + next(200);
        let refuse_extra_lines = next(2) == 0;
        let limits = HeadLimits {
            max_size,
            max_lines: Some(max_lines),
            refuse_extra_lines,
        };
        let target = format!("/{}", "t".repeat(next(40)));
        // Aim near a limit: line counts and sizes around them.
        let count = (max_lines + 6).saturating_sub(next(12));
        let budget = max_size.saturating_sub(target.len()) / count.max(1);
        let lines: Vec<(String, String)> = (0..count)
            .map(|i| {
                let name = format!("h{i}");
                let blanks = " \t".repeat(next(3));
                let value = "v".repeat(next(budget.max(2) + 2));
                let trailing = " ".repeat(next(2));
                (name, format!("{blanks}{value}{trailing}"))
            })
            .collect();
        let counted = node_count(&target, &lines);
        let too_large = counted >= max_size || (refuse_extra_lines && count > max_lines);
        let stream = head_of(&target, &lines);
        let piece = [1, 3, 64, 100_000][next(4)];
        let followed = limited(&stream, piece, limits);
        assert_eq!(
            followed.stop == Some(Stop::TooLarge),
            too_large,
            "round {round}: count {counted} of {max_size}, {count} lines of {max_lines}"
        );
        if !too_large {
            let recorded = &followed.recorded[0];
            assert_eq!(recorded.lines, count, "round {round}");
            let cut = (!refuse_extra_lines && count > max_lines).then_some(max_lines);
            let compacted = (count > 64).then_some(count);
            assert_eq!(recorded.app_lines, cut.or(compacted), "round {round}");
        }
    }
}
