//! What the engine knows of one JS thread's app: the mirrored route table and the settings that
//! shape the responses it gives natively.
//!
//! Each JS thread has its own mirror (a request is routed with the mirror of the thread it goes
//! to, so the answer is always that app's). Route tables are built as a [`RouteDraft`] and
//! published whole; identical tables (worker threads running the same app) are one table in
//! memory, found by what was inserted into them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use http::header::HeaderValue;
use http::{HeaderMap, Method, Response};
use xsys_router::{LayerId, Lookup, Methods, RouteTable, TableOptions};

use crate::body::ResponseBody;
use crate::bridge::{EventQueue, LayerCandidates};
use crate::native;
use crate::native::NotFoundPage;
use crate::prelude::{now_ms, Carried, Cased, HeaderList, Prelude, Ran};
use crate::wire::Listeners;
use crate::Error;

pub struct RoutingMirror {
    table: RwLock<Option<Arc<RouteTable>>>,
    /// What a request no layer can match gets; without one such requests go to the handlers.
    not_found: RwLock<Option<Arc<NotFoundPage>>>,
    /// The headers a response has before the app's stack runs (Express's X-Powered-By), which
    /// native answers start from.
    initial: RwLock<Arc<HeaderList>>,
    /// The app's leading middleware (helmet, cors, rate limits, static files), run natively
    /// before the table is asked.
    prelude: RwLock<Option<Arc<Prelude>>>,
    listeners: Mutex<ListenerFlags>,
    version: AtomicU32,
}

/// Whether this thread's server listens for `'connect'` / `'upgrade'`, and the listener whose
/// counts it adds to while it serves one.
#[derive(Default)]
struct ListenerFlags {
    connect: bool,
    upgrade: bool,
    joined: Option<Arc<Listeners>>,
}

impl RoutingMirror {
    pub fn new() -> Arc<Self> {
        Arc::new(RoutingMirror {
            table: RwLock::new(None),
            not_found: RwLock::new(None),
            initial: RwLock::new(Arc::default()),
            prelude: RwLock::new(None),
            listeners: Mutex::default(),
            version: AtomicU32::new(0),
        })
    }

    /// Installs a table built whole, tagged with the JS stack version it mirrors (requests carry
    /// it with their candidates so JS can tell a stale match from a current one); `None` turns
    /// native routing off (every request goes to the handlers).
    pub fn publish(&self, draft: Option<RouteDraft>, version: u32) {
        let table = draft.map(intern);
        let mut current = self.table.write().unwrap_or_else(|e| e.into_inner());
        self.version.store(version, Ordering::Relaxed);
        *current = table;
    }

    /// The table requests are routed with now, if any.
    pub fn table(&self) -> Option<Arc<RouteTable>> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The page for requests no layer can match (the framework's 404).
    pub fn set_not_found(&self, page: NotFoundPage) {
        *self.not_found.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(page));
    }

