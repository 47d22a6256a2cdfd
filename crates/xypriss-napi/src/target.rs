//! The engine's reading of request targets, for JS: the tests hold JS's reading against the
//! engine's.

use napi_derive::napi;
use xsys_http::target;

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
