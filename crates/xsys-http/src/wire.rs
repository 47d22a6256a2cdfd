//! What hyper does not keep of a request as it came over the wire, recorded on the way in.
//!
//! - The request target byte for byte. The `http` crate refuses some characters Node accepts
//!   (`<`, `>` and `` ` `` in the path; `"`, `<`, `>` in the query) and drops the `#fragment` that
//!   Node leaves in `req.url`. Those bytes are replaced in place by `_` before hyper parses the
//!   line (same length, so nothing moves), and the original target is recorded. A byte above
//!   0x7F, which Node refuses, becomes 0x7F so that hyper refuses it too (400).
//! - The header lines in their order and case, for `req.rawHeaders`.
//!
//! [`WireIo`] wraps the connection's socket and follows HTTP/1.1 framing (Content-Length and
//! chunked bodies) to know where each request head starts. Anything it does not follow with
//! certainty (an upgrade, CONNECT, an unusual Transfer-Encoding, an oversized head) ends the
//! recording for the connection: hyper alone decides from there and requests simply come without
//! a recording. Each recording is checked against what hyper parsed before it is used.
//!
//! On the way out it puts three of hyper's spellings the way Node writes them, each recognised
//! by its exact shape so that a body is never changed: chunk sizes in lower-case hex, `HTTP/1.1`
//! in the status line of an answer to an HTTP/1.0 client, and refusals (400, 431...) without the
//! `Content-Length: 0` hyper adds.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Heads longer than this are not recorded (hyper refuses them anyway, with 431).
const MAX_RECORDED_HEAD: usize = 64 * 1024;

/// One request head as sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The target as sent, when bytes of it were replaced for hyper's sake or it is not
    /// origin-form (hyper rebuilds those).
    pub original_target: Option<Bytes>,
    /// `name\nvalue\n` per header line, in order; names in their case, values trimmed.
    pub raw_headers: Bytes,
    /// Number of header lines.
    pub lines: usize,
    /// Node's parser refuses this head (a line ending in a bare LF, or both Content-Length and
    /// Transfer-Encoding, the classic request-smuggling shape) where hyper would take it.
    pub refused: bool,
    /// For CONNECT or an Upgrade: the bytes that came in the same read after the head, Node's
    /// `head` argument of 'connect' / 'upgrade' (hyper hands them to the tunnel as well).
    pub after_head: Bytes,
}

/// Recordings of one connection, in request order; the service takes them as hyper dispatches.
#[derive(Debug, Default)]
pub struct Recordings(Mutex<VecDeque<Recorded>>);

impl Recordings {
    pub fn next(&self) -> Option<Recorded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }
    fn push(&self, recorded: Recorded) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(recorded);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before and in the request line; `spaces` counts the delimiters seen.
    RequestLine {
        spaces: u8,
        started: bool,
        in_query: bool,
    },
    HeaderLine,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkDataEnd,
    Trailers,
    /// Not followed any more.
    Passthrough,
}

/// Follows the request stream of one connection.
pub struct Tracker {
    state: State,
    recordings: Arc<Recordings>,
    line: Vec<u8>,
    target: Vec<u8>,
    replaced: bool,
    method_connect: bool,
    raw_headers: Vec<u8>,
    lines: usize,
    head_len: usize,
    content_length: Option<u64>,
    chunked: bool,
    unusual: bool,
    bare_lf: bool,
    last_was_cr: bool,
    version: Vec<u8>,
    /// An HTTP/1.0 request came on this connection (its answers get Node's status line).
    http10_seen: bool,
    upgrade: bool,
    /// The recording of a CONNECT / Upgrade head, completed with what follows it in the read.
    handover: Option<Recorded>,
}

impl Tracker {
    pub fn new(recordings: Arc<Recordings>) -> Self {
        Tracker {
            state: State::RequestLine {
                spaces: 0,
                started: false,
                in_query: false,
            },
            recordings,
            line: Vec::new(),
            target: Vec::new(),
            replaced: false,
            method_connect: false,
            raw_headers: Vec::new(),
            lines: 0,
            head_len: 0,
            content_length: None,
            chunked: false,
            unusual: false,
            bare_lf: false,
            last_was_cr: false,
            version: Vec::new(),
            http10_seen: false,
            upgrade: false,
            handover: None,
        }
    }

