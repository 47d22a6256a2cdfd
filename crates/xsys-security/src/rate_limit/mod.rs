//! express-rate-limit 8: counting, the headers it sets, and the response it sends past the
//! limit, with its MemoryStore's fixed window (or, as an xypriss option, GCRA).
//!
//! A hit is one sharded-map operation plus the headers, which are the only per-request text.
//! The time is always given by the caller (ms since the epoch, as `Date.now()`), so the stage
//! is deterministic and testable with a fake clock.

mod answer;
mod key;
mod options;
mod registry;
mod store;

pub use key::ClientKey;
pub use options::{Algorithm, JsHooks, Message, RateLimitOptions, StandardHeaders};
pub use registry::shared;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Warning};
use crate::header::{name, Header};
use crate::js::{latin1_header_value, number_to_string, OptionValue};
use answer::{
    ascii_value, default_identifier, http_date, number_value, rejection, reset_seconds, trunc_ms,
};
use http::HeaderValue;
use store::{Entry, Shards};

/// `req.rateLimit` as express-rate-limit fills it.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitInfo {
    pub limit: f64,
    /// Hits counted in the window, this one included (`used`, `current`).
    pub used: u64,
    pub remaining: f64,
    /// When the window ends (`resetTime`), ms since the epoch.
    pub reset_time_ms: u64,
    pub key: ClientKey,
}

/// What a hit decides.
#[derive(Debug, Clone)]
pub struct Hit {
    pub info: RateLimitInfo,
    /// Headers to set on the response, in express-rate-limit's order (on allowed requests
    /// too). The legacy headers include `Date`: the engine must not add another.
    pub headers: Vec<Header>,
    /// Past the limit: the response to send instead of calling the next handler.
    pub rejection: Option<Rejection>,
    /// With `skipSuccessfulRequests`/`skipFailedRequests`: hand it to [`RateLimit::settle`]
    /// once the response's fate is known (rejected responses included, as in JS).
    pub pending: Option<PendingHit>,
}

/// The limiter's own answer: `res.status(statusCode).send(message)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    /// `Content-Type` and `Content-Length` as `res.send` sets them (none for 204/304). The
    /// engine then adds what depends on the app: the `ETag` of `body` per the app's `etag`
    /// setting (Express's default is weak), and no body for HEAD.
    pub body_headers: Arc<[Header]>,
    pub body: Bytes,
    /// What Express computes the ETag from: the message, even when a 204 or 304 sends none.
    pub etag_source: Bytes,
}

/// A counted hit that may be taken back when the response is known.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingHit {
    key: ClientKey,
    reset_time_ms: u64,
    skip_successful: bool,
    skip_failed: bool,
}

/// How a response ended, for [`RateLimit::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// `'finish'`: the response was sent; `successful` is `requestWasSuccessful` (by default
    /// `status < 400`, see [`Completion::finished`]).
    Finished { successful: bool },
    /// `'close'` before the response ended (the client went away), or `'error'`.
    Aborted,
}

