//! Response heads: the status line and headers a handler gives, validated as Node validates
//! them, and turned into the response hyper writes.

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use crate::body::ResponseBody;
use crate::header_case::CaseKey;
use crate::Error;

/// Status line and headers of a response, validated.
#[derive(Debug)]
pub struct ResponseHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// A reason phrase other than the status code's canonical one (Node's `statusMessage`).
    pub reason: Option<hyper::ext::ReasonPhrase>,
    /// The names to send in the app's own case rather than Title-Case.
    pub(crate) case: CaseKey,
    /// Node's `res.sendDate`: false leaves the Date header out.
    pub(crate) send_date: bool,
    /// The headers hold the native prelude's too (JS took them into its own), so none are added.
    pub(crate) prelude_in_js: bool,
    /// Written in UTF-8 (see `with_utf8_head`).
    pub(crate) utf8: bool,
}

/// The marker of a response whose head goes out in UTF-8 (see [`ResponseHead::with_utf8_head`]):
/// the stages' headers put in front are written so too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Utf8Head;

/// The marker a response carries when JS took the stages' headers into its own (it read or
/// changed one of them): its head is complete as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadersInJs;

/// The case of a response's own header names, kept until the stages' headers are put in front.
#[derive(Debug, Clone)]
pub(crate) struct DeferredCase(pub(crate) CaseKey);

/// On a response whose handler turned `sendDate` off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoDate;

impl ResponseHead {
    /// Parses a header block of `name:value` entries separated by `\n`. Names go out in the case
    /// given, as Node sends them. Values are latin1 as in Node: a char above U+00FF is refused
    /// rather than mangled.
    pub fn from_block(status: u32, block: &str) -> Result<Self, Error> {
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| Error::invalid_status(status))?;
        let mut headers = HeaderMap::new();
        let mut case = CaseKey::default();
        for line in block.split('\n').filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| Error::invalid_header(format!("{line:?} has no ':'")))?;
            let lower = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::invalid_header(format!("name {name:?}")))?;
            case.note(name);
            let name = lower;
            let value = if name == http::header::TRANSFER_ENCODING {
                chunked_last(value)
            } else {
                std::borrow::Cow::Borrowed(value)
            };
            let value = latin1_header_value(&value)
                .ok_or_else(|| Error::invalid_header(format!("value of {name}")))?;
            headers.append(name, value);
        }
        Ok(ResponseHead {
            status,
            headers,
            reason: None,
            case,
            send_date: true,
            prelude_in_js: false,
            utf8: false,
        })
    }

    /// Leaves the Date header out (Node's `res.sendDate = false`).
    pub fn without_date(mut self) -> Self {
        self.send_date = false;
        self
    }

    /// Says the headers already hold what the native prelude set for the request (JS read or
    /// changed one of them and took them all).
    pub fn with_prelude_headers(mut self) -> Self {
        self.prelude_in_js = true;
        self
    }

    /// The head goes out as UTF-8, as Node writes it when the first body data is a string in
    /// UTF-8 (`end('text')`): Node then writes head and body as one string in that encoding, so
    /// a value (or status message) with characters past U+007F takes their UTF-8 bytes.
    pub fn with_utf8_head(mut self) -> Self {
        self.utf8 = true;
        utf8_values(&mut self.headers);
        if let Some(reason) = &self.reason {
            if let Some(utf8) = latin1_as_utf8(reason.as_bytes()) {
                if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(utf8) {
                    self.reason = Some(reason);
                }
            }
        }
        self
    }

    /// Sets a custom reason phrase; characters HTTP forbids there are refused.
    pub fn with_reason(mut self, reason: &str) -> Result<Self, Error> {
        let bytes = latin1_header_value(reason)
            .ok_or_else(|| Error::invalid_header(format!("status message {reason:?}")))?;
        let phrase = hyper::ext::ReasonPhrase::try_from(bytes.as_bytes())
            .map_err(|_| Error::invalid_header(format!("status message {reason:?}")))?;
        self.reason = Some(phrase);
        Ok(self)
    }
}

/// Header values with bytes past 0x7F (a JS string's Latin-1 characters) re-encoded as UTF-8.
pub(crate) fn utf8_values(headers: &mut HeaderMap) {
    for value in headers.values_mut() {
        if let Some(utf8) = latin1_as_utf8(value.as_bytes()) {
            if let Ok(converted) = HeaderValue::from_bytes(&utf8) {
                *value = converted;
            }
        }
    }
}

/// The UTF-8 bytes of Latin-1 text, or `None` when it is ASCII (nothing changes).
fn latin1_as_utf8(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.is_ascii() {
        return None;
    }
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    Some(text.into_bytes())
}

/// An app's Transfer-Encoding without `chunked` last (`gzip`): Node sends the body unframed and
/// closes, which hyper cannot do; it appends `chunked` itself, and then also to the next header
/// line. Framing the body as `gzip, chunked` here keeps every header line intact.
fn chunked_last(value: &str) -> std::borrow::Cow<'_, str> {
    let last = value.rsplit(',').next().unwrap_or("").trim();
    if last.eq_ignore_ascii_case("chunked") {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(format!("{value}, chunked"))
    }
}

