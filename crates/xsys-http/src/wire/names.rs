//! A response head's header names put as Node sends them, and its framing read, in one walk over
//! the head as hyper wrote it (names in lower case).
//!
//! Every name goes out in Title-Case, as Express and most middleware spell them, except those the
//! engine's spellings line (`xypriss-spellings`, the last line of that name) lists: each line
//! takes the first listed spelling of its name not used by an earlier line. That line itself is
//! removed.

use crate::header_case::SPELLINGS_NAME;

const SPELLINGS_LENGTH: usize = SPELLINGS_NAME.len();

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
    /// The names of the last heads, line by line: a connection's answers mostly repeat their
    /// names in the same order, and copying a name seen before costs a fraction of casing it.
    seen: SeenNames,
    /// The last head's line count, and what its spellings line did (when it had one): which of
    /// its `names` took which spelling of `spellings`. A head whose names all match the last
    /// head's, line by line, with the same spellings, takes them as they were.
    last_lines: usize,
    last_spelled: Option<Vec<(usize, usize, usize)>>,
}

/// Names by line: for line `k`, `lines[k]` is (offset, length) in `bytes`, which holds the name
/// as it came (`length` bytes) and then as it goes out.
#[derive(Debug, Default)]
struct SeenNames {
    lines: Vec<(usize, usize)>,
    bytes: Vec<u8>,
}

/// Lines past this many, and names longer than this, are cased without copies.
const SEEN_LINES: usize = 64;
const SEEN_LENGTH: usize = 64;

impl SeenNames {
    /// If line `k` of a head has the name line `k` had before at `head[at..]`, puts it as it went
    /// out then and returns where it stops.
    fn put(&self, k: usize, head: &mut [u8], at: usize) -> Option<usize> {
        let &(offset, length) = self.lines.get(k)?;
        let stop = at + length;
        if head.get(stop) != Some(&b':') || head[at..stop] != self.bytes[offset..offset + length] {
            return None;
        }
        head[at..stop].copy_from_slice(&self.bytes[offset + length..offset + 2 * length]);
        Some(stop)
    }

    /// Forgets line `k` and the lines after it.
    fn forget_from(&mut self, k: usize) {
        if let Some(&(offset, _)) = self.lines.get(k) {
            self.lines.truncate(k);
            self.bytes.truncate(offset);
        }
    }

    /// Remembers line `k`'s name, `came` before casing and `cased` after; the lines remembered
    /// after it belonged to another head and are forgotten.
    fn remember(&mut self, k: usize, came: &[u8], cased: &[u8]) {
        if k >= SEEN_LINES {
            return;
        }
        let offset = self
            .lines
            .get(k)
            .map_or(self.bytes.len(), |&(offset, _)| offset);
        self.lines.truncate(k);
        self.bytes.truncate(offset);
        self.lines.push((offset, came.len()));
        self.bytes.extend_from_slice(came);
        self.bytes.extend_from_slice(cased);
    }
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
    // a slice: a byte written through the Vec would make every later access reload it
    let bytes: &mut [u8] = head.as_mut_slice();
    let mut line = 0;
    let mut all_seen = true;
    let last_spelled = scratch.last_spelled.take();
    while at < end {
        // The name as it went out on the same line of an earlier head, or put in Title-Case on
        // the way to its ':' (see `title_case_name`).
        let (stop, colon) = match scratch.seen.put(line, bytes, at) {
            Some(stop) => (stop, true),
            None => {
                let mut came = [0u8; SEEN_LENGTH];
                let kept = (end - at).min(SEEN_LENGTH);
                came[..kept].copy_from_slice(&bytes[at..at + kept]);
                let (stop, colon) = title_case_name(bytes, at);
                // (the blank line that ends the head has no name to see)
                all_seen &= !colon;
                if colon && stop - at <= kept {
                    scratch
                        .seen
                        .remember(line, &came[..stop - at], &bytes[at..stop]);
                } else if colon {
                    // too long to keep: nothing of an older head may stand for this line
                    scratch.seen.forget_from(line);
                }
                (stop, colon)
            }
        };
        line += 1;
        if !colon {
            // a line without a name: the blank line that ends the head
            at = stop + 1;
            continue;
        }
        let line_end = memchr::memchr(b'\n', &bytes[stop..end]).map_or(end, |i| stop + i + 1);
        let name = &bytes[at..stop];
        let value = || bytes[stop + 1..line_end].trim_ascii();
        // by length first: most names are none of these three
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                framing.length = std::str::from_utf8(value())
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok());
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                framing.transfer_encoding = true;
                framing.chunked = value()
                    .rsplit(|&b| b == b',')
                    .next()
                    .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            SPELLINGS_LENGTH if name.eq_ignore_ascii_case(SPELLINGS_NAME.as_bytes()) => {
                if let Some((line, _)) = marker {
                    // An app's header of that name: only the last line is the engine's.
                    scratch.names.push((line, line + SPELLINGS_LENGTH));
                }
                marker = Some((at, line_end));
                at = line_end;
                continue;
            }
            _ => {}
        }
        scratch.names.push((at, stop));
        at = line_end;
    }
    let same_names = all_seen && line == scratch.last_lines;
    scratch.last_lines = line;
    let Some((line, line_end)) = marker else {
        return framing;
    };
    spell(
        head,
        (line, line_end),
        scratch,
        last_spelled.filter(|_| same_names),
    );
    head.drain(line..line_end);
    framing
}

