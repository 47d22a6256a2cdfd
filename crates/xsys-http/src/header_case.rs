//! Response header names in the case the app wrote them, as Node sends them (`ETag`, `x-custom`,
//! `WWW-Authenticate`), where hyper would write Title-Case (`Etag`, `X-Custom`, `Www-Authenticate`).
//!
//! hyper writes a response's header names from a case map it finds in the response's extensions.
//! The map's type is private, but hyper builds one for every request it parses with
//! `preserve_header_case`. So the map for a list of names is made by letting hyper parse a request
//! that carries exactly those names, in memory, once per distinct list; the extensions holding it
//! are cached and cloned onto each response. Names that Title-Case already renders right never
//! enter a list, so most responses need at most `ETag`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http::{Extensions, Request, Response};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;
// What hyper's Title-Case writer produces from the lower-case name: upper case at the start and
// after each `-`, lower case elsewhere.
use xsys_security::is_title_case;

/// Distinct name lists remembered per thread; an app has a handful. Past this, maps are still
/// made, just not kept.
const CACHE_LIMIT: usize = 512;

/// Names, each followed by `\n`, whose case Title-Case would change; in the order they are sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaseKey(Vec<u8>);

impl CaseKey {
    /// Room for `bytes` of noted names before growing.
    pub fn with_capacity(bytes: usize) -> Self {
        CaseKey(Vec::with_capacity(bytes))
    }

    /// Remembers `name` if hyper's Title-Case would not write it as given.
    pub fn note(&mut self, name: &str) {
        self.note_known(name, is_title_case(name));
    }

    /// [`note`](Self::note) for a name whose Title-Case-ness is known already.
    pub fn note_known(&mut self, name: &str, title_case: bool) {
        if !title_case {
            self.0.extend_from_slice(name.as_bytes());
            self.0.push(b'\n');
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first noted spelling of `lower` (a lower-case name), if any.
    pub fn spelling(&self, lower: &str) -> Option<&str> {
        self.0
            .split(|&b| b == b'\n')
            .find(|name| name.eq_ignore_ascii_case(lower.as_bytes()))
            .and_then(|name| std::str::from_utf8(name).ok())
    }

    /// Adds the names `other` noted, after these.
    pub fn extend(&mut self, other: &CaseKey) {
        self.0.extend_from_slice(&other.0);
    }

    /// Extensions that make hyper write the noted names as given, or `None` when nothing needs
    /// it (or hyper refused the names, which leaves Title-Case: a spelling, never a failure).
    pub fn extensions(&self) -> Option<Extensions> {
        if self.is_empty() {
            return None;
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some((names, found)) = &cache.last {
                if **names == *self.0 {
                    return found.clone();
                }
            }
            let made = match cache.maps.get(self.0.as_slice()) {
                Some(found) => found.clone(),
                None => {
                    let made = parse_case_map(&self.0);
                    if cache.maps.len() < CACHE_LIMIT {
                        cache
                            .maps
                            .insert(self.0.clone().into_boxed_slice(), made.clone());
                    }
                    made
                }
            };
            cache.last = Some((self.0.clone().into_boxed_slice(), made.clone()));
            made
        })
    }
}

#[derive(Default)]
struct Cache {
    maps: HashMap<Box<[u8]>, Option<Extensions>>,
    /// The list asked for last: a thread's answers mostly come in runs of one kind (the same
    /// stages, the same answer), and comparing the names costs less than hashing them.
    last: Option<(Box<[u8]>, Option<Extensions>)>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Lets hyper parse `GET /` with one header line per noted name and keeps the parsed request's
/// extensions. Everything is in memory and ready, so a few polls finish it on the calling thread.
fn parse_case_map(names: &[u8]) -> Option<Extensions> {
    let mut request = b"GET / HTTP/1.1\r\n".to_vec();
    let mut count = 0;
    for name in names.split(|&b| b == b'\n').filter(|n| !n.is_empty()) {
        request.extend_from_slice(name);
        // Values only have to be acceptable to the request parser.
        let value: &[u8] = if name.eq_ignore_ascii_case(b"content-length") {
            b": 0\r\n"
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            b": chunked\r\n"
        } else {
            b": x\r\n"
        };
        request.extend_from_slice(value);
        count += 1;
    }
    request.extend_from_slice(b"\r\n");

    let (mut client, server) = tokio::io::duplex(request.len() + 4096);
    let captured: Arc<Mutex<Option<Extensions>>> = Arc::default();
    let sink = captured.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        *sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(req.extensions().clone());
        async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }
    });
    let connection = http1::Builder::new()
        .preserve_header_case(true)
        .max_headers(count + 1)
        .serve_connection(TokioIo::new(server), service);

    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    match pin!(&mut client).poll_write(&mut cx, &request) {
        Poll::Ready(Ok(n)) if n == request.len() => {}
        _ => return None,
    }
    let _ = pin!(&mut client).poll_shutdown(&mut cx);
    let mut connection = pin!(connection);
    for _ in 0..16 {
        if captured.lock().unwrap_or_else(|e| e.into_inner()).is_some()
            || connection.as_mut().poll(&mut cx).is_ready()
        {
            break;
        }
    }
    let found = captured.lock().unwrap_or_else(|e| e.into_inner()).take();
    // An `Upgrade` line makes hyper attach an upgrade handle too; only the case map is wanted.
    found.map(|mut extensions| {
        extensions.remove::<hyper::upgrade::OnUpgrade>();
        extensions
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_is_recognised() {
        for name in [
            "Content-Type",
            "X-Powered-By",
            "Date",
            "A",
            "Keep-Alive",
            "X-1-Y",
        ] {
            assert!(is_title_case(name), "{name}");
        }
        for name in [
            "ETag",
            "content-type",
            "X-XSS-Protection",
            "WWW-Authenticate",
            "x",
            "X-lower",
        ] {
            assert!(!is_title_case(name), "{name}");
        }
    }

    #[test]
    fn only_names_title_case_would_change_are_noted() {
        let mut key = CaseKey::default();
        key.note("Content-Type");
        key.note("ETag");
        key.note("x-a");
        key.note("x-a");
        assert_eq!(key.0, b"ETag\nx-a\nx-a\n");
        assert!(CaseKey::default().extensions().is_none());
    }

    #[test]
    fn hyper_yields_a_case_map_for_awkward_names_too() {
        let mut key = CaseKey::default();
        for name in [
            "ETag",
            "content-length",
            "transfer-encoding",
            "upgrade",
            "connection",
            "host",
            "expect",
        ] {
            key.note(name);
        }
        let extensions = key.extensions().expect("hyper parsed the names");
        assert_eq!(extensions.len(), 1, "exactly the case map");
    }
}
