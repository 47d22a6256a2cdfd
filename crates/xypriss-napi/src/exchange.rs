//! Answering requests: one native call per buffered response, or head / chunks / end.
//!
//! A request whose client already left is not an error for the handler: those calls return
//! `false` (the `'close'` event reaches JS through the event batch).

use bytes::Bytes;
use napi::{Env, Result};
use napi_derive::napi;
use std::cell::RefCell;

use xsys_http::native::EntityTag;
use xsys_http::{Exchange, ReadyResponse, ResponseHead};

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

thread_local! {
    /// Responses completed on this JS thread since the last flush.
    static READY: RefCell<Vec<ReadyResponse>> = const { RefCell::new(Vec::new()) };
}

fn hold(
    env: &Env,
    request: i64,
    status: u32,
    headers: &str,
    body: Bytes,
    flags: Option<u32>,
    reason: Option<String>,
) -> Result<bool> {
    let flags = flags.unwrap_or(0);
    let head = with_flags(head(env, status, headers, reason.as_deref())?, flags);
    let etag = EntityTag::from_code(flags & FLAG_ETAG_MASK);
    match Exchange::global().prepare(id(request), head, body, etag) {
        Ok(ready) => {
            READY.with(|r| r.borrow_mut().push(ready));
            Ok(true)
        }
        Err(e) if e.is_unknown_request() => Ok(false),
        Err(e) => Err(throw_engine(env, &e)),
    }
}

/// Status, headers (`name:value` lines) and a string body, in one call. The response leaves
/// at the next `flushResponses()`. `flags`: 1 adds Express's weak entity tag, 2 its strong one,
/// 4 leaves Date out. `reason`: a status message other than the canonical one.
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
        &headers,
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
        &headers,
        Bytes::copy_from_slice(body),
        flags,
        reason,
    )
}

/// Hands every held response to its connection. Sending them together lets one wake-up of the
/// I/O thread serve a whole batch instead of one per response.
#[napi]
pub fn flush_responses() -> u32 {
    let ready = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
    let count = ready.len() as u32;
    for response in ready {
        response.send();
    }
    count
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