impl Completion {
    /// A finished response judged by express-rate-limit's default `requestWasSuccessful`.
    pub fn finished(status: u16) -> Completion {
        Completion::Finished {
            successful: status < 400,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    hits: u64,
    reset_ms: u64,
}

impl Entry for Window {
    fn expires_at(&self) -> f64 {
        self.reset_ms as f64
    }
}

/// GCRA state: the theoretical arrival time, ms.
#[derive(Debug, Clone, Copy)]
struct Arrival {
    tat: f64,
}

impl Entry for Arrival {
    fn expires_at(&self) -> f64 {
        self.tat
    }
}

enum Counters {
    Fixed(Shards<Window>),
    Gcra(Shards<Arrival>),
}

/// The compiled stage and its counters; share one per limiter across threads.
pub struct RateLimit {
    /// Tells this limiter's cached values from another's.
    id: u64,
    options: RateLimitOptions,
    counters: Counters,
    /// `Math.ceil(windowMs / 1000)`.
    window_seconds: String,
    /// draft-8's quoted name.
    identifier: String,
    /// What does not change from one request to the next, made once: the limit as text, the
    /// draft-6/7 policy, and the start of draft-7's and draft-8's `RateLimit` value (Latin-1).
    limit_value: HeaderValue,
    policy_value: HeaderValue,
    ratelimit_prefix: Vec<u8>,
    rejection: Rejection,
    warnings: Vec<Warning>,
    hooks: JsHooks,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Below this, expressed in ms, two GCRA times are the same (float rounding).
const EPSILON_MS: f64 = 1e-6;

impl RateLimit {
    /// Builds the stage from typed options.
    pub fn new(options: RateLimitOptions) -> Result<RateLimit, Error> {
        RateLimit::build(options, Vec::new(), JsHooks::default())
    }

    /// `rateLimit(options)` for options as JS passed them: defaults, aliases (`max`,
    /// `headers`), express-rate-limit's logged validations as [`RateLimit::warnings`], and
    /// the JS functions given as [`RateLimit::js_hooks`].
    pub fn from_option_value(options: &OptionValue) -> Result<RateLimit, Error> {
        let (options, warnings, hooks) = options::from_option_value(options)?;
        RateLimit::build(options, warnings, hooks)
    }

    fn build(
        options: RateLimitOptions,
        warnings: Vec<Warning>,
        hooks: JsHooks,
    ) -> Result<RateLimit, Error> {
        let w = options.window_ms;
        if !(w >= 1.0 && w <= f64::from(i32::MAX)) {
            // MemoryStore's interval would then fire every millisecond (Node clamps it),
            // forgetting clients early; that is not worth mirroring.
            return Err(Error::not_native(format!(
                "windowMs {} is outside 1..2147483647; the MemoryStore then misbehaves in JS, which keeps it",
                number_to_string(w)
            )));
        }
        if !options.limit.is_finite() {
            return Err(Error::not_native("a non-finite limit stays in JS"));
        }
        if !(100..=999).contains(&options.status_code) {
            return Err(Error::not_native(format!(
                "statusCode {} makes res.status() throw; it stays in JS",
                options.status_code
            )));
        }
        let identifier = match &options.identifier {
            Some(name) => name.clone(),
            None => default_identifier(options.limit, w),
        };
        if latin1_header_value(&identifier).is_none() {
            return Err(Error::not_native(
                "the draft-8 identifier has characters Node refuses in a header",
            ));
        }
        let rejection = rejection(&options);
        let counters = match options.algorithm {
            Algorithm::FixedWindow => {
                Counters::Fixed(Shards::new(options.shards, options.max_keys))
            }
            Algorithm::Gcra => Counters::Gcra(Shards::new(options.shards, options.max_keys)),
        };
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let window_seconds = number_to_string((w / 1000.0).ceil());
        let limit_text = number_to_string(options.limit);
        let ratelimit_prefix = match options.standard_headers {
            StandardHeaders::Draft7 => format!("limit={limit_text}, remaining="),
            _ => format!("\"{identifier}\"; r="),
        };
        let ratelimit_prefix = latin1_header_value(&ratelimit_prefix)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        Ok(RateLimit {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            limit_value: ascii_value(limit_text.clone().into_bytes()),
            policy_value: ascii_value(format!("{limit_text};w={window_seconds}").into_bytes()),
            ratelimit_prefix,
            window_seconds,
            identifier,
            rejection,
            counters,
            warnings,
            hooks,
            options,
        })
    }

    pub fn options(&self) -> &RateLimitOptions {
        &self.options
    }

    /// The answer past the limit (the same for every request).
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }

    /// What express-rate-limit logs (once) for these options; print them once.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The JS functions among the options: the engine can only decide natively when none is
    /// set; with only `keyGenerator`, JS computes the key and the counting stays here.
    pub fn js_hooks(&self) -> JsHooks {
        self.hooks
    }

    /// The default key for a client address as the socket reports it.
    pub fn key_for_ip(&self, ip: IpAddr) -> ClientKey {
        ClientKey::from_ip(ip, self.options.ipv6_subnet)
    }

    /// The default key for `req.ip` as text (after `trust proxy`).
    pub fn key_for_ip_text(&self, ip: &str) -> ClientKey {
        ClientKey::from_ip_text(ip, self.options.ipv6_subnet)
    }

    /// Counts a request from `key` at `now_ms` and says what to do with it.
    pub fn hit(&self, key: &ClientKey, now_ms: u64) -> Hit {
        let now = now_ms as f64;
        let o = &self.options;
        let (used, remaining, reset_ms, retry_seconds, over) = match &self.counters {
            Counters::Fixed(shards) => {
                let window = trunc_ms(o.window_ms);
                let counted = shards.update(key, now, |entry| {
                    let mut entry = match entry {
                        Some(e) if e.reset_ms > now_ms => e,
                        _ => Window {
                            hits: 0,
                            reset_ms: now_ms.saturating_add(window),
                        },
                    };
                    entry.hits += 1;
                    (Some(entry), entry)
                });
                let remaining = (o.limit - counted.hits as f64).max(0.0);
                let reset_seconds = reset_seconds(counted.reset_ms, now_ms);
                (
                    counted.hits,
                    remaining,
                    counted.reset_ms,
                    reset_seconds,
                    counted.hits as f64 > o.limit,
                )
            }
            Counters::Gcra(shards) => self.gcra_hit(shards, key, now),
        };
        let info = RateLimitInfo {
            limit: o.limit,
            used,
            remaining,
            reset_time_ms: reset_ms,
            key: key.clone(),
        };
        // Values are written straight into their own bytes: no String per number.
        let mut headers = Vec::with_capacity(8);
        if o.legacy_headers {
            headers.push(Header::named(
                name::X_RATELIMIT_LIMIT,
                self.limit_value.clone(),
            ));
            headers.push(Header::named(
                name::X_RATELIMIT_REMAINING,
                number_value(remaining),
            ));
            headers.push(Header::named(
                name::DATE,
                ascii_value(http_date(now_ms).into_bytes()),
            ));
            headers.push(Header::named(
                name::X_RATELIMIT_RESET,
                HeaderValue::from(reset_ms.div_ceil(1000)),
            ));
        }
        let reset = reset_seconds(reset_ms, now_ms);
        match o.standard_headers {
            StandardHeaders::Off | StandardHeaders::Unsupported => {}
            StandardHeaders::Draft6 => {
                headers.push(self.policy_header());
                headers.push(Header::named(
                    name::RATELIMIT_LIMIT,
                    self.limit_value.clone(),
                ));
                headers.push(Header::named(
                    name::RATELIMIT_REMAINING,
                    number_value(remaining),
                ));
                headers.push(Header::named(
                    name::RATELIMIT_RESET,
                    HeaderValue::from(reset),
                ));
            }
            StandardHeaders::Draft7 => {
                headers.push(self.policy_header());
                // limit=<limit>, remaining=<remaining>, reset=<reset>
                headers.push(self.ratelimit_header(remaining, b", reset=", reset));
            }
            StandardHeaders::Draft8 => {
                // "<identifier>"; r=<remaining>; t=<reset>
                headers.push(self.ratelimit_header(remaining, b"; t=", reset));
                headers.push(Header::named(
                    name::RATELIMIT_POLICY,
                    self.draft8_policy(key),
                ));
            }
        }
        let rejection = over.then(|| {
            if o.legacy_headers || o.standard_headers != StandardHeaders::Off {
                let value = match o.retry_after {
                    Some(seconds) => number_value(seconds),
                    None => HeaderValue::from(retry_seconds),
                };
                headers.push(Header::named(name::RETRY_AFTER, value));
            }
            self.rejection.clone()
        });
        let pending = (o.skip_successful_requests || o.skip_failed_requests).then(|| PendingHit {
            key: key.clone(),
            reset_time_ms: reset_ms,
            skip_successful: o.skip_successful_requests,
            skip_failed: o.skip_failed_requests,
        });
        Hit {
            info,
            headers,
            rejection,
            pending,
        }
    }

    /// GCRA: each hit books `windowMs / limit` of a budget of `windowMs`; a hit that would
    /// overdraw it is refused and not booked. `limit` hits may come at once, then one per
    /// interval. Reset is when the budget is whole again; Retry-After when one hit fits.
    fn gcra_hit(
        &self,
        shards: &Shards<Arrival>,
        key: &ClientKey,
        now: f64,
    ) -> (u64, f64, u64, u64, bool) {
        let o = &self.options;
        let w = o.window_ms;
        let interval = if o.limit > 0.0 {
            w / o.limit
        } else {
            f64::INFINITY
        };
        let (tat, allowed) = shards.update(key, now, |entry| {
            let tat = entry.map_or(now, |e| e.tat.max(now));
            let next = tat + interval;
            if next - now <= w + EPSILON_MS {
                (Some(Arrival { tat: next }), (next, true))
            } else {
                (entry, (tat, false))
            }
        });
        let booked = if interval.is_finite() {
            ((tat - now) / interval - EPSILON_MS).ceil().max(0.0)
        } else {
            0.0
        };
        let remaining = (o.limit - booked).max(0.0).floor();
        let used = booked as u64 + u64::from(!allowed);
        let reset_ms = tat.ceil() as u64;
        let retry_ms = if interval.is_finite() {
            (tat + interval - w - now).max(0.0)
        } else {
            w
        };
        let retry_seconds = (retry_ms / 1000.0).ceil() as u64;
        (used, remaining, reset_ms, retry_seconds, !allowed)
    }

    /// Takes a hit back per `skipSuccessfulRequests`/`skipFailedRequests`, unless its window
    /// has ended by `now_ms`.
    pub fn settle(&self, pending: PendingHit, completion: Completion, now_ms: u64) {
        let take_back = match completion {
            Completion::Finished { successful } => {
                (successful && pending.skip_successful) || (!successful && pending.skip_failed)
            }
            Completion::Aborted => pending.skip_failed,
        };
        if !take_back || now_ms >= pending.reset_time_ms {
            return;
        }
        self.decrement(&pending.key, now_ms);
    }

    /// MemoryStore's `decrement(key)`: one hit fewer (a key that is gone starts a window with
    /// none, as MemoryStore's does).
    pub fn decrement(&self, key: &ClientKey, now_ms: u64) {
        let now = now_ms as f64;
        match &self.counters {
            Counters::Fixed(shards) => {
                let window = trunc_ms(self.options.window_ms);
                shards.update(key, now, |entry| {
                    // MemoryStore's decrement creates the client when it is gone.
                    let mut entry = entry.unwrap_or(Window {
                        hits: 0,
                        reset_ms: now_ms.saturating_add(window),
                    });
                    entry.hits = entry.hits.saturating_sub(1);
                    (Some(entry), ())
                });
            }
            Counters::Gcra(shards) => {
                let interval = self.options.window_ms / self.options.limit;
                shards.update(key, now, |entry| {
                    (
                        entry.map(|e| Arrival {
                            tat: e.tat - interval,
                        }),
                        (),
                    )
                });
            }
        }
    }

    /// `limiter.getKey(key)`: hits and reset time of a live window.
    pub fn get(&self, key: &ClientKey, now_ms: u64) -> Option<(u64, u64)> {
        match &self.counters {
            Counters::Fixed(shards) => shards
                .get(key)
                .filter(|e| e.reset_ms > now_ms)
                .map(|e| (e.hits, e.reset_ms)),
            Counters::Gcra(shards) => shards.get(key).filter(|e| e.tat > now_ms as f64).map(|e| {
                let interval = self.options.window_ms / self.options.limit;
                let booked = ((e.tat - now_ms as f64) / interval - EPSILON_MS).ceil();
                (booked as u64, e.tat.ceil() as u64)
            }),
        }
    }

    /// `limiter.resetKey(key)`.
    pub fn reset_key(&self, key: &ClientKey) {
        match &self.counters {
            Counters::Fixed(shards) => shards.remove(key),
            Counters::Gcra(shards) => shards.remove(key),
        }
    }

    /// MemoryStore's `resetAll()`.
    pub fn reset_all(&self) {
        match &self.counters {
            Counters::Fixed(shards) => shards.clear(),
            Counters::Gcra(shards) => shards.clear(),
        }
    }

    /// Forgets ended windows (MemoryStore does this every `windowMs`; call it on a timer).
    /// Returns how many were dropped.
    pub fn sweep(&self, now_ms: u64) -> usize {
        match &self.counters {
            Counters::Fixed(shards) => shards.sweep(now_ms as f64),
            Counters::Gcra(shards) => shards.sweep(now_ms as f64),
        }
    }

    /// Keys currently held.
    pub fn key_count(&self) -> usize {
        match &self.counters {
            Counters::Fixed(shards) => shards.len(),
            Counters::Gcra(shards) => shards.len(),
        }
    }
}

#[cfg(test)]
mod tests;
