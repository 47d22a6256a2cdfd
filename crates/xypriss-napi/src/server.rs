//! `NativeServer`: one listener of the engine, its route mirror, and the threadsafe function that
//! carries its events to JS.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Result, Status};
use napi_derive::napi;
use xsys_http::native::NotFoundPage;
use xsys_http::{
    Bound, EventQueue, Exchange, Limits, ListenOptions, ResponseHead, RoutingMirror, Server, Wake,
};
use xsys_router::{LayerId, Methods, RouteTable, TableOptions};

use crate::batch::EventBatch;
use crate::errors::{throw, throw_engine, INVALID_STATE, NOT_LISTENING, ROUTE_PATTERN};
use crate::prelude::PreludePlan;

type EventsFn = ThreadsafeFunction<(), (), EventBatch, Status, false>;

/// Wakes the JS thread; empty once the server closed, so late events cost nothing.
#[derive(Default)]
struct JsWake {
    events_fn: Mutex<Option<EventsFn>>,
}

struct SharedWake(Arc<JsWake>);

impl Wake for SharedWake {
    fn wake(&self) {
        let guard = self.0.events_fn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(events_fn) = guard.as_ref() {
            events_fn.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

#[napi(object)]
pub struct AddressInfo {
    pub address: String,
    pub family: String,
    pub port: u32,
}

#[napi(object)]
pub struct ListenConfig {
    /// A Unix socket path; host and port are then ignored.
    pub path: Option<String>,
    pub host: Option<String>,
    pub port: u32,
    pub backlog: Option<i32>,
    /// Milliseconds to receive a request head, then 408 (`server.headersTimeout`).
    pub headers_timeout: Option<u32>,
    /// Milliseconds announced to keep an idle connection; it is closed 1 s later (keepAliveTimeout).
    pub keep_alive_timeout: Option<u32>,
    pub max_header_size: Option<u32>,
    pub max_headers: Option<u32>,
}

#[napi(object)]
pub struct EngineStats {
    pub events: f64,
    pub wakeups: f64,
    pub drains: f64,
    pub max_batch: f64,
    pub native_calls: f64,
    pub in_flight: u32,
    pub connections: u32,
}

#[napi]
pub struct NativeServer {
    routing: Arc<RoutingMirror>,
    wake: Arc<JsWake>,
    queue: Option<Arc<EventQueue>>,
    server: Option<Server>,
}

impl Default for NativeServer {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl NativeServer {
    #[napi(constructor)]
    pub fn new() -> Self {
        NativeServer {
            routing: RoutingMirror::new(),
            wake: Arc::default(),
            queue: None,
            server: None,
        }
    }

    /// Binds and starts accepting. `on_events` receives one flat array per wake-up (see batch.rs).
    #[napi]
    pub fn listen(
        &mut self,
        env: Env,
        config: ListenConfig,
        #[napi(ts_arg_type = "(batch: unknown[]) => void")] on_events: Function<'_, EventBatch, ()>,
    ) -> Result<AddressInfo> {
        if self.server.is_some() {
            return Err(throw(
                &env,
                "ERR_SERVER_ALREADY_LISTEN",
                "Listen method has been called more than once without closing.",
            ));
        }
        let queue = EventQueue::new(SharedWake(self.wake.clone()));
        let weak_queue: Weak<EventQueue> = Arc::downgrade(&queue);
        let events_fn: EventsFn = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |_ctx| {
                let events = weak_queue.upgrade().map(|q| q.drain()).unwrap_or_default();
                Ok(EventBatch(events))
            })?;
        *self
            .wake
            .events_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(events_fn);

        let defaults = Limits::default();
        let limits = Limits {
            headers_timeout: config
                .headers_timeout
                .map_or(defaults.headers_timeout, |ms| {
                    Duration::from_millis(u64::from(ms))
                }),
            max_header_size: config
                .max_header_size
                .map_or(defaults.max_header_size, |n| n as usize),
            max_headers: config
                .max_headers
                .map_or(defaults.max_headers, |n| n as usize),
            keep_alive: config.keep_alive_timeout.map_or(defaults.keep_alive, |ms| {
                Duration::from_millis(u64::from(ms))
            }),
            ..defaults
        };
        let options = ListenOptions {
            path: config
                .path
                .filter(|p| !p.is_empty())
                .map(std::path::PathBuf::from),
            host: config.host.filter(|h| !h.is_empty()),
            port: u16::try_from(config.port).map_err(|_| {
                throw(
                    &env,
                    "ERR_SOCKET_BAD_PORT",
                    "port should be >= 0 and < 65536",
                )
            })?,
            backlog: config.backlog.unwrap_or(511),
            limits,
        };
        match Server::listen(options, queue.clone(), self.routing.clone()) {
            Ok(server) => {
                let info = match server.bound() {
                    Bound::Tcp(addr) => AddressInfo {
                        address: addr.ip().to_string(),
                        family: if addr.is_ipv4() {
                            "IPv4".into()
                        } else {
                            "IPv6".into()
                        },
                        port: u32::from(addr.port()),
                    },
                    // JS reports the path itself as the address, as Node does.
                    Bound::Unix(path) => AddressInfo {
                        address: path.display().to_string(),
                        family: "Unix".into(),
                        port: 0,
                    },
                };
                self.server = Some(server);
                self.queue = Some(queue);
                Ok(info)
            }
            Err(e) => {
                self.release();
                let code = e.io_error().map_or("ENOTFOUND", |io| errno_code(io));
                Err(throw(&env, code, &e.to_string()))
            }
        }
    }

    /// Stops accepting; in-flight requests finish; the closed event follows.
    #[napi]
    pub fn close(&mut self, env: Env) -> Result<()> {
        match self.server.take() {
            Some(server) => {
                server.close();
                Ok(())
            }
            None => Err(throw(&env, NOT_LISTENING, "Server is not running.")),
        }
    }

    /// Drops the threadsafe function so Node can exit; called after the closed event.
    #[napi]
    pub fn release(&mut self) {
        self.wake
            .events_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.queue = None;
    }

    // Node's `server.ref()/unref()` act on this one handle; napi-rs would rather clone it,
    // which cannot express "let the process exit while still listening".
    #[allow(deprecated)]
    #[napi(js_name = "ref")]
    pub fn refer(&self, env: Env) -> Result<()> {
        if let Some(f) = self
            .wake
            .events_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            f.refer(&env)?;
        }
        Ok(())
    }

    #[allow(deprecated)]
    #[napi]
    pub fn unref(&self, env: Env) -> Result<()> {
        if let Some(f) = self
            .wake
            .events_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            f.unref(&env)?;
        }
        Ok(())
    }

    #[napi]
    pub fn connections(&self) -> u32 {
        self.server.as_ref().map_or(0, |s| s.connections() as u32)
    }

    #[napi]
    pub fn stats(&self) -> EngineStats {
        let (events, wakeups, drains, max_batch) = self.queue.as_ref().map_or((0, 0, 0, 0), |q| {
            (
                q.stats.events.load(Ordering::Relaxed),
                q.stats.wakeups.load(Ordering::Relaxed),
                q.stats.drains.load(Ordering::Relaxed),
                q.stats.max_batch.load(Ordering::Relaxed),
            )
        });
        EngineStats {
            events: events as f64,
            wakeups: wakeups as f64,
            drains: drains as f64,
            max_batch: max_batch as f64,
            native_calls: Exchange::global().native_calls() as f64,
            in_flight: Exchange::in_flight() as u32,
            connections: self.connections(),
        }
    }

    /// The page for a request no mirrored layer can match: a status, a header block
    /// (`name:value\n`...) and the body's three parts around the method and the path.
    #[napi]
    pub fn set_not_found_page(
        &self,
        env: Env,
        status: u32,
        headers: String,
        body: Vec<String>,
    ) -> Result<()> {
        let head =
            ResponseHead::from_block(status, &headers).map_err(|e| throw_engine(&env, &e))?;
        let parts: [String; 3] = body
            .try_into()
            .map_err(|_| throw(&env, INVALID_STATE, "the page's body has three parts"))?;
        self.routing.set_not_found(NotFoundPage::new(head, parts));
        Ok(())
    }

    /// The headers every response has before the app's stack runs (Express's X-Powered-By), as a
    /// header block: native answers start from them.
    #[napi]
    pub fn set_initial_headers(&self, env: Env, headers: String) -> Result<()> {
        self.routing
            .set_initial_headers(&headers)
            .map_err(|e| throw_engine(&env, &e))
    }

    /// `server.headersTimeout` / `server.keepAliveTimeout` changed while listening, in ms.
    #[napi]
    pub fn set_timeouts(&self, headers_timeout: u32, keep_alive_timeout: u32) {
        if let Some(server) = &self.server {
            server.set_timeouts(
                Duration::from_millis(u64::from(headers_timeout)),
                Duration::from_millis(u64::from(keep_alive_timeout)),
            );
        }
    }

    /// Closes every HTTP connection now (`server.closeAllConnections()`).
    #[napi]
    pub fn close_all_connections(&self) {
        if let Some(server) = &self.server {
            server.close_all_connections();
        }
    }

    #[napi]
    pub fn set_connect_listener(&self, on: bool) {
        self.routing.set_connect_listener(on);
    }

    /// Whether the server has `'upgrade'` listeners, which take over Upgrade requests.
    #[napi]
    pub fn set_upgrade_listener(&self, on: bool) {
        self.routing.set_upgrade_listener(on);
    }

    /// Starts a fresh mirror of the app's stack at `version`; until then every request goes to JS.
    #[napi]
    pub fn reset_routes(&self, case_sensitive: bool, strict: bool, version: u32) {
        self.routing.update(|table| {
            *table = Some(RouteTable::new(TableOptions {
                case_sensitive,
                strict,
            }))
        });
        self.routing.set_version(version);
    }

    /// Turns the mirror and the native prelude off: the app has something the table cannot
    /// model, or requests may not reach the app (its 'request' listeners changed). A prelude can
    /// be set again afterwards.
    #[napi]
    pub fn disable_routes(&self) {
        self.routing.update(|table| *table = None);
        self.routing.set_prelude(None);
    }

    /// Runs `plan`'s stages natively before each request reaches JS (see prelude.rs).
    #[napi]
    pub fn set_prelude(&self, env: Env, plan: &PreludePlan) -> Result<()> {
        self.routing.set_prelude(Some(plan.build(&env)?));
        Ok(())
    }

    /// No native prelude: the app's middleware all run in JS.
    #[napi]
    pub fn clear_prelude(&self) {
        self.routing.set_prelude(None);
    }

    /// Mirrors one layer: `end` for a route (whole path), not for middleware (prefix). A string
    /// path and a one-element array differ, as in Express: `'/'` matches everything, `['/']`
    /// only `/`.
    #[napi]
    pub fn insert_route(
        &self,
        env: Env,
        id: u32,
        paths: Either<String, Vec<String>>,
        end: bool,
        methods: Vec<String>,
    ) -> Result<()> {
        let methods = methods_of(&methods);
        self.routing.update(|table| {
            let Some(table) = table.as_mut() else {
                return Ok(());
            };
            let inserted = match &paths {
                Either::A(path) => table.insert(LayerId(id), path, end, methods),
                Either::B(list) => {
                    let list: Vec<&str> = list.iter().map(String::as_str).collect();
                    table.insert_paths(LayerId(id), &list, end, methods)
                }
            };
            inserted.map_err(|e| throw(&env, ROUTE_PATTERN, &e.to_string()))
        })
    }

    #[napi]
    pub fn set_route_methods(&self, env: Env, id: u32, methods: Vec<String>) -> Result<()> {
        let methods = methods_of(&methods);
        self.routing.update(|table| match table.as_mut() {
            Some(table) => table
                .set_methods(LayerId(id), methods)
                .map_err(|e| throw(&env, ROUTE_PATTERN, &e.to_string())),
            None => Ok(()),
        })
    }
}

fn methods_of(names: &[String]) -> Methods {
    names.iter().fold(Methods::default(), |all, name| {
        all | if name == "ALL" {
            Methods::ALL
        } else {
            Methods::from_name(name)
        }
    })
}

/// Node's error codes for the listen failures users handle.
fn errno_code(error: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match error.kind() {
        AddrInUse => "EADDRINUSE",
        AddrNotAvailable => "EADDRNOTAVAIL",
        PermissionDenied => "EACCES",
        InvalidInput => "EINVAL",
        _ => "EIO",
    }
}
