//! A response header as the JS middleware would set it.

use http::header::{HeaderName, HeaderValue};

/// One header to set on the response, with the name's case as the npm package writes it
/// (`Content-Security-Policy`), which Node puts on the wire as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    /// The name exactly as the package passes it to `setHeader`.
    pub cased_name: &'static str,
    pub value: HeaderValue,
}

impl Header {
    pub(crate) fn new(cased_name: &'static str, value: HeaderValue) -> Self {
        Self {
            name: HeaderName::from_bytes(cased_name.as_bytes())
                .unwrap_or_else(|_| HeaderName::from_static("x-invalid")),
            cased_name,
            value,
        }
    }

    /// A header whose value is a constant (always valid ASCII).
    pub(crate) fn fixed(cased_name: &'static str, value: &'static str) -> Self {
        Self::new(cased_name, HeaderValue::from_static(value))
    }

    /// A header from a computed value that is ASCII by construction (numbers, dates, base64).
    pub(crate) fn ascii(cased_name: &'static str, value: String) -> Self {
        let value = HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""));
        Self::new(cased_name, value)
    }
}
