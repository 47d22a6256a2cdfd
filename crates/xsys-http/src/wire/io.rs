//! [`WireIo`]: the socket as hyper sees it, with the request reader on the way in, the response
//! writer on the way out, and the connection's head and idle timers.

use std::future::Future;
use std::io;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::reader::{RequestReader, Stop};
use super::writer::ResponseWriter;
use super::{ConnectionWire, HeadLimits};

/// How long a connection closing after a body left unread keeps dropping what the client sends
/// (a client that reads the answer closes sooner).
const UNREAD_BODY_LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// Node's answer to a head not whole within headersTimeout, or a request within requestTimeout.
const REQUEST_TIMEOUT: &[u8] = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";
/// Node's answer to a head over maxHeaderSize or maxHeadersCount.
const HEADERS_TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n";

pin_project_lite::pin_project! {
    /// The connection's socket, read and written through the reader and the writer. It reads
    /// into hyper's own buffer and filters in place; bytes hyper may not have yet (those after
    /// a hand-over head) wait in `held`.
    #[project = WireIoProj]
    pub(crate) struct WireIo<T> {
        #[pin]
        inner: T,
        reader: RequestReader,
        writer: ResponseWriter,
        wire: Arc<ConnectionWire>,
        held: BytesMut,
        // Bytes for hyper that the reader made (a compacted head's end), given before `held`.
        synth: BytesMut,
        // The socket's end (Ok) or failure, seen but not yet given to hyper.
        peer_end: Option<io::Result<()>>,
        // Nothing more is read: a head was refused, answered without its body, or timed out.
        ended: bool,
        // A refused body: hyper's next read fails.
        body_refused: bool,
        // The engine wrote a refusal itself (408, 431) and closes: nothing more goes out, as
        // Node destroys the socket after writing one.
        refused: bool,
        read_waker: Option<Waker>,
        timer: Option<Pin<Box<Sleep>>>,
        // When the head being read (or awaited, on a new connection) began.
        head_since: Instant,
        // Closing after a body left unread: how long more of it is read and dropped.
        linger: Option<Pin<Box<Sleep>>>,
    }
}

impl<T> WireIo<T> {
    pub(crate) fn new(inner: T, wire: Arc<ConnectionWire>, limits: HeadLimits) -> Self {
        WireIo {
            inner,
            reader: RequestReader::new(wire.clone(), limits),
            writer: ResponseWriter::new(),
            wire,
            held: BytesMut::new(),
            synth: BytesMut::new(),
            peer_end: None,
            ended: false,
            body_refused: false,
            refused: false,
            read_waker: None,
            timer: None,
            head_since: Instant::now(),
            linger: None,
        }
    }
}

enum Expiry {
    /// headersTimeout or requestTimeout: 408.
    Request,
    Idle,
}

