//! Response header names in the case the app wrote them, as Node sends them (`ETag`, `x-custom`,
//! `WWW-Authenticate`), where a name would otherwise go out in Title-Case (`Etag`, `X-Custom`,
//! `Www-Authenticate`).
//!
//! hyper writes every name in lower case (a `HeaderName` is lower case); the response writer puts
//! each in Title-Case, as Express and most middleware spell them. A response whose app spelled
//! some names otherwise carries those spellings to the writer in one more header line,
//! [`SPELLINGS`], which the writer reads and removes (see `wire/names.rs`). hyper's own case map
//! would do the same at the price of a hash lookup per header line, a map cloned onto every
//! response and a name clone per line.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
// What the writer's Title-Case produces from the lower-case name: upper case at the start and
// after each `-`, lower case elsewhere.
use xsys_security::is_title_case;

/// The header line that carries a response's spellings to the response writer, never sent. The
/// engine appends it after the app's headers, so when an app sets a header of this name too, the
/// engine's line is the last of that name (and it is added even without spellings then).
pub(crate) const SPELLINGS: HeaderName = HeaderName::from_static(SPELLINGS_NAME);
pub(crate) const SPELLINGS_NAME: &str = "xypriss-spellings";

/// Names, each followed by a space, whose case Title-Case would change; in the order they are
/// sent. The writer gives each header line the first spelling of its name not used yet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaseKey(Vec<u8>);

impl CaseKey {
    /// Room for `bytes` of noted names before growing.
    pub fn with_capacity(bytes: usize) -> Self {
        CaseKey(Vec::with_capacity(bytes))
    }

    /// Remembers `name` if Title-Case would not write it as given.
    pub fn note(&mut self, name: &str) {
        self.note_known(name, is_title_case(name));
    }

    /// [`note`](Self::note) for a name whose Title-Case-ness is known already.
    pub fn note_known(&mut self, name: &str, title_case: bool) {
        if !title_case {
            self.0.extend_from_slice(name.as_bytes());
            self.0.push(b' ');
        }
    }

    /// The first noted spelling of `lower` (a lower-case name), if any.
    pub fn spelling(&self, lower: &str) -> Option<&str> {
        self.0
            .split(|&b| b == b' ')
            .find(|name| name.eq_ignore_ascii_case(lower.as_bytes()))
            .and_then(|name| std::str::from_utf8(name).ok())
    }

    /// Adds the names `other` noted, after these.
    pub fn extend(&mut self, other: &CaseKey) {
        self.0.extend_from_slice(&other.0);
    }

    /// The [`SPELLINGS`] line for a response with `headers`: `None` when nothing needs it.
    pub fn marker(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        self.needs_line(headers)
            .then(|| spellings_line(self.0.clone()))
    }

    /// Appends the [`SPELLINGS`] line `headers` need, if any.
    pub fn mark(self, headers: &mut HeaderMap) {
        if self.needs_line(headers) {
            headers.append(SPELLINGS, spellings_line(self.0));
        }
    }

    /// Something to spell, or an app's header of the line's name, which must stay the app's.
    fn needs_line(&self, headers: &HeaderMap) -> bool {
        !self.0.is_empty() || headers.contains_key(&SPELLINGS)
    }
}

/// Names are tokens, which a header value may hold; a name that is not one is refused here and
/// goes out in Title-Case: a spelling, never a failure.
fn spellings_line(names: Vec<u8>) -> HeaderValue {
    HeaderValue::from_maybe_shared(Bytes::from(names))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_is_recognised() {
        for name in [
            "Content-Type",
            "X-Powered-By",
            "Date",
            "A",
            "Keep-Alive",
            "X-1-Y",
        ] {
            assert!(is_title_case(name), "{name}");
        }
        for name in [
            "ETag",
            "content-type",
            "X-XSS-Protection",
            "WWW-Authenticate",
            "x",
            "X-lower",
        ] {
            assert!(!is_title_case(name), "{name}");
        }
    }

    #[test]
    fn only_names_title_case_would_change_are_noted() {
        let mut key = CaseKey::default();
        key.note("Content-Type");
        key.note("ETag");
        key.note("x-a");
        key.note("x-a");
        assert_eq!(key.0, b"ETag x-a x-a ");
        assert_eq!(key.spelling("x-a"), Some("x-a"));
        assert_eq!(key.spelling("content-type"), None);
    }

    #[test]
    fn the_spellings_line_is_added_only_when_needed() {
        let mut headers = HeaderMap::new();
        CaseKey::default().mark(&mut headers);
        assert!(headers.is_empty(), "nothing to spell");

        let mut key = CaseKey::default();
        key.note("ETag");
        key.note("x-a");
        key.mark(&mut headers);
        assert_eq!(headers[&SPELLINGS], "ETag x-a ");

        // An app's own header of that name is followed by the engine's line, spellings or not.
        let mut headers = HeaderMap::new();
        headers.insert(SPELLINGS, HeaderValue::from_static("the app's"));
        CaseKey::default().mark(&mut headers);
        let lines: Vec<_> = headers.get_all(&SPELLINGS).iter().collect();
        assert_eq!(lines, ["the app's", ""]);
    }
}
