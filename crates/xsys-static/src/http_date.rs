//! Dates as JavaScript writes and reads them: `Date.prototype.toUTCString` for Last-Modified,
//! and the part of `Date.parse` this crate can answer with certainty.

/// What `Date.parse` gives for a request header's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParsedDate {
    /// Milliseconds since the epoch.
    At(i64),
    /// The value is not an IMF-fixdate this crate reads: V8's parser accepts far more (other
    /// layouts, time zones, local time, out-of-range days that roll over), so only JS can say.
    Unknown,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MS_PER_DAY: i64 = 86_400_000;

/// `new Date(ms).toUTCString()`, e.g. `Wed, 01 Jan 2020 00:00:00 GMT`.
pub(crate) fn to_utc_string(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[(days + 4).rem_euclid(7) as usize];
    let year = if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    };
    format!(
        "{weekday}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        MONTHS[(month - 1) as usize],
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// `Date.parse(value)` for an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) whose fields are
/// all in range and whose year is 1900 or later; anything else is [`ParsedDate::Unknown`].
pub(crate) fn parse(value: &[u8]) -> ParsedDate {
    parse_imf_fixdate(value).map_or(ParsedDate::Unknown, ParsedDate::At)
}

fn parse_imf_fixdate(value: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(value).ok()?;
    if s.len() != 29 || !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    // V8 ignores the day name; only the seven names are taken here, so nothing odd slips by.
    if !DAYS.contains(&&s[0..3])
        || &b[3..5] != b", "
        || b[7] != b' '
        || b[11] != b' '
        || b[16] != b' '
        || b[19] != b':'
        || b[22] != b':'
        || &s[25..] != " GMT"
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = &s[range];
        if digits.bytes().all(|c| c.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let day = number(5..7)?;
    let month = MONTHS.iter().position(|m| *m == &s[8..11])? as i64 + 1;
    let year = number(12..16)?;
    let (hour, minute, second) = (number(17..19)?, number(20..22)?, number(23..25)?);
    // V8 maps years below 100 to 19xx/20xx and rolls days over; stay where it cannot differ.
    if year < 1900
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_strings_are_javascript_s() {
        // Values printed by `new Date(ms).toUTCString()`.
        let cases: &[(i64, &str)] = &[
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (951_782_400_000, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_577_836_800_999, "Wed, 01 Jan 2020 00:00:00 GMT"),
            (-62_167_219_200_000, "Sat, 01 Jan 0000 00:00:00 GMT"),
            (-62_198_755_200_000, "Fri, 01 Jan -0001 00:00:00 GMT"),
            (253_402_300_800_000, "Sat, 01 Jan 10000 00:00:00 GMT"),
            (784_111_777_000, "Sun, 06 Nov 1994 08:49:37 GMT"),
        ];
        for &(ms, text) in cases {
            assert_eq!(to_utc_string(ms), text, "{ms}");
        }
    }

    #[test]
    fn imf_fixdates_parse_as_date_parse_does() {
        // Values printed by `Date.parse(text)`.
        let cases: &[(&str, i64)] = &[
            ("Wed, 01 Jan 2020 00:00:00 GMT", 1_577_836_800_000),
            // V8 does not check the day name.
            ("Mon, 01 Jan 2020 00:00:00 GMT", 1_577_836_800_000),
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777_000),
            ("Tue, 29 Feb 2000 23:59:59 GMT", 951_868_799_000),
            ("Wed, 01 Jan 9999 23:59:59 GMT", 253_370_851_199_000),
            ("Mon, 01 Jan 1900 00:00:00 GMT", -2_208_988_800_000),
        ];
        for &(text, ms) in cases {
            assert_eq!(parse(text.as_bytes()), ParsedDate::At(ms), "{text}");
        }
    }

    #[test]
    fn anything_v8_might_read_differently_is_left_to_js() {
        // Each of these has a Date.parse value (rolled over, shifted, local time...) or NaN that
        // a strict reader could get wrong; none may be guessed.
        for text in [
            "Wed, 31 Feb 2020 00:00:00 GMT",
            "Wed, 01 Jan 2020 24:00:00 GMT",
            "Wed, 01 Jan 2020 23:59:60 GMT",
            "Wed, 01 Jan 0049 00:00:00 GMT",
            "Xyz, 01 Jan 2020 00:00:00 GMT",
            "wed, 01 jan 2020 00:00:00 gmt",
            "Wed, 1 Jan 2020 00:00:00 GMT",
            "Wed, 01 Jan 2020 00:00:00 GMT+0100",
            "Wed, 01 Jan 2020 00:00:00",
            "Wed, 00 Jan 2020 00:00:00 GMT",
            "2020-01-01",
            "foo 2020",
            "",
            "Wed, 01 Jan 2020 00:00:00 GMT foo",
            "Wed, 01 Jan 2020 00:00:00 UTC",
            "Wed, +1 Jan 2020 00:00:00 GMT",
        ] {
            assert_eq!(parse(text.as_bytes()), ParsedDate::Unknown, "{text}");
        }
        assert_eq!(
            parse(b"Wed, 01 Jan 2020 00:00:00 GM\xff"),
            ParsedDate::Unknown
        );
    }

    #[test]
    fn formatting_and_parsing_round_trip_to_the_second() {
        let mut ms: i64 = -2_208_988_800_000;
        while ms < 253_402_300_799_000 {
            let text = to_utc_string(ms);
            assert_eq!(
                parse(text.as_bytes()),
                ParsedDate::At(ms.div_euclid(1000) * 1000),
                "{text}"
            );
            ms += 86_399_937_123;
        }
    }
}