    /// Reads `bytes` as the next part of the stream, replacing target bytes in place.
    pub fn feed(&mut self, bytes: &mut [u8]) {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Passthrough => {
                    self.complete_handover(&bytes[i..]);
                    return;
                }
                State::RequestLine { .. } => {
                    self.request_line_byte(&mut bytes[i]);
                    i += 1;
                }
                State::HeaderLine | State::ChunkSize | State::Trailers | State::ChunkDataEnd => {
                    // A whole line at a time.
                    let rest = &bytes[i..];
                    match memchr::memchr(b'\n', rest) {
                        // Most lines arrive whole: read them where they are.
                        Some(end) if self.line.is_empty() => {
                            i += end + 1;
                            self.head_len += end;
                            if self.head_len > MAX_RECORDED_HEAD {
                                self.state = State::Passthrough;
                                return;
                            }
                            self.end_of_line(&rest[..end]);
                        }
                        Some(end) => {
                            self.take_line_part(&rest[..end]);
                            i += end + 1;
                            let line = std::mem::take(&mut self.line);
                            self.end_of_line(&line);
                            self.line = line;
                            self.line.clear();
                        }
                        None => {
                            self.take_line_part(rest);
                            i = bytes.len();
                        }
                    }
                }
                State::Body(left) | State::ChunkData(left) => {
                    let step = left.min((bytes.len() - i) as u64);
                    i += step as usize;
                    let left = left - step;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => self.next_request(),
                        (State::Body(_), n) => State::Body(n),
                        (_, 0) => State::ChunkDataEnd,
                        (_, n) => State::ChunkData(n),
                    };
                }
            }
        }
        self.complete_handover(&[]);
    }

    fn take_line_part(&mut self, part: &[u8]) {
        self.head_len += part.len();
        if self.head_len > MAX_RECORDED_HEAD {
            self.state = State::Passthrough;
            return;
        }
        self.line.extend_from_slice(part);
    }

    fn request_line_byte(&mut self, byte: &mut u8) {
        let State::RequestLine {
            spaces,
            started,
            in_query,
        } = &mut self.state
        else {
            return;
        };
        self.head_len += 1;
        let last_was_cr = std::mem::replace(&mut self.last_was_cr, *byte == b'\r');
        match *byte {
            // Empty lines before a request are skipped, as hyper does.
            b'\r' | b'\n' if !*started => {}
            b'\n' => {
                self.bare_lf |= !last_was_cr;
                self.http10_seen |= self.version == b"HTTP/1.0";
                self.version.clear();
                self.state = State::HeaderLine;
                self.line.clear();
            }
            b' ' => {
                *spaces += 1;
                if *spaces == 1 {
                    self.method_connect = self.line.eq_ignore_ascii_case(b"CONNECT");
                }
            }
            b => {
                *started = true;
                match *spaces {
                    0 => self.line.push(b),
                    1 => {
                        self.target.push(b);
                        if b == b'?' && !*in_query {
                            *in_query = true;
                        } else if b >= 0x80 {
                            // Node refuses it; hyper must too.
                            *byte = 0x7F;
                        } else if b != b'#' && accepted_by_http(b, *in_query) {
                        } else if b.is_ascii_graphic() {
                            *byte = b'_';
                            self.replaced = true;
                        }
                    }
                    _ if b != b'\r' && self.version.len() < 16 => self.version.push(b),
                    _ => {}
                }
            }
        }
    }

    fn end_of_line(&mut self, line: &[u8]) {
        let line = match line.strip_suffix(b"\r") {
            Some(line) => line,
            None => {
                if self.state == State::HeaderLine {
                    self.bare_lf = true;
                }
                line
            }
        };
        match self.state {
            State::HeaderLine if line.is_empty() => self.state = self.end_of_head(),
            State::HeaderLine => self.header_line(line),
            State::ChunkSize => {
                let digits = line.split(|&b| b == b';').next().unwrap_or_default();
                let size = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
                self.head_len = 0;
                self.state = match size {
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    None => State::Passthrough,
                };
            }
            State::ChunkDataEnd if line.is_empty() => self.state = State::ChunkSize,
            State::ChunkDataEnd => self.state = State::Passthrough,
            State::Trailers if line.is_empty() => self.state = self.next_request(),
            _ => {}
        }
    }

    fn header_line(&mut self, line: &[u8]) {
        let Some(colon) = memchr::memchr(b':', line) else {
            self.unusual = true;
            return;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.is_empty() || matches!(name[0], b' ' | b'\t') {
            self.unusual = true;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
            match (length, self.content_length) {
                (Some(n), None) => self.content_length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => self.unusual = true,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if self.chunked || !value.eq_ignore_ascii_case(b"chunked") {
                self.unusual = true;
            }
            self.chunked = true;
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            self.unusual = true;
            self.upgrade = true;
        }
        self.raw_headers.extend_from_slice(name);
        self.raw_headers.push(b'\n');
        self.raw_headers.extend_from_slice(value);
        self.raw_headers.push(b'\n');
        self.lines += 1;
    }

    fn complete_handover(&mut self, after_head: &[u8]) {
        if let Some(mut recorded) = self.handover.take() {
            recorded.after_head = Bytes::copy_from_slice(after_head);
            self.recordings.push(recorded);
        }
    }

    fn end_of_head(&mut self) -> State {
        // hyper rebuilds a target that is not origin-form (scheme lower-cased, `/` added).
        let original_target = (self.replaced || self.target.first() != Some(&b'/'))
            .then(|| Bytes::copy_from_slice(&self.target));
        self.raw_headers.pop();
        let recorded = Recorded {
            original_target,
            raw_headers: Bytes::from(std::mem::take(&mut self.raw_headers)),
            lines: self.lines,
            refused: self.bare_lf || (self.chunked && self.content_length.is_some()),
            after_head: Bytes::new(),
        };
        if self.upgrade || self.method_connect {
            self.handover = Some(recorded);
        } else {
            self.recordings.push(recorded);
        }
        if self.unusual || self.method_connect || (self.chunked && self.content_length.is_some()) {
            return State::Passthrough;
        }
        match (self.chunked, self.content_length) {
            (true, _) => State::ChunkSize,
            (false, Some(n)) if n > 0 => State::Body(n),
            _ => self.next_request(),
        }
    }

    fn next_request(&mut self) -> State {
        self.target.clear();
        self.replaced = false;
        self.method_connect = false;
        self.raw_headers.clear();
        self.lines = 0;
        self.head_len = 0;
        self.content_length = None;
        self.chunked = false;
        self.unusual = false;
        self.bare_lf = false;
        self.last_was_cr = false;
        self.upgrade = false;
        State::RequestLine {
            spaces: 0,
            started: false,
            in_query: false,
        }
    }
}

/// Bytes the `http` crate takes in a request target (its path and query tables).
fn accepted_by_http(b: u8, in_query: bool) -> bool {
    if in_query {
        matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E)
    } else {
        matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x5F | 0x61..=0x7A | 0x7C | 0x7E | b'"' | b'{' | b'}')
    }
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &value[start..end]
}

