//! Damage detection: every byte flip, every torn append.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use xems::Store;

const HEADER_LEN: u64 = 256;

type Model = BTreeMap<(&'static str, &'static str), Vec<u8>>;
type Step = Box<dyn Fn(&Store, &mut Model)>;

/// Expected key -> value view; `None` keys must be absent.
fn check_state(s: &Store, expect: &Model, absent: &[(&str, &str)], ctx: &str) {
    for ((sb, k), v) in expect {
        assert_eq!(get(s, sb, k).as_ref(), Some(v), "{ctx}: {sb}/{k}");
    }
    for (sb, k) in absent {
        assert_eq!(get(s, sb, k), None, "{ctx}: {sb}/{k} must be absent");
    }
}

fn frame_len(bytes: &[u8], off: u64) -> u64 {
    let o = off as usize;
    u64::from(u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()))
}

/// Flip every single byte of a small store (two patterns each) and open it. Every flip must
/// be detected (open fails, or the damaged last batch is reported as a dropped tail), except
/// flips inside the body of a wiped frame, which carry no data; no read may ever return wrong
/// data.
#[test]
fn every_single_byte_flip_is_detected_or_harmless() {
    let dir = temp_dir("flip");
    let path = dir.join("s.xem");
    let s = open(&path);
    let mut starts = Vec::new();
    let mut op = |f: &dyn Fn(&Store)| {
        starts.push(s.stats().file_size);
        f(&s);
    };
    op(&|s| s.set("s1", "a", b"alpha-1", None).wait().unwrap());
    op(&|s| s.set("s2", "b", b"bravo", None).wait().unwrap());
    op(&|s| {
        s.set("s1", "c", b"charlie", Some(Duration::from_secs(3600)))
            .wait()
            .unwrap()
    });
    op(&|s| {
        assert!(s
            .rotate("s1", "c", "c2", Duration::from_secs(3600))
            .wait()
            .unwrap())
    });
    op(&|s| s.set("s1", "a", b"alpha-2", None).wait().unwrap());
    op(&|s| assert!(s.del("s2", "b").wait().unwrap()));
    // A batch without dead declarations right before the last one: damage to its commit must
    // not make it look like part of a torn last batch.
    op(&|s| s.set("s1", "e", b"echo", None).wait().unwrap());
    op(&|s| s.set("s2", "d", b"delta", None).wait().unwrap());
    s.close().wait().unwrap();
    drop(s);
    let clean = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();

    // Frames wiped by later batches: the first record of batches 0 (a), 1 (b), 2 (c).
    let dead_bodies: Vec<(u64, u64)> = [starts[0], starts[1], starts[2]]
        .iter()
        .map(|&off| (off + 8, off + frame_len(&clean, off)))
        .collect();
    let last_batch = starts[7];
    let mut full: Model = BTreeMap::new();
    full.insert(("s1", "a"), b"alpha-2".to_vec());
    full.insert(("s1", "c2"), b"charlie".to_vec());
    full.insert(("s1", "c"), b"charlie".to_vec());
    full.insert(("s1", "e"), b"echo".to_vec());
    full.insert(("s2", "d"), b"delta".to_vec());
    let mut without_last = full.clone();
    without_last.remove(&("s2", "d"));

    let (mut errors, mut tails, mut harmless) = (0u64, 0u64, 0u64);
    let flipped = dir.join("flipped.xem");
    for pos in 0..clean.len() {
        for pattern in [0x01u8, 0xff] {
            let mut bytes = clean.clone();
            bytes[pos] ^= pattern;
            std::fs::write(&flipped, &bytes).unwrap();
            let ctx = format!("byte {pos} ^ {pattern:#04x}");
            match Store::open(&flipped, opts()) {
                Err(e) => {
                    assert!(
                        e.is_integrity() || e.is_key(),
                        "{ctx}: unexpected error kind {e}"
                    );
                    if pos as u64 >= last_batch && std::env::var("XEMS_DEBUG").is_ok() {
                        eprintln!("{ctx}: {e}");
                    }
                    errors += 1;
                }
                Ok((s, rep)) => {
                    let p = pos as u64;
                    if let Some(t) = rep.dropped_tail {
                        assert!(
                            t.offset == last_batch && p >= t.offset,
                            "{ctx}: dropped {t:?}"
                        );
                        check_state(&s, &without_last, &[("s2", "b"), ("s2", "d")], &ctx);
                        tails += 1;
                    } else {
                        assert!(
                            dead_bodies.iter().any(|&(a, b)| p >= a && p < b),
                            "{ctx}: undetected flip outside a wiped frame body"
                        );
                        assert_eq!(
                            rep.rewiped, 1,
                            "{ctx}: the damaged wiped frame is wiped again"
                        );
                        check_state(&s, &full, &[("s2", "b")], &ctx);
                        harmless += 1;
                    }
                    s.close().wait().unwrap();
                }
            }
            std::fs::remove_file(&flipped).unwrap();
        }
    }
    let total = 2 * clean.len() as u64;
    let dead_bytes: u64 = dead_bodies.iter().map(|(a, b)| b - a).sum();
    assert_eq!(errors + tails + harmless, total);
    assert_eq!(
        harmless,
        2 * dead_bytes,
        "every flip in a wiped body is harmless, no other flip is"
    );
    assert_eq!(
        tails,
        2 * (clean.len() as u64 - last_batch),
        "every flip in the last batch drops exactly it"
    );
    assert!(
        errors > total / 2,
        "errors {errors}, tails {tails}, harmless {harmless}"
    );
}

