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
use hyper::upgrade::OnUpgrade;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::body::{ResponseBody, StreamShared};
use crate::bridge::{Event, EventQueue};
use crate::header_case::CaseKey;
use crate::native::EntityTag;
use crate::prelude::{DeferredCase, HeadersInJs, Settlement, Utf8Head};
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
    /// Node's `res.sendDate`: false leaves the Date header out.
    pub(crate) send_date: bool,
    /// The headers hold the native prelude's too (JS took them into its own), so none are added.
    pub(crate) prelude_in_js: bool,
    /// Written in UTF-8 (see `with_utf8_head`).
    pub(crate) utf8: bool,
}

/// On a response whose handler turned `sendDate` off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoDate;

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
            let value = if name == http::header::TRANSFER_ENCODING {
                chunked_last(value)
            } else {
                std::borrow::Cow::Borrowed(value)
            };
            let value = latin1_header_value(&value)
                .ok_or_else(|| Error::invalid_header(format!("value of {name}")))?;
            headers.append(name, value);
        }
        Ok(ResponseHead {
            status,
            headers,
            reason: None,
            case,
            send_date: true,
            prelude_in_js: false,
            utf8: false,
        })
    }

    /// Leaves the Date header out (Node's `res.sendDate = false`).
    pub fn without_date(mut self) -> Self {
        self.send_date = false;
        self
    }

    /// Says the headers already hold what the native prelude set for the request (JS read or
    /// changed one of them and took them all).
    pub fn with_prelude_headers(mut self) -> Self {
        self.prelude_in_js = true;
        self
    }

    /// The head goes out as UTF-8, as Node writes it when the first body data is a string in
    /// UTF-8 (`end('text')`): Node then writes head and body as one string in that encoding, so
    /// a value (or status message) with characters past U+007F takes their UTF-8 bytes.
    pub fn with_utf8_head(mut self) -> Self {
        self.utf8 = true;
        utf8_values(&mut self.headers);
        if let Some(reason) = &self.reason {
            if let Some(utf8) = latin1_as_utf8(reason.as_bytes()) {
                if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(utf8) {
                    self.reason = Some(reason);
                }
            }
        }
        self
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

/// Header values with bytes past 0x7F (a JS string's Latin-1 characters) re-encoded as UTF-8.
pub(crate) fn utf8_values(headers: &mut HeaderMap) {
    for value in headers.values_mut() {
        if let Some(utf8) = latin1_as_utf8(value.as_bytes()) {
            if let Ok(converted) = HeaderValue::from_bytes(&utf8) {
                *value = converted;
            }
        }
    }
}

/// The UTF-8 bytes of Latin-1 text, or `None` when it is ASCII (nothing changes).
fn latin1_as_utf8(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.is_ascii() {
        return None;
    }
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    Some(text.into_bytes())
}

/// An app's Transfer-Encoding without `chunked` last (`gzip`): Node sends the body unframed and
/// closes, which hyper cannot do; it appends `chunked` itself, and then also to the next header
/// line. Framing the body as `gzip, chunked` here keeps every header line intact.
fn chunked_last(value: &str) -> std::borrow::Cow<'_, str> {
    let last = value.rsplit(',').next().unwrap_or("").trim();
    if last.eq_ignore_ascii_case("chunked") {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(format!("{value}, chunked"))
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
    /// Closed because the response is complete: the rest of the body is read and dropped, as
    /// Node does, so the connection stays usable (hyper closes it when a body is left unread).
    pub(crate) drain: AtomicBool,
}

impl BodyPump {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(BodyPump {
            wanted: Notify::new(),
            closed: AtomicBool::new(false),
            drain: AtomicBool::new(false),
        })
    }
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wanted.notify_one();
    }
    fn finish(&self) {
        self.drain.store(true, Ordering::Release);
        self.close();
    }
}

enum SlotState {
    AwaitingHead(ResponseSender),
    Streaming {
        chunks: mpsc::UnboundedSender<Result<Bytes, ()>>,
        shared: Arc<StreamShared>,
    },
    /// A handed-over connection after its 101 (or 2xx to CONNECT): raw bytes both ways.
    Tunnel(mpsc::UnboundedSender<TunnelMessage>),
}

