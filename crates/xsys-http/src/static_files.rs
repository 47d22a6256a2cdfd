//! The static-files stage's answers (xsys-static) as the engine's responses.

use http::header::HeaderName;
use http::{HeaderMap, Response};

use crate::body::ResponseBody;
use crate::head::ResponseHead;
use crate::header_case::CaseKey;
use crate::static_stage::LeadHeaders;

/// serve-static's response as Express sends it: first what the app sets before any middleware
/// runs (`lead`: Express's X-Powered-By), then send's headers in send's order and case.
pub(crate) fn response(
    answer: xsys_static::Response,
    lead: &LeadHeaders,
) -> Response<ResponseBody> {
    let mut headers = HeaderMap::with_capacity(answer.headers.len() + lead.len());
    let mut case = CaseKey::default();
    for (name, lower, value) in lead {
        case.note(name);
        headers.append(lower.clone(), value.clone());
    }
    for (name, value) in answer.headers {
        // xsys-static's names are fixed, valid header names.
        let Ok(lower) = HeaderName::from_bytes(name.as_bytes()) else {
            debug_assert!(false, "invalid header name {name:?}");
            continue;
        };
        case.note(name);
        headers.append(lower, value);
    }
    let body = match answer.body {
        // hyper keeps the announced Content-Length of a HEAD answer and adds none to a 304.
        xsys_static::Body::Empty => ResponseBody::none(),
        xsys_static::Body::Bytes(bytes) => ResponseBody::full(bytes),
        xsys_static::Body::File(file) => ResponseBody::file(file),
    };
    let head = ResponseHead {
        status: answer.status,
        headers,
        reason: None,
        case,
        send_date: true,
        prelude_in_js: false,
        utf8: false,
    };
    head.into_response(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;
    use http::Method;
    use xsys_static::{Options, Outcome, Request, StaticFiles};

    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn answer(dir: &TempDir, method: Method, url: &str) -> xsys_static::Response {
        let files =
            StaticFiles::new(dir.0.to_str().expect("utf8"), Options::default()).expect("new");
        let headers = HeaderMap::new();
        match files.serve(&Request {
            method: &method,
            path: url,
            original_path: url,
            original_search: Some(""),
            headers: &headers,
        }) {
            Outcome::Respond(response) => response,
            other => panic!("{other:?}"),
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("xsys-http-static-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        TempDir(dir)
    }

    #[tokio::test]
    async fn headers_keep_send_s_order_and_case_after_x_powered_by() {
        let dir = temp_dir("order");
        std::fs::write(dir.0.join("a.txt"), b"hello").expect("write");
        let lead = vec![(
            "X-Powered-By".to_owned(),
            HeaderName::from_static("x-powered-by"),
            HeaderValue::from_static("Express"),
        )];
        let response = response(answer(&dir, Method::GET, "/a.txt"), &lead);
        let names: Vec<&str> = response.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "x-powered-by",
                "accept-ranges",
                "cache-control",
                "last-modified",
                "etag",
                "content-type",
                "content-length"
            ]
        );
        // Only ETag is not what Title-Case writes: hyper gets a case map for it.
        assert!(!response.extensions().is_empty());
        let body = response.into_body().into_bytes().await.expect("body");
        assert_eq!(&body[..], b"hello");
    }

    #[tokio::test]
    async fn a_large_file_streams_in_chunks_off_the_io_threads() {
        let dir = temp_dir("large");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.0.join("big.bin"), &content).expect("write");
        let answer = answer(&dir, Method::GET, "/big.bin");
        assert!(matches!(answer.body, xsys_static::Body::File(_)));
        let response = response(answer, &Vec::new());
        assert!(!response.headers().contains_key("x-powered-by"));
        let mut body = response.into_body();
        assert_eq!(
            http_body_util::BodyExt::frame(&mut body)
                .await
                .expect("a frame")
                .expect("data")
                .into_data()
                .expect("data")
                .len(),
            FILE_CHUNK_FOR_TESTS
        );
        let rest = body.into_bytes().await.expect("rest");
        assert_eq!(&rest[..], &content[FILE_CHUNK_FOR_TESTS..]);
    }

    const FILE_CHUNK_FOR_TESTS: usize = 64 * 1024;

    #[tokio::test]
    async fn a_file_that_shrinks_mid_response_aborts_it() {
        let dir = temp_dir("shrinks");
        std::fs::write(dir.0.join("big.bin"), vec![7u8; 200_000]).expect("write");
        let answer = answer(&dir, Method::GET, "/big.bin");
        std::fs::write(dir.0.join("big.bin"), b"short").expect("truncate");
        let result = response(answer, &Vec::new()).into_body().into_bytes().await;
        assert!(result.is_err(), "the announced length cannot be met");
    }

    #[tokio::test]
    async fn head_keeps_the_length_and_sends_nothing() {
        let dir = temp_dir("head");
        std::fs::write(dir.0.join("a.txt"), b"hello").expect("write");
        let response = response(answer(&dir, Method::HEAD, "/a.txt"), &Vec::new());
        assert_eq!(response.headers()["content-length"], "5");
        let body = response.into_body();
        assert!(hyper::body::Body::is_end_stream(&body));
    }
}
