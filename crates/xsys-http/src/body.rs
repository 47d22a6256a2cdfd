//! Response bodies: a buffered body handed over whole, a stream fed by the handler's writes, or
//! a byte range of a file read in chunks on the blocking pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::bridge::{Event, EventQueue};

/// A streaming response (or a handed-over connection) reports "behind" once this many bytes wait
/// for the socket: Node's default highWaterMark, which the binding sets to the running Node's
/// (16 KiB on Node 20, 64 KiB since).
static HIGH_WATER_MARK: AtomicUsize = AtomicUsize::new(16 * 1024);

/// Sets the high-water mark of streaming responses and tunnels, process-wide as Node's default is.
pub fn set_high_water_mark(bytes: usize) {
    HIGH_WATER_MARK.store(bytes.max(1), Ordering::Relaxed);
}

pub(crate) fn high_water_mark() -> usize {
    HIGH_WATER_MARK.load(Ordering::Relaxed)
}

/// Told the id of a request whose connection went away with its response unfinished; the body
/// knows no more of the requests in flight than this.
pub(crate) type Gone = fn(u64);

/// The handler destroyed the response mid-stream; hyper closes the connection.
#[derive(Debug)]
pub struct BodyAborted;

impl std::fmt::Display for BodyAborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response destroyed before it was complete")
    }
}
impl std::error::Error for BodyAborted {}

/// Byte accounting of a streaming response, shared by the writer and the body.
pub(crate) struct StreamShared {
    id: u64,
    queue: Arc<EventQueue>,
    buffered: AtomicUsize,
    wants_drain: AtomicBool,
    gone: Gone,
    /// The connection the body went out on, once its service handed it to hyper.
    connection: OnceLock<Arc<ConnectionStreams>>,
    /// hyper let go of the body with the connection still up: the answer is complete on the wire.
    released: AtomicBool,
    /// OPEN, ENDED or DESTROYED by the handler.
    over: AtomicU8,
}

const OPEN: u8 = 0;
const ENDED: u8 = 1;
const DESTROYED: u8 = 2;

impl StreamShared {
    pub(crate) fn new(id: u64, queue: Arc<EventQueue>, gone: Gone) -> Arc<Self> {
        Arc::new(StreamShared {
            id,
            queue,
            buffered: AtomicUsize::new(0),
            wants_drain: AtomicBool::new(false),
            gone,
            connection: OnceLock::new(),
            released: AtomicBool::new(false),
            over: AtomicU8::new(OPEN),
        })
    }

    /// Returns whether the writer may go on (still under the high-water mark).
    pub(crate) fn add_buffered(&self, len: usize) -> bool {
        if self.is_released() {
            return true;
        }
        let total = self.buffered.fetch_add(len, Ordering::SeqCst) + len;
        if total >= high_water_mark() {
            self.wants_drain.store(true, Ordering::SeqCst);
            // Released meanwhile: nothing will be polled, so nothing is owed a drain.
            if self.is_released() && self.wants_drain.swap(false, Ordering::SeqCst) {
                return true;
            }
            false
        } else {
            true
        }
    }

    /// The body is complete on the wire although the handler has not ended it: hyper wrote all
    /// it takes of it (nothing for a HEAD, 204 or 304 answer, the Content-Length announced) and
    /// went on with the connection. What the handler writes from now on is dropped, as Node
    /// drops writes to an answer that has no body.
    pub(crate) fn is_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// The handler ended the response.
    pub(crate) fn ended(&self) {
        self.over.store(ENDED, Ordering::SeqCst);
        if let Some(connection) = self.connection.get() {
            connection.forget(self.id);
        }
    }

    /// The handler destroyed the response. A body hyper still holds fails, which closes the
    /// connection; a released one never hears of it, so the connection is closed directly, as
    /// `socket.destroy()` does.
    pub(crate) fn destroyed(&self) {
        self.over.store(DESTROYED, Ordering::SeqCst);
        if let Some(connection) = self.connection.get() {
            connection.forget(self.id);
            if self.is_released() {
                connection.cut();
            }
        }
    }

