//! The headers a response has while the stages run: a list in the order Express would have them,
//! changed as Node's `setHeader` / `removeHeader` and Express's `res.append` / `vary` change
//! them, and turned into the engine's response (a native answer) or put in front of the headers
//! JS gave (a response from JS).

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use xsys_security::{is_title_case, vary, Header};

use crate::body::ResponseBody;
use crate::head::{DeferredCase, HeadersInJs, ResponseHead, Utf8Head};
use crate::header_case::{CaseKey, SPELLINGS};

mod layout;

use layout::Spelled;

/// Response headers in the order Express would have them, changed as Node's `setHeader` /
/// `removeHeader` and Express's `res.append` / `vary` change a response's headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderList {
    entries: Vec<Entry>,
    /// A bit per name length (mod 64) present: a name whose bit is clear is not in the list,
    /// so most `setHeader`s append without a scan.
    lengths: u64,
}

/// A header name as the app spells it: most are the stages' constants; the framework's own (its
/// initial headers, its 404 page's) are shared, so cloning a list allocates no names.
#[derive(Debug, Clone)]
pub(crate) enum Cased {
    Static(&'static str),
    Shared(Arc<str>),
}

impl std::ops::Deref for Cased {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Cased::Static(name) => name,
            Cased::Shared(name) => name,
        }
    }
}

fn length_bit(name: &HeaderName) -> u64 {
    1 << (name.as_str().len() & 63)
}

#[derive(Debug, Clone)]
struct Entry {
    name: HeaderName,
    /// The name as last passed to `setHeader`, which Node sends.
    cased: Cased,
    /// `cased` is Title-Case, as hyper writes names by default: known with the name (a stage's
    /// header carries it), so no name is scanned per response.
    title_case: bool,
    values: Values,
}

#[derive(Debug, Clone)]
enum Values {
    One(HeaderValue),
    Many(Vec<HeaderValue>),
}

impl Entry {
    /// Adds the entry's lines, noting one spelling per line.
    fn append_to(self, headers: &mut HeaderMap, case: &mut CaseKey) {
        match self.values {
            Values::One(value) => {
                case.note_known(&self.cased, self.title_case);
                headers.append(self.name, value);
            }
            Values::Many(list) => {
                for value in list {
                    case.note_known(&self.cased, self.title_case);
                    headers.append(self.name.clone(), value);
                }
            }
        }
    }
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::One(_) => 1,
            Values::Many(list) => list.len(),
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, HeaderValue> {
        match self {
            Values::One(v) => std::slice::from_ref(v).iter(),
            Values::Many(list) => list.iter(),
        }
    }
}

impl HeaderList {
    /// A copy with room for what the stages and an answer add (no growing on the way).
    pub(crate) fn copy_with_room(&self) -> HeaderList {
        let mut entries = Vec::with_capacity(self.entries.len() + 24);
        entries.extend(self.entries.iter().cloned());
        HeaderList {
            entries,
            lengths: self.lengths,
        }
    }

    /// A header block (`name:value\n`...) in order, names in their case, values Latin-1.
    pub(crate) fn from_block(block: &str) -> Result<HeaderList, crate::Error> {
        let head = ResponseHead::from_block(200, block)?;
        let mut list = HeaderList::default();
        for line in block.split('\n').filter(|l| !l.is_empty()) {
            let (name, _) = line.split_once(':').unwrap_or((line, ""));
            let lower = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| crate::Error::invalid_header(format!("name {name:?}")))?;
            if list.find(&lower).is_some() {
                continue;
            }
            // the values as parsed (and checked) there, in the same order
            let values: Vec<HeaderValue> = head.headers.get_all(&lower).iter().cloned().collect();
            let values = match <[HeaderValue; 1]>::try_from(values) {
                Ok([one]) => Values::One(one),
                Err(many) => Values::Many(many),
            };
            list.lengths |= length_bit(&lower);
            list.entries.push(Entry {
                name: lower,
                title_case: is_title_case(name),
                cased: Cased::Shared(name.into()),
                values,
            });
        }
        Ok(list)
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn find(&self, name: &HeaderName) -> Option<usize> {
        if self.lengths & length_bit(name) == 0 {
            return None;
        }
        self.entries.iter().position(|e| e.name == *name)
    }

