//! Conditional requests as send 1 and fresh 2 judge them, over request headers read as Node
//! presents them in `req.headers`.

use std::borrow::Cow;

use http::header::{
    HeaderName, CACHE_CONTROL, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE,
};
use http::HeaderMap;

use crate::http_date::{self, ParsedDate};

/// The date in a request header could only be read by V8's `Date.parse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NeedsDateParse;

/// `req.headers[name]` as a truthy string, or `None` when it is missing or empty (where the
/// packages' `if (header)` is false). Node joins repeated headers with `, `, except those it
/// keeps the first of (among these, If-Modified-Since and If-Unmodified-Since).
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Cow<'a, [u8]>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let keeps_first = name == IF_MODIFIED_SINCE || name == IF_UNMODIFIED_SINCE;
    let value = match values.next() {
        Some(second) if !keeps_first => {
            let mut joined = first.as_bytes().to_vec();
            for value in std::iter::once(second).chain(values) {
                joined.extend_from_slice(b", ");
                joined.extend_from_slice(value.as_bytes());
            }
            Cow::Owned(joined)
        }
        _ => Cow::Borrowed(first.as_bytes()),
    };
    (!value.is_empty()).then_some(value)
}

/// What send knows of the response when it judges conditions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validators<'a> {
    /// The ETag header, when the `etag` option set one.
    pub(crate) etag: Option<&'a [u8]>,
    /// `Date.parse` of the Last-Modified header, when the `lastModified` option set one.
    pub(crate) last_modified: Option<ParsedDate>,
}

/// `Date.parse(a) <= Date.parse(b)`, false when either is NaN (a missing header).
fn not_after(a: Option<ParsedDate>, b: Option<ParsedDate>) -> Result<bool, NeedsDateParse> {
    match (a, b) {
        (Some(ParsedDate::Unknown), _) | (_, Some(ParsedDate::Unknown)) => Err(NeedsDateParse),
        (Some(ParsedDate::At(a)), Some(ParsedDate::At(b))) => Ok(a <= b),
        _ => Ok(false),
    }
}

/// send's `isConditionalGET`.
pub(crate) fn is_conditional(headers: &HeaderMap) -> bool {
    [
        &IF_MATCH,
        &IF_UNMODIFIED_SINCE,
        &IF_NONE_MATCH,
        &IF_MODIFIED_SINCE,
    ]
    .into_iter()
    .any(|name| header(headers, name).is_some())
}

/// send's `isPreconditionFailure`: If-Match, else If-Unmodified-Since.
pub(crate) fn precondition_failed(
    headers: &HeaderMap,
    response: Validators<'_>,
) -> Result<bool, NeedsDateParse> {
    if let Some(wanted) = header(headers, &IF_MATCH) {
        let Some(etag) = response.etag else {
            return Ok(true);
        };
        if wanted.as_ref() == b"*" {
            return Ok(false);
        }
        return Ok(!token_list(&wanted).any(|tag| etag_matches(tag, etag)));
    }
    match header(headers, &IF_UNMODIFIED_SINCE).map(|v| http_date::parse(&v)) {
        None => Ok(false),
        Some(ParsedDate::Unknown) => Err(NeedsDateParse),
        Some(since) => Ok(!not_after(response.last_modified, Some(since))?),
    }
}

/// fresh 2: whether the client's copy is current (304).
pub(crate) fn is_fresh(
    headers: &HeaderMap,
    response: Validators<'_>,
) -> Result<bool, NeedsDateParse> {
    let modified_since = header(headers, &IF_MODIFIED_SINCE);
    let none_match = header(headers, &IF_NONE_MATCH);
    if modified_since.is_none() && none_match.is_none() {
        return Ok(false);
    }
    if header(headers, &CACHE_CONTROL).is_some_and(|v| has_no_cache(&v)) {
        return Ok(false);
    }
    if let Some(none_match) = none_match {
        if none_match.as_ref() == b"*" {
            return Ok(true);
        }
        let Some(etag) = response.etag else {
            return Ok(false);
        };
        return Ok(token_list(&none_match).any(|tag| etag_matches(tag, etag)));
    }
    let since = modified_since.map(|v| http_date::parse(&v));
    if response.last_modified.is_none() {
        return Ok(false);
    }
    not_after(response.last_modified, since)
}

