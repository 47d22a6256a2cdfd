//! A body parser at the top of the app (`express.json`, `urlencoded`, `raw`, `text`, which are
//! body-parser 2): the engine decides whether it will refuse the request's body for its length
//! before reading it, so the body is never read.
//!
//! body-parser takes a request that has a body and whose `Content-Type` type-is matches against
//! the parser's `type`. With no `Content-Encoding` (or `identity`) it hands raw-body the declared
//! `Content-Length`, and raw-body answers 413 at once when it exceeds the limit; body-parser then
//! reads the whole body only to drop it. Such a request reaches JS with a body that ends at once:
//! the parser still runs there and makes the 413 (and the app's error handlers their answer),
//! and the connection closes after the response with the unread bytes. Any other request (a
//! compressed body, counted as it inflates; a chunked one, counted as it comes) is read as before.

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::HeaderMap;

use crate::wire::trim_ows;

/// One body parser's limit and the media types it parses.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyLimit {
    /// body-parser's `limit` as `bytes.parse` made it (a number, not always a whole one).
    limit: f64,
    /// Each entry of the parser's `type` as type-is normalizes it (`''` for one that never
    /// matches); empty for `type: []`, which takes any valid media type.
    types: Vec<String>,
}

impl BodyLimit {
    /// `types`: the entries of the parser's `type` option already passed through type-is's
    /// `normalize` (in JS, where `mime.lookup` resolves extensions), `false` given as `''`.
    pub fn new(limit: f64, types: Vec<String>) -> BodyLimit {
        BodyLimit { limit, types }
    }

    /// Whether the parser reads this request's body at all: its `Content-Type` is one of the
    /// parser's types as type-is decides it (the caller knows the request has a body).
    pub(crate) fn parses(&self, headers: &HeaderMap) -> bool {
        let mut lower = [0u8; MAX_MEDIA_TYPE];
        let Some(value) = headers.get(CONTENT_TYPE) else {
            return false;
        };
        let Some(actual) = media_type(value.as_bytes(), &mut lower) else {
            return false;
        };
        self.types.is_empty() || self.types.iter().any(|t| mime_match(t, actual))
    }

    /// Whether the parser, taking this request, refuses it for its declared `length` before
    /// reading a byte: raw-body compares the `Content-Length` with the limit only when the
    /// body is read as sent.
    pub(crate) fn refuses(&self, headers: &HeaderMap, length: u64) -> bool {
        as_sent(headers) && length as f64 > self.limit
    }
}

/// body-parser reads the body as sent when `Content-Encoding` is absent, empty or `identity` (any
/// case). Repeated lines reach JS joined with `, `, which is none of those.
fn as_sent(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_ENCODING).iter();
    match (values.next(), values.next()) {
        (None, _) => true,
        (Some(one), None) => one.is_empty() || one.as_bytes().eq_ignore_ascii_case(b"identity"),
        (Some(_), Some(_)) => false,
    }
}

/// The longest media type media-typer accepts: 127 bytes, `/`, 127 bytes.
const MAX_MEDIA_TYPE: usize = 255;

/// type-is's `normalizeType`: the media type of a `Content-Type` value (content-type 2's parse
/// without parameters: what precedes the first `;`, without surrounding spaces and tabs, lower
/// case), when media-typer's `test` accepts it. Lower-cased into `lower` (no allocation per
/// request).
fn media_type<'a>(value: &[u8], lower: &'a mut [u8; MAX_MEDIA_TYPE]) -> Option<&'a str> {
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    let text = trim_ows(&value[..end]);
    if text.len() > MAX_MEDIA_TYPE {
        return None;
    }
    let lower = &mut lower[..text.len()];
    for (to, from) in lower.iter_mut().zip(text) {
        *to = from.to_ascii_lowercase();
    }
    // a byte past 0x7f fails the test anyway: only ASCII passes as a str
    let lower = std::str::from_utf8(lower).ok()?;
    media_typer_test(lower).then_some(lower)
}

