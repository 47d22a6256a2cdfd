//! One JS array per wake-up, carrying every event that accumulated since the last one.
//!
//! The array is flat (a tag then the fields of each event) because building one array costs far
//! fewer Node-API calls than an object per event. [`LAYOUT`] is the one declaration of the tags
//! and field order: the writer below is tested against it, and the JS reader's constants
//! (`lib/engine/batch-layout.ts`) are generated from it (`npm run generate`, checked by a test).

use std::ffi::c_void;
use std::net::SocketAddr;
use std::ptr;

use napi::bindgen_prelude::ToNapiValue;
use napi::{check_status, sys, Result};
use xsys_http::{BodyPayload, Event, LayerCandidates};

/// One kind of event: its tag, then its fields in the order they follow the tag.
// The writer uses only the tags; names and fields are for the tests and the generated TypeScript.
#[cfg_attr(not(test), allow(dead_code))]
pub struct EventLayout {
    pub name: &'static str,
    pub tag: u8,
    /// `(name, what JS finds there)`.
    pub fields: &'static [(&'static str, &'static str)],
}

#[cfg_attr(not(test), allow(dead_code))]
impl EventLayout {
    /// Array slots one event takes, its tag included.
    pub const fn stride(&self) -> usize {
        self.fields.len() + 1
    }
}

const ID: (&str, &str) = (
    "id",
    "number: the request id (or the handed-over connection's)",
);

pub const CONNECTION: EventLayout = EventLayout {
    name: "Connection",
    tag: 0,
    fields: &[
        ("id", "number: the connection id"),
        (
            "remoteAddress",
            "string | undefined (undefined on a Unix socket)",
        ),
        ("remotePort", "number | undefined"),
        ("family", "4 | 6 | undefined"),
        ("localAddress", "string | undefined"),
        ("localPort", "number | undefined"),
    ],
};
pub const REQUEST: EventLayout = EventLayout {
    name: "Request",
    tag: 1,
    fields: &[
        ID,
        ("connection", "number: the id of its connection"),
        ("method", "string"),
        ("url", "string: the request target as sent, latin1"),
        (
            "httpMinor",
            "number: 0 or 1; plus 2 for a request beyond server.maxRequestsPerSocket, which Node drops ('dropRequest', then 503)",
        ),
        ("headers", "string: `name\\nvalue\\n...`, names lower-case, latin1"),
        (
            "body",
            "false: none; true: it streams as Body events; Buffer: all of it; [Buffer]: the connection is handed over, with what followed the head",
        ),
        (
            "candidates",
            "number[] | undefined: [stack version, index, ...] of the layers whose path matches",
        ),
        (
            "prelude",
            "string | undefined: what the native prelude decided (plan, notices, req.rateLimit values, headers; see xsys-http's prelude.rs), undefined when it did not run",
        ),
    ],
};
pub const BODY: EventLayout = EventLayout {
    name: "Body",
    tag: 2,
    fields: &[ID, ("chunk", "Buffer")],
};
pub const BODY_END: EventLayout = EventLayout {
    name: "BodyEnd",
    tag: 3,
    fields: &[ID],
};
pub const ABORTED: EventLayout = EventLayout {
    name: "Aborted",
    tag: 4,
    fields: &[ID],
};
pub const DRAIN: EventLayout = EventLayout {
    name: "Drain",
    tag: 5,
    fields: &[ID],
};
pub const CONNECTION_CLOSED: EventLayout = EventLayout {
    name: "ConnectionClosed",
    tag: 6,
    fields: &[("id", "number: the connection id")],
};
pub const CLOSED: EventLayout = EventLayout {
    name: "Closed",
    tag: 7,
    fields: &[],
};
pub const PRELUDE_NOTICES: EventLayout = EventLayout {
    name: "PreludeNotices",
    tag: 8,
    fields: &[
        ("plan", "number: the native prelude's id"),
        (
            "bits",
            "number: what its rate limiters saw on their first request (3 bits each: came, X-Forwarded-For, Forwarded)",
        ),
    ],
};

