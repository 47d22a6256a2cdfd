//! Answering requests: one native call per buffered response, or head / chunks / end.
//!
//! A request whose client already left is not an error for the handler: those calls return
//! `false` (the `'close'` event reaches JS through the event batch).

use bytes::Bytes;
use napi::{Env, Result};
use napi_derive::napi;
use std::cell::RefCell;

use xsys_http::native::EntityTag;
use xsys_http::{Completion, Exchange, ResponseHead};

use crate::errors::throw_engine;

/// Response flags from JS: the low two bits ask for Express's entity tag (1 weak, 2 strong),
/// `FLAG_NO_DATE` is `res.sendDate = false`, `FLAG_PRELUDE_IN_JS` says the headers already hold
/// the ones the native prelude set (JS took them to read or change one), `FLAG_UTF8_HEAD` that
/// the head goes out in UTF-8.
const FLAG_ETAG_MASK: u32 = 0b11;
const FLAG_NO_DATE: u32 = 0b100;
const FLAG_PRELUDE_IN_JS: u32 = 0b1000;
/// The head goes out in UTF-8, as Node writes it with a first body string (see `with_utf8_head`).
const FLAG_UTF8_HEAD: u32 = 0b1_0000;

fn with_flags(head: ResponseHead, flags: u32) -> ResponseHead {
    let head = if flags & FLAG_NO_DATE != 0 {
        head.without_date()
    } else {
        head
    };
    let head = if flags & FLAG_PRELUDE_IN_JS != 0 {
        head.with_prelude_headers()
    } else {
        head
    };
    if flags & FLAG_UTF8_HEAD != 0 {
        head.with_utf8_head()
    } else {
        head
    }
}

fn id(raw: i64) -> u64 {
    raw.max(0) as u64
}

fn head(env: &Env, status: u32, headers: &str, reason: Option<&str>) -> Result<ResponseHead> {
    let head = ResponseHead::from_block(status, headers).map_err(|e| throw_engine(env, &e))?;
    match reason {
        Some(reason) => head.with_reason(reason).map_err(|e| throw_engine(env, &e)),
        None => Ok(head),
    }
}

/// Ok(false) for a request that is gone; other errors are thrown.
fn outcome(env: &Env, result: std::result::Result<(), xsys_http::Error>) -> Result<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_unknown_request() => Ok(false),
        Err(e) => Err(throw_engine(env, &e)),
    }
}

/// A response JS completed, its head still the block JS wrote. Its head is parsed, its entity tag
/// computed and its connection woken on the I/O thread when the batch is flushed: the JS thread
/// only copies it out. JS validated the names and values as Node's `setHeader` does and checked
/// the status; a status message other than the code's own is checked before the request is
/// completed. So building the head does not fail; if it does, the client gets a bare 500.
struct Held {
    completion: Completion,
    status: u32,
    /// `name:value\n` lines, UTF-8.
    headers: Bytes,
    body: Bytes,
    flags: u32,
    reason: Option<String>,
}

impl Held {
    fn send(self) {
        let etag = EntityTag::from_code(self.flags & FLAG_ETAG_MASK);
        let head = std::str::from_utf8(&self.headers)
            .map_err(|_| ())
            .and_then(|block| ResponseHead::from_block(self.status, block).map_err(|_| ()))
            .and_then(|head| match self.reason.as_deref() {
                Some(reason) => head.with_reason(reason).map_err(|_| ()),
                None => Ok(head),
            });
        let ready = match head {
            Ok(head) => self
                .completion
                .ready(with_flags(head, self.flags), self.body, etag),
            Err(()) => match ResponseHead::from_block(500, "") {
                Ok(head) => self.completion.ready(head, Bytes::new(), EntityTag::None),
                Err(_) => return,
            },
        };
        ready.send();
    }
}