    /// hyper dropped the body before its end: either it takes no more of it (see
    /// [`is_released`](Self::is_released)) and the connection goes on, or the connection ended.
    /// Only the end of the connection tells, so the handlers hear of a loss then.
    fn let_go(&self) {
        if self.over.load(Ordering::SeqCst) == ENDED {
            return;
        }
        let Some(connection) = self.connection.get().filter(|c| c.hold(self.id)) else {
            (self.gone)(self.id);
            return;
        };
        self.released.store(true, Ordering::SeqCst);
        // Ended or destroyed meanwhile: `ended` / `destroyed` may not have found it held.
        match self.over.load(Ordering::SeqCst) {
            OPEN => {}
            ENDED => connection.forget(self.id),
            _ => {
                connection.forget(self.id);
                connection.cut();
            }
        }
        // Bytes queued before the release are never polled: a writer waiting for them to go
        // out may go on.
        if self.wants_drain.swap(false, Ordering::SeqCst) {
            self.queue.push(Event::Drain { id: self.id });
        }
    }

    pub(crate) fn sub_buffered(&self, len: usize) {
        let left = self.buffered.fetch_sub(len, Ordering::AcqRel) - len;
        if left < high_water_mark() && self.wants_drain.swap(false, Ordering::AcqRel) {
            self.queue.push(Event::Drain { id: self.id });
        }
    }
}

/// The streaming responses of one connection whose bodies hyper let go of before their handler
/// ended them. hyper drops a body it takes no more of (an answer without a body, a
/// Content-Length reached) while the connection goes on, and every body when the connection
/// ends; a dropped body cannot tell which, so it waits here and is reported lost only if the
/// connection ends before its handler ends it.
#[derive(Default)]
pub(crate) struct ConnectionStreams {
    held: Mutex<Held>,
    cut: Notify,
}

#[derive(Default)]
struct Held {
    closed: bool,
    ids: Vec<u64>,
    /// The connection's close, waiting for the last held response to end.
    close_waits: Option<Waker>,
}

impl ConnectionStreams {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `id` until its handler ends it or the connection ends; false once it has ended.
    fn hold(&self, id: u64) -> bool {
        let mut held = self.held();
        if held.closed {
            return false;
        }
        held.ids.push(id);
        true
    }

    fn forget(&self, id: u64) {
        let waiting = {
            let mut held = self.held();
            held.ids.retain(|&held| held != id);
            if held.ids.is_empty() {
                held.close_waits.take()
            } else {
                None
            }
        };
        if let Some(waker) = waiting {
            waker.wake();
        }
    }

    /// Ready once every held response has ended (or none is held).
    pub(crate) fn poll_all_ended(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut held = self.held();
        if held.ids.is_empty() {
            return Poll::Ready(());
        }
        held.close_waits = Some(cx.waker().clone());
        Poll::Pending
    }

    fn cut(&self) {
        self.cut.notify_one();
    }

    /// Resolves when a handler destroyed a response whose body hyper released: the connection
    /// is to be closed.
    pub(crate) async fn cut_requested(&self) {
        self.cut.notified().await;
    }

    /// The connection ended: responses still held are lost (`gone`), and bodies dropped from
    /// now on are lost at once.
    pub(crate) fn connection_closed(&self, gone: Gone) {
        let ids = {
            let mut held = self.held();
            held.closed = true;
            std::mem::take(&mut held.ids)
        };
        for id in ids {
            gone(id);
        }
    }
}

pub struct ResponseBody {
    inner: Inner,
}

