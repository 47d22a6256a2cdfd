//! Express path patterns, parsed and compiled exactly as path-to-regexp 8.4 does
//! for router@2's `Layer`.
//!
//! path-to-regexp builds one JS regular expression per pattern: the optional groups
//! expanded into alternatives ("variants"), each variant a sequence of literal text and
//! captures, where a capture is a greedy run of characters that must not start a
//! "backtrack" string (the text around it), sometimes with a literal alternative.
//! This module ports the parser and that construction; [`crate::fallback`] runs the
//! result with the same backtracking order as the JS engine.

use crate::Error;

/// The delimiter router@2 leaves path-to-regexp at (its default).
const DELIMITER: &str = "/";

/// path-to-regexp refuses patterns whose optional groups expand past this many variants.
const MAX_COMBINATIONS: usize = 256;

/// A parsed pattern token, as path-to-regexp's `parse` returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    Param(String),
    Wildcard(String),
    Group(Vec<Token>),
}

/// A token of one variant: groups are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    Param(String),
    Wildcard(String),
}

/// One alternative of the pattern's regular expression.
#[derive(Debug, Clone)]
pub(crate) struct Variant {
    /// The variant's tokens, kept to translate it for the trie.
    pub(crate) parts: Vec<Part>,
    /// The compiled form the fallback matcher runs.
    pub(crate) elems: Vec<Elem>,
    /// Capture names, in capture order.
    pub(crate) names: Vec<Box<str>>,
}

/// A piece of a variant's regular expression.
#[derive(Debug, Clone)]
pub(crate) enum Elem {
    /// Literal text (case-folded at match time unless case sensitive).
    Text(Box<[u8]>),
    /// A capture group: alternatives tried in order.
    Capture(Box<[Alt]>),
}

/// One alternative inside a capture group.
#[derive(Debug, Clone)]
pub(crate) enum Alt {
    /// `(?:(?!a|b)[^])+`, greedy: one or more characters, none of which starts `a` or `b`
    /// (an empty string forbids nothing). This single form covers every `negate()` output.
    Repeat { not: [Box<[u8]>; 2] },
    /// The literal alternative path-to-regexp adds to a second parameter in a segment.
    Literal(Box<[u8]>),
}

/// router@2's `loosen`: without strict routing, trailing slashes of the pattern are dropped
/// (the match then allows one trailing slash), except for the pattern `/` itself.
pub(crate) fn loosen(pattern: &str) -> &str {
    if pattern == "/" {
        pattern
    } else {
        pattern.trim_end_matches('/')
    }
}

/// Parses and compiles `pattern` into its variants, in the regular expression's
/// alternation order, failing exactly where path-to-regexp throws.
pub(crate) fn compile(pattern: &str) -> Result<Vec<Variant>, Error> {
    let tokens = Parser::new(pattern).consume_until(None)?;
    let mut variants = Vec::new();
    let mut current = Vec::new();
    flatten(&[&tokens], &mut current, &mut |parts| {
        if variants.len() >= MAX_COMBINATIONS {
            return Err(Error::pattern(
                "Too many path combinations".to_owned(),
                pattern,
                None,
            ));
        }
        variants.push(compile_variant(parts, pattern)?);
        Ok(())
    })?;
    Ok(variants)
}

struct Parser<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    index: usize,
}

impl<'a> Parser<'a> {
    fn new(pattern: &'a str) -> Self {
        Self {
            pattern,
            chars: pattern.chars().collect(),
            index: 0,
        }
    }

