//! JavaScript RegExps (as `source` and `flags`) tested natively, for cors's `origin`.
//!
//! Why a translation and not the source handed to the `regex` crate: the two syntaxes mostly
//! agree but differ in ways that would silently change which origins pass. Under JavaScript's
//! (Annex B) rules `a{,5}` is the literal text `a{,5}`, `\a`/`\z`/`\<` are the letters, `\s`
//! includes U+00A0, `[]` matches nothing and `.` stops at `\r`; in `regex` these are a
//! quantifier, anchors or escapes, an ASCII class, a syntax error and "anything but `\n`". So
//! the source is parsed here with JavaScript's grammar and re-emitted as an unambiguous `regex`
//! pattern over bytes, one byte per character, which is how Node's parser hands header values to
//! JS (Latin-1). Everything outside a well-understood subset is refused, and the binding keeps
//! such origins in JS:
//!
//! - flags `g` and `y`: `test()` then starts at `lastIndex` and moves it, so the answer depends
//!   on earlier requests; `v` (set notation);
//! - lookaround `(?=` `(?!` `(?<=` `(?<!`, backreferences `\1` `\k<name>`, modifiers `(?i:`;
//! - `\p{...}`, `\u{...}`, characters beyond U+00FF (they never match a Latin-1 value, but
//!   refusing keeps the translation obviously right), and with the `i` flag any character
//!   above U+007F, since JavaScript folds Latin-1 letters (`é`/`É`) and `regex` over bytes does
//!   not;
//! - non-ASCII characters written directly in the source (write them as `\xE9`).
//!
//! What is handled: literals, `.`, `^`, `$`, `|`, groups (capturing, named, non-capturing),
//! the quantifiers with their lazy forms, classes with ranges and negation, `\d \D \w \W \s \S
//! \b \B`, control and hex escapes, identity escapes, and the flags `i`, `m`, `s`, `u`, `d`.
//! `tests/fixtures/gen.mjs` records V8's answers for generated patterns and inputs, and
//! `tests/regexp.rs` checks this translation against them.

use regex::bytes::{Regex, RegexBuilder};

use crate::error::Error;

/// A JavaScript RegExp compiled for native matching.
#[derive(Debug, Clone)]
pub struct JsRegExp {
    source: String,
    flags: String,
    regex: Regex,
}

impl PartialEq for JsRegExp {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.flags == other.flags
    }
}

impl JsRegExp {
    /// Compiles `/source/flags`; an error that [`Error::is_not_native`] when the pattern is
    /// outside what is translated exactly (see the module docs).
    pub fn new(source: &str, flags: &str) -> Result<JsRegExp, Error> {
        let refuse = |why: &str| {
            Error::not_native(format!(
                "the RegExp /{source}/{flags} cannot be matched natively ({why}); it stays in JS"
            ))
        };
        let mut ignore_case = false;
        let mut dot_all = false;
        let mut unicode = false;
        let mut multi_line = false;
        for flag in flags.chars() {
            match flag {
                'i' => ignore_case = true,
                's' => dot_all = true,
                'u' => unicode = true,
                // `m` differs from `regex`'s only at CR, which header values never carry.
                'm' => multi_line = true,
                'd' => {}
                'g' | 'y' => {
                    return Err(refuse("flags g and y make test() depend on earlier calls"))
                }
                _ => return Err(refuse("unsupported flag")),
            }
        }
        let pattern = Translator {
            src: source.as_bytes(),
            at: 0,
            out: String::with_capacity(source.len() * 2),
            ignore_case,
            dot_all,
            unicode,
        }
        .translate()
        .map_err(refuse)?;
        let regex = RegexBuilder::new(&pattern)
            .unicode(false)
            .case_insensitive(ignore_case)
            .multi_line(multi_line)
            .build()
            .map_err(|_| refuse("too large to compile"))?;
        Ok(JsRegExp {
            source: source.to_owned(),
            flags: flags.to_owned(),
            regex,
        })
    }

