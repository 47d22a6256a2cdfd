//! Requests in flight between the I/O threads and the handlers, addressed by id.
//!
//! A request gets a [`Slot`] when it is dispatched; the handler side answers through the
//! [`Exchange`] with that id. The slot goes away when the response is complete or the client
//! disconnects, whichever comes first; `in_flight()` counts live slots, so a leak shows.
//! Connections handed over to the handlers are answered here too (see `handed_over`).

mod handed_over;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{HeaderMap, Response};
use tokio::sync::{mpsc, oneshot};

use crate::body::{ResponseBody, StreamShared};
use crate::bridge::{Event, EventQueue};
use crate::handover::{HandOver, TunnelMessage, TunnelShared};
use crate::head::ResponseHead;
use crate::native::EntityTag;
use crate::prelude::Settlement;
use crate::request_body::BodyPump;
use crate::Error;

const SHARDS: usize = 16;

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

enum SlotState {
    AwaitingHead(ResponseSender),
    Streaming {
        chunks: mpsc::UnboundedSender<Result<Bytes, ()>>,
        shared: Arc<StreamShared>,
    },
    /// A handed-over connection after its 101 (or 2xx to CONNECT): raw bytes both ways.
    Tunnel {
        to_client: mpsc::UnboundedSender<TunnelMessage>,
        shared: Arc<TunnelShared>,
    },
}

pub(crate) struct Slot {
    state: SlotState,
    pump: Option<Arc<BodyPump>>,
    /// `name\nvalue\n` lines as sent, for `req.rawHeaders`.
    raw_headers: Option<Bytes>,
    /// For a handed-over connection: the upgrade hyper completes once the head is written, and
    /// the raw head the handler is writing.
    tunnel: Option<(HandOver, Vec<u8>)>,
    /// The queue of the JS thread that handles the request.
    queue: Arc<EventQueue>,
    /// The native prelude ran for the request: its rate-limit hits to settle, and the response's
    /// head is completed with its headers on the way out (see prelude.rs).
    prelude: Option<Settlement>,
    /// The request counts in its thread's load (until it ends, or its connection is handed over).
    counted: bool,
}

impl Slot {
    /// The request no longer counts in its thread's load.
    fn uncount(&mut self) {
        if std::mem::take(&mut self.counted) {
            self.queue.request_done();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pump) = &self.pump {
            pump.close();
        }
        self.uncount();
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A request completed by its handler whose response is still to be built (see
/// [`Exchange::complete`]). Dropped unanswered, it closes the connection (and the prelude's
/// rate-limit hits settle as aborted).
pub struct Completion {
    sender: ResponseSender,
    /// The native prelude ran for the request: settled with the response's status, and the head
    /// completed with its headers on the way out.
    prelude: Option<Settlement>,
}

impl Completion {
    /// The whole response: `head` and `body`, with Express's entity tag when `etag` asks for one.
    pub fn ready(self, head: ResponseHead, body: Bytes, etag: EntityTag) -> ReadyResponse {
        let prelude = self.prelude.map(|mut settlement| {
            settlement.finish(head.status.as_u16());
        });
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
        ReadyResponse {
            sender: self.sender,
            response: head.into_response_for(body, prelude.is_some()),
        }
    }
}

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

    /// Registers a dispatched request; `queue`'s thread has counted it in its load already
    /// (the slot gives the count back when the request ends).
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
            counted: true,
        };
        self.shard(id).insert(id, slot);
    }