impl<T: AsyncRead + AsyncWrite> AsyncRead for WireIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            if !this.synth.is_empty() {
                let n = this.synth.len().min(buf.remaining());
                buf.put_slice(&this.synth[..n]);
                this.synth.advance(n);
                return Poll::Ready(Ok(()));
            }
            if *this.body_refused {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body refused",
                )));
            }
            if this.reader.is_held() {
                // Until the verdict on a hand-over.
                *this.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if *this.ended && this.peer_end.is_none() {
                // Nothing more goes to hyper, but the client's end still counts.
                return match ready!(discard(this.inner.as_mut(), cx)) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(e) => Poll::Ready(Err(e)),
                };
            }
            let start = buf.filled().len();
            let from_held = !this.held.is_empty();
            if from_held {
                let n = this.held.len().min(buf.remaining());
                buf.put_slice(&this.held[..n]);
            } else if let Some(end) = this.peer_end.take() {
                return match hide_end(this.reader, this.wire, end) {
                    Ok(passed) => Poll::Ready(passed),
                    Err(end) => {
                        *this.peer_end = Some(end);
                        *this.read_waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                };
            } else {
                match this.inner.as_mut().poll_read(cx, buf) {
                    Poll::Pending => {
                        *this.read_waker = Some(cx.waker().clone());
                        return wait(&mut this, cx);
                    }
                    Poll::Ready(Err(e)) => {
                        *this.peer_end = Some(Err(e));
                        continue;
                    }
                    Poll::Ready(Ok(())) if buf.filled().len() == start => {
                        *this.peer_end = Some(Ok(()));
                        continue;
                    }
                    Poll::Ready(Ok(())) => {}
                }
            }
            let n = buf.filled().len() - start;
            let fed = this.reader.feed(&mut buf.filled_mut()[start..]);
            if std::mem::take(&mut this.reader.began_head) {
                *this.head_since = Instant::now();
            }
            let consumed = fed.consumed;
            // What hyper may not have (yet) stays in `held`, in order.
            let rest = Bytes::copy_from_slice(&buf.filled()[start + consumed..]);
            buf.set_filled(start + fed.output);
            if !this.reader.synth.is_empty() {
                // Right after what hyper has of this read, before anything held.
                let n = this.reader.synth.len().min(buf.remaining());
                buf.put_slice(&this.reader.synth[..n]);
                this.synth.extend_from_slice(&this.reader.synth[n..]);
                this.reader.synth.clear();
            }
            if from_held {
                this.held.advance(consumed);
            } else {
                this.held.extend_from_slice(&rest);
            }
            match fed.stop {
                None | Some(Stop::Hold) => {}
                Some(Stop::End) | Some(Stop::RefusedHead) => {
                    *this.ended = true;
                    this.held.clear();
                }
                Some(Stop::TooLarge) => {
                    // As Node: 431 at once, whether or not the head ever ends; hyper sees the end.
                    // What already came is read first, or closing over it would reset the
                    // connection before the client reads the 431.
                    *this.ended = true;
                    *this.peer_end = Some(Ok(()));
                    this.held.clear();
                    discard_ready(this.inner.as_mut(), cx);
                    refuse(
                        this.inner.as_mut(),
                        this.writer,
                        this.refused,
                        cx,
                        HEADERS_TOO_LARGE,
                    );
                }
                Some(Stop::RefusedBody(status)) => {
                    this.wire.refuse_body(status);
                    *this.body_refused = true;
                    this.held.clear();
                }
            }
            if let Some(mut recorded) = this.reader.parked.take() {
                // Node's `head` argument: what came in the same read after the head.
                recorded.after_head = rest;
                this.wire.push_recording(recorded);
            }
            // Nothing for hyper yet (a compacted head swallowed the read): read on, as an empty
            // read would be an end to hyper.
            if buf.filled().len() > start || n == 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// Writes Node's refusal (408, 431) unless an answer is under way (Node writes one only if no
/// response has begun), and lets nothing more out after it.
fn refuse<T: AsyncWrite>(
    inner: Pin<&mut T>,
    writer: &ResponseWriter,
    refused: &mut bool,
    cx: &mut Context<'_>,
    refusal: &[u8],
) {
    if writer.between_answers() && writer.pending.is_empty() && !*refused {
        let _ = inner.poll_write(cx, refusal);
        *refused = true;
    }
}

/// Reads and drops what comes until the socket ends (or fails).
fn discard<T: AsyncRead>(mut inner: Pin<&mut T>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    let mut scratch = [0u8; 4096];
    loop {
        let mut buf = ReadBuf::new(&mut scratch);
        ready!(inner.as_mut().poll_read(cx, &mut buf))?;
        if buf.filled().is_empty() {
            return Poll::Ready(Ok(()));
        }
    }
}

/// Reads and drops what has come, without waiting for more (a bounded amount).
fn discard_ready<T: AsyncRead>(mut inner: Pin<&mut T>, cx: &mut Context<'_>) {
    let mut scratch = [0u8; 4096];
    for _ in 0..256 {
        let mut buf = ReadBuf::new(&mut scratch);
        match inner.as_mut().poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
            _ => return,
        }
    }
}

/// The socket ended (or failed). While a request the client sent whole waits for its answer, the
/// end is kept from hyper (which would drop the request, even before handing it over) and the
/// service is told instead; likewise while a hand-over waits for its verdict. Once an answer is
/// under way hyper sees the end, as before. Err gives the end back to keep.
fn hide_end(
    reader: &RequestReader,
    wire: &ConnectionWire,
    end: io::Result<()>,
) -> Result<io::Result<()>, io::Result<()>> {
    let hide = reader.is_held() || (reader.at_boundary() && !reader.kinds.is_empty());
    if hide {
        wire.peer_left();
        Err(end)
    } else {
        Ok(end)
    }
}

