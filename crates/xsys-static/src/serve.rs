//! serve-static's middleware and send's `pipe`, step by step.

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use http::header::RANGE;
use http::{HeaderValue, Method, StatusCode};

use crate::cache::ContentCache;
use crate::conditional::{self, Validators};
use crate::fs::{self, FsError, Kind, Stat};
use crate::http_date::{self, ParsedDate};
use crate::path;
use crate::range::{self, Ranges};
use crate::{
    html, mime, Body, Error, FileBody, Forward, FsCause, Header, NeedsJs, Options, Outcome,
    Request, Response,
};

/// How many times a file that changes between its stat and its read is tried again.
const MAX_ATTEMPTS: usize = 3;

/// The largest time a JavaScript Date holds, in milliseconds either side of the epoch.
const MAX_DATE_MS: i64 = 8_640_000_000_000_000;

/// A static-files stage: serve-static's middleware for one root and one set of options.
pub struct StaticFiles {
    root: String,
    options: Options,
    cache_control: Option<HeaderValue>,
    cache: ContentCache,
}

/// What send derives from a file's stat: its validators and type.
#[derive(Debug, Clone)]
pub(crate) struct FileMeta {
    last_modified: HeaderValue,
    /// `Date.parse` of `last_modified`, as send's comparisons read it back.
    last_modified_date: ParsedDate,
    etag: HeaderValue,
    content_type: &'static str,
}

impl FileMeta {
    fn of(path: &str, stat: &Stat) -> FileMeta {
        let last_modified = http_date::to_utc_string(stat.mtime_ms);
        let last_modified_date = http_date::parse(last_modified.as_bytes());
        // The etag package's stattag: `W/"<size hex>-<mtime ms hex>"` (a negative time keeps
        // its sign, as Number#toString(16) writes it).
        let mtime = stat.mtime_ms;
        let sign = if mtime < 0 { "-" } else { "" };
        let etag = format!("W/\"{:x}-{sign}{:x}\"", stat.size, mtime.unsigned_abs());
        FileMeta {
            last_modified: ascii_value(last_modified),
            last_modified_date,
            etag: ascii_value(etag),
            content_type: mime::content_type(path),
        }
    }
}

/// A header value from text this crate built: printable ASCII by construction.
fn ascii_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect("built from printable ASCII")
}

/// What the walk has learnt so far about one request.
struct Walk<'r> {
    request: &'r Request<'r>,
    /// send's `this.path`: the pathname still encoded, `''` for a mount point without its slash.
    path: &'r str,
}

enum Step {
    Done(Outcome),
    /// The file changed between its stat and its open or read: start over.
    Retry,
}

impl StaticFiles {
    /// serve-static's `serveStatic(root, options)`: `root` is resolved against the working
    /// directory as `path.resolve` does.
    pub fn new(root: &str, options: Options) -> Result<StaticFiles, Error> {
        if root.is_empty() {
            return Err(Error::root("root path required"));
        }
        if cfg!(not(unix)) {
            // Windows paths (drive letters, `\`, reserved names, streams) are not mapped here.
            return Err(Error::not_supported("native static files on this platform"));
        }
        options.validate()?;
        let cwd = std::env::current_dir()
            .map_err(|e| Error::root(&format!("cannot read the working directory: {e}")))?;
        let cwd = cwd
            .to_str()
            .ok_or_else(|| Error::root("the working directory is not valid UTF-8"))?;
        let root = path::resolve_root(root, cwd);
        let cache_control = options.cache_control.then(|| {
            let mut value = format!("public, max-age={}", options.max_age.seconds());
            if options.immutable {
                value.push_str(", immutable");
            }
            ascii_value(value)
        });
        Ok(StaticFiles {
            root,
            cache: ContentCache::new(options.cache),
            cache_control,
            options,
        })
    }

    /// The absolute root files are served from.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// What serve-static does with `request`. Blocking: it stats, and may open and read, files.
    pub fn serve(&self, request: &Request<'_>) -> Outcome {
        let head = *request.method == Method::HEAD;
        if *request.method != Method::GET && !head {
            if self.options.fallthrough {
                return Outcome::Next;
            }
            return Outcome::Respond(Response {
                status: StatusCode::METHOD_NOT_ALLOWED,
                headers: vec![
                    ("Allow", HeaderValue::from_static("GET, HEAD")),
                    ("Content-Length", HeaderValue::from_static("0")),
                ],
                body: Body::Bytes(Bytes::new()),
            });
        }
        // serve-static: make sure the redirect happens at the mount point.
        let path = if request.path == "/" && !request.original_path.ends_with('/') {
            ""
        } else {
            request.path
        };
        let walk = Walk { request, path };
        let resolved = match path::resolve(&self.root, path, self.options.dotfiles) {
            Ok(resolved) => resolved,
            Err(refused) => return self.fail(refused.status(), None, false),
        };
        for _ in 0..MAX_ATTEMPTS {
            let step = if !self.options.index.is_empty() && path.ends_with('/') {
                self.send_index(&walk, &resolved)
            } else {
                self.send_file(&walk, &resolved)
            };
            if let Step::Done(outcome) = step {
                return outcome;
            }
        }
        Outcome::NeedsJs(NeedsJs::Unstable)
    }

