//! One JS call per wake-up, carrying every event that accumulated since the last one.
//!
//! The batch is the arguments of one call: a Float64Array of the events' numbers (each event: its
//! tag, then its numbers), then the events' strings and Buffers, in event order (see
//! [`SPREAD_VALUES_MAX`] for a batch with very many). Numbers written into one typed array cost no
//! Node-API call each, and values passed as arguments need none to be placed, so an event costs a
//! call per string or Buffer it carries and nothing more. [`LAYOUT`] is the one declaration of the tags, numbers and
//! values: the writer below is tested against it, and the JS reader's constants
//! (`lib/engine/batch-layout.ts`) are generated from it (`npm run generate`, checked by a test).

use std::ffi::c_void;
use std::net::SocketAddr;
use std::ptr;

use napi::bindgen_prelude::JsValuesTupleIntoVec;
use napi::{check_status, sys, Result};
use xsys_http::{BodyPayload, Event, LayerCandidates};
use xsys_router::HTTP_METHODS;

/// One kind of event: its tag, then its numbers in the order they follow the tag, and the values
/// it adds to the batch, in order.
// The writer uses only the tags; names and fields are for the tests and the generated TypeScript.
#[cfg_attr(not(test), allow(dead_code))]
pub struct EventLayout {
    pub name: &'static str,
    pub tag: u8,
    /// `(name, what JS finds there)`.
    pub numbers: &'static [(&'static str, &'static str)],
    /// `(name, what JS finds there and when it is there)`, read in this order.
    pub values: &'static [(&'static str, &'static str)],
    /// The numbers a count among `numbers` says follow the fixed ones, if any.
    pub trailing: Option<&'static str>,
}

#[cfg_attr(not(test), allow(dead_code))]
impl EventLayout {
    /// Numbers one event takes, its tag included, before any trailing numbers.
    pub const fn stride(&self) -> usize {
        self.numbers.len() + 1
    }
}

const ID: (&str, &str) = ("id", "the request id (or the handed-over connection's)");

/// Request: the `method` number of a method outside [`HTTP_METHODS`].
const METHOD_AS_VALUE: f64 = -1.0;

/// Request: what `body` says of the request's body.
pub const BODY_NONE: u8 = 0;
pub const BODY_STREAMS: u8 = 1;
pub const BODY_WHOLE: u8 = 2;
pub const BODY_HANDED_OVER: u8 = 3;

