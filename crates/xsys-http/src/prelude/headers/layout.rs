//! Header maps for the answers a thread keeps giving: the same names in the same order (every
//! 429 of a plan, every preflight, every 404) with values that may differ. Building a `HeaderMap`
//! hashes each name into its index; cloning a map built before for the same names copies that
//! index, and the values are then put in place. The names' spellings go with the layout.

use std::cell::RefCell;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::{Cased, Entry, Values};
use crate::header_case::{CaseKey, SPELLINGS};

/// Layouts kept per thread: an app's native answers come in a few shapes. Past this many, the
/// oldest is replaced.
const KEPT: usize = 8;

struct Layout {
    /// Each entry's name, spelling and number of values, in order.
    names: Vec<(HeaderName, Cased, usize)>,
    /// Those names with every value empty.
    map: HeaderMap,
    case: CaseKey,
    /// How an answer with these names carries their spellings.
    spelled: Spelled,
}

/// How an answer carries its names' spellings to the response writer (see header_case).
#[derive(Clone)]
pub(super) enum Spelled {
    /// The spellings line, made once with the layout (`None`: nothing to spell).
    Line(Option<HeaderValue>),
    /// The names include a header named like that line (an app's): the head marks itself.
    Case(CaseKey),
}

#[derive(Default)]
struct Layouts {
    kept: Vec<Layout>,
    /// The slot the next new layout takes once all are used.
    next: usize,
}

thread_local! {
    static LAYOUTS: RefCell<Layouts> = RefCell::new(Layouts::default());
}

impl Layout {
    fn fits(&self, entries: &[Entry]) -> bool {
        self.names.len() == entries.len()
            && self
                .names
                .iter()
                .zip(entries)
                .all(|((name, cased, count), entry)| {
                    *count == entry.values.len()
                        && same_spelling(cased, &entry.cased)
                        && *name == entry.name
                })
    }
}

/// Equal spellings; the stages' names are static, so mostly the same pointer.
fn same_spelling(a: &Cased, b: &Cased) -> bool {
    match (a, b) {
        (Cased::Static(a), Cased::Static(b)) if std::ptr::eq(*a, *b) => true,
        _ => **a == **b,
    }
}

/// The header map of `entries`, in order, and the spellings of their names.
pub(super) fn build(entries: Vec<Entry>) -> (HeaderMap, CaseKey) {
    fill(entries, |layout| layout.case.clone())
}

/// The header map of `entries`, in order, and how an answer with them carries their spellings:
/// taken from the layout, so an answer of a known shape makes no spellings of its own.
pub(super) fn build_answer(entries: Vec<Entry>) -> (HeaderMap, Spelled) {
    fill(entries, |layout| layout.spelled.clone())
}

/// The header map of `entries` and what `take` takes from their layout (made first if new).
fn fill<T>(entries: Vec<Entry>, take: impl Fn(&Layout) -> T) -> (HeaderMap, T) {
    let found = LAYOUTS.with(|layouts| {
        let layouts = layouts.borrow();
        let layout = layouts.kept.iter().find(|layout| layout.fits(&entries))?;
        Some((layout.map.clone(), take(layout)))
    });
    if let Some((mut headers, taken)) = found {
        // A map iterates its values entry by entry, each entry's in order: the list's order.
        let mut slots = headers.values_mut();
        let mut put = |value: HeaderValue| {
            if let Some(slot) = slots.next() {
                *slot = value;
            }
        };
        for entry in entries {
            match entry.values {
                Values::One(value) => put(value),
                Values::Many(list) => list.into_iter().for_each(&mut put),
            }
        }
        return (headers, taken);
    }
    let names: Vec<(HeaderName, Cased, usize)> = entries
        .iter()
        .map(|entry| (entry.name.clone(), entry.cased.clone(), entry.values.len()))
        .collect();
    // Room for what the engine adds to every answer (Date, Connection, Keep-Alive, spellings).
    let mut headers = HeaderMap::with_capacity(entries.len() + 4);
    let mut case = CaseKey::with_capacity(128);
    for entry in entries {
        entry.append_to(&mut headers, &mut case);
    }
    let mut map = headers.clone();
    map.values_mut()
        .for_each(|value| *value = HeaderValue::from_static(""));
    let spelled = if map.contains_key(SPELLINGS) {
        Spelled::Case(case.clone())
    } else {
        Spelled::Line(case.marker(&map))
    };
    let layout = Layout {
        names,
        map,
        case,
        spelled,
    };
    let taken = take(&layout);
    LAYOUTS.with(|layouts| {
        let mut layouts = layouts.borrow_mut();
        if layouts.kept.len() < KEPT {
            layouts.kept.push(layout);
        } else {
            let next = layouts.next;
            layouts.kept[next] = layout;
            layouts.next = (next + 1) % KEPT;
        }
    });
    (headers, taken)
}
