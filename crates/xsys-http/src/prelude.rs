//! The native prelude: the app's leading middleware (helmet, CORS, rate limiting) run in Rust,
//! in stack order, before a request wakes JS.
//!
//! The app compiles its leading layers into a [`Prelude`] (see `docs/native-prelude.md`). For a
//! request, each stage whose path matches runs as its npm package would have: helmet and CORS add
//! headers, the rate limiter counts the client and adds its own. Then:
//!
//! - a CORS preflight or a request past the limit is answered here, with the headers the earlier
//!   stages added, as Express would send it;
//! - a request the route table says no layer handles gets Express's 404 (or its automatic
//!   OPTIONS answer) here, with those headers too;
//! - any other request goes to JS carrying what the stages decided: the headers (in the order the
//!   middleware would have set them, which become the response's first headers), `req.rateLimit`
//!   and the rate limiter's pending hits (taken back per `skipSuccessfulRequests` /
//!   `skipFailedRequests` once the response's status is known).
//!
//! When a stage cannot decide for a request (a Unix socket has no client address to count, a path
//! the stage matcher defers), nothing runs here and JS runs those middleware itself: they ask the
//! same stages through the binding, so the outcome is the same.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use xsys_router::{LayerId, Lookup, Methods, RouteTable, TableOptions};
use xsys_security::cors::{Cors, CorsDecision};
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::{
    Completion, Message, PendingHit, RateLimit, RateLimitInfo, StandardHeaders,
};
use xsys_security::{vary, Header};

use crate::body::ResponseBody;
use crate::head::{DeferredCase, HeadersInJs, ResponseHead, Utf8Head};
use crate::header_case::CaseKey;
use crate::native::EntityTag;

