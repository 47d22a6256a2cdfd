//! Which request paths static files are served for.
//!
//! A router guards a prefix by matching the path as sent, still percent-encoded
//! (`app.use('/private', deny)`), while a static file server decodes the path and normalises it
//! before it opens a file (`send` does `decodeURIComponent`, then `path.normalize`). Any path
//! whose decoded, normalised form is not the path as sent is another spelling of some file's
//! path, and the guard does not see it: `/private%2fkey.txt`, `/x/../private/key.txt`,
//! `//private/key.txt`, `/%70rivate/key.txt` all open `private/key.txt` in Express while the
//! guard answers only `/private/key.txt`.
//!
//! So a file is served only for the plain spelling of its path: segments separated by single
//! `/`, none of them `.` or `..`, no `\` (a separator on Windows and to `send`'s `..` check),
//! no escaped separator (`%2F`, `%5C`) and no escaped unreserved character (`%70` for `p`:
//! RFC 3986 says to send those as they are). Every other request is answered as for a file that
//! does not exist. This is the one statement of the rule: `express.static` asks it through the
//! binding, and the native static stage will call it directly.

/// Why a path is not the plain spelling of a file's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `%2F` or `%5C` (any case): a separator once decoded.
    EncodedSeparator,
    /// A `\`, which Windows and `send` take as a separator.
    Backslash,
    /// A `.` or `..` segment, which normalising removes.
    DotSegment,
    /// An empty segment (`//`) inside the path, which normalising removes.
    EmptySegment,
    /// An escaped letter, digit, `-`, `.`, `_` or `~`, which decoding makes plain.
    EncodedUnreserved,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::EncodedSeparator => "encoded separator",
            Refusal::Backslash => "backslash",
            Refusal::DotSegment => "dot segment",
            Refusal::EmptySegment => "empty segment",
            Refusal::EncodedUnreserved => "encoded unreserved character",
        }
    }
}

