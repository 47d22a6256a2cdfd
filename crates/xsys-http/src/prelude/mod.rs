//! The native prelude: the app's leading middleware (helmet, CORS, rate limiting, static files)
//! run in Rust, in stack order, before a request wakes JS.
//!
//! The app compiles its leading layers into a [`Prelude`] (see `docs/native-prelude.md`). For a
//! request, each stage whose path matches runs as its npm package would have: helmet and CORS add
//! headers, the rate limiter counts the client and adds its own, a static stage serves a file or
//! passes the request on. Then:
//!
//! - a CORS preflight, a request past the limit or a file is answered here, with the headers the
//!   earlier stages added, as Express would send it;
//! - a request the route table says no layer handles gets Express's 404 (or its automatic
//!   OPTIONS answer) here, with those headers too;
//! - any other request goes to JS carrying what the stages decided: the headers (in the order the
//!   middleware would have set them, which become the response's first headers), `req.rateLimit`
//!   and the rate limiter's pending hits (taken back per `skipSuccessfulRequests` /
//!   `skipFailedRequests` once the response's status is known).
//!
//! When a stage cannot decide for a request (a Unix socket has no client address to count, a path
//! the stage matcher defers), nothing runs here and JS runs those middleware itself: they ask the
//! same stages through the binding, so the outcome is the same. A static stage that cannot (an
//! error serve-static would forward, a case only JS settles) runs in JS from that stage on, after
//! the stages before it ran here.
//!
//! Body parsers at the top run in JS; the engine knows only their limits, after every other
//! stage, and leaves unread a body one of them will refuse for its declared length (body.rs).

mod body;
mod carried;
mod files;
mod headers;

pub use body::BodyLimit;

pub(crate) use carried::{now_ms, Carried, Settlement};
pub(crate) use headers::{finish, Cased, HeaderList};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response};
use xsys_router::{LayerId, Lookup, Methods, RouteTable, TableOptions};
use xsys_security::cors::{Cors, CorsDecision};
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::{Message, RateLimit, StandardHeaders};
use xsys_static::StaticFiles;

use crate::body::ResponseBody;
use crate::native::EntityTag;
use files::Served;

/// One compiled middleware.
#[derive(Clone)]
pub enum StageKind {
    Helmet(Arc<Helmet>),
    Cors(Arc<Cors>),
    RateLimit(Arc<RateLimit>),
    /// `express.static(root, options)`.
    Static(Arc<StaticFiles>),
    /// A body parser (`express.json()`...): it runs in JS, so it comes after every other stage;
    /// the engine only decides whether it refuses the body before reading it (body.rs).
    BodyLimit(Arc<BodyLimit>),
}

impl std::fmt::Debug for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StageKind::Helmet(helmet) => f.debug_tuple("Helmet").field(helmet).finish(),
            StageKind::Cors(cors) => f.debug_tuple("Cors").field(cors).finish(),
            StageKind::RateLimit(limiter) => f.debug_tuple("RateLimit").field(limiter).finish(),
            StageKind::Static(files) => f.debug_tuple("Static").field(&files.root()).finish(),
            StageKind::BodyLimit(limit) => f.debug_tuple("BodyLimit").field(limit).finish(),
        }
    }
}

/// Where a stage's layer was mounted (`app.use([path,] m)`), as the route mirror takes paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagePath {
    /// `app.use(m)` or `app.use('/', m)`: every request.
    Everywhere,
    /// One path string.
    Path(String),
    /// A path array (flattened): the layer matches with any of them.
    Paths(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub kind: StageKind,
    pub path: StagePath,
}

/// App settings the native answers depend on.
#[derive(Debug, Clone, Copy, Default)]
pub struct PreludeOptions {
    /// Express's "case sensitive routing", for the stages' paths.
    pub case_sensitive: bool,
    /// The app's `etag` setting, for the rate limiter's answer (`res.send` adds its tag).
    pub etag: EntityTag,
}

