//! The engine's reading of request targets and its rule for static file paths, for JS: the
//! static files middleware asks the rule, and the tests hold JS's reading against the engine's.

use napi_derive::napi;
use xsys_http::{static_path, target};

#[napi(object)]
pub struct TargetReading {
    pub pathname: Option<String>,
    pub query: Option<String>,
}

/// The path and query the engine reads from a request target.
#[napi]
pub fn read_target(target: String) -> TargetReading {
    let reading = target::read(&target);
    TargetReading {
        pathname: reading.pathname.map(str::to_owned),
        query: reading.query.map(str::to_owned),
    }
}

/// Why static files must not be served for this path (below their mount point), or null.
#[napi]
pub fn static_path_refusal(path: String) -> Option<&'static str> {
    static_path::refusal(&path).map(static_path::Refusal::as_str)
}
