//! The matchit side of the table.
//!
//! matchit answers one route per lookup (static segments before parameters), but Express
//! runs *every* layer whose pattern matches: `/users/new` and `/users/:id` both match
//! `/users/new`, and so does the middleware `/users`. So patterns are spread over
//! levels, each a matchit router holding only patterns that no single path can match
//! twice; a lookup asks every level. Two patterns share a level only when the
//! intersection of their languages is empty, which [`overlaps`] decides exactly on the
//! small automata of the matchit patterns.
//!
//! Only the patterns whose matchit semantics equal path-to-regexp's go here (see
//! [`translate`]); everything else runs in [`crate::fallback`].

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Range};

use crate::pattern::Part;

/// A variant in matchit form.
pub(crate) struct Key {
    /// The matchit route, parameters named by position so equal shapes share one entry.
    route: String,
    shape: Vec<Atom>,
    /// Ends with a wildcard, which swallows any trailing slash or continuation itself.
    ends_with_wildcard: bool,
}

/// One symbol of a matchit route, for the overlap test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Atom {
    Byte(u8),
    /// `{p}`: one or more bytes other than `/`.
    Segment,
    /// `{*r}`: one or more bytes, at the end.
    Rest,
}

/// matchit would normalise names to `a`..`z` and panic past that; stay far below.
const MAX_PARAMS: usize = 16;

/// The matchit form of a variant, when matchit matches it exactly as path-to-regexp does:
/// static text, parameters that fill a whole segment (path-to-regexp's plain `[^/]+`,
/// no backtrack rule involved) and at most one wildcard, filling the last segment
/// (path-to-regexp's `[^]+`). Case-insensitive tables fold ASCII in the route and the path.
pub(crate) fn translate(parts: &[Part], case_sensitive: bool) -> Option<Key> {
    let mut route = String::new();
    let mut shape = Vec::new();
    let mut params = 0;
    for (index, part) in parts.iter().enumerate() {
        let after_slash = shape.last() == Some(&Atom::Byte(b'/'));
        match part {
            Part::Text(text) => {
                for c in text.chars() {
                    let c = if case_sensitive {
                        c
                    } else {
                        c.to_ascii_lowercase()
                    };
                    match c {
                        '{' => route.push_str("{{"),
                        '}' => route.push_str("}}"),
                        _ => route.push(c),
                    }
                    let mut buf = [0; 4];
                    shape.extend(c.encode_utf8(&mut buf).bytes().map(Atom::Byte));
                }
            }
            Part::Param(_) => {
                let segment_ends = match parts.get(index + 1) {
                    None => true,
                    Some(Part::Text(next)) => next.starts_with('/'),
                    Some(Part::Param(_) | Part::Wildcard(_)) => false,
                };
                if !after_slash || !segment_ends || params == MAX_PARAMS {
                    return None;
                }
                route.push_str(&format!("{{p{params}}}"));
                shape.push(Atom::Segment);
                params += 1;
            }
            Part::Wildcard(_) => {
                if !after_slash || index + 1 != parts.len() {
                    return None;
                }
                route.push_str("{*r}");
                shape.push(Atom::Rest);
            }
        }
    }
    let ends_with_wildcard = shape.last() == Some(&Atom::Rest);
    Some(Key {
        route,
        shape,
        ends_with_wildcard,
    })
}

impl Key {
    /// The matchit routes standing for the variant: the variant itself; with a trailing
    /// slash when one is allowed; and for middleware the continuation `P/{*r}`, since a
    /// prefix match must stop at a `/`. A final wildcard already swallows both.
    /// The flag marks the continuation.
    pub(crate) fn routes(&self, trailing: bool, end: bool) -> Vec<(String, Vec<Atom>, bool)> {
        let mut routes = vec![(self.route.clone(), self.shape.clone(), false)];
        if self.ends_with_wildcard {
            return routes;
        }
        let with = |suffix: &str, atoms: &[Atom]| {
            let mut shape = self.shape.clone();
            shape.extend_from_slice(atoms);
            (format!("{}{suffix}", self.route), shape)
        };
        if trailing {
            let (route, shape) = with("/", &[Atom::Byte(b'/')]);
            routes.push((route, shape, false));
        }
        if !end {
            let (route, shape) = with("/{*r}", &[Atom::Byte(b'/'), Atom::Rest]);
            routes.push((route, shape, true));
        }
        routes
    }
}