/// send's `isRangeFresh`: If-Range as an entity tag (it holds a `"`) or as a date.
pub(crate) fn range_is_fresh(
    headers: &HeaderMap,
    response: Validators<'_>,
) -> Result<bool, NeedsDateParse> {
    let Some(if_range) = header(headers, &IF_RANGE) else {
        return Ok(true);
    };
    if if_range.contains(&b'"') {
        // A substring test, as send's `ifRange.indexOf(etag) !== -1`.
        return Ok(response.etag.is_some_and(|etag| {
            if_range
                .windows(etag.len().max(1))
                .any(|window| window == etag)
        }));
    }
    not_after(response.last_modified, Some(http_date::parse(&if_range)))
}

/// `match === etag || match === 'W/' + etag || 'W/' + match === etag`.
fn etag_matches(tag: &[u8], etag: &[u8]) -> bool {
    tag == etag || tag.strip_prefix(b"W/") == Some(etag) || etag.strip_prefix(b"W/") == Some(tag)
}

/// send's and fresh's `parseTokenList`: comma-separated, spaces trimmed around each token
/// (spaces inside one stay), empty tokens dropped (fresh keeps them, but an empty token
/// never equals an entity tag).
fn token_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').filter_map(|token| {
        let start = token.iter().position(|&b| b != b' ')?;
        let end = token.iter().rposition(|&b| b != b' ')? + 1;
        Some(&token[start..end])
    })
}

