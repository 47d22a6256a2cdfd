//! helmet, CORS and rate-limit stages for JS: built from the same options as the npm packages
//! (xsys-security), used by the JS middleware per request and compiled into a server's native
//! prelude (see prelude.rs) when they lead the app's stack.
//!
//! Options cross as a flat token list that `lib/middleware/options.ts` writes from the JS value
//! without interpreting it; [`decode`] turns it back into the value it was.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::{Buffer, Either3};
use napi::{Env, Result};
use napi_derive::napi;
use xsys_security::cors::{Cors, CorsDecision};
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::{self, ClientKey, RateLimit};
use xsys_security::{Header, OptionValue, Warning, WarningLevel};

use crate::errors::{throw, INVALID_OPTION, NOT_NATIVE};

/// One token of an options value, as `lib/middleware/options.ts` encodes it.
pub type OptionToken = Either3<f64, String, Buffer>;

// Tags, each followed by its payload tokens.
const UNDEFINED: u32 = 0;
const NULL: u32 = 1;
const FALSE: u32 = 2;
const TRUE: u32 = 3;
const NUMBER: u32 = 4; // the number
const STRING: u32 = 5; // the string
const ARRAY: u32 = 6; // the length, then each element
const OBJECT: u32 = 7; // the property count, then each key (string) and value
const REGEXP: u32 = 8; // source, flags
const BYTES: u32 = 9; // a Buffer
const FUNCTION: u32 = 10;
const SYMBOL: u32 = 11; // the description

/// The JS value the tokens were written from; `None` for a malformed list.
fn decode(tokens: &[OptionToken]) -> Option<OptionValue> {
    let mut at = 0;
    let value = decode_at(tokens, &mut at, 0)?;
    (at == tokens.len()).then_some(value)
}

fn decode_at(tokens: &[OptionToken], at: &mut usize, depth: usize) -> Option<OptionValue> {
    // Options nest a few levels; a deeper list is malformed.
    if depth > 64 {
        return None;
    }
    let number = |at: &mut usize| -> Option<f64> {
        let Either3::A(n) = tokens.get(*at)? else {
            return None;
        };
        *at += 1;
        Some(*n)
    };
    let string = |at: &mut usize| -> Option<String> {
        let Either3::B(s) = tokens.get(*at)? else {
            return None;
        };
        *at += 1;
        Some(s.clone())
    };
    let tag = number(at)? as u32;
    Some(match tag {
        UNDEFINED => OptionValue::Undefined,
        NULL => OptionValue::Null,
        FALSE => OptionValue::Bool(false),
        TRUE => OptionValue::Bool(true),
        NUMBER => OptionValue::Number(number(at)?),
        STRING => OptionValue::String(string(at)?),
        ARRAY => {
            let count = number(at)? as usize;
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                items.push(decode_at(tokens, at, depth + 1)?);
            }
            OptionValue::Array(items)
        }
        OBJECT => {
            let count = number(at)? as usize;
            let mut props = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                let key = string(at)?;
                props.push((key, decode_at(tokens, at, depth + 1)?));
            }
            OptionValue::Object(props)
        }
        REGEXP => {
            let source = string(at)?;
            let flags = string(at)?;
            OptionValue::RegExp { source, flags }
        }
        BYTES => {
            let Either3::C(bytes) = tokens.get(*at)? else {
                return None;
            };
            *at += 1;
            OptionValue::Bytes(bytes.to_vec())
        }
        FUNCTION => OptionValue::Function,
        SYMBOL => OptionValue::Symbol(string(at)?),
        _ => return None,
    })
}

fn options(env: &Env, tokens: &[OptionToken]) -> Result<OptionValue> {
    decode(tokens).ok_or_else(|| throw(env, INVALID_OPTION, "malformed options tokens"))
}

/// The package's setup error (its message, a TypeError where JS's own throw is one), or the
/// reason the options stay in JS.
fn throw_security(env: &Env, error: &xsys_security::Error) -> napi::Error {
    if error.is_not_native() {
        return throw(env, NOT_NATIVE, error.message());
    }
    if error.is_type_error() {
        return match env.throw_type_error(error.message(), Some(INVALID_OPTION)) {
            Ok(()) => napi::Error::from_status(napi::Status::PendingException),
            Err(e) => e,
        };
    }
    throw(env, INVALID_OPTION, error.message())
}