/// Simulates a crash at every byte of every append: the file is the state after batch k
/// (including its wipes, which finish before the next batch starts) plus a prefix of batch
/// k+1. Each must open to exactly the state after batch k, or k+1 when the prefix is whole.
#[test]
fn every_torn_append_recovers_the_last_complete_batch() {
    let dir = temp_dir("torn");
    let path = dir.join("s.xem");
    let s = open(&path);
    let mut snapshots: Vec<(Vec<u8>, Model)> = vec![(std::fs::read(&path).unwrap(), Model::new())];
    let mut model = Model::new();
    let steps: Vec<Step> = vec![
        Box::new(|s, m| {
            s.set("sb", "a", b"one", None).wait().unwrap();
            m.insert(("sb", "a"), b"one".to_vec());
        }),
        Box::new(|s, m| {
            s.set("sb", "b", &[7u8; 300], None).wait().unwrap();
            m.insert(("sb", "b"), vec![7u8; 300]);
        }),
        Box::new(|s, m| {
            s.set("sb", "a", b"two", None).wait().unwrap();
            m.insert(("sb", "a"), b"two".to_vec());
        }),
        Box::new(|s, m| {
            assert!(s.rotate("sb", "b", "b2", Duration::ZERO).wait().unwrap());
            let v = m.remove(&("sb", "b")).unwrap();
            m.insert(("sb", "b2"), v);
        }),
        Box::new(|s, m| {
            assert!(s.del("sb", "a").wait().unwrap());
            m.remove(&("sb", "a"));
        }),
        Box::new(|s, m| {
            s.set("other", "c", b"three", None).wait().unwrap();
            m.insert(("other", "c"), b"three".to_vec());
        }),
    ];
    for step in &steps {
        step(&s, &mut model);
        snapshots.push((std::fs::read(&path).unwrap(), model.clone()));
    }
    s.close().wait().unwrap();
    drop(s);
    let all_keys = [("sb", "a"), ("sb", "b"), ("sb", "b2"), ("other", "c")];

    let torn = dir.join("torn.xem");
    let mut opened = 0;
    for k in 0..steps.len() {
        let (before, m_before) = &snapshots[k];
        let (after, m_after) = &snapshots[k + 1];
        let appended = &after[before.len()..];
        for cut in 0..=appended.len() {
            let mut bytes = before.clone();
            bytes.extend_from_slice(&appended[..cut]);
            std::fs::write(&torn, &bytes).unwrap();
            let ctx = format!("batch {k}, {cut}/{} bytes", appended.len());
            let (s, rep) = Store::open(&torn, opts()).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let whole = cut == appended.len() || cut == 0;
            let m = if cut == appended.len() {
                m_after
            } else {
                m_before
            };
            assert_eq!(
                rep.dropped_tail.is_none(),
                whole,
                "{ctx}: {:?}",
                rep.dropped_tail
            );
            let absent: Vec<_> = all_keys
                .iter()
                .copied()
                .filter(|k| !m.contains_key(k))
                .collect();
            check_state(&s, m, &absent, &ctx);
            s.close().wait().unwrap();
            drop(s);
            if !whole {
                assert_eq!(
                    std::fs::metadata(&torn).unwrap().len(),
                    before.len() as u64,
                    "{ctx}: truncated"
                );
            }
            opened += 1;
        }
    }
    assert!(opened > 500, "{opened}");
    assert!(snapshots[0].0.len() as u64 == HEADER_LEN);
}