pub const CONNECTION: EventLayout = EventLayout {
    name: "Connection",
    tag: 0,
    numbers: &[
        ("id", "the connection id"),
        (
            "family",
            "4 or 6; 0 on a Unix socket, which has no addresses or ports",
        ),
        ("remotePort", "the client's port"),
        ("localPort", "the server's port"),
    ],
    values: &[
        (
            "remoteAddress",
            "string: the client's address (not on a Unix socket)",
        ),
        (
            "localAddress",
            "string: the server's address (not on a Unix socket)",
        ),
    ],
    trailing: None,
};
pub const REQUEST: EventLayout = EventLayout {
    name: "Request",
    tag: 1,
    numbers: &[
        ID,
        ("connection", "the id of its connection"),
        (
            "httpMinor",
            "0 or 1; plus 2 for a request beyond server.maxRequestsPerSocket, which Node drops ('dropRequest', then 503)",
        ),
        (
            "method",
            "its index in METHODS; -1: the method is the next value",
        ),
        (
            "body",
            "BodyKind: none, streams as Body events, whole (the next value), or the connection is handed over (the next value: what followed the head)",
        ),
        (
            "prelude",
            "1 when the native prelude ran for it (its decisions are the last value), else 0",
        ),
        (
            "candidates",
            "how many numbers follow: the stack version, then the indices of the layers whose path matches; 0 when not known",
        ),
    ],
    values: &[
        ("method", "string, when its number is -1"),
        ("url", "string: the request target as sent, latin1"),
        (
            "headers",
            "string: `name\\nvalue\\n...`, names lower-case, latin1",
        ),
        (
            "body",
            "Buffer, when `body` is Whole (all of it) or HandedOver (what followed the head)",
        ),
        (
            "prelude",
            "string, when `prelude` is 1: what the native prelude decided (plan, notices, req.rateLimit values, headers; see xsys-http's prelude), latin1",
        ),
    ],
    trailing: Some("candidates"),
};
pub const BODY: EventLayout = EventLayout {
    name: "Body",
    tag: 2,
    numbers: &[ID],
    values: &[("chunk", "Buffer")],
    trailing: None,
};
pub const BODY_END: EventLayout = EventLayout {
    name: "BodyEnd",
    tag: 3,
    numbers: &[ID],
    values: &[],
    trailing: None,
};
pub const ABORTED: EventLayout = EventLayout {
    name: "Aborted",
    tag: 4,
    numbers: &[ID],
    values: &[],
    trailing: None,
};
pub const DRAIN: EventLayout = EventLayout {
    name: "Drain",
    tag: 5,
    numbers: &[ID],
    values: &[],
    trailing: None,
};
pub const CONNECTION_CLOSED: EventLayout = EventLayout {
    name: "ConnectionClosed",
    tag: 6,
    numbers: &[("id", "the connection id")],
    values: &[],
    trailing: None,
};
pub const CLOSED: EventLayout = EventLayout {
    name: "Closed",
    tag: 7,
    numbers: &[],
    values: &[],
    trailing: None,
};
pub const PRELUDE_NOTICES: EventLayout = EventLayout {
    name: "PreludeNotices",
    tag: 8,
    numbers: &[
        ("plan", "the native prelude's id"),
        (
            "bits",
            "what its rate limiters saw on their first request (3 bits each: came, X-Forwarded-For, Forwarded)",
        ),
    ],
    values: &[],
    trailing: None,
};
pub const DROPPED: EventLayout = EventLayout {
    name: "Dropped",
    tag: 9,
    numbers: &[
        (
            "family",
            "a connection closed as accepted, beyond server.maxConnections: 4 or 6; 0 on a Unix socket, which has no addresses or ports",
        ),
        ("remotePort", "the client's port"),
        ("localPort", "the server's port"),
    ],
    values: &[
        (
            "remoteAddress",
            "string: the client's address (not on a Unix socket)",
        ),
        (
            "localAddress",
            "string: the server's address (not on a Unix socket)",
        ),
    ],
    trailing: None,
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

/// Where an event's numbers and values go: the JS batch, or a recorder in tests.
trait Slots {
    /// napi's error for the JS array; none for a recorder.
    type Error;

    fn number(&mut self, n: f64);
    /// HTTP bytes are latin1 for Node (`req.url`, header values).
    fn latin1(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Error>;
    fn buffer(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Error>;

    fn tag(&mut self, layout: &EventLayout) {
        self.number(f64::from(layout.tag))
    }

    fn address(&mut self, addr: &SocketAddr) -> std::result::Result<(), Self::Error> {
        let ip = match addr {
            // Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`, keep that.
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => v6.ip().to_string(),
        };
        self.latin1(ip.as_bytes())
    }

    /// A connection's family and ports, then its addresses; a Unix socket has none (undefined,
    /// as in Node).
    fn peers(
        &mut self,
        remote: Option<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> std::result::Result<(), Self::Error> {
        match (remote, local) {
            (Some(remote), Some(local)) => {
                self.number(if local.is_ipv4() { 4.0 } else { 6.0 });
                self.number(f64::from(remote.port()));
                self.number(f64::from(local.port()));
                self.address(&remote)?;
                self.address(&local)?;
            }
            _ => {
                for _ in 0..3 {
                    self.number(0.0);
                }
            }
        }
        Ok(())
    }
}

/// The index of a method in [`HTTP_METHODS`] (METHODS in JS), as a number of the batch.
fn method_number(method: &str) -> f64 {
    HTTP_METHODS
        .iter()
        .position(|m| *m == method)
        .map_or(METHOD_AS_VALUE, |i| i as f64)
}

/// Writes one event, in [`LAYOUT`]'s order; `headers` is scratch space reused across events.
fn write_event<S: Slots>(
    w: &mut S,
    event: &Event,
    headers: &mut Vec<u8>,
) -> std::result::Result<(), S::Error> {
    match event {
        Event::Connection(info) => {
            w.tag(&CONNECTION);
            w.number(info.id as f64);
            w.peers(info.remote, info.local)?;
        }
        Event::Dropped { remote, local } => {
            w.tag(&DROPPED);
            w.peers(*remote, *local)?;
        }
        Event::Request(head) => {
            w.tag(&REQUEST);
            w.number(head.id as f64);
            w.number(head.connection as f64);
            let dropped = if head.beyond_max_requests { 2 } else { 0 };
            w.number(f64::from(head.http_minor + dropped));
            let method = method_number(head.method.as_str());
            w.number(method);
            let body = match &head.body {
                BodyPayload::Empty => BODY_NONE,
                BodyPayload::Streaming => BODY_STREAMS,
                BodyPayload::Complete(_) => BODY_WHOLE,
                // the rest of the connection's bytes follow as Body events
                BodyPayload::Tunnel(_) => BODY_HANDED_OVER,
            };
            w.number(f64::from(body));
            w.number(if head.prelude.is_some() { 1.0 } else { 0.0 });
            match &head.candidates {
                Some(LayerCandidates { version, ids }) => {
                    w.number((ids.len() + 1) as f64);
                    w.number(f64::from(*version));
                    for id in ids {
                        w.number(f64::from(*id));
                    }
                }
                None => w.number(0.0),
            }
            if method == METHOD_AS_VALUE {
                w.latin1(head.method.as_str().as_bytes())?;
            }
            w.latin1(&head.target)?;
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
                BodyPayload::Complete(bytes) | BodyPayload::Tunnel(bytes) => w.buffer(bytes)?,
                BodyPayload::Empty | BodyPayload::Streaming => {}
            }
            if let Some(text) = &head.prelude {
                w.latin1(text)?;
            }
        }
        Event::Body { id, chunk } => {
            w.tag(&BODY);
            w.number(*id as f64);
            w.buffer(chunk)?;
        }
        Event::BodyEnd { id } => {
            w.tag(&BODY_END);
            w.number(*id as f64);
        }
        Event::Aborted { id } => {
            w.tag(&ABORTED);
            w.number(*id as f64);
        }
        Event::Drain { id } => {
            w.tag(&DRAIN);
            w.number(*id as f64);
        }
        Event::ConnectionClosed { id } => {
            w.tag(&CONNECTION_CLOSED);
            w.number(*id as f64);
        }
        Event::Closed => w.tag(&CLOSED),
        Event::PreludeNotices { plan, bits } => {
            w.tag(&PRELUDE_NOTICES);
            w.number(f64::from(*plan));
            w.number(f64::from(*bits));
        }
    }
    Ok(())
}

/// The JS batch being filled: its values, and the numbers that go before them. Made only inside
/// `into_vec`, whose `env` is live for as long as the writer is.
struct Writer {
    env: sys::napi_env,
    values: Vec<sys::napi_value>,
    numbers: Vec<f64>,
}

impl Writer {
    fn push(&mut self, value: sys::napi_value) -> Result<()> {
        self.values.push(value);
        Ok(())
    }

    /// The numbers as a Float64Array, one copy.
    fn numbers_array(&self) -> Result<sys::napi_value> {
        let mut buffer = ptr::null_mut();
        let mut data: *mut c_void = ptr::null_mut();
        let bytes = std::mem::size_of_val(self.numbers.as_slice());
        // SAFETY: env is live; napi gives `bytes` writable bytes at `data`.
        check_status!(unsafe {
            sys::napi_create_arraybuffer(self.env, bytes, &mut data, &mut buffer)
        })?;
        if bytes != 0 {
            // SAFETY: `data` holds `bytes` writable bytes, the numbers are `bytes` long, and the
            // two do not overlap (copied as bytes: no alignment is assumed).
            unsafe {
                ptr::copy_nonoverlapping(
                    self.numbers.as_ptr().cast::<u8>(),
                    data.cast::<u8>(),
                    bytes,
                )
            };
        }
        let mut array = ptr::null_mut();
        // SAFETY: env is live; the buffer was created above and holds exactly these numbers.
        check_status!(unsafe {
            sys::napi_create_typedarray(
                self.env,
                sys::TypedarrayType::float64_array,
                self.numbers.len(),
                buffer,
                0,
                &mut array,
            )
        })?;
        Ok(array)
    }
}

impl Slots for Writer {
    type Error = napi::Error;

    fn number(&mut self, n: f64) {
        self.numbers.push(n);
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
        self.push(value)
    }
}

/// Values passed as arguments beyond this many go in one array instead: a call's arguments live
/// on the stack, an array's elements do not.
const SPREAD_VALUES_MAX: usize = 1024;

// The batch is the arguments of the JS call: `(numbers, packed, ...values)`, with `packed`
// undefined and the values spread (no Node-API call per value to place it), or, for a batch with
// very many values, `packed` the array of them.
impl JsValuesTupleIntoVec for EventBatch {
    fn into_vec(self, env: sys::napi_env) -> Result<Vec<sys::napi_value>> {
        let mut w = Writer {
            env,
            values: Vec::with_capacity(self.0.len() * 3 + 2),
            numbers: Vec::with_capacity(self.0.len() * REQUEST.stride()),
        };
        // the numbers and `packed` go first, once known
        w.values.extend([ptr::null_mut(), ptr::null_mut()]);
        let mut headers = Vec::with_capacity(256);
        for event in &self.0 {
            write_event(&mut w, event, &mut headers)?;
        }
        w.values[0] = w.numbers_array()?;
        if w.values.len() - 2 <= SPREAD_VALUES_MAX {
            // SAFETY: env is live.
            check_status!(unsafe { sys::napi_get_undefined(env, &mut w.values[1]) })?;
            return Ok(w.values);
        }
        let mut packed = ptr::null_mut();
        // SAFETY: env is live; every value was created in this call.
        check_status!(unsafe {
            sys::napi_create_array_with_length(env, w.values.len() - 2, &mut packed)
        })?;
        for (i, value) in w.values.drain(2..).enumerate() {
            check_status!(unsafe { sys::napi_set_element(env, packed, i as u32, value) })?;
        }
        w.values[1] = packed;
        Ok(w.values)
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
         // The engine's event batch comes as the arguments of one call: a Float64Array of the events'\n\
         // numbers (each event is its tag, then its numbers in this order), then the events' strings\n\
         // and Buffers, in event order, each event's in the order given below (spread, or in one array\n\
         // when there are very many). The reader indexes the numbers with these constants (inlined by\n\
         // the build) and takes the values one after the other.\n\n\
         export enum Tag {\n",
    );
    for layout in LAYOUT {
        ts += &format!("  {} = {},\n", layout.name, layout.tag);
    }
    ts += "}\n\n/** Tags at or above this one are unknown: the rest of the batch cannot be read. */\n";
    ts += &format!("export const TAG_COUNT = {}\n", LAYOUT.len());
    ts += "\n/** A request's method by its number (Node's http.METHODS). */\nexport const METHODS: readonly string[] = [\n";
    for method in HTTP_METHODS {
        ts += &format!("  '{method}',\n");
    }
    ts += "]\n\n/** What the Request event's `body` number says. */\nexport enum BodyKind {\n";
    for (name, value) in [
        ("None", BODY_NONE),
        ("Streams", BODY_STREAMS),
        ("Whole", BODY_WHOLE),
        ("HandedOver", BODY_HANDED_OVER),
    ] {
        ts += &format!("  {name} = {value},\n");
    }
    ts += "}\n";
    for layout in LAYOUT {
        let trailing = layout.trailing.map_or(String::new(), |count| {
            format!(", then as many numbers as `{count}` says")
        });
        ts += &format!(
            "\n/** Numbers of the {} event after its tag{trailing}; Stride counts the tag too. */\nexport enum {}Event {{\n",
            layout.name, layout.name
        );
        for (i, (name, meaning)) in layout.numbers.iter().enumerate() {
            ts += &format!("  /** {meaning} */\n  {} = {},\n", pascal(name), i + 1);
        }
        ts += &format!("  Stride = {},\n}}\n", layout.stride());
        if !layout.values.is_empty() {
            ts += &format!("// Values of the {} event, in order:\n", layout.name);
            for (name, meaning) in layout.values {
                ts += &format!("// - {name}: {meaning}\n");
            }
        }
    }
    ts
}

#[cfg(test)]
mod tests;