thread_local! {
    /// Responses completed through `respondString`/`respondBytes` since the last flush.
    static READY: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

fn hold(
    env: &Env,
    request: i64,
    status: u32,
    headers: Bytes,
    body: Bytes,
    flags: Option<u32>,
    reason: Option<String>,
) -> Result<bool> {
    // What JS does not check itself is checked here, so an error still reaches the caller.
    if !(100..=999).contains(&status) || reason.is_some() {
        head(env, status, "", reason.as_deref())?;
    }
    match Exchange::global().complete(id(request)) {
        Ok(completion) => {
            READY.with(|r| {
                r.borrow_mut().push(Held {
                    completion,
                    status,
                    headers,
                    body,
                    flags: flags.unwrap_or(0),
                    reason,
                })
            });
            Ok(true)
        }
        Err(e) if e.is_unknown_request() => Ok(false),
        Err(e) => Err(throw_engine(env, &e)),
    }
}

/// Status, headers (`name:value` lines) and a string body, in one call: for a response the
/// arena of `flushResponses` does not take (a custom status message, or too large). It leaves at
/// the next `flushResponses()`. `flags`: 1 adds Express's weak entity tag, 2 its strong one, 4
/// leaves Date out. `reason`: a status message other than the canonical one.
#[napi]
pub fn respond_string(
    env: Env,
    request: i64,
    status: u32,
    headers: String,
    body: String,
    flags: Option<u32>,
    reason: Option<String>,
) -> Result<bool> {
    hold(
        &env,
        request,
        status,
        Bytes::from(headers),
        Bytes::from(body),
        flags,
        reason,
    )
}

/// Status, headers and a binary body, in one call; leaves at the next `flushResponses()`.
#[napi]
pub fn respond_bytes(
    env: Env,
    request: i64,
    status: u32,
    headers: String,
    body: &[u8],
    flags: Option<u32>,
    reason: Option<String>,
) -> Result<bool> {
    hold(
        &env,
        request,
        status,
        Bytes::from(headers),
        Bytes::copy_from_slice(body),
        flags,
        reason,
    )
}

/// Fields of one response in `flushResponses`' records.
const RECORD: usize = 5;

/// One response JS wrote into the arena.
#[derive(Debug)]
struct Written {
    id: u64,
    status: u32,
    flags: u32,
    head: Bytes,
    body: Bytes,
}

/// The first `count` responses of `records` (request id, status, flags, head bytes, body bytes),
/// their heads and bodies copied out of `arena` (one copy, which they are views of). Lengths that
/// run past the arena take nothing: JS never writes them.
fn read_arena(records: &[f64], arena: &[u8], count: usize) -> Vec<Written> {
    let records = records.chunks_exact(RECORD).take(count);
    let total = records.clone().try_fold(0usize, |sum, r| {
        sum.checked_add(r[3] as usize)?.checked_add(r[4] as usize)
    });
    let Some(written) = total.and_then(|total| arena.get(..total)) else {
        return Vec::new();
    };
    let written = Bytes::copy_from_slice(written);
    let mut at = 0;
    records
        .map(|r| {
            let head_end = at + r[3] as usize;
            let end = head_end + r[4] as usize;
            let response = Written {
                id: id(r[0] as i64),
                status: r[1] as u32,
                flags: r[2] as u32,
                head: written.slice(at..head_end),
                body: written.slice(head_end..end),
            };
            at = end;
            response
        })
        .collect()
}

/// Completes the `count` responses JS wrote into `arena` (`records`: request id, status, flags,
/// head bytes, body bytes, each response's head then body following the previous one's) and hands
/// them, with those held by `respondString`/`respondBytes`, to the I/O thread, which builds them
/// and wakes their connections: one wake-up of it serves the whole batch, and the JS thread does
/// none of that work. A request whose client left is skipped. Returns the responses handed over.
#[napi]
pub fn flush_responses(records: &[f64], arena: &[u8], count: u32) -> u32 {
    let mut held = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
    for written in read_arena(records, arena, count as usize) {
        if let Ok(completion) = Exchange::global().complete(written.id) {
            held.push(Held {
                completion,
                status: written.status,
                headers: written.head,
                body: written.body,
                flags: written.flags,
                reason: None,
            });
        }
    }
    let handed = held.len() as u32;
    if handed != 0 {
        xsys_http::runtime::runtime().spawn(async move {
            for response in held {
                response.send();
            }
        });
    }
    handed
}

/// Sends the head of a streaming response.
#[napi]
pub fn write_head(
    env: Env,
    request: i64,
    status: u32,
    headers: String,
    reason: Option<String>,
    flags: Option<u32>,
) -> Result<bool> {
    let head = with_flags(
        head(&env, status, &headers, reason.as_deref())?,
        flags.unwrap_or(0),
    );
    outcome(&env, Exchange::global().write_head(id(request), head))
}

/// Queues a chunk; `false` means the socket is behind (wait for the drain event) or the client is
/// gone.
#[napi]
pub fn write_chunk(env: Env, request: i64, chunk: &[u8]) -> Result<bool> {
    match Exchange::global().write(id(request), Bytes::copy_from_slice(chunk)) {
        Ok(below_high_water_mark) => Ok(below_high_water_mark),
        Err(e) if e.is_unknown_request() => Ok(false),
        Err(e) => Err(throw_engine(&env, &e)),
    }
}

/// Bytes a streaming response may hold unsent before `writeChunk` says `false`: the running
/// Node's default highWaterMark (`stream.getDefaultHighWaterMark(false)`), set once by lib/.
#[napi]
pub fn set_high_water_mark(bytes: u32) {
    xsys_http::set_high_water_mark(bytes as usize);
}

/// Ends a streaming response with an optional last chunk.
#[napi]
pub fn end_response(env: Env, request: i64, last: Option<&[u8]>) -> Result<bool> {
    let last = last.map(Bytes::copy_from_slice);
    outcome(&env, Exchange::global().end(id(request), last))
}

/// Asks for the next part of a streaming request body.
#[napi]
pub fn read_body(env: Env, request: i64) -> Result<bool> {
    outcome(&env, Exchange::global().read_body(id(request)))
}

/// Closes the connection under a request without completing its response.
#[napi]
pub fn destroy_request(env: Env, request: i64) -> Result<bool> {
    outcome(&env, Exchange::global().destroy(id(request)))
}

/// Requests dispatched to JS and not yet finished or aborted, in this process.
#[napi]
pub fn in_flight() -> u32 {
    Exchange::in_flight() as u32
}

/// The request's header lines as sent: `name\nvalue\n...` with names in their case, in order
/// (`req.rawHeaders`). Null once the request is finished or when they were not recorded.
#[napi]
pub fn raw_headers(request: i64) -> Option<String> {
    // Header bytes are latin1, as Node reads them.
    Exchange::global()
        .raw_headers(id(request))
        .map(|bytes| bytes.iter().map(|&b| char::from(b)).collect())
}

/// Raw bytes from the handler on a handed-over connection (`socket.write` after an
/// `'upgrade'` or `'connect'`); the first ones are the response head. `false` means the client is
/// behind: wait for the drain event. A connection already gone takes them quietly (`true`).
#[napi]
pub fn tunnel_write(env: Env, request: i64, chunk: &[u8]) -> Result<bool> {
    match Exchange::global().tunnel_write(id(request), Bytes::copy_from_slice(chunk)) {
        Ok(below_high_water_mark) => Ok(below_high_water_mark),
        Err(e) if e.is_unknown_request() => Ok(true),
        Err(e) => Err(throw_engine(&env, &e)),
    }
}

/// Stops (`false`) or resumes (`true`) reading from the client of a handed-over connection.
#[napi]
pub fn tunnel_flow(env: Env, request: i64, flowing: bool) -> Result<bool> {
    outcome(&env, Exchange::global().tunnel_flow(id(request), flowing))
}

/// Ends the handler's side of a handed-over connection (`socket.end()`).
#[napi]
pub fn tunnel_end(env: Env, request: i64) -> Result<bool> {
    outcome(&env, Exchange::global().tunnel_end(id(request)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arena_gives_each_response_its_head_and_body() {
        let arena = b"a:1\nxyzb:2\n\xc3\xa9unused";
        let records = [7.0, 200.0, 1.0, 4.0, 3.0, 9.0, 404.0, 4.0, 4.0, 2.0];
        let written = read_arena(&records, arena, 2);
        assert_eq!(written.len(), 2);
        assert_eq!(
            (written[0].id, written[0].status, written[0].flags),
            (7, 200, 1)
        );
        assert_eq!(&written[0].head[..], b"a:1\n");
        assert_eq!(&written[0].body[..], b"xyz");
        assert_eq!(
            (written[1].id, written[1].status, written[1].flags),
            (9, 404, 4)
        );
        assert_eq!(&written[1].head[..], b"b:2\n");
        assert_eq!(&written[1].body[..], "\u{e9}".as_bytes());
    }

    #[test]
    fn the_arena_reads_only_the_records_counted() {
        let records = [1.0, 200.0, 0.0, 1.0, 0.0, 2.0, 200.0, 0.0, 1.0, 0.0];
        assert_eq!(read_arena(&records, b"ab", 1).len(), 1);
        assert!(read_arena(&records, b"ab", 0).is_empty());
        assert_eq!(
            read_arena(&records, b"ab", 5).len(),
            2,
            "no more than there are"
        );
    }

    #[test]
    fn lengths_past_the_arena_take_nothing() {
        assert!(read_arena(&[1.0, 200.0, 0.0, 3.0, 2.0], b"abcd", 1).is_empty());
        assert!(read_arena(&[1.0, 200.0, 0.0, f64::MAX, f64::MAX], b"abcd", 1).is_empty());
        // NaN and negative lengths read as empty
        let written = read_arena(&[1.0, 200.0, 0.0, f64::NAN, -3.0], b"abcd", 1);
        assert!(written[0].head.is_empty() && written[0].body.is_empty());
    }
}