/// The compiled stages of one app, in stack order.
pub struct Prelude {
    id: u32,
    stages: Vec<Stage>,
    /// The stages before the first body parser: the others run in JS after them.
    leading: usize,
    /// The stages' paths when some stage is not mounted everywhere.
    paths: Option<RouteTable>,
    etag: EntityTag,
    /// The ETag `res.send` gives each rate limiter's answer past the limit (by stage; computed
    /// once, the message does not change).
    rejection_tags: Vec<Option<HeaderValue>>,
    /// What the rate limiters' first requests showed (see [`Prelude::notice`]): reported, and
    /// not yet handed to JS.
    reported: AtomicU32,
    pending: AtomicU32,
}

impl std::fmt::Debug for Prelude {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prelude")
            .field("id", &self.id)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

impl Prelude {
    /// `id` tags the requests this prelude ran for, so JS knows which layers it stands for. Fails
    /// for a stage path the route table cannot take (see xsys-router). Only body parsers may
    /// follow the first body parser (a stage after one would run before it): others there are
    /// never run.
    pub fn new(
        id: u32,
        stages: Vec<Stage>,
        options: PreludeOptions,
    ) -> Result<Prelude, xsys_router::Error> {
        let mounted = stages.iter().any(|s| s.path != StagePath::Everywhere);
        let paths = if mounted {
            let mut table = RouteTable::new(TableOptions {
                case_sensitive: options.case_sensitive,
                strict: false,
            });
            for (i, stage) in stages.iter().enumerate() {
                let id = LayerId(i as u32);
                let inserted = match &stage.path {
                    StagePath::Everywhere => table.insert(id, "/", false, Methods::ALL),
                    StagePath::Path(path) => table.insert(id, path, false, Methods::ALL),
                    StagePath::Paths(list) => {
                        let list: Vec<&str> = list.iter().map(String::as_str).collect();
                        table.insert_paths(id, &list, false, Methods::ALL)
                    }
                };
                inserted?;
            }
            Some(table)
        } else {
            None
        };
        let rejection_tags = stages
            .iter()
            .map(|stage| match &stage.kind {
                StageKind::RateLimit(limiter) => options.etag.of(&limiter.rejection().etag_source),
                _ => None,
            })
            .collect();
        let leading = stages
            .iter()
            .position(|s| matches!(s.kind, StageKind::BodyLimit(_)))
            .unwrap_or(stages.len());
        Ok(Prelude {
            id,
            leading,
            stages,
            paths,
            etag: options.etag,
            rejection_tags,
            reported: AtomicU32::new(0),
            pending: AtomicU32::new(0),
        })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// What the rate limiters' first requests showed and no request has carried to JS yet.
    pub(crate) fn take_notices(&self) -> u32 {
        self.pending.swap(0, Ordering::AcqRel)
    }

    /// Runs the stages for one request: `target` as sent, `path` its one reading's path,
    /// `declared` the `Content-Length` of a body it has, `start` the headers the response starts
    /// with (made only when a stage that sets headers runs).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run(
        &self,
        method: &Method,
        headers: &HeaderMap,
        target: &str,
        path: &str,
        remote: Option<SocketAddr>,
        declared: Option<u64>,
        start: impl FnOnce() -> HeaderList,
        now_ms: u64,
    ) -> Ran {
        // Each stage whose layer matches, with the part of the path it matched ("" everywhere).
        let matched: Option<Vec<(LayerId, &str)>> = match &self.paths {
            None => None,
            Some(table) => match table.find(path) {
                Lookup::Layers(layers) => Some(layers.iter().map(|l| (l.id, l.path)).collect()),
                Lookup::Defer => return Ran::Unapplied,
            },
        };
        let matched_at = |i: usize| -> Option<&str> {
            match &matched {
                None => Some(""),
                Some(list) => list
                    .iter()
                    .find(|(id, _)| *id == LayerId(i as u32))
                    .map(|(_, at)| *at),
            }
        };
        let applies = |i: usize| matched_at(i).is_some();
        // Body parsers alone carry nothing to JS: the request goes on as without a prelude.
        if !(0..self.leading).any(applies) {
            return Ran::NoStage {
                refuse_body: self.refuses_body(headers, declared, applies),
            };
        }
        if (0..self.leading)
            .any(|i| applies(i) && self.answer_depends_on_freshness(i, method, headers))
        {
            return Ran::Unapplied;
        }
        let mut state = Carried::new(start(), self.id, self.stages.len());
        let mut ordinal = 0;
        for (i, stage) in self.stages[..self.leading].iter().enumerate() {
            let limiter_ordinal = ordinal;
            if matches!(stage.kind, StageKind::RateLimit(_)) {
                ordinal += 1;
            }
            let Some(at) = matched_at(i) else {
                continue;
            };
            match &stage.kind {
                StageKind::Helmet(helmet) => {
                    // Removed first, the same list as after (helmet never sets it), and the
                    // headers are then appended with nothing after them to shift.
                    if helmet.removes_powered_by() {
                        state.headers.remove(&POWERED_BY);
                    }
                    state.headers.set_all(helmet.headers());
                }
                StageKind::Cors(cors) => match cors.decide(method.as_str(), headers) {
                    CorsDecision::Pass => {}
                    CorsDecision::Continue(set) => state.headers.apply_cors(set),
                    CorsDecision::Respond { status, headers } => {
                        state.headers.apply_cors(headers);
                        // res.end() without data: the head alone, in Latin-1.
                        return Ran::Answered(state.answer(status, Bytes::new(), false, now_ms));
                    }
                },
                StageKind::RateLimit(limiter) => {
                    // Without a client address (a Unix socket) express-rate-limit keys
                    // `undefined` and logs it: JS does that.
                    let Some(remote) = remote else {
                        return Ran::Unapplied;
                    };
                    self.notice(limiter_ordinal, headers);
                    let key = limiter.key_for_ip(remote.ip());
                    let hit = limiter.hit(&key, now_ms);
                    let draft8 = limiter.options().standard_headers == StandardHeaders::Draft8;
                    // The hit's headers are the response's now (moved, not copied).
                    for header in hit.headers {
                        // express-rate-limit appends draft-8's two headers (res.append).
                        let appended = draft8
                            && (header.cased_name == "RateLimit"
                                || header.cased_name == "RateLimit-Policy");
                        if appended {
                            state.headers.append(header);
                        } else {
                            state.headers.set(header);
                        }
                    }
                    if let Some(pending) = hit.pending {
                        state.settlement.hold(Arc::clone(limiter), pending);
                    }
                    if let Some(rejection) = hit.rejection {
                        for header in rejection.body_headers.iter() {
                            state.headers.set(header.clone());
                        }
                        if let Some(tag) = &self.rejection_tags[i] {
                            state
                                .headers
                                .set_value(ETAG, Cased::Static("ETag"), tag.clone());
                        }
                        let utf8 = sent_as_string(limiter, self.etag, method);
                        return Ran::Answered(state.answer(
                            rejection.status,
                            rejection.body,
                            utf8,
                            now_ms,
                        ));
                    }
                    state.limits.push((limiter_ordinal, hit.info));
                }
                StageKind::Static(files) => {
                    match files::serve(files, method, headers, target, path, at) {
                        Served::Next => {}
                        Served::Respond(answer) => {
                            return Ran::Answered(state.answer_static(answer, method, now_ms))
                        }
                        // serve-static runs in JS from this layer on, after the stages before it.
                        Served::InJs => {
                            state.ran = i;
                            break;
                        }
                    }
                }
                StageKind::BodyLimit(_) => {}
            }
        }
        // The body parsers run after every stage the engine ran (not after one JS runs).
        state.refuse_body = state.ran_all() && self.refuses_body(headers, declared, applies);
        state.notices = self.pending.swap(0, Ordering::AcqRel);
        Ran::Continue(state)
    }