/// Gives each named line the first unused spelling of its name that the line `marker` lists;
/// `last`: what the last head's line did, when its names were these.
fn spell(
    head: &mut [u8],
    (line, line_end): (usize, usize),
    scratch: &mut NameScratch,
    last: Option<Vec<(usize, usize, usize)>>,
) {
    let value = head[line + SPELLINGS_LENGTH + 1..line_end].trim_ascii();
    let fits = |last: &Vec<(usize, usize, usize)>| {
        last.iter().all(|&(name, from, to)| {
            scratch
                .names
                .get(name)
                .is_some_and(|&(name_from, name_to)| name_to - name_from == to - from)
        })
    };
    if let Some(last) = last.filter(|last| *value == *scratch.spellings && fits(last)) {
        for &(name, from, to) in &last {
            let (name_from, name_to) = scratch.names[name];
            head[name_from..name_to].copy_from_slice(&scratch.spellings[from..to]);
        }
        scratch.last_spelled = Some(last);
        return;
    }
    scratch.spellings.clear();
    scratch.spellings.extend_from_slice(value);
    scratch.listed.clear();
    // a bit per listed length (mod 64): most lines have none of them
    let mut lengths = 0u64;
    let mut from = 0;
    for word in scratch.spellings.split(|&b| b == b' ') {
        if !word.is_empty() {
            scratch.listed.push((from, from + word.len(), false));
            lengths |= 1 << (word.len() & 63);
        }
        from += word.len() + 1;
    }
    let mut spelled = Vec::new();
    for (index, &(name_from, name_to)) in scratch.names.iter().enumerate() {
        if lengths & (1 << ((name_to - name_from) & 63)) == 0 {
            continue;
        }
        let name = &mut head[name_from..name_to];
        let found = scratch.listed.iter_mut().find(|(from, to, used)| {
            !*used
                && to - from == name.len()
                && scratch.spellings[*from..*to].eq_ignore_ascii_case(name)
        });
        if let Some((from, to, used)) = found {
            name.copy_from_slice(&scratch.spellings[*from..*to]);
            *used = true;
            spelled.push((index, *from, *to));
        }
    }
    scratch.last_spelled = Some(spelled);
}