    /// `regexp.test(input)` for a string of Latin-1 characters given as one byte each.
    pub fn test(&self, input: &[u8]) -> bool {
        self.regex.is_match(input)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn flags(&self) -> &str {
        &self.flags
    }
}

struct Translator<'a> {
    src: &'a [u8],
    at: usize,
    out: String,
    ignore_case: bool,
    dot_all: bool,
    unicode: bool,
}

/// JavaScript's `\s` within Latin-1: tab, LF, VT, FF, CR, space, NBSP.
const SPACE_CLASS_MEMBERS: &str = r"\t\n\x0B\x0C\r\x20\xA0";

/// One class member, or `None` for a class escape spliced in directly.
enum ClassAtom {
    Char(u32),
    Set(String),
}

type Step = Result<(), &'static str>;

impl Translator<'_> {
    fn translate(mut self) -> Result<String, &'static str> {
        if !self.src.is_ascii() {
            return Err("non-ASCII characters in the source");
        }
        self.disjunction()?;
        if self.at != self.src.len() {
            // An unmatched `)`: JavaScript rejects it too, so this is never a valid RegExp.
            return Err("unbalanced parenthesis");
        }
        Ok(self.out)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.src.get(self.at + offset).copied()
    }

    fn disjunction(&mut self) -> Step {
        loop {
            self.alternative()?;
            if self.peek() == Some(b'|') {
                self.at += 1;
                self.out.push('|');
            } else {
                return Ok(());
            }
        }
    }

    fn alternative(&mut self) -> Step {
        while let Some(c) = self.peek() {
            match c {
                b'|' | b')' => return Ok(()),
                b'^' => {
                    self.at += 1;
                    self.out.push('^');
                    self.no_quantifier()?;
                }
                b'$' => {
                    self.at += 1;
                    self.out.push('$');
                    self.no_quantifier()?;
                }
                b'\\' if matches!(self.peek_at(1), Some(b'b' | b'B')) => {
                    self.out.push('\\');
                    self.out.push(char::from(self.src[self.at + 1]));
                    self.at += 2;
                    self.no_quantifier()?;
                }
                b'*' | b'+' | b'?' => return Err("nothing to repeat"),
                b'{' if self.quantifier_braces().is_some() => return Err("nothing to repeat"),
                _ => {
                    self.atom()?;
                    self.quantifier()?;
                }
            }
        }
        Ok(())
    }

    fn no_quantifier(&self) -> Step {
        match self.peek() {
            Some(b'*' | b'+' | b'?') => Err("quantified assertion"),
            Some(b'{') if self.quantifier_braces().is_some() => Err("quantified assertion"),
            _ => Ok(()),
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor: its length and its text; anything else is not a
    /// quantifier (and is literal text, by Annex B).
    fn quantifier_braces(&self) -> Option<(usize, String)> {
        let rest = &self.src[self.at..];
        let close = rest.iter().position(|&b| b == b'}')?;
        let inner = std::str::from_utf8(&rest[1..close]).ok()?;
        let (min, max) = match inner.split_once(',') {
            Some((min, max)) => (min, Some(max)),
            None => (inner, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(min) || max.is_some_and(|m| !m.is_empty() && !digits(m)) {
            return None;
        }
        Some((close + 1, format!("{{{inner}}}")))
    }

    fn quantifier(&mut self) -> Step {
        match self.peek() {
            Some(c @ (b'*' | b'+' | b'?')) => {
                self.at += 1;
                self.out.push(char::from(c));
            }
            Some(b'{') => match self.quantifier_braces() {
                Some((len, text)) => {
                    let bound = |s: &str| s.parse::<u32>().map_err(|_| "repetition too large");
                    let inner = &text[1..text.len() - 1];
                    let (min, max) = inner.split_once(',').unwrap_or((inner, inner));
                    if !max.is_empty() && bound(min)? > bound(max)? {
                        return Err("numbers out of order in quantifier");
                    }
                    self.at += len;
                    self.out.push_str(&text);
                }
                None => return Ok(()),
            },
            _ => return Ok(()),
        }
        if self.peek() == Some(b'?') {
            self.at += 1;
            self.out.push('?');
        }
        Ok(())
    }

    fn atom(&mut self) -> Step {
        let Some(c) = self.peek() else {
            return Ok(());
        };
        match c {
            b'.' => {
                self.at += 1;
                // Line terminators within Latin-1 are LF and CR.
                self.out.push_str(if self.dot_all {
                    r"[\x00-\xFF]"
                } else {
                    r"[^\n\r]"
                });
            }
            b'(' => {
                self.at += 1;
                if self.peek() == Some(b'?') {
                    match (self.peek_at(1), self.peek_at(2)) {
                        (Some(b':'), _) => self.at += 2,
                        (Some(b'<'), Some(b'=' | b'!')) | (Some(b'=' | b'!'), _) => {
                            return Err("lookaround")
                        }
                        (Some(b'<'), _) => {
                            let close = self.src[self.at..]
                                .iter()
                                .position(|&b| b == b'>')
                                .ok_or("unterminated group name")?;
                            self.at += close + 1;
                        }
                        _ => return Err("group modifiers"),
                    }
                }
                self.out.push_str("(?:");
                self.disjunction()?;
                if self.peek() != Some(b')') {
                    return Err("unterminated group");
                }
                self.at += 1;
                self.out.push(')');
            }
            b'[' => self.class()?,
            b'\\' => {
                self.at += 1;
                match self.escape(false)? {
                    ClassAtom::Char(code) => self.literal(code)?,
                    ClassAtom::Set(set) => self.out.push_str(&set),
                }
            }
            // `]`, `{` and `}` stand for themselves where they are not syntax (Annex B).
            c => {
                self.at += 1;
                if self.unicode && matches!(c, b']' | b'{' | b'}') {
                    return Err("lone bracket");
                }
                self.literal(u32::from(c))?;
            }
        }
        Ok(())
    }

    /// After a `\`: one character, or a class escape as a `regex` set.
    fn escape(&mut self, in_class: bool) -> Result<ClassAtom, &'static str> {
        let c = self.peek().ok_or("trailing backslash")?;
        self.at += 1;
        Ok(ClassAtom::Char(match c {
            b'd' => return Ok(ClassAtom::Set(r"[0-9]".to_owned())),
            b'D' => return Ok(ClassAtom::Set(r"[^0-9]".to_owned())),
            b'w' => return Ok(ClassAtom::Set(r"[0-9A-Za-z_]".to_owned())),
            b'W' => return Ok(ClassAtom::Set(r"[^0-9A-Za-z_]".to_owned())),
            b's' => return Ok(ClassAtom::Set(format!("[{SPACE_CLASS_MEMBERS}]"))),
            b'S' => return Ok(ClassAtom::Set(format!("[^{SPACE_CLASS_MEMBERS}]"))),
            b'b' if in_class => 0x08,
            b't' => 0x09,
            b'n' => 0x0a,
            b'v' => 0x0b,
            b'f' => 0x0c,
            b'r' => 0x0d,
            b'0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => 0,
            b'1'..=b'9' | b'0' => return Err("backreference or octal escape"),
            b'c' => match self.peek() {
                Some(l) if l.is_ascii_alphabetic() => {
                    self.at += 1;
                    u32::from(l) % 32
                }
                _ => return Err("\\c without a letter"),
            },
            b'x' => self.hex(2).ok_or("\\x without two hex digits")?,
            b'u' => {
                if self.peek() == Some(b'{') {
                    return Err("\\u{...}");
                }
                let code = self.hex(4).ok_or("\\u without four hex digits")?;
                if (0xd800..0xe000).contains(&code) {
                    return Err("surrogate escape");
                }
                code
            }
            b'k' | b'p' | b'P' => return Err("\\k, \\p or \\P"),
            // Identity escapes: in JavaScript `\a` is `a`; letters that mean something here
            // but not there are simply emitted as the letter.
            other => u32::from(other),
        }))
    }

    fn hex(&mut self, digits: usize) -> Option<u32> {
        let text = self.src.get(self.at..self.at + digits)?;
        if !text.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let value = u32::from_str_radix(std::str::from_utf8(text).ok()?, 16).ok()?;
        self.at += digits;
        Some(value)
    }

    fn check_char(&self, code: u32) -> Step {
        if code > 0xff {
            return Err("a character beyond U+00FF");
        }
        if self.ignore_case && code > 0x7f {
            return Err("a non-ASCII character under the i flag");
        }
        Ok(())
    }

    fn literal(&mut self, code: u32) -> Step {
        self.check_char(code)?;
        self.push_char(code);
        Ok(())
    }

    fn push_char(&mut self, code: u32) {
        match char::from_u32(code) {
            Some(c) if c.is_ascii_alphanumeric() => self.out.push(c),
            _ => self.out.push_str(&format!(r"\x{code:02X}")),
        }
    }

    fn class(&mut self) -> Step {
        self.at += 1;
        let negated = self.peek() == Some(b'^');
        if negated {
            self.at += 1;
        }
        let mut members: Vec<String> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated class");
            };
            if c == b']' {
                self.at += 1;
                break;
            }
            let first = self.class_atom()?;
            // A range `a-b` needs single characters on both sides (and `-` before `]` is literal).
            if self.peek() == Some(b'-') && self.peek_at(1).is_some_and(|n| n != b']') {
                self.at += 1;
                let second = self.class_atom()?;
                match (first, second) {
                    (ClassAtom::Char(lo), ClassAtom::Char(hi)) => {
                        if lo > hi {
                            return Err("class range out of order");
                        }
                        self.check_char(hi)?;
                        members.push(format!(r"\x{lo:02X}-\x{hi:02X}"));
                    }
                    _ => return Err("class escape in a range"),
                }
            } else {
                match first {
                    ClassAtom::Char(code) => members.push(format!(r"\x{code:02X}")),
                    ClassAtom::Set(set) => members.push(set),
                }
            }
        }
        // Nested classes are unions in `regex`, which keeps `[\S\d]` exact.
        match (members.is_empty(), negated) {
            (true, false) => self.out.push_str(r"[^\x00-\xFF]"),
            (true, true) => self.out.push_str(r"[\x00-\xFF]"),
            (false, false) => self.out.push_str(&format!("[{}]", members.join(""))),
            (false, true) => self.out.push_str(&format!("[^{}]", members.join(""))),
        }
        Ok(())
    }

    fn class_atom(&mut self) -> Result<ClassAtom, &'static str> {
        let c = self.peek().ok_or("unterminated class")?;
        self.at += 1;
        let atom = if c == b'\\' {
            self.escape(true)?
        } else {
            ClassAtom::Char(u32::from(c))
        };
        if let ClassAtom::Char(code) = atom {
            self.check_char(code)?;
        }
        Ok(atom)
    }
}

