//! One JS array per wake-up, carrying every event that accumulated since the last one.
//!
//! The array is flat (a tag then the fields of each event) because building one array costs far
//! fewer Node-API calls than an object per event. `lib/engine/events.ts` decodes it; the tags
//! and field order below are the contract between the two.

use std::ffi::c_void;
use std::net::SocketAddr;
use std::ptr;

use napi::bindgen_prelude::ToNapiValue;
use napi::{check_status, sys, Result};
use xsys_http::{BodyPayload, Event};

pub const TAG_CONNECTION: f64 = 0.0; // id, remoteAddress, remotePort, family, localAddress, localPort
pub const TAG_REQUEST: f64 = 1.0; // id, connection, method, url, httpMinor, headers, body, candidates, prelude
pub const TAG_BODY: f64 = 2.0; // id, chunk
pub const TAG_BODY_END: f64 = 3.0; // id
pub const TAG_ABORTED: f64 = 4.0; // id
pub const TAG_DRAIN: f64 = 5.0; // id
pub const TAG_CONNECTION_CLOSED: f64 = 6.0; // id
pub const TAG_CLOSED: f64 = 7.0;
pub const TAG_PRELUDE_NOTICES: f64 = 8.0; // plan, bits

pub struct EventBatch(pub Vec<Event>);

struct Writer {
    env: sys::napi_env,
    array: sys::napi_value,
    index: u32,
}

impl Writer {
    unsafe fn push(&mut self, value: sys::napi_value) -> Result<()> {
        check_status!(unsafe { sys::napi_set_element(self.env, self.array, self.index, value) })?;
        self.index += 1;
        Ok(())
    }

    unsafe fn number(&mut self, n: f64) -> Result<()> {
        let mut value = ptr::null_mut();
        check_status!(unsafe { sys::napi_create_double(self.env, n, &mut value) })?;
        unsafe { self.push(value) }
    }