/// Why static files must not be served for `path` (a request's path, still percent-encoded,
/// below the mount point of the static files), or `None` when it is the plain spelling of a path.
/// An escape that is not one (`%zz`) is left to the file server, which refuses it with a 400.
pub fn refusal(path: &str) -> Option<Refusal> {
    let bytes = path.as_bytes();
    let segments = bytes.split(|&b| b == b'/').count();
    for (index, segment) in bytes.split(|&b| b == b'/').enumerate() {
        // A leading `/` and a trailing one (a directory) leave an empty first or last segment.
        if segment.is_empty() && index != 0 && index + 1 != segments {
            return Some(Refusal::EmptySegment);
        }
        if segment == b"." || segment == b".." {
            return Some(Refusal::DotSegment);
        }
        let mut i = 0;
        while i < segment.len() {
            match segment[i] {
                b'\\' => return Some(Refusal::Backslash),
                b'%' => {
                    if let Some(byte) = escaped(&segment[i + 1..]) {
                        if byte == b'/' || byte == b'\\' {
                            return Some(Refusal::EncodedSeparator);
                        }
                        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
                        {
                            return Some(Refusal::EncodedUnreserved);
                        }
                        i += 2;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    None
}

/// The byte `XY` stands for after a `%`, when both are hex digits.
fn escaped(after_percent: &[u8]) -> Option<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    match after_percent {
        [high, low, ..] => Some((hex(*high)? * 16 + hex(*low)?) as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::tests::Rng;

    #[test]
    fn plain_paths_are_served() {
        for path in [
            "/",
            "",
            "/index.html",
            "/dir/",
            "/a/b/c.txt",
            "/.well-known/x",
            "/my%20file.txt",
            "/caf%C3%A9.txt",
            "/logo%402x.png",
            "/a+b;c=d,e.txt",
            "/..x/x..",
            "/%zz",
            "/%",
            "*",
        ] {
            assert_eq!(refusal(path), None, "{path}");
        }
    }

    #[test]
    fn encoded_separators_are_never_separators() {
        for path in [
            "/private%2fkey.txt",
            "/private%2Fkey.txt",
            "/a%5cb",
            "/a%5Cb",
        ] {
            assert_eq!(refusal(path), Some(Refusal::EncodedSeparator), "{path}");
        }
    }

    #[test]
    fn dot_segments_raw_or_escaped_are_refused() {
        assert_eq!(refusal("/x/../private/key.txt"), Some(Refusal::DotSegment));
        assert_eq!(refusal("/./private/key.txt"), Some(Refusal::DotSegment));
        assert_eq!(refusal("/dir/."), Some(Refusal::DotSegment));
        assert_eq!(refusal(".."), Some(Refusal::DotSegment));
        assert_eq!(
            refusal("/x/%2e%2e/private/key.txt"),
            Some(Refusal::EncodedUnreserved)
        );
        assert_eq!(refusal("/x/.%2E/key.txt"), Some(Refusal::EncodedUnreserved));
    }

    #[test]
    fn empty_segments_are_refused_but_a_leading_or_trailing_slash() {
        assert_eq!(refusal("//private/key.txt"), Some(Refusal::EmptySegment));
        assert_eq!(refusal("/a//b"), Some(Refusal::EmptySegment));
        assert_eq!(refusal("/dir//"), Some(Refusal::EmptySegment));
    }

    #[test]
    fn backslashes_are_refused() {
        assert_eq!(refusal("/private\\key.txt"), Some(Refusal::Backslash));
    }

    #[test]
    fn escaped_unreserved_characters_are_refused() {
        for path in [
            "/%70rivate/key.txt",
            "/%50RIVATE",
            "/a%7e",
            "/a%2D",
            "/a%5f",
            "/%31",
        ] {
            assert_eq!(refusal(path), Some(Refusal::EncodedUnreserved), "{path}");
        }
    }

    #[test]
    fn every_escaped_byte_in_either_case_is_refused_exactly_when_decoding_changes_the_path() {
        for byte in 0..=255u8 {
            for escape in [format!("%{byte:02x}"), format!("%{byte:02X}")] {
                let path = format!("/a{escape}b/c");
                let expected = match byte {
                    b'/' | b'\\' => Some(Refusal::EncodedSeparator),
                    b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => {
                        Some(Refusal::EncodedUnreserved)
                    }
                    _ => None,
                };
                assert_eq!(refusal(&path), expected, "{path}");
            }
        }
    }

    /// What `send` does with a path before it opens a file: decode it, then normalise it the
    /// POSIX way (`\` is not a separator there, but is on Windows: both are modelled).
    fn opened(path: &str, backslash_separates: bool) -> Option<Vec<Vec<u8>>> {
        let decoded = decode(path)?;
        let mut out: Vec<Vec<u8>> = Vec::new();
        for segment in decoded.split(|&b| b == b'/' || (backslash_separates && b == b'\\')) {
            match segment {
                b"" | b"." => {}
                b".." => {
                    // Above the root: send refuses it (403).
                    out.pop()?;
                }
                s => out.push(s.to_vec()),
            }
        }
        Some(out)
    }

    fn decode(path: &str) -> Option<Vec<u8>> {
        let bytes = path.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(escaped(&bytes[i + 1..])?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        Some(out)
    }

    /// The segments a guard sees: the path as sent after its leading `/`, split on `/`.
    fn guarded(path: &str) -> Vec<Vec<u8>> {
        path.split('/')
            .skip(1)
            .map(|s| s.as_bytes().to_ascii_lowercase())
            .collect()
    }

    const PIECES: &[&str] = &[
        "/", "/", "/", "p", "P", "x", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%70",
        "%50", "\\", "%", "%zz", "%20", "%41", "~", ";", "%7e", "%2d", "-",
    ];

    /// The property the rule exists for: whenever a path is served, the file `send` opens lies
    /// below a prefix made of plain segments (`/p/x`) only if the path as sent does, so a guard
    /// on that prefix (case-insensitive, as Express's default) saw the request. Seeded,
    /// millions of cases in release (`XYP_TARGET_CASES` sets the count).
    #[test]
    fn a_served_path_opens_a_file_below_a_guard_only_when_the_guard_sees_it() {
        let cases: u64 = std::env::var("XYP_TARGET_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if cfg!(debug_assertions) {
                1_000_000
            } else {
                5_000_000
            });
        let seed = 0x0057_a71c;
        let mut rng = Rng(seed);
        let mut served = 0u64;
        for case in 0..cases {
            let mut path = String::from("/");
            for _ in 0..rng.below(8) {
                path.push_str(PIECES[rng.below(PIECES.len())]);
            }
            if refusal(&path).is_some() {
                continue;
            }
            served += 1;
            let seen = guarded(&path);
            for backslash_separates in [false, true] {
                let Some(file) = opened(&path, backslash_separates) else {
                    continue;
                };
                let file: Vec<Vec<u8>> = file.iter().map(|s| s.to_ascii_lowercase()).collect();
                // Every plain prefix of the file's path must be a prefix the guard saw.
                for depth in 1..=file.len() {
                    let prefix = &file[..depth];
                    let plain = prefix.iter().all(|s| {
                        s.iter().all(|&b| {
                            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
                        })
                    });
                    if plain {
                        assert!(
                            seen.len() >= depth && seen[..depth] == *prefix,
                            "seed {seed:#x}, case {case}: {path:?} opens {file:?}"
                        );
                    }
                }
            }
        }
        assert!(served > cases / 20, "too few served paths: {served}");
    }
}