/// Puts the name that starts the line at `head[at..]` as Node's most common spelling: upper case
/// at the start and after each `-`. Returns where the name stops, and whether at a `:` (else at
/// the line's `\n`: a line without a name). Eight bytes at a time, read and written in place
/// (the bytes from the stop on kept as they are): a head has some twenty names, and a byte loop
/// over them was most of the walk.
fn title_case_name(head: &mut [u8], at: usize) -> (usize, bool) {
    let mut after_dash = true;
    let mut i = at;
    while i < head.len() {
        let available = (head.len() - i).min(8);
        let word = match head.get(i..i + 8) {
            Some(eight) => u64::from_le_bytes(eight.try_into().unwrap_or([0; 8])),
            // the last bytes of the head (only a line without a name gets here)
            None => {
                let mut bytes = [0u8; 8];
                bytes[..available].copy_from_slice(&head[i..]);
                u64::from_le_bytes(bytes)
            }
        };
        let colons = byte_is(word, b':');
        // a zero byte past the head's end stops the name too
        let past_end = if available == 8 {
            0
        } else {
            HIGH << (available * 8)
        };
        let stops = colons | byte_is(word, b'\n') | past_end;
        let (cased, dash_last) = title_case_word(word, after_dash);
        if stops == 0 {
            head[i..i + 8].copy_from_slice(&cased.to_le_bytes());
            after_dash = dash_last;
            i += 8;
            continue;
        }
        let first = (stops.trailing_zeros() / 8) as usize;
        let name_bytes = if first == 0 {
            0
        } else {
            !0u64 >> (64 - 8 * first)
        };
        let out = (cased & name_bytes) | (word & !name_bytes);
        if available == 8 {
            head[i..i + 8].copy_from_slice(&out.to_le_bytes());
        } else {
            head[i..].copy_from_slice(&out.to_le_bytes()[..available]);
        }
        let colon = (colons >> (first * 8)) & 0x80 != 0;
        return ((i + first).min(head.len()), colon);
    }
    (head.len(), false)
}

