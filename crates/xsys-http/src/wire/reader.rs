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
//!
//! It measures each head as Node's parser does ([`HeadLimits`]) and decides the 431 itself. hyper
//! keeps up to 100 header lines in arrays on the stack (more would cost every request a heap
//! allocation), so a head with more lines than [`COMPACT_AFTER`] is *compacted*: hyper gets its
//! first lines as sent, then only the lines that frame the message, then the blank line; the
//! handlers' headers are built from the recording.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::grammar::{self, Codings};
use super::{ConnectionWire, HandOverKind, HeadLimits, Recorded};

/// Chunk extensions a request may carry in all, as Node's parser (beyond it, 413).
const MAX_CHUNK_EXTENSIONS: usize = 16 * 1024;
/// The longest method Node knows is 11 bytes.
const MAX_METHOD: usize = 16;
/// Header lines hyper parses in its stack arrays; one more and it refuses the head.
const HYPER_HEADER_LINES: usize = 100;
/// Header lines given to hyper as sent; the rest of a longer head is compacted.
pub(super) const COMPACT_AFTER: usize = 64;

/// How far one call to [`RequestReader::feed`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fed {
    /// Bytes read, from the start of the slice.
    pub consumed: usize,
    /// Bytes hyper may read, from the start of the slice (fewer than `consumed` while a head is
    /// compacted); [`RequestReader::synth`] follows them.
    pub output: usize,
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
    /// A head over Node's limits (size or count): 431 and the close, as Node answers it at once;
    /// hyper sees the end of the stream.
    TooLarge,
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
    /// Lines hyper gets (all of them unless compacted).
    given: usize,
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
    /// Node's count of the head so far (see [`HeadLimits::max_size`]).
    counted: usize,
    /// The head's bytes so far, blanks Node does not count included.
    head_bytes: usize,
    /// Node's count of the header line in `line`, as far as it came.
    partial: PartialLine,
    head: Head,
    limits: HeadLimits,
    /// The rest of the current head is withheld from hyper: the framing lines wait here.
    compacting: bool,
    kept: Vec<u8>,
    /// Where hyper's bytes end in the slice being fed, when compaction withholds the rest.
    cut: Option<usize>,
    /// Bytes hyper gets right after the output of the last feed: a compacted head's kept lines
    /// and blank line (or the NUL of a refusal).
    pub synth: Vec<u8>,
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
    pub(super) fn new(wire: Arc<ConnectionWire>, limits: HeadLimits) -> Self {
        RequestReader {
            state: State::Idle { cr: false },
            line: Vec::new(),
            counted: 0,
            head_bytes: 0,
            partial: PartialLine::default(),
            head: Head::default(),
            limits,
            compacting: false,
            kept: Vec::new(),
            cut: None,
            synth: Vec::new(),
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
        )
    }

    /// A request is under way and not yet read whole (its head or its body).
    pub(super) fn in_message(&self) -> bool {
        self.in_head()
            || matches!(
                self.state,
                State::Body(_)
                    | State::ChunkSize
                    | State::ChunkData(_)
                    | State::ChunkCr
                    | State::ChunkLf
                    | State::Trailers
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
        self.cut = self.compacting.then_some(0);
        let mut i = 0;
        while i < bytes.len() {
            let stop = match self.state {
                State::Tunnel => {
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
                    Err(Refusal::TooLarge) => return self.too_large(i),
                    Err(Refusal::Malformed) => return self.refuse_head(bytes, i),
                },
            };
            if let Some(stop) = stop {
                return self.fed(i, Some(stop));
            }
            // A head that ended here may stop the stream right after its last byte; a compacted
            // one stops there, so that what follows reaches hyper after its kept lines.
            match self.state {
                State::Held => return self.fed(i, Some(Stop::Hold)),
                State::Ended => return self.fed(i, Some(Stop::End)),
                _ if !self.synth.is_empty() => return self.fed(i, None),
                _ => {}
            }
        }
        self.fed(i, None)
    }

    fn fed(&mut self, consumed: usize, stop: Option<Stop>) -> Fed {
        Fed {
            consumed,
            output: self.cut.take().unwrap_or(consumed),
            stop,
        }
    }

    /// Header, chunk-size and trailer lines: a whole line at a time, read where it is when it
    /// came in one piece. Returns where reading goes on, or the refusal.
    fn line_mode(&mut self, bytes: &mut [u8], i: usize) -> Result<usize, Fed> {
        if self.state == State::Headers
            && self.line.is_empty()
            && !self.compacting
            && self.head.lines == COMPACT_AFTER
        {
            // A long head: from this line on, hyper gets only what frames the message.
            self.compacting = true;
            self.cut = Some(i);
        }
        let rest = &bytes[i..];
        let Some(end) = memchr::memchr(b'\n', rest) else {
            self.line.extend_from_slice(rest);
            let outcome = if self.state == State::Headers {
                let so_far = self.partial.count(&self.line);
                self.check_size(self.counted + so_far)
                    .and_then(|()| self.check_bytes(self.head_bytes + self.line.len()))
            } else {
                self.check_line_length(self.line.len())
            };
            return match outcome {
                Ok(()) => Ok(bytes.len()),
                Err(status) => Err(self.refuse_at(bytes, i, bytes.len() - 1, status)),
            };
        };
        self.partial = PartialLine::default();
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

    /// A line over its bound: a chunk-size line over the extension limit, trailers over the head
    /// limit. (Head lines are measured as Node measures them, in `end_of_line`.)
    fn check_line_length(&mut self, length: usize) -> Result<(), u16> {
        match self.state {
            State::ChunkSize if self.extensions + length > MAX_CHUNK_EXTENSIONS + 32 => Err(413),
            State::Trailers if self.trailers + length > self.limits.max_size => Err(431),
            _ => Ok(()),
        }
    }

    /// Blanks Node does not count still take memory: a head is bounded in bytes too.
    fn check_bytes(&self, bytes: usize) -> Result<(), u16> {
        if bytes > self.limits.max_bytes() {
            Err(431)
        } else {
            Ok(())
        }
    }

    /// Node's parser refuses a head once its count reaches maxHeaderSize.
    fn check_size(&self, counted: usize) -> Result<(), u16> {
        if counted >= self.limits.max_size {
            Err(431)
        } else {
            Ok(())
        }
    }

    /// A line without its LF. Err carries the status of a refusal.
    fn end_of_line(&mut self, line: &[u8]) -> Result<(), u16> {
        // CRLF only: a bare LF, or a CR anywhere else, is refused as by Node.
        let line = line.strip_suffix(b"\r").ok_or(400u16)?;
        if memchr::memchr(b'\r', line).is_some() {
            return Err(400);
        }
        match self.state {
            State::Headers => {
                if line.is_empty() {
                    self.end_of_head()
                } else {
                    self.header_line(line)?;
                    self.counted += node_count(line);
                    self.head_bytes += line.len() + 2;
                    self.check_size(self.counted)?;
                    self.check_bytes(self.head_bytes)
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
        head.lines += 1;
        let limits = &self.limits;
        if let Some(max) = limits.max_lines {
            // Node 22 and later refuse a head with more lines than maxHeadersCount (431); Node 20
            // keeps them, `req.headers` cut to the count and `req.rawHeaders` to whole groups.
            if limits.refuse_extra_lines && head.lines > max {
                return Err(431);
            }
        }
        if limits.raw_lines().is_none_or(|raw| head.lines <= raw) {
            head.raw_headers.extend_from_slice(name);
            head.raw_headers.push(b'\n');
            head.raw_headers.extend_from_slice(value);
            head.raw_headers.push(b'\n');
        }
        if !self.compacting {
            head.given += 1;
        } else if frames_the_message(name) {
            head.given += 1;
            if head.given > HYPER_HEADER_LINES {
                return Err(431);
            }
            self.kept.extend_from_slice(line);
            self.kept.extend_from_slice(b"\r\n");
        }
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
        if std::mem::take(&mut self.compacting) {
            self.synth.append(&mut self.kept);
            self.synth.extend_from_slice(b"\r\n");
        }
        head.raw_headers.pop();
        let truncated = self.limits.max_lines.filter(|&max| head.lines > max);
        let recorded = Recorded {
            // Also when not origin-form: hyper rebuilds those (scheme lower-cased, `/` added).
            original_target: (head.replaced || head.target.first() != Some(&b'/'))
                .then(|| Bytes::copy_from_slice(&head.target)),
            raw_headers: Bytes::from(std::mem::take(&mut head.raw_headers)),
            lines: head.lines,
            given: head.given,
            app_lines: match truncated {
                Some(max) => Some(max),
                None if head.given < head.lines => Some(head.lines),
                None => None,
            },
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

    fn request_line_byte(&mut self, byte: &mut u8) -> Result<(), Refusal> {
        let b = *byte;
        if !matches!(self.state, State::Idle { .. }) {
            self.head_bytes += 1;
        }
        match self.state {
            // Empty lines before a request are skipped, as by hyper and Node.
            State::Idle { cr: false } if b == b'\r' => self.state = State::Idle { cr: true },
            State::Idle { .. } if b == b'\n' => self.state = State::Idle { cr: false },
            State::Idle { cr: true } => return Err(Refusal::Malformed),
            State::Idle { cr: false } => {
                self.began_head = true;
                self.head_bytes = 1;
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
                        return Err(Refusal::Malformed);
                    }
                    self.state = State::Version;
                    return Ok(());
                }
                if !grammar::is_target_byte(b) {
                    return Err(Refusal::Malformed);
                }
                // Node counts the target toward maxHeaderSize: a long one gets 431, not 414.
                self.counted += 1;
                if self.counted >= self.limits.max_size {
                    return Err(Refusal::TooLarge);
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
                b'\r' | b'\n' => return Err(Refusal::Malformed),
                _ if self.head.version.len() < 8 => self.head.version.push(b),
                _ => return Err(Refusal::Malformed),
            },
            State::RequestLineLf if b == b'\n' => self.state = State::Headers,
            _ => return Err(Refusal::Malformed),
        }
        Ok(())
    }

    fn request_line_byte_in_method(&mut self, b: u8) -> Result<(), Refusal> {
        if b == b' ' {
            // Node's list, spelled exactly: `get` or `FOO` is a 400.
            if !xsys_router::is_http_method(&self.head.method) {
                return Err(Refusal::Malformed);
            }
            self.state = State::Target { in_query: false };
            return Ok(());
        }
        if !grammar::is_tchar(b) || self.head.method.len() >= MAX_METHOD {
            return Err(Refusal::Malformed);
        }
        self.head.method.push(b);
        Ok(())
    }

    fn message_done(&mut self) {
        self.messages += 1;
        self.head = Head::default();
        self.counted = 0;
        self.head_bytes = 0;
        self.extensions = 0;
        self.trailers = 0;
        self.state = State::Idle { cr: false };
    }

    /// The head is refused at `bytes[at]`: that byte becomes a NUL (hyper's parser refuses it
    /// wherever it stands in a head) and nothing after it is given.
    fn refuse_head(&mut self, bytes: &mut [u8], at: usize) -> Fed {
        if self.compacting {
            // hyper's bytes ended before this one: the NUL follows them.
            self.synth.push(0);
        } else {
            bytes[at] = 0;
        }
        self.state = State::Ended;
        // hyper answers this head itself; the writer still counts it as a request.
        self.kinds.push_back(Kind::default());
        self.fed(at + 1, Some(Stop::RefusedHead))
    }

    /// Over Node's limits: the engine answers 431 and hyper sees the stream end before `at`.
    fn too_large(&mut self, at: usize) -> Fed {
        self.state = State::Ended;
        self.fed(at, Some(Stop::TooLarge))
    }

    fn refuse_body(&mut self, at: usize, status: u16) -> Fed {
        self.state = State::Ended;
        self.fed(at, Some(Stop::RefusedBody(status)))
    }

    /// A refusal decided on a line that starts at `start` in this read (or earlier) and whose
    /// last byte read is `at`: a head line is refused at that byte (431 before hyper has it); a
    /// body is cut before the line.
    fn refuse_at(&mut self, bytes: &mut [u8], start: usize, at: usize, status: u16) -> Fed {
        match self.state {
            State::Headers if status == 431 => self.too_large(start),
            State::Headers => self.refuse_head(bytes, at),
            _ => self.refuse_body(start, status),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Malformed,
    TooLarge,
}

/// The header lines hyper acts on: the body's framing, the connection's fate, 100 Continue and
/// upgrades. A compacted head keeps them for hyper.
fn frames_the_message(name: &[u8]) -> bool {
    [
        &b"content-length"[..],
        b"transfer-encoding",
        b"connection",
        b"expect",
        b"upgrade",
    ]
    .iter()
    .any(|framing| name.eq_ignore_ascii_case(framing))
}

/// What Node's parser counts of a header line (without its LF) toward maxHeaderSize: the name
/// and the value from its first non-blank byte, trailing blanks included; not the colon, the
/// blanks before the value nor the CR.
fn node_count(line: &[u8]) -> usize {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match memchr::memchr(b':', line) {
        Some(colon) => {
            let value = &line[colon + 1..];
            let blanks = value
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
            colon + value.len() - blanks
        }
        None => line.len(),
    }
}

/// Node's count of a header line that comes in pieces, kept up to date piece by piece.
#[derive(Debug, Default)]
struct PartialLine {
    scanned: usize,
    count: usize,
    colon: bool,
    in_value: bool,
}

impl PartialLine {
    /// The count of `line` (the line so far), scanning only what came since the last call.
    fn count(&mut self, line: &[u8]) -> usize {
        for &b in &line[self.scanned..] {
            if !self.colon {
                if b == b':' {
                    self.colon = true;
                } else {
                    self.count += 1;
                }
            } else if self.in_value || (b != b' ' && b != b'\t') {
                self.in_value = true;
                self.count += 1;
            }
        }
        self.scanned = line.len();
        // A CR last may be the line's end, which Node does not count.
        self.count - usize::from(line.last() == Some(&b'\r'))
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
