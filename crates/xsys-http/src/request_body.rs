//! Request bodies: read whole before dispatch when small and already there, else pumped to the
//! handlers as they ask for it, so a slow reader slows the client (TCP backpressure) instead of
//! filling memory.
//!
//! A body that came whole is the handlers' even when the client leaves right after sending it:
//! the pump hands over what it holds, then the end, and only then reports the connection gone.
//! A body cut short is reported as an abort.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use tokio::sync::Notify;

use crate::bridge::{Event, EventQueue};

/// How long a small announced body may take to follow its head before the request is handed to
/// the handlers without it (it then streams). Bodies sent with their head arrive well within it.
pub(crate) const INLINE_BODY_GRACE: Duration = Duration::from_millis(10);

/// Time allowed to receive a whole request body (Node's `server.requestTimeout` default).
const BODY_DEADLINE: Duration = Duration::from_secs(300);

/// Most bytes handed to the handlers per read request.
const PUMP_CHUNK: usize = 64 * 1024;

/// After the response, at most this much of an unread request body is read and dropped before
/// the connection is closed instead.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// Told the id of a request whose body was cut short (the client left mid-body, or the body took
/// longer than allowed).
pub(crate) type CutShort = fn(u64);

/// Where the pump stands, as its controllers see it.
enum Phase {
    Running,
    /// The handlers are done with the request: stop, after reading and dropping the rest of the
    /// body when `drain` (so hyper can keep the connection).
    Closed {
        drain: bool,
    },
    /// The connection went away: hand over what came, then report it to `queue`.
    Gone(Arc<EventQueue>),
    Exited,
}

/// Credits for reading a streaming request body: the handler asks, the pump reads.
pub(crate) struct BodyPump {
    wanted: Notify,
    phase: Mutex<Phase>,
    reported: Notify,
    done: AtomicBool,
}

impl BodyPump {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(BodyPump {
            wanted: Notify::new(),
            phase: Mutex::new(Phase::Running),
            reported: Notify::new(),
            done: AtomicBool::new(false),
        })
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The handlers ask for the next part of the body.
    pub(crate) fn want(&self) {
        self.wanted.notify_one();
    }

    /// The request is over without a complete response: stop reading.
    pub(crate) fn close(&self) {
        self.stop(false);
    }

    /// The response is complete: read and drop the rest, as Node does, so the connection stays
    /// usable (hyper closes it when a body is left unread).
    pub(crate) fn finish(&self) {
        self.stop(true);
    }

    fn stop(&self, drain: bool) {
        let mut phase = self.phase();
        if let Phase::Running = *phase {
            *phase = Phase::Closed { drain };
            drop(phase);
            self.wanted.notify_one();
        }
    }

    /// The connection went away. True when the pump takes it from here (hands over what came
    /// and reports the abort); false when it has exited and the caller reports it.
    pub(crate) fn gone(&self, queue: Arc<EventQueue>) -> bool {
        let mut phase = self.phase();
        match *phase {
            Phase::Running => {
                *phase = Phase::Gone(queue);
                drop(phase);
                self.wanted.notify_one();
                true
            }
            Phase::Closed { .. } | Phase::Gone(_) | Phase::Exited => false,
        }
    }

    /// Resolves once the pump has made its last report.
    pub(crate) async fn reported(&self) {
        loop {
            let notified = self.reported.notified();
            if self.done.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// The pump stops; returns the queue to report the abort to if the connection went away.
    fn exit(&self) -> Option<Arc<EventQueue>> {
        let previous = std::mem::replace(&mut *self.phase(), Phase::Exited);
        self.done.store(true, Ordering::Release);
        self.reported.notify_waiters();
        match previous {
            Phase::Gone(queue) => Some(queue),
            _ => None,
        }
    }
}

/// A small announced body, read before dispatch.
pub(crate) enum Inline {
    Complete(Bytes),
    /// The client left mid-body: what came.
    CutShort(Bytes),
    /// Still coming after the grace period: what came so far.
    Late(BytesMut),
}

pub(crate) async fn read_inline(body: &mut Incoming, length: usize) -> Inline {
    let mut received = BytesMut::with_capacity(length);
    let read_whole = async {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    received.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..]))
                }
                Err(_) => return false,
            }
        }
        true
    };
    match tokio::time::timeout(INLINE_BODY_GRACE, read_whole).await {
        Ok(true) => Inline::Complete(received.freeze()),
        Ok(false) => Inline::CutShort(received.freeze()),
        Err(_) => Inline::Late(received),
    }
}