/// 0x80 in each byte of `word` equal to `byte` (an ASCII byte), 0 elsewhere.
fn byte_is(word: u64, byte: u8) -> u64 {
    let differs = word ^ (ONES * u64::from(byte));
    !((differs & !HIGH).wrapping_add(!HIGH) | differs) & HIGH
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Eight name bytes (little-endian) with each lower-case letter that starts the name (when
/// `after_dash`) or follows a `-` put in upper case; and whether the last byte is a `-`.
fn title_case_word(word: u64, after_dash: bool) -> (u64, bool) {
    let low7 = word & !HIGH;
    let dashes = byte_is(word, b'-');
    // the bytes that start a word: the first (after a '-' in the previous eight), each after a '-'
    let starts = (dashes << 8) | if after_dash { 0x80 } else { 0 };
    // 0x80 in each byte from 'a' to 'z' (ASCII only)
    let from_a = low7.wrapping_add(ONES * (0x80 - u64::from(b'a'))) & HIGH;
    let past_z = low7.wrapping_add(ONES * (0x80 - u64::from(b'z') - 1)) & HIGH;
    let lower = from_a & !past_z & !word & HIGH;
    // 'a' - 'A' is 0x20: 0x80 >> 2
    (word - ((lower & starts) >> 2), dashes >> 63 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(head: &str) -> (String, Framing) {
        let mut bytes = b"prefix".to_vec();
        bytes.extend_from_slice(head.as_bytes());
        let framing = put_names(&mut bytes, 6, &mut NameScratch::default());
        assert!(
            bytes.starts_with(b"prefix"),
            "bytes before the head untouched"
        );
        (
            String::from_utf8(bytes[6..].to_vec()).expect("ascii"),
            framing,
        )
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

    /// The byte-at-a-time rule, for comparison.
    fn title_case_bytewise(name: &[u8]) -> Vec<u8> {
        let mut upper = true;
        name.iter()
            .map(|&b| {
                let out = if upper { b.to_ascii_uppercase() } else { b };
                upper = b == b'-';
                out
            })
            .collect()
    }

    #[test]
    fn title_case_eight_at_a_time_matches_the_byte_rule() {
        // every token byte in every position of names up to 20 long, dashes anywhere
        let tokens: Vec<u8> = (0u8..128)
            .filter(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            .collect();
        let mut next = crate::testing::seeded(0x9e37_79b9_7f4a_7c15u64);
        for _ in 0..20_000 {
            let len = 1 + next(20);
            let name: Vec<u8> = (0..len)
                .map(|_| {
                    if next(4) == 0 {
                        b'-'
                    } else {
                        tokens[next(tokens.len())]
                    }
                })
                .collect();
            // alone in its buffer, and followed by a value that must not change
            let mut cased = name.clone();
            assert_eq!(title_case_name(&mut cased, 0), (len, false));
            assert_eq!(
                cased,
                title_case_bytewise(&name),
                "{:?}",
                String::from_utf8_lossy(&name)
            );
            let mut line = [&name[..], b": a-b-c-d-e\r\n"].concat();
            assert_eq!(title_case_name(&mut line, 0), (len, true));
            assert_eq!(line[..len], cased[..]);
            assert_eq!(&line[len..], b": a-b-c-d-e\r\n");
        }
    }

    #[test]
    fn names_seen_before_go_out_as_when_cased() {
        let mut next = crate::testing::seeded(0x2545_f491_4f6c_dd1du64);
        let names = [
            "content-type",
            "etag",
            "x-a",
            "X-A",
            "CONTENT-length",
            "x-b-c",
            "a",
            "set-cookie",
            "content-length",
            "xypriss-spellings",
        ];
        let spellings = [
            "ETag",
            "x-A",
            "SET-cookie",
            "Content-TYPE",
            "xypriss-spellings",
            "a",
        ];
        // one writer's buffers across heads that share some of their lines, and none; a head
        // often twice or more in a row, with or without a spellings line, the same or another
        let mut warm = NameScratch::default();
        let mut head = Vec::new();
        for _ in 0..6000 {
            if next(3) != 0 || head.is_empty() {
                head = b"HTTP/1.1 200 OK\r\n".to_vec();
                for _ in 0..next(8) {
                    let name = names[next(names.len())];
                    let value = if name.eq_ignore_ascii_case("content-length") {
                        "0"
                    } else {
                        "v-w"
                    };
                    head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                if next(2) == 0 {
                    let listed: Vec<&str> = (0..next(4))
                        .map(|_| spellings[next(spellings.len())])
                        .collect();
                    let line = format!("xypriss-spellings: {} \r\n", listed.join(" "));
                    head.extend_from_slice(line.as_bytes());
                }
                head.extend_from_slice(b"\r\n");
            }
            let mut cold_head = head.clone();
            let cold = put_names(&mut cold_head, 0, &mut NameScratch::default());
            let mut warm_head = head.clone();
            let framing = put_names(&mut warm_head, 0, &mut warm);
            assert_eq!(
                String::from_utf8_lossy(&warm_head),
                String::from_utf8_lossy(&cold_head),
                "{}",
                String::from_utf8_lossy(&head)
            );
            assert_eq!(framing, cold);
        }
    }

    #[test]
    fn a_head_like_the_last_takes_its_spellings_only_when_they_are_the_same() {
        let mut warm = NameScratch::default();
        let mut put_warm = |head: &str| {
            let mut bytes = head.as_bytes().to_vec();
            put_names(&mut bytes, 0, &mut warm);
            String::from_utf8(bytes).expect("ascii")
        };
        let spelled = "HTTP/1.1 200 OK\r\netag: 1\r\nxypriss-spellings: ETag \r\n\r\n";
        let unspelled = "HTTP/1.1 200 OK\r\netag: 1\r\nxypriss-spellings: \r\n\r\n";
        let longer = "HTTP/1.1 200 OK\r\netag: 1\r\nxypriss-spellings: ETag \r\nx: 2\r\n\r\n";
        for _ in 0..2 {
            assert_eq!(put_warm(spelled), "HTTP/1.1 200 OK\r\nETag: 1\r\n\r\n");
        }
        assert_eq!(put_warm(unspelled), "HTTP/1.1 200 OK\r\nEtag: 1\r\n\r\n");
        assert_eq!(put_warm(spelled), "HTTP/1.1 200 OK\r\nETag: 1\r\n\r\n");
        assert_eq!(
            put_warm(longer),
            "HTTP/1.1 200 OK\r\nETag: 1\r\nX: 2\r\n\r\n"
        );
        let other =
            "HTTP/1.1 200 OK\r\netag: 1\r\nxypriss-spellings: ETag \r\nset-cookie: 2\r\n\r\n";
        assert_eq!(
            put_warm(other),
            "HTTP/1.1 200 OK\r\nETag: 1\r\nSet-Cookie: 2\r\n\r\n"
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