    pub(crate) fn not_found(&self) -> Option<Arc<NotFoundPage>> {
        self.not_found
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The headers every response has before the app's stack runs, as a header block
    /// (`name:value\n`...), in the case and order the framework sets them.
    pub fn set_initial_headers(&self, block: &str) -> Result<(), Error> {
        let headers = HeaderList::from_block(block)?;
        *self.initial.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(headers);
        Ok(())
    }

    pub(crate) fn initial_headers(&self) -> HeaderList {
        self.initial
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .copy_with_room()
    }

    /// Installs (or, with `None`, removes) the app's native prelude.
    pub fn set_prelude(&self, prelude: Option<Prelude>) {
        *self.prelude.write().unwrap_or_else(|e| e.into_inner()) = prelude.map(Arc::new);
    }

    pub(crate) fn prelude(&self) -> Option<Arc<Prelude>> {
        self.prelude
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn flags(&self) -> std::sync::MutexGuard<'_, ListenerFlags> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// With a `'connect'` listener, Node hands a CONNECT request's connection to it; without one
    /// it closes the connection.
    pub fn set_connect_listener(&self, on: bool) {
        let mut flags = self.flags();
        if flags.connect != on {
            flags.connect = on;
            if let Some(joined) = &flags.joined {
                joined.count_connect(on);
            }
        }
    }

    /// With an `'upgrade'` listener, Node hands an Upgrade request's connection to it.
    pub fn set_upgrade_listener(&self, on: bool) {
        let mut flags = self.flags();
        if flags.upgrade != on {
            flags.upgrade = on;
            if let Some(joined) = &flags.joined {
                joined.count_upgrade(on);
            }
        }
    }

    /// Whether this thread takes handed-over connections of this kind.
    pub(crate) fn listens(&self, connect: bool) -> bool {
        let flags = self.flags();
        if connect {
            flags.connect
        } else {
            flags.upgrade
        }
    }

    /// Counts this thread's listeners in a listener's while it serves that listener.
    pub(crate) fn join(&self, listeners: Arc<Listeners>) {
        let mut flags = self.flags();
        if let Some(previous) = flags.joined.take() {
            leave(&flags, &previous);
        }
        if flags.connect {
            listeners.count_connect(true);
        }
        if flags.upgrade {
            listeners.count_upgrade(true);
        }
        flags.joined = Some(listeners);
    }

    pub(crate) fn leave(&self) {
        let mut flags = self.flags();
        if let Some(joined) = flags.joined.take() {
            leave(&flags, &joined);
        }
    }

    /// What the table says about a request: Express's 404 or automatic OPTIONS answer when no
    /// layer will handle it (given the framework's page), else the layers (stack indices) the JS
    /// router has to visit.
    pub(crate) fn route(&self, method: &Method, path: &str) -> Routed {
        if !path.starts_with('/') {
            return Routed::Dispatch(None);
        }
        let Some(table) = self.table() else {
            return Routed::Dispatch(None);
        };
        let layers = match table.find(path) {
            Lookup::Layers(layers) => layers,
            Lookup::Defer => return Routed::Dispatch(None),
        };
        let candidates = |ids: Vec<u32>| {
            Routed::Dispatch(Some(LayerCandidates {
                version: self.version.load(Ordering::Relaxed),
                ids,
            }))
        };
        // Without the framework's page the handlers answer, visiting no layer that cannot run.
        let answers = self
            .not_found
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if layers.is_empty() {
            return if answers {
                Routed::NotFound
            } else {
                candidates(Vec::new())
            };
        }
        if answers {
            if let Some(answer) = unhandled(method, &layers) {
                return answer;
            }
        }
        candidates(layers.iter().map(|layer| layer.id.0).collect())
    }
}

fn leave(flags: &ListenerFlags, listeners: &Listeners) {
    if flags.connect {
        listeners.count_connect(false);
    }
    if flags.upgrade {
        listeners.count_upgrade(false);
    }
}

/// When only routes match and none handles the method, router@2 runs none of them: OPTIONS gets
/// its `Allow` answer, anything else falls through to the 404. Decided here only where JS could
/// not tell otherwise: no middleware among them, and no parameter that JS would decode (a bad
/// escape is a 400 there) or hand to `app.param` callbacks (which run for HEAD).
fn unhandled(method: &Method, layers: &[xsys_router::LayerMatch<'_, '_>]) -> Option<Routed> {
    let request = Methods::from_name(method.as_str());
    let mut allowed = Methods::NONE;
    for layer in layers {
        let params_safe = if *method == Method::HEAD {
            layer.params.is_empty()
        } else {
            layer.params.iter().all(|(_, value)| !value.contains('%'))
        };
        if !layer.end || layer.methods.may_handle(request) || !params_safe {
            return None;
        }
        allowed |= layer.methods;
    }
    if *method != Method::OPTIONS {
        return Some(Routed::NotFound);
    }
    match allowed.allow_header()? {
        allow if allow.is_empty() => Some(Routed::NotFound),
        allow => Some(Routed::Allow(allow)),
    }
}

/// What the route mirror says about a request.
pub(crate) enum Routed {
    /// No layer will handle it: the framework's 404.
    NotFound,
    /// OPTIONS that only routes of other methods match: router@2's answer with this `Allow`.
    Allow(String),
    /// On to JS, with the matching layers when known.
    Dispatch(Option<LayerCandidates>),
}

/// What the engine does with a request before it reaches JS.
pub(crate) enum Entered {
    /// Answered natively (a preflight, a 429, Express's 404 or automatic OPTIONS answer).
    Answered(Response<ResponseBody>),
    /// On to JS, with the route mirror's candidates and what the stages decided; with
    /// `refuse_body`, a body parser refuses the body for its length and it is not read.
    Dispatch {
        candidates: Option<LayerCandidates>,
        carried: Option<Carried>,
        refuse_body: bool,
    },
}

impl Entered {
    /// On to JS, the whole stack to scan (a connection handed over, a target without a path).
    pub(crate) fn dispatch() -> Entered {
        Entered::Dispatch {
            candidates: None,
            carried: None,
            refuse_body: false,
        }
    }
}

/// The prelude and the route mirror for one request; `declared` is the `Content-Length` of a
/// body it has.
#[allow(clippy::too_many_arguments)]
pub(crate) fn enter(
    routing: &RoutingMirror,
    queue: &EventQueue,
    method: &Method,
    headers: &HeaderMap,
    target: &str,
    path: &str,
    remote: Option<SocketAddr>,
    declared: Option<u64>,
) -> Entered {
    let mut carried = None;
    let mut refuse_body = false;
    if let Some(prelude) = routing.prelude() {
        let start = || routing.initial_headers();
        match prelude.run(
            method,
            headers,
            target,
            path,
            remote,
            declared,
            start,
            now_ms(),
        ) {
            Ran::NoStage {
                refuse_body: refuse,
            } => refuse_body = refuse,
            // The stages' layers are not in the mirror; JS must see the whole stack.
            Ran::Unapplied => return Entered::dispatch(),
            Ran::Answered(response) => {
                // No request carries what the rate limiters saw to JS this time.
                let bits = prelude.take_notices();
                if bits != 0 {
                    queue.push(crate::bridge::Event::PreludeNotices {
                        plan: prelude.id(),
                        bits,
                    });
                }
                return Entered::Answered(response);
            }
            // A stage only JS settles for this request: JS matches the stack from it on.
            Ran::Continue(state) if !state.ran_all() => {
                return Entered::Dispatch {
                    candidates: None,
                    carried: Some(state),
                    refuse_body: false,
                }
            }
            Ran::Continue(state) => {
                refuse_body = state.refuse_body;
                carried = Some(state);
            }
        }
    }
    let routed = routing.route(method, path);
    if let Routed::Dispatch(candidates) = routed {
        return Entered::Dispatch {
            candidates,
            carried,
            refuse_body,
        };
    }
    let mut state = carried.unwrap_or_else(|| Carried::plain(routing.initial_headers()));
    let (status, body) = match routed {
        Routed::Allow(allow) => {
            let (status, body, answer) = native::options_answer(&allow);
            for (name, cased, value) in answer {
                state.headers.set_value(name, Cased::Static(cased), value);
            }
            (status, body)
        }
        // route() answers NotFound only when there is a page
        _ => match routing.not_found() {
            Some(page) => {
                let body = page.body(method, path);
                // finalhandler's setHeader calls over what the stages set
                for (name, cased, value) in page.headers() {
                    state.headers.set_owned(name.clone(), cased, value.clone());
                }
                state.headers.set_owned(
                    http::header::CONTENT_LENGTH,
                    "Content-Length".to_owned(),
                    HeaderValue::from(body.len()),
                );
                (page.status(), body)
            }
            None => {
                return Entered::Dispatch {
                    candidates: None,
                    carried: Some(state),
                    refuse_body,
                }
            }
        },
    };
    // finalhandler's page and the router's Allow answer are `res.end(text)` (a HEAD's 404 is
    // `res.end()`): Node writes the head with the text, in UTF-8.
    let utf8 = *method != Method::HEAD;
    Entered::Answered(state.answer(status, body, utf8, now_ms()))
}

/// A route table being mirrored from a JS stack, layer by layer, before it is published.
pub struct RouteDraft {
    table: RouteTable,
    content: TableContent,
}

/// Everything inserted into a table, in order: equal contents make equal tables.
#[derive(Clone, PartialEq, Eq, Hash)]
struct TableContent {
    case_sensitive: bool,
    strict: bool,
    layers: Vec<Inserted>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inserted {
    Layer {
        id: u32,
        /// `Ok` for a path string, `Err` for a (flattened) array, which match differently.
        paths: Result<String, Vec<String>>,
        end: bool,
        methods: Methods,
    },
    Methods {
        id: u32,
        methods: Methods,
    },
}

impl RouteDraft {
    pub fn new(options: TableOptions) -> Self {
        RouteDraft {
            table: RouteTable::new(options),
            content: TableContent {
                case_sensitive: options.case_sensitive,
                strict: options.strict,
                layers: Vec::new(),
            },
        }
    }

    /// See [`RouteTable::insert`].
    pub fn insert(
        &mut self,
        id: LayerId,
        path: &str,
        end: bool,
        methods: Methods,
    ) -> Result<(), xsys_router::Error> {
        self.table.insert(id, path, end, methods)?;
        self.content.layers.push(Inserted::Layer {
            id: id.0,
            paths: Ok(path.to_owned()),
            end,
            methods,
        });
        Ok(())
    }

    /// See [`RouteTable::insert_paths`].
    pub fn insert_paths(
        &mut self,
        id: LayerId,
        paths: &[&str],
        end: bool,
        methods: Methods,
    ) -> Result<(), xsys_router::Error> {
        self.table.insert_paths(id, paths, end, methods)?;
        self.content.layers.push(Inserted::Layer {
            id: id.0,
            paths: Err(paths.iter().map(|p| (*p).to_owned()).collect()),
            end,
            methods,
        });
        Ok(())
    }

    /// See [`RouteTable::set_methods`].
    pub fn set_methods(&mut self, id: LayerId, methods: Methods) -> Result<(), xsys_router::Error> {
        self.table.set_methods(id, methods)?;
        self.content
            .layers
            .push(Inserted::Methods { id: id.0, methods });
        Ok(())
    }
}

type Tables = HashMap<TableContent, Weak<RouteTable>>;

/// The published tables of the process, by content: the threads of one app share one.
fn tables() -> &'static Mutex<Tables> {
    static TABLES: OnceLock<Mutex<Tables>> = OnceLock::new();
    TABLES.get_or_init(Mutex::default)
}

fn intern(draft: RouteDraft) -> Arc<RouteTable> {
    let mut tables = tables().lock().unwrap_or_else(|e| e.into_inner());
    tables.retain(|_, table| table.strong_count() > 0);
    if let Some(table) = tables.get(&draft.content).and_then(Weak::upgrade) {
        return table;
    }
    let table = Arc::new(draft.table);
    tables.insert(draft.content, Arc::downgrade(&table));
    table
}

/// Distinct route tables in use in the process (threads of one app share theirs).
pub fn route_tables() -> usize {
    let tables = tables().lock().unwrap_or_else(|e| e.into_inner());
    tables.values().filter(|t| t.strong_count() > 0).count()
}

#[cfg(test)]
mod tests;