enum Inner {
    /// Until polled. An empty body still counts as one unpolled frame: hyper then keeps the app's
    /// `Content-Length: 0` where the app put it, instead of dropping it and appending its own.
    Full(Option<Bytes>),
    Stream {
        chunks: mpsc::UnboundedReceiver<Result<Bytes, ()>>,
        shared: Arc<StreamShared>,
        finished: bool,
    },
    /// A static file: one read of up to `FILE_CHUNK` bytes in flight at a time, off the I/O threads.
    File {
        file: xsys_static::FileBody,
        sent: u64,
        reading: Option<JoinHandle<std::io::Result<Bytes>>>,
        failed: bool,
    },
}

/// Bytes a file body reads per chunk.
const FILE_CHUNK: usize = 64 * 1024;

impl ResponseBody {
    pub fn full(bytes: Bytes) -> Self {
        ResponseBody {
            inner: Inner::Full(Some(bytes)),
        }
    }

    /// No body at all: hyper keeps a `Content-Length` header only for a HEAD answer and
    /// otherwise replaces it with 0, so a mistaken length cannot desynchronise the connection.
    pub(crate) fn none() -> Self {
        ResponseBody {
            inner: Inner::Full(None),
        }
    }

    pub(crate) fn stream(
        chunks: mpsc::UnboundedReceiver<Result<Bytes, ()>>,
        shared: Arc<StreamShared>,
    ) -> Self {
        ResponseBody {
            inner: Inner::Stream {
                chunks,
                shared,
                finished: false,
            },
        }
    }

    /// The connection this body goes out on, so a body hyper releases early is not taken for a
    /// lost connection (see [`ConnectionStreams`]).
    pub(crate) fn goes_out_on(&self, connection: &Arc<ConnectionStreams>) {
        if let Inner::Stream { shared, .. } = &self.inner {
            let _ = shared.connection.set(connection.clone());
        }
    }

    /// A file's byte range, read in chunks as hyper asks for them. A read error (or a file that
    /// shrank) aborts the response, and hyper closes the connection: the length was announced.
    pub(crate) fn file(file: xsys_static::FileBody) -> Self {
        ResponseBody {
            inner: Inner::File {
                file,
                sent: 0,
                reading: None,
                failed: false,
            },
        }
    }

    /// Collects the whole body; for tests.
    pub async fn into_bytes(self) -> Result<Bytes, BodyAborted> {
        Ok(self.collect().await?.to_bytes())
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        match &mut self.get_mut().inner {
            Inner::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Inner::Stream {
                chunks,
                shared,
                finished,
            } => match chunks.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    shared.sub_buffered(chunk.len());
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Poll::Ready(Some(Err(()))) => {
                    *finished = true;
                    Poll::Ready(Some(Err(BodyAborted)))
                }
                Poll::Ready(None) => {
                    *finished = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
            Inner::File {
                file,
                sent,
                reading,
                failed,
            } => {
                if *failed || (*sent >= file.len() && reading.is_none()) {
                    return Poll::Ready(None);
                }
                let pending = reading.get_or_insert_with(|| {
                    let (file, at) = (file.clone(), *sent);
                    tokio::task::spawn_blocking(move || file.read_at(at, FILE_CHUNK))
                });
                let read = match Pin::new(pending).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(read) => read,
                };
                *reading = None;
                match read {
                    Ok(Ok(chunk)) if !chunk.is_empty() => {
                        *sent += chunk.len() as u64;
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    // `read_at` returns nothing only past the end, which `sent` rules out.
                    Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
                        *failed = true;
                        Poll::Ready(Some(Err(BodyAborted)))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(bytes) => bytes.is_none(),
            Inner::Stream { finished, .. } => *finished,
            Inner::File {
                file, sent, failed, ..
            } => *failed || *sent >= file.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Stream { .. } => SizeHint::default(),
            Inner::File { file, sent, .. } => {
                SizeHint::with_exact(file.len().saturating_sub(*sent))
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Inner::Stream {
            shared,
            finished: false,
            ..
        } = &self.inner
        {
            shared.let_go();
        }
    }
}
