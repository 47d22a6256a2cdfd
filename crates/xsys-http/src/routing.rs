//! What the engine knows of one JS thread's app: the mirrored route table and the settings that
//! shape the responses it gives natively.
//!
//! Each JS thread has its own mirror (a request is routed with the mirror of the thread it goes
//! to, so the answer is always that app's). Route tables are built as a [`RouteDraft`] and
//! published whole; identical tables (worker threads running the same app) are one table in
//! memory, found by what was inserted into them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use http::{HeaderMap, Method, Response};
use xsys_router::{LayerId, Lookup, Methods, RouteTable, TableOptions};

use crate::body::ResponseBody;
use crate::bridge::LayerCandidates;
use crate::native::NotFoundPage;
use crate::static_stage::{StageAnswer, StaticStages};
use crate::wire::Listeners;

pub struct RoutingMirror {
    table: RwLock<Option<Arc<RouteTable>>>,
    /// What a request no layer can match gets; without one such requests go to the handlers.
    not_found: RwLock<Option<Arc<NotFoundPage>>>,
    /// `express.static` layers at the top of the stack, answered natively.
    statics: StaticStages,
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
            statics: StaticStages::default(),
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

    /// The native static stages, which follow the table (lib/ registers them with it).
    pub fn static_stages(&self) -> &StaticStages {
        &self.statics
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

    /// What the table says about a request: a response the engine gives alone when no layer
    /// can match or a static stage answers, else the matching layers (stack indices) for the JS
    /// router to visit, without the static layers that fell through natively. `target` is the
    /// target as sent, `path` its one reading's path.
    pub(crate) fn route(
        &self,
        method: &Method,
        target: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Routed {
        if !path.starts_with('/') {
            return Routed::Dispatch(None);
        }
        // No lock is held across the static stages' file-system calls.
        let Some(routes) = self.table() else {
            return Routed::Dispatch(None);
        };
        // Each matching layer and the part of the path it matched.
        let layers: Vec<(u32, &str)> = match routes.find(path) {
            Lookup::Layers(layers) => layers.iter().map(|l| (l.id.0, l.path)).collect(),
            Lookup::Defer => return Routed::Dispatch(None),
        };
        let answered = match self.statics.answer(method, target, path, headers, &layers) {
            StageAnswer::Respond(response) => return Routed::Native(response),
            StageAnswer::Continue { answered } => answered,
        };
        // With every matching layer a static one that fell through, Express answers its 404.
        if answered < layers.len() {
            let ids = layers[answered..].iter().map(|(id, _)| *id).collect();
            return Routed::Dispatch(Some(LayerCandidates {
                version: self.version.load(Ordering::Relaxed),
                ids,
            }));
        }
        let page = self
            .not_found
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match page {
            Some(page) => Routed::Native(page.render(method, path)),
            // no page to give: the handlers answer, visiting no layer
            None => Routed::Dispatch(Some(LayerCandidates {
                version: self.version.load(Ordering::Relaxed),
                ids: Vec::new(),
            })),
        }
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

pub(crate) enum Routed {
    Native(Response<ResponseBody>),
    Dispatch(Option<LayerCandidates>),
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
mod tests {
    use super::*;

    fn draft(paths: &[&str]) -> RouteDraft {
        let mut draft = RouteDraft::new(TableOptions::default());
        for (id, path) in paths.iter().enumerate() {
            draft
                .insert(LayerId(id as u32), path, true, Methods::from_name("GET"))
                .expect("valid pattern");
        }
        draft
    }

    #[test]
    fn mirrors_of_the_same_stack_share_one_table_and_others_keep_their_own() {
        let (a, b, c) = (
            RoutingMirror::new(),
            RoutingMirror::new(),
            RoutingMirror::new(),
        );
        a.publish(Some(draft(&["/shared/one", "/shared/:id"])), 3);
        b.publish(Some(draft(&["/shared/one", "/shared/:id"])), 3);
        c.publish(Some(draft(&["/shared/one", "/shared/:id", "/extra"])), 4);
        let (ta, tb, tc) = (a.table(), b.table(), c.table());
        let (ta, tb, tc) = (ta.expect("a"), tb.expect("b"), tc.expect("c"));
        assert!(Arc::ptr_eq(&ta, &tb), "identical stacks share their table");
        assert!(!Arc::ptr_eq(&ta, &tc), "another stack has its own");
        // Each mirror answers as its own app would.
        let route = |mirror: &RoutingMirror| {
            mirror.route(&Method::GET, "/extra", "/extra", &HeaderMap::new())
        };
        assert!(matches!(route(&b), Routed::Dispatch(Some(c)) if c.ids.is_empty()));
        assert!(matches!(route(&c), Routed::Dispatch(Some(c)) if c.ids == [2] && c.version == 4));
        drop((ta, tb, tc));
        a.publish(None, 5);
        assert!(a.table().is_none());
        assert!(
            b.table().is_some(),
            "the other thread keeps the shared table"
        );
    }

    #[test]
    fn a_thread_counts_its_listeners_in_the_listener_it_serves_while_it_serves_it() {
        let listeners = Arc::new(Listeners::default());
        let (a, b) = (RoutingMirror::new(), RoutingMirror::new());
        a.set_upgrade_listener(true);
        a.join(listeners.clone());
        b.join(listeners.clone());
        assert!(listeners.upgrade() && !listeners.connect());
        b.set_connect_listener(true);
        assert!(listeners.connect());
        a.leave();
        assert!(!listeners.upgrade(), "the only thread listening left");
        assert!(b.listens(true) && !b.listens(false));
    }
}