pin_project_lite::pin_project! {
    /// A connection's socket seen through a [`Tracker`]; bytes are looked at in hyper's own
    /// read buffer, without a copy.
    pub struct WireIo<T> {
        #[pin]
        inner: T,
        tracker: Tracker,
    }
}

impl<T> WireIo<T> {
    pub fn new(inner: T, recordings: Arc<Recordings>) -> Self {
        WireIo {
            inner,
            tracker: Tracker::new(recordings),
        }
    }
}

impl<T: AsyncRead> AsyncRead for WireIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.tracker.feed(&mut buf.filled_mut()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite> AsyncWrite for WireIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if let Some(shortened) = node_refusal(buf) {
            return this
                .inner
                .poll_write(cx, &shortened)
                .map_ok(|n| written_of_refusal(n, shortened.len(), buf.len()));
        }
        match this
            .tracker
            .http10_seen
            .then(|| node_status_lines(buf))
            .flatten()
        {
            Some(rewritten) => this.inner.poll_write(cx, &rewritten),
            None => this.inner.poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let inner = this.inner;
        if let [only] = bufs {
            if let Some(shortened) = node_refusal(only) {
                return inner
                    .poll_write(cx, &shortened)
                    .map_ok(|n| written_of_refusal(n, shortened.len(), only.len()));
            }
        }
        if this.tracker.http10_seen {
            if let Some(first) = bufs.first().and_then(|head| node_status_lines(head)) {
                let mut rewritten: Vec<io::IoSlice<'_>> = Vec::with_capacity(bufs.len());
                rewritten.push(io::IoSlice::new(&first));
                rewritten.extend(bufs[1..].iter().map(|b| io::IoSlice::new(b)));
                return inner.poll_write_vectored(cx, &rewritten);
            }
        }
        match lower_case_chunk_sizes(bufs) {
            None => inner.poll_write_vectored(cx, bufs),
            Some(sizes) => {
                let rewritten: Vec<io::IoSlice<'_>> = bufs
                    .iter()
                    .enumerate()
                    .map(|(i, buf)| match sizes.iter().find(|(at, _)| *at == i) {
                        Some((_, lower)) => io::IoSlice::new(lower),
                        None => io::IoSlice::new(buf),
                    })
                    .collect();
                inner.poll_write_vectored(cx, &rewritten)
            }
        }
    }
}

