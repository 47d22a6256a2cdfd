//! Automatic compaction: once dead records pass the policy's share of a file big enough to be
//! worth it, the writer compacts by itself; small stores are left alone.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use xems::{AutoCompaction, Stats, Store};

const POLICY: AutoCompaction = AutoCompaction {
    min_file_size: 16 << 10,
    dead_percent: 50,
};

/// `n` overwrites of one key, in groups sharing fsyncs (a quicker way to a big, dead file).
fn overwrite(s: &Store, n: u64) {
    for group in 0..n.div_ceil(100) {
        let writes = (group * 100..((group + 1) * 100).min(n))
            .map(|i| s.set("hot", "counter", &value("hot", i), None))
            .collect();
        for r in join_all(writes) {
            r.unwrap();
        }
    }
}

fn wait_for(s: &Store, what: &str, ok: impl Fn(&Stats) -> bool) -> Stats {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let st = s.stats();
        if ok(&st) {
            return st;
        }
        assert!(Instant::now() < until, "{what}: {st:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn compacts_by_itself_once_most_of_the_file_is_dead() {
    let dir = temp_dir("auto");
    let path = dir.join("s.xem");
    let (s, _) = Store::open(&path, opts().auto_compaction(Some(POLICY))).unwrap();
    for i in 0..50 {
        s.set("keep", &format!("k{i}"), &value("keep", i), None)
            .wait()
            .unwrap();
    }
    // The last state seen before the first compaction: at most one write before it.
    let mut last_uncompacted = None;
    for i in 0..600u64 {
        s.set("hot", "counter", &value("hot", i), None)
            .wait()
            .unwrap();
        let st = s.stats();
        if st.generation == 0 {
            last_uncompacted = Some(st);
        }
    }
    let prev = last_uncompacted.unwrap();
    assert!(s.stats().generation > 0, "never compacted by itself");
    // It did not compact early: the file had about reached the size floor, mostly dead.
    assert!(prev.file_size + 1024 >= POLICY.min_file_size, "{prev:?}");
    assert!(prev.dead_bytes * 100 >= prev.file_size * 45, "{prev:?}");
    let st = wait_for(&s, "settled", |st| {
        st.dead_bytes * 100 <= st.file_size * 50 || st.file_size < POLICY.min_file_size
    });
    assert!(st.auto_compactions >= 3, "{st:?}");
    assert_eq!(st.compactions, st.auto_compactions);
    assert!(st.file_size < 2 * POLICY.min_file_size + 20_000, "{st:?}");
    assert_eq!(
        get(&s, "hot", "counter"),
        Some(value("hot", 599)),
        "latest value"
    );
    s.close().wait().unwrap();
    drop(s);
    let s = open(&path);
    assert_eq!(s.len("keep"), 50);
    for i in 0..50 {
        assert_eq!(get(&s, "keep", &format!("k{i}")), Some(value("keep", i)));
    }
    assert_eq!(get(&s, "hot", "counter"), Some(value("hot", 599)));
}

/// With the default policy a store under 1 MiB is never rewritten, however dead it is.
#[test]
fn small_stores_are_not_churned() {
    let dir = temp_dir("auto-small");
    let s = open(&dir.join("s.xem"));
    overwrite(&s, 1500);
    let st = s.stats();
    assert!(
        st.file_size < AutoCompaction::DEFAULT.min_file_size,
        "{st:?}"
    );
    assert!(
        st.dead_bytes * 100 > st.file_size * 90,
        "mostly dead: {st:?}"
    );
    assert_eq!((st.generation, st.auto_compactions), (0, 0));
}

#[test]
fn no_automatic_compaction_when_turned_off() {
    let dir = temp_dir("auto-off");
    let (s, _) = Store::open(dir.join("s.xem"), opts().auto_compaction(None)).unwrap();
    overwrite(&s, 1500);
    let st = s.stats();
    assert!(st.file_size > 4 * POLICY.min_file_size, "{st:?}");
    assert_eq!(st.generation, 0);
}

/// A store left mostly dead (say by a process that had it turned off) is compacted as soon as
/// it is opened with a policy that calls for it.
#[test]
fn a_mostly_dead_store_is_compacted_when_opened() {
    let dir = temp_dir("auto-open");
    let path = dir.join("s.xem");
    let (s, _) = Store::open(&path, opts().auto_compaction(None)).unwrap();
    overwrite(&s, 1000);
    s.close().wait().unwrap();
    drop(s);
    let (s, _) = Store::open(&path, opts().auto_compaction(Some(POLICY))).unwrap();
    let st = wait_for(&s, "compaction at open", |st| st.generation == 1);
    assert_eq!(st.auto_compactions, 1);
    assert_eq!(get(&s, "hot", "counter"), Some(value("hot", 999)));
}

#[test]
fn a_policy_must_leave_some_room() {
    let dir = temp_dir("auto-invalid");
    for dead_percent in [0, 100, 200] {
        let policy = AutoCompaction {
            min_file_size: 0,
            dead_percent,
        };
        let e = Store::open(dir.join("s.xem"), opts().auto_compaction(Some(policy))).unwrap_err();
        assert!(e.is_invalid_argument(), "{dead_percent}: {e}");
    }
}