pub const DROPPED: EventLayout = EventLayout {
    name: "Dropped",
    tag: 9,
    fields: &[
        (
            "remoteAddress",
            "string | undefined: a connection closed as accepted, beyond server.maxConnections (undefined on a Unix socket)",
        ),
        ("remotePort", "number | undefined"),
        ("family", "4 | 6 | undefined"),
        ("localAddress", "string | undefined"),
        ("localPort", "number | undefined"),
    ],
};

/// Every event kind, in tag order.
#[cfg_attr(not(test), allow(dead_code))]
pub const LAYOUT: [&EventLayout; 10] = [
    &CONNECTION,
    &REQUEST,
    &BODY,
    &BODY_END,
    &ABORTED,
    &DRAIN,
    &CONNECTION_CLOSED,
    &CLOSED,
    &PRELUDE_NOTICES,
    &DROPPED,
];

pub struct EventBatch(pub Vec<Event>);

/// Where an event's slots go: the JS array, or a recorder in tests.
trait Slots {
    /// napi's error for the JS array; none for a recorder.
    type Error;

    fn number(&mut self, n: f64) -> std::result::Result<(), Self::Error>;
    /// HTTP bytes are latin1 for Node (`req.url`, header values).
    fn latin1(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Error>;
    fn buffer(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Error>;
    fn undefined(&mut self) -> std::result::Result<(), Self::Error>;
    fn boolean(&mut self, b: bool) -> std::result::Result<(), Self::Error>;
    /// `[Buffer]`: a handed-over connection's first bytes.
    fn tunnel(&mut self, head: &[u8]) -> std::result::Result<(), Self::Error>;
    /// `[version, index, ...]`.
    fn candidates(&mut self, candidates: &LayerCandidates) -> std::result::Result<(), Self::Error>;

    fn tag(&mut self, layout: &EventLayout) -> std::result::Result<(), Self::Error> {
        self.number(f64::from(layout.tag))
    }

    /// Remote address and port, family, local address and port; undefined on a Unix socket,
    /// as in Node.
    fn peers(
        &mut self,
        remote: Option<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> std::result::Result<(), Self::Error> {
        match (remote, local) {
            (Some(remote), Some(local)) => {
                self.address(&remote)?;
                self.number(f64::from(remote.port()))?;
                self.number(if local.is_ipv4() { 4.0 } else { 6.0 })?;
                self.address(&local)?;
                self.number(f64::from(local.port()))
            }
            _ => {
                for _ in 0..5 {
                    self.undefined()?;
                }
                Ok(())
            }
        }
    }

    fn address(&mut self, addr: &SocketAddr) -> std::result::Result<(), Self::Error> {
        let ip = match addr {
            // Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`, keep that.
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => v6.ip().to_string(),
        };
        self.latin1(ip.as_bytes())
    }
}

/// Writes one event, in [`LAYOUT`]'s order; `headers` is scratch space reused across events.
fn write_event<S: Slots>(
    w: &mut S,
    event: &Event,
    headers: &mut Vec<u8>,
) -> std::result::Result<(), S::Error> {
    match event {
        Event::Connection(info) => {
            w.tag(&CONNECTION)?;
            w.number(info.id as f64)?;
            w.peers(info.remote, info.local)?;
        }
        Event::Dropped { remote, local } => {
            w.tag(&DROPPED)?;
            w.peers(*remote, *local)?;
        }
        Event::Request(head) => {
            w.tag(&REQUEST)?;
            w.number(head.id as f64)?;
            w.number(head.connection as f64)?;
            w.latin1(head.method.as_str().as_bytes())?;
            w.latin1(&head.target)?;
            let dropped = if head.beyond_max_requests { 2 } else { 0 };
            w.number(f64::from(head.http_minor + dropped))?;
            headers.clear();
            for (name, value) in &head.headers {
                headers.extend_from_slice(name.as_str().as_bytes());
                headers.push(b'\n');
                headers.extend_from_slice(value.as_bytes());
                headers.push(b'\n');
            }
            headers.pop();
            w.latin1(headers)?;
            match &head.body {
                BodyPayload::Empty => w.boolean(false)?,
                BodyPayload::Streaming => w.boolean(true)?,
                BodyPayload::Complete(bytes) => w.buffer(bytes)?,
                // the rest of the connection's bytes follow as Body events
                BodyPayload::Tunnel(head) => w.tunnel(head)?,
            }
            match &head.candidates {
                Some(c) => w.candidates(c)?,
                None => w.undefined()?,
            }
            match &head.prelude {
                Some(text) => w.latin1(text)?,
                None => w.undefined()?,
            }
        }
        Event::Body { id, chunk } => {
            w.tag(&BODY)?;
            w.number(*id as f64)?;
            w.buffer(chunk)?;
        }
        Event::BodyEnd { id } => {
            w.tag(&BODY_END)?;
            w.number(*id as f64)?;
        }
        Event::Aborted { id } => {
            w.tag(&ABORTED)?;
            w.number(*id as f64)?;
        }
        Event::Drain { id } => {
            w.tag(&DRAIN)?;
            w.number(*id as f64)?;
        }
        Event::ConnectionClosed { id } => {
            w.tag(&CONNECTION_CLOSED)?;
            w.number(*id as f64)?;
        }
        Event::Closed => w.tag(&CLOSED)?,
        Event::PreludeNotices { plan, bits } => {
            w.tag(&PRELUDE_NOTICES)?;
            w.number(f64::from(*plan))?;
            w.number(f64::from(*bits))?;
        }
    }
    Ok(())
}

/// The JS array being filled. Made only inside `to_napi_value`, whose `env` is live for as long
/// as the writer is.
struct Writer {
    env: sys::napi_env,
    array: sys::napi_value,
    index: u32,
}

impl Writer {
    fn push(&mut self, value: sys::napi_value) -> Result<()> {
        // SAFETY: env and array are the live handles of the current to_napi_value call.
        check_status!(unsafe { sys::napi_set_element(self.env, self.array, self.index, value) })?;
        self.index += 1;
        Ok(())
    }

    fn new_buffer(&self, bytes: &[u8]) -> Result<sys::napi_value> {
        let mut value = ptr::null_mut();
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: env is live; napi copies `bytes` before returning.
        check_status!(unsafe {
            sys::napi_create_buffer_copy(
                self.env,
                bytes.len(),
                bytes.as_ptr().cast(),
                &mut data,
                &mut value,
            )
        })?;
        Ok(value)
    }

    fn new_list(&self, length: usize) -> Result<sys::napi_value> {
        let mut list = ptr::null_mut();
        // SAFETY: env is live.
        check_status!(unsafe { sys::napi_create_array_with_length(self.env, length, &mut list) })?;
        Ok(list)
    }

    fn set_element(&self, list: sys::napi_value, index: u32, value: sys::napi_value) -> Result<()> {
        // SAFETY: env is live and both values were created in this call.
        check_status!(unsafe { sys::napi_set_element(self.env, list, index, value) })
    }

    fn set_uint32(&self, list: sys::napi_value, index: u32, n: u32) -> Result<()> {
        let mut value = ptr::null_mut();
        // SAFETY: env is live.
        check_status!(unsafe { sys::napi_create_uint32(self.env, n, &mut value) })?;
        self.set_element(list, index, value)
    }
}

impl Slots for Writer {
    type Error = napi::Error;

    fn number(&mut self, n: f64) -> Result<()> {
        let mut value = ptr::null_mut();
        // SAFETY: env is live.
        check_status!(unsafe { sys::napi_create_double(self.env, n, &mut value) })?;
        self.push(value)
    }

    fn latin1(&mut self, bytes: &[u8]) -> Result<()> {
        let mut value = ptr::null_mut();
        // SAFETY: env is live; napi copies `bytes` before returning.
        check_status!(unsafe {
            sys::napi_create_string_latin1(
                self.env,
                bytes.as_ptr().cast(),
                bytes.len() as isize,
                &mut value,
            )
        })?;
        self.push(value)
    }

    fn buffer(&mut self, bytes: &[u8]) -> Result<()> {
        let value = self.new_buffer(bytes)?;
        self.push(value)
    }

    fn undefined(&mut self) -> Result<()> {
        let mut value = ptr::null_mut();
        // SAFETY: env is live.
        check_status!(unsafe { sys::napi_get_undefined(self.env, &mut value) })?;
        self.push(value)
    }

    fn boolean(&mut self, b: bool) -> Result<()> {
        let mut value = ptr::null_mut();
        // SAFETY: env is live.
        check_status!(unsafe { sys::napi_get_boolean(self.env, b, &mut value) })?;
        self.push(value)
    }

    fn tunnel(&mut self, head: &[u8]) -> Result<()> {
        let list = self.new_list(1)?;
        let buffer = self.new_buffer(head)?;
        self.set_element(list, 0, buffer)?;
        self.push(list)
    }

    fn candidates(&mut self, c: &LayerCandidates) -> Result<()> {
        let list = self.new_list(c.ids.len() + 1)?;
        self.set_uint32(list, 0, c.version)?;
        for (i, id) in c.ids.iter().enumerate() {
            self.set_uint32(list, i as u32 + 1, *id)?;
        }
        self.push(list)
    }
}

impl ToNapiValue for EventBatch {
    unsafe fn to_napi_value(env: sys::napi_env, batch: Self) -> Result<sys::napi_value> {
        let mut array = ptr::null_mut();
        check_status!(unsafe { sys::napi_create_array(env, &mut array) })?;
        let mut w = Writer {
            env,
            array,
            index: 0,
        };
        let mut headers = Vec::with_capacity(256);
        for event in &batch.0 {
            write_event(&mut w, event, &mut headers)?;
        }
        Ok(array)
    }
}

/// The TypeScript the JS reader imports: `lib/engine/batch-layout.ts`.
#[cfg(test)]
pub fn typescript_layout() -> String {
    fn pascal(name: &str) -> String {
        let mut chars = name.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    }
    let mut ts = String::from(
        "// Generated from LAYOUT in crates/xypriss-napi/src/batch.rs by `npm run generate`: do not edit.\n\
         // The engine's event batch is one flat array: each event is its tag, then its fields in\n\
         // this order. The reader indexes it with these constants (inlined by the build).\n\n\
         export enum Tag {\n",
    );
    for layout in LAYOUT {
        ts += &format!("  {} = {},\n", layout.name, layout.tag);
    }
    ts += "}\n\n/** Tags at or above this one are unknown: the rest of the batch cannot be read. */\n";
    ts += &format!("export const TAG_COUNT = {}\n", LAYOUT.len());
    for layout in LAYOUT {
        ts += &format!(
            "\n/** Slots of the {} event after its tag; Stride counts the tag too. */\nexport enum {}Event {{\n",
            layout.name, layout.name
        );
        for (i, (name, meaning)) in layout.fields.iter().enumerate() {
            ts += &format!("  /** {meaning} */\n  {} = {},\n", pascal(name), i + 1);
        }
        ts += &format!("  Stride = {},\n}}\n", layout.stride());
    }
    ts
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use xsys_http::{ConnectionInfo, RequestHead};

    #[derive(Debug, PartialEq)]
    enum Slot {
        Number(f64),
        Text,
        Buffer,
        Undefined,
        Boolean,
        List,
    }

    #[derive(Default)]
    struct Recorder(Vec<Slot>);

    impl Slots for Recorder {
        type Error = std::convert::Infallible;

        fn number(&mut self, n: f64) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::Number(n));
            Ok(())
        }
        fn latin1(&mut self, _: &[u8]) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::Text);
            Ok(())
        }
        fn buffer(&mut self, _: &[u8]) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::Buffer);
            Ok(())
        }
        fn undefined(&mut self) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::Undefined);
            Ok(())
        }
        fn boolean(&mut self, _: bool) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::Boolean);
            Ok(())
        }
        fn tunnel(&mut self, _: &[u8]) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::List);
            Ok(())
        }
        fn candidates(&mut self, _: &LayerCandidates) -> std::result::Result<(), Self::Error> {
            self.0.push(Slot::List);
            Ok(())
        }
    }

    fn request(
        body: BodyPayload,
        candidates: Option<LayerCandidates>,
        prelude: Option<Bytes>,
    ) -> Event {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", http::HeaderValue::from_static("x"));
        Event::Request(Box::new(RequestHead {
            id: 3,
            connection: 1,
            method: http::Method::GET,
            target: Bytes::from_static(b"/a?b"),
            http_minor: 1,
            headers,
            body,
            candidates,
            prelude,
            beyond_max_requests: false,
        }))
    }

    /// One of every event kind, in every shape it can take.
    fn samples() -> Vec<(&'static EventLayout, Event)> {
        let addr = "127.0.0.1:80".parse().ok();
        let candidates = || {
            Some(LayerCandidates {
                version: 2,
                ids: vec![0, 4],
            })
        };
        vec![
            (
                &CONNECTION,
                Event::Connection(ConnectionInfo {
                    id: 1,
                    remote: addr,
                    local: addr,
                }),
            ),
            (
                &CONNECTION,
                Event::Connection(ConnectionInfo {
                    id: 1,
                    remote: None,
                    local: None,
                }),
            ),
            (&REQUEST, request(BodyPayload::Empty, None, None)),
            (
                &REQUEST,
                request(BodyPayload::Streaming, candidates(), None),
            ),
            (
                &REQUEST,
                request(
                    BodyPayload::Complete(Bytes::from_static(b"{}")),
                    None,
                    Some(Bytes::from_static(b"1\n0\n0\n")),
                ),
            ),
            (
                &REQUEST,
                request(BodyPayload::Tunnel(Bytes::new()), candidates(), None),
            ),
            (
                &BODY,
                Event::Body {
                    id: 3,
                    chunk: Bytes::from_static(b"x"),
                },
            ),
            (&BODY_END, Event::BodyEnd { id: 3 }),
            (&ABORTED, Event::Aborted { id: 3 }),
            (&DRAIN, Event::Drain { id: 3 }),
            (&CONNECTION_CLOSED, Event::ConnectionClosed { id: 1 }),
            (&CLOSED, Event::Closed),
            (&PRELUDE_NOTICES, Event::PreludeNotices { plan: 1, bits: 3 }),
            (
                &DROPPED,
                Event::Dropped {
                    remote: addr,
                    local: addr,
                },
            ),
            (
                &DROPPED,
                Event::Dropped {
                    remote: None,
                    local: None,
                },
            ),
        ]
    }

    #[test]
    fn every_event_writes_its_tag_and_declared_fields() {
        let mut headers = Vec::new();
        for (layout, event) in samples() {
            let mut slots = Recorder::default();
            write_event(&mut slots, &event, &mut headers).unwrap();
            assert_eq!(
                slots.0.first(),
                Some(&Slot::Number(f64::from(layout.tag))),
                "{} starts with its tag",
                layout.name
            );
            assert_eq!(
                slots.0.len(),
                layout.stride(),
                "{} writes {:?}, LAYOUT declares {:?}",
                layout.name,
                slots.0,
                layout.fields
            );
        }
    }

    #[test]
    fn tags_are_their_index_in_layout() {
        for (i, layout) in LAYOUT.iter().enumerate() {
            assert_eq!(usize::from(layout.tag), i, "{}", layout.name);
        }
    }

    #[test]
    fn generated_typescript_is_current() {
        crate::generated::check("lib/engine/batch-layout.ts", &typescript_layout());
    }
}
