//! The static-files stage: `express.static(root, options)` (serve-static 2 over send 1, decided
//! by xsys-static) answered among the prelude's stages.
//!
//! The stage sees the request as the layer sees it in Express: the path of `req.url` with the
//! layer's matched prefix trimmed, the engine's static path rule first (as lib/static.ts applies
//! it before serve-static). A file, a 304, a redirect or a 405 is answered here with the headers
//! the earlier stages set; a miss (`next()`) goes on to the next stage; anything serve-static
//! would pass to `next(err)`, and anything only JS settles, is left to the JS middleware.

use std::borrow::Cow;

use http::header::HeaderName;
use http::{HeaderMap, Method, Response, StatusCode};
use xsys_static::{Body, Outcome, Request, StaticFiles};

use super::{Carried, Cased};
use crate::body::ResponseBody;
use crate::static_path;

/// What a static stage made of a request.
pub(super) enum Served {
    /// serve-static answered.
    Respond(xsys_static::Response),
    /// `next()`: on to the next stage.
    Next,
    /// The JS middleware must run this layer (and JS the layers after it).
    InJs,
}

/// Asks `files` for the request: `target` is the target as sent, `pathname` its one reading's
/// path, `matched` the part of it the layer's mount path matched (empty at the root).
pub(super) fn serve(
    files: &StaticFiles,
    method: &Method,
    headers: &HeaderMap,
    target: &str,
    pathname: &str,
    matched: &str,
) -> Served {
    // An absolute-form or `*` target rewrites req.url differently when a mount is stripped.
    if !target.starts_with('/') {
        return Served::InJs;
    }
    let path = path_at_layer(pathname, matched);
    if (*method == Method::GET || *method == Method::HEAD) && static_path::refusal(&path).is_some()
    {
        // lib/static.ts: answered as for a file that does not exist.
        return if files.options().fallthrough {
            Served::Next
        } else {
            Served::InJs
        };
    }
    // url.format of the original reading gives back its path and search, and its fragment: a
    // redirect for a target with one is left to JS.
    let original_search =
        (!target.contains('#')).then(|| target.find('?').map_or("", |q| &target[q..]));
    match files.serve(&Request {
        method,
        path: &path,
        original_path: pathname,
        original_search,
        headers,
    }) {
        Outcome::Respond(answer) => Served::Respond(answer),
        Outcome::Next => Served::Next,
        Outcome::Forward(_) | Outcome::NeedsJs(_) => Served::InJs,
    }
}

/// The path of `req.url` once Express's router has trimmed a middleware's matched path: the
/// rest of the path, given a leading `/` if it lost it.
fn path_at_layer<'p>(pathname: &'p str, matched: &str) -> Cow<'p, str> {
    let rest = pathname.get(matched.len()..).unwrap_or("");
    if rest.starts_with('/') {
        Cow::Borrowed(rest)
    } else {
        Cow::Owned(format!("/{rest}"))
    }
}

/// The headers send's 304 removes (`removeContentHeaderFields`).
const CONTENT_FIELDS: [HeaderName; 5] = [
    http::header::CONTENT_ENCODING,
    http::header::CONTENT_LANGUAGE,
    http::header::CONTENT_LENGTH,
    http::header::CONTENT_RANGE,
    http::header::CONTENT_TYPE,
];

