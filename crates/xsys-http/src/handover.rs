//! Connections handed over to the handlers (CONNECT, or an Upgrade an `'upgrade'` listener
//! takes): once their 101 (or 2xx to CONNECT) is written, the tunnel carries raw bytes both ways,
//! with backpressure both ways as a Node socket has it:
//!
//! - handler to client: the bytes not yet taken by the socket are counted; above the high-water
//!   mark the handler is told to wait (`write()` returns false) until a drain event;
//! - client to handler: the handler may pause reading (`socket.pause()`, or its stream buffer
//!   being full); the tunnel then stops reading the socket, so a flooding client is slowed by TCP.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

use crate::body::high_water_mark;
use crate::bridge::{Event, EventQueue};

/// Most bytes read from the client per body event.
const READ_CHUNK: usize = 64 * 1024;

/// A connection the handlers may take over: hyper completes `upgrade` once a 101 (or, for
/// CONNECT, a 2xx) has been written.
pub(crate) struct HandOver {
    pub(crate) upgrade: OnUpgrade,
    pub(crate) connect: bool,
    /// Bytes after the head already given to the handlers with the request (Node's `head`);
    /// they come again first on the upgraded connection, so the tunnel skips them.
    pub(crate) already_delivered: usize,
    /// The handler paused the socket before the tunnel began.
    pub(crate) paused: bool,
}

pub(crate) enum TunnelMessage {
    Data(Bytes),
    End,
}

/// What the handler's side and the tunnel share.
pub(crate) struct TunnelShared {
    id: u64,
    queue: Arc<EventQueue>,
    /// Bytes the handler wrote that the socket has not taken yet.
    buffered: AtomicUsize,
    wants_drain: AtomicBool,
    paused: AtomicBool,
    resume: Notify,
}

impl TunnelShared {
    pub(crate) fn new(id: u64, queue: Arc<EventQueue>) -> Arc<Self> {
        Arc::new(TunnelShared {
            id,
            queue,
            buffered: AtomicUsize::new(0),
            wants_drain: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            resume: Notify::new(),
        })
    }

    /// Counts bytes the handler wrote; false once they are over the high-water mark (the handler
    /// waits for the drain event).
    pub(crate) fn add_buffered(&self, len: usize) -> bool {
        let total = self.buffered.fetch_add(len, Ordering::AcqRel) + len;
        if total >= high_water_mark() {
            self.wants_drain.store(true, Ordering::Release);
            false
        } else {
            true
        }
    }

    fn sub_buffered(&self, len: usize) {
        let left = self.buffered.fetch_sub(len, Ordering::AcqRel) - len;
        if left < high_water_mark() && self.wants_drain.swap(false, Ordering::AcqRel) {
            self.queue.push(Event::Drain { id: self.id });
        }
    }

    /// Reading from the client stops (false) or goes on (true).
    pub(crate) fn set_flowing(&self, flowing: bool) {
        self.paused.store(!flowing, Ordering::Release);
        if flowing {
            self.resume.notify_one();
        }
    }

    async fn flowing(&self) {
        while self.paused.load(Ordering::Acquire) {
            self.resume.notified().await;
        }
    }
}

/// Carries bytes both ways on a handed-over connection until both sides have ended (or the
/// handler destroyed it, or the socket failed), then reports it closed. `forget` drops the
/// request's slot.
pub(crate) async fn run(
    hand_over: HandOver,
    mut from_handler: mpsc::UnboundedReceiver<TunnelMessage>,
    shared: Arc<TunnelShared>,
    forget: fn(u64),
) {
    let id = shared.id;
    if let Ok(upgraded) = hand_over.upgrade.await {
        let (mut reader, mut writer) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
        let mut skip = hand_over.already_delivered;
        let shared = &shared;
        let read_side = async move {
            loop {
                shared.flowing().await;
                let mut buffer = BytesMut::with_capacity(READ_CHUNK);
                match reader.read_buf(&mut buffer).await {
                    Ok(n) if n > 0 => {
                        let skipped = skip.min(buffer.len());
                        buffer.advance(skipped);
                        skip -= skipped;
                        if !buffer.is_empty() {
                            shared.queue.push(Event::Body {
                                id,
                                chunk: buffer.freeze(),
                            });
                        }
                    }
                    _ => {
                        shared.queue.push(Event::BodyEnd { id });
                        return;
                    }
                }
            }
        };
        // True when the handler ended its side; false when it destroyed the tunnel or the
        // socket failed.
        let write_side = async move {
            while let Some(message) = from_handler.recv().await {
                match message {
                    TunnelMessage::Data(bytes) => {
                        if writer.write_all(&bytes).await.is_err() {
                            return false;
                        }
                        shared.sub_buffered(bytes.len());
                    }
                    TunnelMessage::End => {
                        let _ = writer.shutdown().await;
                        return true;
                    }
                }
            }
            false
        };
        tokio::pin!(read_side, write_side);
        let (mut reading, mut writing) = (true, true);
        while reading || writing {
            tokio::select! {
                () = &mut read_side, if reading => reading = false,
                ended = &mut write_side, if writing => {
                    writing = false;
                    if !ended {
                        break;
                    }
                }
            }
        }
    }
    forget(id);
    shared.queue.push(Event::Aborted { id });
}