    /// HTTP bytes are latin1 for Node (`req.url`, header values).
    unsafe fn latin1(&mut self, bytes: &[u8]) -> Result<()> {
        let mut value = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_string_latin1(
                self.env,
                bytes.as_ptr().cast(),
                bytes.len() as isize,
                &mut value,
            )
        })?;
        unsafe { self.push(value) }
    }

    unsafe fn buffer(&mut self, bytes: &[u8]) -> Result<()> {
        let mut value = ptr::null_mut();
        let mut data: *mut c_void = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_buffer_copy(
                self.env,
                bytes.len(),
                bytes.as_ptr().cast(),
                &mut data,
                &mut value,
            )
        })?;
        unsafe { self.push(value) }
    }

    unsafe fn undefined(&mut self) -> Result<()> {
        let mut value = ptr::null_mut();
        check_status!(unsafe { sys::napi_get_undefined(self.env, &mut value) })?;
        unsafe { self.push(value) }
    }

    unsafe fn boolean(&mut self, b: bool) -> Result<()> {
        let mut value = ptr::null_mut();
        check_status!(unsafe { sys::napi_get_boolean(self.env, b, &mut value) })?;
        unsafe { self.push(value) }
    }

    unsafe fn address(&mut self, addr: &SocketAddr) -> Result<()> {
        let ip = match addr {
            // Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`, keep that.
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => v6.ip().to_string(),
        };
        unsafe { self.latin1(ip.as_bytes()) }
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
        for event in batch.0 {
            unsafe {
                match event {
                    Event::Connection(info) => {
                        w.number(TAG_CONNECTION)?;
                        w.number(info.id as f64)?;
                        // A Unix socket has no addresses: undefined, as in Node.
                        match (info.remote, info.local) {
                            (Some(remote), Some(local)) => {
                                w.address(&remote)?;
                                w.number(f64::from(remote.port()))?;
                                w.number(if local.is_ipv4() { 4.0 } else { 6.0 })?;
                                w.address(&local)?;
                                w.number(f64::from(local.port()))?;
                            }
                            _ => {
                                for _ in 0..5 {
                                    w.undefined()?;
                                }
                            }
                        }
                    }
                    Event::Request(head) => {
                        w.number(TAG_REQUEST)?;
                        w.number(head.id as f64)?;
                        w.number(head.connection as f64)?;
                        w.latin1(head.method.as_str().as_bytes())?;
                        w.latin1(&head.target)?;
                        w.number(f64::from(head.http_minor))?;
                        headers.clear();
                        for (name, value) in &head.headers {
                            headers.extend_from_slice(name.as_str().as_bytes());
                            headers.push(b'\n');
                            headers.extend_from_slice(value.as_bytes());
                            headers.push(b'\n');
                        }
                        headers.pop();
                        w.latin1(&headers)?;
                        match &head.body {
                            BodyPayload::Empty => w.boolean(false)?,
                            BodyPayload::Streaming => w.boolean(true)?,
                            BodyPayload::Complete(bytes) => w.buffer(bytes)?,
                            // [head]: the connection is handed over; `head` is what followed the
                            // request head in the same read, the rest follows as BODY.
                            BodyPayload::Tunnel(head) => {
                                let mut list = ptr::null_mut();
                                check_status!(sys::napi_create_array_with_length(
                                    env, 1, &mut list
                                ))?;
                                let mut data: *mut std::ffi::c_void = ptr::null_mut();
                                let mut buffer = ptr::null_mut();
                                check_status!(sys::napi_create_buffer_copy(
                                    env,
                                    head.len(),
                                    head.as_ptr().cast(),
                                    &mut data,
                                    &mut buffer
                                ))?;
                                check_status!(sys::napi_set_element(env, list, 0, buffer))?;
                                w.push(list)?;
                            }
                        }
                        // [version, index, index, ...] or undefined
                        match &head.candidates {
                            Some(c) => {
                                let mut list = ptr::null_mut();
                                check_status!(sys::napi_create_array_with_length(
                                    env,
                                    c.ids.len() + 1,
                                    &mut list
                                ))?;
                                let mut element = ptr::null_mut();
                                check_status!(sys::napi_create_uint32(
                                    env,
                                    c.version,
                                    &mut element
                                ))?;
                                check_status!(sys::napi_set_element(env, list, 0, element))?;
                                for (i, id) in c.ids.iter().enumerate() {
                                    check_status!(sys::napi_create_uint32(env, *id, &mut element))?;
                                    check_status!(sys::napi_set_element(
                                        env,
                                        list,
                                        i as u32 + 1,
                                        element
                                    ))?;
                                }
                                w.push(list)?;
                            }
                            None => {
                                let mut undefined = ptr::null_mut();
                                check_status!(sys::napi_get_undefined(env, &mut undefined))?;
                                w.push(undefined)?;
                            }
                        }
                        // What the native prelude decided (see xsys-http's prelude.rs), or
                        // undefined when it did not run.
                        match &head.prelude {
                            Some(text) => w.latin1(text)?,
                            None => w.undefined()?,
                        }
                    }
                    Event::Body { id, chunk } => {
                        w.number(TAG_BODY)?;
                        w.number(id as f64)?;
                        w.buffer(&chunk)?;
                    }
                    Event::BodyEnd { id } => {
                        w.number(TAG_BODY_END)?;
                        w.number(id as f64)?;
                    }
                    Event::Aborted { id } => {
                        w.number(TAG_ABORTED)?;
                        w.number(id as f64)?;
                    }
                    Event::Drain { id } => {
                        w.number(TAG_DRAIN)?;
                        w.number(id as f64)?;
                    }
                    Event::ConnectionClosed { id } => {
                        w.number(TAG_CONNECTION_CLOSED)?;
                        w.number(id as f64)?;
                    }
                    Event::Closed => w.number(TAG_CLOSED)?,
                    Event::PreludeNotices { plan, bits } => {
                        w.number(TAG_PRELUDE_NOTICES)?;
                        w.number(f64::from(plan))?;
                        w.number(f64::from(bits))?;
                    }
                }
            }
        }
        Ok(array)
    }
}
