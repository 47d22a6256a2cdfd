//! An app's native prelude as lib/prelude.ts compiles it: its leading middleware (helmet, CORS,
//! rate limiting, static files, then body parsers' limits), in stack order, each with the path
//! it was mounted at, handed to a server's engine (xsys-http's prelude).

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use napi::{Env, Result};
use napi_derive::napi;
use xsys_http::native::EntityTag;
use xsys_http::prelude::{BodyLimit, Prelude, PreludeOptions, Stage, StageKind, StagePath};

use crate::errors::{throw, ROUTE_PATTERN};
use crate::security::{CorsStage, HelmetStage, RateLimitStage};
use crate::static_files::StaticStage;

/// An app's leading middleware, in stack order, for [`crate::NativeServer::set_prelude`].
#[napi]
pub struct PreludePlan {
    id: u32,
    options: PreludeOptions,
    stages: Vec<Stage>,
}

fn stage_path(path: Option<Either<String, Vec<String>>>) -> StagePath {
    match path {
        None => StagePath::Everywhere,
        Some(Either::A(path)) => StagePath::Path(path),
        Some(Either::B(list)) => StagePath::Paths(list),
    }
}

#[napi]
impl PreludePlan {
    /// `etag`: the app's setting as the engine computes it (0 none, 1 weak, 2 strong).
    #[napi(constructor)]
    pub fn new(id: u32, case_sensitive: bool, etag: u32) -> Self {
        PreludePlan {
            id,
            options: PreludeOptions {
                case_sensitive,
                etag: EntityTag::from_code(etag),
            },
            stages: Vec::new(),
        }
    }

    /// `path`: null for `app.use(m)` / `app.use('/', m)`, else the layer's path (or paths).
    #[napi]
    pub fn helmet(&mut self, stage: &HelmetStage, path: Option<Either<String, Vec<String>>>) {
        self.push(StageKind::Helmet(Arc::clone(&stage.inner)), path);
    }

    #[napi]
    pub fn cors(&mut self, stage: &CorsStage, path: Option<Either<String, Vec<String>>>) {
        self.push(StageKind::Cors(Arc::clone(&stage.inner)), path);
    }

    #[napi]
    pub fn rate_limit(
        &mut self,
        stage: &RateLimitStage,
        path: Option<Either<String, Vec<String>>>,
    ) {
        self.push(StageKind::RateLimit(Arc::clone(&stage.inner)), path);
    }

    #[napi]
    pub fn static_files(&mut self, stage: &StaticStage, path: Option<Either<String, Vec<String>>>) {
        self.push(StageKind::Static(Arc::clone(&stage.inner)), path);
    }

    /// A body parser after the other stages: `limit` as body-parser's `bytes.parse` gave it,
    /// `types` its `type` entries as type-is's `normalize` gave them (`false` as `''`).
    #[napi]
    pub fn body_limit(
        &mut self,
        limit: f64,
        types: Vec<String>,
        path: Option<Either<String, Vec<String>>>,
    ) {
        self.push(
            StageKind::BodyLimit(Arc::new(BodyLimit::new(limit, types))),
            path,
        );
    }
}

impl PreludePlan {
    fn push(&mut self, kind: StageKind, path: Option<Either<String, Vec<String>>>) {
        self.stages.push(Stage {
            kind,
            path: stage_path(path),
        });
    }

    pub(crate) fn build(&self, env: &Env) -> Result<Prelude> {
        Prelude::new(self.id, self.stages.clone(), self.options)
            .map_err(|e| throw(env, ROUTE_PATTERN, &e.to_string()))
    }
}
