//! The response writer: follows the framing of every response hyper writes, as a client reads
//! it, so it always knows whether a byte belongs to a head, a chunk-size line or a body.
//!
//! Four of hyper's spellings are put the way Node writes them, in heads and size lines only:
//! header names (see names.rs), `HTTP/1.1` in the status line of an answer to an HTTP/1.0
//! client (hyper says `HTTP/1.0`), chunk sizes in lower-case hex, and the refusals hyper or the
//! engine make (a malformed request, an oversized head, a body refused) without the
//! `Content-Length: 0` hyper adds: Node's are the status line and `Connection: close` alone. Body bytes are passed as they are, whatever they
//! look like, because the writer knows where every body begins and ends (Content-Length, chunked
//! framing, answers without a body to HEAD, 1xx, 204 and 304, the switch of a 101).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::LazyLock;

use bytes::{Buf, BytesMut};
use tokio::time::Instant;

use super::names::{put_names, Framing, NameScratch};
use super::reader::Kind;
use super::ConnectionWire;

/// The end of a head.
static HEAD_END: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));

/// At most this much of hyper's buffers is taken per write (what the socket does not take is
/// kept until the next write or flush).
const MAX_BATCH: usize = 128 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd(u8),
    /// Trailer lines up to the empty one; `line` bytes of the current one read.
    Trailers {
        line: usize,
    },
    /// Until the connection closes (HTTP/1.0 streams, a framing hyper does not announce).
    CloseDelimited,
    /// After a 101 (or a 2xx to CONNECT): raw bytes.
    Tunnel,
}

/// A piece of what goes to the socket: hyper's bytes as they are, or bytes put Node's way.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Input {
        slice: usize,
        start: usize,
        end: usize,
    },
    Owned {
        start: usize,
        end: usize,
    },
}

pub(super) struct ResponseWriter {
    state: Out,
    /// A head or a size line that came in pieces.
    partial: Vec<u8>,
    /// Bytes hyper handed over, already put Node's way, that the socket has not taken yet.
    pub pending: BytesMut,
    /// Final answers begun on this connection.
    answers: u64,
    /// Since when every answer begun is complete.
    pub idle_since: Option<Instant>,
    /// Answers written whole.
    pub done: u64,
    /// Bytes put Node's way during one write.
    scratch: Vec<u8>,
    pieces: Vec<Piece>,
    names: NameScratch,
}

/// What writing an answer's head told about a hand-over request.
pub(super) type Verdict = Option<bool>;

impl ResponseWriter {
    pub(super) fn new() -> Self {
        ResponseWriter {
            state: Out::Head,
            partial: Vec::new(),
            pending: BytesMut::new(),
            answers: 0,
            idle_since: Some(Instant::now()),
            done: 0,
            scratch: Vec::new(),
            pieces: Vec::new(),
            names: NameScratch::default(),
        }
    }

    /// No answer is being written.
    pub(super) fn between_answers(&self) -> bool {
        self.state == Out::Head && self.partial.is_empty()
    }

    /// Reads hyper's `bufs` as the next part of the response stream; returns how many bytes of
    /// them are taken and what to send for them (`pieces()`), and a verdict when the answer to
    /// a hand-over request began.
    pub(super) fn take<'a>(
        &mut self,
        bufs: &[IoSlice<'a>],
        kinds: &mut VecDeque<Kind>,
        wire: &ConnectionWire,
    ) -> (usize, Verdict) {
        self.scratch.clear();
        self.pieces.clear();
        let mut verdict = None;
        let mut taken = 0;
        for (index, buf) in bufs.iter().enumerate() {
            if taken >= MAX_BATCH {
                break;
            }
            let bytes: &[u8] = buf;
            let mut at = 0;
            while at < bytes.len() {
                let (step, piece) = self.step(&bytes[at..], kinds, wire, &mut verdict);
                if let Some(piece) = piece {
                    match piece {
                        Piece::Input { start, end, .. } => {
                            self.push_input(index, at + start, at + end)
                        }
                        owned => self.pieces.push(owned),
                    }
                }
                at += step;
            }
            taken += bytes.len();
        }
        (taken, verdict)
    }

    fn push_input(&mut self, slice: usize, start: usize, end: usize) {
        if start == end {
            return;
        }
        if let Some(Piece::Input {
            slice: s, end: e, ..
        }) = self.pieces.last_mut()
        {
            if *s == slice && *e == start {
                *e = end;
                return;
            }
        }
        self.pieces.push(Piece::Input { slice, start, end });
    }

