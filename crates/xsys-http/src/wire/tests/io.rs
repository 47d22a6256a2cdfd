//! `WireIo` over in-memory sockets: partial writes, the head timer, the client's end.

use crate::wire::HeadLimits;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::wire;
use crate::wire::reader::Kind;
use crate::wire::{ConnectionWire, Listeners, Timeouts, WireIo};

/// A socket that takes at most `per_write` bytes per write and records them.
struct Trickle {
    out: Vec<u8>,
    per_write: usize,
}

impl tokio::io::AsyncRead for Trickle {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

impl tokio::io::AsyncWrite for Trickle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.per_write);
        self.out.extend_from_slice(&buf[..n]);
        std::task::Poll::Ready(Ok(n))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn what_the_socket_does_not_take_goes_out_later_in_order() {
    for per_write in [1, 3, 7, 64] {
        let wire = wire(false, false);
        wire.begin_service();
        let mut io = WireIo::new(
            Trickle {
                out: Vec::new(),
                per_write,
            },
            wire,
            HeadLimits::default(),
        );
        io.reader_kinds().push_back(Kind::default());
        let parts: [&[u8]; 4] = [
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1F\r\n",
            &[b'x'; 31],
            b"\r\n0\r\n\r\n",
        ];
        let bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let taken = io.write_vectored(&bufs).await.expect("written");
        assert_eq!(taken, parts.iter().map(|p| p.len()).sum::<usize>());
        io.flush().await.expect("flushed");
        let expected = [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n"[..],
            &[b'x'; 31],
            b"\r\n0\r\n\r\n",
        ]
        .concat();
        assert_eq!(io.inner().out, expected, "{per_write} bytes per write");
    }
}

#[tokio::test(start_paused = true)]
async fn a_head_not_whole_in_time_gets_408_and_the_end() {
    let listeners = Arc::new(Listeners::default());
    let timeouts = Arc::new(Timeouts::new(
        Duration::from_millis(500),
        Duration::from_secs(5),
    ));
    let wire = Arc::new(ConnectionWire::new(listeners, timeouts));
    let (client, server) = tokio::io::duplex(1024);
    let mut io = WireIo::new(server, wire, HeadLimits::default());
    let (mut client_read, mut client_write) = tokio::io::split(client);
    client_write
        .write_all(b"GET / HTTP/1.1\r\nHost")
        .await
        .expect("sent");
    let mut buf = [0u8; 64];
    let n = io.read(&mut buf).await.expect("read");
    assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\nHost");
    let started = tokio::time::Instant::now();
    assert_eq!(io.read(&mut buf).await.expect("the end"), 0);
    assert!(started.elapsed() >= Duration::from_millis(490));
    drop(io);
    let mut answer = Vec::new();
    client_read.read_to_end(&mut answer).await.expect("read");
    assert_eq!(
        answer,
        b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
    );
}

#[tokio::test]
async fn the_clients_end_after_a_whole_request_is_told_to_the_service_not_to_hyper() {
    let wire = wire(false, false);
    let (client, server) = tokio::io::duplex(1024);
    let mut io = WireIo::new(server, wire.clone(), HeadLimits::default());
    let (_client_read, mut client_write) = tokio::io::split(client);
    client_write
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
        .await
        .expect("sent");
    client_write.shutdown().await.expect("ended");
    let mut buf = [0u8; 64];
    assert!(io.read(&mut buf).await.expect("read") > 0);
    let read = tokio::time::timeout(Duration::from_millis(200), io.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "hyper does not see the end while the request waits for its answer"
    );
    tokio::time::timeout(Duration::from_secs(1), wire.peer_gone())
        .await
        .expect("the service is told");
    // The answer begins: from then on hyper sees the end.
    io.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("written");
    assert_eq!(io.read(&mut buf).await.expect("the end"), 0);
}