    /// Whether the body parsers will refuse this request's body before reading it: the first
    /// one mounted where the request goes that parses its type decides (it reads the body, or
    /// fails, and the parsers after it see a finished request or never run).
    fn refuses_body(
        &self,
        headers: &HeaderMap,
        declared: Option<u64>,
        applies: impl Fn(usize) -> bool,
    ) -> bool {
        let Some(length) = declared.filter(|&length| length > 0) else {
            return false;
        };
        for (i, stage) in self.stages.iter().enumerate().skip(self.leading) {
            if let StageKind::BodyLimit(parser) = &stage.kind {
                if applies(i) && parser.parses(headers) {
                    return parser.refuses(headers, length);
                }
            }
        }
        false
    }

    /// Past the limit with a 2xx or 304 status, `res.send` answers 304 to a GET or HEAD its
    /// message's ETag is fresh for: such a request is left to JS (decided before any stage
    /// counts it).
    fn answer_depends_on_freshness(
        &self,
        stage: usize,
        method: &Method,
        headers: &HeaderMap,
    ) -> bool {
        let StageKind::RateLimit(limiter) = &self.stages[stage].kind else {
            return false;
        };
        let status = limiter.options().status_code;
        ((200..300).contains(&status) || status == 304)
            && (*method == Method::GET || *method == Method::HEAD)
            && (headers.contains_key(http::header::IF_NONE_MATCH)
                || headers.contains_key(http::header::IF_MODIFIED_SINCE))
    }