enum TunnelMessage {
    Data(Bytes),
    End,
}

pub(crate) struct Slot {
    state: SlotState,
    pump: Option<Arc<BodyPump>>,
    /// `name\nvalue\n` lines as sent, for `req.rawHeaders`.
    raw_headers: Option<Bytes>,
    /// For a handed-over connection: the upgrade hyper completes once the head is written, and
    /// the raw head the handler is writing.
    tunnel: Option<(HandOver, Vec<u8>)>,
    pub(crate) queue: Arc<EventQueue>,
    /// The native prelude ran for the request: its rate-limit hits to settle, and the response's
    /// head is completed with its headers on the way out (see prelude.rs).
    prelude: Option<Settlement>,
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
        self.shards[(id as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    // Everything a request's slot holds, from the one place that dispatches requests.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn register(
        &self,
        id: u64,
        respond: ResponseSender,
        pump: Option<Arc<BodyPump>>,
        queue: Arc<EventQueue>,
        raw_headers: Option<Bytes>,
        tunnel: Option<HandOver>,
        prelude: Option<Settlement>,
    ) {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let tunnel = tunnel.map(|upgrade| (upgrade, Vec::new()));
        let slot = Slot {
            state: SlotState::AwaitingHead(respond),
            pump,
            queue,
            raw_headers,
            tunnel,
            prelude,
        };
        self.shard(id).insert(id, slot);
    }

    /// The request's header lines as sent (names in their case, in order), while it is in flight
    /// and when they were recorded.
    pub fn raw_headers(&self, id: u64) -> Option<Bytes> {
        self.shard(id)
            .get(&id)
            .and_then(|slot| slot.raw_headers.clone())
    }

    /// Removes the slot of a request whose client went away; true when it was still in flight.
    pub(crate) fn abandon(&self, id: u64) -> Option<Arc<EventQueue>> {
        let slot = self.shard(id).remove(&id)?;
        Some(slot.queue.clone())
    }

    fn take(&self, id: u64) -> Result<Slot, Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        self.shard(id)
            .remove(&id)
            .ok_or_else(|| Error::unknown_request(id))
    }

    /// The whole response at once: head and body. Completes the request.
    pub fn respond(&self, id: u64, head: ResponseHead, body: Bytes) -> Result<(), Error> {
        self.prepare(id, head, body, EntityTag::None)
            .map(ReadyResponse::send)
    }

    /// Completes the request now but hands the response back instead of waking its connection:
    /// the caller sends a whole batch at once, so one wake-up of the I/O thread serves them all.
    /// `etag` adds Express's entity tag for the body, computed here rather than on the JS thread.
    pub fn prepare(
        &self,
        id: u64,
        head: ResponseHead,
        body: Bytes,
        etag: EntityTag,
    ) -> Result<ReadyResponse, Error> {
        let mut slot = self.take(id)?;
        match &slot.state {
            SlotState::AwaitingHead(_) => {}
            SlotState::Streaming { .. } | SlotState::Tunnel(_) => {
                return Err(Error::invalid_state("respond after the head was sent"));
            }
        }
        if let Some(pump) = &slot.pump {
            pump.finish();
        }
        let prelude = slot.prelude.take().map(|mut settlement| {
            settlement.finish(head.status.as_u16());
        });
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
        Ok(ReadyResponse {
            sender,
            response: build(head, body, prelude.is_some()),
        })
    }

    /// Sends the head now and streams the body through `write` and `end`.
    pub fn write_head(&self, id: u64, head: ResponseHead) -> Result<(), Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shard(id);
        let slot = shard
            .get_mut(&id)
            .ok_or_else(|| Error::unknown_request(id))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = StreamShared::new(id, slot.queue.clone());
        let prelude = match slot.prelude.as_mut() {
            Some(settlement) => {
                settlement.head_sent(head.status.as_u16());
                true
            }
            None => false,
        };
        let previous = std::mem::replace(
            &mut slot.state,
            SlotState::Streaming {
                chunks: tx,
                shared: shared.clone(),
            },
        );
        match previous {
            SlotState::AwaitingHead(sender) => {
                let _ = sender.send(build(head, ResponseBody::stream(rx, shared), prelude));
                Ok(())
            }
            sent => {
                slot.state = sent;
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
            SlotState::AwaitingHead(_) | SlotState::Tunnel(_) => {
                Err(Error::invalid_state("write before the head"))
            }
        }
    }

