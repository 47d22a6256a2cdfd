//! The reader, the writer and `WireIo` over in-memory streams.

mod io;
mod reader;
mod writer;

use crate::wire::HeadLimits;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::reader::{RequestReader, Stop};
use super::{ConnectionWire, Listeners, Recorded, Timeouts};

pub(in crate::wire) fn wire(connect: bool, upgrade: bool) -> Arc<ConnectionWire> {
    let listeners = Arc::new(Listeners::default());
    if connect {
        listeners.count_connect(true);
    }
    if upgrade {
        listeners.count_upgrade(true);
    }
    Arc::new(ConnectionWire::new(
        listeners,
        Arc::new(Timeouts::new(Duration::ZERO, Duration::ZERO)),
    ))
}

/// What the reader made of a stream fed in pieces of `piece` bytes.
#[derive(Debug, PartialEq)]
pub(in crate::wire) struct Followed {
    /// What hyper would read.
    pub seen: Vec<u8>,
    pub recorded: Vec<Recorded>,
    pub stop: Option<Stop>,
}

pub(in crate::wire) fn follow_with(
    wire: Arc<ConnectionWire>,
    stream: &[u8],
    piece: usize,
) -> Followed {
    follow_limited(wire, stream, piece, HeadLimits::default())
}

/// What the reader made of a stream, fed in pieces the way `WireIo` feeds it: what a feed did not
/// read is fed again with what comes next.
pub(in crate::wire) fn follow_limited(
    wire: Arc<ConnectionWire>,
    stream: &[u8],
    piece: usize,
    limits: HeadLimits,
) -> Followed {
    let mut reader = RequestReader::new(wire.clone(), limits);
    let mut seen = Vec::new();
    let mut stop = None;
    let mut at = 0;
    let mut pending: Vec<u8> = Vec::new();
    while at < stream.len() || !pending.is_empty() {
        let take = piece.max(1).min(stream.len() - at);
        pending.extend_from_slice(&stream[at..at + take]);
        at += take;
        let mut part = std::mem::take(&mut pending);
        let fed = reader.feed(&mut part);
        seen.extend_from_slice(&part[..fed.output]);
        seen.append(&mut reader.synth);
        pending = part[fed.consumed..].to_vec();
        if let Some(mut recorded) = reader.parked.take() {
            recorded.after_head = Bytes::copy_from_slice(&part[fed.consumed..]);
            wire.push_recording(recorded);
        }
        if fed.stop.is_some() {
            stop = fed.stop;
            break;
        }
        if fed.consumed == 0 && at == stream.len() {
            break;
        }
    }
    let mut recorded = Vec::new();
    while let Some(r) = wire.next_recording() {
        recorded.push(r);
    }
    Followed {
        seen,
        recorded,
        stop,
    }
}