    /// express-rate-limit validates the first request each limiter counts (a header that says a
    /// proxy is in front while `trust proxy` is off); its log is JS's business, so the engine
    /// reports what it saw on that request: bit `3 * ordinal` (the first request came), `+ 1`
    /// (it had `X-Forwarded-For`), `+ 2` (it had `Forwarded`). Ordinals past 9 are not reported.
    fn notice(&self, ordinal: usize, headers: &HeaderMap) {
        if ordinal >= 10 {
            return;
        }
        let first = 1u32 << (3 * ordinal);
        if self.reported.load(Ordering::Relaxed) & first != 0
            || self.reported.fetch_or(first, Ordering::AcqRel) & first != 0
        {
            return;
        }
        let mut bits = first;
        if js_truthy(headers, "x-forwarded-for") {
            bits |= first << 1;
        }
        if js_truthy(headers, "forwarded") {
            bits |= first << 2;
        }
        self.pending.fetch_or(bits, Ordering::AcqRel);
    }
}

/// Whether Express's `res.send(message)` past the limit ends with the message as a string (so Node
/// writes the head in UTF-8): a text or JSON message, not empty, kept a string because no ETag is
/// computed and it is under 1000 UTF-16 units, and a body is sent (not HEAD, 204, 205, 304).
fn sent_as_string(limiter: &RateLimit, etag: EntityTag, method: &Method) -> bool {
    let options = limiter.options();
    let text = match &options.message {
        Message::Text(text) | Message::Json(text) => text,
        Message::Bytes(_) | Message::Empty => return false,
    };
    etag == EntityTag::None
        && *method != Method::HEAD
        && !matches!(options.status_code, 204 | 205 | 304)
        && !text.is_empty()
        && text.encode_utf16().count() < 1000
}

/// Whether `req.headers[name]` is truthy: present and not empty once repeated values are joined.
fn js_truthy(headers: &HeaderMap, name: &str) -> bool {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => false,
        (Some(one), None) => !one.is_empty(),
        (Some(_), Some(_)) => true,
    }
}

const POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");
const ETAG: HeaderName = http::header::ETAG;

pub(crate) enum Ran {
    /// No stage's path matches but perhaps a body parser's: the request goes on as if there were
    /// no prelude, its body unread when `refuse_body` (see body.rs).
    NoStage {
        refuse_body: bool,
    },
    /// A stage cannot decide this request natively; JS runs them all.
    Unapplied,
    Answered(Response<ResponseBody>),
    Continue(Carried),
}
