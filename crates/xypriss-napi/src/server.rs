//! `NativeServer`: one JS thread's side of a listener: the listener itself when this thread
//! bound it, the thread's place among those serving it, its route mirror, and the threadsafe
//! function that carries its events to JS.
//!
//! A server without workers binds and serves from the same thread. With workers, the main thread
//! binds (`listen` with `serving: false`) and each worker thread serves the same listener
//! (`attach` with its id), which it finds in the process; none of them binds again.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Result, Status};
use napi_derive::napi;
use xsys_http::native::NotFoundPage;
use xsys_http::{
    Attachment, Bound, EventQueue, Exchange, HeadLimits, Limits, ListenOptions, Listener,
    ResponseHead, RouteDraft, RoutingMirror, Server, Wake,
};
use xsys_router::{LayerId, Methods, TableOptions};

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
    pub limits: LimitsConfig,
    /// `false`: this thread only owns the listener; worker threads serve it (`attach`).
    pub serving: Option<bool>,
}

/// Node's server settings, as `lib/engine/server.ts` reads them off the server (Node's defaults
/// when absent).
#[napi(object)]
pub struct LimitsConfig {
    /// Milliseconds to receive a request head, then 408 (`server.headersTimeout`); 0 for none.
    pub headers_timeout: Option<u32>,
    /// Milliseconds to receive a whole request, then 408 (`server.requestTimeout`); 0 for none.
    pub request_timeout: Option<u32>,
    /// Milliseconds announced to keep an idle connection; it is closed 1 s later (keepAliveTimeout).
    pub keep_alive_timeout: Option<u32>,
    /// Node's maxHeaderSize (the server's, else `http.maxHeaderSize`).
    pub max_header_size: Option<u32>,
    /// Node's maxHeadersCount in header lines; 0 for no limit.
    pub max_headers_count: Option<u32>,
    /// Node 22 and later refuse more header lines than maxHeadersCount; Node 20 cuts them.
    pub refuse_extra_headers: Option<bool>,
    /// Node's maxRequestsPerSocket; 0 for none.
    pub max_requests_per_socket: Option<u32>,
    /// Node's maxConnections; absent for none.
    pub max_connections: Option<u32>,
}

impl From<&LimitsConfig> for Limits {
    fn from(config: &LimitsConfig) -> Limits {
        let defaults = Limits::default();
        let ms = |ms: Option<u32>, default: Duration| {
            ms.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
        };
        Limits {
            headers_timeout: ms(config.headers_timeout, defaults.headers_timeout),
            request_timeout: ms(config.request_timeout, defaults.request_timeout),
            keep_alive: ms(config.keep_alive_timeout, defaults.keep_alive),
            head: HeadLimits {
                max_size: config
                    .max_header_size
                    .map_or(defaults.head.max_size, |n| n as usize),
                max_lines: match config.max_headers_count {
                    Some(0) => None,
                    Some(n) => Some(n as usize),
                    None => defaults.head.max_lines,
                },
                refuse_extra_lines: config
                    .refuse_extra_headers
                    .unwrap_or(defaults.head.refuse_extra_lines),
            },
            max_requests_per_socket: config.max_requests_per_socket.unwrap_or(0),
            max_connections: config.max_connections,
            ..defaults
        }
    }
}

#[napi(object)]
pub struct EngineStats {
    /// Requests handed to JS threads (all of the listener's, for its owner).
    pub requests: f64,
    pub events: f64,
    pub wakeups: f64,
    pub drains: f64,
    pub max_batch: f64,
    pub native_calls: f64,
    pub in_flight: u32,
    pub connections: u32,
    /// JS threads serving the listener.
    pub threads: u32,
    /// Distinct route tables in the process (the threads of one app share one).
    pub route_tables: u32,
}

#[napi]
pub struct NativeServer {
    routing: Arc<RoutingMirror>,
    /// The route table being mirrored, published whole by `commit_routes`.
    draft: Option<(RouteDraft, u32)>,
    wake: Arc<JsWake>,
    queue: Option<Arc<EventQueue>>,
    /// The listener, when this thread bound it.
    server: Option<Server>,
    /// This thread's place among the listener's serving threads; shared with the hook that
    /// abandons it if the thread's environment ends first.
    serving: Option<Arc<Serving>>,
}

