//! What the engine knows of the app: the mirrored route table and the settings that shape the
//! responses it gives natively.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};

use http::{HeaderMap, Method, Response};
use xsys_router::{Lookup, RouteTable};

use crate::body::ResponseBody;
use crate::bridge::LayerCandidates;
use crate::native::NotFoundPage;
use crate::static_stage::{StageAnswer, StaticStages};
use crate::wire::Listeners;

pub struct RoutingMirror {
    table: RwLock<Option<RouteTable>>,
    /// What a request no layer can match gets; without one such requests go to the handlers.
    not_found: RwLock<Option<Arc<NotFoundPage>>>,
    /// `express.static` layers at the top of the stack, answered natively.
    statics: StaticStages,
    pub(crate) listeners: Arc<Listeners>,
    version: AtomicU32,
}

impl RoutingMirror {
    pub fn new() -> Arc<Self> {
        Arc::new(RoutingMirror {
            table: RwLock::new(None),
            not_found: RwLock::new(None),
            statics: StaticStages::default(),
            listeners: Arc::default(),
            version: AtomicU32::new(0),
        })
    }

    /// Tags the table with the JS stack version it mirrors; requests carry it with their
    /// candidates so JS can tell a stale match from a current one.
    pub fn set_version(&self, version: u32) {
        self.version.store(version, Ordering::Relaxed);
    }

    /// Changes the table; `None` turns native routing off (every request goes to the handlers).
    pub fn update<R>(&self, change: impl FnOnce(&mut Option<RouteTable>) -> R) -> R {
        change(&mut self.table.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// The page for requests no layer can match (the framework's 404).
    pub fn set_not_found(&self, page: NotFoundPage) {
        *self.not_found.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(page));
    }

    /// The native static stages, which follow the table (lib/ registers them with it).
    pub fn static_stages(&self) -> &StaticStages {
        &self.statics
    }

    /// With a `'connect'` listener, Node hands a CONNECT request's connection to it; without one
    /// it closes the connection.
    pub fn set_connect_listener(&self, on: bool) {
        self.listeners.set_connect(on);
    }

    /// With an `'upgrade'` listener, Node hands an Upgrade request's connection to it.
    pub fn set_upgrade_listener(&self, on: bool) {
        self.listeners.set_upgrade(on);
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
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let Some(routes) = table.as_ref() else {
            return Routed::Dispatch(None);
        };
        // Each matching layer and the part of the path it matched.
        let layers: Vec<(u32, &str)> = match routes.find(path) {
            Lookup::Layers(layers) => layers.iter().map(|l| (l.id.0, l.path)).collect(),
            Lookup::Defer => return Routed::Dispatch(None),
        };
        // No lock is held across the static stages' file-system calls.
        drop(table);
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

pub(crate) enum Routed {
    Native(Response<ResponseBody>),
    Dispatch(Option<LayerCandidates>),
}
