//! Runs a compiled variant the way the JS regular expression engine runs
//! path-to-regexp's output, so that matches *and* capture boundaries agree.
//!
//! The regular expression of a variant `V` is `^V(?:/$)?$` for routes and
//! `^V(?:/$)?(?=/|$)` for middleware (the `(?:/$)?` only without strict routing).
//! JS tries alternatives in order and greedy repetitions longest first; this matcher
//! does the same depth-first. Without backreferences, whether the rest of the expression
//! matches from a position does not depend on earlier captures, so failures are memoised
//! per (element, position) and a hostile path costs polynomial time, not exponential.

use std::ops::Range;

use crate::pattern::{Alt, Elem, Variant};

/// How a variant is anchored at its end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    /// `trailing: !strict`: one final `/` may follow.
    pub(crate) trailing: bool,
    /// Routes must consume the whole path; middleware stops at a `/` or the end.
    pub(crate) end: bool,
}

/// A successful match: the length of `m[0]` and the capture ranges, in capture order.
pub(crate) struct Found {
    pub(crate) matched: usize,
    pub(crate) captures: Vec<Range<usize>>,
}

/// Matches `path` (the original path, not case-folded) against `variant`.
pub(crate) fn run(
    variant: &Variant,
    path: &str,
    case_sensitive: bool,
    tail: Tail,
) -> Option<Found> {
    let elems = &variant.elems;
    let captures = variant.names.len();
    let width = path.len() + 1;
    let mut run = Run {
        elems,
        path,
        case_sensitive,
        tail,
        captures: vec![0..0; captures],
        // One or no capture cannot backtrack more than linearly: skip the memo then.
        failed: (captures > 1).then(|| vec![0u64; ((elems.len() + 1) * width).div_ceil(64)]),
        width,
    };
    let matched = run.at(0, 0, 0)?;
    Some(Found {
        matched,
        captures: run.captures,
    })
}

struct Run<'a> {
    elems: &'a [Elem],
    path: &'a str,
    case_sensitive: bool,
    tail: Tail,
    captures: Vec<Range<usize>>,
    failed: Option<Vec<u64>>,
    width: usize,
}

impl Run<'_> {
    /// Matches elements `elem..` from byte `pos`; `capture` is the index of the next capture.
    fn at(&mut self, elem: usize, capture: usize, pos: usize) -> Option<usize> {
        let key = elem * self.width + pos;
        if let Some(failed) = &self.failed {
            if failed[key / 64] & (1 << (key % 64)) != 0 {
                return None;
            }
        }
        let found = self.step(elem, capture, pos);
        if found.is_none() {
            if let Some(failed) = &mut self.failed {
                failed[key / 64] |= 1 << (key % 64);
            }
        }
        found
    }

    fn step(&mut self, elem: usize, capture: usize, pos: usize) -> Option<usize> {
        let elems = self.elems;
        let Some(current) = elems.get(elem) else {
            return self.end(pos);
        };
        match current {
            Elem::Text(text) => {
                if self.starts_with(pos, text) {
                    self.at(elem + 1, capture, pos + text.len())
                } else {
                    None
                }
            }
            Elem::Capture(alts) => {
                for alt in alts.iter() {
                    match alt {
                        Alt::Repeat { not } => {
                            let mut end = pos;
                            while end < self.path.len() && !not.iter().any(|s| self.forbids(end, s))
                            {
                                end += char_width(self.path.as_bytes()[end]);
                            }
                            // Greedy: longest run first, then give back one character at a time.
                            while end > pos {
                                self.captures[capture] = pos..end;
                                if let Some(matched) = self.at(elem + 1, capture + 1, end) {
                                    return Some(matched);
                                }
                                end -= 1;
                                while !self.path.is_char_boundary(end) {
                                    end -= 1;
                                }
                            }
                        }
                        Alt::Literal(text) => {
                            if self.starts_with(pos, text) {
                                let end = pos + text.len();
                                self.captures[capture] = pos..end;
                                if let Some(matched) = self.at(elem + 1, capture + 1, end) {
                                    return Some(matched);
                                }
                            }
                        }
                    }
                }
                None
            }
        }
    }

    /// `(?:/$)?` then `$` (routes) or `(?=/|$)` (middleware); returns the end of `m[0]`.
    fn end(&self, pos: usize) -> Option<usize> {
        let rest = &self.path.as_bytes()[pos..];
        if self.tail.trailing && rest == b"/" {
            return Some(self.path.len());
        }
        if rest.is_empty() || (!self.tail.end && rest[0] == b'/') {
            return Some(pos);
        }
        None
    }

    /// A negative look-ahead for `s` (empty: none) at `pos`.
    fn forbids(&self, pos: usize, s: &[u8]) -> bool {
        !s.is_empty() && self.starts_with(pos, s)
    }

    fn starts_with(&self, pos: usize, text: &[u8]) -> bool {
        let Some(candidate) = self.path.as_bytes().get(pos..pos + text.len()) else {
            return false;
        };
        if self.case_sensitive {
            candidate == text
        } else {
            // ASCII folding is exact here: the table defers non-ASCII paths when the
            // patterns have non-ASCII text, and JS never folds ASCII to non-ASCII.
            candidate.eq_ignore_ascii_case(text)
        }
    }
}

/// Length of the UTF-8 sequence that starts with `lead`.
fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}
