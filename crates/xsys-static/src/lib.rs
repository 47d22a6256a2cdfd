//! xsys-static: `express.static(root, options)` answered natively.
//!
//! Express's static middleware is serve-static 2 over send 1. [`StaticFiles`] takes the same
//! options and, for one request (its method, the paths of `req.url` as the layer sees it and of
//! `req.originalUrl`, and the headers), decides what that middleware would have done:
//!
//! - [`Outcome::Respond`]: the response, with send's headers in send's order and case, and a
//!   body that is empty, in memory, or a byte range of an open file;
//! - [`Outcome::Next`]: serve-static calls `next()` (a miss with `fallthrough`, a method other
//!   than GET and HEAD);
//! - [`Outcome::Forward`]: serve-static calls `next(err)`, with the error and the headers send
//!   had already set on the response (Express's error handlers then answer);
//! - [`Outcome::NeedsJs`]: a case only JavaScript can settle exactly (a date only V8's
//!   `Date.parse` reads, a redirect for an absolute-form target, a FIFO): run the JS middleware.
//!
//! One rule is stricter than send's: a pathname holding an encoded separator (`%2f`, `%5c`, any
//! case) or a backslash names no file (answered as a missing one, before any file-system call),
//! where send would decode `%2f` into a separator. The engine's static path rule refuses these
//! (and more) before this crate is asked; the JS middleware applies the same rule.
//!
//! The crate does its file-system calls itself (`stat` per request, as send; `open` and small
//! reads): callers decide which thread runs [`StaticFiles::serve`]. Large bodies are read by
//! the caller, in chunks, through [`FileBody::read_at`].
//!
//! ```no_run
//! use http::{HeaderMap, Method};
//! use xsys_static::{Options, Outcome, Request, StaticFiles};
//!
//! let files = StaticFiles::new("public", Options::default())?;
//! let headers = HeaderMap::new();
//! let request = Request {
//!     method: &Method::GET,
//!     path: "/app.js",
//!     original_path: "/app.js",
//!     original_search: Some(""),
//!     headers: &headers,
//! };
//! match files.serve(&request) {
//!     Outcome::Respond(response) => { /* write response.status, response.headers, response.body */ }
//!     Outcome::Next | Outcome::Forward(_) | Outcome::NeedsJs(_) => { /* on to JS */ }
//! }
//! # Ok::<(), xsys_static::Error>(())
//! ```

mod cache;
mod conditional;
mod error;
mod fs;
mod html;
mod http_date;
mod mime;
mod mime_table;
mod options;
mod path;
mod range;
mod serve;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use options::{CacheLimits, Dotfiles, MaxAge, Options};
pub use serve::StaticFiles;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A response header: the name in the case Node sends it (`ETag`, `Content-Length`), its value.
pub type Header = (&'static str, HeaderValue);

/// The request, as the static layer sees it in Express. Paths come from the engine's one reading
/// of the target (what `parseurl` gives serve-static in JS), still percent-encoded.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a Method,
    /// The path of `req.url` at the layer: the mount path already stripped, as Express's router
    /// strips it.
    pub path: &'a str,
    /// The path of `req.originalUrl`.
    pub original_path: &'a str,
    /// The search of `req.originalUrl` (`?` and the query, or empty), which a directory redirect
    /// keeps; `None` when `url.format` of its reading would give back more than path and search
    /// (an absolute-form target's scheme and host, a fragment), so that a redirect is left to JS.
    pub original_search: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// What serve-static does with a request.
#[derive(Debug)]
pub enum Outcome {
    Respond(Response),
    /// `next()`: the request goes on to the next layer untouched.
    Next,
    /// `next(err)`.
    Forward(Forward),
    /// Only the JS middleware can answer this one exactly.
    NeedsJs(NeedsJs),
}

#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    /// In the order send sets them; the caller adds its own around them (X-Powered-By before,
    /// Date and Connection after), as Express and Node do.
    pub headers: Vec<Header>,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// Nothing is written after the head: a HEAD request or a 304. A Content-Length header,
    /// if present, describes the body a GET would have had.
    Empty,
    Bytes(Bytes),
    File(FileBody),
}

/// A byte range of an open file, to be read in chunks.
#[derive(Debug, Clone)]
pub struct FileBody {
    file: Arc<std::fs::File>,
    offset: u64,
    len: u64,
}

impl FileBody {
    /// The number of bytes the body has (the Content-Length).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads up to `max` bytes starting `at` bytes into the range, blocking: call it where
    /// blocking is fine. An empty result means the range is complete; a file that ends before
    /// its range does is an error (`UnexpectedEof`), since the length was already announced.
    pub fn read_at(&self, at: u64, max: usize) -> std::io::Result<Bytes> {
        let remaining = self.len.saturating_sub(at);
        let want = usize::try_from(remaining).map_or(max, |r| r.min(max));
        if want == 0 {
            return Ok(Bytes::new());
        }
        let mut buffer = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let read = read_at(
                &self.file,
                &mut buffer[filled..],
                self.offset + at + filled as u64,
            )?;
            if read == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file is shorter than when its response began",
                ));
            }
            filled += read;
        }
        Ok(Bytes::from(buffer))
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, offset)
}

/// serve-static's `next(err)`: the error, and the response's state at that moment.
#[derive(Debug)]
pub struct Forward {
    /// `err.status` (and `err.statusCode`).
    pub status: u16,
    /// The file-system error send wrapped (then `err` is that Error, as Node built it), or
    /// `None` when `err` is http-errors' error for `status`.
    pub cause: Option<FsCause>,
    /// `err.headers`: the 416's Content-Range, which Express's final handler sends.
    pub error_headers: Vec<Header>,
    /// The headers send had set on the response before it failed, in order.
    pub response_headers: Vec<Header>,
    /// `res.statusCode` when send had changed it (206, before a file that would not open).
    pub response_status: Option<StatusCode>,
}

/// A failed `fs.stat` or `fs.createReadStream`, as Node reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsCause {
    /// The OS errno (Node's `err.errno` is its negation, `err.code` its name).
    pub errno: i32,
    /// `stat` or `open`.
    pub syscall: &'static str,
    /// The path send gave the call.
    pub path: String,
}

/// Why a request must be left to the JS middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedsJs {
    /// A directory redirect for a `req.originalUrl` that is not a plain path and query.
    Url,
    /// A conditional header's date that only V8's `Date.parse` reads with certainty.
    Date,
    /// Not a regular file or directory (send would stream a FIFO or device), or a modification
    /// time outside what a JavaScript Date holds.
    UnusualFile,
    /// The file changed between its stat and its read, again and again.
    Unstable,
}
