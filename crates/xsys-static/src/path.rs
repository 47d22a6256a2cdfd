//! From the request's pathname to a file-system path under the root, as send 1 does it, with one
//! rule of our own: an encoded separator never becomes a separator.
//!
//! send decodes the pathname once (`decodeURIComponent`), refuses a NUL (400), normalises
//! `./<path>`, refuses a `..` segment that survives normalisation (403), checks the segments for
//! dotfiles, and joins the rest to the root. Because it decodes before it splits, `%2f` acts as
//! `/` there; here a pathname holding `%2f` or `%5c` (any case), or a backslash in any spelling,
//! names no file (404, as for a file that does not exist) and nothing touches the file system.
//! That is the engine's static path rule (xsys-http's `static_path`) on separators, kept here
//! too so that this crate is safe on its own.

use std::borrow::Cow;

use crate::Dotfiles;

/// `decodeURIComponent`: `None` where it throws (a malformed escape, or escapes that are not
/// one well-formed UTF-8 sequence: overlong forms, surrogates, code points past U+10FFFF).
pub(crate) fn decode_uri_component(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let lead = hex_byte(bytes, i)?;
        i += 3;
        if lead < 0x80 {
            out.push(lead);
            continue;
        }
        let len = match lead.leading_ones() {
            2 => 2,
            3 => 3,
            4 => 4,
            _ => return None,
        };
        let start = out.len();
        out.push(lead);
        for _ in 1..len {
            let next = hex_byte(bytes, i)?;
            if next & 0xc0 != 0x80 {
                return None;
            }
            out.push(next);
            i += 3;
        }
        // Rust's UTF-8 check refuses exactly what the specification's Decode does.
        std::str::from_utf8(&out[start..]).ok()?;
    }
    // Literal characters were copied whole and every escape sequence was checked.
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// The byte of the escape `%XY` at `at`, or `None` if there is none.
fn hex_byte(bytes: &[u8], at: usize) -> Option<u8> {
    if bytes.get(at) != Some(&b'%') {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    let high = digit(*bytes.get(at + 1)?)?;
    let low = digit(*bytes.get(at + 2)?)?;
    Some((high * 16 + low) as u8)
}

/// `%2f` or `%5c` in any case.
fn has_encoded_separator(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && ((w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'f'))
                || (w[1] == b'5' && w[2].eq_ignore_ascii_case(&b'c')))
    })
}

/// Why a pathname maps to no file, with the status send's error carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// 400: a malformed escape or a NUL (send's).
    BadRequest,
    /// 404, as for a file that does not exist: an encoded separator or a backslash.
    Separator,
    /// 403: `..` above the root, or a dotfile with `dotfiles: 'deny'`.
    Forbidden,
    /// 404: a dotfile with `dotfiles: 'ignore'`.
    NotFound,
}

impl Refused {
    pub(crate) fn status(self) -> u16 {
        match self {
            Refused::BadRequest => 400,
            Refused::Separator => 404,
            Refused::Forbidden => 403,
            Refused::NotFound => 404,
        }
    }
}

/// Maps send's `path` (a pathname, still percent-encoded) to `normalize(join(root, path))`.
/// `root` is absolute and normalised, without a trailing slash unless it is `/`.
pub(crate) fn resolve(root: &str, path: &str, dotfiles: Dotfiles) -> Result<String, Refused> {
    if has_encoded_separator(path) || path.contains('\\') {
        return Err(Refused::Separator);
    }
    let decoded = decode_uri_component(path).ok_or(Refused::BadRequest)?;
    if decoded.contains('\0') {
        return Err(Refused::BadRequest);
    }
    if decoded.is_empty() {
        // send leaves an empty path alone: `join(root, '')` is the root itself.
        return Ok(root.to_owned());
    }
    // normalize('./' + path): empty and `.` segments go, `..` pops, a leading `..` survives.
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.last().is_some_and(|last| *last != "..") {
                    segments.pop();
                } else {
                    segments.push("..");
                }
            }
            other => segments.push(other),
        }
    }
    // send's UP_PATH_REGEXP on the normalised path: only a leading `..` can be left.
    if segments.first() == Some(&"..") {
        return Err(Refused::Forbidden);
    }
    // containsDotFile: a segment longer than one character that starts with a dot.
    if segments.iter().any(|s| s.len() > 1 && s.starts_with('.')) {
        match dotfiles {
            Dotfiles::Allow => {}
            Dotfiles::Deny => return Err(Refused::Forbidden),
            Dotfiles::Ignore => return Err(Refused::NotFound),
        }
    }
    let trailing = decoded.ends_with('/');
    let mut full = String::with_capacity(root.len() + decoded.len() + 1);
    full.push_str(root);
    for segment in &segments {
        if !full.ends_with('/') {
            full.push('/');
        }
        full.push_str(segment);
    }
    if trailing && !full.ends_with('/') {
        full.push('/');
    }
    Ok(full)
}

