//! The xypriss HTTP engine: hyper 1.x HTTP/1.1 on a shared tokio runtime.
//!
//! This crate knows nothing of Node. It accepts connections, parses requests, answers what it can
//! natively (the app's leading helmet / CORS / rate-limit middleware in its [`prelude`], the
//! default 404 when the route table says nothing can match) and hands every other
//! request to a [`bridge::EventQueue`] as an [`Event`]. Whoever drains the queue (the Node binding)
//! answers through the [`Exchange`] with the request's id.

mod body;
pub mod bridge;
mod date;
mod error;
mod exchange;
mod header_case;
pub mod native;
pub mod prelude;
pub mod runtime;
mod server;
pub mod static_path;
pub mod target;
mod wire;

pub use body::ResponseBody;
pub use bridge::{
    BodyPayload, ConnectionInfo, Event, EventQueue, LayerCandidates, RequestHead, Wake,
};
pub use error::Error;
pub use exchange::{Exchange, ReadyResponse, ResponseHead};
pub use server::{Bound, Limits, ListenOptions, RoutingMirror, Server};
