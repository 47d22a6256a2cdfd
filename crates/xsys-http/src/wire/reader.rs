//! The request reader: follows every byte a client sends, before hyper sees it, for the whole life
//! of the connection.
//!
//! It frames each request as HTTP/1.1 says (RFC 9112: Content-Length, chunked, CONNECT and
//! Upgrade hand-overs) and checks it at least as strictly as Node's llhttp. A head it refuses
//! never reaches hyper whole: the byte where the refusal is decided becomes a NUL, which hyper's
//! parser refuses with its own 400, and nothing after it is given. A body it refuses ends in a
//! read error (the engine answers 400 or 413 if nothing was sent yet). So hyper never acts on a
//! request the reader did not accept, and the two always agree on where each request starts.
//!
//! On the way it records what hyper does not keep (see [`Recorded`]) and replaces the target
//! bytes the `http` crate refuses but Node takes (`<`, `>`, `` ` `` in the path, `"`, `<`, `>` in
//! the query, the `#fragment`) by `_`, in place: same length, the original is recorded.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::grammar::{self, Codings};
use super::{ConnectionWire, HandOverKind, Recorded};

/// Chunk extensions a request may carry in all, as Node's parser (beyond it, 413).
const MAX_CHUNK_EXTENSIONS: usize = 16 * 1024;
/// The longest method Node knows is 11 bytes.
const MAX_METHOD: usize = 16;

/// How far one call to [`RequestReader::feed`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fed {
    /// Bytes hyper may read, from the start of the slice.
    pub consumed: usize,
    pub stop: Option<Stop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// A CONNECT or Upgrade head the handlers take over: what follows it is held until the
    /// answer says whether the connection switched protocols.
    Hold,
    /// Nothing more goes to hyper (a request answered without its body, a CONNECT nobody takes).
    End,
    /// A refused head: the last consumed byte was made a NUL, so hyper refuses it too.
    RefusedHead,
    /// A refused body: hyper gets a read error after the consumed bytes; the status to answer.
    RefusedBody(u16),
}

/// What the response writer needs to know of each request to frame its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Kind {
    pub head_method: bool,
    pub connect: bool,
    pub hand_over: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between requests: empty lines are skipped; `cr` after a CR waiting for its LF.
    Idle {
        cr: bool,
    },
    Method,
    Target {
        in_query: bool,
    },
    Version,
    RequestLineLf,
    Headers,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkCr,
    ChunkLf,
    Trailers,
    /// A hand-over head was read: waiting for the verdict.
    Held,
    /// The connection switched protocols: not HTTP any more.
    Tunnel,
    /// Nothing more is read.
    Ended,
    /// A head over the size limit: hyper refuses it (431); nothing after is followed.
    Oversized,
}

/// What the head being read says.
#[derive(Debug, Default)]
struct Head {
    method: Vec<u8>,
    target: Vec<u8>,
    replaced: bool,
    version: Vec<u8>,
    raw_headers: Vec<u8>,
    lines: usize,
    content_length: Option<u64>,
    codings: Option<Codings>,
    hosts: u32,
    upgrade: bool,
    connection_upgrade: bool,
}

pub(super) struct RequestReader {
    state: State,
    /// A line (header, chunk size, trailer) that came in pieces.
    line: Vec<u8>,
    head: Head,
    head_len: usize,
    max_head: usize,
    extensions: usize,
    trailers: usize,
    wire: Arc<ConnectionWire>,
    /// One per request head read, for the response writer, in order.
    pub kinds: VecDeque<Kind>,
    /// The recording of a hand-over head, completed by the caller with what followed it.
    pub parked: Option<Recorded>,
    /// A new head began during the last feed (its time counts for headersTimeout).
    pub began_head: bool,
    /// Requests read whole, head and body.
    pub messages: u64,
}

impl RequestReader {
    pub(super) fn new(wire: Arc<ConnectionWire>, max_head: usize) -> Self {
        RequestReader {
            state: State::Idle { cr: false },
            line: Vec::new(),
            head: Head::default(),
            head_len: 0,
            max_head,
            extensions: 0,
            trailers: 0,
            wire,
            kinds: VecDeque::new(),
            parked: None,
            began_head: false,
            messages: 0,
        }
    }

    /// No byte of a next request yet: the last one was read whole.
    pub(super) fn at_boundary(&self) -> bool {
        self.state == State::Idle { cr: false }
    }

    /// Reading a request head (or before the first one).
    pub(super) fn in_head(&self) -> bool {
        matches!(
            self.state,
            State::Idle { cr: true }
                | State::Method
                | State::Target { .. }
                | State::Version
                | State::RequestLineLf
                | State::Headers
                | State::Oversized
        )
    }