    /// The JS thread behind `queue` is gone: every request it had is closed, as its connection
    /// would be if the thread had destroyed it (the client sees a closed connection, never a
    /// wait for an answer that cannot come).
    pub(crate) fn abandon_queue(&self, queue: &Arc<EventQueue>) {
        let mut orphans = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let ids: Vec<u64> = shard
                .iter()
                .filter(|(_, slot)| Arc::ptr_eq(&slot.queue, queue))
                .map(|(id, _)| *id)
                .collect();
            orphans.extend(ids.into_iter().filter_map(|id| shard.remove(&id)));
        }
        // Outside the shard locks: ending a stream wakes its connection.
        for slot in orphans {
            close_connection(slot);
        }
    }

    /// The request's header lines as sent (names in their case, in order), while it is in flight
    /// and when they were recorded.
    pub fn raw_headers(&self, id: u64) -> Option<Bytes> {
        self.shard(id)
            .get(&id)
            .and_then(|slot| slot.raw_headers.clone())
    }

    /// Removes the slot of a request that is over for the engine; its queue when it was still in
    /// flight.
    pub(crate) fn abandon(&self, id: u64) -> Option<Arc<EventQueue>> {
        let slot = self.shard(id).remove(&id)?;
        Some(slot.queue.clone())
    }

    /// The request's connection went away before its response was complete. The handlers hear of
    /// it (`Aborted`) after whatever of the body came: a pump still holding part of it hands that
    /// over first, and is returned so the caller can wait for it.
    pub(crate) fn lost(&self, id: u64) -> Option<Arc<BodyPump>> {
        let slot = self.shard(id).remove(&id)?;
        if let Some(pump) = &slot.pump {
            if pump.gone(slot.queue.clone()) {
                return Some(pump.clone());
            }
        }
        slot.queue.push(Event::Aborted { id });
        None
    }

    /// [`lost`](Self::lost), for callers that cannot wait.
    pub(crate) fn report_lost(id: u64) {
        Exchange::global().lost(id);
    }

    /// A request body cut short: the request is over.
    pub(crate) fn report_cut_short(id: u64) {
        if let Some(queue) = Exchange::global().abandon(id) {
            queue.push(Event::Aborted { id });
        }
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
        Ok(self.complete(id)?.ready(head, body, etag))
    }

    /// Completes the request now, before its response is built: the [`Completion`] builds and
    /// sends it later, on any thread, so the handler's thread pays only for this.
    pub fn complete(&self, id: u64) -> Result<Completion, Error> {
        let mut slot = self.take(id)?;
        match &slot.state {
            SlotState::AwaitingHead(_) => {}
            SlotState::Streaming { .. } | SlotState::Tunnel { .. } => {
                return Err(Error::invalid_state("respond after the head was sent"));
            }
        }
        if let Some(pump) = &slot.pump {
            pump.finish();
        }
        let prelude = slot.prelude.take();
        let SlotState::AwaitingHead(sender) = take_state(slot) else {
            unreachable!("checked above")
        };
        Ok(Completion { sender, prelude })
    }

    /// Sends the head now and streams the body through `write` and `end`.
    pub fn write_head(&self, id: u64, head: ResponseHead) -> Result<(), Error> {
        self.native_calls.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shard(id);
        let slot = shard
            .get_mut(&id)
            .ok_or_else(|| Error::unknown_request(id))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = StreamShared::new(id, slot.queue.clone(), Exchange::report_lost);
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
                let _ =
                    sender.send(head.into_response_for(ResponseBody::stream(rx, shared), prelude));
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
                // Complete on the wire (an answer without a body, its Content-Length reached):
                // the bytes have no place in it.
                if shared.is_released() {
                    return Ok(true);
                }
                let below = shared.add_buffered(chunk.len());
                if chunks.send(Ok(chunk)).is_err() {
                    // Released as this write came (the body's receiver goes after the release).
                    if shared.is_released() {
                        return Ok(true);
                    }
                    return Err(Error::unknown_request(id));
                }
                Ok(below)
            }
            SlotState::AwaitingHead(_) | SlotState::Tunnel { .. } => {
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
                shared.ended();
                if let Some(chunk) = last.filter(|c| !c.is_empty() && !shared.is_released()) {
                    shared.add_buffered(chunk.len());
                    let _ = chunks.send(Ok(chunk));
                }
                // Dropping the sender ends the body.
                Ok(())
            }
            SlotState::AwaitingHead(_) | SlotState::Tunnel { .. } => {
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
            pump.want();
        }
        Ok(())
    }

    /// Drops the connection under the request without a (complete) response, as
    /// `socket.destroy()` does in Node.
    pub fn destroy(&self, id: u64) -> Result<(), Error> {
        close_connection(self.take(id)?);
        Ok(())
    }
}

/// Drops the connection under a request that is over for the handlers.
fn close_connection(slot: Slot) {
    if let SlotState::Streaming { chunks, shared } = take_state(slot) {
        let _ = chunks.send(Err(()));
        shared.destroyed();
    }
    // An unanswered head sender dropped here makes the service fail, which closes the
    // connection; a dropped tunnel sender makes the tunnel close it.
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

#[cfg(test)]
mod tests {
    use super::*;

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
