use super::*;
use bytes::Bytes;
use xsys_http::{ConnectionInfo, RequestHead};

/// What the writer put where: numbers, and the kinds of values.
#[derive(Default)]
struct Recorder {
    numbers: Vec<f64>,
    values: Vec<&'static str>,
}

impl Slots for Recorder {
    type Error = std::convert::Infallible;

    fn number(&mut self, n: f64) {
        self.numbers.push(n);
    }
    fn latin1(&mut self, _: &[u8]) -> std::result::Result<(), Self::Error> {
        self.values.push("string");
        Ok(())
    }
    fn buffer(&mut self, _: &[u8]) -> std::result::Result<(), Self::Error> {
        self.values.push("Buffer");
        Ok(())
    }
}

fn request(
    method: http::Method,
    body: BodyPayload,
    candidates: Option<LayerCandidates>,
    prelude: Option<Bytes>,
) -> Event {
    let mut headers = http::HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_static("x"));
    Event::Request(Box::new(RequestHead {
        id: 3,
        connection: 1,
        method,
        target: Bytes::from_static(b"/a?b"),
        http_minor: 1,
        headers,
        body,
        candidates,
        prelude,
        beyond_max_requests: false,
    }))
}

/// One of every event kind, in every shape it can take, with the values it must add.
fn samples() -> Vec<(&'static EventLayout, Event, Vec<&'static str>)> {
    let addr = "127.0.0.1:80".parse().ok();
    let candidates = || {
        Some(LayerCandidates {
            version: 2,
            ids: vec![0, 4],
        })
    };
    let get = || http::Method::GET;
    let strings = |n| vec!["string"; n];
    vec![
        (
            &CONNECTION,
            Event::Connection(ConnectionInfo {
                id: 1,
                remote: addr,
                local: addr,
            }),
            strings(2),
        ),
        (
            &CONNECTION,
            Event::Connection(ConnectionInfo {
                id: 1,
                remote: None,
                local: None,
            }),
            vec![],
        ),
        (
            &REQUEST,
            request(get(), BodyPayload::Empty, None, None),
            strings(2),
        ),
        (
            &REQUEST,
            request(
                http::Method::from_bytes(b"BREW").expect("a token"),
                BodyPayload::Streaming,
                candidates(),
                None,
            ),
            strings(3),
        ),
        (
            &REQUEST,
            request(
                get(),
                BodyPayload::Complete(Bytes::from_static(b"{}")),
                None,
                Some(Bytes::from_static(b"1\n0\n0\n")),
            ),
            vec!["string", "string", "Buffer", "string"],
        ),
        (
            &REQUEST,
            request(get(), BodyPayload::Tunnel(Bytes::new()), candidates(), None),
            vec!["string", "string", "Buffer"],
        ),
        (
            &BODY,
            Event::Body {
                id: 3,
                chunk: Bytes::from_static(b"x"),
            },
            vec!["Buffer"],
        ),
        (&BODY_END, Event::BodyEnd { id: 3 }, vec![]),
        (&ABORTED, Event::Aborted { id: 3 }, vec![]),
        (&DRAIN, Event::Drain { id: 3 }, vec![]),
        (
            &CONNECTION_CLOSED,
            Event::ConnectionClosed { id: 1 },
            vec![],
        ),
        (&CLOSED, Event::Closed, vec![]),
        (
            &PRELUDE_NOTICES,
            Event::PreludeNotices { plan: 1, bits: 3 },
            vec![],
        ),
        (
            &DROPPED,
            Event::Dropped {
                remote: addr,
                local: addr,
            },
            strings(2),
        ),
        (
            &DROPPED,
            Event::Dropped {
                remote: None,
                local: None,
            },
            vec![],
        ),
    ]
}

#[test]
fn every_event_writes_its_tag_declared_numbers_and_values() {
    let mut headers = Vec::new();
    for (layout, event, values) in samples() {
        let mut slots = Recorder::default();
        write_event(&mut slots, &event, &mut headers).unwrap();
        assert_eq!(
            slots.numbers.first(),
            Some(&f64::from(layout.tag)),
            "{} starts with its tag",
            layout.name
        );
        let trailing = layout.trailing.map_or(0, |count| {
            let at = 1 + layout
                .numbers
                .iter()
                .position(|(name, _)| *name == count)
                .expect("the count is one of the numbers");
            slots.numbers[at] as usize
        });
        assert_eq!(
            slots.numbers.len(),
            layout.stride() + trailing,
            "{} writes {:?}, LAYOUT declares {:?}",
            layout.name,
            slots.numbers,
            layout.numbers
        );
        assert_eq!(slots.values, values, "{}'s values", layout.name);
    }
}

#[test]
fn a_request_names_its_method_by_number_and_its_candidates_follow_their_count() {
    let mut slots = Recorder::default();
    let event = request(
        http::Method::PATCH,
        BodyPayload::Empty,
        Some(LayerCandidates {
            version: 7,
            ids: vec![2, 5],
        }),
        None,
    );
    write_event(&mut slots, &event, &mut Vec::new()).unwrap();
    let method = slots.numbers[4] as usize;
    assert_eq!(HTTP_METHODS[method], "PATCH");
    assert_eq!(
        &slots.numbers[REQUEST.stride() - 1..],
        &[3.0, 7.0, 2.0, 5.0]
    );
}

#[test]
fn tags_are_their_index_in_layout() {
    for (i, layout) in LAYOUT.iter().enumerate() {
        assert_eq!(usize::from(layout.tag), i, "{}", layout.name);
    }
}

#[test]
fn generated_typescript_is_current() {
    crate::generated::check("lib/engine/batch-layout.ts", &typescript_layout());
}
