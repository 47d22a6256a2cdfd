//! A response head's header names put as Node sends them, and its framing read, in one walk over
//! the head as hyper wrote it (names in lower case).
//!
//! Every name goes out in Title-Case, as Express and most middleware spell them, except those the
//! engine's spellings line ([`SPELLINGS`], the last line of that name) lists: each line takes the
//! first listed spelling of its name not used by an earlier line. That line itself is removed.

use crate::header_case::SPELLINGS;

/// What a head says about the body that follows it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Framing {
    /// `Content-Length`, when it is a number.
    pub length: Option<u64>,
    /// A `Transfer-Encoding` line is present.
    pub transfer_encoding: bool,
    /// ... and its last coding is `chunked`.
    pub chunked: bool,
}

/// Buffers kept between heads, so that a head allocates nothing.
#[derive(Debug, Default)]
pub(super) struct NameScratch {
    /// Each header line's name, as (start, end) in the head.
    names: Vec<(usize, usize)>,
    /// The spellings line's value, and each spelling's range in it with whether a line took it.
    spellings: Vec<u8>,
    listed: Vec<(usize, usize, bool)>,
}

/// Puts the names of the head in `head[start..]` (status line, header lines, blank line) as
/// Node sends them, removes the spellings line, and reads the framing headers.
pub(super) fn put_names(head: &mut Vec<u8>, start: usize, scratch: &mut NameScratch) -> Framing {
    let mut framing = Framing::default();
    scratch.names.clear();
    // The spellings line, as (line start, line end).
    let mut marker: Option<(usize, usize)> = None;
    let end = head.len();
    let Some(status_line) = memchr::memchr(b'\n', &head[start..]) else {
        return framing;
    };
    let mut at = start + status_line + 1;
    while at < end {
        let line_end = memchr::memchr(b'\n', &head[at..end]).map_or(end, |i| at + i + 1);
        let line = &head[at..line_end];
        let Some(colon) = memchr::memchr(b':', line) else {
            at = line_end;
            continue;
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            framing.length = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok());
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            framing.transfer_encoding = true;
            framing.chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(SPELLINGS.as_str().as_bytes()) {
            if let Some((line, _)) = marker {
                // An app's header of that name: only the last line is the engine's.
                scratch.names.push((line, line + SPELLINGS.as_str().len()));
            }
            marker = Some((at, line_end));
            at = line_end;
            continue;
        }
        scratch.names.push((at, at + colon));
        at = line_end;
    }
    for &(from, to) in &scratch.names {
        title_case(&mut head[from..to]);
    }
    let Some((line, line_end)) = marker else {
        return framing;
    };
    spell(head, (line, line_end), scratch);
    head.drain(line..line_end);
    framing
}

/// Gives each named line the first unused spelling of its name that the line `marker` lists.
fn spell(head: &mut [u8], (line, line_end): (usize, usize), scratch: &mut NameScratch) {
    let value = &head[line + SPELLINGS.as_str().len() + 1..line_end];
    scratch.spellings.clear();
    scratch.spellings.extend_from_slice(value.trim_ascii());
    scratch.listed.clear();
    let mut from = 0;
    for word in scratch.spellings.split(|&b| b == b' ') {
        if !word.is_empty() {
            scratch.listed.push((from, from + word.len(), false));
        }
        from += word.len() + 1;
    }
    if scratch.listed.is_empty() {
        return;
    }
    for &(name_from, name_to) in &scratch.names {
        let name = &mut head[name_from..name_to];
        let spelled = scratch.listed.iter_mut().find(|(from, to, used)| {
            !*used
                && to - from == name.len()
                && scratch.spellings[*from..*to].eq_ignore_ascii_case(name)
        });
        if let Some((from, to, used)) = spelled {
            name.copy_from_slice(&scratch.spellings[*from..*to]);
            *used = true;
        }
    }
}

/// `content-type` as Node's most common spelling: upper case at the start and after each `-`.
fn title_case(name: &mut [u8]) {
    let mut upper = true;
    for byte in name {
        if upper {
            byte.make_ascii_uppercase();
        }
        upper = *byte == b'-';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(head: &str) -> (String, Framing) {
        let mut bytes = b"prefix".to_vec();
        bytes.extend_from_slice(head.as_bytes());
        let framing = put_names(&mut bytes, 6, &mut NameScratch::default());
        assert!(bytes.starts_with(b"prefix"), "bytes before the head untouched");
        (String::from_utf8(bytes[6..].to_vec()).expect("ascii"), framing)
    }

    #[test]
    fn names_go_out_in_title_case_and_values_as_they_are() {
        let (head, framing) = put(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; x-y\r\nx-a-b: c-d\r\ncontent-length: 12\r\n\r\n",
        );
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; x-y\r\nX-A-B: c-d\r\nContent-Length: 12\r\n\r\n"
        );
        assert_eq!(
            framing,
            Framing {
                length: Some(12),
                ..Framing::default()
            }
        );
    }

    #[test]
    fn spellings_apply_in_order_and_their_line_goes() {
        let (head, _) = put(concat!(
            "HTTP/1.1 429 Too Many Requests\r\n",
            "x-xss-protection: 0\r\n",
            "set-cookie: a\r\n",
            "set-cookie: b\r\n",
            "set-cookie: c\r\n",
            "etag: W/\"x\"\r\n",
            "xypriss-spellings: X-XSS-Protection set-cookie SET-COOKIE ETag \r\n",
            "date: now\r\n",
            "\r\n",
        ));
        assert_eq!(
            head,
            concat!(
                "HTTP/1.1 429 Too Many Requests\r\n",
                "X-XSS-Protection: 0\r\n",
                "set-cookie: a\r\n",
                "SET-COOKIE: b\r\n",
                "Set-Cookie: c\r\n",
                "ETag: W/\"x\"\r\n",
                "Date: now\r\n",
                "\r\n",
            )
        );
    }

    #[test]
    fn an_apps_header_of_the_spellings_name_is_kept() {
        let (head, _) = put(concat!(
            "HTTP/1.1 200 OK\r\n",
            "xypriss-spellings: the app's\r\n",
            "xypriss-spellings: xypriss-spellings \r\n",
            "\r\n",
        ));
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nxypriss-spellings: the app's\r\n\r\n"
        );
    }

    #[test]
    fn framing_is_read_from_any_case() {
        let (_, framing) = put("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
        assert!(framing.transfer_encoding && framing.chunked);
        let (_, framing) = put("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n\r\n");
        assert!(framing.transfer_encoding && !framing.chunked);
        let (_, framing) = put("HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n");
        assert_eq!(framing, Framing::default());
    }
}
