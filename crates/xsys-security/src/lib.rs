//! Security stages answered natively, before JS: helmet's headers, CORS and rate limiting.
//!
//! Each stage is built once from the same options as its npm package (helmet 8, cors 2.8,
//! express-rate-limit 8) and then decides per request from what the engine has: the method,
//! the request headers, the client address and the time. Nothing here does I/O, spawns or
//! sleeps; time is always passed in (ms since the epoch, as `Date.now()`).
//!
//! # Building a stage
//!
//! Options arrive either as typed structs ([`helmet::HelmetOptions`],
//! [`cors::CorsOptions`], [`rate_limit::RateLimitOptions`]) or as an [`OptionValue`]: the JS
//! options object as passed, which the binding converts without interpreting. The second path
//! applies the packages' JavaScript rules (truthiness, `undefined` vs absent, legacy aliases,
//! defaults, the order in which they throw) and is the one checked against fixtures recorded
//! from the packages themselves (`tests/fixtures/gen.mjs`).
//!
//! Building fails with an [`Error`]:
//! - [`Error::is_invalid_option`]: the package throws at setup; throw the same message.
//! - [`Error::is_not_native`]: valid options that only JS can honour (a function, a RegExp with
//!   `g`/`y`, a custom store, a value Node rejects per request); keep the npm middleware in JS.
//!
//! What the packages only print ([`Warning`]s: helmet's `console.warn`, express-rate-limit's
//! logged validations) is returned by the stage for the binding to print once.
//!
//! # Applying a stage (the engine's side)
//!
//! - **helmet**: on every response, set [`helmet::Helmet::headers`] in order, and leave out
//!   Express's `X-Powered-By` when [`helmet::Helmet::removes_powered_by`].
//! - **cors**: [`cors::Cors::decide`] with the method and request headers. `Continue` lists
//!   headers to set before going on (merge `Vary` with [`vary::append`] if the response already
//!   has one); `Respond` is the whole preflight answer (status, headers ending in
//!   `Content-Length: 0`, empty body).
//! - **rate limit**: key the client ([`rate_limit::RateLimit::key_for_ip`] for the socket
//!   address, `key_for_ip_text` for `req.ip` after `trust proxy`, or a key from a JS
//!   `keyGenerator`), then [`rate_limit::RateLimit::hit`]. Set its headers (they include
//!   `Date`: do not add another); past the limit send its [`rate_limit::Rejection`] (and the
//!   app's ETag of `etag_source`, no body for HEAD); otherwise go on, exposing
//!   [`rate_limit::RateLimitInfo`] as `req[requestPropertyName]`. With the skip options, pass
//!   the hit's `pending` to `settle` when the response finishes or is aborted. Call `sweep`
//!   every `windowMs` to forget ended windows. [`rate_limit::JsHooks`] says which functions
//!   (`skip`, `handler`, `keyGenerator`, `requestWasSuccessful`) still need JS.
//!
//! Every header carries its name as the package writes it ([`Header::cased_name`]), which is
//! what Node puts on the wire, and values as Node writes JS strings (Latin-1 bytes).

pub mod cors;
mod error;
mod header;
pub mod helmet;
mod js;
pub mod rate_limit;
pub mod regexp;
pub mod vary;

pub use error::{Error, Warning, WarningLevel};
pub use header::{is_title_case, Header};
pub use js::{
    joined_header, json_quote, json_stringify, latin1_decode, latin1_header_value,
    number_to_string, OptionValue,
};
