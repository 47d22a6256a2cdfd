//! The text of express-rate-limit's answers: the RateLimit headers of each draft, the legacy
//! X-RateLimit ones, and the response it sends past the limit.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderValue;

use super::{ClientKey, Message, RateLimit, RateLimitOptions, Rejection};
use crate::header::{name, Header};
use crate::js::{latin1_header_value, number_to_string, push_number};

impl RateLimit {
    /// draft-8's `RateLimit-Policy` for a key: the same for every request of that key, so the
    /// last one a thread made is kept (a client's requests follow each other on its connection).
    pub(super) fn draft8_policy(&self, key: &ClientKey) -> http::HeaderValue {
        thread_local! {
            static LAST: std::cell::RefCell<Option<(u64, ClientKey, http::HeaderValue)>> =
                const { std::cell::RefCell::new(None) };
        }
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            if let Some((id, cached_key, value)) = last.as_ref() {
                if *id == self.id && cached_key == key {
                    return value.clone();
                }
            }
            let value = format!(
                "\"{}\"; q={}; w={}; pk=:{}:",
                self.identifier,
                number_to_string(self.options.limit),
                self.window_seconds,
                partition_key(&key.to_string())
            );
            let value =
                latin1_header_value(&value).unwrap_or_else(|| http::HeaderValue::from_static(""));
            *last = Some((self.id, key.clone(), value.clone()));
            value
        })
    }

    pub(super) fn policy_header(&self) -> Header {
        Header::named(name::RATELIMIT_POLICY, self.policy_value.clone())
    }

    /// draft-7's or draft-8's `RateLimit`: its constant start, then `remaining`, `before_reset`
    /// and `reset`, written into the value's own bytes.
    pub(super) fn ratelimit_header(
        &self,
        remaining: f64,
        before_reset: &[u8],
        reset: u64,
    ) -> Header {
        let mut value = Vec::with_capacity(self.ratelimit_prefix.len() + 48);
        value.extend_from_slice(&self.ratelimit_prefix);
        push_number(&mut value, remaining);
        value.extend_from_slice(before_reset);
        value.extend_from_slice(itoa::Buffer::new().format(reset).as_bytes());
        Header::named(name::RATELIMIT, ascii_value(value))
    }
}

/// `new Date(now + windowMs)` keeps whole milliseconds (TimeClip truncates).
pub(super) fn trunc_ms(window_ms: f64) -> u64 {
    window_ms.trunc() as u64
}

/// `Math.max(0, Math.ceil((resetTime - Date.now()) / 1000))`.
pub(super) fn reset_seconds(reset_ms: u64, now_ms: u64) -> u64 {
    reset_ms.saturating_sub(now_ms).div_ceil(1000)
}

/// `new Date(now).toUTCString()`.
pub(super) fn http_date(now_ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(now_ms))
}

/// A value made of checked bytes (ASCII numbers and dates, the Latin-1 identifier checked at
/// build), taken without copying; an empty value if it were not valid, as `Header::ascii` does.
pub(super) fn ascii_value(bytes: Vec<u8>) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(bytes))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `String(x)` as a header value.
pub(super) fn number_value(x: f64) -> HeaderValue {
    let mut bytes = Vec::with_capacity(24);
    push_number(&mut bytes, x);
    ascii_value(bytes)
}

/// draft-8's `pk`: base64 of the first 12 hex digits of SHA-256(key).
fn partition_key(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let mut hex = [0u8; 12];
    for (pair, byte) in hex.chunks_mut(2).zip(digest.as_ref()) {
        pair[0] = b"0123456789abcdef"[usize::from(byte >> 4)];
        pair[1] = b"0123456789abcdef"[usize::from(byte & 0xf)];
    }
    base64::engine::general_purpose::STANDARD.encode(hex)
}

/// express-rate-limit's default `identifier`: `${limit}-in-${duration}`.
pub(super) fn default_identifier(limit: f64, window_ms: f64) -> String {
    let seconds = window_ms / 1e3;
    let minutes = window_ms / (1e3 * 60.0);
    let hours = window_ms / (1e3 * 60.0 * 60.0);
    let days = window_ms / (1e3 * 60.0 * 60.0 * 24.0);
    let duration = if seconds < 60.0 {
        format!("{}sec", number_to_string(seconds))
    } else if minutes < 60.0 {
        format!("{}min", number_to_string(minutes))
    } else if hours < 24.0 {
        format!(
            "{}hr{}",
            number_to_string(hours),
            if hours > 1.0 { "s" } else { "" }
        )
    } else {
        format!(
            "{}day{}",
            number_to_string(days),
            if days > 1.0 { "s" } else { "" }
        )
    };
    format!("{}-in-{duration}", number_to_string(limit))
}

/// `res.status(statusCode).send(message)` as Express 5 answers it, less the app's ETag.
pub(super) fn rejection(options: &RateLimitOptions) -> Rejection {
    let (content_type, body): (Option<&'static str>, Bytes) = match &options.message {
        Message::Text(text) => (
            Some("text/html; charset=utf-8"),
            Bytes::copy_from_slice(text.as_bytes()),
        ),
        Message::Json(json) => (
            Some("application/json; charset=utf-8"),
            Bytes::copy_from_slice(json.as_bytes()),
        ),
        Message::Bytes(bytes) => (
            Some("application/octet-stream"),
            Bytes::copy_from_slice(bytes),
        ),
        Message::Empty => (None, Bytes::new()),
    };
    let status = options.status_code;
    let etag_source = body.clone();
    let mut body_headers = Vec::with_capacity(2);
    let body = if status == 204 || status == 304 {
        Bytes::new()
    } else {
        if let Some(t) = content_type {
            body_headers.push(Header::fixed("Content-Type", t));
        }
        if status == 205 {
            body_headers.push(Header::fixed("Content-Length", "0"));
            Bytes::new()
        } else {
            body_headers.push(Header::ascii("Content-Length", body.len().to_string()));
            body
        }
    };
    Rejection {
        status,
        body_headers: body_headers.into(),
        body,
        etag_source,
    }
}
