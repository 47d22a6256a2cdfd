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

/// Every name the stages set, with its lower-case form, so that names are static (cloning one
/// copies a pointer instead of counting a reference).
const NAMES: [(&str, &str); 33] = [
    (
        "Access-Control-Allow-Credentials",
        "access-control-allow-credentials",
    ),
    (
        "Access-Control-Allow-Headers",
        "access-control-allow-headers",
    ),
    (
        "Access-Control-Allow-Methods",
        "access-control-allow-methods",
    ),
    ("Access-Control-Allow-Origin", "access-control-allow-origin"),
    (
        "Access-Control-Expose-Headers",
        "access-control-expose-headers",
    ),
    ("Access-Control-Max-Age", "access-control-max-age"),
    ("Content-Length", "content-length"),
    ("Content-Security-Policy", "content-security-policy"),
    (
        "Content-Security-Policy-Report-Only",
        "content-security-policy-report-only",
    ),
    ("Content-Type", "content-type"),
    (
        "Cross-Origin-Embedder-Policy",
        "cross-origin-embedder-policy",
    ),
    ("Cross-Origin-Opener-Policy", "cross-origin-opener-policy"),
    (
        "Cross-Origin-Resource-Policy",
        "cross-origin-resource-policy",
    ),
    ("Date", "date"),
    ("Origin-Agent-Cluster", "origin-agent-cluster"),
    ("RateLimit", "ratelimit"),
    ("RateLimit-Limit", "ratelimit-limit"),
    ("RateLimit-Policy", "ratelimit-policy"),
    ("RateLimit-Remaining", "ratelimit-remaining"),
    ("RateLimit-Reset", "ratelimit-reset"),
    ("Referrer-Policy", "referrer-policy"),
    ("Retry-After", "retry-after"),
    ("Strict-Transport-Security", "strict-transport-security"),
    ("Vary", "vary"),
    ("X-Content-Type-Options", "x-content-type-options"),
    ("X-DNS-Prefetch-Control", "x-dns-prefetch-control"),
    ("X-Download-Options", "x-download-options"),
    ("X-Frame-Options", "x-frame-options"),
    (
        "X-Permitted-Cross-Domain-Policies",
        "x-permitted-cross-domain-policies",
    ),
    ("X-RateLimit-Limit", "x-ratelimit-limit"),
    ("X-RateLimit-Remaining", "x-ratelimit-remaining"),
    ("X-RateLimit-Reset", "x-ratelimit-reset"),
    ("X-XSS-Protection", "x-xss-protection"),
];

impl Header {
    pub(crate) fn new(cased_name: &'static str, value: HeaderValue) -> Self {
        let name = NAMES
            .iter()
            .find(|(cased, _)| *cased == cased_name)
            .map(|(_, lower)| HeaderName::from_static(lower))
            .or_else(|| HeaderName::from_bytes(cased_name.as_bytes()).ok())
            .unwrap_or_else(|| HeaderName::from_static("x-invalid"));
        Self {
            name,
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