    /// `res.setHeader(name, value)`: in place if set before, else last.
    pub(crate) fn set_value(&mut self, name: HeaderName, cased: Cased, value: HeaderValue) {
        let title_case = is_title_case(&cased);
        self.set_cased(name, cased, title_case, value);
    }

    fn set_cased(&mut self, name: HeaderName, cased: Cased, title_case: bool, value: HeaderValue) {
        match self.find(&name) {
            Some(i) => {
                let entry = &mut self.entries[i];
                entry.cased = cased;
                entry.title_case = title_case;
                entry.values = Values::One(value);
            }
            None => {
                self.lengths |= length_bit(&name);
                self.entries.push(Entry {
                    name,
                    cased,
                    title_case,
                    values: Values::One(value),
                });
            }
        }
    }

    /// `setHeader` with a name spelled at run time.
    pub(crate) fn set_owned(&mut self, name: HeaderName, cased: String, value: HeaderValue) {
        self.set_value(name, Cased::Shared(cased.into()), value);
    }

    /// `setHeader` with a stage's header, taken as it is (a computed value is not copied).
    pub(super) fn set(&mut self, header: Header) {
        self.set_cased(
            header.name,
            Cased::Static(header.cased_name),
            header.title_case,
            header.value,
        );
    }

    /// `setHeader` for each of `headers` (distinct names): appended at once when none is set yet.
    pub(super) fn set_all(&mut self, headers: &[Header]) {
        let bits = headers
            .iter()
            .fold(0, |bits, header| bits | length_bit(&header.name));
        if self.lengths & bits != 0 {
            for header in headers {
                self.set(header.clone());
            }
            return;
        }
        self.lengths |= bits;
        self.entries.extend(headers.iter().map(|header| Entry {
            name: header.name.clone(),
            cased: Cased::Static(header.cased_name),
            title_case: header.title_case,
            values: Values::One(header.value.clone()),
        }));
    }

    /// Express's `res.append(name, value)`.
    pub(super) fn append(&mut self, header: Header) {
        match self.find(&header.name) {
            Some(i) => {
                let entry = &mut self.entries[i];
                entry.cased = Cased::Static(header.cased_name);
                entry.title_case = header.title_case;
                let previous = std::mem::replace(&mut entry.values, Values::Many(Vec::new()));
                let mut list = match previous {
                    Values::One(v) => vec![v],
                    Values::Many(list) => list,
                };
                list.push(header.value);
                entry.values = Values::Many(list);
            }
            None => self.set(header),
        }
    }

    pub(super) fn remove(&mut self, name: &HeaderName) {
        // Names are distinct in the list; the length bit may stay set (it only says "maybe").
        if let Some(i) = self.find(name) {
            self.entries.remove(i);
        }
    }

    /// cors's headers: `Vary` through the `vary` package, the rest with `setHeader`.
    pub(super) fn apply_cors(&mut self, headers: Vec<Header>) {
        for header in headers {
            if header.name != http::header::VARY {
                self.set(header);
                continue;
            }
            let Some(i) = self.find(&header.name) else {
                self.set(header);
                continue;
            };
            // vary(res, field): the current value (an array joined with ", ") with the
            // field's names added.
            let current: Vec<String> = self.entries[i]
                .values
                .iter()
                .map(|v| xsys_security::latin1_decode(v.as_bytes()))
                .collect();
            let field = xsys_security::latin1_decode(header.value.as_bytes());
            if let Some(value) = vary::append(&current.join(", "), &field)
                .and_then(|v| xsys_security::latin1_header_value(&v))
            {
                self.set(Header { value, ..header });
            }
        }
    }

    /// `Name:value` lines, one per value, in order.
    pub(super) fn write_lines(&self, out: &mut Vec<u8>) {
        for entry in &self.entries {
            for value in entry.values.iter() {
                out.extend_from_slice(entry.cased.as_bytes());
                out.push(b':');
                out.extend_from_slice(value.as_bytes());
                out.push(b'\n');
            }
        }
    }