    /// Ends a streaming response, with an optional last chunk. Completes the request.
    pub fn end(&self, id: u64, last: Option<Bytes>) -> Result<(), Error> {
        let mut slot = self.take(id)?;
        if let Some(pump) = &slot.pump {
            pump.finish();
        }
        if let Some(mut settlement) = slot.prelude.take() {
            settlement.finish_streamed();
        }
        match take_state(slot) {
            SlotState::Streaming { chunks, shared } => {
                if let Some(chunk) = last.filter(|c| !c.is_empty()) {
                    shared.add_buffered(chunk.len());
                    let _ = chunks.send(Ok(chunk));
                }
                // Dropping the sender ends the body.
                Ok(())
            }
            SlotState::AwaitingHead(_) | SlotState::Tunnel(_) => {
                Err(Error::invalid_state("end before the head"))
            }
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
        // An unanswered head sender dropped here makes the service fail, which closes the
        // connection; a dropped tunnel sender makes the tunnel close it.
        Ok(())
    }

    /// Raw bytes from the handler on a handed-over connection, as Node's `socket.write`. Until a
    /// whole response head has come, bytes gather; a 101 (or a 2xx to CONNECT) then turns the
    /// connection into a tunnel, any other status is an ordinary response whose body is the rest.
    pub fn tunnel_write(&self, id: u64, bytes: Bytes) -> Result<(), Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shard(id);
        let slot = shard
            .get_mut(&id)
            .ok_or_else(|| Error::unknown_request(id))?;
        match &slot.state {
            SlotState::Tunnel(tx) => {
                let _ = tx.send(TunnelMessage::Data(bytes));
                return Ok(());
            }
            SlotState::Streaming { .. } => {
                drop(shard);
                return self.write(id, bytes).map(|_| ());
            }
            SlotState::AwaitingHead(_) => {}
        }
        let Some((_, gathered)) = slot.tunnel.as_mut() else {
            return Err(Error::invalid_state(
                "raw bytes on a connection that is not handed over",
            ));
        };
        gathered.extend_from_slice(&bytes);
        let Some(raw) = RawHead::parse(gathered)? else {
            return Ok(());
        };
        let rest = Bytes::copy_from_slice(&gathered[raw.length..]);
        let (hand_over, _) = slot.tunnel.take().expect("checked above");
        let switches = raw.head.status == StatusCode::SWITCHING_PROTOCOLS
            || (hand_over.connect && raw.head.status.is_success());
        let queue = slot.queue.clone();
        let SlotState::AwaitingHead(sender) = std::mem::replace(
            &mut slot.state,
            SlotState::AwaitingHead(oneshot::channel().0),
        ) else {
            unreachable!("checked above")
        };
        if switches {
            let (tx, rx) = mpsc::unbounded_channel();
            if !rest.is_empty() {
                let _ = tx.send(TunnelMessage::Data(rest));
            }
            slot.state = SlotState::Tunnel(tx);
            drop(shard);
            let _ = sender.send(build(raw.head, ResponseBody::none(), false));
            crate::runtime::runtime().spawn(tunnel(
                id,
                hand_over.upgrade,
                hand_over.already_delivered,
                rx,
                queue,
            ));
            return Ok(());
        }
        // A refusal: the rest is its body, complete when it holds the announced length.
        let announced = raw
            .head
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if announced.is_some_and(|length| rest.len() >= length) {
            shard.remove(&id);
            drop(shard);
            let _ = sender.send(build(raw.head, ResponseBody::full(rest), false));
            return Ok(());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = StreamShared::new(id, queue);
        slot.state = SlotState::Streaming {
            chunks: tx.clone(),
            shared: shared.clone(),
        };
        drop(shard);
        let _ = sender.send(build(
            raw.head,
            ResponseBody::stream(rx, shared.clone()),
            false,
        ));
        if !rest.is_empty() {
            shared.add_buffered(rest.len());
            let _ = tx.send(Ok(rest));
        }
        Ok(())
    }

    /// The handler ended its side of a handed-over connection (`socket.end()`).
    pub fn tunnel_end(&self, id: u64) -> Result<(), Error> {
        let shard = self.shard(id);
        let slot = shard.get(&id).ok_or_else(|| Error::unknown_request(id))?;
        match &slot.state {
            SlotState::Tunnel(tx) => {
                let _ = tx.send(TunnelMessage::End);
                Ok(())
            }
            SlotState::Streaming { .. } => {
                drop(shard);
                self.end(id, None)
            }
            // Ended before any head: the connection closes.
            SlotState::AwaitingHead(_) => {
                drop(shard);
                self.destroy(id)
            }
        }
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
        if value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            != Some(body.len())
        {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
    }
}

/// A response head written raw by a handler.
struct RawHead {
    head: ResponseHead,
    /// Its length in bytes, up to and including the blank line.
    length: usize,
}

/// A connection the handlers may take over: hyper completes `upgrade` once a 101 (or, for
/// CONNECT, a 2xx) has been written.
pub(crate) struct HandOver {
    pub(crate) upgrade: OnUpgrade,
    pub(crate) connect: bool,
    /// Bytes after the head already given to the handlers with the request; hyper replays them
    /// at the start of the upgraded connection, so the tunnel skips them.
    pub(crate) already_delivered: usize,
}

impl RawHead {
    /// `Ok(None)` while the head is incomplete.
    fn parse(bytes: &[u8]) -> Result<Option<RawHead>, Error> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(Error::invalid_header(format!("raw response head: {e}"))),
        };
        let status = u32::from(response.code.unwrap_or(0));
        let mut block = String::new();
        for header in response.headers.iter() {
            block.push_str(header.name);
            block.push(':');
            block.extend(header.value.iter().map(|&b| char::from(b)));
            block.push('\n');
        }
        let mut head = ResponseHead::from_block(status, &block)?;
        let reason = response.reason.unwrap_or("");
        if head.status.canonical_reason() != Some(reason) {
            head = head.with_reason(reason)?;
        }
        Ok(Some(RawHead { head, length }))
    }
}