    /// serve-static's error listener: before a file is chosen and with `fallthrough`, an error
    /// below 500 is a plain `next()`; anything else is `next(err)`.
    fn fail(&self, status: u16, cause: Option<FsCause>, file_chosen: bool) -> Outcome {
        if file_chosen || !self.options.fallthrough || status >= 500 {
            Outcome::Forward(Forward {
                status,
                cause,
                error_headers: Vec::new(),
                response_headers: Vec::new(),
                response_status: None,
            })
        } else {
            Outcome::Next
        }
    }

    /// send's `onStatError`.
    fn stat_error(
        &self,
        error: &FsError,
        syscall: &'static str,
        path: &str,
        file_chosen: bool,
    ) -> Outcome {
        let status = if error.is_not_found() { 404 } else { 500 };
        let cause = FsCause {
            errno: error.errno,
            syscall,
            path: path.to_owned(),
        };
        self.fail(status, Some(cause), file_chosen)
    }

    /// send's `sendFile`, with its extension fallbacks.
    fn send_file(&self, walk: &Walk<'_>, path: &str) -> Step {
        let ends_with_slash = path.ends_with('/');
        let stat = match fs::stat(path) {
            Ok(stat) => stat,
            // send would also extend a missing root itself (`<root>.html`): not outside it here.
            Err(error)
                if error.is_enoent()
                    && path::extname(path).is_empty()
                    && !ends_with_slash
                    && path != self.root =>
            {
                return self.try_extensions(walk, path, error);
            }
            Err(error) => return Step::Done(self.stat_error(&error, "stat", path, false)),
        };
        match stat.kind {
            Kind::Directory => Step::Done(self.directory(walk)),
            _ if ends_with_slash => Step::Done(self.fail(404, None, false)),
            Kind::File => self.send(walk, path, stat),
            Kind::Other => Step::Done(Outcome::NeedsJs(NeedsJs::UnusualFile)),
        }
    }

    fn try_extensions(&self, walk: &Walk<'_>, path: &str, error: FsError) -> Step {
        let mut last_error = Some((error, path.to_owned()));
        for extension in &self.options.extensions {
            let candidate = format!("{path}.{extension}");
            match fs::stat(&candidate) {
                Err(error) => last_error = Some((error, candidate)),
                Ok(stat) => match stat.kind {
                    Kind::Directory => last_error = None,
                    Kind::File => return self.send(walk, &candidate, stat),
                    Kind::Other => return Step::Done(Outcome::NeedsJs(NeedsJs::UnusualFile)),
                },
            }
        }
        Step::Done(match last_error {
            Some((error, path)) => self.stat_error(&error, "stat", &path, false),
            None => self.fail(404, None, false),
        })
    }

    /// send's `sendIndex`.
    fn send_index(&self, walk: &Walk<'_>, path: &str) -> Step {
        let mut last_error = None;
        for name in &self.options.index {
            let candidate = path::join(path, name);
            match fs::stat(&candidate) {
                Err(error) => last_error = Some((error, candidate)),
                Ok(stat) => match stat.kind {
                    Kind::Directory => last_error = None,
                    Kind::File => return self.send(walk, &candidate, stat),
                    Kind::Other => return Step::Done(Outcome::NeedsJs(NeedsJs::UnusualFile)),
                },
            }
        }
        Step::Done(match last_error {
            Some((error, path)) => self.stat_error(&error, "stat", &path, false),
            None => self.fail(404, None, false),
        })
    }