/// The refusals hyper or the engine write before closing (a malformed or oversized request, a
/// timeout) carry `Content-Length: 0`; Node's are the status line and `Connection: close` alone,
/// the close ending the empty body. Returns what to send instead when the slice is exactly such a
/// refusal: the same without that line.
fn node_refusal(slice: &[u8]) -> Option<Vec<u8>> {
    const TAIL: &[u8] = b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    const REFUSALS: [&[u8]; 5] = [
        b"HTTP/1.1 400 Bad Request",
        b"HTTP/1.1 408 Request Timeout",
        b"HTTP/1.1 413 Payload Too Large",
        b"HTTP/1.1 414 URI Too Long",
        b"HTTP/1.1 431 Request Header Fields Too Large",
    ];
    let status = slice.strip_suffix(TAIL)?;
    REFUSALS
        .contains(&status)
        .then(|| [status, b"\r\nConnection: close\r\n\r\n"].concat())
}

/// The kernel took `n` bytes of a refusal shortened to `kept`; hyper must see the whole of its
/// `original` buffer consumed once the shortened one is.
fn written_of_refusal(n: usize, kept: usize, original: usize) -> usize {
    if n >= kept {
        original
    } else {
        // The dropped line sits just before the final CRLF: everything sent so far precedes it
        // unless the CRLF itself went.
        n.min(kept - 2)
    }
}

