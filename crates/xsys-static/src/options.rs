//! serve-static's options, with send's defaults and its reading of `maxAge`.

use crate::Error;

/// send's ceiling for `maxAge`: one year, in milliseconds.
const MAX_MAX_AGE_MS: f64 = 60.0 * 60.0 * 24.0 * 365.0 * 1000.0;

/// What to do with a path that has a segment starting with a dot (send's `dotfiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dotfiles {
    /// Serve them like any file.
    Allow,
    /// Answer 403.
    Deny,
    /// Pretend they do not exist: 404, which serve-static turns into "next layer" by default.
    #[default]
    Ignore,
}

impl std::str::FromStr for Dotfiles {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        match value {
            "allow" => Ok(Dotfiles::Allow),
            "deny" => Ok(Dotfiles::Deny),
            "ignore" => Ok(Dotfiles::Ignore),
            _ => Err(Error::option(
                "dotfiles option must be \"allow\", \"deny\", or \"ignore\"".to_owned(),
            )),
        }
    }
}

/// `Cache-Control: max-age`, kept in milliseconds as send keeps it (0 to one year).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MaxAge(f64);

impl MaxAge {
    /// A number of milliseconds, as send's `Number(maxAge)`: NaN is 0, the rest is clamped
    /// to 0..=one year.
    pub fn from_millis(ms: f64) -> MaxAge {
        if ms.is_nan() {
            return MaxAge(0.0);
        }
        MaxAge(ms.clamp(0.0, MAX_MAX_AGE_MS))
    }

    /// A string, as send reads one with the `ms` package (`'1d'`, `'2.5 hrs'`, `'500'`);
    /// a string `ms` cannot read is 0.
    pub fn parse(text: &str) -> MaxAge {
        MaxAge::from_millis(ms(text).unwrap_or(f64::NAN))
    }

    pub fn millis(self) -> f64 {
        self.0
    }

    /// The `max-age` directive's value: `Math.floor(maxAge / 1000)`.
    pub fn seconds(self) -> u64 {
        // In range by construction: 0..=31_536_000.
        (self.0 / 1000.0).floor() as u64
    }
}

/// The `ms` package's parse (version 2): a number, optional spaces, an optional unit.
fn ms(text: &str) -> Option<f64> {
    // ms gives up on strings longer than 100 characters; a match is ASCII, so bytes count.
    if text.is_empty() || text.len() > 100 {
        return None;
    }
    let bytes = text.as_bytes();
    // -?(?:\d+)?\.?\d+
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let number_start = i;
    let int_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    i += int_digits;
    if bytes.get(i) == Some(&b'.') {
        let frac_digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if frac_digits == 0 {
            return None;
        }
        i += 1 + frac_digits;
    } else if int_digits == 0 {
        return None;
    }
    // parseFloat of the matched number; Rust wants a digit before the point.
    let number = &text[number_start..i];
    let magnitude: f64 = if int_digits == 0 {
        format!("0{number}").parse().ok()?
    } else {
        number.parse().ok()?
    };
    let value = if number_start == 1 {
        -magnitude
    } else {
        magnitude
    };
    let rest = text[i..].trim_start_matches(' ');
    let unit = rest.to_ascii_lowercase();
    let factor = match unit.as_str() {
        "" | "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" => 1.0,
        "seconds" | "second" | "secs" | "sec" | "s" => 1000.0,
        "minutes" | "minute" | "mins" | "min" | "m" => 60_000.0,
        "hours" | "hour" | "hrs" | "hr" | "h" => 3_600_000.0,
        "days" | "day" | "d" => 86_400_000.0,
        "weeks" | "week" | "w" => 604_800_000.0,
        "years" | "year" | "yrs" | "yr" | "y" => 31_557_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// How much the content cache of small files may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Files up to this size are kept in memory once read; larger ones are streamed each time.
    pub max_file_size: u64,
    /// The bytes all cached files may take together (each entry also counts a fixed overhead).
    pub max_total_bytes: u64,
}

impl CacheLimits {
    /// No caching at all: every response reads its file.
    pub const DISABLED: CacheLimits = CacheLimits {
        max_file_size: 0,
        max_total_bytes: 0,
    };
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            max_file_size: 64 * 1024,
            max_total_bytes: 32 * 1024 * 1024,
        }
    }
}