    /// serve-static's directory listener: redirect to the trailing slash, or 404.
    fn directory(&self, walk: &Walk<'_>) -> Outcome {
        if !self.options.redirect || walk.path.ends_with('/') {
            return self.fail(404, None, false);
        }
        let Some(search) = walk.request.original_search else {
            return Outcome::NeedsJs(NeedsJs::Url);
        };
        // url.format of the original reading, its pathname given the slash.
        let target = format!(
            "{}{search}",
            html::collapse_leading_slashes(&format!("{}/", walk.request.original_path)),
        );
        let location = html::encode_url(&target);
        let page = html::document(
            "Redirecting",
            &format!("Redirecting to {}", html::escape(&location)),
        );
        let headers = vec![
            (
                "Content-Type",
                HeaderValue::from_static("text/html; charset=UTF-8"),
            ),
            ("Content-Length", HeaderValue::from(page.len())),
            (
                "Content-Security-Policy",
                HeaderValue::from_static("default-src 'none'"),
            ),
            (
                "X-Content-Type-Options",
                HeaderValue::from_static("nosniff"),
            ),
            ("Location", ascii_value(location)),
        ];
        let body = if *walk.request.method == Method::HEAD {
            Body::Empty
        } else {
            Body::Bytes(Bytes::from(page))
        };
        Outcome::Respond(Response {
            status: StatusCode::MOVED_PERMANENTLY,
            headers,
            body,
        })
    }

    /// send's `send`: a file was chosen (its 'file' event), so every error from here on is
    /// forwarded to the error handlers.
    fn send(&self, walk: &Walk<'_>, path: &str, stat: Stat) -> Step {
        if !(-MAX_DATE_MS..=MAX_DATE_MS).contains(&stat.mtime_ms) {
            return Step::Done(Outcome::NeedsJs(NeedsJs::UnusualFile));
        }
        let request = walk.request;
        let cached = self.cache.get(path, &stat.identity);
        let meta = match &cached {
            Some(entry) => entry.meta.clone(),
            None => FileMeta::of(path, &stat),
        };
        let options = &self.options;
        let mut headers: Vec<Header> = Vec::with_capacity(8);
        if options.accept_ranges {
            headers.push(("Accept-Ranges", HeaderValue::from_static("bytes")));
        }
        if let Some(cache_control) = &self.cache_control {
            headers.push(("Cache-Control", cache_control.clone()));
        }
        if options.last_modified {
            headers.push(("Last-Modified", meta.last_modified.clone()));
        }
        if options.etag {
            headers.push(("ETag", meta.etag.clone()));
        }
        headers.push(("Content-Type", HeaderValue::from_static(meta.content_type)));

        let validators = Validators {
            etag: options.etag.then(|| meta.etag.as_bytes()),
            last_modified: options.last_modified.then_some(meta.last_modified_date),
        };
        if conditional::is_conditional(request.headers) {
            match conditional::precondition_failed(request.headers, validators) {
                Err(_) => return Step::Done(Outcome::NeedsJs(NeedsJs::Date)),
                Ok(true) => {
                    return Step::Done(Outcome::Forward(Forward {
                        status: 412,
                        cause: None,
                        error_headers: Vec::new(),
                        response_headers: headers,
                        response_status: None,
                    }))
                }
                Ok(false) => {}
            }
            match conditional::is_fresh(request.headers, validators) {
                Err(_) => return Step::Done(Outcome::NeedsJs(NeedsJs::Date)),
                Ok(true) => {
                    // removeContentHeaderFields: of those, send had set only Content-Type.
                    headers.retain(|(name, _)| *name != "Content-Type");
                    return Step::Done(Outcome::Respond(Response {
                        status: StatusCode::NOT_MODIFIED,
                        headers,
                        body: Body::Empty,
                    }));
                }
                Ok(false) => {}
            }
        }

        let size = stat.size;
        let mut status = StatusCode::OK;
        let mut offset = 0;
        let mut len = size;
        if options.accept_ranges {
            if let Some(range_header) =
                conditional::header(request.headers, &RANGE).filter(|value| is_bytes_range(value))
            {
                let mut ranges = range::parse(size, &range_header);
                match conditional::range_is_fresh(request.headers, validators) {
                    Err(_) => return Step::Done(Outcome::NeedsJs(NeedsJs::Date)),
                    Ok(false) => ranges = Ranges::Malformed,
                    Ok(true) => {}
                }
                match ranges {
                    Ranges::Unsatisfiable => {
                        let content_range = ascii_value(format!("bytes */{size}"));
                        headers.push(("Content-Range", content_range.clone()));
                        return Step::Done(Outcome::Forward(Forward {
                            status: 416,
                            cause: None,
                            error_headers: vec![("Content-Range", content_range)],
                            response_headers: headers,
                            response_status: None,
                        }));
                    }
                    // send serves one range; several (after merging) get the whole file.
                    Ranges::Satisfiable(list) if list.len() == 1 => {
                        let (start, end) = list[0];
                        status = StatusCode::PARTIAL_CONTENT;
                        headers.push((
                            "Content-Range",
                            ascii_value(format!("bytes {start}-{end}/{size}")),
                        ));
                        offset = start;
                        len = end - start + 1;
                    }
                    Ranges::Satisfiable(_) | Ranges::Malformed => {}
                }
            }
        }
        headers.push(("Content-Length", HeaderValue::from(len)));

        if *request.method == Method::HEAD {
            return Step::Done(Outcome::Respond(Response {
                status,
                headers,
                body: Body::Empty,
            }));
        }
        let body = if let Some(entry) = cached {
            Body::Bytes(slice(&entry.content, offset, len))
        } else if self.cache.admits(size) {
            match read_whole(path, &stat) {
                Ok(Some(content)) => {
                    let body = Body::Bytes(slice(&content, offset, len));
                    self.cache.insert(path, stat.identity, meta, content);
                    body
                }
                Ok(None) => return Step::Retry,
                Err(error) => return Step::Done(self.open_failed(&error, path, headers, status)),
            }
        } else {
            match fs::open(path) {
                Ok((file, opened)) if opened.identity == stat.identity => Body::File(FileBody {
                    file: Arc::new(file),
                    offset,
                    len,
                }),
                Ok(_) => return Step::Retry,
                Err(error) => return Step::Done(self.open_failed(&error, path, headers, status)),
            }
        };
        Step::Done(Outcome::Respond(Response {
            status,
            headers,
            body,
        }))
    }

