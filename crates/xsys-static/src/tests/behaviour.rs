//! Each serve-static/send behaviour, one test at a time, against files on disk.

use http::StatusCode;

use super::support::*;
use crate::{Body, Dotfiles, MaxAge, NeedsJs, Options, Outcome};

#[test]
fn a_file_gets_send_s_headers_in_send_s_order() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let r = response(get(&files, "/hello.txt"));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        names(&r.headers),
        [
            "Accept-Ranges",
            "Cache-Control",
            "Last-Modified",
            "ETag",
            "Content-Type",
            "Content-Length"
        ]
    );
    assert_eq!(value(&r.headers, "Accept-Ranges"), "bytes");
    assert_eq!(value(&r.headers, "Cache-Control"), "public, max-age=0");
    assert_eq!(
        value(&r.headers, "Last-Modified"),
        "Wed, 01 Jan 2020 00:00:00 GMT"
    );
    // etag(stat): W/"<size hex>-<mtime ms hex>".
    assert_eq!(value(&r.headers, "ETag"), "W/\"c-16f5e66e800\"");
    assert_eq!(
        value(&r.headers, "Content-Type"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(value(&r.headers, "Content-Length"), "12");
    assert_eq!(body(&r), HELLO);
}

#[test]
fn head_has_the_headers_and_no_body() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let r = response(serve(&files, "HEAD", "/hello.txt", &[]));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(value(&r.headers, "Content-Length"), "12");
    assert!(matches!(r.body, Body::Empty));
}

#[test]
fn header_options_switch_their_header() {
    let tree = Tree::new();
    let off = tree.files(Options {
        accept_ranges: false,
        cache_control: false,
        last_modified: false,
        etag: false,
        ..Options::default()
    });
    let r = response(get(&off, "/hello.txt"));
    assert_eq!(names(&r.headers), ["Content-Type", "Content-Length"]);

    let cached = tree.files(Options {
        max_age: MaxAge::parse("1d"),
        immutable: true,
        ..Options::default()
    });
    let r = response(get(&cached, "/hello.txt"));
    assert_eq!(
        value(&r.headers, "Cache-Control"),
        "public, max-age=86400, immutable"
    );
    let millis = tree.files(Options {
        max_age: MaxAge::from_millis(1500.0),
        ..Options::default()
    });
    let r = response(get(&millis, "/hello.txt"));
    assert_eq!(value(&r.headers, "Cache-Control"), "public, max-age=1");
}

#[test]
fn content_types_come_from_mime_types() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for (url, expected) in [
        ("/index.html", "text/html; charset=utf-8"),
        ("/UPPER.HTML", "text/html; charset=utf-8"),
        ("/data.unknownext", "application/octet-stream"),
        ("/README", "application/octet-stream"),
        ("/big.bin", "application/octet-stream"),
    ] {
        let r = response(get(&files, url));
        assert_eq!(value(&r.headers, "Content-Type"), expected, "{url}");
    }
}

#[test]
fn names_are_decoded_once() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    assert_eq!(body(&response(get(&files, "/a%20b.txt"))), b"space");
    assert_eq!(body(&response(get(&files, "/caf%C3%A9.txt"))), b"accent");
    assert_eq!(body(&response(get(&files, "/100%25.txt"))), b"percent");
    assert_eq!(body(&response(get(&files, "/%68ello.txt"))), HELLO);
    // The query is not part of the name.
    assert_eq!(body(&response(get(&files, "/hello.txt?x=/../y"))), HELLO);
}

#[test]
fn an_empty_file_is_an_empty_body_with_length_zero() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let r = response(get(&files, "/empty.txt"));
    assert_eq!(value(&r.headers, "Content-Length"), "0");
    assert!(matches!(&r.body, Body::Bytes(b) if b.is_empty()));
}

#[test]
fn other_methods_fall_through_or_get_405() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "get"] {
        assert!(
            matches!(serve(&files, method, "/hello.txt", &[]), Outcome::Next),
            "{method}"
        );
    }
    let strict = tree.files(no_fallthrough());
    let r = response(serve(&strict, "POST", "/hello.txt", &[]));
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(names(&r.headers), ["Allow", "Content-Length"]);
    assert_eq!(value(&r.headers, "Allow"), "GET, HEAD");
    assert_eq!(value(&r.headers, "Content-Length"), "0");
    assert!(body(&r).is_empty());
}

