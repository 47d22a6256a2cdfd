//! Requests in flight between the I/O threads and the handlers, addressed by id.
//!
//! A request gets a [`Slot`] when it is dispatched; the handler side answers through the
//! [`Exchange`] with that id. The slot goes away when the response is complete or the client
//! disconnects, whichever comes first; `in_flight()` counts live slots, so a leak shows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::body::{ResponseBody, StreamShared};
use crate::header_case::CaseKey;
use crate::native::EntityTag;
use crate::bridge::EventQueue;
use crate::Error;

/// A streaming response reports "behind" once this many bytes wait for the socket (Node's default
/// highWaterMark for a ServerResponse).
pub(crate) const HIGH_WATER_MARK: usize = 16 * 1024;

const SHARDS: usize = 16;

/// Status line and headers of a response, validated.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// A reason phrase other than the status code's canonical one (Node's `statusMessage`).
    pub reason: Option<hyper::ext::ReasonPhrase>,
    /// The names to send in the app's own case rather than Title-Case.
    pub(crate) case: CaseKey,
}

impl ResponseHead {
    /// Parses a header block of `name:value` entries separated by `\n`. Names go out in the case
    /// given, as Node sends them. Values are latin1 as in Node: a char above U+00FF is refused
    /// rather than mangled.
    pub fn from_block(status: u32, block: &str) -> Result<Self, Error> {
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| Error::invalid_status(status))?;
        let mut headers = HeaderMap::new();
        let mut case = CaseKey::default();
        for line in block.split('\n').filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| Error::invalid_header(format!("{line:?} has no ':'")))?;
            let lower = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::invalid_header(format!("name {name:?}")))?;
            case.note(name);
            let name = lower;
            let value = latin1_header_value(value)
                .ok_or_else(|| Error::invalid_header(format!("value of {name}")))?;
            headers.append(name, value);
        }
        Ok(ResponseHead { status, headers, reason: None, case })
    }

    /// Sets a custom reason phrase; characters HTTP forbids there are refused.
    pub fn with_reason(mut self, reason: &str) -> Result<Self, Error> {
        let bytes = latin1_header_value(reason)
            .ok_or_else(|| Error::invalid_header(format!("status message {reason:?}")))?;
        let phrase = hyper::ext::ReasonPhrase::try_from(bytes.as_bytes())
            .map_err(|_| Error::invalid_header(format!("status message {reason:?}")))?;
        self.reason = Some(phrase);
        Ok(self)
    }
}

fn latin1_header_value(value: &str) -> Option<HeaderValue> {
    if value.is_ascii() {
        return HeaderValue::from_str(value).ok();
    }
    let bytes = value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()?;
    HeaderValue::from_bytes(&bytes).ok()
}

pub(crate) type ResponseSender = oneshot::Sender<Response<ResponseBody>>;

/// A complete response whose request is already finished, waiting to be handed to its connection.
pub struct ReadyResponse {
    sender: ResponseSender,
    response: Response<ResponseBody>,
}

impl ReadyResponse {
    pub fn send(self) {
        // A closed receiver means the client left in between; the abort event covers it.
        let _ = self.sender.send(self.response);
    }
}

/// Credits for reading a streaming request body: the handler asks, the pump reads.
pub(crate) struct BodyPump {
    pub(crate) wanted: Notify,
    pub(crate) closed: AtomicBool,
}

impl BodyPump {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(BodyPump { wanted: Notify::new(), closed: AtomicBool::new(false) })
    }
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wanted.notify_one();
    }
}

enum SlotState {
    AwaitingHead(ResponseSender),
    Streaming { chunks: mpsc::UnboundedSender<Result<Bytes, ()>>, shared: Arc<StreamShared> },
}

pub(crate) struct Slot {
    state: SlotState,
    pump: Option<Arc<BodyPump>>,
    /// `name\nvalue\n` lines as sent, for `req.rawHeaders`.
    raw_headers: Option<Bytes>,
    pub(crate) queue: Arc<EventQueue>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pump) = &self.pump {
            pump.close();
        }
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Process-wide: ids are unique across servers so the binding needs no server handle to answer.
pub struct Exchange {
    shards: [Mutex<HashMap<u64, Slot>>; SHARDS],
    native_calls: AtomicU64,
}