    /// The read stream's error: send's `onStatError` once a file was chosen (always forwarded),
    /// after every header was set.
    fn open_failed(
        &self,
        error: &FsError,
        path: &str,
        headers: Vec<Header>,
        status: StatusCode,
    ) -> Outcome {
        Outcome::Forward(Forward {
            status: if error.is_not_found() { 404 } else { 500 },
            cause: Some(FsCause {
                errno: error.errno,
                syscall: "open",
                path: path.to_owned(),
            }),
            error_headers: Vec::new(),
            response_headers: headers,
            response_status: (status != StatusCode::OK).then_some(status),
        })
    }

    #[cfg(test)]
    pub(crate) fn cache(&self) -> &ContentCache {
        &self.cache
    }
}

/// send's `/^ *bytes=/`.
fn is_bytes_range(value: &[u8]) -> bool {
    let spaces = value.iter().take_while(|&&b| b == b' ').count();
    value[spaces..].starts_with(b"bytes=")
}

fn slice(content: &Bytes, offset: u64, len: u64) -> Bytes {
    // Both lie within the content: the range was computed from its size.
    let start = offset as usize;
    content.slice(start..start + len as usize)
}

/// Reads a small file whole, checking that it is still the file `stat` described before and
/// after the read; `Ok(None)` when it changed in between.
fn read_whole(path: &str, stat: &Stat) -> Result<Option<Bytes>, FsError> {
    let (mut file, opened) = fs::open(path)?;
    if opened.identity != stat.identity {
        return Ok(None);
    }
    let mut content = Vec::with_capacity(stat.size as usize);
    // A read error after a good open surfaces as the stream's error would: forwarded.
    if let Err(error) = (&mut file).take(stat.size + 1).read_to_end(&mut content) {
        return Err(FsError::of(&error));
    }
    let after = fs::fstat(&file).map_err(|e| FsError::of(&e))?;
    if content.len() as u64 != stat.size || after.identity != stat.identity {
        return Ok(None);
    }
    Ok(Some(Bytes::from(content)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_will_not_open_is_forwarded_with_the_response_s_state() {
        let files = StaticFiles::new("/srv", Options::default()).expect("new");
        let headers = vec![("Content-Length", HeaderValue::from_static("5"))];
        let denied = FsError {
            errno: libc::EACCES,
        };
        let Outcome::Forward(forward) =
            files.open_failed(&denied, "/srv/a", headers, StatusCode::PARTIAL_CONTENT)
        else {
            panic!("forwarded")
        };
        assert_eq!(forward.status, 500);
        assert_eq!(forward.response_status, Some(StatusCode::PARTIAL_CONTENT));
        assert_eq!(forward.response_headers.len(), 1);
        let cause = forward.cause.expect("cause");
        assert_eq!((cause.syscall, cause.path.as_str()), ("open", "/srv/a"));
        let vanished = FsError {
            errno: libc::ENOENT,
        };
        let Outcome::Forward(forward) =
            files.open_failed(&vanished, "/srv/a", Vec::new(), StatusCode::OK)
        else {
            panic!("forwarded")
        };
        assert_eq!((forward.status, forward.response_status), (404, None));
    }
}
