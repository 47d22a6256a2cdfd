//! A response header as the JS middleware would set it.

use http::header::{HeaderName, HeaderValue};

/// One header to set on the response, with the name's case as the npm package writes it
/// (`Content-Security-Policy`), which Node puts on the wire as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    /// The name exactly as the package passes it to `setHeader`.
    pub cased_name: &'static str,
    /// Whether `cased_name` is Title-Case ([`is_title_case`]): worked out once with the header,
    /// not each time a response carrying it is written.
    pub title_case: bool,
    pub value: HeaderValue,
}

/// Whether a name is Title-Case: upper case at the start and after each `-`, lower case
/// elsewhere (`Content-Type`, not `ETag` or `x-custom`), the spelling HTTP writers default to.
pub const fn is_title_case(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut after_dash = true;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let expected = if after_dash {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        };
        if c != expected {
            return false;
        }
        after_dash = c == b'-';
        i += 1;
    }
    true
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

/// A name a stage sets per request, with its spelling, all worked out at compile time: a header
/// of it costs no lookup in [`NAMES`] and no scan of the spelling.
pub(crate) struct KnownName {
    name: HeaderName,
    cased: &'static str,
    title_case: bool,
}

impl KnownName {
    /// `lower` must be `cased` in lower case (checked in the tests).
    const fn new(cased: &'static str, lower: &'static str) -> KnownName {
        KnownName {
            name: HeaderName::from_static(lower),
            cased,
            title_case: is_title_case(cased),
        }
    }
}

/// The names set per request.
pub(crate) mod name {
    use super::KnownName;

    pub(crate) const DATE: KnownName = KnownName::new("Date", "date");
    pub(crate) const RATELIMIT: KnownName = KnownName::new("RateLimit", "ratelimit");
    pub(crate) const RATELIMIT_LIMIT: KnownName =
        KnownName::new("RateLimit-Limit", "ratelimit-limit");
    pub(crate) const RATELIMIT_POLICY: KnownName =
        KnownName::new("RateLimit-Policy", "ratelimit-policy");
    pub(crate) const RATELIMIT_REMAINING: KnownName =
        KnownName::new("RateLimit-Remaining", "ratelimit-remaining");
    pub(crate) const RATELIMIT_RESET: KnownName =
        KnownName::new("RateLimit-Reset", "ratelimit-reset");
    pub(crate) const RETRY_AFTER: KnownName = KnownName::new("Retry-After", "retry-after");
    pub(crate) const X_RATELIMIT_LIMIT: KnownName =
        KnownName::new("X-RateLimit-Limit", "x-ratelimit-limit");
    pub(crate) const X_RATELIMIT_REMAINING: KnownName =
        KnownName::new("X-RateLimit-Remaining", "x-ratelimit-remaining");
    pub(crate) const X_RATELIMIT_RESET: KnownName =
        KnownName::new("X-RateLimit-Reset", "x-ratelimit-reset");

    /// Every known name, for the test that each is spelled as `NAMES` spells it.
    #[cfg(test)]
    pub(crate) const ALL: [KnownName; 10] = [
        DATE,
        RATELIMIT,
        RATELIMIT_LIMIT,
        RATELIMIT_POLICY,
        RATELIMIT_REMAINING,
        RATELIMIT_RESET,
        RETRY_AFTER,
        X_RATELIMIT_LIMIT,
        X_RATELIMIT_REMAINING,
        X_RATELIMIT_RESET,
    ];
}

impl Header {
    /// A header of a name known at compile time (see [`name`]).
    pub(crate) fn named(known: KnownName, value: HeaderValue) -> Self {
        let KnownName {
            name,
            cased,
            title_case,
        } = known;
        Self {
            name,
            cased_name: cased,
            title_case,
            value,
        }
    }

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
            title_case: is_title_case(cased_name),
            value,
        }
    }

    /// A header made at compile time: `lower` is `cased_name` in lower case.
    pub(crate) const fn constant(
        cased_name: &'static str,
        lower: &'static str,
        value: &'static str,
    ) -> Self {
        Self {
            name: HeaderName::from_static(lower),
            cased_name,
            title_case: is_title_case(cased_name),
            value: HeaderValue::from_static(value),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_spelled_and_cased_as_the_table_says() {
        for known in name::ALL {
            let built = Header::new(known.cased, HeaderValue::from_static(""));
            assert_eq!(known.name, built.name, "{}", known.cased);
            assert_eq!(known.title_case, built.title_case, "{}", known.cased);
        }
        assert!(is_title_case("Content-Type") && is_title_case("X-1-Y") && is_title_case(""));
        assert!(!is_title_case("ETag") && !is_title_case("RateLimit") && !is_title_case("x-a"));
    }
}