#[test]
fn misses_fall_through_or_forward_send_s_error() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for url in [
        "/nope.txt",
        "/nope",
        "/hello.txt/",
        "/hello.txt/x",
        "/sub/nope/",
    ] {
        assert!(matches!(get(&files, url), Outcome::Next), "{url}");
    }
    let strict = tree.files(no_fallthrough());
    let root = tree.root();
    let root = root.to_str().expect("utf8");
    let f = forward(get(&strict, "/nope.txt"));
    assert_eq!(f.status, 404);
    let cause = f.cause.expect("the stat error");
    assert_eq!(
        (cause.errno, cause.syscall, cause.path.as_str()),
        (libc::ENOENT, "stat", format!("{root}/nope.txt").as_str())
    );
    assert!(f.response_headers.is_empty() && f.error_headers.is_empty());
    let f = forward(get(&strict, "/hello.txt/x"));
    assert_eq!(f.status, 404);
    assert_eq!(f.cause.expect("cause").errno, libc::ENOTDIR);
    let f = forward(get(&strict, &format!("/{}", "n".repeat(300))));
    assert_eq!(
        (f.status, f.cause.expect("cause").errno),
        (404, libc::ENAMETOOLONG)
    );
}

#[test]
fn errors_of_500_are_forwarded_even_with_fallthrough() {
    let tree = Tree::new();
    let link = tree.root().join("loop");
    std::os::unix::fs::symlink(&link, &link).expect("symlink");
    let files = tree.files(Options::default());
    let f = forward(get(&files, "/loop"));
    assert_eq!(f.status, 500);
    let cause = f.cause.expect("cause");
    assert_eq!((cause.errno, cause.syscall), (libc::ELOOP, "stat"));
}

#[test]
fn a_file_that_will_not_open_is_forwarded_with_the_headers_already_set() {
    // Write-only even for root: stat succeeds, open fails with EACCES, as send's stream would.
    let dir = "/proc/sys/vm";
    if std::fs::metadata(format!("{dir}/drop_caches")).is_err() {
        eprintln!("skipped: no {dir}/drop_caches here");
        return;
    }
    let files = crate::StaticFiles::new(dir, Options::default()).expect("new");
    let f = forward(get(&files, "/drop_caches"));
    assert_eq!(f.status, 500);
    let cause = f.cause.expect("cause");
    assert_eq!(
        (cause.errno, cause.syscall, cause.path.as_str()),
        (libc::EACCES, "open", "/proc/sys/vm/drop_caches")
    );
    assert_eq!(
        names(&f.response_headers),
        [
            "Accept-Ranges",
            "Cache-Control",
            "Last-Modified",
            "ETag",
            "Content-Type",
            "Content-Length"
        ]
    );
    assert_eq!(f.response_status, None);
    // HEAD never opens the file.
    let r = response(serve(&files, "HEAD", "/drop_caches", &[]));
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn index_files_are_tried_in_order_for_a_trailing_slash() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    assert_eq!(body(&response(get(&files, "/"))), b"<h1>home</h1>");
    assert_eq!(body(&response(get(&files, "/sub/"))), b"<h1>sub</h1>");
    assert_eq!(body(&response(get(&files, "/./sub/./"))), b"<h1>sub</h1>");
    let r = response(get(&files, "/sub/"));
    assert_eq!(
        value(&r.headers, "Content-Type"),
        "text/html; charset=utf-8"
    );
    // deeper/ has index.htm only.
    assert!(matches!(get(&files, "/sub/deeper/"), Outcome::Next));
    let listed = tree.files(Options {
        index: vec![
            "missing.html".into(),
            "index.htm".into(),
            "index.html".into(),
        ],
        ..Options::default()
    });
    assert_eq!(body(&response(get(&listed, "/sub/deeper/"))), b"deeper htm");
    assert_eq!(body(&response(get(&listed, "/sub/"))), b"<h1>sub</h1>");
    // A directory without an index: the last stat error, forwarded without fallthrough.
    let strict = tree.files(no_fallthrough());
    let f = forward(get(&strict, "/empty/"));
    assert_eq!(f.status, 404);
    assert!(f.cause.expect("cause").path.ends_with("/empty/index.html"));
}

#[test]
fn index_false_leaves_a_directory_with_its_slash_a_404() {
    let tree = Tree::new();
    let no_index = tree.files(Options {
        index: Vec::new(),
        fallthrough: false,
        ..Options::default()
    });
    let f = forward(get(&no_index, "/sub/"));
    assert_eq!((f.status, f.cause.is_none()), (404, true));
    let r = response(get(&no_index, "/sub"));
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
}