/// A compacted file starts with the batch compaction wrote and fsynced before renaming the file
/// into place; it cannot be torn. Damage to it used to be taken for a torn last batch and
/// dropped, so the store opened empty. Now every flip there (and every cut into it) is an
/// Integrity error; only a batch appended after it can be dropped as a torn tail.
#[test]
fn a_compacted_files_records_are_never_dropped_as_a_torn_tail() {
    let dir = temp_dir("flip-compacted");
    let path = dir.join("s.xem");
    let s = open(&path);
    for i in 0..6u64 {
        s.set("s", &format!("k{i}"), &value("v", i), None)
            .wait()
            .unwrap();
    }
    s.set("s", "k0", b"overwritten", None).wait().unwrap();
    s.compact().wait().unwrap();
    let compacted_end = s.stats().file_size;
    s.set("s", "late", b"appended after compaction", None)
        .wait()
        .unwrap();
    s.close().wait().unwrap();
    drop(s);
    let clean = std::fs::read(&path).unwrap();
    let flipped = dir.join("flipped.xem");
    let (mut errors, mut tails) = (0u64, 0u64);
    for pos in 0..clean.len() {
        let mut bytes = clean.clone();
        bytes[pos] ^= 0x01;
        std::fs::write(&flipped, &bytes).unwrap();
        let ctx = format!("byte {pos}");
        match Store::open(&flipped, opts()) {
            Err(e) => {
                assert!(e.is_integrity() || e.is_key(), "{ctx}: {e}");
                assert_eq!(
                    std::fs::read(&flipped).unwrap(),
                    bytes,
                    "{ctx}: file changed"
                );
                errors += 1;
            }
            Ok((s, rep)) => {
                assert!(
                    pos as u64 >= compacted_end,
                    "{ctx}: damage to the compacted batch accepted"
                );
                let t = rep
                    .dropped_tail
                    .unwrap_or_else(|| panic!("{ctx}: undetected"));
                assert_eq!(t.offset, compacted_end, "{ctx}");
                assert_eq!(get(&s, "s", "k0").as_deref(), Some(&b"overwritten"[..]));
                assert_eq!(s.len("s"), 6, "{ctx}");
                s.close().wait().unwrap();
                tails += 1;
            }
        }
        std::fs::remove_file(&flipped).unwrap();
    }
    assert_eq!(
        errors, compacted_end,
        "every flip up to the appended batch is an error"
    );
    assert_eq!(tails, clean.len() as u64 - compacted_end);
    // Cut anywhere inside the compacted batch (or right after the header): an error too.
    for cut in [HEADER_LEN, HEADER_LEN + 1, compacted_end - 1] {
        std::fs::write(&flipped, &clean[..cut as usize]).unwrap();
        let e = Store::open(&flipped, opts()).unwrap_err();
        assert!(e.is_integrity(), "cut at {cut}: {e}");
        std::fs::remove_file(&flipped).unwrap();
    }
}

/// Compacting an empty store still writes its (empty) batch, so the rule above holds for it.
#[test]
fn an_empty_compacted_store_reopens_and_keeps_the_rule() {
    let dir = temp_dir("compact-empty");
    let path = dir.join("s.xem");
    let s = open(&path);
    s.set("s", "k", b"v", None).wait().unwrap();
    assert!(s.del("s", "k").wait().unwrap());
    s.compact().wait().unwrap();
    s.close().wait().unwrap();
    drop(s);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() as u64 > HEADER_LEN, "compaction wrote a commit");
    let (s, rep) = Store::open(&path, opts()).unwrap();
    assert!(rep.dropped_tail.is_none());
    assert_eq!(s.stats().live_records, 0);
    s.close().wait().unwrap();
    drop(s);
    std::fs::write(&path, &bytes[..HEADER_LEN as usize]).unwrap();
    assert!(Store::open(&path, opts()).unwrap_err().is_integrity());
}