pub(crate) fn latin1_header_value(value: &str) -> Option<HeaderValue> {
    if value.is_ascii() {
        return HeaderValue::from_str(value).ok();
    }
    let bytes = value
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()?;
    HeaderValue::from_bytes(&bytes).ok()
}

impl ResponseHead {
    /// The response hyper writes: these status and headers, the names in the app's case, the
    /// reason phrase Node would write.
    pub(crate) fn into_response(self, body: ResponseBody) -> Response<ResponseBody> {
        self.into_response_for(body, false)
    }

    /// [`into_response`](Self::into_response); `prelude`: the native prelude's headers still go
    /// in front (on the I/O thread, see prelude.rs), so the case map is made there.
    pub(crate) fn into_response_for(
        self,
        body: ResponseBody,
        prelude: bool,
    ) -> Response<ResponseBody> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if prelude {
            if self.prelude_in_js {
                response.extensions_mut().insert(HeadersInJs);
            }
            if self.utf8 {
                response.extensions_mut().insert(Utf8Head);
            }
            response.extensions_mut().insert(DeferredCase(self.case));
        } else {
            self.case.mark(response.headers_mut());
        }
        if let Some(reason) = self
            .reason
            .or_else(|| node_phrase_where_hyper_differs(self.status))
        {
            response.extensions_mut().insert(reason);
        }
        if !self.send_date {
            response.extensions_mut().insert(NoDate);
        }
        response
    }
}

/// A response head written raw by a handler on a handed-over connection (`socket.write`).
pub(crate) struct RawHead {
    pub(crate) head: ResponseHead,
    /// Its length in bytes, up to and including the blank line.
    pub(crate) length: usize,
}

impl RawHead {
    /// `Ok(None)` while the head is incomplete.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Option<RawHead>, Error> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(bytes) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(Error::invalid_header(format!("raw response head: {e}"))),
        };
        let status = u32::from(response.code.unwrap_or(0));
        let mut block = String::new();
        for header in response.headers.iter() {
            block.push_str(header.name);
            block.push(':');
            block.extend(header.value.iter().map(|&b| char::from(b)));
            block.push('\n');
        }
        let mut head = ResponseHead::from_block(status, &block)?;
        let reason = response.reason.unwrap_or("");
        if head.status.canonical_reason() != Some(reason) {
            head = head.with_reason(reason)?;
        }
        Ok(Some(RawHead { head, length }))
    }
}

/// Node's reason phrase for the few codes whose canonical phrase in hyper differs from it, and
/// Node's `unknown` for codes neither knows (hyper would write `<none>`); the handler sends any
/// other phrase itself when it is not the canonical one.
fn node_phrase_where_hyper_differs(status: StatusCode) -> Option<hyper::ext::ReasonPhrase> {
    let phrase: &'static [u8] = match status.as_u16() {
        203 => b"Non-Authoritative Information",
        418 => b"I'm a Teapot",
        509 => b"Bandwidth Limit Exceeded",
        _ if status.canonical_reason().is_none() => b"unknown",
        _ => return None,
    };
    Some(hyper::ext::ReasonPhrase::from_static(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block_keeps_order_and_repeats() {
        let head = ResponseHead::from_block(
            201,
            "content-type:text/plain\nset-cookie:a=1\nset-cookie:b=2\n",
        )
        .expect("valid block");
        assert_eq!(head.status, StatusCode::CREATED);
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn a_transfer_encoding_without_chunked_last_gets_it() {
        let head = ResponseHead::from_block(200, "transfer-encoding:gzip\n").expect("valid");
        assert_eq!(head.headers["transfer-encoding"], "gzip, chunked");
        let head =
            ResponseHead::from_block(200, "transfer-encoding:gzip, Chunked\n").expect("valid");
        assert_eq!(head.headers["transfer-encoding"], "gzip, Chunked");
    }

    #[test]
    fn header_value_may_hold_a_colon_and_latin1() {
        let head = ResponseHead::from_block(200, "location:http://x/\u{e9}").expect("valid");
        assert_eq!(head.headers["location"].as_bytes(), b"http://x/\xe9");
    }

    #[test]
    fn header_block_refuses_what_http_cannot_carry() {
        assert!(ResponseHead::from_block(200, "bad name:x")
            .unwrap_err()
            .is_invalid_header());
        assert!(ResponseHead::from_block(200, "x:\u{263a}")
            .unwrap_err()
            .is_invalid_header());
        assert!(ResponseHead::from_block(200, "x:a\rb")
            .unwrap_err()
            .is_invalid_header());
        assert!(ResponseHead::from_block(99, "")
            .unwrap_err()
            .is_invalid_status());
        assert!(ResponseHead::from_block(1000, "")
            .unwrap_err()
            .is_invalid_status());
    }

    #[test]
    fn a_raw_head_is_read_once_whole_with_its_length() {
        assert!(RawHead::parse(b"HTTP/1.1 101 Switching")
            .expect("valid so far")
            .is_none());
        let raw = RawHead::parse(b"HTTP/1.1 418 Short And Stout\r\nA: b\r\n\r\nrest")
            .expect("valid")
            .expect("whole");
        assert_eq!(raw.length, 38);
        assert_eq!(raw.head.status.as_u16(), 418);
        assert_eq!(raw.head.headers["a"], "b");
        assert!(raw.head.reason.is_some());
        assert!(RawHead::parse(b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n").is_err());
    }
}
