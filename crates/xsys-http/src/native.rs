//! Responses the engine gives without waking the handlers: the 404 page as the framework above
//! describes it, and Node's server's own refusals, byte for byte.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, Response, StatusCode};

use crate::body::ResponseBody;
use crate::head::ResponseHead;
use crate::header_case::CaseKey;

/// The answer for a request no layer of the mirrored stack can match, as the framework above
/// gives it (lib/ passes Express's 404 page): a head, and a body that names the request as
/// `parts[0] METHOD parts[1] PATH parts[2]`, where METHOD and PATH are HTML-escaped and PATH is
/// percent-encoded first (the `encodeurl` package's rule).
#[derive(Debug, Clone)]
pub struct NotFoundPage {
    status: StatusCode,
    headers: HeaderMap,
    case: CaseKey,
    /// The spellings line of every page (see header_case), made once.
    spellings: Option<HeaderValue>,
    parts: [String; 3],
}

impl NotFoundPage {
    /// `head` is a parsed header block (see [`ResponseHead::from_block`]); its Content-Length is
    /// computed for each page.
    pub fn new(head: ResponseHead, parts: [String; 3]) -> NotFoundPage {
        let mut headers = head.headers;
        headers.remove(CONTENT_LENGTH);
        NotFoundPage {
            status: head.status,
            spellings: head.case.marker(&headers),
            headers,
            case: head.case,
            parts,
        }
    }

    /// The page's status.
    pub(crate) fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// The page's body for one request.
    pub(crate) fn body(&self, method: &Method, pathname: &str) -> Bytes {
        let [before, between, after] = &self.parts;
        Bytes::from(format!(
            "{before}{}{between}{}{after}",
            escape_html(method.as_str()),
            escape_html(&encode_url(pathname))
        ))
    }

    /// The page's headers in order, each with the case it is sent in (Content-Length aside).
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&HeaderName, String, &HeaderValue)> {
        self.headers.iter().map(|(name, value)| {
            let cased = self
                .case
                .spelling(name.as_str())
                .map_or_else(|| title_case(name.as_str()), str::to_owned);
            (name, cased, value)
        })
    }

    /// The page for one request.
    pub fn render(&self, method: &Method, pathname: &str) -> Response<ResponseBody> {
        let [before, between, after] = &self.parts;
        let body = format!(
            "{before}{}{between}{}{after}",
            escape_html(method.as_str()),
            escape_html(&encode_url(pathname))
        );
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut response = Response::new(ResponseBody::full(Bytes::from(body)));
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        if let Some(marker) = &self.spellings {
            response
                .headers_mut()
                .append(crate::header_case::SPELLINGS, marker.clone());
        }
        response
    }
}

/// A refusal as Node's server writes one: the status line and `Connection: close`, no body, and
/// the connection closes (the wire writer leaves out the `Content-Length: 0` hyper adds).
pub(crate) fn refusal(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::none());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Node's answer to HTTP/1.1 without Host: `writeHead(400, ['Connection', 'close'])` and `end()`.
pub(crate) fn missing_host() -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(Bytes::new()));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    headers.insert(http::header::DATE, crate::date::now());
    headers.insert(
        http::header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    response
}

