//! The small HTML and URL helpers serve-static uses for its redirect page.

/// serve-static's `createHtmlDocument(title, body)`.
pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n</head>\n<body>\n<pre>{body}</pre>\n</body>\n</html>\n"
    )
}

/// The `escape-html` package: the five characters HTML gives meaning to.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The `encodeurl` package: percent-encode (UTF-8) what may not appear in a URL, keep
/// existing escapes, encode a `%` that does not start one. The result is ASCII.
pub(crate) fn encode_url(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    for (i, &b) in bytes.iter().enumerate() {
        let starts_escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if starts_escape || (b != b'%' && url_safe(b)) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// encodeurl's allowed set: `\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7A\x7C\x7E`.
fn url_safe(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x3B | 0x3D | 0x3F..=0x5F | 0x61..=0x7A | 0x7C | 0x7E)
}

/// serve-static's `collapseLeadingSlashes`: `//evil.example/` must not become a
/// protocol-relative redirect.
pub(crate) fn collapse_leading_slashes(text: &str) -> &str {
    let slashes = text.bytes().take_while(|&b| b == b'/').count();
    if slashes > 1 {
        &text[slashes - 1..]
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_url_is_encodeurl_s() {
        // `require('encodeurl')(text)`.
        for (text, expected) in [
            ("/a b/", "/a%20b/"),
            ("/caf\u{e9}/", "/caf%C3%A9/"),
            ("/%41%/", "/%41%25/"),
            ("/a\"<>`{}|\\^/", "/a%22%3C%3E%60%7B%7D|\\^/"),
            ("/?x=[1]&y='2'", "/?x=[1]&y='2'"),
        ] {
            assert_eq!(encode_url(text), expected, "{text}");
        }
    }

    #[test]
    fn leading_slashes_collapse_to_one() {
        assert_eq!(
            collapse_leading_slashes("//evil.example/"),
            "/evil.example/"
        );
        assert_eq!(collapse_leading_slashes("///a//b"), "/a//b");
        assert_eq!(collapse_leading_slashes("/a/"), "/a/");
        assert_eq!(collapse_leading_slashes(""), "");
    }

    #[test]
    fn escape_is_escape_html_s() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
