//! The xypriss HTTP engine: hyper 1.x HTTP/1.1 on a shared tokio runtime.
//!
//! This crate knows nothing of Node. It accepts connections, reads every request byte before
//! hyper does (see [`wire`]), answers what it can natively (the app's leading helmet / CORS /
//! rate-limit / static-files middleware in its [`prelude`], the default 404 when the route table
//! says nothing can match, refusals) and hands every other request to the [`bridge::EventQueue`]
//! of one of the JS threads serving the listener (the least loaded; see [`threads`]) as an
//! [`Event`]. Whoever drains the queue (the Node binding) answers through the [`Exchange`] with
//! the request's id.
//!
//! Modules depend downwards only: `listener` → `connection` → (`threads`, `request_body`,
//! `shutdown`); `threads` → (`exchange`, `routing`, `wire`); `routing` → `prelude` → (`body`,
//! `head`, `native`, `static_path`); `exchange` → (`handover`, `body`, `head`, `native`,
//! `prelude`);
//! `body`, `head`, `handover`, `request_body` and `wire` depend on nothing above them (what they
//! must report upwards, they report through a function they are given).

mod body;
pub mod bridge;
mod connection;
mod date;
mod error;
mod exchange;
mod handover;
mod head;
mod header_case;
mod listener;
pub mod native;
pub mod prelude;
mod request_body;
mod routing;
pub mod runtime;
mod shutdown;
pub mod static_path;
pub mod target;
pub mod threads;
mod wire;

#[cfg(test)]
mod testing;

pub use body::set_high_water_mark;
pub use body::ResponseBody;
pub use bridge::{
    BodyPayload, ConnectionInfo, Event, EventQueue, LayerCandidates, RequestHead, Wake,
};
pub use error::Error;
pub use exchange::{Completion, Exchange, ReadyResponse};
pub use head::ResponseHead;
pub use listener::{Bound, Limits, ListenOptions, Listener, Server};
pub use routing::{route_tables, RouteDraft, RoutingMirror};
pub use threads::{Attachment, JsThreads};
pub use wire::HeadLimits;