/// Node's `path.posix.normalize`.
pub(crate) fn normalize(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let absolute = path.starts_with('/');
    let trailing = path.ends_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.last().is_some_and(|last| *last != "..") {
                    segments.pop();
                } else if !absolute {
                    segments.push("..");
                }
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    if absolute {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if segments.is_empty() {
        if absolute {
            return out;
        }
        return if trailing { "./" } else { "." }.to_owned();
    }
    if trailing {
        out.push('/');
    }
    out
}

/// Node's `path.posix.join` of two parts, as send uses it for index files.
pub(crate) fn join(base: &str, name: &str) -> String {
    match (base.is_empty(), name.is_empty()) {
        (true, true) => ".".to_owned(),
        (true, false) => normalize(name),
        (false, true) => normalize(base),
        (false, false) => normalize(&format!("{base}/{name}")),
    }
}

/// Node's `path.posix.extname`: the last segment's extension with its dot, `''` for none
/// (a leading dot does not start one: `.profile` has none, `..x` has `.x`).
pub(crate) fn extname(path: &str) -> &str {
    let bytes = path.as_bytes();
    let mut start_dot: Option<usize> = None;
    let mut start_part = 0;
    let mut end: Option<usize> = None;
    let mut matched_slash = true;
    // 0: nothing before the dot yet; 1: only dots before it; -1: something else.
    let mut pre_dot_state = 0;
    for i in (0..bytes.len()).rev() {
        let c = bytes[i];
        if c == b'/' {
            if !matched_slash {
                start_part = i + 1;
                break;
            }
            continue;
        }
        if end.is_none() {
            matched_slash = false;
            end = Some(i + 1);
        }
        if c == b'.' {
            if start_dot.is_none() {
                start_dot = Some(i);
            } else if pre_dot_state != 1 {
                pre_dot_state = 1;
            }
        } else if start_dot.is_some() {
            pre_dot_state = -1;
        }
    }
    let (Some(dot), Some(end)) = (start_dot, end) else {
        return "";
    };
    if pre_dot_state == 0 || (pre_dot_state == 1 && dot == end - 1 && dot == start_part + 1) {
        return "";
    }
    &path[dot..end]
}

/// Node's `path.posix.resolve` of one path against the working directory.
pub(crate) fn resolve_root(root: &str, cwd: &str) -> String {
    let joined = if root.starts_with('/') {
        root.to_owned()
    } else {
        format!("{cwd}/{root}")
    };
    let normalized = normalize(&joined);
    match normalized.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped.to_owned(),
        _ => normalized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_is_decode_uri_component() {
        // Results of `decodeURIComponent(text)` (None where it throws URIError).
        let cases: &[(&str, Option<&str>)] = &[
            ("/a%20b", Some("/a b")),
            ("/%2e%2E", Some("/..")),
            ("/%2F%5c", Some("//\\")),
            ("/%25", Some("/%")),
            ("/%252e", Some("/%2e")),
            ("/%C3%A9", Some("/é")),
            ("/é", Some("/é")),
            ("/%F0%9F%98%80", Some("/😀")),
            ("/%E2%82%AC", Some("/€")),
            ("/%", None),
            ("/%z1", None),
            ("/%1", None),
            ("/%C3", None),
            ("/%C3%", None),
            ("/%C3a", None),
            ("/%C3%41", None),
            ("/%C0%AE", None),
            ("/%C1%9C", None),
            ("/%E0%80%AF", None),
            ("/%ED%A0%80", None),
            ("/%F4%90%80%80", None),
            ("/%F8%88%80%80%80", None),
            ("/%80", None),
            ("/%FF", None),
            ("/%C3é", None),
        ];
        for &(text, expected) in cases {
            assert_eq!(decode_uri_component(text).as_deref(), expected, "{text}");
        }
    }

    const ROOT: &str = "/srv/www";

    #[test]
    fn paths_join_the_root_as_send_normalises_them() {
        let ok = |path: &str| resolve(ROOT, path, Dotfiles::Ignore);
        assert_eq!(ok("/a/b.txt"), Ok("/srv/www/a/b.txt".to_owned()));
        assert_eq!(ok("/a//b/./c/../d"), Ok("/srv/www/a/b/d".to_owned()));
        assert_eq!(ok("/a/"), Ok("/srv/www/a/".to_owned()));
        assert_eq!(ok("/"), Ok("/srv/www/".to_owned()));
        assert_eq!(ok(""), Ok("/srv/www".to_owned()));
        assert_eq!(ok("/."), Ok("/srv/www".to_owned()));
        assert_eq!(ok("/./"), Ok("/srv/www/".to_owned()));
        assert_eq!(ok("/a/.."), Ok("/srv/www".to_owned()));
        assert_eq!(ok("/a/../"), Ok("/srv/www/".to_owned()));
        assert_eq!(ok("/%2e/a"), Ok("/srv/www/a".to_owned()));
        assert_eq!(ok("/a%20b"), Ok("/srv/www/a b".to_owned()));
        assert_eq!(
            ok("/..."),
            Err(Refused::NotFound),
            "a dotfile, not a traversal"
        );
        assert_eq!(
            resolve("/", "/a/", Dotfiles::Ignore),
            Ok("/a/".to_owned()),
            "root /"
        );
        assert_eq!(resolve("/", "/", Dotfiles::Ignore), Ok("/".to_owned()));
    }

    #[test]
    fn traversal_is_403_after_decoding() {
        for path in [
            "/..",
            "/../",
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/%2E%2E",
            "/.%2e/x",
            "//../x",
            "/a/./../../x",
        ] {
            assert_eq!(
                resolve(ROOT, path, Dotfiles::Allow),
                Err(Refused::Forbidden),
                "{path}"
            );
        }
    }

    #[test]
    fn malformed_escapes_and_nul_are_400() {
        for path in ["/%", "/%zz", "/%c0%ae%c0%ae/x", "/a%00b", "/%E0%80%AF"] {
            assert_eq!(
                resolve(ROOT, path, Dotfiles::Allow),
                Err(Refused::BadRequest),
                "{path}"
            );
        }
    }

    #[test]
    fn a_separator_in_disguise_names_no_file() {
        for path in [
            "/a%2fb",
            "/a%2Fb",
            "/..%2f..%2fx",
            "/a%5cb",
            "/a%5Cb",
            "/a\\b",
            "/..\\x",
            "/%255c/%2F",
            "/%zz%2f",
        ] {
            assert_eq!(
                resolve(ROOT, path, Dotfiles::Allow),
                Err(Refused::Separator),
                "{path}"
            );
        }
        assert_eq!(Refused::Separator.status(), 404);
        // A doubly encoded separator decodes once to a literal "%2f": an ordinary name.
        assert_eq!(
            resolve(ROOT, "/a%252fb", Dotfiles::Allow),
            Ok("/srv/www/a%2fb".to_owned())
        );
    }

    #[test]
    fn dotfiles_follow_the_option_and_send_s_segment_rule() {
        for (dotfiles, expected) in [
            (Dotfiles::Ignore, Err(Refused::NotFound)),
            (Dotfiles::Deny, Err(Refused::Forbidden)),
            (Dotfiles::Allow, Ok("/srv/www/.env".to_owned())),
        ] {
            assert_eq!(resolve(ROOT, "/.env", dotfiles), expected);
        }
        // Any segment counts, after normalisation; `.` alone is not a dotfile.
        assert_eq!(
            resolve(ROOT, "/.git/config", Dotfiles::Deny),
            Err(Refused::Forbidden)
        );
        assert_eq!(
            resolve(ROOT, "/a/.hidden/../b", Dotfiles::Deny),
            Ok("/srv/www/a/b".to_owned())
        );
        assert_eq!(
            resolve(ROOT, "/%2ehidden", Dotfiles::Ignore),
            Err(Refused::NotFound)
        );
        // The root's own dotted directories are not the request's business.
        assert_eq!(
            resolve("/srv/.www", "/a", Dotfiles::Deny),
            Ok("/srv/.www/a".to_owned())
        );
    }

    #[test]
    fn normalize_and_join_are_node_s() {
        // Results of path.posix.normalize / join.
        for (input, expected) in [
            ("", "."),
            ("/", "/"),
            ("//a//b/", "/a/b/"),
            ("a/../..", ".."),
            ("a/../../", "../"),
            ("/../a", "/a"),
            ("./", "./"),
            (".", "."),
            ("a/./b/.", "a/b"),
            ("../../a/..", "../.."),
        ] {
            assert_eq!(normalize(input), expected, "{input}");
        }
        assert_eq!(join("/srv/www/", "index.html"), "/srv/www/index.html");
        assert_eq!(join("/srv/www/d/", "../x.html"), "/srv/www/x.html");
        assert_eq!(join("/srv/www/d/", "sub/"), "/srv/www/d/sub/");
    }

    #[test]
    fn extname_is_node_s() {
        // Results of path.posix.extname.
        for (input, expected) in [
            ("/a/b.txt", ".txt"),
            ("/a/b.tar.gz", ".gz"),
            ("/a/.profile", ""),
            ("/a/..x", ".x"),
            ("/a/...", "."),
            ("/a/..", ""),
            ("/a/b.", "."),
            ("/a.b/c", ""),
            ("/a/b.txt/", ".txt"),
            ("/a/b.txt//", ".txt"),
            ("", ""),
            ("/", ""),
            (".x.y", ".y"),
        ] {
            assert_eq!(extname(input), expected, "{input}");
        }
    }

    #[test]
    fn the_root_resolves_as_path_resolve() {
        assert_eq!(resolve_root("public", "/app"), "/app/public");
        assert_eq!(resolve_root("./public/", "/app"), "/app/public");
        assert_eq!(resolve_root("../x", "/app"), "/x");
        assert_eq!(resolve_root("/srv//www/", "/app"), "/srv/www");
        assert_eq!(resolve_root("/", "/app"), "/");
        assert_eq!(resolve_root("/..", "/app"), "/");
        assert_eq!(resolve_root(".", "/"), "/");
    }
}