/// hyper answers an HTTP/1.0 request with `HTTP/1.0` in the status line; Node always writes
/// `HTTP/1.1`. Only a slice made of nothing but complete response heads (hyper's head buffer,
/// which it writes first) is changed, so a body is never touched.
fn node_status_lines(slice: &[u8]) -> Option<Vec<u8>> {
    if !slice.starts_with(b"HTTP/1.0 ") {
        return None;
    }
    let mut out = slice.to_vec();
    let mut at = 0;
    while at < slice.len() {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&slice[at..]) {
            Ok(httparse::Status::Complete(length)) if slice[at..].starts_with(b"HTTP/1.0 ") => {
                out[at + b"HTTP/1.".len()] = b'1';
                at += length;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// hyper writes each chunk of a chunked body as three slices: the size in upper-case hex and
/// CRLF, the data, CRLF. Node writes the size in lower case; this gives the same bytes (same
/// lengths, so hyper's accounting is untouched). Only a slice shaped as a size, followed by
/// exactly that many bytes and a CRLF slice, is taken for one; data is never changed.
fn lower_case_chunk_sizes(bufs: &[io::IoSlice<'_>]) -> Option<Vec<(usize, Vec<u8>)>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < bufs.len() {
        let size = &bufs[i][..];
        let framed = size.len() >= 3
            && size.len() <= 18
            && size.ends_with(b"\r\n")
            && size[..size.len() - 2]
                .iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
            && &bufs[i + 2][..] == b"\r\n"
            && usize::from_str_radix(
                std::str::from_utf8(&size[..size.len() - 2]).unwrap_or("x"),
                16,
            )
            .is_ok_and(|n| n == bufs[i + 1].len());
        if framed {
            if size.iter().any(|b| matches!(b, b'A'..=b'F')) {
                found.push((i, size.to_ascii_lowercase()));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    (!found.is_empty()).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `piece` bytes; returns what hyper would read and the recordings.
    fn follow(stream: &[u8], piece: usize) -> (Vec<u8>, Vec<Recorded>) {
        let recordings = Arc::new(Recordings::default());
        let mut tracker = Tracker::new(recordings.clone());
        let mut seen = stream.to_vec();
        for part in seen.chunks_mut(piece) {
            tracker.feed(part);
        }
        let mut out = Vec::new();
        while let Some(r) = recordings.next() {
            out.push(r);
        }
        (seen, out)
    }

    fn headers(r: &Recorded) -> &str {
        std::str::from_utf8(&r.raw_headers).expect("ascii")
    }

    #[test]
    fn records_header_lines_in_order_and_case() {
        for piece in [1, 2, 7, 1000] {
            let (seen, recorded) = follow(
                b"GET /a HTTP/1.1\r\nHost: x\r\nX-Thing:  v1 \r\nhost: y\r\nX-Thing: v2\r\n\r\n",
                piece,
            );
            assert_eq!(recorded.len(), 1);
            assert_eq!(
                headers(&recorded[0]),
                "Host\nx\nX-Thing\nv1\nhost\ny\nX-Thing\nv2"
            );
            assert_eq!(recorded[0].lines, 4);
            assert_eq!(recorded[0].original_target, None);
            assert!(seen.starts_with(b"GET /a HTTP/1.1"));
        }
    }

    #[test]
    fn replaces_target_bytes_http_refuses_and_keeps_the_original() {
        let line = b"GET /<script>`x`?q=\"a\"&b={1}#frag HTTP/1.1\r\n\r\n";
        for piece in [1, 3, 1000] {
            let (seen, recorded) = follow(line, piece);
            assert_eq!(
                &seen[..],
                b"GET /_script__x_?q=_a_&b={1}_frag HTTP/1.1\r\n\r\n"
            );
            assert_eq!(
                recorded[0].original_target.as_deref(),
                Some(&b"/<script>`x`?q=\"a\"&b={1}#frag"[..])
            );
        }
        // Characters the http crate takes stay as they are: no recording of the target.
        let (seen, recorded) = follow(b"GET /a\"{}|^\\?x=`{}|^ HTTP/1.1\r\n\r\n", 1000);
        assert_eq!(&seen[..], b"GET /a\"{}|^\\?x=`{}|^ HTTP/1.1\r\n\r\n");
        assert_eq!(recorded[0].original_target, None);
    }

    #[test]
    fn a_byte_above_ascii_in_the_target_is_made_invalid() {
        let (seen, _) = follow("GET /\u{e9} HTTP/1.1\r\n\r\n".as_bytes(), 1000);
        assert_eq!(&seen[..8], b"GET /\x7f\x7f ");
    }

    #[test]
    fn follows_bodies_to_the_next_request() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nGET /<x> \r\nGET /<y> HTTP/1.1\r\n\r\n\
            POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6;ext=1\r\nGET /<\r\n0\r\nT: 1\r\n\r\n\
            GET /<z> HTTP/1.1\r\n\r\n";
        for piece in [1, 4, 1000] {
            let (seen, recorded) = follow(stream, piece);
            let seen = String::from_utf8(seen).expect("ascii");
            assert!(
                seen.contains("Length: 9\r\n\r\nGET /<x> \r\n"),
                "body untouched: {seen}"
            );
            assert!(seen.contains("GET /_y_ HTTP"), "{seen}");
            assert!(seen.contains("\r\nGET /<\r\n"), "chunk untouched: {seen}");
            assert!(seen.contains("GET /_z_ HTTP"), "{seen}");
            let targets: Vec<_> = recorded.iter().map(|r| r.original_target.clone()).collect();
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

    #[test]
    fn stops_following_what_it_cannot_frame_with_certainty() {
        for stream in [
            &b"GET /a HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n"[..],
            b"CONNECT h:1 HTTP/1.1\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nGET /<b> HTTP/1.1\r\n\r\n",
        ] {
            let (seen, recorded) = follow(stream, 1000);
            assert_eq!(seen, stream, "untouched after the first head");
            assert_eq!(recorded.len(), 1);
        }
    }

    #[test]
    fn connect_and_upgrade_heads_keep_what_followed_them_in_the_read() {
        for piece in [1000, 1] {
            let (_, recorded) = follow(
                b"GET /ws HTTP/1.1\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nknock, knock",
                piece,
            );
            let expected: &[u8] = if piece == 1000 { b"knock, knock" } else { b"" };
            assert_eq!(recorded[0].after_head, expected, "pieces of {piece}");
        }
        let (_, recorded) = follow(b"CONNECT h:1 HTTP/1.1\r\nHost: h\r\n\r\nhello", 1000);
        assert_eq!(recorded[0].after_head, &b"hello"[..]);
        let (_, recorded) = follow(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1000);
        assert!(recorded[0].after_head.is_empty());
    }

    #[test]
    fn heads_node_refuses_are_marked() {
        let refused = |stream: &[u8]| follow(stream, 3).1[0].refused;
        assert!(!refused(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(refused(b"GET / HTTP/1.1\nHost: x\r\n\r\n"));
        assert!(refused(b"GET / HTTP/1.1\r\nHost: x\n\r\n"));
        assert!(refused(b"GET / HTTP/1.1\r\nHost: x\r\n\n"));
        assert!(refused(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
    }

    #[test]
    fn chunk_sizes_go_out_in_lower_case_and_data_is_never_touched() {
        let slices = |parts: &[&'static [u8]]| {
            parts
                .iter()
                .map(|p| io::IoSlice::new(p))
                .collect::<Vec<_>>()
        };
        let ten = b"0123456789";
        let lowered = lower_case_chunk_sizes(&slices(&[
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"A\r\n",
            ten,
            b"\r\n",
            b"0\r\n\r\n",
        ]));
        assert_eq!(lowered, Some(vec![(1, b"a\r\n".to_vec())]));
        // Data shaped like a size, but not framed as one: left alone.
        assert_eq!(
            lower_case_chunk_sizes(&slices(&[b"3\r\n", b"B\r\n", b"\r\n"])),
            None
        );
        assert_eq!(
            lower_case_chunk_sizes(&slices(&[b"AB\r\n", ten, b"\r\n"])),
            None
        );
        // Sizes without letters need nothing.
        assert_eq!(lower_case_chunk_sizes(&slices(&[b"A0\r\n"])), None);
    }

    #[test]
    fn status_lines_of_http10_answers_say_http11_and_bodies_stay() {
        assert_eq!(
            node_status_lines(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nHTTP/1.0 304 Not Modified\r\n\r\n")
                .as_deref(),
            Some(&b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n"[..])
        );
        // Not nothing but heads: a body that merely starts like one.
        assert_eq!(node_status_lines(b"HTTP/1.0 200 OK\r\n\r\nsome body"), None);
        assert_eq!(node_status_lines(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        let recordings = Arc::new(Recordings::default());
        let mut tracker = Tracker::new(recordings);
        tracker.feed(&mut b"GET / HTTP/1.1\r\n\r\n".to_vec());
        assert!(!tracker.http10_seen);
        for piece in b"GET / HTTP/1.0\r\n\r\n".to_vec().chunks_mut(2) {
            tracker.feed(piece);
        }
        assert!(tracker.http10_seen);
    }

    #[test]
    fn refusals_go_out_without_a_content_length_as_from_node() {
        let refusal = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let shortened = node_refusal(refusal).expect("a refusal");
        assert_eq!(
            shortened,
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
        );
        let kept = shortened.len();
        assert_eq!(node_refusal(b"HTTP/1.1 400 Bad Request\r\nX: y\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"), None);
        assert_eq!(
            node_refusal(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
            None
        );
        // Partial writes map back onto hyper's buffer.
        assert_eq!(written_of_refusal(kept, kept, refusal.len()), refusal.len());
        assert_eq!(written_of_refusal(10, kept, refusal.len()), 10);
    }

    /// A small deterministic generator, so a failing case can be replayed by its seed.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    #[test]
    fn random_request_streams_split_anywhere_keep_bodies_intact_and_targets_recorded() {
        const TARGETS: [&str; 5] = ["/plain?x=1", "/<a>", "/q?s=\"v\"", "/f#frag", "/`t`"];
        for seed in 0..300u64 {
            let mut rng = Lcg(seed);
            let mut stream = Vec::new();
            let mut expected_stream = Vec::new();
            let mut expected_targets = Vec::new();
            for _ in 0..1 + rng.below(5) {
                let target = TARGETS[rng.below(TARGETS.len() as u64)];
                // Bodies made of what a tracker could mistake for request lines.
                let body: Vec<u8> = (0..rng.below(300))
                    .map(|_| b"GET /<x> HTTP/1.1\r\n"[rng.below(19)])
                    .collect();
                let head_bytes = match rng.below(3) {
                    0 => format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes(),
                    1 => format!(
                        "POST {target} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes(),
                    _ => format!(
                        "POST {target} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    )
                    .into_bytes(),
                };
                let shown: String = target
                    .chars()
                    .map(|c| {
                        if matches!(c, '<' | '>' | '"' | '`' | '#') {
                            '_'
                        } else {
                            c
                        }
                    })
                    .collect();
                let expected_head = String::from_utf8(head_bytes.clone())
                    .expect("ascii")
                    .replacen(target, &shown, 1);
                let framed_body = if head_bytes.starts_with(b"GET") {
                    Vec::new()
                } else if head_bytes.windows(7).any(|w| w == b"chunked") {
                    let mut framed = Vec::new();
                    for piece in body.chunks(1 + rng.below(50)) {
                        framed.extend_from_slice(format!("{:x};e=1\r\n", piece.len()).as_bytes());
                        framed.extend_from_slice(piece);
                        framed.extend_from_slice(b"\r\n");
                    }
                    framed.extend_from_slice(b"0\r\nTrailer-A: 1\r\n\r\n");
                    framed
                } else {
                    body.clone()
                };
                stream.extend_from_slice(&head_bytes);
                stream.extend_from_slice(&framed_body);
                expected_stream.extend_from_slice(expected_head.as_bytes());
                expected_stream.extend_from_slice(&framed_body);
                expected_targets
                    .push((shown != target).then(|| Bytes::copy_from_slice(target.as_bytes())));
            }
            let piece = 1 + rng.below(64);
            let (seen, recorded) = follow(&stream, piece);
            assert_eq!(seen, expected_stream, "seed {seed}, pieces of {piece}");
            let targets: Vec<_> = recorded.iter().map(|r| r.original_target.clone()).collect();
            assert_eq!(targets, expected_targets, "seed {seed}");
            assert!(
                recorded.iter().all(|r| !r.refused && r.lines >= 1),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn an_oversized_head_is_not_recorded() {
        let mut stream = b"GET / HTTP/1.1\r\nX: ".to_vec();
        stream.extend(std::iter::repeat_n(b'a', MAX_RECORDED_HEAD + 1));
        stream.extend_from_slice(b"\r\n\r\n");
        let (_, recorded) = follow(&stream, 4096);
        assert!(recorded.is_empty());
    }
}