impl Exchange {
    pub fn global() -> &'static Exchange {
        static EXCHANGE: OnceLock<Exchange> = OnceLock::new();
        EXCHANGE.get_or_init(|| Exchange {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            native_calls: AtomicU64::new(0),
        })
    }

    /// Requests dispatched and not yet finished or aborted.
    pub fn in_flight() -> usize {
        IN_FLIGHT.load(Ordering::Relaxed)
    }

    /// Calls from the handler side into the exchange, for the benchmark report.
    pub fn native_calls(&self) -> u64 {
        self.native_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn next_id() -> u64 {
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    }

    fn shard(&self, id: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Slot>> {
        self.shards[(id as usize) % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn register(
        &self,
        id: u64,
        respond: ResponseSender,
        pump: Option<Arc<BodyPump>>,
        queue: Arc<EventQueue>,
        raw_headers: Option<Bytes>,
    ) {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let slot = Slot { state: SlotState::AwaitingHead(respond), pump, queue, raw_headers };
        self.shard(id).insert(id, slot);
    }

    /// The request's header lines as sent (names in their case, in order), while it is in flight
    /// and when they were recorded.
    pub fn raw_headers(&self, id: u64) -> Option<Bytes> {
        self.shard(id).get(&id).and_then(|slot| slot.raw_headers.clone())
    }

    /// Removes the slot of a request whose client went away; true when it was still in flight.
    pub(crate) fn abandon(&self, id: u64) -> Option<Arc<EventQueue>> {
        let slot = self.shard(id).remove(&id)?;
        Some(slot.queue.clone())
    }

    fn take(&self, id: u64) -> Result<Slot, Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        self.shard(id).remove(&id).ok_or_else(|| Error::unknown_request(id))
    }

    /// The whole response at once: head and body. Completes the request.
    pub fn respond(&self, id: u64, head: ResponseHead, body: Bytes) -> Result<(), Error> {
        self.prepare(id, head, body, EntityTag::None).map(ReadyResponse::send)
    }

    /// Completes the request now but hands the response back instead of waking its connection:
    /// the caller sends a whole batch at once, so one wake-up of the I/O thread serves them all.
    /// `etag` adds Express's entity tag for the body, computed here rather than on the JS thread.
    pub fn prepare(&self, id: u64, head: ResponseHead, body: Bytes, etag: EntityTag) -> Result<ReadyResponse, Error> {
        let slot = self.take(id)?;
        match &slot.state {
            SlotState::AwaitingHead(_) => {}
            SlotState::Streaming { .. } => {
                return Err(Error::invalid_state("respond after the head was sent"));
            }
        }
        let SlotState::AwaitingHead(sender) = take_state(slot) else {
            unreachable!("checked above")
        };
        let mut head = head;
        fix_content_length(&mut head.headers, &body);
        if let Some(tag) = etag.of(&body) {
            head.headers.insert(http::header::ETAG, tag);
            head.case.note("ETag");
        }
        let body = if body.is_empty() && announces_nonzero_length(&head.headers) {
            ResponseBody::none()
        } else {
            ResponseBody::full(body)
        };
        Ok(ReadyResponse { sender, response: build(head, body) })
    }

    /// Sends the head now and streams the body through `write` and `end`.
    pub fn write_head(&self, id: u64, head: ResponseHead) -> Result<(), Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shard(id);
        let slot = shard.get_mut(&id).ok_or_else(|| Error::unknown_request(id))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = StreamShared::new(id, slot.queue.clone());
        let previous = std::mem::replace(
            &mut slot.state,
            SlotState::Streaming { chunks: tx, shared: shared.clone() },
        );
        match previous {
            SlotState::AwaitingHead(sender) => {
                let _ = sender.send(build(head, ResponseBody::stream(rx, shared)));
                Ok(())
            }
            streaming @ SlotState::Streaming { .. } => {
                slot.state = streaming;
                Err(Error::invalid_state("the head was already sent"))
            }
        }
    }

    /// Queues a chunk of a streaming response. `Ok(false)` asks the writer to wait for `Drain`.
    pub fn write(&self, id: u64, chunk: Bytes) -> Result<bool, Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        let shard = self.shard(id);
        let slot = shard.get(&id).ok_or_else(|| Error::unknown_request(id))?;
        match &slot.state {
            SlotState::Streaming { chunks, shared } => {
                let below = shared.add_buffered(chunk.len());
                if chunks.send(Ok(chunk)).is_err() {
                    return Err(Error::unknown_request(id));
                }
                Ok(below)
            }
            SlotState::AwaitingHead(_) => Err(Error::invalid_state("write before the head")),
        }
    }

    /// Ends a streaming response, with an optional last chunk. Completes the request.
    pub fn end(&self, id: u64, last: Option<Bytes>) -> Result<(), Error> {
        let slot = self.take(id)?;
        match take_state(slot) {
            SlotState::Streaming { chunks, shared } => {
                if let Some(chunk) = last.filter(|c| !c.is_empty()) {
                    shared.add_buffered(chunk.len());
                    let _ = chunks.send(Ok(chunk));
                }
                // Dropping the sender ends the body.
                Ok(())
            }
            SlotState::AwaitingHead(_) => Err(Error::invalid_state("end before the head")),
        }
    }

    /// Lets the pump read the next part of a streaming request body.
    pub fn read_body(&self, id: u64) -> Result<(), Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        let shard = self.shard(id);
        let slot = shard.get(&id).ok_or_else(|| Error::unknown_request(id))?;
        if let Some(pump) = &slot.pump {
            pump.wanted.notify_one();
        }
        Ok(())
    }

    /// Drops the connection under the request without a (complete) response, as
    /// `socket.destroy()` does in Node.
    pub fn destroy(&self, id: u64) -> Result<(), Error> {
        let slot = self.take(id)?;
        if let SlotState::Streaming { chunks, .. } = take_state(slot) {
            let _ = chunks.send(Err(()));
        }
        // An unanswered head sender dropped here makes the service fail, which closes the connection.
        Ok(())
    }
}