/// Nothing to read: arms the head timer (a head is awaited or under way) or the idle timer (a
/// kept-alive connection between requests), and acts when it fires.
fn wait<T: AsyncRead + AsyncWrite>(
    this: &mut WireIoProj<'_, T>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let timeouts = &this.wire.timeouts;
    let first = this.reader.messages == 0 && this.reader.kinds.is_empty();
    let awaiting_first = first && this.reader.at_boundary();
    // headersTimeout while the head comes, requestTimeout until the whole request came; both
    // count from the request's first byte (or the connection's start).
    let head = (this.reader.in_head() || awaiting_first)
        .then(|| timeouts.headers())
        .flatten();
    let request = (this.reader.in_message() || awaiting_first)
        .then(|| timeouts.request())
        .flatten();
    let deadline = match head.into_iter().chain(request).min() {
        Some(limit) => Some((*this.head_since + limit, Expiry::Request)),
        None if this.reader.at_boundary() && this.reader.kinds.is_empty() => this
            .writer
            .idle_since
            .zip(timeouts.idle())
            .map(|(since, limit)| (since + limit, Expiry::Idle)),
        None => None,
    };
    let Some((deadline, expiry)) = deadline else {
        *this.timer = None;
        return Poll::Pending;
    };
    let timer = match this.timer {
        Some(timer) => {
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            timer
        }
        None => this
            .timer
            .insert(Box::pin(tokio::time::sleep_until(deadline))),
    };
    ready!(timer.as_mut().poll(cx));
    *this.timer = None;
    *this.ended = true;
    *this.peer_end = Some(Ok(()));
    if let Expiry::Request = expiry {
        // As Node: 408 and the close, unless an answer is still going out.
        refuse(
            this.inner.as_mut(),
            this.writer,
            this.refused,
            cx,
            REQUEST_TIMEOUT,
        );
    }
    Poll::Ready(Ok(()))
}

impl<T: AsyncRead + AsyncWrite> WireIo<T> {
    /// Writes what the socket did not take earlier.
    fn poll_pending(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        while !this.writer.pending.is_empty() {
            let n = ready!(this.inner.as_mut().poll_write(cx, &this.writer.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.writer.advance_pending(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite> AsyncWrite for WireIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.refused {
            // Node destroyed the socket after its refusal: what hyper writes now goes nowhere.
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        ready!(self.as_mut().poll_pending(cx))?;
        let this = self.project();
        let done_before = this.writer.done;
        let (taken, verdict) = this.writer.take(bufs, &mut this.reader.kinds, this.wire);
        if let Some(switched) = verdict {
            this.reader.verdict(switched);
        }
        // A verdict frees held bytes; the end of an answer starts the idle timer: either way
        // hyper's reading has something new to find (it does not poll again by itself).
        if verdict.is_some() || this.writer.done != done_before {
            if let Some(waker) = this.read_waker.take() {
                waker.wake();
            }
        }
        let written = {
            let slices = this.writer.slices(bufs);
            match this.inner.poll_write_vectored(cx, &slices) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Taken all the same: kept, and written before anything else.
                Poll::Pending => 0,
            }
        };
        this.writer.keep_unwritten(bufs, written);
        Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_pending(cx))?;
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_pending(cx))?;
        let mut this = self.project();
        // As Node, a connection closes after the last response its handlers end, also when the
        // bytes of every answer are out already; a client that leaves first ends the wait.
        if this.wire.poll_no_lingering(cx).is_pending() {
            ready!(discard(this.inner.as_mut(), cx)).ok();
        }
        if !this.wire.left_body_unread() {
            return this.inner.poll_shutdown(cx);
        }
        // A body left unread: closing with its bytes still arriving would reset the connection,
        // and a client still sending could lose the answer. Its side is ended (the answer and
        // the end reach it), then what it sends is dropped until it closes, for a bounded time.
        if this.linger.is_none() {
            ready!(this.inner.as_mut().poll_shutdown(cx))?;
            *this.linger = Some(Box::pin(tokio::time::sleep(UNREAD_BODY_LINGER)));
        }
        if let Some(linger) = this.linger.as_mut() {
            if linger.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
        }
        discard(this.inner.as_mut(), cx).map(|_| Ok(()))
    }
}

#[cfg(test)]
impl<T> WireIo<T> {
    pub(super) fn reader_kinds(&mut self) -> &mut std::collections::VecDeque<super::reader::Kind> {
        &mut self.reader.kinds
    }
    pub(super) fn inner(&self) -> &T {
        &self.inner
    }
}