    /// One step over `bytes`: how many are read, and the piece to send for them.
    fn step(
        &mut self,
        bytes: &[u8],
        kinds: &mut VecDeque<Kind>,
        wire: &ConnectionWire,
        verdict: &mut Verdict,
    ) -> (usize, Option<Piece>) {
        let input = |end: usize| {
            Some(Piece::Input {
                slice: 0,
                start: 0,
                end,
            })
        };
        match self.state {
            Out::Tunnel | Out::CloseDelimited => (bytes.len(), input(bytes.len())),
            Out::Body(left) | Out::ChunkData(left) => {
                let step = left.min(bytes.len() as u64) as usize;
                let left = left - step as u64;
                self.state = match (self.state, left) {
                    (Out::Body(_), 0) => self.answer_done(),
                    (Out::Body(_), n) => Out::Body(n),
                    (_, 0) => Out::ChunkEnd(2),
                    (_, n) => Out::ChunkData(n),
                };
                (step, input(step))
            }
            Out::ChunkEnd(left) => {
                let step = usize::from(left).min(bytes.len());
                self.state = match left as usize - step {
                    0 => Out::ChunkSize,
                    n => Out::ChunkEnd(n as u8),
                };
                (step, input(step))
            }
            Out::Trailers { mut line } => {
                for (i, &b) in bytes.iter().enumerate() {
                    line += 1;
                    if b == b'\n' {
                        if line <= 2 {
                            self.state = self.answer_done();
                            return (i + 1, input(i + 1));
                        }
                        line = 0;
                    }
                }
                self.state = Out::Trailers { line };
                (bytes.len(), input(bytes.len()))
            }
            Out::Head => {
                self.idle_since = None;
                let Some(end) = self.find_end(bytes, b"\r\n\r\n") else {
                    self.partial.extend_from_slice(bytes);
                    return (bytes.len(), None);
                };
                if self.partial.is_empty() {
                    // The usual case: the whole head in one of hyper's buffers.
                    return (end, Some(self.head(&bytes[..end], kinds, wire, verdict)));
                }
                self.partial.extend_from_slice(&bytes[..end]);
                let head = std::mem::take(&mut self.partial);
                let piece = self.head(&head, kinds, wire, verdict);
                self.partial = head;
                self.partial.clear();
                (end, Some(piece))
            }
            Out::ChunkSize => {
                let Some(end) = self.find_end(bytes, b"\n") else {
                    self.partial.extend_from_slice(bytes);
                    return (bytes.len(), None);
                };
                self.partial.extend_from_slice(&bytes[..end]);
                let size = std::str::from_utf8(self.partial.trim_ascii_end())
                    .ok()
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok());
                let start = self.scratch.len();
                self.scratch
                    .extend(self.partial.iter().map(u8::to_ascii_lowercase));
                self.partial.clear();
                self.state = match size {
                    Some(0) => Out::Trailers { line: 0 },
                    Some(n) => Out::ChunkData(n),
                    // hyper wrote it; never happens, but the rest is then passed as it is.
                    None => Out::CloseDelimited,
                };
                (
                    end,
                    Some(Piece::Owned {
                        start,
                        end: self.scratch.len(),
                    }),
                )
            }
        }
    }

    /// Where `terminator` (`\r\n\r\n` or one byte) ends in what came so far plus `bytes`: the
    /// count of `bytes` up to it.
    fn find_end(&self, bytes: &[u8], terminator: &[u8]) -> Option<usize> {
        let carried = self.partial.len().min(terminator.len() - 1);
        if carried > 0 {
            let mut joint = self.partial[self.partial.len() - carried..].to_vec();
            joint.extend_from_slice(&bytes[..bytes.len().min(terminator.len() - 1)]);
            if let Some(at) = memchr::memmem::find(&joint, terminator) {
                return Some(at + terminator.len() - carried);
            }
        }
        match terminator {
            [byte] => memchr::memchr(*byte, bytes),
            _ => HEAD_END.find(bytes),
        }
        .map(|at| at + terminator.len())
    }

    /// A whole response head: what it means for the framing, and its bytes as Node writes them.
    fn head(
        &mut self,
        head: &[u8],
        kinds: &mut VecDeque<Kind>,
        wire: &ConnectionWire,
        verdict: &mut Verdict,
    ) -> Piece {
        let status = head
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        let start = self.scratch.len();
        self.scratch.extend_from_slice(head);
        // Node always says HTTP/1.1.
        if self.scratch[start..].starts_with(b"HTTP/1.0 ") {
            self.scratch[start + 7] = b'1';
        }
        let framing = put_names(&mut self.scratch, start, &mut self.names);
        if (100..200).contains(&status) && status != 101 {
            // An interim answer (100 Continue): the final one follows.
            self.state = Out::Head;
            return Piece::Owned {
                start,
                end: self.scratch.len(),
            };
        }
        self.answers += 1;
        let kind = kinds.pop_front().unwrap_or_default();
        let switched = status == 101 || (kind.connect && (200..300).contains(&status));
        if kind.hand_over {
            *verdict = Some(switched);
        }
        if wire.refusal_of_ours(self.answers) {
            drop_refusal_length(&mut self.scratch, start);
        }
        if wire.any_close_kept_open() {
            close_kept_open(&mut self.scratch, start);
        }
        let Framing {
            length,
            transfer_encoding,
            chunked,
        } = framing;
        self.state = if switched {
            Out::Tunnel
        } else if kind.head_method || status == 204 || status == 304 {
            self.answer_done()
        } else if transfer_encoding {
            if chunked {
                Out::ChunkSize
            } else {
                Out::CloseDelimited
            }
        } else {
            match length {
                Some(0) => self.answer_done(),
                Some(n) => Out::Body(n),
                None => Out::CloseDelimited,
            }
        };
        Piece::Owned {
            start,
            end: self.scratch.len(),
        }
    }

    fn answer_done(&mut self) -> Out {
        self.idle_since = Some(Instant::now());
        self.done += 1;
        Out::Head
    }

    /// The slices to send for what [`take`](Self::take) read from `bufs`.
    pub(super) fn slices<'s>(&'s self, bufs: &'s [IoSlice<'s>]) -> Vec<IoSlice<'s>> {
        self.pieces
            .iter()
            .map(|piece| match *piece {
                Piece::Input { slice, start, end } => IoSlice::new(&bufs[slice][start..end]),
                Piece::Owned { start, end } => IoSlice::new(&self.scratch[start..end]),
            })
            .collect()
    }

    /// Keeps what the socket did not take of the slices of the last `take`: `written` bytes of
    /// them went out.
    pub(super) fn keep_unwritten(&mut self, bufs: &[IoSlice<'_>], mut written: usize) {
        for piece in &self.pieces {
            let bytes: &[u8] = match *piece {
                Piece::Input { slice, start, end } => &bufs[slice][start..end],
                Piece::Owned { start, end } => &self.scratch[start..end],
            };
            let skip = written.min(bytes.len());
            written -= skip;
            self.pending.extend_from_slice(&bytes[skip..]);
        }
    }

    /// Marks `n` pending bytes as written.
    pub(super) fn advance_pending(&mut self, n: usize) {
        self.pending.advance(n);
    }
}

