//! Every case recorded from express@5's `express.static` (tests/fixtures/gen.mjs) must come out
//! the same here: the response byte for byte (but Date/Connection, which the engine adds), or
//! the same `next()`, or the same `next(err)` with the same response state.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use xsys_static::{Body, Dotfiles, Header, MaxAge, Options, Outcome, Request, StaticFiles};

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        buffer = (buffer << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

fn build_tree(fixture: &Value) -> TempDir {
    let base = std::env::temp_dir().join(format!("xsys-static-express-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    for entry in fixture["tree"].as_array().expect("tree") {
        let path = root.join(entry["path"].as_str().expect("path"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let content = match entry["content"].as_str() {
            Some(b64) => decode_base64(b64),
            None => {
                let pattern = &entry["pattern"];
                let (len, modulo) = (
                    pattern[0].as_u64().expect("len"),
                    pattern[1].as_u64().expect("mod"),
                );
                (0..len).map(|i| (i % modulo) as u8).collect()
            }
        };
        std::fs::write(&path, content).expect("write");
        let mtime = &entry["mtime"];
        let when = SystemTime::UNIX_EPOCH
            + Duration::new(
                mtime[0].as_u64().expect("sec"),
                mtime[1].as_u64().expect("nsec") as u32,
            );
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(when)
            .expect("mtime");
    }
    for dir in fixture["dirs"].as_array().expect("dirs") {
        std::fs::create_dir_all(root.join(dir.as_str().expect("dir"))).expect("mkdir");
    }
    for link in fixture["symlinks"].as_array().expect("symlinks") {
        let (name, target) = (
            link[0].as_str().expect("link"),
            link[1].as_str().expect("target"),
        );
        std::os::unix::fs::symlink(target, root.join(name)).expect("symlink");
    }
    TempDir(base)
}

/// serve-static's options object, read as serve-static and send read it.
fn options(js: &Value) -> Options {
    let mut options = Options::default();
    let flag =
        |name: &str, default: bool| js.get(name).map_or(default, |v| v.as_bool().expect("bool"));
    let list = |value: &Value| -> Vec<String> {
        match value {
            Value::Bool(false) => Vec::new(),
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().expect("string").to_owned())
                .collect(),
            other => panic!("list option {other}"),
        }
    };
    options.accept_ranges = flag("acceptRanges", true);
    options.cache_control = flag("cacheControl", true);
    options.etag = flag("etag", true);
    options.fallthrough = flag("fallthrough", true);
    options.immutable = flag("immutable", false);
    options.last_modified = flag("lastModified", true);
    options.redirect = flag("redirect", true);
    if let Some(dotfiles) = js.get("dotfiles") {
        options.dotfiles = dotfiles
            .as_str()
            .expect("string")
            .parse::<Dotfiles>()
            .expect("dotfiles");
    }
    if let Some(index) = js.get("index") {
        options.index = list(index);
    }
    if let Some(extensions) = js.get("extensions") {
        options.extensions = list(extensions);
    }
    options.max_age = match js.get("maxAge") {
        None => MaxAge::default(),
        Some(Value::String(text)) => MaxAge::parse(text),
        Some(number) => MaxAge::from_millis(number.as_f64().expect("number")),
    };
    options
}

fn pairs(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .expect("pairs")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("name").to_owned(),
                p[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

fn ours(headers: &[Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.to_str().expect("ascii").to_owned()))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn body_bytes(body: &Body) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) => bytes.to_vec(),
        Body::File(file) => {
            let mut out = Vec::new();
            loop {
                let chunk = file.read_at(out.len() as u64, 64 * 1024).expect("read");
                if chunk.is_empty() {
                    return out;
                }
                out.extend_from_slice(&chunk);
            }
        }
    }
}

/// Compares one case; returns a description of the difference, if any.
fn check(case: &Value, outcome: &Outcome, root: &Path) -> Result<(), String> {
    let expect = &case["expect"];
    if case["divergence"].as_str() == Some("encoded-separator") {
        // Refused before any file is looked at: a miss, or a 404 without fallthrough.
        let fallthrough = case["options"].get("fallthrough") != Some(&Value::Bool(false));
        return match outcome {
            Outcome::Next if fallthrough => Ok(()),
            Outcome::Forward(f) if !fallthrough && f.status == 404 && f.cause.is_none() => Ok(()),
            other => Err(format!("an encoded separator gave {other:?}")),
        };
    }
    match (expect["kind"].as_str().expect("kind"), outcome) {
        ("next", Outcome::Next) => Ok(()),
        ("respond", Outcome::Respond(response)) => {
            let status = expect["status"].as_u64().expect("status");
            if u64::from(response.status.as_u16()) != status {
                return Err(format!("status {} instead of {status}", response.status));
            }
            let headers = pairs(&expect["headers"]);
            if ours(&response.headers) != headers {
                return Err(format!(
                    "headers\n  ours:    {:?}\n  express: {headers:?}",
                    ours(&response.headers)
                ));
            }
            let body = body_bytes(&response.body);
            let length = expect["bodyLength"].as_u64().expect("length");
            if body.len() as u64 != length
                || sha256_hex(&body) != expect["bodySha256"].as_str().expect("sha")
            {
                return Err(format!(
                    "body of {} bytes ({:?}...) instead of {length}",
                    body.len(),
                    String::from_utf8_lossy(&body[..body.len().min(80)])
                ));
            }
            Ok(())
        }
        ("forward", Outcome::Forward(forward)) => {
            let status = expect["status"].as_u64().expect("status");
            if u64::from(forward.status) != status {
                return Err(format!(
                    "next(err) of {} instead of {status}",
                    forward.status
                ));
            }
            match (&forward.cause, expect["code"].as_str()) {
                (None, None) => {}
                (Some(cause), Some(_)) => {
                    let errno = expect["errno"].as_i64().expect("errno");
                    let path = cause.path.replace(root.to_str().expect("utf8"), "<root>");
                    let wanted = (
                        errno,
                        expect["syscall"].as_str().expect("syscall"),
                        expect["path"].as_str().expect("path"),
                    );
                    if (-i64::from(cause.errno), cause.syscall, path.as_str()) != wanted {
                        return Err(format!("cause {cause:?} instead of {wanted:?}"));
                    }
                }
                (ours, theirs) => {
                    return Err(format!(
                        "cause {ours:?} where Express's error has code {theirs:?}"
                    ))
                }
            }
            let error_headers = pairs(&expect["errorHeaders"]);
            if ours(&forward.error_headers) != error_headers {
                return Err(format!(
                    "err.headers {:?} instead of {error_headers:?}",
                    ours(&forward.error_headers)
                ));
            }
            let response_headers = pairs(&expect["responseHeaders"]);
            if ours(&forward.response_headers) != response_headers {
                return Err(format!(
                    "response headers at next(err)\n  ours:    {:?}\n  express: {response_headers:?}",
                    ours(&forward.response_headers)
                ));
            }
            let response_status = forward
                .response_status
                .map_or(200, |s| u64::from(s.as_u16()));
            if response_status != expect["responseStatus"].as_u64().expect("status") {
                return Err(format!("res.statusCode {response_status} at next(err)"));
            }
            Ok(())
        }
        (kind, other) => Err(format!("{other:?} where Express did `{kind}`")),
    }
}

#[test]
fn every_recorded_express_static_case_agrees() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/express_static.json"),
    )
    .expect("fixture");
    let fixture: Value = serde_json::from_str(&text).expect("json");
    let dir = build_tree(&fixture);
    let root = dir.0.join("root");
    let cases = fixture["cases"].as_array().expect("cases");
    let mut failures = Vec::new();
    for case in cases {
        let files =
            StaticFiles::new(root.to_str().expect("utf8"), options(&case["options"])).expect("new");
        let method = Method::from_bytes(case["method"].as_str().expect("method").as_bytes())
            .expect("method");
        let mut headers = HeaderMap::new();
        for (name, value) in pairs(&case["headers"]) {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(&value).expect("value"),
            );
        }
        // The fixture's targets are plain: each path runs to its `?`.
        let url = case["url"].as_str().expect("url");
        let original = case["originalUrl"].as_str().expect("originalUrl");
        let path = url.split('?').next().unwrap_or_default();
        let original_path = original.split('?').next().unwrap_or_default();
        let request = Request {
            method: &method,
            path,
            original_path,
            original_search: Some(&original[original_path.len()..]),
            headers: &headers,
        };
        // Twice: the second answer may come from the content cache and must not differ.
        for attempt in ["first", "cached"] {
            let outcome = files.serve(&request);
            if let Err(difference) = check(case, &outcome, &root) {
                failures.push(format!(
                    "[{}] {} {} {:?} ({attempt}): {difference}",
                    case["set"].as_str().unwrap_or_default(),
                    case["method"].as_str().unwrap_or_default(),
                    case["target"].as_str().unwrap_or_default(),
                    pairs(&case["headers"]),
                ));
            }
        }
    }
    assert!(cases.len() > 900, "the fixture lost its cases");
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