/// Reads and drops what is left of a body the handlers did not read, within bounds, so hyper can
/// keep the connection (it closes one whose request body was left unread).
async fn drain(mut body: Incoming) {
    let mut drained = 0u64;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(frame)) = body.frame().await {
            drained += frame.data_ref().map_or(0, |d| d.len() as u64);
            if drained > DRAIN_LIMIT {
                return;
            }
        }
    })
    .await;
}

/// Pumps a streaming request body to the handlers. `already_read` is what came before the
/// request was dispatched; a client waiting for 100 Continue is read only once asked.
pub(crate) async fn pump_body(
    id: u64,
    body: Incoming,
    control: Arc<BodyPump>,
    queue: Arc<EventQueue>,
    awaits_continue: bool,
    already_read: BytesMut,
    cut_short: CutShort,
) {
    let outcome = run(id, body, &control, &queue, awaits_continue, already_read).await;
    let gone = control.exit();
    match outcome {
        Outcome::CutShort => {
            cut_short(id);
            if let Some(queue) = gone {
                queue.push(Event::Aborted { id });
            }
        }
        Outcome::Stopped => {
            if let Some(queue) = gone {
                queue.push(Event::Aborted { id });
            }
        }
    }
}

enum Outcome {
    /// The body ended, was handed over, or the handlers are done with it.
    Stopped,
    CutShort,
}

async fn run(
    id: u64,
    mut body: Incoming,
    control: &BodyPump,
    queue: &EventQueue,
    awaits_continue: bool,
    mut pending: BytesMut,
) -> Outcome {
    // The handlers asked for the body at least once / and have not been answered yet.
    let (mut started, mut owed) = (false, false);
    let mut ended = false;
    // As Node's requestTimeout: a body still not complete after this is given up on.
    let deadline = tokio::time::sleep(BODY_DEADLINE);
    tokio::pin!(deadline);
    loop {
        let closed = match &*control.phase() {
            Phase::Running => None,
            Phase::Closed { drain } => Some(Some(*drain)),
            Phase::Gone(_) | Phase::Exited => Some(None),
        };
        match closed {
            None => {}
            Some(Some(should_drain)) => {
                if should_drain && !ended && (started || !awaits_continue) {
                    drain(body).await;
                }
                return Outcome::Stopped;
            }
            Some(None) => return hand_over_rest(id, body, pending, ended, queue).await,
        }
        // Up to a chunk is read ahead while nobody asks, so a client that goes away is noticed as
        // Node notices it on its socket. A client waiting for 100 Continue is read only when asked.
        let may_read = !ended && pending.len() < PUMP_CHUNK && (started || !awaits_continue);
        tokio::select! {
            _ = control.wanted.notified() => {
                if matches!(*control.phase(), Phase::Running) {
                    started = true;
                    owed = true;
                }
            }
            _ = &mut deadline, if !ended => return Outcome::CutShort,
            frame = body.frame(), if may_read => match frame {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        pending.extend_from_slice(&data);
                    }
                    // Whatever else is already readable goes in the same event.
                    while pending.len() < PUMP_CHUNK {
                        match poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut body).poll_frame(cx))).await {
                            Poll::Ready(Some(Ok(frame))) => {
                                if let Ok(data) = frame.into_data() {
                                    pending.extend_from_slice(&data);
                                }
                            }
                            Poll::Ready(None) => {
                                ended = true;
                                break;
                            }
                            Poll::Ready(Some(Err(_))) => return Outcome::CutShort,
                            Poll::Pending => break,
                        }
                    }
                }
                None => ended = true,
                Some(Err(_)) => return Outcome::CutShort,
            },
        }
        if owed && (!pending.is_empty() || ended) {
            owed = false;
            if !pending.is_empty() {
                queue.push(Event::Body {
                    id,
                    chunk: pending.split().freeze(),
                });
            }
            if ended {
                queue.push(Event::BodyEnd { id });
                return Outcome::Stopped;
            }
        }
    }
}

/// The client left after sending: a body that came whole is handed over with its end (hyper has
/// it all, so this does not wait on the network); one cut short is reported as such.
async fn hand_over_rest(
    id: u64,
    mut body: Incoming,
    mut pending: BytesMut,
    mut ended: bool,
    queue: &EventQueue,
) -> Outcome {
    if !ended {
        let rest = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => {
                        if let Ok(data) = frame.into_data() {
                            pending.extend_from_slice(&data);
                        }
                    }
                    Err(_) => return false,
                }
            }
            true
        })
        .await;
        ended = rest == Ok(true);
    }
    if !ended {
        return Outcome::CutShort;
    }
    if !pending.is_empty() {
        queue.push(Event::Body {
            id,
            chunk: pending.freeze(),
        });
    }
    queue.push(Event::BodyEnd { id });
    Outcome::Stopped
}
