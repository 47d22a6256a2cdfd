//! range-parser 1.3 with `{ combine: true }`, as send calls it, in JavaScript's arithmetic
//! (doubles: a position past 2^53 rounds exactly as `Number('...')` does).

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ranges {
    /// -2: not a range header range-parser understands; send serves the whole file.
    Malformed,
    /// -1: no range overlaps the file; send answers 416.
    Unsatisfiable,
    /// The ranges, overlapping and adjacent ones merged, in the order of their first mention.
    Satisfiable(Vec<(u64, u64)>),
}

/// `parseRange(size, header, { combine: true })`.
pub(crate) fn parse(size: u64, header: &[u8]) -> Ranges {
    let Some(eq) = header.iter().position(|&b| b == b'=') else {
        return Ranges::Malformed;
    };
    let size = size as f64;
    let mut ranges: Vec<(f64, f64)> = Vec::new();
    for spec in header[eq + 1..].split(|&b| b == b',') {
        let Some(dash) = spec.iter().position(|&b| b == b'-') else {
            return Ranges::Malformed;
        };
        let start_text = js_trim(&spec[..dash]);
        let end_text = js_trim(&spec[dash + 1..]);
        let mut start = position(start_text);
        let mut end = position(end_text);
        if start_text.is_empty() {
            start = size - end;
            end = size - 1.0;
        } else if end_text.is_empty() {
            end = size - 1.0;
        }
        if end > size - 1.0 {
            end = size - 1.0;
        }
        if start.is_nan() || end.is_nan() {
            return Ranges::Malformed;
        }
        if start > end || start < 0.0 {
            continue;
        }
        ranges.push((start, end));
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    // Accepted ranges lie in 0..=size-1, so they are exact integers.
    Ranges::Satisfiable(
        combine(ranges)
            .into_iter()
            .map(|(s, e)| (s as u64, e as u64))
            .collect(),
    )
}

/// `/^\d+$/.test(s) ? Number(s) : NaN`.
fn position(text: &[u8]) -> f64 {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return f64::NAN;
    }
    // ASCII digits: valid UTF-8, and a correctly rounded parse as Number() does.
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `String.prototype.trim` over a latin1 string: the white space and line terminators below U+0100.
fn js_trim(text: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b'\t'..=b'\r' | b' ' | 0xa0);
    let start = text.iter().position(|b| !is_space(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

/// range-parser's `combineRanges`: merge by start, then restore the order of first mention.
fn combine(ranges: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut ordered: Vec<(f64, f64, usize)> = ranges
        .into_iter()
        .enumerate()
        .map(|(index, (start, end))| (start, end, index))
        .collect();
    // A stable sort, as V8's Array.prototype.sort.
    ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut j = 0;
    for i in 1..ordered.len() {
        let range = ordered[i];
        let current = &mut ordered[j];
        if range.0 > current.1 + 1.0 {
            j += 1;
            ordered[j] = range;
        } else if range.1 > current.1 {
            current.1 = range.1;
            current.2 = current.2.min(range.2);
        }
    }
    ordered.truncate(j + 1);
    ordered.sort_by_key(|r| r.2);
    ordered.into_iter().map(|(s, e, _)| (s, e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[(u64, u64)]) -> Ranges {
        Ranges::Satisfiable(list.to_vec())
    }

    #[test]
    fn results_are_range_parser_s() {
        // `require('range-parser')(size, header, { combine: true })`.
        let cases: &[(u64, &str, Ranges)] = &[
            (1000, "bytes=0-499", ranges(&[(0, 499)])),
            (1000, "bytes=500-", ranges(&[(500, 999)])),
            (1000, "bytes=-200", ranges(&[(800, 999)])),
            (1000, "bytes=-2000", Ranges::Unsatisfiable),
            (1000, "bytes=0-1999", ranges(&[(0, 999)])),
            (1000, "bytes=1000-", Ranges::Unsatisfiable),
            (1000, "bytes=500-400", Ranges::Unsatisfiable),
            (1000, "bytes=0-1,2-3", ranges(&[(0, 3)])),
            (1000, "bytes=0-1,3-4", ranges(&[(0, 1), (3, 4)])),
            (1000, "bytes=10-20,0-5,15-30", ranges(&[(10, 30), (0, 5)])),
            (1000, "bytes=5-6,0-1,1-4", ranges(&[(0, 6)])),
            (1000, "bytes=5-6,0-1,1-3", ranges(&[(5, 6), (0, 3)])),
            (1000, "bytes= 1 - 2 ", ranges(&[(1, 2)])),
            (1000, "bytes=1-2,x", Ranges::Malformed),
            (1000, "bytes=a-2", Ranges::Malformed),
            (1000, "bytes=-", Ranges::Malformed),
            (1000, "bytes=1-2,", Ranges::Malformed),
            (1000, "bytes=1-2,-", Ranges::Malformed),
            (1000, "bytes", Ranges::Malformed),
            (1000, "bytes=+1-2", Ranges::Malformed),
            (1000, "items=0-1", ranges(&[(0, 1)])),
            (1000, "bytes=2000-3000,0-0", ranges(&[(0, 0)])),
            (0, "bytes=0-", Ranges::Unsatisfiable),
            (0, "bytes=-1", Ranges::Unsatisfiable),
            (1, "bytes=-1", ranges(&[(0, 0)])),
            (1000, "bytes=99999999999999999999-", Ranges::Unsatisfiable),
            (1000, "bytes=0-99999999999999999999", ranges(&[(0, 999)])),
            (1000, "bytes=-99999999999999999999", Ranges::Unsatisfiable),
        ];
        for (size, header, expected) in cases {
            assert_eq!(
                &parse(*size, header.as_bytes()),
                expected,
                "{size} {header}"
            );
        }
    }

    #[test]
    fn trimming_is_javascript_s() {
        assert_eq!(parse(10, b"bytes=\t1-2\xa0"), ranges(&[(1, 2)]));
        assert_eq!(parse(10, b"bytes=\x851-2"), Ranges::Malformed);
    }
}