    /// A whole response with these headers; `utf8`: its head goes out in UTF-8, as Node writes
    /// it before a string body.
    pub(super) fn response(
        self,
        status: u16,
        body: ResponseBody,
        utf8: bool,
    ) -> Response<ResponseBody> {
        let (headers, spelled) = layout::build_answer(self.entries);
        let (case, line) = match spelled {
            Spelled::Line(line) => (CaseKey::default(), line),
            Spelled::Case(case) => (case, None),
        };
        let head = ResponseHead {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            headers,
            reason: None,
            case,
            send_date: true,
            prelude_in_js: false,
            utf8: false,
        };
        let head = if utf8 { head.with_utf8_head() } else { head };
        let mut response = head.into_response(body);
        if let Some(line) = line {
            response.headers_mut().append(SPELLINGS, line);
        }
        response
    }
}

/// Puts the stages' headers in front of the headers JS gave its response, unless JS took them
/// into its own (then its head is complete as it is). A name JS set without taking them keeps
/// the stages' place with JS's values, as `setHeader` on an existing header does.
pub(crate) fn finish(response: &mut Response<ResponseBody>, carried: HeaderList) {
    let own_case = response
        .extensions_mut()
        .remove::<DeferredCase>()
        .map(|c| c.0)
        .unwrap_or_default();
    let utf8 = response.extensions_mut().remove::<Utf8Head>().is_some();
    let mut case = if response.extensions_mut().remove::<HeadersInJs>().is_none() {
        let own = std::mem::take(response.headers_mut());
        let (mut merged, carried_case) = merge(carried, own);
        if utf8 {
            crate::head::utf8_values(&mut merged);
        }
        *response.headers_mut() = merged;
        carried_case
    } else {
        CaseKey::default()
    };
    case.extend(&own_case);
    case.mark(response.headers_mut());
}

/// The stages' headers in order, each name JS also set taking JS's values in the stages' place,
/// then JS's other headers; and the spellings of the stages' names that go out.
fn merge(carried: HeaderList, own: HeaderMap) -> (HeaderMap, CaseKey) {
    if own.keys().any(|name| carried.find(name).is_some()) {
        return merge_overlapping(carried, own);
    }
    // The usual case (JS set none of the stages' names): the stages' headers come from the
    // thread's layout of them, and JS's follow, a lookup each.
    let (mut merged, case) = layout::build(carried.entries);
    append_all(&mut merged, own, &[]);
    (merged, case)
}

fn merge_overlapping(carried: HeaderList, own: HeaderMap) -> (HeaderMap, CaseKey) {
    let mut merged = HeaderMap::with_capacity(carried.entries.len() + own.len());
    let mut case = CaseKey::with_capacity(128);
    let mut overlapped: Vec<HeaderName> = Vec::new();
    for entry in carried.entries {
        if own.contains_key(&entry.name) {
            for value in own.get_all(&entry.name) {
                merged.append(entry.name.clone(), value.clone());
            }
            overlapped.push(entry.name);
            continue;
        }
        entry.append_to(&mut merged, &mut case);
    }
    append_all(&mut merged, own, &overlapped);
    (merged, case)
}