/// The engine's `Connection` word for Node's `Connection: close` on a connection kept open
/// (maxRequestsPerSocket) is put as `close`.
fn close_kept_open(scratch: &mut Vec<u8>, start: usize) {
    let mut line = b"\r\nConnection: ".to_vec();
    line.extend_from_slice(super::CLOSE_KEPT_OPEN.as_bytes());
    line.extend_from_slice(b"\r\n");
    if let Some(at) = memchr::memmem::find(&scratch[start..], &line) {
        let value = start + at + b"\r\nConnection: ".len();
        scratch.splice(
            value..value + super::CLOSE_KEPT_OPEN.len(),
            b"close".iter().copied(),
        );
    }
}

/// `<status line>\r\nConnection: close\r\nContent-Length: 0\r\n\r\n` loses its last header line.
fn drop_refusal_length(scratch: &mut Vec<u8>, start: usize) {
    const TAIL: &[u8] = b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    let head = &scratch[start..];
    let Some(status_line) = head.strip_suffix(TAIL) else {
        return;
    };
    if memchr::memchr(b'\n', status_line).is_some() {
        return;
    }
    let keep = head.len() - TAIL.len() + b"\r\nConnection: close\r\n".len();
    scratch.truncate(start + keep);
    scratch.extend_from_slice(b"\r\n");
}