/// media-typer 1's `test` on a lower-case type, whose surrounding spaces content-type removed:
/// `[a-z0-9][a-z0-9!#$&^_-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}`.
fn media_typer_test(text: &str) -> bool {
    let Some((kind, subtype)) = text.split_once('/') else {
        return false;
    };
    let name = |part: &str, extra: &[u8]| {
        let bytes = part.as_bytes();
        (1..=127).contains(&bytes.len())
            && bytes[0].is_ascii_alphanumeric()
            && bytes[1..].iter().all(|&b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b"!#$&^_-".contains(&b)
                    || extra.contains(&b)
            })
    };
    name(kind, b"") && name(subtype, b".+")
}

/// type-is's `mimeMatch(expected, actual)`: `*` for the type or subtype, `*+suffix` for a
/// structured-syntax suffix, else the same strings (an upper-case `type` option never matches).
fn mime_match(expected: &str, actual: &str) -> bool {
    let (Some((actual_type, actual_sub)), Some((expected_type, expected_sub))) =
        (split_in_two(actual), split_in_two(expected))
    else {
        return false;
    };
    if expected_type != "*" && expected_type != actual_type {
        return false;
    }
    if let Some(suffix) = expected_sub.strip_prefix("*+") {
        // `expected.slice(1) === actual.slice(1 - expected.length)`: the actual subtype ends with
        // `+suffix` (or is it, the `+` included). Only ASCII can equal the actual subtype, whose
        // length in UTF-16 units is its length in bytes.
        let tail = &expected_sub[1..];
        return suffix.is_ascii()
            && expected_sub.len() <= actual_sub.len() + 1
            && actual_sub.ends_with(tail);
    }
    expected_sub == "*" || expected_sub == actual_sub
}

/// `text.split('/')` when it has exactly two parts.
fn split_in_two(text: &str) -> Option<(&str, &str)> {
    let (first, second) = text.split_once('/')?;
    (!second.contains('/')).then_some((first, second))
}

