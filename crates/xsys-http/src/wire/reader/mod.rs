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

use super::grammar::{self, Codings};
use super::{ConnectionWire, HeadLimits, Recorded};

mod head;

use head::{field_line, node_count, PartialLine};

/// Chunk extensions a request may carry in all, as Node's parser (beyond it, 413).
const MAX_CHUNK_EXTENSIONS: usize = 16 * 1024;
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
