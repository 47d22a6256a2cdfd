//! Security stages answered natively, before JS: helmet's headers, CORS and rate limiting.
//!
//! Each stage is built once from the same options as its npm package (helmet 8, cors 2,
//! express-rate-limit 8) and then decides per request from what the engine has: the method,
//! the request headers, the client address and the time. Nothing here does I/O.
//!
//! Options arrive either as typed structs or as [`OptionValue`]s (the JS options object as
//! passed); the second path applies the packages' JavaScript rules (truthiness, aliases,
//! defaults) and is the one checked against fixtures recorded from the packages themselves.
//! Options only JS can honour (functions, stateful RegExps) give an error that
//! [`Error::is_not_native`]: the binding then keeps the npm middleware in JS.

pub mod cors;
mod error;
mod header;
pub mod helmet;
mod js;
pub mod rate_limit;
pub mod regexp;
pub mod vary;

pub use error::{Error, Warning, WarningLevel};
pub use header::Header;
pub use js::{
    joined_header, json_quote, json_stringify, latin1_decode, latin1_header_value,
    number_to_string, OptionValue,
};
