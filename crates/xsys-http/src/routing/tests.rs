use std::sync::Arc;

use http::header::HeaderValue;
use http::{HeaderMap, Method};
use xsys_security::cors::Cors;
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::RateLimit;

use super::*;
use crate::head::ResponseHead;
use crate::prelude::{PreludeOptions, Stage, StageKind, StagePath};

/// Prints what the stages and a native answer cost per request, in process (`cargo test
/// --release -p xsys-http --lib cost_per_request -- --ignored --nocapture`); not a pass/fail
/// check. The thread's CPU time is printed beside the elapsed time: on a shared machine the
/// latter also counts the time other processes held the core.
#[test]
#[ignore]
fn cost_per_request() {
    use xsys_security::OptionValue as V;
    let helmet = Helmet::from_option_value(&V::Undefined).expect("helmet");
    let cors = Cors::from_option_value(&V::Undefined).expect("cors");
    let limit = RateLimit::from_option_value(&V::Object(vec![
        ("limit".into(), V::Number(1.0)),
        ("standardHeaders".into(), V::String("draft-8".into())),
        ("legacyHeaders".into(), V::Bool(false)),
    ]))
    .expect("limit");
    let stage = |kind| Stage {
        kind,
        path: StagePath::Everywhere,
    };
    let routing = RoutingMirror::new();
    routing
        .set_initial_headers("X-Powered-By:Express\n")
        .expect("block");
    routing.set_prelude(Some(
        Prelude::new(
            1,
            vec![
                stage(StageKind::Helmet(Arc::new(helmet))),
                stage(StageKind::Cors(Arc::new(cors))),
                stage(StageKind::RateLimit(Arc::new(limit))),
            ],
            PreludeOptions::default(),
        )
        .expect("prelude"),
    ));
    let queue = crate::bridge::EventQueue::new(NoWake);
    let mut headers = HeaderMap::new();
    headers.insert("origin", HeaderValue::from_static("https://a.example"));
    let remote = Some("127.0.0.1:5000".parse().expect("addr"));
    // the native 404 of an app without stages, for comparison
    let bare = RoutingMirror::new();
    bare.set_initial_headers("X-Powered-By:Express\n")
        .expect("block");
    bare.publish(Some(RouteDraft::new(TableOptions::default())), 1);
    bare.set_not_found(crate::native::NotFoundPage::new(
        ResponseHead::from_block(
            404,
            "Content-Security-Policy:default-src 'none'\nX-Content-Type-Options:nosniff\nContent-Type:text/html; charset=utf-8\n",
        )
        .expect("head"),
        ["<pre>Cannot ".into(), " ".into(), "</pre>\n".into()],
    ));
    let n = 200_000;
    let measure = |label: &str, mirror: &RoutingMirror, method: &Method| {
        let (started, cpu) = (std::time::Instant::now(), thread_cpu_ns());
        for _ in 0..n {
            let entered = enter(mirror, &queue, method, &headers, "/x", "/x", remote, None);
            std::hint::black_box(entered);
        }
        let per_request = |total: f64| total / f64::from(n);
        println!(
            "{label}: {:.3} µs per request, {:.3} µs CPU",
            per_request(started.elapsed().as_secs_f64() * 1e6),
            per_request((thread_cpu_ns() - cpu) as f64 / 1e3)
        );
    };
    measure("404", &bare, &Method::GET);
    measure("429", &routing, &Method::GET);
    measure("preflight", &routing, &Method::OPTIONS);
}

/// The calling thread's CPU time so far, ns (Linux's schedstat; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct NoWake;
impl crate::bridge::Wake for NoWake {
    fn wake(&self) {}
}

fn draft(paths: &[&str]) -> RouteDraft {
    let mut draft = RouteDraft::new(TableOptions::default());
    for (id, path) in paths.iter().enumerate() {
        draft
            .insert(LayerId(id as u32), path, true, Methods::from_name("GET"))
            .expect("valid pattern");
    }
    draft
}

#[test]
fn mirrors_of_the_same_stack_share_one_table_and_others_keep_their_own() {
    let (a, b, c) = (
        RoutingMirror::new(),
        RoutingMirror::new(),
        RoutingMirror::new(),
    );
    a.publish(Some(draft(&["/shared/one", "/shared/:id"])), 3);
    b.publish(Some(draft(&["/shared/one", "/shared/:id"])), 3);
    c.publish(Some(draft(&["/shared/one", "/shared/:id", "/extra"])), 4);
    let (ta, tb, tc) = (a.table(), b.table(), c.table());
    let (ta, tb, tc) = (ta.expect("a"), tb.expect("b"), tc.expect("c"));
    assert!(Arc::ptr_eq(&ta, &tb), "identical stacks share their table");
    assert!(!Arc::ptr_eq(&ta, &tc), "another stack has its own");
    // Each mirror answers as its own app would.
    let route = |mirror: &RoutingMirror| mirror.route(&Method::GET, "/extra");
    assert!(matches!(route(&b), Routed::Dispatch(Some(c)) if c.ids.is_empty()));
    assert!(matches!(route(&c), Routed::Dispatch(Some(c)) if c.ids == [2] && c.version == 4));
    drop((ta, tb, tc));
    a.publish(None, 5);
    assert!(a.table().is_none());
    assert!(
        b.table().is_some(),
        "the other thread keeps the shared table"
    );
}

#[test]
fn a_thread_counts_its_listeners_in_the_listener_it_serves_while_it_serves_it() {
    let listeners = Arc::new(Listeners::default());
    let (a, b) = (RoutingMirror::new(), RoutingMirror::new());
    a.set_upgrade_listener(true);
    a.join(listeners.clone());
    b.join(listeners.clone());
    assert!(listeners.upgrade() && !listeners.connect());
    b.set_connect_listener(true);
    assert!(listeners.connect());
    a.leave();
    assert!(!listeners.upgrade(), "the only thread listening left");
    assert!(b.listens(true) && !b.listens(false));
}