/// Appends every line of `own` whose name is not in `skipped`, in order.
fn append_all(merged: &mut HeaderMap, own: HeaderMap, skipped: &[HeaderName]) {
    let mut current: Option<HeaderName> = None;
    for (name, value) in own {
        if let Some(name) = name {
            current = Some(name);
        }
        if let Some(name) = &current {
            if !skipped.contains(name) {
                merged.append(name.clone(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn header(cased: &'static str, value: &'static str) -> Header {
        Header {
            name: HeaderName::from_bytes(cased.as_bytes()).expect("valid name"),
            cased_name: cased,
            title_case: is_title_case(cased),
            value: HeaderValue::from_static(value),
        }
    }

    fn lines(list: &HeaderList) -> String {
        let mut out = Vec::new();
        list.write_lines(&mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn headers_change_as_set_header_append_and_vary_change_them() {
        let mut list = HeaderList::from_block("X-Powered-By:Express\n").expect("block");
        list.set(header("Vary", "Accept"));
        list.set(header("X-A", "1"));
        list.append(header("RateLimit", "\"a\"; r=1"));
        list.append(header("RateLimit", "\"b\"; r=2"));
        list.apply_cors(vec![header("Vary", "Origin, Accept")]);
        list.set(header("x-a", "2"));
        list.remove(&HeaderName::from_static("x-powered-by"));
        assert_eq!(
            lines(&list),
            "Vary:Accept, Origin\nx-a:2\nRateLimit:\"a\"; r=1\nRateLimit:\"b\"; r=2\n"
        );
    }

    #[test]
    fn answers_of_one_layout_keep_their_own_values() {
        let answer = |a: &'static str, b: &'static str| {
            let mut list = HeaderList::from_block("X-Powered-By:Express\n").expect("block");
            list.set(header("X-A", a));
            list.append(header("RateLimit", a));
            list.append(header("RateLimit", b));
            list.set(header("ETag", b));
            let response = list.response(429, ResponseBody::full(Bytes::new()), false);
            let lines: Vec<String> = response
                .headers()
                .iter()
                .map(|(name, value)| format!("{name}:{}", value.to_str().expect("ascii")))
                .collect();
            lines.join("\n")
        };
        let expected = |a: &str, b: &str| {
            format!(
                "x-powered-by:Express\nx-a:{a}\nratelimit:{a}\nratelimit:{b}\netag:{b}\n\
                 xypriss-spellings:RateLimit RateLimit ETag "
            )
        };
        // The first builds the layout, the next ones reuse it; another shape in between.
        assert_eq!(answer("1", "2"), expected("1", "2"));
        assert_eq!(answer("3", "4"), expected("3", "4"));
        let mut other = HeaderList::default();
        other.set(header("X-A", "5"));
        let response = other.response(200, ResponseBody::full(Bytes::new()), false);
        assert_eq!(response.headers().len(), 1);
        assert!(
            !response.headers().contains_key(&SPELLINGS),
            "X-A is Title-Case"
        );
        assert_eq!(answer("6", "7"), expected("6", "7"));
    }

    #[test]
    fn an_answer_carries_its_spellings_after_an_apps_header_of_that_name() {
        let answer = || {
            let mut list = HeaderList::from_block("xypriss-spellings:the app's\n").expect("block");
            list.set(header("ETag", "1"));
            let response = list.response(429, ResponseBody::full(Bytes::new()), false);
            response
                .headers()
                .get_all(&SPELLINGS)
                .iter()
                .map(|v| v.to_str().expect("ascii").to_owned())
                .collect::<Vec<_>>()
        };
        // a new layout, then the same one again
        for _ in 0..2 {
            assert_eq!(answer(), ["the app's", "xypriss-spellings ETag "]);
        }
    }

    #[test]
    fn a_header_block_keeps_case_order_and_repeats() {
        let list = HeaderList::from_block("X-Powered-By:Express\nset-cookie:a\nSet-Cookie:b\n")
            .expect("block");
        assert_eq!(
            lines(&list),
            "X-Powered-By:Express\nset-cookie:a\nset-cookie:b\n"
        );
        assert!(HeaderList::from_block("bad name:x\n").is_err());
    }

    /// Node's header map, written plainly: the model the list must agree with.
    #[derive(Default)]
    struct Model(Vec<(String, Vec<String>)>);

    impl Model {
        fn set(&mut self, cased: &str, value: &str) {
            let lower = cased.to_ascii_lowercase();
            match self
                .0
                .iter_mut()
                .find(|(n, _)| n.to_ascii_lowercase() == lower)
            {
                Some(entry) => *entry = (cased.to_owned(), vec![value.to_owned()]),
                None => self.0.push((cased.to_owned(), vec![value.to_owned()])),
            }
        }
        fn append(&mut self, cased: &str, value: &str) {
            let lower = cased.to_ascii_lowercase();
            match self
                .0
                .iter_mut()
                .find(|(n, _)| n.to_ascii_lowercase() == lower)
            {
                Some(entry) => {
                    entry.0 = cased.to_owned();
                    entry.1.push(value.to_owned());
                }
                None => self.set(cased, value),
            }
        }
        fn remove(&mut self, cased: &str) {
            let lower = cased.to_ascii_lowercase();
            self.0.retain(|(n, _)| n.to_ascii_lowercase() != lower);
        }
        fn lines(&self) -> String {
            let mut out = String::new();
            for (name, values) in &self.0 {
                for v in values {
                    out.push_str(&format!("{name}:{v}\n"));
                }
            }
            out
        }
    }

    #[test]
    fn seeded_sequences_of_changes_agree_with_nodes_header_map() {
        // Names of one length collide in the length bits: the scan must still find them.
        const NAMES: [&str; 10] = [
            "X-A",
            "x-a",
            "X-B",
            "Vary",
            "Date",
            "Etag",
            "ETag",
            "RateLimit",
            "X-Frame-Options",
            "Content-Length",
        ];
        const VALUES: [&str; 3] = ["1", "two", "3;3"];
        let mut next = crate::testing::seeded(0x9e37_79b9_7f4a_7c15);
        for round in 0..500 {
            let mut list = HeaderList::default();
            let mut model = Model::default();
            for _ in 0..next(24) {
                let name = NAMES[next(NAMES.len())];
                let value = VALUES[next(VALUES.len())];
                match next(4) {
                    0 => {
                        list.set(header(name, value));
                        model.set(name, value);
                    }
                    3 => {
                        // a stage's list of distinct names, set at once
                        let mut batch: Vec<Header> = Vec::new();
                        for candidate in NAMES {
                            let taken = batch
                                .iter()
                                .any(|h| h.cased_name.eq_ignore_ascii_case(candidate));
                            if !taken && next(3) == 0 {
                                batch.push(header(candidate, value));
                                model.set(candidate, value);
                            }
                        }
                        list.set_all(&batch);
                    }
                    1 => {
                        list.append(header(name, value));
                        model.append(name, value);
                    }
                    _ => {
                        list.remove(&HeaderName::from_bytes(name.as_bytes()).expect("name"));
                        model.remove(name);
                    }
                }
            }
            assert_eq!(lines(&list), model.lines(), "round {round}");
        }
    }

    #[test]
    fn js_headers_join_the_stages_as_the_general_merge_joins_them() {
        // The stages' lists come in a few layouts, each seen many times with new values (the
        // thread's layouts are then reused); JS's own names sometimes overlap the stages'.
        const STAGE_NAMES: [&str; 6] =
            ["X-Powered-By", "Vary", "ETag", "RateLimit", "x-dns", "X-A"];
        const JS_NAMES: [&str; 5] = [
            "Content-Type",
            "content-length",
            "ETag",
            "X-A",
            "Set-Cookie",
        ];
        let mut next = crate::testing::seeded(0x2545_f491_4f6c_dd1d);
        let value = |n: usize| HeaderValue::from_str(&format!("v{n}")).expect("value");
        let layouts: Vec<Vec<(usize, usize)>> = (0..4)
            .map(|_| {
                (0..next(7))
                    .map(|_| (next(STAGE_NAMES.len()), 1 + next(2)))
                    .collect()
            })
            .collect();
        for round in 0..400 {
            let mut list = HeaderList::default();
            for &(name, count) in &layouts[next(layouts.len())] {
                for _ in 0..count {
                    list.append(header(STAGE_NAMES[name], "x"));
                }
            }
            // fresh values for the same names
            for entry in &mut list.entries {
                entry.values = match &entry.values {
                    Values::One(_) => Values::One(value(next(1000))),
                    Values::Many(v) => Values::Many(v.iter().map(|_| value(next(1000))).collect()),
                };
            }
            let mut own = HeaderMap::new();
            for _ in 0..next(5) {
                let name = HeaderName::from_bytes(JS_NAMES[next(JS_NAMES.len())].as_bytes())
                    .expect("name");
                own.append(name, value(next(1000)));
            }
            let general = merge_overlapping(list.clone(), own.clone());
            let chosen = merge(list, own);
            let pairs = |map: &HeaderMap| {
                map.iter()
                    .map(|(n, v)| format!("{n}:{}", v.to_str().expect("ascii")))
                    .collect::<Vec<_>>()
            };
            assert_eq!(pairs(&chosen.0), pairs(&general.0), "round {round}");
            assert_eq!(chosen.1, general.1, "round {round}: spellings");
        }
    }
}