#[cfg(test)]
mod tests {
    use http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_bytes(value).expect("value"),
            );
        }
        map
    }

    fn parser(limit: f64, types: &[&str]) -> BodyLimit {
        BodyLimit::new(limit, types.iter().map(|t| (*t).to_owned()).collect())
    }

    fn typed(value: &[u8]) -> HeaderMap {
        headers(&[("content-type", value)])
    }

    fn media_type(value: &[u8]) -> Option<String> {
        super::media_type(value, &mut [0; MAX_MEDIA_TYPE]).map(str::to_owned)
    }

    #[test]
    fn the_media_type_is_read_as_type_is_reads_it() {
        assert_eq!(
            media_type(b"application/json").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            media_type(b" \tApplication/JSON \t; charset=utf-8").as_deref(),
            Some("application/json")
        );
        // parameters are not parsed: a malformed one does not matter
        assert_eq!(media_type(b"text/plain;;;=").as_deref(), Some("text/plain"));
        assert_eq!(
            media_type(b"application/ld+json").as_deref(),
            Some("application/ld+json")
        );
        for refused in [
            &b""[..],
            b"json",
            b"application/",
            b"/json",
            b"application/json/x",
            b"application /json",
            b"+app/json",
            b"application/.json",
            b"appli.cation/json",
            b"app+x/json",
            b"application/j\xe9son",
            b"application/j son",
        ] {
            assert_eq!(media_type(refused), None, "{refused:?}");
        }
        let long = format!("a/{}", "b".repeat(127));
        assert!(media_type(long.as_bytes()).is_some());
        let too_long = format!("a/{}", "b".repeat(128));
        assert_eq!(media_type(too_long.as_bytes()), None);
        let longest = format!("{}/{}", "a".repeat(127), "b".repeat(127));
        assert!(media_type(longest.as_bytes()).is_some());
        assert_eq!(media_type(format!("{longest}b").as_bytes()), None);
    }

    #[test]
    fn types_match_as_type_is_matches_them() {
        assert!(mime_match("application/json", "application/json"));
        assert!(!mime_match("application/json", "application/jsonx"));
        assert!(!mime_match("Application/json", "application/json"));
        assert!(mime_match("*/*", "text/plain"));
        assert!(mime_match("text/*", "text/html"));
        assert!(!mime_match("text/*", "application/json"));
        assert!(mime_match("*/json", "application/json"));
        assert!(mime_match("*/*+json", "application/ld+json"));
        assert!(mime_match("application/*+json", "application/vnd.api+json"));
        assert!(!mime_match("text/*+json", "application/ld+json"));
        assert!(!mime_match("*/*+json", "application/json"));
        // the `+` itself may be the whole suffix's start: `*+json` matches `+json`
        assert!(mime_match("*/*+json", "application/+json"));
        assert!(!mime_match("*/*+json", "application/xjson"));
        assert!(!mime_match("", "application/json"));
        assert!(!mime_match("application", "application/json"));
        assert!(!mime_match("a/b/c", "a/b"));
        assert!(!mime_match("*/*+jsön", "application/ld+json"));
    }

    /// Every type option against every Content-Type of the fixture recorded from type-is.
    #[test]
    fn a_parser_takes_what_type_is_takes() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/type-is.json")).expect("fixture");
        let latin1 = |text: &str| -> Vec<u8> { text.chars().map(|c| c as u32 as u8).collect() };
        let content_types: Vec<Vec<u8>> = fixture["contentTypes"]
            .as_array()
            .expect("content types")
            .iter()
            .map(|ct| latin1(ct.as_str().expect("string")))
            .collect();
        let cases = fixture["cases"].as_array().expect("cases");
        assert!(cases.len() > 10);
        for case in cases {
            let types = case["normalized"]
                .as_array()
                .expect("normalized")
                .iter()
                .map(|t| t.as_str().expect("string").to_owned())
                .collect();
            let parser = BodyLimit::new(0.0, types);
            let takes = case["takes"].as_str().expect("takes").as_bytes();
            assert_eq!(takes.len(), content_types.len());
            for (ct, expected) in content_types.iter().zip(takes) {
                assert_eq!(
                    parser.parses(&typed(ct)),
                    *expected == b'1',
                    "type {} with Content-Type {:?}",
                    case["type"],
                    String::from_utf8_lossy(ct)
                );
            }
        }
    }

    #[test]
    fn a_parser_takes_the_types_it_is_given() {
        let json = parser(100.0, &["application/json"]);
        assert!(json.parses(&typed(b"application/json; charset=utf-8")));
        assert!(json.parses(&typed(b"APPLICATION/JSON")));
        assert!(!json.parses(&typed(b"text/plain")));
        assert!(!json.parses(&typed(b"")));
        assert!(!json.parses(&HeaderMap::new()));
        let many = parser(100.0, &["", "text/*", "*/*+xml"]);
        assert!(many.parses(&typed(b"text/csv")));
        assert!(many.parses(&typed(b"image/svg+xml")));
        assert!(!many.parses(&typed(b"application/json")));
        // `type: []`: any valid media type, and only those
        let any = parser(100.0, &[]);
        assert!(any.parses(&typed(b"x/y")));
        assert!(!any.parses(&typed(b"nonsense")));
        // `type: [false]` (a type mime.lookup does not know): nothing
        assert!(!parser(100.0, &[""]).parses(&typed(b"application/json")));
    }

    #[test]
    fn the_limit_is_compared_as_raw_body_compares_it() {
        let json = parser(100.0, &["application/json"]);
        let plain = typed(b"application/json");
        assert!(!json.refuses(&plain, 99));
        assert!(!json.refuses(&plain, 100));
        assert!(json.refuses(&plain, 101));
        // `bytes` keeps a number as given: 1.5 bytes allows 1
        let fractional = parser(1.5, &["application/json"]);
        assert!(!fractional.refuses(&plain, 1));
        assert!(fractional.refuses(&plain, 2));
        assert!(parser(-1.0, &["application/json"]).refuses(&plain, 1));
        assert!(!parser(f64::INFINITY, &["application/json"]).refuses(&plain, u64::MAX));
        assert!(parser(0.0, &["application/json"]).refuses(&plain, 1 << 40));
    }

    /// The prelude's decision over several parsers, mounted where they may be, after a stage.
    #[test]
    fn the_first_parser_mounted_there_that_takes_the_type_decides() {
        use std::sync::Arc;

        use http::Method;

        use super::super::{HeaderList, Prelude, PreludeOptions, Ran, Stage, StageKind, StagePath};

        let stage = |limit, types: &[&str], path: StagePath| Stage {
            kind: StageKind::BodyLimit(Arc::new(parser(limit, types))),
            path,
        };
        let parsers = || {
            vec![
                stage(10.0, &["application/json"], StagePath::Path("/api".into())),
                stage(100.0, &["application/json"], StagePath::Everywhere),
                stage(5.0, &["text/plain"], StagePath::Everywhere),
            ]
        };
        let start = || HeaderList::from_block("X-Powered-By:Express\n").expect("block");
        let alone = Prelude::new(1, parsers(), PreludeOptions::default()).expect("prelude");
        let refused = |path: &str, ct: &[u8], declared: Option<u64>| {
            let ran = alone.run(
                &Method::POST,
                &typed(ct),
                path,
                path,
                None,
                declared,
                start,
                0,
            );
            match ran {
                Ran::NoStage { refuse_body } => refuse_body,
                _ => panic!("body parsers alone carry nothing to JS"),
            }
        };
        assert!(refused("/api/x", b"application/json", Some(11)));
        assert!(!refused("/api/x", b"application/json", Some(10)));
        assert!(!refused("/other", b"application/json", Some(11)));
        assert!(refused("/other", b"application/json", Some(101)));
        assert!(refused("/api", b"text/plain", Some(6)));
        assert!(!refused("/api", b"text/plain", Some(5)));
        assert!(!refused("/api", b"image/png", Some(1 << 30)));
        // chunked (no declared length), or no body
        assert!(!refused("/api", b"application/json", None));
        assert!(!refused("/api", b"application/json", Some(0)));

        // after helmet, the decision travels with what the stages carry
        let helmet = xsys_security::helmet::Helmet::from_option_value(
            &xsys_security::OptionValue::Undefined,
        )
        .expect("helmet");
        let mut stages = vec![Stage {
            kind: StageKind::Helmet(Arc::new(helmet)),
            path: StagePath::Everywhere,
        }];
        stages.extend(parsers());
        let after = Prelude::new(2, stages, PreludeOptions::default()).expect("prelude");
        let carried = |declared| {
            let headers = typed(b"application/json");
            match after.run(
                &Method::POST,
                &headers,
                "/api",
                "/api",
                None,
                declared,
                start,
                0,
            ) {
                Ran::Continue(carried) => (carried.refuse_body, carried.ran_all()),
                _ => panic!("helmet runs"),
            }
        };
        assert_eq!(carried(Some(11)), (true, true));
        assert_eq!(carried(Some(10)), (false, true));
    }

    #[test]
    fn an_encoded_body_is_counted_as_it_inflates_not_refused() {
        let json = parser(10.0, &["application/json"]);
        let with = |encoding: &[&[u8]]| {
            let mut map = typed(b"application/json");
            for value in encoding {
                map.append(
                    CONTENT_ENCODING,
                    HeaderValue::from_bytes(value).expect("value"),
                );
            }
            json.refuses(&map, 11)
        };
        assert!(with(&[]));
        assert!(with(&[b"identity"]));
        assert!(with(&[b"IDENTITY"]));
        assert!(with(&[b""]));
        assert!(!with(&[b"gzip"]));
        assert!(!with(&[b"identity", b"identity"]));
    }
}