#[test]
fn a_directory_redirects_to_its_slash_with_serve_static_s_page() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let r = response(get(&files, "/sub"));
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    let page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Redirecting</title>\n</head>\n<body>\n<pre>Redirecting to /sub/</pre>\n</body>\n</html>\n";
    assert_eq!(body(&r), page.as_bytes());
    assert_eq!(
        names(&r.headers),
        [
            "Content-Type",
            "Content-Length",
            "Content-Security-Policy",
            "X-Content-Type-Options",
            "Location"
        ]
    );
    assert_eq!(
        value(&r.headers, "Content-Type"),
        "text/html; charset=UTF-8"
    );
    assert_eq!(value(&r.headers, "Content-Length"), page.len().to_string());
    assert_eq!(
        value(&r.headers, "Content-Security-Policy"),
        "default-src 'none'"
    );
    assert_eq!(value(&r.headers, "X-Content-Type-Options"), "nosniff");
    assert_eq!(value(&r.headers, "Location"), "/sub/");

    // The query string follows; the location is encodeurl'd, then HTML-escaped in the page.
    let r = response(get(&files, "/sub?a=1&b=<x>"));
    assert_eq!(value(&r.headers, "Location"), "/sub/?a=1&b=%3Cx%3E");
    assert!(String::from_utf8(body(&r))
        .expect("utf8")
        .contains("<pre>Redirecting to /sub/?a=1&amp;b=%3Cx%3E</pre>"));
    // Leading slashes collapse, so the location never names another host.
    let r = response(get(&files, "//sub"));
    assert_eq!(value(&r.headers, "Location"), "/sub/");
    // HEAD: the same head, no body.
    let r = response(serve(&files, "HEAD", "/sub", &[]));
    assert_eq!(value(&r.headers, "Content-Length"), page.len().to_string());
    assert!(matches!(r.body, Body::Empty));
    // The root itself.
    let r = response(get(&files, "/."));
    assert_eq!(value(&r.headers, "Location"), "/./");
}

#[test]
fn the_redirect_happens_at_the_mount_point() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    // app.use('/static', express.static(root)): GET /static gives req.url '/'.
    let r = response(serve_with(&files, "GET", "/", "/static", &[]));
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(value(&r.headers, "Location"), "/static/");
    let r = response(serve_with(&files, "GET", "/?q=1", "/static?q=1", &[]));
    assert_eq!(value(&r.headers, "Location"), "/static/?q=1");
    // GET /static/ serves the index.
    let r = response(serve_with(&files, "GET", "/", "/static/", &[]));
    assert_eq!(body(&r), b"<h1>home</h1>");
    let r = response(serve_with(&files, "GET", "/sub", "/static/sub", &[]));
    assert_eq!(value(&r.headers, "Location"), "/static/sub/");
}

#[test]
fn redirect_false_makes_a_directory_a_miss() {
    let tree = Tree::new();
    let files = tree.files(Options {
        redirect: false,
        ..Options::default()
    });
    assert!(matches!(get(&files, "/sub"), Outcome::Next));
    let strict = tree.files(Options {
        redirect: false,
        fallthrough: false,
        ..Options::default()
    });
    let f = forward(get(&strict, "/sub"));
    assert_eq!((f.status, f.cause.is_none()), (404, true));
}

#[test]
fn extensions_are_tried_for_a_missing_name_without_one() {
    let tree = Tree::new();
    let files = tree.files(Options {
        extensions: vec!["htm".into(), "html".into()],
        fallthrough: false,
        ..Options::default()
    });
    let r = response(get(&files, "/about"));
    assert_eq!(body(&r), b"<h1>about (htm)</h1>");
    assert_eq!(
        value(&r.headers, "Content-Type"),
        "text/html; charset=utf-8"
    );
    // A name with an extension, or one that exists, is not extended.
    assert!(matches!(forward(get(&files, "/about.txt")).status, 404));
    // dir.html is a directory: skipped, and the last error is gone.
    let html_first = tree.files(Options {
        extensions: vec!["html".into()],
        fallthrough: false,
        ..Options::default()
    });
    let f = forward(get(&html_first, "/dir"));
    assert_eq!((f.status, f.cause.is_none()), (404, true));
    // Otherwise the error of the last candidate is the one forwarded.
    let f = forward(get(&files, "/nothing"));
    assert!(f.cause.expect("cause").path.ends_with("/nothing.html"));
    // A trailing slash disables the fallback.
    assert_eq!(forward(get(&files, "/about/")).status, 404);
}

