//! Response bodies: a buffered body handed over whole, a stream fed by the handler's writes, or
//! a byte range of a file read in chunks on the blocking pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;
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
}

impl StreamShared {
    pub(crate) fn new(id: u64, queue: Arc<EventQueue>, gone: Gone) -> Arc<Self> {
        Arc::new(StreamShared {
            id,
            queue,
            buffered: AtomicUsize::new(0),
            wants_drain: AtomicBool::new(false),
            gone,
        })
    }

    /// Returns whether the writer may go on (still under the high-water mark).
    pub(crate) fn add_buffered(&self, len: usize) -> bool {
        let total = self.buffered.fetch_add(len, Ordering::AcqRel) + len;
        if total >= high_water_mark() {
            self.wants_drain.store(true, Ordering::Release);
            false
        } else {
            true
        }
    }

    pub(crate) fn sub_buffered(&self, len: usize) {
        let left = self.buffered.fetch_sub(len, Ordering::AcqRel) - len;
        if left < high_water_mark() && self.wants_drain.swap(false, Ordering::AcqRel) {
            self.queue.push(Event::Drain { id: self.id });
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
        // hyper drops an unfinished stream when the client disconnects mid-response.
        if let Inner::Stream {
            shared,
            finished: false,
            ..
        } = &self.inner
        {
            (shared.gone)(shared.id);
        }
    }
}