/// serve-static 2's options (with send 1's), defaults included.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `acceptRanges` (true): answer `Range` requests and say `Accept-Ranges: bytes`.
    pub accept_ranges: bool,
    /// `cacheControl` (true): send `Cache-Control: public, max-age=...`.
    pub cache_control: bool,
    /// `dotfiles` ('ignore').
    pub dotfiles: Dotfiles,
    /// `etag` (true): send's weak ETag from size and modification time.
    pub etag: bool,
    /// `extensions` (none): extensions tried, in order, for a path without one that is missing.
    pub extensions: Vec<String>,
    /// `fallthrough` (true): a miss goes on to the next layer instead of becoming an error.
    pub fallthrough: bool,
    /// `immutable` (false): add `immutable` to `Cache-Control`.
    pub immutable: bool,
    /// `index` (`['index.html']`): files tried for a path ending in `/`; empty is `false`.
    pub index: Vec<String>,
    /// `lastModified` (true): send `Last-Modified`.
    pub last_modified: bool,
    /// `maxAge` / `maxage` (0).
    pub max_age: MaxAge,
    /// `redirect` (true): a directory without its trailing slash is redirected to it.
    pub redirect: bool,
    /// Not a serve-static option: how much of the content the engine keeps in memory.
    pub cache: CacheLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accept_ranges: true,
            cache_control: true,
            dotfiles: Dotfiles::Ignore,
            etag: true,
            extensions: Vec::new(),
            fallthrough: true,
            immutable: false,
            index: vec!["index.html".to_owned()],
            last_modified: true,
            max_age: MaxAge::default(),
            redirect: true,
            cache: CacheLimits::default(),
        }
    }
}

impl Options {
    /// Names send would hand to the file system verbatim must not smuggle a NUL in (Node's
    /// `fs.stat` throws for them, which Express turns into a 500 on every request).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (list, name) in [(&self.index, "index"), (&self.extensions, "extensions")] {
            if list.iter().any(|item| item.contains('\0')) {
                return Err(Error::option(format!(
                    "{name} option must not contain a NUL character"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_reads_what_the_ms_package_reads() {
        // Values printed by `require('ms')(text)`.
        let cases: &[(&str, Option<f64>)] = &[
            ("1d", Some(86_400_000.0)),
            ("100", Some(100.0)),
            ("1.5h", Some(5_400_000.0)),
            (".5s", Some(500.0)),
            ("-.5s", Some(-500.0)),
            ("-1m", Some(-60_000.0)),
            ("2 days", Some(172_800_000.0)),
            ("2   Days", Some(172_800_000.0)),
            ("1 YEAR", Some(31_557_600_000.0)),
            ("3 yrs", Some(94_672_800_000.0)),
            ("1w", Some(604_800_000.0)),
            ("10 msecs", Some(10.0)),
            ("5 secs", Some(5000.0)),
            ("1 hr", Some(3_600_000.0)),
            ("1.", None),
            (".", None),
            ("", None),
            (" 1d", None),
            ("1d ", None),
            ("1\td", None),
            ("1 fortnight", None),
            ("1.2.3", None),
            ("--1", None),
            ("1e3", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(ms(text), expected, "{text:?}");
        }
        assert_eq!(ms(&"1".repeat(101)), None);
        assert!(ms(&"1".repeat(100)).is_some());
    }

    #[test]
    fn max_age_is_clamped_and_floored_as_send_does() {
        assert_eq!(MaxAge::parse("1d").seconds(), 86_400);
        assert_eq!(MaxAge::parse("2y").seconds(), 31_536_000);
        assert_eq!(MaxAge::parse("-5s").seconds(), 0);
        assert_eq!(MaxAge::parse("nope").seconds(), 0);
        assert_eq!(MaxAge::from_millis(1999.9).seconds(), 1);
        assert_eq!(MaxAge::from_millis(f64::NAN).seconds(), 0);
        assert_eq!(MaxAge::from_millis(f64::INFINITY).seconds(), 31_536_000);
        assert_eq!(MaxAge::from_millis(999.0).seconds(), 0);
    }

    #[test]
    fn dotfiles_values_are_send_s_three() {
        assert_eq!("allow".parse::<Dotfiles>(), Ok(Dotfiles::Allow));
        assert_eq!("deny".parse::<Dotfiles>(), Ok(Dotfiles::Deny));
        assert_eq!("ignore".parse::<Dotfiles>(), Ok(Dotfiles::Ignore));
        let err = "Allow".parse::<Dotfiles>().unwrap_err();
        assert!(err.is_invalid_option());
        assert_eq!(
            err.message(),
            "dotfiles option must be \"allow\", \"deny\", or \"ignore\""
        );
    }

    #[test]
    fn a_nul_in_an_index_name_is_refused() {
        let options = Options {
            index: vec!["a\0b".to_owned()],
            ..Options::default()
        };
        assert!(options.validate().unwrap_err().is_invalid_option());
        assert!(Options::default().validate().is_ok());
    }
}