#[test]
fn dotfiles_are_ignored_denied_or_allowed() {
    let tree = Tree::new();
    let ignore = tree.files(Options::default());
    assert!(matches!(get(&ignore, "/.env"), Outcome::Next));
    assert!(matches!(get(&ignore, "/.well-known/x.txt"), Outcome::Next));
    let strict_ignore = tree.files(no_fallthrough());
    assert_eq!(forward(get(&strict_ignore, "/.env")).status, 404);
    let deny = tree.files(Options {
        dotfiles: Dotfiles::Deny,
        ..Options::default()
    });
    // 403 before any file is chosen: with fallthrough that is still next().
    assert!(matches!(get(&deny, "/.env"), Outcome::Next));
    let strict_deny = tree.files(Options {
        dotfiles: Dotfiles::Deny,
        fallthrough: false,
        ..Options::default()
    });
    let f = forward(get(&strict_deny, "/.well-known/x.txt"));
    assert_eq!((f.status, f.cause.is_none()), (403, true));
    let allow = tree.files(Options {
        dotfiles: Dotfiles::Allow,
        ..Options::default()
    });
    assert_eq!(body(&response(get(&allow, "/.env"))), b"DOTENV");
    assert_eq!(
        body(&response(get(&allow, "/.well-known/x.txt"))),
        b"well known"
    );
}

#[test]
fn traversal_and_bad_escapes_get_send_s_statuses() {
    let tree = Tree::new();
    let strict = tree.files(no_fallthrough());
    for (url, status) in [
        ("/../secret.txt", 403),
        ("/%2e%2e/secret.txt", 403),
        ("/sub/../../secret.txt", 403),
        ("/%", 400),
        ("/%c0%ae%c0%ae/secret.txt", 400),
        ("/a%00b", 400),
        ("/..%2fsecret.txt", 404),
        ("/sub%2fother.txt", 404),
        ("/sub%5Cother.txt", 404),
        ("/sub\\other.txt", 404),
    ] {
        let f = forward(get(&strict, url));
        assert_eq!((f.status, f.cause.is_none()), (status, true), "{url}");
    }
    let files = tree.files(Options::default());
    assert!(matches!(get(&files, "/../secret.txt"), Outcome::Next));
    assert!(matches!(get(&files, "/sub%2fother.txt"), Outcome::Next));
    // `..` that stays inside the root is fine.
    assert_eq!(body(&response(get(&files, "/sub/../hello.txt"))), HELLO);
}

#[test]
fn if_none_match_and_if_modified_since_give_304() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let etag = "W/\"c-16f5e66e800\"";
    for pairs in [
        vec![("if-none-match", etag)],
        vec![("if-none-match", "\"c-16f5e66e800\"")],
        vec![("if-none-match", "*")],
        vec![("if-modified-since", "Wed, 01 Jan 2020 00:00:00 GMT")],
        vec![("if-modified-since", "Fri, 01 Jan 2021 00:00:00 GMT")],
    ] {
        let r = response(serve(&files, "GET", "/hello.txt", &pairs));
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{pairs:?}");
        // removeContentHeaderFields took Content-Type; Content-Length was never set.
        assert_eq!(
            names(&r.headers),
            ["Accept-Ranges", "Cache-Control", "Last-Modified", "ETag"]
        );
        assert!(matches!(r.body, Body::Empty));
    }
    for pairs in [
        vec![("if-none-match", "\"other\"")],
        vec![("if-modified-since", "Tue, 31 Dec 2019 23:59:59 GMT")],
        vec![("if-none-match", etag), ("cache-control", "no-cache")],
        vec![("if-none-match", "")],
    ] {
        let r = response(serve(&files, "GET", "/hello.txt", &pairs));
        assert_eq!(r.status, StatusCode::OK, "{pairs:?}");
    }
    // Without an ETag, If-None-Match never matches.
    let no_etag = tree.files(Options {
        etag: false,
        ..Options::default()
    });
    let r = response(serve(
        &no_etag,
        "GET",
        "/hello.txt",
        &[("if-none-match", etag)],
    ));
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn failed_preconditions_are_forwarded_as_412_with_the_headers_set() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for pairs in [
        vec![("if-match", "\"nope\"")],
        vec![("if-unmodified-since", "Tue, 31 Dec 2019 23:59:59 GMT")],
    ] {
        let f = forward(serve(&files, "GET", "/hello.txt", &pairs));
        assert_eq!((f.status, f.cause.is_none()), (412, true));
        assert_eq!(
            names(&f.response_headers),
            [
                "Accept-Ranges",
                "Cache-Control",
                "Last-Modified",
                "ETag",
                "Content-Type"
            ]
        );
    }
    for pairs in [
        vec![("if-match", "W/\"c-16f5e66e800\"")],
        vec![("if-match", "*")],
        vec![("if-unmodified-since", "Wed, 01 Jan 2020 00:00:00 GMT")],
    ] {
        let r = response(serve(&files, "GET", "/hello.txt", &pairs));
        assert_eq!(r.status, StatusCode::OK, "{pairs:?}");
    }
}

