//! Every `XYP_ERR_*` code xypriss throws, from Rust or from lib/, declared once: lib/ imports
//! them from `lib/error-codes.ts`, which is generated from this table (`npm run generate`).

use napi::{Env, Error, Status};

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])+ $name:ident = $code:literal;)+) => {
        $(
            $(#[doc = $doc])+
            // some are thrown only by lib/
            #[allow(dead_code)]
            pub const $name: &str = $code;
        )+

        /// `(name, code, when)` of every code, for the generated TypeScript.
        #[cfg(test)]
        pub const CODES: &[(&str, &str, &str)] = &[$((stringify!($name), $code, concat!($($doc),+))),+];
    };
}

error_codes! {
    /// A header name or value HTTP cannot carry, given to the engine.
    INVALID_HEADER = "XYP_ERR_INVALID_HEADER";
    /// A status code the engine cannot send.
    INVALID_STATUS = "XYP_ERR_INVALID_STATUS";
    /// A response call that its exchange's state does not allow (e.g. after it ended).
    INVALID_STATE = "XYP_ERR_INVALID_STATE";
    /// A route path the engine's table cannot take.
    ROUTE_PATTERN = "XYP_ERR_ROUTE_PATTERN";
    /// A call that needs a listening server.
    NOT_LISTENING = "XYP_ERR_NOT_LISTENING";
    /// Any other engine failure.
    ENGINE = "XYP_ERR_ENGINE";
    /// XEMS: wrong secret, other hardware or wrong recovery key, or no secret at all.
    XEMS_KEY = "XYP_ERR_XEMS_KEY";
    /// XEMS: the store file is damaged or was tampered with.
    XEMS_INTEGRITY = "XYP_ERR_XEMS_INTEGRITY";
    /// XEMS: another process has the store open.
    XEMS_LOCKED = "XYP_ERR_XEMS_LOCKED";
    /// XEMS: reading or writing the store file failed.
    XEMS_IO = "XYP_ERR_XEMS_IO";
    /// XEMS: the store is closed.
    XEMS_CLOSED = "XYP_ERR_XEMS_CLOSED";
    /// XEMS: arguments or options rejected.
    XEMS_INVALID_ARGUMENT = "XYP_ERR_XEMS_INVALID_ARGUMENT";
    /// XEMS: the store file, or its directory without the sticky bit, is writable by its group or other users.
    XEMS_PERMISSIONS = "XYP_ERR_XEMS_PERMISSIONS";
    /// Something Node or Express does that xypriss does not (yet): said, never faked.
    NOT_SUPPORTED = "XYP_ERR_NOT_SUPPORTED";
    /// A route method given something other than a function.
    HANDLER_REQUIRED = "XYP_ERR_HANDLER_REQUIRED";
    /// No native addon loads on this platform (thrown by lib/ when requiring xypriss).
    NATIVE_MISSING = "XYP_ERR_NATIVE_MISSING";
    /// helmet, cors or express-rate-limit would throw for these options (the message is theirs).
    INVALID_OPTION = "XYP_ERR_INVALID_OPTION";
    /// Valid helmet / cors / rateLimit options that only the JS middleware can honour (a function,
    /// a custom store...): it runs in JS.
    NOT_NATIVE = "XYP_ERR_NOT_NATIVE";
}

/// The TypeScript lib/ imports: `lib/error-codes.ts`.
#[cfg(test)]
pub fn typescript_codes() -> String {
    let mut ts = String::from(
        "// Generated from crates/xypriss-napi/src/errors.rs by `npm run generate`: do not edit.\n\
         // Every XYP_ERR_* code xypriss throws, from the engine or from lib/.\n\n\
         export const codes = {\n",
    );
    for (name, code, doc) in CODES {
        ts += &format!("  /** {} */\n  {name}: '{code}',\n", doc.trim());
    }
    ts += "} as const\n\nexport type ErrorCode = (typeof codes)[keyof typeof codes]\n";
    ts
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_named_after_themselves() {
        let mut seen = std::collections::HashSet::new();
        for (name, code, _) in CODES {
            assert!(seen.insert(code), "{code} declared twice");
            assert_eq!(*code, format!("XYP_ERR_{name}"));
        }
    }

    #[test]
    fn generated_typescript_is_current() {
        crate::generated::check("lib/error-codes.ts", &typescript_codes());
    }
}
