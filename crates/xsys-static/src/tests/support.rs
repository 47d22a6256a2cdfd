//! A throw-away directory tree and short ways to ask `StaticFiles` about it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::{Body, Forward, Options, Outcome, Request, Response, StaticFiles};

/// Wed, 01 Jan 2020 00:00:00 GMT: every file's modification time unless a test changes it.
pub(crate) const MTIME_SECS: u64 = 1_577_836_800;
pub(crate) const HELLO: &[u8] = b"hello world\n";
pub(crate) const SECRET: &[u8] = b"TOP SECRET, outside the root";
pub(crate) const BIG_LEN: usize = 200 * 1024;

/// `base/` holds `root/` (what is served) and, beside it, files that must never be served.
pub(crate) struct Tree {
    base: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

pub(crate) fn big_content() -> Vec<u8> {
    (0..BIG_LEN).map(|i| (i % 251) as u8).collect()
}

impl Tree {
    pub(crate) fn new() -> Tree {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "xsys-static-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let tree = Tree { base };
        let files: &[(&str, &[u8])] = &[
            ("root/hello.txt", HELLO),
            ("root/index.html", b"<h1>home</h1>"),
            ("root/about.html", b"<h1>about</h1>"),
            ("root/about.htm", b"<h1>about (htm)</h1>"),
            ("root/UPPER.HTML", b"<p>upper</p>"),
            ("root/data.unknownext", b"?"),
            ("root/README", b"readme"),
            ("root/empty.txt", b""),
            ("root/a b.txt", b"space"),
            ("root/caf\u{e9}.txt", b"accent"),
            ("root/100%.txt", b"percent"),
            ("root/.env", b"DOTENV"),
            ("root/.well-known/x.txt", b"well known"),
            ("root/sub/index.html", b"<h1>sub</h1>"),
            ("root/sub/other.txt", b"other"),
            ("root/sub/deeper/index.htm", b"deeper htm"),
            ("root/dir.html/inside.txt", b"inside"),
            ("secret.txt", SECRET),
            ("root-sibling/secret.txt", SECRET),
        ];
        for (path, content) in files {
            tree.write(path, content);
        }
        tree.write("root/big.bin", &big_content());
        std::fs::create_dir_all(tree.base.join("root/empty")).expect("mkdir");
        tree
    }

    pub(crate) fn base(&self) -> &Path {
        &self.base
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.base.join("root")
    }

    pub(crate) fn write(&self, path: &str, content: &[u8]) {
        let full = self.base.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(&full, content).expect("write");
        self.set_mtime(path, Duration::from_secs(MTIME_SECS));
    }

    pub(crate) fn set_mtime(&self, path: &str, since_epoch: Duration) {
        let file = std::fs::File::options()
            .write(true)
            .open(self.base.join(path))
            .expect("open for times");
        file.set_modified(SystemTime::UNIX_EPOCH + since_epoch)
            .expect("set mtime");
    }

    pub(crate) fn files(&self, options: Options) -> StaticFiles {
        StaticFiles::new(self.root().to_str().expect("utf8"), options).expect("new")
    }
}

pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    map
}

/// The one reading of a target, as the engine gives it: the path before `?` or `#`, and the
/// search of a plain origin-form target.
pub(crate) fn read(target: &str) -> (&str, Option<&str>) {
    let end = target.find('#').unwrap_or(target.len());
    let (path, search) = match target[..end].find('?') {
        Some(q) => (&target[..q], &target[q..end]),
        None => (&target[..end], ""),
    };
    let plain = target.starts_with('/') && end == target.len();
    (path, plain.then_some(search))
}

pub(crate) fn serve_with(
    files: &StaticFiles,
    method: &str,
    url: &str,
    original_url: &str,
    pairs: &[(&str, &str)],
) -> Outcome {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let headers = headers(pairs);
    let (path, _) = read(url);
    let (original_path, original_search) = read(original_url);
    files.serve(&Request {
        method: &method,
        path,
        original_path,
        original_search,
        headers: &headers,
    })
}

pub(crate) fn serve(
    files: &StaticFiles,
    method: &str,
    url: &str,
    pairs: &[(&str, &str)],
) -> Outcome {
    serve_with(files, method, url, url, pairs)
}

pub(crate) fn get(files: &StaticFiles, url: &str) -> Outcome {
    serve(files, "GET", url, &[])
}

#[track_caller]
pub(crate) fn response(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Respond(response) => response,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn forward(outcome: Outcome) -> Forward {
    match outcome {
        Outcome::Forward(forward) => forward,
        other => panic!("expected next(err), got {other:?}"),
    }
}

pub(crate) fn names(headers: &[crate::Header]) -> Vec<&'static str> {
    headers.iter().map(|(name, _)| *name).collect()
}

#[track_caller]
pub(crate) fn value<'a>(headers: &'a [crate::Header], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .1
        .to_str()
        .expect("ascii")
}

/// The whole body, reading a file body in small chunks as the engine would.
pub(crate) fn body(response: &Response) -> Vec<u8> {
    match &response.body {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) => bytes.to_vec(),
        Body::File(file) => {
            let mut out = Vec::new();
            loop {
                let chunk = file.read_at(out.len() as u64, 7919).expect("read");
                if chunk.is_empty() {
                    break;
                }
                out.extend_from_slice(&chunk);
            }
            assert_eq!(out.len() as u64, file.len());
            out
        }
    }
}

pub(crate) fn no_fallthrough() -> Options {
    Options {
        fallthrough: false,
        ..Options::default()
    }
}