/// A thread serving a listener, and the listener (a worker thread holds it through this).
struct Serving {
    attachment: Attachment,
    listener: Listener,
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
            draft: None,
            wake: Arc::default(),
            queue: None,
            server: None,
            serving: None,
        }
    }

    fn listener(&self) -> Option<&Listener> {
        match (&self.server, &self.serving) {
            (Some(server), _) => Some(server.listener()),
            (None, Some(serving)) => Some(&serving.listener),
            (None, None) => None,
        }
    }

    /// A queue for this thread's events, drained into `on_events` on the JS thread.
    fn open_queue(&self, on_events: Function<'_, EventBatch, ()>) -> Result<Arc<EventQueue>> {
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
        Ok(queue)
    }

    /// Binds and starts accepting. `on_events` is called once per wake-up with a batch of events (see batch.rs).
    #[napi]
    pub fn listen(
        &mut self,
        env: Env,
        config: ListenConfig,
        #[napi(
            ts_arg_type = "(numbers: Float64Array, packed: unknown[] | undefined, ...values: unknown[]) => void"
        )]
        on_events: Function<'_, EventBatch, ()>,
    ) -> Result<AddressInfo> {
        if self.server.is_some() || self.serving.is_some() {
            return Err(already_listening(&env));
        }
        let queue = self.open_queue(on_events)?;
        let serving = config.serving.unwrap_or(true);

        let limits = Limits::from(&config.limits);
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
        match Server::listen(options, queue.clone()) {
            Ok(server) => {
                let info = address_info(server.bound());
                if serving {
                    let attachment = server
                        .threads()
                        .attach(0, queue.clone(), self.routing.clone())
                        .ok_or_else(|| throw(&env, NOT_LISTENING, "the server closed"))?;
                    self.serving = Some(Arc::new(Serving {
                        attachment,
                        listener: server.listener().clone(),
                    }));
                }
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

    /// The id worker threads find this thread's listener by (`attach`).
    #[napi]
    pub fn listener_id(&self) -> Option<u32> {
        self.server.as_ref().map(|server| server.listener().id())
    }

    /// Serves the listener `listener` bound by another thread of the process, from this thread:
    /// requests come to `on_events` as to a server that bound it. `thread_key` names this thread
    /// to the owner (`abandon_thread`). If this thread's environment ends while serving (its JS
    /// died), its requests in flight are closed and it gets no more.
    #[napi]
    pub fn attach(
        &mut self,
        env: Env,
        listener: u32,
        thread_key: u32,
        #[napi(
            ts_arg_type = "(numbers: Float64Array, packed: unknown[] | undefined, ...values: unknown[]) => void"
        )]
        on_events: Function<'_, EventBatch, ()>,
    ) -> Result<AddressInfo> {
        if self.server.is_some() || self.serving.is_some() {
            return Err(already_listening(&env));
        }
        let found = Listener::find(listener)
            .ok_or_else(|| throw(&env, NOT_LISTENING, "the shared server is not listening"))?;
        let queue = self.open_queue(on_events)?;
        let Some(attachment) =
            found
                .threads()
                .attach(thread_key, queue.clone(), self.routing.clone())
        else {
            self.release();
            return Err(throw(&env, NOT_LISTENING, "the shared server is closing"));
        };
        let serving = Arc::new(Serving {
            attachment,
            listener: found,
        });
        let hooked = env.add_env_cleanup_hook(Arc::downgrade(&serving), |serving| {
            if let Some(serving) = serving.upgrade() {
                serving.attachment.abandon();
            }
        });
        if let Err(error) = hooked {
            serving.attachment.abandon();
            self.release();
            return Err(error);
        }
        let info = address_info(serving.listener.bound());
        self.serving = Some(serving);
        self.queue = Some(queue);
        Ok(info)
    }

    /// Stops accepting; in-flight requests finish; the closed event follows. On a thread that
    /// serves another's listener, only this thread stops: it takes no new request and its closed
    /// event follows once its requests in flight are done.
    #[napi]
    pub fn close(&mut self, env: Env) -> Result<()> {
        if let Some(server) = self.server.take() {
            server.close();
            return Ok(());
        }
        match self.serving.take() {
            Some(serving) => {
                serving.attachment.detach();
                Ok(())
            }
            None => Err(throw(&env, NOT_LISTENING, "Server is not running.")),
        }
    }

    /// This thread's JS is about to die (an uncaught exception): it takes no new request, and
    /// its requests in flight are closed now rather than left waiting for it.
    #[napi]
    pub fn abandon(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.attachment.abandon();
        }
        self.release();
    }

    /// On the thread that bound the listener: the serving thread `thread_key` died (see
    /// `abandon`); false when it was not serving any more.
    #[napi]
    pub fn abandon_thread(&self, thread_key: u32) -> bool {
        self.server
            .as_ref()
            .is_some_and(|server| server.threads().abandon_thread(thread_key))
    }

    /// Drops the threadsafe function so Node can exit; called after the closed event. Events that
    /// come later are dropped.
    #[napi]
    pub fn release(&mut self) {
        self.wake
            .events_fn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(queue) = self.queue.take() {
            queue.shut();
        }
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
        self.listener().map_or(0, |l| l.connections() as u32)
    }

    /// This thread's counters; for the owner of a listener served by worker threads, those of
    /// every serving thread summed.
    #[napi]
    pub fn stats(&self) -> EngineStats {
        let queues = match (&self.server, &self.serving) {
            (Some(server), None) => server.threads().queues(),
            _ => self.queue.iter().cloned().collect(),
        };
        let mut stats = EngineStats {
            requests: 0.0,
            events: 0.0,
            wakeups: 0.0,
            drains: 0.0,
            max_batch: 0.0,
            native_calls: Exchange::global().native_calls() as f64,
            in_flight: Exchange::in_flight() as u32,
            connections: self.connections(),
            threads: self.listener().map_or(0, |l| l.threads().count() as u32),
            route_tables: xsys_http::route_tables() as u32,
        };
        for q in queues {
            let read =
                |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed) as f64;
            stats.requests += read(&q.stats.requests);
            stats.events += read(&q.stats.events);
            stats.wakeups += read(&q.stats.wakeups);
            stats.drains += read(&q.stats.drains);
            stats.max_batch = stats.max_batch.max(read(&q.stats.max_batch));
        }
        stats
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

    /// Node's server settings changed while listening (see `Listener::set_limits` for when each
    /// applies), from a worker thread too: the listener is one.
    #[napi]
    pub fn set_limits(&self, limits: LimitsConfig) {
        if let Some(listener) = self.listener() {
            listener.set_limits(&Limits::from(&limits));
        }
    }

    /// Closes every HTTP connection of the listener now (`server.closeAllConnections()`).
    #[napi]
    pub fn close_all_connections(&self) {
        if let Some(listener) = self.listener() {
            listener.close_all_connections();
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

    /// Starts a fresh mirror of the app's stack at `version`; the table in use stays until
    /// `commit_routes`.
    #[napi]
    pub fn reset_routes(&mut self, case_sensitive: bool, strict: bool, version: u32) {
        let options = TableOptions {
            case_sensitive,
            strict,
        };
        self.draft = Some((RouteDraft::new(options), version));
    }

    /// Routes requests with the table mirrored since `reset_routes` from now on (one table for
    /// every thread that mirrored the same stack).
    #[napi]
    pub fn commit_routes(&mut self) {
        if let Some((draft, version)) = self.draft.take() {
            self.routing.publish(Some(draft), version);
        }
    }

    /// Turns the mirror and the native prelude off: the app has something the table cannot
    /// model, or requests may not reach the app (its 'request' listeners changed). A prelude can
    /// be set again afterwards.
    #[napi]
    pub fn disable_routes(&mut self) {
        self.draft = None;
        self.routing.publish(None, 0);
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
        &mut self,
        env: Env,
        id: u32,
        paths: Either<String, Vec<String>>,
        end: bool,
        methods: Vec<String>,
    ) -> Result<()> {
        let methods = methods_of(&methods);
        let Some((draft, _)) = self.draft.as_mut() else {
            return Ok(());
        };
        let inserted = match &paths {
            Either::A(path) => draft.insert(LayerId(id), path, end, methods),
            Either::B(list) => {
                let list: Vec<&str> = list.iter().map(String::as_str).collect();
                draft.insert_paths(LayerId(id), &list, end, methods)
            }
        };
        inserted.map_err(|e| throw(&env, ROUTE_PATTERN, &e.to_string()))
    }

    #[napi]
    pub fn set_route_methods(&mut self, env: Env, id: u32, methods: Vec<String>) -> Result<()> {
        let methods = methods_of(&methods);
        match self.draft.as_mut() {
            Some((draft, _)) => draft
                .set_methods(LayerId(id), methods)
                .map_err(|e| throw(&env, ROUTE_PATTERN, &e.to_string())),
            None => Ok(()),
        }
    }
}

fn already_listening(env: &Env) -> napi::Error {
    throw(
        env,
        "ERR_SERVER_ALREADY_LISTEN",
        "Listen method has been called more than once without closing.",
    )
}

fn address_info(bound: &Bound) -> AddressInfo {
    match bound {
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
    }
}

/// The OS's id of the calling thread (Linux: the `tid` of `/proc/<pid>/task/<tid>`), for tools
/// that measure CPU time per thread; null where the OS has no such file.
#[napi]
pub fn os_thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
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