    pub(super) fn is_held(&self) -> bool {
        self.state == State::Held
    }

    /// The answer to a hand-over request is known: raw bytes from now on, or HTTP again.
    pub(super) fn verdict(&mut self, switched: bool) {
        if self.state == State::Held {
            if switched {
                self.state = State::Tunnel;
            } else {
                self.message_done();
            }
        }
    }

    /// Reads `bytes` as the next part of the stream, replacing target bytes in place.
    pub(super) fn feed(&mut self, bytes: &mut [u8]) -> Fed {
        let mut i = 0;
        while i < bytes.len() {
            let stop = match self.state {
                State::Tunnel | State::Oversized => {
                    i = bytes.len();
                    None
                }
                State::Held => Some(Stop::Hold),
                State::Ended => Some(Stop::End),
                State::Body(left) | State::ChunkData(left) => {
                    let step = left.min((bytes.len() - i) as u64);
                    i += step as usize;
                    self.state = match (self.state, left - step) {
                        (State::Body(_), 0) => {
                            self.message_done();
                            self.state
                        }
                        (State::Body(_), n) => State::Body(n),
                        (_, 0) => State::ChunkCr,
                        (_, n) => State::ChunkData(n),
                    };
                    None
                }
                State::ChunkCr | State::ChunkLf => {
                    let expected = if self.state == State::ChunkCr {
                        b'\r'
                    } else {
                        b'\n'
                    };
                    if bytes[i] != expected {
                        return self.refuse_body(i, 400);
                    }
                    self.state = if expected == b'\r' {
                        State::ChunkLf
                    } else {
                        State::ChunkSize
                    };
                    i += 1;
                    None
                }
                State::Headers | State::ChunkSize | State::Trailers => {
                    match self.line_mode(bytes, i) {
                        Ok(next) => {
                            i = next;
                            None
                        }
                        Err(fed) => return fed,
                    }
                }
                State::Idle { .. }
                | State::Method
                | State::Target { .. }
                | State::Version
                | State::RequestLineLf => match self.request_line_byte(&mut bytes[i]) {
                    Ok(()) => {
                        i += 1;
                        None
                    }
                    Err(()) => return self.refuse_head(bytes, i),
                },
            };
            if let Some(stop) = stop {
                return Fed {
                    consumed: i,
                    stop: Some(stop),
                };
            }
            // A head that ended here may stop the stream right after its last byte.
            match self.state {
                State::Held => {
                    return Fed {
                        consumed: i,
                        stop: Some(Stop::Hold),
                    }
                }
                State::Ended => {
                    return Fed {
                        consumed: i,
                        stop: Some(Stop::End),
                    }
                }
                _ => {}
            }
        }
        Fed {
            consumed: i,
            stop: None,
        }
    }