#[test]
fn dates_only_v8_can_read_are_left_to_js() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for (name, value) in [
        ("if-modified-since", "2020-01-01"),
        ("if-unmodified-since", "Wed, 01 Jan 2020"),
        ("if-range", "January 1, 2020"),
    ] {
        let pairs = [(name, value), ("range", "bytes=0-1")];
        assert!(
            matches!(
                serve(&files, "GET", "/hello.txt", &pairs),
                Outcome::NeedsJs(NeedsJs::Date)
            ),
            "{name}"
        );
    }
    // A date that is never read does not matter.
    let r = response(serve(
        &files,
        "GET",
        "/hello.txt",
        &[("if-none-match", "\"x\""), ("if-modified-since", "soon")],
    ));
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn a_single_range_is_206() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let r = response(serve(
        &files,
        "GET",
        "/hello.txt",
        &[("range", "bytes=0-4")],
    ));
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body(&r), b"hello");
    assert_eq!(
        names(&r.headers),
        [
            "Accept-Ranges",
            "Cache-Control",
            "Last-Modified",
            "ETag",
            "Content-Type",
            "Content-Range",
            "Content-Length"
        ]
    );
    assert_eq!(value(&r.headers, "Content-Range"), "bytes 0-4/12");
    assert_eq!(value(&r.headers, "Content-Length"), "5");
    let r = response(serve(&files, "GET", "/hello.txt", &[("range", "bytes=-6")]));
    assert_eq!(body(&r), b"world\n");
    // Overlapping ranges merge into one.
    let r = response(serve(
        &files,
        "GET",
        "/hello.txt",
        &[("range", "  bytes=0-2,1-4")],
    ));
    assert_eq!(
        (r.status, body(&r)),
        (StatusCode::PARTIAL_CONTENT, b"hello".to_vec())
    );
    // HEAD with a range: the 206 head alone.
    let r = response(serve(
        &files,
        "HEAD",
        "/hello.txt",
        &[("range", "bytes=6-")],
    ));
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(value(&r.headers, "Content-Length"), "6");
    assert!(matches!(r.body, Body::Empty));
}

#[test]
fn several_ranges_or_a_malformed_one_get_the_whole_file() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for range in [
        "bytes=0-1,4-5",
        "bytes=x",
        "bytes=1-2,",
        "Bytes=0-1",
        "bytes 0-1",
    ] {
        let r = response(serve(&files, "GET", "/hello.txt", &[("range", range)]));
        assert_eq!(r.status, StatusCode::OK, "{range}");
        assert_eq!(body(&r), HELLO);
        assert!(!names(&r.headers).contains(&"Content-Range"));
    }
}

#[test]
fn an_unsatisfiable_range_is_forwarded_as_416() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    for (url, range, size) in [
        ("/hello.txt", "bytes=12-", 12),
        ("/hello.txt", "bytes=20-30", 12),
        ("/empty.txt", "bytes=0-", 0),
    ] {
        let f = forward(serve(&files, "GET", url, &[("range", range)]));
        assert_eq!(f.status, 416);
        let expected = format!("bytes */{size}");
        assert_eq!(names(&f.error_headers), ["Content-Range"]);
        assert_eq!(value(&f.error_headers, "Content-Range"), expected);
        assert_eq!(names(&f.response_headers).last(), Some(&"Content-Range"));
        assert_eq!(value(&f.response_headers, "Content-Range"), expected);
    }
}

