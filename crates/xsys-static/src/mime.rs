//! Content-Type by extension, from the table generated out of the installed mime-types/mime-db.

use crate::mime_table::TYPES;
use crate::path::extname;

/// What send falls back to for an unknown extension.
const DEFAULT_TYPE: &str = "application/octet-stream";

/// send's `mime.contentType(extname(path)) || 'application/octet-stream'`.
pub(crate) fn content_type(path: &str) -> &'static str {
    let ext = extname(path);
    // mime-types' lookup: `extname('x.' + ext).toLowerCase().slice(1)`; for send's `.ext` that
    // is the extension without its dot (empty for a bare `.`).
    let ext = ext.strip_prefix('.').unwrap_or(ext);
    if ext.is_empty() {
        return DEFAULT_TYPE;
    }
    let lower;
    let key = if ext.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        // JavaScript's toLowerCase is Unicode's, as Rust's (the Kelvin sign becomes `k`).
        lower = ext.to_lowercase();
        lower.as_str()
    } else {
        ext
    };
    TYPES
        .binary_search_by(|(candidate, _)| (*candidate).cmp(key))
        .map_or(DEFAULT_TYPE, |i| TYPES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_send_s() {
        // `mime.contentType(path.extname(p)) || 'application/octet-stream'` in send.
        for (path, expected) in [
            ("/a/index.html", "text/html; charset=utf-8"),
            ("/a/INDEX.HTML", "text/html; charset=utf-8"),
            ("/a/app.js", "text/javascript; charset=utf-8"),
            ("/a/data.json", "application/json; charset=utf-8"),
            ("/a/pic.svg", "image/svg+xml"),
            ("/a/font.woff2", "font/woff2"),
            ("/a/video.mp4", "video/mp4"),
            ("/a/README", "application/octet-stream"),
            ("/a/file.", "application/octet-stream"),
            ("/a/.profile", "application/octet-stream"),
            ("/a/x.unknownext", "application/octet-stream"),
            ("/a/x.\u{212A}ml", "application/vnd.google-earth.kml+xml"),
        ] {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }

    #[test]
    fn the_table_is_sorted_for_binary_search() {
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(TYPES.len() > 1000);
    }
}