    /// Header, chunk-size and trailer lines: a whole line at a time, read where it is when it
    /// came in one piece. Returns where reading goes on, or the refusal.
    fn line_mode(&mut self, bytes: &mut [u8], i: usize) -> Result<usize, Fed> {
        let rest = &bytes[i..];
        let Some(end) = memchr::memchr(b'\n', rest) else {
            self.line.extend_from_slice(rest);
            return match self.check_line_length(self.line.len()) {
                Ok(()) => Ok(bytes.len()),
                Err(status) => Err(self.refuse_at(bytes, i, bytes.len() - 1, status)),
            };
        };
        let lf = i + end;
        let outcome = if self.line.is_empty() {
            let line = &bytes[i..lf];
            self.check_line_length(line.len())
                .and_then(|()| self.end_of_line(line))
        } else {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&bytes[i..lf]);
            let outcome = self
                .check_line_length(line.len())
                .and_then(|()| self.end_of_line(&line));
            line.clear();
            self.line = line;
            outcome
        };
        match outcome {
            Ok(()) => Ok(lf + 1),
            Err(status) => Err(self.refuse_at(bytes, i, lf, status)),
        }
    }

    /// A line over its bound: a head line over the head limit, a chunk-size line over the
    /// extension limit, trailers over the head limit.
    fn check_line_length(&mut self, length: usize) -> Result<(), u16> {
        match self.state {
            State::Headers if self.head_len + length > self.max_head => {
                // hyper refuses it with 431 once it has it whole.
                self.state = State::Oversized;
                Ok(())
            }
            State::ChunkSize if self.extensions + length > MAX_CHUNK_EXTENSIONS + 32 => Err(413),
            State::Trailers if self.trailers + length > self.max_head => Err(431),
            _ => Ok(()),
        }
    }

    /// A line without its LF. Err carries the status of a refusal.
    fn end_of_line(&mut self, line: &[u8]) -> Result<(), u16> {
        if self.state == State::Oversized {
            return Ok(());
        }
        // CRLF only: a bare LF, or a CR anywhere else, is refused as by Node.
        let line = line.strip_suffix(b"\r").ok_or(400u16)?;
        if memchr::memchr(b'\r', line).is_some() {
            return Err(400);
        }
        match self.state {
            State::Headers => {
                self.head_len += line.len() + 2;
                if line.is_empty() {
                    self.end_of_head()
                } else {
                    self.header_line(line)
                }
            }
            State::ChunkSize => {
                let (size, extensions) = grammar::chunk_size_line(line).ok_or(400u16)?;
                self.extensions += extensions;
                if self.extensions > MAX_CHUNK_EXTENSIONS {
                    return Err(413);
                }
                self.state = if size == 0 {
                    State::Trailers
                } else {
                    State::ChunkData(size)
                };
                Ok(())
            }
            State::Trailers if line.is_empty() => {
                self.message_done();
                Ok(())
            }
            State::Trailers => {
                self.trailers += line.len() + 2;
                field_line(line).map(|_| ()).ok_or(400)
            }
            _ => Ok(()),
        }
    }

    fn header_line(&mut self, line: &[u8]) -> Result<(), u16> {
        let (name, value) = field_line(line).ok_or(400u16)?;
        let head = &mut self.head;
        if name.eq_ignore_ascii_case(b"content-length") {
            // A second Content-Length, even with the same value, is refused (as by Node).
            if head.content_length.is_some() {
                return Err(400);
            }
            head.content_length = Some(grammar::content_length(value).ok_or(400u16)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let codings = head
                .codings
                .unwrap_or_default()
                .add_line(value)
                .ok_or(400u16)?;
            head.codings = Some(codings);
        } else if name.eq_ignore_ascii_case(b"host") {
            head.hosts += 1;
            if head.hosts > 1 || !grammar::is_host(value) {
                return Err(400);
            }
        } else if name.eq_ignore_ascii_case(b"upgrade") {
            head.upgrade = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            head.connection_upgrade |= grammar::lists_token(value, b"upgrade");
        }
        head.raw_headers.extend_from_slice(name);
        head.raw_headers.push(b'\n');
        head.raw_headers.extend_from_slice(value);
        head.raw_headers.push(b'\n');
        head.lines += 1;
        Ok(())
    }

    /// The blank line: the framing of the body, and what hyper will be told.
    fn end_of_head(&mut self) -> Result<(), u16> {
        let head = &mut self.head;
        let http10 = head.version == b"HTTP/1.0";
        let connect = head.method == b"CONNECT";
        let mut not_implemented = false;
        if let Some(codings) = head.codings {
            // RFC 9112 §6.1: chunked once and last, never beside Content-Length nor on HTTP/1.0;
            // a coding the engine does not implement is a 501.
            if http10
                || head.content_length.is_some()
                || codings.chunked != 1
                || !codings.chunked_last
            {
                return Err(400);
            }
            not_implemented = codings.other;
        }
        let listeners = &self.wire.listeners;
        let hand_over = if connect {
            listeners.connect().then_some(HandOverKind::Connect)
        } else if head.upgrade && head.connection_upgrade && !http10 && listeners.upgrade() {
            Some(HandOverKind::Upgrade)
        } else {
            None
        };
        let has_body = head.codings.is_some() || head.content_length.is_some_and(|n| n > 0);
        // After a hand-over head the bytes are the tunnel's; a body announced there would be read
        // as one thing by hyper and as another by the handlers.
        if hand_over.is_some() && has_body {
            return Err(400);
        }
        self.kinds.push_back(Kind {
            head_method: head.method == b"HEAD",
            connect,
            hand_over: hand_over.is_some(),
        });
        head.raw_headers.pop();
        let recorded = Recorded {
            // Also when not origin-form: hyper rebuilds those (scheme lower-cased, `/` added).
            original_target: (head.replaced || head.target.first() != Some(&b'/'))
                .then(|| Bytes::copy_from_slice(&head.target)),
            raw_headers: Bytes::from(std::mem::take(&mut head.raw_headers)),
            lines: head.lines,
            refusal: not_implemented.then_some(501),
            after_head: Bytes::new(),
            hand_over,
        };
        self.state = if not_implemented || (connect && hand_over.is_none()) {
            self.wire.push_recording(recorded);
            State::Ended
        } else if hand_over.is_some() {
            self.parked = Some(recorded);
            State::Held
        } else {
            self.wire.push_recording(recorded);
            match (head.codings.is_some(), head.content_length) {
                (true, _) => State::ChunkSize,
                (false, Some(n)) if n > 0 => State::Body(n),
                _ => {
                    self.message_done();
                    self.state
                }
            }
        };
        Ok(())
    }

    fn request_line_byte(&mut self, byte: &mut u8) -> Result<(), ()> {
        let b = *byte;
        if !matches!(self.state, State::Idle { .. }) {
            self.head_len += 1;
            if self.head_len > self.max_head {
                self.state = State::Oversized;
                return Ok(());
            }
        }
        match self.state {
            // Empty lines before a request are skipped, as by hyper and Node.
            State::Idle { cr: false } if b == b'\r' => self.state = State::Idle { cr: true },
            State::Idle { .. } if b == b'\n' => self.state = State::Idle { cr: false },
            State::Idle { cr: true } => return Err(()),
            State::Idle { cr: false } => {
                self.began_head = true;
                self.head_len = 1;
                self.state = State::Method;
                return self.request_line_byte_in_method(b);
            }
            State::Method => return self.request_line_byte_in_method(b),
            State::Target { in_query } => {
                if b == b' ' {
                    // Node's parser takes origin-form, `*` and absolute-form targets (and any
                    // authority after CONNECT); see target.rs.
                    let target = &self.head.target;
                    if target.is_empty()
                        || (self.head.method != b"CONNECT"
                            && !crate::target::node_parser_accepts(target))
                    {
                        return Err(());
                    }
                    self.state = State::Version;
                    return Ok(());
                }
                if !grammar::is_target_byte(b) {
                    return Err(());
                }
                self.head.target.push(b);
                if b == b'?' && !in_query {
                    self.state = State::Target { in_query: true };
                } else if b == b'#' || !accepted_by_http(b, in_query) {
                    // Same length, so nothing moves; the original is recorded.
                    *byte = b'_';
                    self.head.replaced = true;
                }
            }
            State::Version => match b {
                b'\r' if self.head.version == b"HTTP/1.1" || self.head.version == b"HTTP/1.0" => {
                    self.state = State::RequestLineLf;
                }
                b'\r' | b'\n' => return Err(()),
                _ if self.head.version.len() < 8 => self.head.version.push(b),
                _ => return Err(()),
            },
            State::RequestLineLf if b == b'\n' => self.state = State::Headers,
            _ => return Err(()),
        }
        Ok(())
    }

    fn request_line_byte_in_method(&mut self, b: u8) -> Result<(), ()> {
        if b == b' ' {
            // Node's list, spelled exactly: `get` or `FOO` is a 400.
            if !xsys_router::is_http_method(&self.head.method) {
                return Err(());
            }
            self.state = State::Target { in_query: false };
            return Ok(());
        }
        if !grammar::is_tchar(b) || self.head.method.len() >= MAX_METHOD {
            return Err(());
        }
        self.head.method.push(b);
        Ok(())
    }

    fn message_done(&mut self) {
        self.messages += 1;
        self.head = Head::default();
        self.head_len = 0;
        self.extensions = 0;
        self.trailers = 0;
        self.state = State::Idle { cr: false };
    }

    /// The head is refused at `bytes[at]`: that byte becomes a NUL (hyper's parser refuses it
    /// wherever it stands in a head) and nothing after it is given.
    fn refuse_head(&mut self, bytes: &mut [u8], at: usize) -> Fed {
        bytes[at] = 0;
        self.state = State::Ended;
        // hyper answers this head itself; the writer still counts it as a request.
        self.kinds.push_back(Kind::default());
        Fed {
            consumed: at + 1,
            stop: Some(Stop::RefusedHead),
        }
    }

    fn refuse_body(&mut self, at: usize, status: u16) -> Fed {
        self.state = State::Ended;
        Fed {
            consumed: at,
            stop: Some(Stop::RefusedBody(status)),
        }
    }

    /// A refusal decided on a line that starts at `start` in this read (or earlier) and whose
    /// last byte read is `at`: a head line is refused at that byte; a body is cut before the line.
    fn refuse_at(&mut self, bytes: &mut [u8], start: usize, at: usize, status: u16) -> Fed {
        match self.state {
            State::Headers => self.refuse_head(bytes, at),
            _ => self.refuse_body(start, status),
        }
    }
}

/// `name: value` with a token name right before the colon, a value of field bytes (OWS trimmed),
/// and no obs-fold.
fn field_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', line)?;
    let name = &line[..colon];
    let value = grammar::trim_ows(&line[colon + 1..]);
    (grammar::is_token(name) && value.iter().all(|&b| grammar::is_field_value_byte(b)))
        .then_some((name, value))
}

/// Bytes the `http` crate takes in a request target (its path and query tables).
fn accepted_by_http(b: u8, in_query: bool) -> bool {
    if in_query {
        matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E)
    } else {
        matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x5F | 0x61..=0x7A | 0x7C | 0x7E | b'"' | b'{' | b'}')
    }
}