/// A Content-Length that disagrees with the body it announces would desynchronise the
/// connection (the client would read the next response from the middle of this one), so the
/// real length wins. An empty body keeps the header: a HEAD answer announces the GET length.
fn fix_content_length(headers: &mut HeaderMap, body: &Bytes) {
    if body.is_empty() {
        return;
    }
    if let Some(value) = headers.get(http::header::CONTENT_LENGTH) {
        if value.to_str().ok().and_then(|v| v.trim().parse::<usize>().ok()) != Some(body.len()) {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
    }
}

fn announces_nonzero_length(headers: &HeaderMap) -> bool {
    headers.get(http::header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
}

fn take_state(mut slot: Slot) -> SlotState {
    // Slot implements Drop, so its state is moved out through a placeholder.
    let (placeholder, _) = oneshot::channel();
    std::mem::replace(&mut slot.state, SlotState::AwaitingHead(placeholder))
}

fn build(head: ResponseHead, body: ResponseBody) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    if let Some(extensions) = head.case.extensions() {
        *response.extensions_mut() = extensions;
    }
    if let Some(reason) = head.reason {
        response.extensions_mut().insert(reason);
    }
    response
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_keeps_order_and_repeats() {
        let head = ResponseHead::from_block(201, "content-type:text/plain\nset-cookie:a=1\nset-cookie:b=2\n")
            .expect("valid block");
        assert_eq!(head.status, StatusCode::CREATED);
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn header_value_may_hold_a_colon_and_latin1() {
        let head = ResponseHead::from_block(200, "location:http://x/\u{e9}").expect("valid");
        assert_eq!(head.headers["location"].as_bytes(), b"http://x/\xe9");
    }

    #[test]
    fn header_block_refuses_what_http_cannot_carry() {
        assert!(ResponseHead::from_block(200, "bad name:x").unwrap_err().is_invalid_header());
        assert!(ResponseHead::from_block(200, "x:\u{263a}").unwrap_err().is_invalid_header());
        assert!(ResponseHead::from_block(200, "x:a\rb").unwrap_err().is_invalid_header());
        assert!(ResponseHead::from_block(99, "").unwrap_err().is_invalid_status());
        assert!(ResponseHead::from_block(1000, "").unwrap_err().is_invalid_status());
    }

    #[test]
    fn a_wrong_content_length_is_replaced_by_the_body_length() {
        let mut head = ResponseHead::from_block(200, "content-length:3\n").expect("valid");
        fix_content_length(&mut head.headers, &Bytes::from_static(b"hello"));
        assert_eq!(head.headers["content-length"], "5");
        let mut head = ResponseHead::from_block(200, "content-length:17\n").expect("valid");
        fix_content_length(&mut head.headers, &Bytes::new());
        assert_eq!(head.headers["content-length"], "17", "HEAD answers keep the announced length");
    }

    #[test]
    fn answering_an_unknown_request_is_reported_not_fatal() {
        let err = Exchange::global()
            .respond(u64::MAX, ResponseHead::from_block(200, "").expect("valid"), Bytes::new())
            .unwrap_err();
        assert!(err.is_unknown_request());
    }
}