/// Carries bytes both ways on a handed-over connection until both sides have ended, then
/// reports it closed.
async fn tunnel(
    id: u64,
    upgrade: OnUpgrade,
    mut skip: usize,
    mut from_handler: mpsc::UnboundedReceiver<TunnelMessage>,
    queue: Arc<EventQueue>,
) {
    use bytes::Buf;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if let Ok(upgraded) = upgrade.await {
        let (mut reader, mut writer) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
        let mut buffer = bytes::BytesMut::with_capacity(16 * 1024);
        let (mut reading, mut writing) = (true, true);
        while reading || writing {
            tokio::select! {
                read = reader.read_buf(&mut buffer), if reading => match read {
                    Ok(n) if n > 0 => {
                        let skipped = skip.min(buffer.len());
                        buffer.advance(skipped);
                        skip -= skipped;
                        if !buffer.is_empty() {
                            queue.push(Event::Body { id, chunk: buffer.split().freeze() });
                        }
                    }
                    _ => {
                        reading = false;
                        queue.push(Event::BodyEnd { id });
                    }
                },
                message = from_handler.recv(), if writing => match message {
                    Some(TunnelMessage::Data(bytes)) => {
                        if writer.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Some(TunnelMessage::End) => {
                        let _ = writer.shutdown().await;
                        writing = false;
                    }
                    // Destroyed by the handler.
                    None => break,
                },
            }
        }
    }
    Exchange::global().abandon(id);
    queue.push(Event::Aborted { id });
}

fn announces_nonzero_length(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
}

fn take_state(mut slot: Slot) -> SlotState {
    // Slot implements Drop, so its state is moved out through a placeholder.
    let (placeholder, _) = oneshot::channel();
    std::mem::replace(&mut slot.state, SlotState::AwaitingHead(placeholder))
}

/// The response for a head and a body. `prelude`: the native prelude's headers still have to
/// be put in front (on the I/O thread, see prelude.rs), so the case map is made there.
pub(crate) fn build(
    head: ResponseHead,
    body: ResponseBody,
    prelude: bool,
) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    if prelude {
        if head.prelude_in_js {
            response.extensions_mut().insert(HeadersInJs);
        }
        if head.utf8 {
            response.extensions_mut().insert(Utf8Head);
        }
        response.extensions_mut().insert(DeferredCase(head.case));
    } else if let Some(extensions) = head.case.extensions() {
        *response.extensions_mut() = extensions;
    }
    if let Some(reason) = head
        .reason
        .or_else(|| node_phrase_where_hyper_differs(head.status))
    {
        response.extensions_mut().insert(reason);
    }
    if !head.send_date {
        response.extensions_mut().insert(NoDate);
    }
    response
}

