//! Every error code the binding throws, declared once.

use napi::{Env, Error, Status};

pub const INVALID_HEADER: &str = "XYP_ERR_INVALID_HEADER";
pub const INVALID_STATUS: &str = "XYP_ERR_INVALID_STATUS";
pub const INVALID_STATE: &str = "XYP_ERR_INVALID_STATE";
pub const ROUTE_PATTERN: &str = "XYP_ERR_ROUTE_PATTERN";
pub const NOT_LISTENING: &str = "XYP_ERR_NOT_LISTENING";
pub const ENGINE: &str = "XYP_ERR_ENGINE";
pub const XEMS_KEY: &str = "XYP_ERR_XEMS_KEY";
pub const XEMS_INTEGRITY: &str = "XYP_ERR_XEMS_INTEGRITY";
pub const XEMS_LOCKED: &str = "XYP_ERR_XEMS_LOCKED";
pub const XEMS_IO: &str = "XYP_ERR_XEMS_IO";
pub const XEMS_CLOSED: &str = "XYP_ERR_XEMS_CLOSED";
pub const XEMS_INVALID_ARGUMENT: &str = "XYP_ERR_XEMS_INVALID_ARGUMENT";
/// helmet, cors or express-rate-limit would throw for these options (the message is theirs).
pub const INVALID_OPTION: &str = "XYP_ERR_INVALID_OPTION";
/// Valid options that only the JS middleware can honour (a function, a custom store...).
pub const NOT_NATIVE: &str = "XYP_ERR_NOT_NATIVE";

/// Throws a JS `Error` whose `code` is `code`; the returned error tells napi-rs it is pending.
pub fn throw(env: &Env, code: &str, message: &str) -> Error {
    match env.throw_error(message, Some(code)) {
        Ok(()) => Error::from_status(Status::PendingException),
        Err(e) => e,
    }
}

/// Maps an engine error to its code.
pub fn engine_code(error: &xsys_http::Error) -> &'static str {
    if error.is_invalid_header() {
        INVALID_HEADER
    } else if error.is_invalid_status() {
        INVALID_STATUS
    } else if error.is_invalid_state() {
        INVALID_STATE
    } else {
        ENGINE
    }
}

pub fn throw_engine(env: &Env, error: &xsys_http::Error) -> Error {
    throw(env, engine_code(error), &error.to_string())
}
