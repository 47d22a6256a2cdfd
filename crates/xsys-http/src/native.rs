//! Responses the engine gives without waking the handlers, byte-identical to Express 5's.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Method, StatusCode};

use crate::exchange::ResponseHead;

/// Express's (finalhandler's) 404 page: `Cannot <METHOD> <encoded pathname>`.
pub fn not_found(method: &Method, pathname: &str, powered_by: bool) -> (ResponseHead, Bytes) {
    let (_, body, page_headers) = not_found_page(method, pathname);
    let mut headers = HeaderMap::with_capacity(6);
    if powered_by {
        headers.insert("x-powered-by", HeaderValue::from_static("Express"));
    }
    for (name, _, value) in page_headers {
        headers.insert(name, value);
    }
    (
        ResponseHead {
            status: StatusCode::NOT_FOUND,
            headers,
            reason: None,
            case: Default::default(),
            send_date: true,
            prelude_in_js: false,
            utf8: false,
        },
        body,
    )
}

/// A header a native answer sets: its name, the case Node sends, its value.
pub(crate) type AnswerHeader = (HeaderName, &'static str, HeaderValue);

/// finalhandler's 404 for a request no layer handled: status, body, and the headers it sets
/// (with `setHeader`, on top of what middleware set before).
pub(crate) fn not_found_page(method: &Method, pathname: &str) -> (u16, Bytes, [AnswerHeader; 4]) {
    let message = format!("Cannot {} {}", method.as_str(), encode_url(pathname));
    let body = Bytes::from(html_document(&message));
    let headers = [
        (
            http::header::CONTENT_SECURITY_POLICY,
            "Content-Security-Policy",
            HeaderValue::from_static("default-src 'none'"),
        ),
        (
            http::header::X_CONTENT_TYPE_OPTIONS,
            "X-Content-Type-Options",
            HeaderValue::from_static("nosniff"),
        ),
        (
            CONTENT_TYPE,
            "Content-Type",
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (
            CONTENT_LENGTH,
            "Content-Length",
            HeaderValue::from(body.len()),
        ),
    ];
    (404, body, headers)
}

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

fn html_document(message: &str) -> String {
    let escaped = escape_html(message)
        .replace('\n', "<br>")
        .replace("  ", " &nbsp;");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>{escaped}</pre>\n</body>\n</html>\n"
    )
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

    #[test]
    fn not_found_page_is_express_byte_for_byte() {
        let (head, body) = not_found(&Method::GET, "/nope", true);
        assert_eq!(head.status, StatusCode::NOT_FOUND);
        assert_eq!(
            &body[..],
            b"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET /nope</pre>\n</body>\n</html>\n"
        );
        assert_eq!(
            head.headers["content-length"],
            body.len().to_string().as_str()
        );
        assert_eq!(head.headers["x-powered-by"], "Express");
    }

    #[test]
    fn not_found_page_encodes_then_escapes_the_path() {
        let (_, body) = not_found(&Method::POST, "/a<b>/'&\"/%zz/%41", false);
        let text = std::str::from_utf8(&body).expect("utf8");
        assert!(
            text.contains("<pre>Cannot POST /a%3Cb%3E/&#39;&amp;%22/%25zz/%41</pre>"),
            "{text}"
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

    #[test]
    fn powered_by_follows_the_setting() {
        let (head, _) = not_found(&Method::GET, "/", false);
        assert!(!head.headers.contains_key("x-powered-by"));
    }
}