#[cfg(test)]
mod tests {
    use super::JsRegExp;

    fn test(source: &str, flags: &str, input: &str) -> bool {
        JsRegExp::new(source, flags)
            .expect("translatable")
            .test(input.as_bytes())
    }

    #[test]
    fn javascript_meanings_are_kept() {
        assert!(test(
            r"^https:\/\/(.+\.)?example\.com$",
            "",
            "https://a.example.com"
        ));
        assert!(!test(
            r"^https:\/\/(.+\.)?example\.com$",
            "",
            "https://a.example.com.evil"
        ));
        assert!(test("a{,5}", "", "a{,5}"));
        assert!(!test("a{,5}", "", "aaa"));
        assert!(test(r"\a\z", "", "az"));
        // A UTF-8 NBSP is two bytes, not the one Latin-1 byte Node would see.
        assert!(!test(r"^\s$", "", "\u{a0}"));
        assert!(JsRegExp::new(r"^\s$", "").expect("ok").test(b"\xa0"));
        assert!(!test("[]", "", "a"));
        assert!(test("[^]", "", "a"));
        assert!(test("EXAMPLE", "i", "example"));
    }

    #[test]
    fn stateful_and_unsupported_patterns_stay_in_js() {
        for (source, flags) in [
            ("a", "g"),
            ("a", "y"),
            ("(?=a)", ""),
            (r"(a)\1", ""),
            (r"\p{L}", "u"),
            ("\u{e9}", ""),
            (r"\xe9", "i"),
            ("a", "v"),
        ] {
            let error = JsRegExp::new(source, flags).expect_err(source);
            assert!(error.is_not_native(), "{source}");
        }
    }
}
