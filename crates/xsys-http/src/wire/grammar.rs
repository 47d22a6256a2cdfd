//! The pieces of HTTP/1.1 syntax (RFC 9110, RFC 9112) the request reader checks, as pure
//! functions over bytes.

/// `tchar`: the characters of a token (method, header name, transfer coding, extension name).
pub(super) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z')
}

pub(super) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// A byte of a field value: visible ASCII, space, tab, and obs-text (latin1). Controls, DEL and
/// a CR on its own are refused, as by Node's parser.
pub(super) fn is_field_value_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' '..=b'~' | 0x80..=0xFF)
}

/// A byte Node accepts in a request target: visible ASCII only.
pub(super) fn is_target_byte(b: u8) -> bool {
    matches!(b, b'!'..=b'~')
}

/// Optional whitespace around a field value.
pub(crate) fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// `Content-Length`: digits only (no sign, no list), within 64 bits.
pub(super) fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The transfer codings of one `Transfer-Encoding` line, in order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Codings {
    /// How many times `chunked` appeared.
    pub chunked: u32,
    /// The last coding is `chunked`.
    pub chunked_last: bool,
    /// A coding other than `chunked` (gzip, deflate, identity...): not implemented here.
    pub other: bool,
}

impl Codings {
    /// Adds one line's list; None when it is not a list of codings (an empty element, a
    /// parameter on `chunked`, something that is not a token).
    pub(super) fn add_line(mut self, value: &[u8]) -> Option<Codings> {
        for element in value.split(|&b| b == b',') {
            let element = trim_ows(element);
            let (name, parameters) = match memchr::memchr(b';', element) {
                Some(at) => (trim_ows(&element[..at]), Some(&element[at + 1..])),
                None => (element, None),
            };
            if !is_token(name) {
                return None;
            }
            if name.eq_ignore_ascii_case(b"chunked") {
                if parameters.is_some() {
                    return None;
                }
                self.chunked += 1;
                self.chunked_last = true;
            } else {
                if parameters.is_some_and(|p| !is_parameters(p)) {
                    return None;
                }
                self.other = true;
                self.chunked_last = false;
            }
        }
        Some(self)
    }
}

/// `*( OWS ";" OWS name "=" value )` after the first `;` of a transfer coding.
fn is_parameters(text: &[u8]) -> bool {
    text.split(|&b| b == b';').all(|parameter| {
        let parameter = trim_ows(parameter);
        match memchr::memchr(b'=', parameter) {
            Some(at) => {
                is_token(trim_ows(&parameter[..at])) && is_value(trim_ows(&parameter[at + 1..]))
            }
            None => false,
        }
    })
}

/// `token / quoted-string`.
fn is_value(value: &[u8]) -> bool {
    is_token(value) || quoted_string_len(value) == Some(value.len())
}

/// The length of the quoted-string at the start of `text`, if it starts with a valid one.
pub(super) fn quoted_string_len(text: &[u8]) -> Option<usize> {
    if text.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'"' => return Some(i + 1),
            b'\\' => {
                let escaped = *text.get(i + 1)?;
                if !is_field_value_byte(escaped) {
                    return None;
                }
                i += 2;
            }
            b'\t' | b' ' | b'!' | b'#'..=b'[' | b']'..=b'~' | 0x80..=0xFF => i += 1,
            _ => return None,
        }
    }
    None
}

/// A chunk-size line without its CRLF: hex digits, then optional extensions
/// `;name[=token|quoted-string]`, no whitespace anywhere (as Node's parser). Returns the size and
/// the length of the extensions, None when the line is not one.
pub(super) fn chunk_size_line(line: &[u8]) -> Option<(u64, usize)> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let size = line[..digits].iter().try_fold(0u64, |n, &d| {
        let digit = (d as char).to_digit(16)?;
        n.checked_mul(16)?.checked_add(u64::from(digit))
    })?;
    let mut rest = &line[digits..];
    let extensions = rest.len();
    while let [b';', after @ ..] = rest {
        let name = after.iter().take_while(|&&b| is_tchar(b)).count();
        if name == 0 {
            return None;
        }
        rest = &after[name..];
        if let [b'=', value @ ..] = rest {
            let length = match quoted_string_len(value) {
                Some(length) => length,
                None => value.iter().take_while(|&&b| is_tchar(b)).count(),
            };
            if length == 0 {
                return None;
            }
            rest = &value[length..];
        }
    }
    rest.is_empty().then_some((size, extensions))
}