/// `Content-Type` as hyper writes a lower-case name without a case map: Title-Case.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// A header a native answer sets: its name, the case Node sends, its value.
pub(crate) type AnswerHeader = (HeaderName, &'static str, HeaderValue);

/// The router's automatic answer to OPTIONS when the matching routes handle other methods only
/// (router@2's `sendOptionsResponse`): `Allow` and the same list as a text body.
pub(crate) fn options_answer(allow: &str) -> (u16, Bytes, [AnswerHeader; 4]) {
    let value = HeaderValue::from_str(allow).unwrap_or_else(|_| HeaderValue::from_static(""));
    let headers = [
        (http::header::ALLOW, "Allow", value),
        (
            CONTENT_LENGTH,
            "Content-Length",
            HeaderValue::from(allow.len()),
        ),
        (
            CONTENT_TYPE,
            "Content-Type",
            HeaderValue::from_static("text/plain"),
        ),
        (
            http::header::X_CONTENT_TYPE_OPTIONS,
            "X-Content-Type-Options",
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (200, Bytes::copy_from_slice(allow.as_bytes()), headers)
}

/// Which entity tag a buffered response asks the engine to add (Express's `etag` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntityTag {
    #[default]
    None,
    Weak,
    Strong,
}

impl EntityTag {
    pub fn from_code(code: u32) -> EntityTag {
        match code {
            1 => EntityTag::Weak,
            2 => EntityTag::Strong,
            _ => EntityTag::None,
        }
    }

    /// The `etag` package's tag for a body: `"<length hex>-<first 27 chars of base64(sha1)>"`,
    /// with `W/` in front when weak. Byte-identical to Express's.
    pub fn of(self, body: &[u8]) -> Option<HeaderValue> {
        if self == EntityTag::None {
            return None;
        }
        // Built in place: this runs for every buffered response (one allocation, the value's).
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, body);
        let mut hash = [0u8; 28];
        let encoded = base64::engine::general_purpose::STANDARD
            .encode_slice(digest.as_ref(), &mut hash)
            .ok()?;
        let mut tag = Vec::with_capacity(48);
        if self == EntityTag::Weak {
            tag.extend_from_slice(b"W/");
        }
        tag.push(b'"');
        write_hex(&mut tag, body.len());
        tag.push(b'-');
        tag.extend_from_slice(&hash[..encoded.min(27)]);
        tag.push(b'"');
        HeaderValue::from_maybe_shared(Bytes::from(tag)).ok()
    }
}

/// Lower-case hex, as JavaScript's `length.toString(16)`.
fn write_hex(out: &mut Vec<u8>, mut value: usize) {
    let start = out.len();
    loop {
        out.push(b"0123456789abcdef"[value & 0xf]);
        value >>= 4;
        if value == 0 {
            break;
        }
    }
    out[start..].reverse();
}

/// As the `escape-html` package: the five characters HTML gives meaning to.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// As the `encodeurl` package: percent-encode what may not appear in a URL, keep existing
/// escapes, and encode a `%` that does not start one.
pub fn encode_url(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let starts_escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if starts_escape || (b != b'%' && url_safe(b)) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// encodeurl's allowed set: `\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7A\x7C\x7E`.
fn url_safe(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x3B | 0x3D | 0x3F..=0x5F | 0x61..=0x7A | 0x7C | 0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page shaped like Express's, as lib/ gives it.
    fn page(powered_by: bool) -> NotFoundPage {
        let block = format!(
            "{}Content-Security-Policy:default-src 'none'\nx-custom:1\nContent-Length:999\n",
            if powered_by {
                "X-Powered-By:Express\n"
            } else {
                ""
            }
        );
        let head = ResponseHead::from_block(404, &block).expect("valid head");
        NotFoundPage::new(head, ["<pre>Cannot ".into(), " ".into(), "</pre>\n".into()])
    }

    async fn body_of(response: Response<ResponseBody>) -> Vec<u8> {
        use http_body_util::BodyExt;
        let collected = response.into_body().collect().await;
        collected.map(|c| c.to_bytes().to_vec()).unwrap_or_default()
    }

    #[tokio::test]
    async fn not_found_page_names_the_request_and_counts_its_length() {
        let response = page(true).render(&Method::GET, "/nope");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-powered-by"], "Express");
        assert_eq!(response.headers()["content-length"], "28");
        assert_eq!(
            response.headers()[crate::header_case::SPELLINGS],
            "x-custom ",
            "x-custom keeps its case"
        );
        assert_eq!(body_of(response).await, b"<pre>Cannot GET /nope</pre>\n");
    }

    #[tokio::test]
    async fn not_found_page_encodes_then_escapes_the_path() {
        let response = page(false).render(&Method::POST, "/a<b>/'&\"/%zz/%41");
        assert!(!response.headers().contains_key("x-powered-by"));
        let body = body_of(response).await;
        assert_eq!(
            std::str::from_utf8(&body).expect("utf8"),
            "<pre>Cannot POST /a%3Cb%3E/&#39;&amp;%22/%25zz/%41</pre>\n"
        );
    }

    #[test]
    fn entity_tags_match_the_etag_package() {
        // Values printed by `require('etag')(body, { weak })`.
        let weak = EntityTag::Weak.of(br#"{"hello":"world"}"#).expect("tag");
        assert_eq!(weak, r#"W/"11-IkjuL6CqqtmReFMfkkvwC0sKj04""#);
        let strong = EntityTag::Strong.of(b"").expect("tag");
        assert_eq!(strong, r#""0-2jmj7l5rSw0yVb/vlWAYkK/YBwk""#);
        let hex_letters = EntityTag::Weak.of(&[b'x'; 1100]).expect("tag");
        assert_eq!(hex_letters, r#"W/"44c-aTY8wyd5NCJHj03QInj+iZdalBw""#);
        assert!(EntityTag::None.of(b"x").is_none());
    }
}