    fn error(&self, message: String, index: usize) -> Error {
        Error::pattern(message, self.pattern, Some(index))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    /// path-to-regexp's `consumeUntil`: tokens up to `end` (`}` inside a group).
    fn consume_until(&mut self, end: Option<char>) -> Result<Vec<Token>, Error> {
        let mut output = Vec::new();
        let mut text = String::new();
        let flush = |text: &mut String, output: &mut Vec<Token>| {
            if !text.is_empty() {
                output.push(Token::Text(std::mem::take(text)));
            }
        };
        while let Some(value) = self.peek() {
            self.index += 1;
            if Some(value) == end {
                flush(&mut text, &mut output);
                return Ok(output);
            }
            match value {
                '\\' => {
                    let Some(escaped) = self.peek() else {
                        return Err(self.error(
                            format!("Unexpected end after \\ at index {}", self.index),
                            self.index,
                        ));
                    };
                    text.push(escaped);
                    self.index += 1;
                }
                ':' | '*' => {
                    let name = self.name()?;
                    flush(&mut text, &mut output);
                    output.push(if value == ':' {
                        Token::Param(name)
                    } else {
                        Token::Wildcard(name)
                    });
                }
                '{' => {
                    flush(&mut text, &mut output);
                    let group = self.consume_until(Some('}'))?;
                    output.push(Token::Group(group));
                }
                '}' | '(' | ')' | '[' | ']' | '+' | '?' | '!' => {
                    let at = self.index - 1;
                    return Err(self.error(format!("Unexpected {value} at index {at}"), at));
                }
                _ => text.push(value),
            }
        }
        if let Some(end) = end {
            return Err(self.error(
                format!("Unexpected end at index {}, expected {end}", self.index),
                self.index,
            ));
        }
        flush(&mut text, &mut output);
        Ok(output)
    }

    /// The name after `:` or `*`: an identifier or a quoted string.
    fn name(&mut self) -> Result<String, Error> {
        let mut name = String::new();
        if self.is_id(IdClass::Start)? {
            loop {
                if let Some(c) = self.peek() {
                    name.push(c);
                }
                self.index += 1;
                if !self.is_id(IdClass::Continue)? {
                    break;
                }
            }
        } else if self.peek() == Some('"') {
            let quote_start = self.index;
            let mut closed = false;
            // A literal port of path-to-regexp's loop, including its look-ahead order.
            while self.index < self.chars.len() {
                self.index += 1;
                if self.peek() == Some('"') {
                    self.index += 1;
                    closed = true;
                    break;
                }
                if self.peek() == Some('\\') {
                    self.index += 1;
                }
                // Past the end JS appends "undefined", but the quote is then unterminated.
                if let Some(c) = self.peek() {
                    name.push(c);
                }
            }
            if !closed {
                return Err(self.error(
                    format!("Unterminated quote at index {quote_start}"),
                    quote_start,
                ));
            }
        }
        if name.is_empty() {
            return Err(self.error(
                format!("Missing parameter name at index {}", self.index),
                self.index,
            ));
        }
        Ok(name)
    }

    /// Whether the next character is in `ID_Start`/`ID_Continue` (plus `$`, `_`, ZWNJ, ZWJ),
    /// decided for ASCII; a non-ASCII character here is refused as unsupported.
    fn is_id(&self, class: IdClass) -> Result<bool, Error> {
        match self.peek() {
            None => Ok(false),
            Some(c) if !c.is_ascii() => Err(Error::unsupported(self.pattern, self.index)),
            Some(c) => Ok(match class {
                IdClass::Start => c.is_ascii_alphabetic() || c == '$' || c == '_',
                IdClass::Continue => c.is_ascii_alphanumeric() || c == '$' || c == '_',
            }),
        }
    }
}

#[derive(Clone, Copy)]
enum IdClass {
    Start,
    Continue,
}

/// path-to-regexp's `flatten`: every combination of optional groups, each group's
/// "present" variants before its "absent" ones. `rest` holds the token slices still to
/// walk, innermost first.
fn flatten<'t>(
    rest: &[&'t [Token]],
    current: &mut Vec<&'t Token>,
    emit: &mut dyn FnMut(&[&'t Token]) -> Result<(), Error>,
) -> Result<(), Error> {
    let Some((first, later)) = rest.split_first() else {
        return emit(current);
    };
    let len = current.len();
    for (i, token) in first.iter().enumerate() {
        if let Token::Group(inner) = token {
            let mut with_group: Vec<&[Token]> = Vec::with_capacity(later.len() + 2);
            with_group.push(inner);
            with_group.push(&first[i + 1..]);
            with_group.extend_from_slice(later);
            let before = current.len();
            flatten(&with_group, current, emit)?;
            current.truncate(before);
        } else {
            current.push(token);
        }
    }
    flatten(later, current, emit)?;
    current.truncate(len);
    Ok(())
}

/// path-to-regexp's `toRegExpSource` for one variant.
fn compile_variant(tokens: &[&Token], pattern: &str) -> Result<Variant, Error> {
    let parts: Vec<Part> = tokens
        .iter()
        .filter_map(|token| match token {
            Token::Text(text) => Some(Part::Text(text.clone())),
            Token::Param(name) => Some(Part::Param(name.clone())),
            Token::Wildcard(name) => Some(Part::Wildcard(name.clone())),
            Token::Group(_) => None,
        })
        .collect();

    let mut elems: Vec<Elem> = Vec::new();
    let mut names = Vec::new();
    let mut backtrack = String::new();
    let mut wildcard_backtrack = String::new();
    // 0: none yet, 1: parameter, 2: wildcard.
    let mut prev_capture = 0u8;
    // Bit 1: parameter seen in this segment, bit 2: wildcard seen in this segment.
    let mut segment_capture = 0u8;

    for (index, part) in parts.iter().enumerate() {
        let next = index + 1;
        let (name, kind) = match part {
            Part::Text(value) => {
                match elems.last_mut() {
                    Some(Elem::Text(text)) => {
                        *text = [&text[..], value.as_bytes()].concat().into_boxed_slice();
                    }
                    _ => elems.push(Elem::Text(value.as_bytes().into())),
                }
                backtrack.push_str(value);
                if prev_capture == 2 {
                    wildcard_backtrack.push_str(value);
                }
                if value.contains(DELIMITER) {
                    segment_capture = 0;
                }
                continue;
            }
            Part::Param(name) => (name, "param"),
            Part::Wildcard(name) => (name, "wildcard"),
        };
        if prev_capture != 0 && backtrack.is_empty() {
            return Err(Error::pattern(
                format!("Missing text before \"{name}\" {kind}"),
                pattern,
                None,
            ));
        }
        let alts = if let Part::Param(_) = part {
            let alts = if segment_capture & 2 != 0 {
                vec![repeat(DELIMITER, &backtrack)]
            } else if has_wildcard_in_segment(&parts[next..]) {
                vec![repeat(DELIMITER, &peek_text(&parts[next..]))]
            } else if segment_capture & 1 != 0 {
                vec![
                    repeat(DELIMITER, &backtrack),
                    Alt::Literal(backtrack.as_bytes().into()),
                ]
            } else {
                vec![repeat(DELIMITER, "")]
            };
            prev_capture = 1;
            segment_capture |= 1;
            alts
        } else {
            let alts = if segment_capture & 2 != 0 {
                vec![repeat(&backtrack, "")]
            } else if !wildcard_backtrack.is_empty() {
                vec![repeat(&wildcard_backtrack, ""), repeat(DELIMITER, "")]
            } else {
                vec![repeat("", "")]
            };
            wildcard_backtrack.clear();
            prev_capture = 2;
            segment_capture |= 2;
            alts
        };
        elems.push(Elem::Capture(alts.into_boxed_slice()));
        names.push(name.as_str().into());
        backtrack.clear();
    }
    Ok(Variant {
        parts,
        elems,
        names,
    })
}

fn repeat(a: &str, b: &str) -> Alt {
    Alt::Repeat {
        not: [a.as_bytes().into(), b.as_bytes().into()],
    }
}

/// `hasInSegment(index, "wildcard")`: a wildcard before the next text holding a `/`.
fn has_wildcard_in_segment(parts: &[Part]) -> bool {
    for part in parts {
        match part {
            Part::Wildcard(_) => return true,
            Part::Text(text) if text.contains(DELIMITER) => return false,
            Part::Text(_) | Part::Param(_) => {}
        }
    }
    false
}

/// `peekText(index)`: the text tokens right ahead, concatenated.
fn peek_text(parts: &[Part]) -> String {
    parts
        .iter()
        .map_while(|part| match part {
            Part::Text(text) => Some(text.as_str()),
            Part::Param(_) | Part::Wildcard(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(pattern: &str) -> Vec<Vec<Part>> {
        compile(pattern)
            .unwrap_or_default()
            .into_iter()
            .map(|variant| variant.parts)
            .collect()
    }

    fn text(s: &str) -> Part {
        Part::Text(s.to_owned())
    }

    fn param(s: &str) -> Part {
        Part::Param(s.to_owned())
    }

    #[test]
    fn groups_expand_present_first() {
        assert_eq!(
            shapes("/a{/b{/c}}/d"),
            vec![
                vec![text("/a"), text("/b"), text("/c"), text("/d")],
                vec![text("/a"), text("/b"), text("/d")],
                vec![text("/a"), text("/d")],
            ]
        );
    }

    #[test]
    fn sibling_groups_expand_left_major() {
        assert_eq!(
            shapes("{:a}{-:b}"),
            vec![
                vec![param("a"), text("-"), param("b")],
                vec![param("a")],
                vec![text("-"), param("b")],
                vec![],
            ]
        );
    }

    #[test]
    fn empty_group_is_two_equal_variants() {
        assert_eq!(shapes("/a{}"), vec![vec![text("/a")], vec![text("/a")]]);
    }

    #[test]
    fn eight_groups_hit_the_combination_limit() {
        // 2^8 = 256 variants is allowed; the 257th is not.
        assert!(compile("{a}{b}{c}{d}{e}{f}{g}{h}").is_ok());
        let error = compile("{a}{b}{c}{d}{e}{f}{g}{h}{i}").err();
        assert!(error.is_some_and(|e| e.to_string().starts_with("Too many path combinations")));
    }

    #[test]
    fn loosen_keeps_root_and_strips_other_trailing_slashes() {
        assert_eq!(loosen("/"), "/");
        assert_eq!(loosen("//"), "");
        assert_eq!(loosen("/a//"), "/a");
        assert_eq!(loosen("/a"), "/a");
    }
}