#[test]
fn if_range_keeps_or_drops_the_range() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let ranged = |if_range: &str| {
        response(serve(
            &files,
            "GET",
            "/hello.txt",
            &[("range", "bytes=0-4"), ("if-range", if_range)],
        ))
        .status
    };
    assert_eq!(ranged("W/\"c-16f5e66e800\""), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged("\"other\""), StatusCode::OK);
    assert_eq!(
        ranged("Wed, 01 Jan 2020 00:00:00 GMT"),
        StatusCode::PARTIAL_CONTENT
    );
    assert_eq!(ranged("Tue, 31 Dec 2019 23:59:59 GMT"), StatusCode::OK);
    // A stale If-Range also saves an unsatisfiable range from its 416.
    let r = response(serve(
        &files,
        "GET",
        "/hello.txt",
        &[("range", "bytes=50-"), ("if-range", "\"other\"")],
    ));
    assert_eq!(r.status, StatusCode::OK);
}

#[test]
fn accept_ranges_false_ignores_range() {
    let tree = Tree::new();
    let files = tree.files(Options {
        accept_ranges: false,
        ..Options::default()
    });
    let r = response(serve(
        &files,
        "GET",
        "/hello.txt",
        &[("range", "bytes=0-4")],
    ));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(body(&r), HELLO);
}

#[test]
fn large_files_are_streamed_from_the_open_file() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    let r = response(get(&files, "/big.bin"));
    assert!(matches!(r.body, Body::File(_)), "not read whole");
    assert_eq!(body(&r), big_content());
    let r = response(serve(
        &files,
        "GET",
        "/big.bin",
        &[("range", "bytes=100000-100009")],
    ));
    let Body::File(file) = &r.body else {
        panic!("a range of a large file is streamed too")
    };
    assert_eq!(file.len(), 10);
    assert_eq!(body(&r), big_content()[100_000..100_010]);
    // The content is what it was when the response began: a truncated file is an error.
    let r = response(get(&files, "/big.bin"));
    std::fs::write(tree.root().join("big.bin"), b"short").expect("truncate");
    let Body::File(file) = &r.body else {
        panic!("streamed")
    };
    let error = file.read_at(0, 1024).expect_err("the file shrank");
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_redirect_for_an_original_url_that_is_not_plain_is_left_to_js() {
    let tree = Tree::new();
    let files = tree.files(Options::default());
    // url.format would put the scheme and host, or the fragment, back into the location.
    for original in ["http://host/sub", "/sub#top"] {
        assert!(
            matches!(
                serve_with(&files, "GET", "/sub", original, &[]),
                Outcome::NeedsJs(NeedsJs::Url)
            ),
            "{original}"
        );
    }
    // Files are served whatever the original URL looks like.
    let r = response(serve_with(
        &files,
        "GET",
        "/hello.txt",
        "/hello.txt#top",
        &[],
    ));
    assert_eq!(body(&r), HELLO);
}

#[test]
fn a_fifo_is_left_to_js() {
    let tree = Tree::new();
    let fifo = tree.root().join("pipe");
    let c_path = std::ffi::CString::new(fifo.to_str().expect("utf8")).expect("cstring");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    let files = tree.files(Options::default());
    assert!(matches!(
        get(&files, "/pipe"),
        Outcome::NeedsJs(NeedsJs::UnusualFile)
    ));
}

#[test]
fn modification_times_are_node_s_rounded_milliseconds() {
    let tree = Tree::new();
    tree.set_mtime(
        "root/hello.txt",
        std::time::Duration::new(MTIME_SECS, 500_500_000),
    );
    let files = tree.files(Options::default());
    let r = response(get(&files, "/hello.txt"));
    // 1577836800500.5 rounds up to ...501 = 0x16f5e66e9f5; the date keeps the second.
    assert_eq!(value(&r.headers, "ETag"), "W/\"c-16f5e66e9f5\"");
    assert_eq!(
        value(&r.headers, "Last-Modified"),
        "Wed, 01 Jan 2020 00:00:00 GMT"
    );
}

#[test]
fn the_root_is_resolved_and_must_not_be_empty() {
    let err = crate::StaticFiles::new("", Options::default())
        .err()
        .expect("refused");
    assert!(err.is_invalid_root());
    assert_eq!(err.message(), "root path required");
    let files = crate::StaticFiles::new("some/dir/", Options::default()).expect("new");
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(files.root(), format!("{}/some/dir", cwd.display()));
}
