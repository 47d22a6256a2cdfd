//! A request's head, line by line: the request line byte by byte, each header line, and the
//! blank line that decides the body's framing and what hyper is told. Also what Node's parser
//! counts of a line toward maxHeaderSize.

use bytes::Bytes;

use super::super::grammar;
use super::super::{HandOverKind, Recorded};
use super::{Kind, Refusal, RequestReader, State};

/// The longest method Node knows is 11 bytes.
const MAX_METHOD: usize = 16;
/// Header lines hyper parses in its stack arrays; one more and it refuses the head.
const HYPER_HEADER_LINES: usize = 100;

impl RequestReader {
    pub(super) fn header_line(&mut self, line: &[u8]) -> Result<(), u16> {
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
    pub(super) fn end_of_head(&mut self) -> Result<(), u16> {
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

    pub(super) fn request_line_byte(&mut self, byte: &mut u8) -> Result<(), Refusal> {
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

    pub(super) fn request_line_byte_in_method(&mut self, b: u8) -> Result<(), Refusal> {
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
pub(super) fn node_count(line: &[u8]) -> usize {
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
pub(super) struct PartialLine {
    scanned: usize,
    count: usize,
    colon: bool,
    in_value: bool,
}

impl PartialLine {
    /// The count of `line` (the line so far), scanning only what came since the last call.
    pub(super) fn count(&mut self, line: &[u8]) -> usize {
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
pub(super) fn field_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
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
