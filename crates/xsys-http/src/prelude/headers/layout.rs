//! Header maps for the answers a thread keeps giving: the same names in the same order (every
//! 429 of a plan, every preflight, every 404) with values that may differ. Building a `HeaderMap`
//! hashes each name into its index; cloning a map built before for the same names copies that
//! index, and the values are then put in place. The answer's case map goes with the layout.

use std::cell::RefCell;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::{Cased, Entry, Values};
use crate::header_case::CaseKey;

/// Layouts kept per thread: an app's native answers come in a few shapes. Past this many, the
/// oldest is replaced.
const KEPT: usize = 8;

struct Layout {
    /// Each entry's name, spelling and number of values, in order.
    names: Vec<(HeaderName, Cased, usize)>,
    /// Those names with every value empty.
    map: HeaderMap,
    case: CaseKey,
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

/// The header map and case map of `entries`, in order.
pub(super) fn build(entries: Vec<Entry>) -> (HeaderMap, CaseKey) {
    let found = LAYOUTS.with(|layouts| {
        let layouts = layouts.borrow();
        let layout = layouts.kept.iter().find(|layout| layout.fits(&entries))?;
        Some((layout.map.clone(), layout.case.clone()))
    });
    if let Some((mut headers, case)) = found {
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
        return (headers, case);
    }
    let names: Vec<(HeaderName, Cased, usize)> = entries
        .iter()
        .map(|entry| (entry.name.clone(), entry.cased.clone(), entry.values.len()))
        .collect();
    // Room for what the engine adds to every answer (Date, Connection, Keep-Alive).
    let mut headers = HeaderMap::with_capacity(entries.len() + 3);
    let mut case = CaseKey::with_capacity(128);
    for entry in entries {
        entry.append_to(&mut headers, &mut case);
    }
    let mut map = headers.clone();
    map.values_mut()
        .for_each(|value| *value = HeaderValue::from_static(""));
    let layout = Layout {
        names,
        map,
        case: case.clone(),
    };
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
    (headers, case)
}