/// A header's name and value as JS strings (values are Latin-1, as Node reads them).
fn push_header(out: &mut Vec<String>, header: &Header) {
    out.push(header.cased_name.to_owned());
    out.push(latin1(header.value.as_bytes()));
}

fn latin1(bytes: &[u8]) -> String {
    xsys_security::latin1_decode(bytes)
}

/// `[code, level, message]` triples: level `warn` or `error` (the console method).
fn warning_list(warnings: &[Warning]) -> Vec<String> {
    let mut out = Vec::with_capacity(warnings.len() * 3);
    for w in warnings {
        out.push(w.code.unwrap_or("").to_owned());
        out.push(
            match w.level {
                WarningLevel::Warn => "warn",
                WarningLevel::Error => "error",
            }
            .to_owned(),
        );
        out.push(w.message.clone());
    }
    out
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `helmet(options)`: the headers it sets on every response, computed once.
#[napi]
pub struct HelmetStage {
    pub(crate) inner: Arc<Helmet>,
}

#[napi]
impl HelmetStage {
    /// Throws helmet's own setup error, or a NOT_NATIVE error with the reason the options
    /// stay in JS.
    #[napi(factory)]
    pub fn create(
        env: Env,
        #[napi(ts_arg_type = "Array<number | string | Buffer>")] tokens: Vec<OptionToken>,
    ) -> Result<Self> {
        let value = options(&env, &tokens)?;
        let inner = Helmet::from_option_value(&value).map_err(|e| throw_security(&env, &e))?;
        Ok(HelmetStage {
            inner: Arc::new(inner),
        })
    }

    /// `[name, value, name, value, ...]` in helmet's order.
    #[napi]
    pub fn headers(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.inner.headers().len() * 2);
        for header in self.inner.headers() {
            push_header(&mut out, header);
        }
        out
    }

    #[napi]
    pub fn removes_powered_by(&self) -> bool {
        self.inner.removes_powered_by()
    }

    /// What helmet prints with `console.warn` for these options (see [`warning_list`]).
    #[napi]
    pub fn warnings(&self) -> Vec<String> {
        warning_list(self.inner.warnings())
    }
}

/// `cors(options)` with options that do not change per request.
#[napi]
pub struct CorsStage {
    pub(crate) inner: Arc<Cors>,
}

#[napi]
impl CorsStage {
    #[napi(factory)]
    pub fn create(
        env: Env,
        #[napi(ts_arg_type = "Array<number | string | Buffer>")] tokens: Vec<OptionToken>,
    ) -> Result<Self> {
        let value = options(&env, &tokens)?;
        let inner = Cors::from_option_value(&value).map_err(|e| throw_security(&env, &e))?;
        Ok(CorsStage {
            inner: Arc::new(inner),
        })
    }

    /// What cors does with a request: `[]` passes it on untouched; otherwise the first element
    /// is `"0"` to go on, or the status of the preflight answer to send now, and then the
    /// headers to set, `[name, value, ...]` (`Vary` to merge with the `vary` package).
    #[napi]
    pub fn decide(
        &self,
        method: String,
        origin: Option<String>,
        request_headers: Option<String>,
    ) -> Vec<String> {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            (http::header::ORIGIN, origin),
            (
                http::header::ACCESS_CONTROL_REQUEST_HEADERS,
                request_headers,
            ),
        ] {
            // JS hands over only values a request can carry (see lib/middleware/cors.ts).
            if let Some(value) = value.and_then(|v| xsys_security::latin1_header_value(&v)) {
                headers.insert(name, value);
            }
        }
        let (status, list) = match self.inner.decide(&method, &headers) {
            CorsDecision::Pass => return Vec::new(),
            CorsDecision::Continue(list) => (0, list),
            CorsDecision::Respond { status, headers } => (status, headers),
        };
        let mut out = Vec::with_capacity(1 + list.len() * 2);
        out.push(status.to_string());
        for header in &list {
            push_header(&mut out, header);
        }
        out
    }
}