impl Carried {
    /// serve-static's answer after the stages: send's (or the redirect's) `setHeader` calls over
    /// the headers they set, in send's order and case. (send sets its validators and type only
    /// where no earlier middleware did; no stage sets those names.)
    pub(super) fn answer_static(
        mut self,
        answer: xsys_static::Response,
        method: &Method,
        now_ms: u64,
    ) -> Response<ResponseBody> {
        for (name, value) in answer.headers {
            // xsys-static's names are fixed, valid header names.
            let Ok(lower) = HeaderName::from_bytes(name.as_bytes()) else {
                debug_assert!(false, "invalid header name {name:?}");
                continue;
            };
            self.headers.set_value(lower, Cased::Static(name), value);
        }
        if answer.status == StatusCode::NOT_MODIFIED {
            for name in &CONTENT_FIELDS {
                self.headers.remove(name);
            }
        }
        // The redirect page is `res.end(text)`: Node writes the head with it, in UTF-8 (a HEAD's
        // is `res.end()` alone). A file's bytes are a Buffer: the head goes out in Latin-1.
        let utf8 = answer.status == StatusCode::MOVED_PERMANENTLY && *method != Method::HEAD;
        let body = match answer.body {
            // hyper keeps the announced Content-Length of a HEAD answer and adds none to a 304.
            Body::Empty => ResponseBody::none(),
            Body::Bytes(bytes) => ResponseBody::full(bytes),
            Body::File(file) => ResponseBody::file(file),
        };
        self.respond(answer.status.as_u16(), body, utf8, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::prelude::HeaderList;
    use crate::prelude::{Prelude, PreludeOptions, Ran, Stage, StageKind, StagePath};
    use xsys_static::Options;

    struct Site {
        dir: std::path::PathBuf,
    }

    impl Drop for Site {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    impl Site {
        fn new(name: &str) -> Site {
            let dir =
                std::env::temp_dir().join(format!("xsys-http-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
            std::fs::write(dir.join("a.txt"), b"file a").expect("write");
            std::fs::write(dir.join("sub/index.html"), b"sub index").expect("write");
            Site { dir }
        }

        fn files(&self, options: Options) -> Arc<StaticFiles> {
            Arc::new(StaticFiles::new(self.dir.to_str().expect("utf8"), options).expect("new"))
        }

        /// A prelude of static stages (each at its path, `None` everywhere).
        fn prelude(&self, stages: &[(Option<&str>, Options)]) -> Prelude {
            let stages = stages
                .iter()
                .map(|(path, options)| Stage {
                    kind: StageKind::Static(self.files(options.clone())),
                    path: path.map_or(StagePath::Everywhere, |p| StagePath::Path(p.to_owned())),
                })
                .collect();
            Prelude::new(1, stages, PreludeOptions::default()).expect("prelude")
        }
    }

    fn run(prelude: &Prelude, method: Method, target: &str) -> Ran {
        let pathname = crate::target::read(target).pathname.expect("a path");
        let start = HeaderList::from_block("X-Powered-By:Express\n").expect("block");
        let remote = Some("127.0.0.1:1".parse().expect("addr"));
        prelude.run(
            &method,
            &HeaderMap::new(),
            target,
            pathname,
            remote,
            None,
            || start,
            0,
        )
    }

    async fn respond(ran: Ran) -> (u16, HeaderMap, Vec<u8>) {
        let Ran::Answered(response) = ran else {
            panic!("expected a response")
        };
        let (parts, body) = response.into_parts();
        let body = body.into_bytes().await.expect("body").to_vec();
        (parts.status.as_u16(), parts.headers, body)
    }

    /// How many stages ran natively, for a request that goes on to JS.
    fn ran(ran: Ran) -> usize {
        match ran {
            Ran::Continue(carried) => carried.ran,
            Ran::NoStage { .. } => 0,
            Ran::Unapplied => panic!("unapplied"),
            Ran::Answered(r) => panic!("answered natively: {}", r.status()),
        }
    }

    #[tokio::test]
    async fn a_stage_answers_a_file_at_the_root_and_under_a_mount() {
        let site = Site::new("answers");
        let root = site.prelude(&[(None, Options::default())]);
        let (status, headers, body) = respond(run(&root, Method::GET, "/a.txt")).await;
        assert_eq!((status, body.as_slice()), (200, &b"file a"[..]));
        let names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "x-powered-by",
                "accept-ranges",
                "cache-control",
                "last-modified",
                "etag",
                "content-type",
                "content-length",
                // ETag's spelling, for the response writer
                "xypriss-spellings"
            ]
        );
        let mounted = site.prelude(&[(Some("/static"), Options::default())]);
        let (_, _, body) = respond(run(&mounted, Method::GET, "/static/a.txt?v=1")).await;
        assert_eq!(body, b"file a");
        // The mount point itself redirects to its slash, keeping the query.
        let (status, headers, _) = respond(run(&mounted, Method::GET, "/static?v=1")).await;
        assert_eq!(status, 301);
        assert_eq!(headers["location"], "/static/?v=1");
        let (_, _, body) = respond(run(&mounted, Method::GET, "/STATIC/sub/")).await;
        assert_eq!(body, b"sub index");
    }

    #[tokio::test]
    async fn misses_fall_through_to_the_next_stage_and_then_to_js() {
        let site = Site::new("misses");
        let prelude = site.prelude(&[(None, Options::default()), (None, Options::default())]);
        assert_eq!(ran(run(&prelude, Method::GET, "/nope")), 2);
        assert_eq!(ran(run(&prelude, Method::POST, "/a.txt")), 2);
        let later = site.prelude(&[
            (None, Options::default()),
            (Some("/assets"), Options::default()),
        ]);
        let (_, _, body) = respond(run(&later, Method::GET, "/assets/a.txt")).await;
        assert_eq!(body, b"file a");
    }

    #[test]
    fn another_spelling_is_a_miss_and_errors_go_to_js_from_that_stage() {
        let site = Site::new("spelling");
        let lenient = site.prelude(&[(None, Options::default())]);
        for target in ["/./a.txt", "/x/../a.txt", "//a.txt", "/%61.txt", "/a%2ftxt"] {
            assert_eq!(ran(run(&lenient, Method::GET, target)), 1, "{target}");
        }
        let strict = Options {
            fallthrough: false,
            ..Options::default()
        };
        let prelude = site.prelude(&[(None, Options::default()), (None, strict)]);
        // serve-static would call next(err): JS runs the second layer and its error handlers.
        for target in ["/./a.txt", "/nope"] {
            assert_eq!(ran(run(&prelude, Method::GET, target)), 1, "{target}");
        }
    }

    #[test]
    fn targets_whose_reading_js_must_format_are_left_to_it() {
        let site = Site::new("forms");
        let prelude = site.prelude(&[(None, Options::default())]);
        assert_eq!(ran(run(&prelude, Method::GET, "http://h/nope")), 0);
        // A redirect would carry the fragment: JS builds it.
        assert_eq!(ran(run(&prelude, Method::GET, "/sub#x")), 0);
    }

    /// helmet, cors and a draft-8 limiter (of `limit`) at the root, then `files`.
    fn production(files: Arc<StaticFiles>, limit: f64) -> Prelude {
        use xsys_security::OptionValue as V;
        let kinds = [
            StageKind::Helmet(Arc::new(
                xsys_security::helmet::Helmet::from_option_value(&V::Undefined).expect("helmet"),
            )),
            StageKind::Cors(Arc::new(
                xsys_security::cors::Cors::from_option_value(&V::Undefined).expect("cors"),
            )),
            StageKind::RateLimit(Arc::new(
                xsys_security::rate_limit::RateLimit::from_option_value(&V::Object(vec![
                    ("limit".into(), V::Number(limit)),
                    ("standardHeaders".into(), V::String("draft-8".into())),
                    ("legacyHeaders".into(), V::Bool(false)),
                ]))
                .expect("limiter"),
            )),
            StageKind::Static(files),
        ];
        let stages = kinds
            .into_iter()
            .map(|kind| Stage {
                kind,
                path: StagePath::Everywhere,
            })
            .collect();
        Prelude::new(2, stages, PreludeOptions::default()).expect("prelude")
    }

    #[tokio::test]
    async fn a_file_after_helmet_cors_and_a_limiter_carries_their_headers_first() {
        let site = Site::new("production");
        let prelude = production(site.files(Options::default()), 2.0);
        let (status, headers, body) = respond(run(&prelude, Method::GET, "/a.txt")).await;
        assert_eq!((status, body.as_slice()), (200, &b"file a"[..]));
        let names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        // helmet's (X-Powered-By removed), cors's, the limiter's, then send's
        assert_eq!(names[0], "content-security-policy");
        assert_eq!(
            names[11..],
            [
                "x-xss-protection",
                "access-control-allow-origin",
                "ratelimit",
                "ratelimit-policy",
                "accept-ranges",
                "cache-control",
                "last-modified",
                "etag",
                "content-type",
                "content-length",
                // ETag's spelling, for the response writer
                "xypriss-spellings"
            ]
        );
        // a miss goes on with them and the limiter's info; past the limit, the 429 answers first
        let Ran::Continue(carried) = run(&prelude, Method::GET, "/nope") else {
            panic!("a miss goes on")
        };
        assert_eq!((carried.ran, carried.limits.len()), (4, 1));
        let (status, _, _) = respond(run(&prelude, Method::GET, "/a.txt")).await;
        assert_eq!(status, 429);
    }

    #[test]
    fn a_static_stage_only_js_settles_leaves_it_and_what_follows_to_js() {
        let site = Site::new("settles");
        let strict = Options {
            fallthrough: false,
            ..Options::default()
        };
        let prelude = production(site.files(strict), 10.0);
        let Ran::Continue(carried) = run(&prelude, Method::GET, "/nope") else {
            panic!("on to JS")
        };
        // the first three ran (the limiter counted): JS runs the static layer and the rest
        assert_eq!((carried.ran, carried.limits.len()), (3, 1));
        assert!(!carried.ran_all());
        let text = String::from_utf8(carried.text().to_vec()).expect("ascii");
        // plan 2, notices (the limiter's first request), 3 stages ran, one limiter's info
        assert!(text.starts_with("2\n1\n3\n1\n0\n10\n1\n9\n"), "{text}");
    }

    #[tokio::test]
    async fn a_large_file_streams_in_chunks_and_a_304_has_no_content_fields() {
        let site = Site::new("large");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(site.dir.join("big.bin"), &content).expect("write");
        let prelude = site.prelude(&[(None, Options::default())]);
        let Ran::Answered(response) = run(&prelude, Method::GET, "/big.bin") else {
            panic!("answered")
        };
        let etag = response.headers()["etag"].clone();
        let mut body = response.into_body();
        let first = http_body_util::BodyExt::frame(&mut body)
            .await
            .expect("a frame")
            .expect("data")
            .into_data()
            .expect("data");
        assert_eq!(first.len(), 64 * 1024);
        let rest = body.into_bytes().await.expect("rest");
        assert_eq!(&rest[..], &content[first.len()..]);

        let pathname = "/big.bin";
        let mut headers = HeaderMap::new();
        headers.insert(http::header::IF_NONE_MATCH, etag);
        let start = HeaderList::from_block("X-Powered-By:Express\n").expect("block");
        let remote = Some("127.0.0.1:1".parse().expect("addr"));
        let ran = prelude.run(
            &Method::GET,
            &headers,
            pathname,
            pathname,
            remote,
            None,
            || start,
            0,
        );
        let (status, headers, body) = respond(ran).await;
        assert_eq!(status, 304);
        assert!(body.is_empty());
        assert!(!headers.contains_key("content-type"));
        assert!(!headers.contains_key("content-length"));
    }

    #[tokio::test]
    async fn a_file_that_shrinks_mid_response_aborts_it() {
        let site = Site::new("shrinks");
        std::fs::write(site.dir.join("big.bin"), vec![7u8; 200_000]).expect("write");
        let prelude = site.prelude(&[(None, Options::default())]);
        let Ran::Answered(response) = run(&prelude, Method::GET, "/big.bin") else {
            panic!("answered")
        };
        std::fs::write(site.dir.join("big.bin"), b"short").expect("truncate");
        let result = response.into_body().into_bytes().await;
        assert!(result.is_err(), "the announced length cannot be met");
    }

    #[tokio::test]
    async fn head_keeps_the_length_and_sends_nothing() {
        let site = Site::new("head");
        let prelude = site.prelude(&[(None, Options::default())]);
        let Ran::Answered(response) = run(&prelude, Method::HEAD, "/a.txt") else {
            panic!("answered")
        };
        assert_eq!(response.headers()["content-length"], "6");
        assert!(hyper::body::Body::is_end_stream(response.body()));
    }
}
