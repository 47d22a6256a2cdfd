//! Answering on a handed-over connection (`socket.write` / `end` / `pause` / `resume` after an
//! `'upgrade'` or `'connect'`): the first bytes are the response head; a 101 (or a 2xx to
//! CONNECT) turns the connection into a tunnel, any other status is an ordinary response whose
//! body is the rest.

use bytes::Bytes;
use http::StatusCode;
use tokio::sync::{mpsc, oneshot};

use super::{Exchange, SlotState};
use crate::body::{ResponseBody, StreamShared};
use crate::handover::{self, TunnelMessage, TunnelShared};
use crate::head::RawHead;
use crate::Error;

impl Exchange {
    /// Raw bytes from the handler, as Node's `socket.write`. `Ok(false)` asks the handler to
    /// wait for the drain event: the client is not taking them as fast.
    pub fn tunnel_write(&self, id: u64, bytes: Bytes) -> Result<bool, Error> {
        self.native_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut shard = self.shard(id);
        let slot = shard
            .get_mut(&id)
            .ok_or_else(|| Error::unknown_request(id))?;
        match &slot.state {
            SlotState::Tunnel { to_client, shared } => {
                let below = shared.add_buffered(bytes.len());
                let _ = to_client.send(TunnelMessage::Data(bytes));
                return Ok(below);
            }
            SlotState::Streaming { .. } => {
                drop(shard);
                return self.write(id, bytes);
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
            return Ok(true);
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
            let (to_client, from_handler) = mpsc::unbounded_channel();
            let shared = TunnelShared::new(id, queue);
            shared.set_flowing(!hand_over.paused);
            let below = rest.is_empty() || shared.add_buffered(rest.len());
            if !rest.is_empty() {
                let _ = to_client.send(TunnelMessage::Data(rest));
            }
            slot.state = SlotState::Tunnel {
                to_client,
                shared: shared.clone(),
            };
            // A tunnel is a connection the thread holds, no longer a request it works on.
            slot.uncount();
            drop(shard);
            let _ = sender.send(raw.head.into_response(ResponseBody::none()));
            crate::runtime::runtime().spawn(handover::run(hand_over, from_handler, shared, |id| {
                Exchange::global().abandon(id);
            }));
            return Ok(below);
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
            let _ = sender.send(raw.head.into_response(ResponseBody::full(rest)));
            return Ok(true);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = StreamShared::new(id, queue, Exchange::report_lost);
        slot.state = SlotState::Streaming {
            chunks: tx.clone(),
            shared: shared.clone(),
        };
        drop(shard);
        let _ = sender.send(
            raw.head
                .into_response(ResponseBody::stream(rx, shared.clone())),
        );
        let mut below = true;
        if !rest.is_empty() {
            below = shared.add_buffered(rest.len());
            let _ = tx.send(Ok(rest));
        }
        Ok(below)
    }

    /// The handler ended its side of a handed-over connection (`socket.end()`).
    pub fn tunnel_end(&self, id: u64) -> Result<(), Error> {
        let shard = self.shard(id);
        let slot = shard.get(&id).ok_or_else(|| Error::unknown_request(id))?;
        match &slot.state {
            SlotState::Tunnel { to_client, .. } => {
                let _ = to_client.send(TunnelMessage::End);
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

    /// The handler pauses (false) or resumes (true) reading from the client (`socket.pause()`,
    /// `resume()`, or its stream buffer filling and emptying).
    pub fn tunnel_flow(&self, id: u64, flowing: bool) -> Result<(), Error> {
        let mut shard = self.shard(id);
        let slot = shard
            .get_mut(&id)
            .ok_or_else(|| Error::unknown_request(id))?;
        match (&slot.state, slot.tunnel.as_mut()) {
            (SlotState::Tunnel { shared, .. }, _) => shared.set_flowing(flowing),
            // Before the 101: the tunnel starts paused or not.
            (SlotState::AwaitingHead(_), Some((hand_over, _))) => hand_over.paused = !flowing,
            _ => {}
        }
        Ok(())
    }
}
