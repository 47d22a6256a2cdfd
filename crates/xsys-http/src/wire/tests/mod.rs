//! The reader, the writer and `WireIo` over in-memory streams.

mod io;
mod reader;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::reader::{RequestReader, Stop};
use super::{ConnectionWire, Listeners, Recorded, Timeouts};

pub(in crate::wire) fn wire(connect: bool, upgrade: bool) -> Arc<ConnectionWire> {
    let listeners = Arc::new(Listeners::default());
    listeners.set_connect(connect);
    listeners.set_upgrade(upgrade);
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
    let mut reader = RequestReader::new(wire.clone(), 16 * 1024);
    let mut copy = stream.to_vec();
    let mut seen = Vec::new();
    let mut stop = None;
    for part in copy.chunks_mut(piece.max(1)) {
        let fed = reader.feed(part);
        seen.extend_from_slice(&part[..fed.consumed]);
        if let Some(mut recorded) = reader.parked.take() {
            recorded.after_head = Bytes::copy_from_slice(&part[fed.consumed..]);
            wire.push_recording(recorded);
        }
        if fed.stop.is_some() {
            stop = fed.stop;
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