/// `rateLimit(options)`: express-rate-limit's counting in native, sharded counters, shared by
/// the JS middleware and the native prelude.
#[napi]
pub struct RateLimitStage {
    pub(crate) inner: Arc<RateLimit>,
}

#[napi]
impl RateLimitStage {
    /// `shared_name`: in a worker thread, the name the same limiter has in every worker serving
    /// the listener (see lib/engine/workers.ts): limiters with that name and equal options count
    /// in one store, so a client's limit holds across threads.
    #[napi(factory)]
    pub fn create(
        env: Env,
        #[napi(ts_arg_type = "Array<number | string | Buffer>")] tokens: Vec<OptionToken>,
        shared_name: Option<String>,
    ) -> Result<Self> {
        let value = options(&env, &tokens)?;
        let built = RateLimit::from_option_value(&value).map_err(|e| throw_security(&env, &e))?;
        let inner = match shared_name {
            Some(name) => rate_limit::shared(&name, built),
            None => Arc::new(built),
        };
        Ok(RateLimitStage { inner })
    }

    /// express-rate-limit's logged validations for these options (see [`warning_list`]).
    #[napi]
    pub fn warnings(&self) -> Vec<String> {
        warning_list(self.inner.warnings())
    }

    /// Which options are JS functions: `[keyGenerator, skip, handler, requestWasSuccessful]`.
    #[napi]
    pub fn js_hooks(&self) -> Vec<bool> {
        let hooks = self.inner.js_hooks();
        vec![
            hooks.key_generator,
            hooks.skip,
            hooks.handler,
            hooks.request_was_successful,
        ]
    }

    /// Counts a hit keyed by `req.ip` (express-rate-limit's default key generator).
    #[napi]
    pub fn hit_ip(&self, ip: String) -> Vec<String> {
        let key = self.inner.key_for_ip_text(&ip);
        self.hit(&key)
    }

    /// Counts a hit for a key given as text (a JS `keyGenerator`'s, a store's `increment`).
    #[napi]
    pub fn hit_key(&self, key: String) -> Vec<String> {
        self.hit(&ClientKey::from_key_text(&key))
    }

    /// `[limit, used, remaining, resetMs, key, rejected ("1" or ""), name, value, ...]`: the
    /// values of `req.rateLimit` and the headers to set, in express-rate-limit's order
    /// (Retry-After included past the limit).
    fn hit(&self, key: &ClientKey) -> Vec<String> {
        let hit = self.inner.hit(key, now_ms());
        let mut out = Vec::with_capacity(6 + hit.headers.len() * 2);
        out.push(xsys_security::number_to_string(hit.info.limit));
        out.push(hit.info.used.to_string());
        out.push(xsys_security::number_to_string(hit.info.remaining));
        out.push(hit.info.reset_time_ms.to_string());
        out.push(hit.info.key.to_string());
        out.push(if hit.rejection.is_some() { "1" } else { "" }.to_owned());
        for header in &hit.headers {
            push_header(&mut out, header);
        }
        out
    }

    /// MemoryStore's `decrement(key)`.
    #[napi]
    pub fn decrement(&self, key: String) {
        self.inner
            .decrement(&ClientKey::from_key_text(&key), now_ms());
    }

    /// `limiter.resetKey(key)`.
    #[napi]
    pub fn reset_key(&self, key: String) {
        self.inner.reset_key(&ClientKey::from_key_text(&key));
    }

    /// MemoryStore's `resetAll()`.
    #[napi]
    pub fn reset_all(&self) {
        self.inner.reset_all();
    }

    /// `limiter.getKey(key)`: `[totalHits, resetMs]` of a live window, or nothing.
    #[napi]
    pub fn get(&self, key: String) -> Option<Vec<f64>> {
        self.inner
            .get(&ClientKey::from_key_text(&key), now_ms())
            .map(|(hits, reset)| vec![hits as f64, reset as f64])
    }

    /// Forgets ended windows; JS calls it every `windowMs`, as MemoryStore's timer does.
    #[napi]
    pub fn sweep(&self) -> u32 {
        self.inner.sweep(now_ms()) as u32
    }
}
