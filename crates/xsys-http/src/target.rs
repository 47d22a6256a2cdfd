//! One reading of a request target: the path and query that every stage sees.
//!
//! The route mirror, the native 404 and every native stage read a request's path here; in JS,
//! `readTarget` in `lib/request.ts` is the same rule (checked against this one by the tests), and
//! `req.path`, the router, parseurl's users (serve-static, finalhandler) and `express.static` all
//! read it. Two readers that disagree are how a guarded prefix gets bypassed.
//!
//! The rule is Express 5's (parseurl, router@2) on node:http for the targets its fast path
//! takes: the path is what comes before the first `?`, the query what follows it. Where
//! parseurl hands a target to Node's legacy `url.parse` (a `#` in it, absolute-form, `*`) the
//! reading stays the same simple one, fragment cut off, with none of `url.parse`'s rewriting:
//! no `\` turned into `/`, no `//user@host` prefix taken as an authority, no escaping of
//! `'"<>^`{|}`. The path is always a slice of the target (or `/` for an absolute-form target
//! with a host and nothing after it), so `req.url` and the path never drift apart when a router
//! strips a mount path. `docs/request-target.md` lists where this differs from Express.

/// What a request target says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The path, still percent-encoded; `None` when the target has none (`http://`, `?x`), in
    /// which case Express's router runs no layer.
    pub pathname: Option<&'a str>,
    /// What follows the first `?` of the path, up to a `#`; `None` without a `?`.
    pub query: Option<&'a str>,
}

/// Reads `target` (a request target as sent, or a `req.url` as rewritten).
///
/// - origin-form `/p?q#f` and anything else that is not absolute-form (`*`): the path runs to
///   the first `?` or `#`;
/// - absolute-form `scheme://authority/p?q#f`: the authority runs to the first `/`, `?` or `#`
///   and the path follows it; with nothing between the authority and `?`/`#`/the end, the path
///   is `/` when the authority names a host and the scheme is one `url.parse` gives a `/` to.
pub fn read(target: &str) -> Target<'_> {
    let bytes = target.as_bytes();
    let mut start = 0;
    let mut authority = None;
    if bytes.first() != Some(&b'/') {
        if let Some(scheme_end) = scheme_end(bytes) {
            let after = scheme_end + 3;
            let end = bytes[after..]
                .iter()
                .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                .map_or(bytes.len(), |i| after + i);
            authority = Some((&target[..scheme_end], &target[after..end]));
            start = end;
        }
    }
    let rest = &target[start..];
    let end = memchr::memchr(b'#', rest.as_bytes()).unwrap_or(rest.len());
    let (path, query) = match memchr::memchr(b'?', &rest.as_bytes()[..end]) {
        Some(q) => (&rest[..q], Some(&rest[q + 1..end])),
        None => (&rest[..end], None),
    };
    let pathname = if !path.is_empty() {
        Some(path)
    } else {
        match authority {
            Some((scheme, authority)) if slashed_scheme(scheme) && has_host(authority) => Some("/"),
            _ => None,
        }
    };
    Target { pathname, query }
}

/// Whether Node's HTTP parser takes `target` in a request line (other than CONNECT's): `/` or
/// `*` followed by printable ASCII, or letters, `://`, an authority without `"#<>\^`{|}` and
/// then printable ASCII from the first `/` or `?`. Node answers anything else with a 400.
pub fn node_parser_accepts(target: &[u8]) -> bool {
    let printable = |b: &u8| (0x21..=0x7e).contains(b);
    match target.first() {
        Some(b'/' | b'*') => target.iter().all(printable),
        Some(b) if b.is_ascii_alphabetic() => {
            let letters = target
                .iter()
                .position(|b| !b.is_ascii_alphabetic())
                .unwrap_or(target.len());
            let Some(after) = target[letters..].strip_prefix(b"://") else {
                return false;
            };
            let authority = after
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(after.len());
            after[..authority]
                .iter()
                .all(|b| printable(b) && !b"\"#<>\\^`{|}".contains(b))
                && after[authority..].iter().all(printable)
        }
        _ => false,
    }
}

/// The index of `://` after a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`) at the start.
fn scheme_end(bytes: &[u8]) -> Option<usize> {
    if !bytes.first()?.is_ascii_alphabetic() {
        return None;
    }
    let end = bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    bytes[end..].starts_with(b"://").then_some(end)
}