/// Node's reason phrase for the few codes whose canonical phrase in hyper differs from it, and
/// Node's `unknown` for codes neither knows (hyper would write `<none>`); the handler sends any
/// other phrase itself when it is not the canonical one.
fn node_phrase_where_hyper_differs(status: StatusCode) -> Option<hyper::ext::ReasonPhrase> {
    let phrase: &'static [u8] = match status.as_u16() {
        203 => b"Non-Authoritative Information",
        418 => b"I'm a Teapot",
        509 => b"Bandwidth Limit Exceeded",
        _ if status.canonical_reason().is_none() => b"unknown",
        _ => return None,
    };
    Some(hyper::ext::ReasonPhrase::from_static(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_keeps_order_and_repeats() {
        let head = ResponseHead::from_block(
            201,
            "content-type:text/plain\nset-cookie:a=1\nset-cookie:b=2\n",
        )
        .expect("valid block");
        assert_eq!(head.status, StatusCode::CREATED);
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn a_transfer_encoding_without_chunked_last_gets_it() {
        let head = ResponseHead::from_block(200, "transfer-encoding:gzip\n").expect("valid");
        assert_eq!(head.headers["transfer-encoding"], "gzip, chunked");
        let head =
            ResponseHead::from_block(200, "transfer-encoding:gzip, Chunked\n").expect("valid");
        assert_eq!(head.headers["transfer-encoding"], "gzip, Chunked");
    }

    #[test]
    fn header_value_may_hold_a_colon_and_latin1() {
        let head = ResponseHead::from_block(200, "location:http://x/\u{e9}").expect("valid");
        assert_eq!(head.headers["location"].as_bytes(), b"http://x/\xe9");
    }

    #[test]
    fn header_block_refuses_what_http_cannot_carry() {
        assert!(ResponseHead::from_block(200, "bad name:x")
            .unwrap_err()
            .is_invalid_header());
        assert!(ResponseHead::from_block(200, "x:\u{263a}")
            .unwrap_err()
            .is_invalid_header());
        assert!(ResponseHead::from_block(200, "x:a\rb")
            .unwrap_err()
            .is_invalid_header());
        assert!(ResponseHead::from_block(99, "")
            .unwrap_err()
            .is_invalid_status());
        assert!(ResponseHead::from_block(1000, "")
            .unwrap_err()
            .is_invalid_status());
    }

    #[test]
    fn a_wrong_content_length_is_replaced_by_the_body_length() {
        let mut head = ResponseHead::from_block(200, "content-length:3\n").expect("valid");
        fix_content_length(&mut head.headers, &Bytes::from_static(b"hello"));
        assert_eq!(head.headers["content-length"], "5");
        let mut head = ResponseHead::from_block(200, "content-length:17\n").expect("valid");
        fix_content_length(&mut head.headers, &Bytes::new());
        assert_eq!(
            head.headers["content-length"], "17",
            "HEAD answers keep the announced length"
        );
    }

    #[test]
    fn answering_an_unknown_request_is_reported_not_fatal() {
        let err = Exchange::global()
            .respond(
                u64::MAX,
                ResponseHead::from_block(200, "").expect("valid"),
                Bytes::new(),
            )
            .unwrap_err();
        assert!(err.is_unknown_request());
    }
}