/// A `Host` value: `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986), empty allowed.
pub(super) fn is_host(value: &[u8]) -> bool {
    let (host, port) = if let [b'[', literal @ ..] = value {
        let Some(close) = memchr::memchr(b']', literal) else {
            return false;
        };
        let inside = &literal[..close];
        if inside.is_empty()
            || !inside
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':')
        {
            return false;
        }
        match &literal[close + 1..] {
            [] => (&[][..], None),
            [b':', port @ ..] => (&[][..], Some(port)),
            _ => return false,
        }
    } else {
        match memchr::memrchr(b':', value) {
            Some(at) => (&value[..at], Some(&value[at + 1..])),
            None => (value, None),
        }
    };
    port.is_none_or(|p| p.iter().all(u8::is_ascii_digit)) && is_reg_name(host)
}

/// `reg-name` (or an IPv4 address): unreserved, sub-delims and percent escapes.
fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        match host[i] {
            b'%' => {
                if !(host.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && host.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return false;
                }
                i += 3;
            }
            b if is_unreserved(b) || is_sub_delim(b) => i += 1,
            _ => return false,
        }
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Whether a `Connection` value lists `token` (case-insensitively).
pub(super) fn lists_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|element| trim_ows(element).eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_digits_within_64_bits() {
        assert_eq!(content_length(b"0"), Some(0));
        assert_eq!(content_length(b"003"), Some(3));
        assert_eq!(content_length(b"18446744073709551615"), Some(u64::MAX));
        for refused in [
            &b""[..],
            b"+3",
            b"-1",
            b"3,3",
            b"3 3",
            b"0x3",
            b"3a",
            b"18446744073709551616",
        ] {
            assert_eq!(content_length(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn transfer_codings_count_chunked_and_the_rest() {
        let of = |lines: &[&[u8]]| {
            lines
                .iter()
                .try_fold(Codings::default(), |c, line| c.add_line(line))
        };
        let chunked = of(&[b"chunked"]).expect("a list");
        assert_eq!(
            (chunked.chunked, chunked.chunked_last, chunked.other),
            (1, true, false)
        );
        assert_eq!(of(&[b" Chunked "]).expect("a list").chunked, 1);
        assert_eq!(of(&[b"chunked, chunked"]).expect("a list").chunked, 2);
        assert_eq!(of(&[b"chunked", b"chunked"]).expect("a list").chunked, 2);
        let gzip = of(&[b"gzip;level=1, chunked"]).expect("a list");
        assert!(gzip.other && gzip.chunked_last);
        assert!(!of(&[b"chunked", b"gzip"]).expect("a list").chunked_last);
        for refused in [
            &b""[..],
            b"chunked,",
            b",chunked",
            b"chunked;q=1",
            b"chu nked",
            b"gzip;x, chunked",
            b"\x0bchunked",
        ] {
            assert_eq!(of(&[refused]), None, "{refused:?}");
        }
    }

    #[test]
    fn chunk_size_lines_as_nodes_parser_takes_them() {
        assert_eq!(chunk_size_line(b"3"), Some((3, 0)));
        assert_eq!(chunk_size_line(b"00000000000000000003"), Some((3, 0)));
        assert_eq!(chunk_size_line(b"ffffffffffffffff"), Some((u64::MAX, 0)));
        assert_eq!(chunk_size_line(b"a;x=y"), Some((10, 4)));
        assert_eq!(chunk_size_line(b"1;x;y=\"a \\\" b\""), Some((1, 13)));
        for refused in [
            &b""[..],
            b"zz",
            b"3 ",
            b" 3",
            b"3\t;a=b",
            b"-3",
            b"0x3",
            b"3;",
            b"3; a",
            b"3;a = b",
            b"3;a=b<c",
            b"3;a\x00",
            b"3;a\rb",
            b"3;a=",
            b"3;a=\"open",
            b"10000000000000000",
        ] {
            assert_eq!(chunk_size_line(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn hosts_are_an_authority_without_userinfo() {
        for host in [
            &b""[..],
            b"a",
            b"a.b:8080",
            b"my_host",
            b"[::1]",
            b"[::1]:80",
            b"127.0.0.1:3000",
            b"%41b",
            b"a:",
        ] {
            assert!(is_host(host), "{host:?}");
        }
        for host in [
            &b"a b"[..],
            b"a\tb",
            b"u@a",
            b"a/b",
            b"a:8x",
            b"[::1",
            b"[]",
            b"[::1]x",
            b"%4",
            b"a?b",
            b"a#b",
        ] {
            assert!(!is_host(host), "{host:?}");
        }
    }

    #[test]
    fn field_values_refuse_controls() {
        assert!(b"a\tb c\xe9".iter().all(|&b| is_field_value_byte(b)));
        for b in [0u8, 1, b'\r', b'\n', 0x1f, 0x7f] {
            assert!(!is_field_value_byte(b), "{b:#x}");
        }
    }
}