/// What a matchit entry leads to: one layer's variant (several layers can share an entry).
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) slot: usize,
    pub(crate) rank: (usize, usize),
    pub(crate) names: Box<[Box<str>]>,
    /// The middleware continuation `P/{*r}`: `m[0]` stops before the `/`, and the last
    /// matchit parameter is not a layer parameter.
    pub(crate) continuation: bool,
}

/// A trie hit: the target and the byte ranges of matchit's parameters, in path order.
pub(crate) struct TrieHit<'t> {
    pub(crate) target: &'t Target,
    pub(crate) params: Vec<Range<usize>>,
}

#[derive(Default)]
pub(crate) struct Trie {
    levels: Vec<Level>,
    /// Targets per entry; matchit values are indices into this.
    entries: Vec<Vec<Target>>,
    /// Entry of each route already inserted.
    routes: HashMap<String, usize>,
}

#[derive(Default)]
struct Level {
    router: matchit::Router<usize>,
    /// In insertion order, to rebuild the router.
    members: Vec<Member>,
    /// Members by their leading static bytes. Two routes can only overlap when one's
    /// static prefix is a prefix of the other's, so an insert checks those alone
    /// instead of the whole level.
    by_prefix: BTreeMap<Vec<u8>, Vec<usize>>,
}

struct Member {
    route: String,
    shape: Vec<Atom>,
    entry: usize,
}

impl Trie {
    /// Adds `target` under `route`. Gives the target back when matchit refuses the route
    /// even in an empty router; the caller then matches the variant in the fallback.
    pub(crate) fn insert(
        &mut self,
        route: String,
        shape: Vec<Atom>,
        target: Target,
    ) -> Result<(), Target> {
        if let Some(&entry) = self.routes.get(&route) {
            self.entries[entry].push(target);
            return Ok(());
        }
        let entry = self.entries.len();
        let mut placed = false;
        for level in &mut self.levels {
            if level.overlaps(&shape) {
                continue;
            }
            if level.try_insert(&route, entry) {
                level.add_member(route.clone(), shape.clone(), entry);
                placed = true;
                break;
            }
        }
        if !placed {
            let mut level = Level::default();
            if !level.try_insert(&route, entry) {
                return Err(target);
            }
            level.add_member(route.clone(), shape, entry);
            self.levels.push(level);
        }
        self.entries.push(vec![target]);
        self.routes.insert(route, entry);
        Ok(())
    }

    /// Every target whose route matches `path` (already case-folded when the table is
    /// case-insensitive), at most one entry per level.
    pub(crate) fn find<'t>(&'t self, path: &str, hits: &mut Vec<TrieHit<'t>>) {
        let base = path.as_ptr() as usize;
        for level in &self.levels {
            let Ok(found) = level.router.at(path) else {
                continue;
            };
            // matchit hands out slices of `path`; keep their byte ranges so the caller
            // can take the values from the original, unfolded path.
            let params: Vec<Range<usize>> = found
                .params
                .iter()
                .map(|(_, value)| {
                    let start = value.as_ptr() as usize - base;
                    start..start + value.len()
                })
                .collect();
            for target in &self.entries[*found.value] {
                hits.push(TrieHit {
                    target,
                    params: params.clone(),
                });
            }
        }
    }
}

impl Level {
    /// Whether some member can match a path that `shape` matches.
    fn overlaps(&self, shape: &[Atom]) -> bool {
        let prefix = static_prefix(shape);
        let shorter = (0..=prefix.len()).filter_map(|len| self.by_prefix.get(&prefix[..len]));
        let longer = self
            .by_prefix
            .range::<[u8], _>((Bound::Excluded(&prefix[..]), Bound::Unbounded))
            .take_while(|(other, _)| other.starts_with(&prefix))
            .map(|(_, members)| members);
        shorter
            .chain(longer)
            .flatten()
            .any(|&member| overlaps(&self.members[member].shape, shape))
    }

    fn add_member(&mut self, route: String, shape: Vec<Atom>, entry: usize) {
        self.by_prefix
            .entry(static_prefix(&shape))
            .or_default()
            .push(self.members.len());
        self.members.push(Member {
            route,
            shape,
            entry,
        });
    }

    /// Inserts `route`; on refusal, rebuilds the router from its members, because a failed
    /// matchit insert may leave split nodes behind that would change later lookups.
    fn try_insert(&mut self, route: &str, entry: usize) -> bool {
        if self.router.insert(route, entry).is_ok() {
            return true;
        }
        let mut router = matchit::Router::new();
        for member in &self.members {
            // The same inserts, in the same order, succeeded before.
            let _ = router.insert(member.route.as_str(), member.entry);
        }
        self.router = router;
        false
    }
}