/// fresh's `/(?:^|,)\s*?no-cache\s*?(?:,|$)/` over a latin1 value.
fn has_no_cache(value: &[u8]) -> bool {
    let is_space = |b: u8| matches!(b, b'\t'..=b'\r' | b' ' | 0xa0);
    (0..value.len()).any(|start| {
        if start > 0 && value[start - 1] != b',' {
            return false;
        }
        let rest = &value[start..];
        let skip = rest.iter().take_while(|&&b| is_space(b)).count();
        let Some(after) = rest[skip..].strip_prefix(b"no-cache") else {
            return false;
        };
        let skip = after.iter().take_while(|&&b| is_space(b)).count();
        !matches!(after.get(skip), Some(&b) if b != b',')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ETAG: &[u8] = b"W/\"d-16f5e66e800\"";
    const LAST_MODIFIED: i64 = 1_577_836_800_000; // Wed, 01 Jan 2020 00:00:00 GMT

    fn validators() -> Validators<'static> {
        Validators {
            etag: Some(ETAG),
            last_modified: Some(ParsedDate::At(LAST_MODIFIED)),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn repeated_headers_join_as_node_joins_them() {
        let h = headers(&[
            ("if-none-match", "\"a\""),
            ("if-none-match", "\"b\""),
            ("if-modified-since", "first"),
            ("if-modified-since", "second"),
            ("if-match", ""),
        ]);
        assert_eq!(
            header(&h, &IF_NONE_MATCH).as_deref(),
            Some(&b"\"a\", \"b\""[..])
        );
        assert_eq!(
            header(&h, &IF_MODIFIED_SINCE).as_deref(),
            Some(&b"first"[..])
        );
        assert_eq!(header(&h, &IF_MATCH), None, "empty is falsy");
        assert!(is_conditional(&h));
        assert!(!is_conditional(&headers(&[("if-match", "")])));
    }

    #[test]
    fn if_none_match_is_fresh_s_rule() {
        let fresh = |value: &str| is_fresh(&headers(&[("if-none-match", value)]), validators());
        assert_eq!(fresh("W/\"d-16f5e66e800\""), Ok(true));
        assert_eq!(
            fresh("\"d-16f5e66e800\""),
            Ok(true),
            "strong form of a weak tag"
        );
        assert_eq!(fresh("\"x\", W/\"d-16f5e66e800\""), Ok(true));
        assert_eq!(fresh("\"x\",W/\"d-16f5e66e800\"  "), Ok(true));
        assert_eq!(fresh("*"), Ok(true));
        assert_eq!(fresh(" *"), Ok(false));
        assert_eq!(fresh("\"x\""), Ok(false));
        assert_eq!(fresh("W/\"d-16f5e66e801\""), Ok(false));
        // If-None-Match wins over a date that would say fresh.
        let h = headers(&[
            ("if-none-match", "\"x\""),
            ("if-modified-since", "Wed, 01 Jan 2020 00:00:00 GMT"),
        ]);
        assert_eq!(is_fresh(&h, validators()), Ok(false));
        let no_etag = Validators {
            etag: None,
            ..validators()
        };
        assert_eq!(
            is_fresh(&headers(&[("if-none-match", "\"x\"")]), no_etag),
            Ok(false)
        );
    }

    #[test]
    fn if_modified_since_compares_seconds() {
        let fresh = |value: &str| is_fresh(&headers(&[("if-modified-since", value)]), validators());
        assert_eq!(fresh("Wed, 01 Jan 2020 00:00:00 GMT"), Ok(true));
        assert_eq!(fresh("Wed, 01 Jan 2020 00:00:01 GMT"), Ok(true));
        assert_eq!(fresh("Tue, 31 Dec 2019 23:59:59 GMT"), Ok(false));
        assert_eq!(fresh("2020-01-01"), Err(NeedsDateParse));
        let no_date = Validators {
            last_modified: None,
            ..validators()
        };
        assert_eq!(
            is_fresh(
                &headers(&[("if-modified-since", "Wed, 01 Jan 2020 00:00:00 GMT")]),
                no_date
            ),
            Ok(false),
            "without Last-Modified nothing is fresh by date"
        );
        // ...and without Last-Modified the request's date is never read.
        assert_eq!(
            is_fresh(&headers(&[("if-modified-since", "2020-01-01")]), no_date),
            Ok(false)
        );
    }

    #[test]
    fn cache_control_no_cache_makes_everything_stale() {
        for value in [
            "no-cache",
            "max-age=0, no-cache",
            "no-cache ,x",
            "x,\tno-cache",
            "a,no-cache\t",
        ] {
            let h = headers(&[("if-none-match", "*"), ("cache-control", value)]);
            assert_eq!(is_fresh(&h, validators()), Ok(false), "{value:?}");
        }
        for value in [
            "no-cache=x",
            "xno-cache",
            "no-cachex",
            "No-Cache",
            "max-age=0",
        ] {
            let h = headers(&[("if-none-match", "*"), ("cache-control", value)]);
            assert_eq!(is_fresh(&h, validators()), Ok(true), "{value:?}");
        }
        let mut h = headers(&[("if-none-match", "*")]);
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_bytes(b"x,\xa0no-cache").expect("latin1"),
        );
        assert_eq!(
            is_fresh(&h, validators()),
            Ok(false),
            "NBSP is \\s in latin1"
        );
    }

    #[test]
    fn preconditions_are_send_s() {
        let failed = |pairs: &[(&str, &str)]| precondition_failed(&headers(pairs), validators());
        assert_eq!(failed(&[("if-match", "*")]), Ok(false));
        assert_eq!(failed(&[("if-match", "\"d-16f5e66e800\"")]), Ok(false));
        assert_eq!(
            failed(&[("if-match", "W/\"d-16f5e66e800\", \"x\"")]),
            Ok(false)
        );
        assert_eq!(failed(&[("if-match", "\"x\"")]), Ok(true));
        assert_eq!(
            failed(&[
                ("if-match", "\"x\""),
                ("if-unmodified-since", "Wed, 01 Jan 2020 00:00:00 GMT")
            ]),
            Ok(true),
            "If-Match decides alone"
        );
        assert_eq!(
            failed(&[("if-unmodified-since", "Wed, 01 Jan 2020 00:00:00 GMT")]),
            Ok(false)
        );
        assert_eq!(
            failed(&[("if-unmodified-since", "Tue, 31 Dec 2019 23:59:59 GMT")]),
            Ok(true)
        );
        assert_eq!(
            failed(&[("if-unmodified-since", "yesterday")]),
            Err(NeedsDateParse)
        );
        let bare = Validators {
            etag: None,
            last_modified: None,
        };
        assert_eq!(
            precondition_failed(&headers(&[("if-match", "*")]), bare),
            Ok(true),
            "no ETag: If-Match always fails"
        );
        assert_eq!(
            precondition_failed(
                &headers(&[("if-unmodified-since", "Wed, 01 Jan 2020 00:00:00 GMT")]),
                bare
            ),
            Ok(true),
            "no Last-Modified: If-Unmodified-Since always fails"
        );
    }

    #[test]
    fn if_range_is_a_tag_substring_or_a_date() {
        let fresh = |value: &str| range_is_fresh(&headers(&[("if-range", value)]), validators());
        assert_eq!(range_is_fresh(&HeaderMap::new(), validators()), Ok(true));
        assert_eq!(fresh("W/\"d-16f5e66e800\""), Ok(true));
        assert_eq!(fresh("xxW/\"d-16f5e66e800\"yy"), Ok(true));
        assert_eq!(
            fresh("\"d-16f5e66e800\""),
            Ok(false),
            "no weak/strong folding"
        );
        assert_eq!(fresh("Wed, 01 Jan 2020 00:00:00 GMT"), Ok(true));
        assert_eq!(fresh("Tue, 31 Dec 2019 23:59:59 GMT"), Ok(false));
        assert_eq!(fresh("soon"), Err(NeedsDateParse));
    }
}