/// The schemes `url.parse` gives a `/` path when they have a host and no path.
fn slashed_scheme(scheme: &str) -> bool {
    ["http", "https", "ftp", "gopher", "file", "ws", "wss"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

/// Whether an authority names a host: something is left once `user@` and `:port` are taken off
/// (as `url.parse` takes them).
fn has_host(authority: &str) -> bool {
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = match host_port.rfind(':') {
        Some(colon) if host_port[colon + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &host_port[..colon]
        }
        _ => host_port,
    };
    !host.is_empty()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn reading(target: &str) -> (Option<&str>, Option<&str>) {
        let t = read(target);
        (t.pathname, t.query)
    }

    #[test]
    fn origin_form_is_cut_at_the_first_question_mark() {
        assert_eq!(reading("/"), (Some("/"), None));
        assert_eq!(
            reading("/users/42?x=1&y=2"),
            (Some("/users/42"), Some("x=1&y=2"))
        );
        assert_eq!(reading("/a?b?c"), (Some("/a"), Some("b?c")));
        assert_eq!(reading("/a?"), (Some("/a"), Some("")));
        assert_eq!(reading("/a;b=c/%2F%zz"), (Some("/a;b=c/%2F%zz"), None));
    }

    #[test]
    fn the_fragment_is_cut_off_path_and_query() {
        assert_eq!(reading("/a#b"), (Some("/a"), None));
        assert_eq!(reading("/a?q#f?g"), (Some("/a"), Some("q")));
        assert_eq!(reading("/a#f?g"), (Some("/a"), None));
        assert_eq!(reading("/#"), (Some("/"), None));
    }

    #[test]
    fn backslashes_stay_in_the_path_where_url_parse_makes_them_slashes() {
        assert_eq!(
            reading("/private\\key.txt#"),
            (Some("/private\\key.txt"), None)
        );
        assert_eq!(reading("/a\\b?c\\d#e"), (Some("/a\\b"), Some("c\\d")));
    }

    #[test]
    fn a_user_at_host_prefix_stays_in_the_path_where_url_parse_takes_it_as_an_authority() {
        assert_eq!(
            reading("//a@b/private/key.txt#"),
            (Some("//a@b/private/key.txt"), None)
        );
        assert_eq!(reading("//a@b/c?d"), (Some("//a@b/c"), Some("d")));
    }

    #[test]
    fn characters_url_parse_escapes_stay_as_sent() {
        assert_eq!(
            reading("/it's/a\"b<c>^`{|}#x"),
            (Some("/it's/a\"b<c>^`{|}"), None)
        );
    }

    #[test]
    fn absolute_form_path_follows_the_authority() {
        assert_eq!(reading("http://h/p?q#f"), (Some("/p"), Some("q")));
        assert_eq!(reading("HTTP://u:p@h:80/p/q"), (Some("/p/q"), None));
        assert_eq!(
            reading("http://a%40b;c'/private/x"),
            (Some("/private/x"), None)
        );
        assert_eq!(reading("http://[::1]:8080/x"), (Some("/x"), None));
        assert_eq!(reading("http://h//x"), (Some("//x"), None));
        assert_eq!(reading("foo://h/x"), (Some("/x"), None));
    }

    #[test]
    fn absolute_form_without_a_path_is_slash_when_it_names_a_host() {
        assert_eq!(reading("http://h"), (Some("/"), None));
        assert_eq!(reading("http://h?x"), (Some("/"), Some("x")));
        assert_eq!(reading("https://h:443#f"), (Some("/"), None));
        assert_eq!(reading("http://u@h9"), (Some("/"), None));
        assert_eq!(reading("http://"), (None, None));
        assert_eq!(reading("http://?x"), (None, Some("x")));
        assert_eq!(reading("http://u@"), (None, None));
        assert_eq!(reading("http://:80"), (None, None));
        assert_eq!(reading("ws://:"), (None, None));
        // url.parse gives a slash only to the schemes it knows as slashed.
        assert_eq!(reading("foo://h"), (None, None));
    }

    #[test]
    fn other_forms_are_read_as_a_path() {
        assert_eq!(reading("*"), (Some("*"), None));
        assert_eq!(reading("example.com:443"), (Some("example.com:443"), None));
        assert_eq!(reading("a/b://c"), (Some("a/b://c"), None));
        assert_eq!(reading("1http://h/x"), (Some("1http://h/x"), None));
        assert_eq!(reading(""), (None, None));
        assert_eq!(reading("?x"), (None, Some("x")));
        assert_eq!(reading("#x"), (None, None));
    }

    #[test]
    fn node_parser_takes_origin_asterisk_and_absolute_forms_only() {
        for target in [
            "/",
            "/a\\b#c#d?e",
            "*",
            "*..+%E1/",
            "http://h/p",
            "HTTP://u@h:80",
            "http://",
            "http://a%40b;'/x",
            "x://h?a#b",
            "http://[::1]/x",
            "ftp://h/`{}",
        ] {
            assert!(node_parser_accepts(target.as_bytes()), "{target}");
        }
        for target in [
            "",
            "~m",
            "a/b",
            "h1://x/y",
            "http:/a",
            "http:",
            "a:b",
            "http://a#x",
            "http://a\\b/p",
            "http://a`b",
            "http://a{/",
            "/a b",
            "/a\tb",
            "/\x7f",
            "/\u{e9}",
            "http://h/\x01",
        ] {
            assert!(!node_parser_accepts(target.as_bytes()), "{target:?}");
        }
    }

    /// splitmix64: a small deterministic generator, so a failing case replays from its seed.
    pub(crate) struct Rng(pub u64);
    impl Rng {
        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Pieces targets are made of: the characters that give a target structure, escapes,
    /// scheme and authority lookalikes.
    const PIECES: &[&str] = &[
        "/", "/", "/", "\\", "#", "?", "@", "//", "a", "B", "p", ".", "..", "%2e", "%2f", "%5C",
        "%", "%zz", ";", ":", "*", "'", "http://", "HTTP://", "ws://", "x://", "h", "u@", ":80",
        "[::1]", "%40", "~", "=", "&",
    ];

    fn generate(rng: &mut Rng) -> String {
        let mut target = String::new();
        if rng.below(3) != 0 {
            target.push('/');
        }
        for _ in 0..rng.below(12) {
            target.push_str(PIECES[rng.below(PIECES.len())]);
        }
        target
    }

    /// A second statement of the rule, written the obvious way, for the generated cases.
    fn model(target: &str) -> (Option<String>, Option<String>) {
        let (mut rest, mut absolute) = (target.to_string(), None);
        if !target.starts_with('/') {
            if let Some(i) = target.find("://") {
                let scheme = &target[..i];
                let valid = scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                if valid {
                    let after = &target[i + 3..];
                    let cut = after.find(['/', '?', '#']).unwrap_or(after.len());
                    absolute = Some((scheme.to_lowercase(), after[..cut].to_string()));
                    rest = after[cut..].to_string();
                }
            }
        }
        let without_fragment = rest.split('#').next().unwrap_or("").to_string();
        let (path, query) = match without_fragment.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (without_fragment, None),
        };
        if !path.is_empty() {
            return (Some(path), query);
        }
        let named_host = absolute.is_some_and(|(scheme, authority)| {
            let host_port = authority.rsplit('@').next().unwrap_or("").to_string();
            let host = match host_port.rsplit_once(':') {
                Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
                _ => host_port,
            };
            ["http", "https", "ftp", "gopher", "file", "ws", "wss"].contains(&scheme.as_str())
                && !host.is_empty()
        });
        (named_host.then(|| "/".to_string()), query)
    }

    /// Where the path lies in the target: always a slice of it (no rewriting), or the `/` given
    /// to an absolute-form target without one.
    fn path_is_a_slice_of_the_target(target: &str, pathname: &str) -> bool {
        let base = target.as_ptr() as usize;
        let at = pathname.as_ptr() as usize;
        pathname == "/" || (at >= base && at + pathname.len() <= base + target.len())
    }

    /// Seeded cases: the reading equals the model's, the path is a slice of the target with no
    /// `?` or `#` in it, and the query has no `#`. Millions of cases within seconds in release,
    /// a million in a debug build; `XYP_TARGET_CASES` sets the count.
    #[test]
    fn generated_targets_read_as_the_model_reads_them() {
        let cases: u64 = std::env::var("XYP_TARGET_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if cfg!(debug_assertions) {
                1_000_000
            } else {
                5_000_000
            });
        let seed = 0x007a_26e7;
        let mut rng = Rng(seed);
        for case in 0..cases {
            let target = generate(&mut rng);
            let got = read(&target);
            let expected = model(&target);
            assert_eq!(
                (
                    got.pathname.map(str::to_string),
                    got.query.map(str::to_string)
                ),
                expected,
                "seed {seed:#x}, case {case}: {target:?}"
            );
            if let Some(path) = got.pathname {
                assert!(path_is_a_slice_of_the_target(&target, path), "{target:?}");
                assert!(!path.contains(['?', '#']), "{target:?}");
            }
            assert!(!got.query.is_some_and(|q| q.contains('#')), "{target:?}");
        }
    }
}