/// One compiled middleware.
#[derive(Debug, Clone)]
pub enum StageKind {
    Helmet(Arc<Helmet>),
    Cors(Arc<Cors>),
    RateLimit(Arc<RateLimit>),
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
    /// for a stage path the route table cannot take (see xsys-router).
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
        Ok(Prelude {
            id,
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

    /// Runs the stages for one request.
    pub(crate) fn run(
        &self,
        method: &Method,
        headers: &HeaderMap,
        path: &str,
        remote: Option<SocketAddr>,
        start: HeaderList,
        now_ms: u64,
    ) -> Ran {
        let matched: Option<Vec<LayerId>> = match &self.paths {
            None => None,
            Some(table) => match table.find(path) {
                Lookup::Layers(layers) => Some(layers.iter().map(|l| l.id).collect()),
                Lookup::Defer => return Ran::Unapplied,
            },
        };
        let applies = |i: usize| {
            matched
                .as_ref()
                .is_none_or(|ids| ids.contains(&LayerId(i as u32)))
        };
        if !(0..self.stages.len()).any(applies) {
            return Ran::NoStage;
        }
        if (0..self.stages.len())
            .any(|i| applies(i) && self.answer_depends_on_freshness(i, method, headers))
        {
            return Ran::Unapplied;
        }
        let mut state = Carried {
            headers: start,
            settlement: Settlement::default(),
            limits: Vec::new(),
            plan: self.id,
            notices: 0,
        };
        let mut ordinal = 0;
        for (i, stage) in self.stages.iter().enumerate() {
            let limiter_ordinal = ordinal;
            if matches!(stage.kind, StageKind::RateLimit(_)) {
                ordinal += 1;
            }
            if !applies(i) {
                continue;
            }
            match &stage.kind {
                StageKind::Helmet(helmet) => {
                    state.headers.set_all(helmet.headers());
                    if helmet.removes_powered_by() {
                        state.headers.remove(&POWERED_BY);
                    }
                }
                StageKind::Cors(cors) => match cors.decide(method.as_str(), headers) {
                    CorsDecision::Pass => {}
                    CorsDecision::Continue(set) => state.headers.apply_cors(&set),
                    CorsDecision::Respond { status, headers } => {
                        state.headers.apply_cors(&headers);
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
                    for header in &hit.headers {
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
                        state
                            .settlement
                            .pending
                            .push((Arc::clone(limiter), pending));
                    }
                    if let Some(rejection) = hit.rejection {
                        for header in rejection.body_headers.iter() {
                            state.headers.set(header);
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
            }
        }
        state.notices = self.pending.swap(0, Ordering::AcqRel);
        Ran::Continue(state)
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
    /// No stage's path matches: the request goes on as if there were no prelude.
    NoStage,
    /// A stage cannot decide this request natively; JS runs them all.
    Unapplied,
    Answered(Response<ResponseBody>),
    Continue(Carried),
}

/// What the stages decided for a request that goes on to JS (or to a native 404).
pub(crate) struct Carried {
    pub(crate) headers: HeaderList,
    pub(crate) settlement: Settlement,
    /// `req.rateLimit` of each rate-limit stage that ran, by its ordinal among the plan's.
    limits: Vec<(usize, RateLimitInfo)>,
    plan: u32,
    notices: u32,
}

impl Carried {
    /// What a request the stages did not run for starts with, for a native answer.
    pub(crate) fn plain(headers: HeaderList) -> Carried {
        Carried {
            headers,
            settlement: Settlement::default(),
            limits: Vec::new(),
            plan: 0,
            notices: 0,
        }
    }
}

impl Carried {
    /// Answers now with these headers, as `res.status(status).send(body)` (or `res.end()`) after
    /// the stages, and settles the rate limiters' hits.
    pub(crate) fn answer(
        mut self,
        status: u16,
        body: Bytes,
        utf8: bool,
        now_ms: u64,
    ) -> Response<ResponseBody> {
        let response = self.headers.response(status, body, utf8);
        self.settlement.finish_at(status, now_ms);
        response
    }

    /// What JS gets with the request (the batch's `prelude` field): the plan id, the notices,
    /// the `req.rateLimit` values of each rate limiter that ran (its ordinal among the plan's
    /// rate limiters first), then the headers as `Name:value` lines:
    ///
    /// ```text
    /// <plan>\n<notices>\n<count>\n(<ordinal>\n<limit>\n<used>\n<remaining>\n<resetMs>\n<key>\n)*(<Name>:<value>\n)*
    /// ```
    pub(crate) fn text(&self) -> Bytes {
        use std::fmt::Write as _;
        let mut head = String::with_capacity(64);
        let _ = write!(
            head,
            "{}\n{}\n{}\n",
            self.plan,
            self.notices,
            self.limits.len()
        );
        for (ordinal, info) in &self.limits {
            let _ = write!(
                head,
                "{ordinal}\n{}\n{}\n{}\n{}\n{}\n",
                xsys_security::number_to_string(info.limit),
                info.used,
                xsys_security::number_to_string(info.remaining),
                info.reset_time_ms,
                info.key
            );
        }
        let mut out = Vec::with_capacity(head.len() + 64 * self.headers.entries.len());
        out.extend_from_slice(head.as_bytes());
        self.headers.write_lines(&mut out);
        Bytes::from(out)
    }
}

/// Rate-limit hits to take back (or not) once the response's fate is known, as
/// express-rate-limit's `'finish'` / `'close'` listeners do. Dropped unsettled, the response
/// never finished: the hits settle as aborted.
#[derive(Default)]
pub(crate) struct Settlement {
    pending: Vec<(Arc<RateLimit>, PendingHit)>,
    status: Option<u16>,
}

impl Settlement {
    /// The status the response's head went out with.
    pub(crate) fn head_sent(&mut self, status: u16) {
        self.status = Some(status);
    }

    /// The response is complete with this status.
    pub(crate) fn finish(&mut self, status: u16) {
        self.finish_at(status, now_ms());
    }

    /// A streamed response ended: it finished with the status its head had.
    pub(crate) fn finish_streamed(&mut self) {
        if let Some(status) = self.status {
            self.finish(status);
        }
    }

    fn finish_at(&mut self, status: u16, now_ms: u64) {
        for (limiter, hit) in self.pending.drain(..) {
            limiter.settle(hit, Completion::finished(status), now_ms);
        }
    }
}

impl Drop for Settlement {
    fn drop(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let now = now_ms();
        for (limiter, hit) in self.pending.drain(..) {
            limiter.settle(hit, Completion::Aborted, now);
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Response headers in the order Express would have them, changed as Node's `setHeader` /
/// `removeHeader` and Express's `res.append` / `vary` change a response's headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderList {
    entries: Vec<Entry>,
    /// A bit per name length (mod 64) present: a name whose bit is clear is not in the list,
    /// so most `setHeader`s append without a scan.
    lengths: u64,
}

/// A header name as the app spells it: most are the stages' constants; the framework's own (its
/// initial headers, its 404 page's) are shared, so cloning a list allocates no names.
#[derive(Debug, Clone)]
pub(crate) enum Cased {
    Static(&'static str),
    Shared(Arc<str>),
}

impl std::ops::Deref for Cased {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Cased::Static(name) => name,
            Cased::Shared(name) => name,
        }
    }
}

fn length_bit(name: &HeaderName) -> u64 {
    1 << (name.as_str().len() & 63)
}

#[derive(Debug, Clone)]
struct Entry {
    name: HeaderName,
    /// The name as last passed to `setHeader`, which Node sends.
    cased: Cased,
    values: Values,
}

#[derive(Debug, Clone)]
enum Values {
    One(HeaderValue),
    Many(Vec<HeaderValue>),
}

impl Entry {
    /// Adds the entry's lines; hyper takes one spelling per line from the case map.
    fn append_to(self, headers: &mut HeaderMap, case: &mut CaseKey) {
        match self.values {
            Values::One(value) => {
                case.note(&self.cased);
                headers.append(self.name, value);
            }
            Values::Many(list) => {
                for value in list {
                    case.note(&self.cased);
                    headers.append(self.name.clone(), value);
                }
            }
        }
    }
}

impl Values {
    fn iter(&self) -> std::slice::Iter<'_, HeaderValue> {
        match self {
            Values::One(v) => std::slice::from_ref(v).iter(),
            Values::Many(list) => list.iter(),
        }
    }
}

impl HeaderList {
    /// A copy with room for what the stages and an answer add (no growing on the way).
    pub(crate) fn copy_with_room(&self) -> HeaderList {
        let mut entries = Vec::with_capacity(self.entries.len() + 24);
        entries.extend(self.entries.iter().cloned());
        HeaderList {
            entries,
            lengths: self.lengths,
        }
    }

    /// A header block (`name:value\n`...) in order, names in their case, values Latin-1.
    pub(crate) fn from_block(block: &str) -> Result<HeaderList, crate::Error> {
        let head = ResponseHead::from_block(200, block)?;
        let mut list = HeaderList::default();
        for line in block.split('\n').filter(|l| !l.is_empty()) {
            let (name, _) = line.split_once(':').unwrap_or((line, ""));
            let lower = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| crate::Error::invalid_header(format!("name {name:?}")))?;
            if list.find(&lower).is_some() {
                continue;
            }
            // the values as parsed (and checked) there, in the same order
            let values: Vec<HeaderValue> = head.headers.get_all(&lower).iter().cloned().collect();
            let values = match <[HeaderValue; 1]>::try_from(values) {
                Ok([one]) => Values::One(one),
                Err(many) => Values::Many(many),
            };
            list.lengths |= length_bit(&lower);
            list.entries.push(Entry {
                name: lower,
                cased: Cased::Shared(name.into()),
                values,
            });
        }
        Ok(list)
    }

    fn find(&self, name: &HeaderName) -> Option<usize> {
        if self.lengths & length_bit(name) == 0 {
            return None;
        }
        self.entries.iter().position(|e| e.name == *name)
    }

    /// `res.setHeader(name, value)`: in place if set before, else last.
    pub(crate) fn set_value(&mut self, name: HeaderName, cased: Cased, value: HeaderValue) {
        match self.find(&name) {
            Some(i) => {
                let entry = &mut self.entries[i];
                entry.cased = cased;
                entry.values = Values::One(value);
            }
            None => {
                self.lengths |= length_bit(&name);
                self.entries.push(Entry {
                    name,
                    cased,
                    values: Values::One(value),
                });
            }
        }
    }

    /// `setHeader` with a name spelled at run time.
    pub(crate) fn set_owned(&mut self, name: HeaderName, cased: String, value: HeaderValue) {
        self.set_value(name, Cased::Shared(cased.into()), value);
    }

    fn set(&mut self, header: &Header) {
        self.set_value(
            header.name.clone(),
            Cased::Static(header.cased_name),
            header.value.clone(),
        );
    }

    /// `setHeader` for each of `headers` (distinct names): appended at once when none is set yet.
    fn set_all(&mut self, headers: &[Header]) {
        let bits = headers
            .iter()
            .fold(0, |bits, header| bits | length_bit(&header.name));
        if self.lengths & bits != 0 {
            for header in headers {
                self.set(header);
            }
            return;
        }
        self.lengths |= bits;
        self.entries.extend(headers.iter().map(|header| Entry {
            name: header.name.clone(),
            cased: Cased::Static(header.cased_name),
            values: Values::One(header.value.clone()),
        }));
    }

    /// Express's `res.append(name, value)`.
    fn append(&mut self, header: &Header) {
        match self.find(&header.name) {
            Some(i) => {
                let entry = &mut self.entries[i];
                entry.cased = Cased::Static(header.cased_name);
                let previous = std::mem::replace(&mut entry.values, Values::Many(Vec::new()));
                let mut list = match previous {
                    Values::One(v) => vec![v],
                    Values::Many(list) => list,
                };
                list.push(header.value.clone());
                entry.values = Values::Many(list);
            }
            None => self.set(header),
        }
    }

    fn remove(&mut self, name: &HeaderName) {
        self.entries.retain(|e| e.name != *name);
    }

    /// cors's headers: `Vary` through the `vary` package, the rest with `setHeader`.
    fn apply_cors(&mut self, headers: &[Header]) {
        for header in headers {
            if header.name != http::header::VARY {
                self.set(header);
                continue;
            }
            let Some(i) = self.find(&header.name) else {
                self.set(header);
                continue;
            };
            // vary(res, field): the current value (an array joined with ", ") with the
            // field's names added.
            let current: Vec<String> = self.entries[i]
                .values
                .iter()
                .map(|v| xsys_security::latin1_decode(v.as_bytes()))
                .collect();
            let field = xsys_security::latin1_decode(header.value.as_bytes());
            if let Some(value) = vary::append(&current.join(", "), &field)
                .and_then(|v| xsys_security::latin1_header_value(&v))
            {
                self.set_value(header.name.clone(), Cased::Static(header.cased_name), value);
            }
        }
    }

    /// `Name:value` lines, one per value, in order.
    fn write_lines(&self, out: &mut Vec<u8>) {
        for entry in &self.entries {
            for value in entry.values.iter() {
                out.extend_from_slice(entry.cased.as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
                out.push(b'\n');
            }
        }
    }

    /// A whole response with these headers; `utf8`: its head goes out in UTF-8, as Node writes
    /// it before a string body.
    fn response(self, status: u16, body: Bytes, utf8: bool) -> Response<ResponseBody> {
        let mut headers = HeaderMap::with_capacity(self.entries.len());
        let mut case = CaseKey::with_capacity(128);
        self.into_map(&mut headers, &mut case);
        let head = ResponseHead {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            headers,
            reason: None,
            case,
            send_date: true,
            prelude_in_js: false,
            utf8: false,
        };
        let head = if utf8 { head.with_utf8_head() } else { head };
        head.into_response(ResponseBody::full(body))
    }

    fn into_map(self, headers: &mut HeaderMap, case: &mut CaseKey) {
        for entry in self.entries {
            entry.append_to(headers, case);
        }
    }
}

/// Puts the stages' headers in front of the headers JS gave its response, unless JS took them
/// into its own (then its head is complete as it is). A name JS set without taking them keeps
/// the stages' place with JS's values, as `setHeader` on an existing header does.
pub(crate) fn finish(response: &mut Response<ResponseBody>, carried: HeaderList) {
    let own_case = response
        .extensions_mut()
        .remove::<DeferredCase>()
        .map(|c| c.0)
        .unwrap_or_default();
    let utf8 = response.extensions_mut().remove::<Utf8Head>().is_some();
    let mut case = CaseKey::with_capacity(128);
    if response.extensions_mut().remove::<HeadersInJs>().is_none() {
        let own = std::mem::take(response.headers_mut());
        let mut merged = HeaderMap::with_capacity(carried.entries.len() + own.len());
        let mut overlapped: Vec<HeaderName> = Vec::new();
        for entry in carried.entries {
            if own.contains_key(&entry.name) {
                for value in own.get_all(&entry.name) {
                    merged.append(entry.name.clone(), value.clone());
                }
                overlapped.push(entry.name);
                continue;
            }
            entry.append_to(&mut merged, &mut case);
        }
        let mut current: Option<HeaderName> = None;
        for (name, value) in own {
            if let Some(name) = name {
                current = Some(name);
            }
            if let Some(name) = &current {
                if !overlapped.contains(name) {
                    merged.append(name.clone(), value);
                }
            }
        }
        if utf8 {
            crate::head::utf8_values(&mut merged);
        }
        *response.headers_mut() = merged;
    }
    case.extend(&own_case);
    if let Some(extensions) = case.extensions() {
        response.extensions_mut().extend(extensions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cased: &'static str, value: &'static str) -> Header {
        Header {
            name: HeaderName::from_bytes(cased.as_bytes()).expect("valid name"),
            cased_name: cased,
            value: HeaderValue::from_static(value),
        }
    }

    fn lines(list: &HeaderList) -> String {
        let mut out = Vec::new();
        list.write_lines(&mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn headers_change_as_set_header_append_and_vary_change_them() {
        let mut list = HeaderList::from_block("X-Powered-By:Express\n").expect("block");
        list.set(&header("Vary", "Accept"));
        list.set(&header("X-A", "1"));
        list.append(&header("RateLimit", "\"a\"; r=1"));
        list.append(&header("RateLimit", "\"b\"; r=2"));
        list.apply_cors(&[header("Vary", "Origin, Accept")]);
        list.set(&header("x-a", "2"));
        list.remove(&HeaderName::from_static("x-powered-by"));
        assert_eq!(
            lines(&list),
            "Vary:Accept, Origin\nx-a:2\nRateLimit:\"a\"; r=1\nRateLimit:\"b\"; r=2\n"
        );
    }

    #[test]
    fn a_header_block_keeps_case_order_and_repeats() {
        let list = HeaderList::from_block("X-Powered-By:Express\nset-cookie:a\nSet-Cookie:b\n")
            .expect("block");
        assert_eq!(
            lines(&list),
            "X-Powered-By:Express\nset-cookie:a\nset-cookie:b\n"
        );
        assert!(HeaderList::from_block("bad name:x\n").is_err());
    }

    /// Node's header map, written plainly: the model the list must agree with.
    #[derive(Default)]
    struct Model(Vec<(String, Vec<String>)>);

    impl Model {
        fn set(&mut self, cased: &str, value: &str) {
            let lower = cased.to_ascii_lowercase();
            match self
                .0
                .iter_mut()
                .find(|(n, _)| n.to_ascii_lowercase() == lower)
            {
                Some(entry) => *entry = (cased.to_owned(), vec![value.to_owned()]),
                None => self.0.push((cased.to_owned(), vec![value.to_owned()])),
            }
        }
        fn append(&mut self, cased: &str, value: &str) {
            let lower = cased.to_ascii_lowercase();
            match self
                .0
                .iter_mut()
                .find(|(n, _)| n.to_ascii_lowercase() == lower)
            {
                Some(entry) => {
                    entry.0 = cased.to_owned();
                    entry.1.push(value.to_owned());
                }
                None => self.set(cased, value),
            }
        }
        fn remove(&mut self, cased: &str) {
            let lower = cased.to_ascii_lowercase();
            self.0.retain(|(n, _)| n.to_ascii_lowercase() != lower);
        }
        fn lines(&self) -> String {
            let mut out = String::new();
            for (name, values) in &self.0 {
                for v in values {
                    out.push_str(&format!("{name}:{v}\n"));
                }
            }
            out
        }
    }

    #[test]
    fn seeded_sequences_of_changes_agree_with_nodes_header_map() {
        // Names of one length collide in the length bits: the scan must still find them.
        const NAMES: [&str; 10] = [
            "X-A",
            "x-a",
            "X-B",
            "Vary",
            "Date",
            "Etag",
            "ETag",
            "RateLimit",
            "X-Frame-Options",
            "Content-Length",
        ];
        const VALUES: [&str; 3] = ["1", "two", "3;3"];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..500 {
            let mut list = HeaderList::default();
            let mut model = Model::default();
            for _ in 0..next(24) {
                let name = NAMES[next(NAMES.len())];
                let value = VALUES[next(VALUES.len())];
                match next(4) {
                    0 => {
                        list.set(&header(name, value));
                        model.set(name, value);
                    }
                    3 => {
                        // a stage's list of distinct names, set at once
                        let mut batch: Vec<Header> = Vec::new();
                        for candidate in NAMES {
                            let taken = batch
                                .iter()
                                .any(|h| h.cased_name.eq_ignore_ascii_case(candidate));
                            if !taken && next(3) == 0 {
                                batch.push(header(candidate, value));
                                model.set(candidate, value);
                            }
                        }
                        list.set_all(&batch);
                    }
                    1 => {
                        list.append(&header(name, value));
                        model.append(name, value);
                    }
                    _ => {
                        list.remove(&HeaderName::from_bytes(name.as_bytes()).expect("name"));
                        model.remove(name);
                    }
                }
            }
            assert_eq!(lines(&list), model.lines(), "round {round}");
        }
    }
}