/// The bytes a shape starts with, up to its first parameter.
fn static_prefix(shape: &[Atom]) -> Vec<u8> {
    shape
        .iter()
        .map_while(|atom| match atom {
            Atom::Byte(byte) => Some(*byte),
            Atom::Segment | Atom::Rest => None,
        })
        .collect()
}

/// Whether some path matches both shapes: a search of the product of their automata.
///
/// Each shape is an automaton whose states are `(atom index, inside a repetition)`;
/// a transition reads one byte class (a byte, "not `/`", or "any").
pub(crate) fn overlaps(a: &[Atom], b: &[Atom]) -> bool {
    type State = (usize, bool);
    let states = |n: usize| 2 * (n + 1);
    let index = |s: State| 2 * s.0 + usize::from(s.1);
    let mut seen = vec![false; states(a.len()) * states(b.len())];
    let mut stack: Vec<(State, State)> = vec![((0, false), (0, false))];
    while let Some((x, y)) = stack.pop() {
        for x in closure(x) {
            for y in closure(y) {
                if x == (a.len(), false) && y == (b.len(), false) {
                    return true;
                }
                let (Some((cx, nx)), Some((cy, ny))) = (step(a, x), step(b, y)) else {
                    continue;
                };
                if intersects(cx, cy) {
                    let key = index(nx) * states(b.len()) + index(ny);
                    if !seen[key] {
                        seen[key] = true;
                        stack.push((nx, ny));
                    }
                }
            }
        }
    }
    false
}

/// A state, and the state after it when it is inside a repetition that may stop.
fn closure(state: (usize, bool)) -> impl Iterator<Item = (usize, bool)> {
    let exit = state.1.then_some((state.0 + 1, false));
    std::iter::once(state).chain(exit)
}

/// The one transition out of a state: the byte class it reads and where it leads.
fn step(shape: &[Atom], (at, _): (usize, bool)) -> Option<(Atom, (usize, bool))> {
    let atom = *shape.get(at)?;
    Some(match atom {
        Atom::Byte(_) => (atom, (at + 1, false)),
        Atom::Segment | Atom::Rest => (atom, (at, true)),
    })
}

/// Whether two byte classes share a byte.
fn intersects(a: Atom, b: Atom) -> bool {
    match (a, b) {
        (Atom::Byte(x), Atom::Byte(y)) => x == y,
        (Atom::Byte(x), Atom::Segment) | (Atom::Segment, Atom::Byte(x)) => x != b'/',
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(route: &str) -> Vec<Atom> {
        let mut atoms = Vec::new();
        let mut rest = route;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("{p}") {
                atoms.push(Atom::Segment);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("{*r}") {
                atoms.push(Atom::Rest);
                rest = after;
            } else {
                atoms.push(Atom::Byte(rest.as_bytes()[0]));
                rest = &rest[1..];
            }
        }
        atoms
    }

    fn overlap(a: &str, b: &str) -> bool {
        let result = overlaps(&shape(a), &shape(b));
        assert_eq!(result, overlaps(&shape(b), &shape(a)), "{a} {b}");
        result
    }

    #[test]
    fn static_and_param_of_one_segment_overlap() {
        assert!(overlap("/users/new", "/users/{p}"));
    }

    #[test]
    fn different_depths_do_not_overlap() {
        assert!(!overlap("/users/{p}", "/users/{p}/posts"));
        assert!(!overlap("/users/new", "/users/{p}/posts"));
    }

    #[test]
    fn param_never_matches_an_empty_segment() {
        assert!(!overlap("/a/{p}", "/a/"));
        assert!(!overlap("/a/{p}/b", "/a//b"));
    }

    #[test]
    fn rest_overlaps_anything_longer_below_it() {
        assert!(overlap("/api/{*r}", "/api/users/{p}"));
        assert!(overlap("/{*r}", "/x"));
        assert!(!overlap("/api/{*r}", "/api/"));
        assert!(!overlap("/api/{*r}", "/api"));
        assert!(!overlap("/api/{*r}", "/apix/y"));
    }

    #[test]
    fn params_overlap_each_other() {
        assert!(overlap("/{p}/x", "/a/{p}"));
        assert!(!overlap("/{p}/x", "/a/{p}/y"));
    }

    #[test]
    fn segment_never_crosses_a_slash() {
        assert!(!overlap("/{p}", "/a/b"));
        assert!(overlap("/{*r}", "/a/b"));
    }
}
