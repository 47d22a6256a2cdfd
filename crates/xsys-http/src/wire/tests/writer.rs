//! The response writer: head bytes put Node's way, bodies never touched.

use std::collections::VecDeque;
use std::io::IoSlice;

use super::wire;
use crate::wire::reader::Kind;
use crate::wire::writer::ResponseWriter;
use crate::wire::ConnectionWire;

/// What the writer sends for `parts` (hyper's slices), all taken by the socket.
fn written(
    writer: &mut ResponseWriter,
    kinds: &mut VecDeque<Kind>,
    wire: &ConnectionWire,
    parts: &[&[u8]],
) -> Vec<u8> {
    let bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    let (taken, _) = writer.take(&bufs, kinds, wire);
    assert_eq!(taken, parts.iter().map(|p| p.len()).sum::<usize>());
    let out: Vec<u8> = writer
        .slices(&bufs)
        .iter()
        .flat_map(|s| s.to_vec())
        .collect();
    writer.keep_unwritten(&bufs, out.len());
    out
}

fn answered(kinds: &[Kind], dispatched: u64, parts: &[&[u8]]) -> Vec<u8> {
    let wire = wire(false, false);
    for _ in 0..dispatched {
        wire.begin_service();
    }
    let mut writer = ResponseWriter::new();
    let mut kinds: VecDeque<Kind> = kinds.iter().copied().collect();
    written(&mut writer, &mut kinds, &wire, parts)
}

#[test]
fn chunk_sizes_go_out_in_lower_case_and_data_never_changes() {
    let ten = b"0123456789";
    let out = answered(
        &[Kind::default()],
        1,
        &[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"A\r\n",
            ten,
            b"\r\n",
            b"1B\r\n",
            &[b'A'; 27],
            b"\r\n0\r\n\r\n",
        ],
    );
    let expected = [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n"[..],
        ten,
        b"\r\n1b\r\n",
        &[b'A'; 27],
        b"\r\n0\r\n\r\n",
    ]
    .concat();
    assert_eq!(out, expected);
    // A Content-Length body written as a size line, ten bytes and a CRLF is a body.
    let body = answered(
        &[Kind::default()],
        1,
        &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n",
            b"A\r\n",
            ten,
            b"\r\n",
        ],
    );
    assert!(body.ends_with(b"\r\n\r\nA\r\n0123456789\r\n"));
}

#[test]
fn status_lines_say_http11_in_heads_only() {
    let body = b"HTTP/1.0 200 OK\r\nA: b\r\n\r\n";
    let out = answered(
        &[Kind::default(), Kind::default()],
        2,
        &[
            b"HTTP/1.0 200 OK\r\nContent-Length: 25\r\n\r\n",
            body,
            b"HTTP/1.0 304 Not Modified\r\n\r\n",
        ],
    );
    assert_eq!(
        out,
        [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n"[..],
            body,
            b"HTTP/1.1 304 Not Modified\r\n\r\n"
        ]
        .concat()
    );
    // Close-delimited (HTTP/1.0 stream): everything after the head is body.
    let out = answered(
        &[Kind::default()],
        1,
        &[b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n", body],
    );
    assert!(out.starts_with(b"HTTP/1.1 200 OK") && out.ends_with(body));
}

#[test]
fn refusals_lose_their_content_length_only_when_hyper_or_the_engine_made_them() {
    let refusal = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    let node = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    // hyper's own: the service never had the request.
    assert_eq!(answered(&[Kind::default()], 0, &[refusal]), node);
    // An app's answer of the same shape stays as written.
    assert_eq!(answered(&[Kind::default()], 1, &[refusal]), refusal);
    // The engine's own refusal.
    let wire = wire(false, false);
    let number = wire.begin_service();
    wire.engine_refuses(number);
    let mut writer = ResponseWriter::new();
    let mut kinds = VecDeque::from([Kind::default()]);
    assert_eq!(
        written(
            &mut writer,
            &mut kinds,
            &wire,
            &[b"HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"]
        ),
        b"HTTP/1.1 501 Not Implemented\r\nConnection: close\r\n\r\n"
    );
    // A body shaped as a refusal is a body.
    let out = answered(
        &[Kind::default()],
        1,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 66\r\n\r\n", refusal],
    );
    assert!(out.ends_with(refusal));
}

#[test]
fn answers_without_a_body_are_followed_by_the_next_head() {
    let chunked: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n";
    for (kinds, first) in [
        (
            vec![
                Kind {
                    head_method: true,
                    ..Kind::default()
                },
                Kind::default(),
            ],
            &b"HTTP/1.1 200 OK\r\nContent-Length: 63\r\n\r\n"[..],
        ),
        (
            vec![Kind::default(), Kind::default()],
            b"HTTP/1.1 204 No Content\r\n\r\n",
        ),
        (
            vec![Kind::default(), Kind::default()],
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
        ),
        (vec![Kind::default()], b"HTTP/1.1 100 Continue\r\n\r\n"),
    ] {
        let out = answered(&kinds, 2, &[first, chunked]);
        assert!(
            out.ends_with(b"\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"),
            "{:?}",
            String::from_utf8_lossy(first)
        );
    }
}

#[test]
fn after_a_101_the_bytes_are_raw() {
    let out = answered(
        &[Kind {
            hand_over: true,
            ..Kind::default()
        }],
        1,
        &[
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            b"A\r\nHTTP/1.0 200 OK\r\n\r\n",
        ],
    );
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\n\r\nA\r\nHTTP/1.0 200 OK\r\n\r\n"
    );
}
