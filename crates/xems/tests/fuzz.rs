//! Fuzzing the opening of `.xem` files: random stores built through the API, then their files
//! torn, flipped, cut, spliced, replayed from older copies, or replaced by random bytes. The
//! opener must never panic, never write a file it refuses, and never accept a wrong plaintext:
//! whatever it opens is a state the store really had (exactly the expected one where the
//! damage determines it), with a torn tail dropped and reported.
//!
//! Seeded and time-bounded: `XEMS_FUZZ_SEED` replays a run, `XEMS_FUZZ_SECONDS` (default 1)
//! bounds it; CI runs it longer.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use xems::Store;

const HEADER_LEN: usize = 256;
const SANDBOXES: [&str; 2] = ["a", "b"];
const KEYS: usize = 6;

/// What `get` returns for every key the history can touch (absent keys are left out).
type State = BTreeMap<(String, String), Vec<u8>>;

/// The store's files and states after each operation: `files[0]` is the new, empty store.
struct History {
    files: Vec<Vec<u8>>,
    states: Vec<State>,
    /// Index of the first file of the current generation (after the last compaction).
    generation_start: usize,
}

fn key_names() -> Vec<String> {
    (0..KEYS)
        .flat_map(|i| [format!("k{i}"), format!("r{i}")])
        .collect()
}

fn read_state(s: &Store) -> State {
    let mut st = State::new();
    for sb in SANDBOXES {
        for k in key_names() {
            if let Some(v) = get(s, sb, &k) {
                st.insert((sb.to_owned(), k), v);
            }
        }
    }
    st
}

fn build(rng: &mut Rng, dir: &Path, name: &str) -> History {
    let path = dir.join(name);
    let s = open(&path);
    let mut h = History {
        files: vec![std::fs::read(&path).unwrap()],
        states: vec![State::new()],
        generation_start: 0,
    };
    let ops = 8 + rng.below(30);
    for _ in 0..ops {
        let sb = SANDBOXES[rng.below(2) as usize];
        let i = rng.below(KEYS as u64);
        let hour = Some(Duration::from_secs(3600));
        match rng.below(10) {
            0..=3 => {
                let len = rng.below(300) as usize;
                let v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let ttl = if rng.below(3) == 0 { hour } else { None };
                s.set(sb, &format!("k{i}"), &v, ttl).wait().unwrap();
            }
            4 => {
                s.del(sb, &format!("k{i}")).wait().unwrap();
            }
            5 | 6 => {
                let grace = if rng.below(2) == 0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs(3600)
                };
                let (old, new) = if rng.below(2) == 0 {
                    (format!("k{i}"), format!("r{i}"))
                } else {
                    (format!("r{i}"), format!("k{i}"))
                };
                s.rotate(sb, &old, &new, grace).wait().unwrap();
            }
            7 => {
                s.clear(sb).wait().unwrap();
            }
            8 if rng.below(4) == 0 => {
                s.compact().wait().unwrap();
                h.generation_start = h.files.len();
            }
            _ => {
                let len = rng.below(64) as usize;
                let v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                s.set(sb, &format!("r{i}"), &v, None).wait().unwrap();
            }
        }
        h.files.push(std::fs::read(&path).unwrap());
        h.states.push(read_state(&s));
    }
    s.close().wait().unwrap();
    drop(s);
    std::fs::remove_file(&path).unwrap();
    h
}

/// What a mutated file must open to.
enum Expect {
    /// Exactly this state; `dropped` says whether a torn tail must be reported.
    Exactly(usize, bool),
    /// Either of these states (`None`: an error is also fine).
    OneOf(Vec<usize>),
    /// The last state, or (damage that also destroyed every later commit looks like a torn
    /// tail) the state at a batch boundary where a reported dropped tail starts; or an error.
    LastOrRolledBack,
    /// Must be refused.
    Error,
}

struct Outcome {
    state: Option<State>,
    dropped: bool,
    /// Where the dropped tail started.
    dropped_at: Option<u64>,
}

fn open_case(path: &Path, bytes: &[u8], ctx: &str) -> Outcome {
    std::fs::write(path, bytes).unwrap();
    let opened = Store::open(path, opts().auto_compaction(None));
    let outcome = match opened {
        Err(e) => {
            assert!(
                e.is_integrity() || e.is_key() || e.is_invalid_argument(),
                "{ctx}: unexpected error kind: {e}"
            );
            assert_eq!(
                std::fs::read(path).unwrap(),
                bytes,
                "{ctx}: a refused file was written"
            );
            Outcome {
                state: None,
                dropped: false,
                dropped_at: None,
            }
        }
        Ok((s, rep)) => {
            if let Some(t) = rep.dropped_tail {
                assert_eq!(t.offset + t.bytes, bytes.len() as u64, "{ctx}: {t:?}");
            }
            let state = read_state(&s);
            s.close().wait().unwrap();
            drop(s);
            // Recovery is done once: the repaired file opens cleanly to the same state.
            let (s, again) = Store::open(path, opts().auto_compaction(None))
                .unwrap_or_else(|e| panic!("{ctx}: repaired file does not reopen: {e}"));
            assert!(
                again.dropped_tail.is_none() && again.rewiped == 0,
                "{ctx}: {again:?}"
            );
            assert_eq!(read_state(&s), state, "{ctx}: state changed on reopen");
            s.close().wait().unwrap();
            Outcome {
                state: Some(state),
                dropped: rep.dropped_tail.is_some(),
                dropped_at: rep.dropped_tail.map(|t| t.offset),
            }
        }
    };
    std::fs::remove_file(path).unwrap();
    outcome
}

fn check(h: &History, got: &Outcome, expect: &Expect, ctx: &str) {
    match (expect, &got.state) {
        (Expect::Error, Some(st)) => panic!("{ctx}: accepted, opened to {st:?}"),
        (Expect::Exactly(k, dropped), None) => {
            panic!("{ctx}: refused; expected state {k} (dropped tail: {dropped})")
        }
        (Expect::Exactly(k, dropped), Some(st)) => {
            assert_eq!(st, &h.states[*k], "{ctx}: expected state {k}");
            assert_eq!(got.dropped, *dropped, "{ctx}: dropped tail");
        }
        (Expect::LastOrRolledBack, Some(st)) => {
            let n = h.files.len() - 1;
            match got.dropped_at {
                None => assert_eq!(st, &h.states[n], "{ctx}: expected the last state"),
                Some(at) => {
                    let k = (h.generation_start..=n)
                        .rev()
                        .find(|&k| h.files[k].len() as u64 == at)
                        .unwrap_or_else(|| panic!("{ctx}: dropped at {at}, not a batch boundary"));
                    assert_eq!(st, &h.states[k], "{ctx}: rolled back to boundary {k}");
                }
            }
        }
        (Expect::OneOf(ks), Some(st)) => assert!(
            ks.iter().any(|&k| &h.states[k] == st),
            "{ctx}: opened to a state the store never had there (allowed: {ks:?}; it equals \
             states {:?}; file sizes {:?}; generation from {}; dropped at {:?}): {st:?}",
            (0..h.states.len())
                .filter(|&k| &h.states[k] == st)
                .collect::<Vec<_>>(),
            h.files.iter().map(Vec::len).collect::<Vec<_>>(),
            h.generation_start,
            got.dropped_at,
        ),
        (_, None) => {}
    }
}

fn flip_some(rng: &mut Rng, bytes: &mut [u8], from: usize) -> Vec<usize> {
    if bytes.len() <= from {
        return Vec::new();
    }
    let n = 1 + rng.below(4);
    (0..n)
        .map(|_| {
            let i = from + rng.below((bytes.len() - from) as u64) as usize;
            bytes[i] ^= 1 << rng.below(8);
            i
        })
        .collect()
}

/// The last state, or the one before the last batch (what dropping that batch as a torn
/// tail gives; ops that wrote nothing are no batch).
fn last_or_before(h: &History) -> Vec<usize> {
    let n = h.files.len() - 1;
    let len = h.files[n].len();
    let before = (h.generation_start..n)
        .rev()
        .find(|&k| h.files[k].len() < len);
    std::iter::once(n).chain(before).collect()
}

/// The last file cut at `cut` (garbage may follow): the state at the last batch boundary
/// before the cut (a rollback, which a file alone cannot reveal), or an error (a record wiped
/// by a batch that was cut off is no longer declared dead; the compacted batch was cut).
fn state_at_cut(h: &History, cut: usize) -> Expect {
    let boundary = (h.generation_start..h.files.len())
        .rev()
        .find(|&k| h.files[k].len() <= cut);
    match boundary {
        Some(k) if cut >= HEADER_LEN => Expect::OneOf(vec![k]),
        _ => Expect::Error,
    }
}

/// One mutated file and what it must open to.
fn mutate(rng: &mut Rng, h: &History, other: &History) -> (String, Vec<u8>, Expect) {
    let n = h.files.len() - 1;
    let last = &h.files[n];
    let gen_start = h.generation_start;
    // Ops of this generation that appended something.
    let grew: Vec<usize> = (gen_start..n)
        .filter(|&k| h.files[k + 1].len() > h.files[k].len())
        .collect();
    match rng.below(9) {
        // A torn append: the file after op k plus part of op k+1's batch (whose wipes had not
        // happened yet), possibly with pages of it garbled.
        0 | 1 if !grew.is_empty() => {
            let k = grew[rng.below(grew.len() as u64) as usize];
            let (before, after) = (&h.files[k], &h.files[k + 1]);
            let cut = before.len() + 1 + rng.below((after.len() - before.len()) as u64) as usize;
            let mut bytes = before.clone();
            bytes.extend_from_slice(&after[before.len()..cut]);
            let garbled = rng.below(2) == 0;
            if garbled {
                flip_some(rng, &mut bytes, before.len());
            }
            let whole = cut == after.len() && !garbled;
            let expect = if whole {
                Expect::Exactly(k + 1, false)
            } else {
                Expect::Exactly(k, true)
            };
            (
                format!("torn append after op {k} at {cut}, garbled {garbled}"),
                bytes,
                expect,
            )
        }
        // Random garbage after the last batch.
        2 => {
            let mut bytes = last.clone();
            let m = 1 + rng.below(300) as usize;
            bytes.extend((0..m).map(|_| rng.next() as u8));
            ("garbage tail".into(), bytes, Expect::Exactly(n, true))
        }
        // Bits flipped anywhere: an error, or (damage in wiped bodies or the last batch) the
        // last or the previous state.
        3 => {
            let mut bytes = last.clone();
            let at = flip_some(rng, &mut bytes, 0);
            let expect = if at.len() == 1 {
                Expect::OneOf(last_or_before(h))
            } else {
                Expect::LastOrRolledBack
            };
            (format!("flips at {at:?}"), bytes, expect)
        }
        // Cut anywhere: an error or exactly the state at the last batch boundary before the cut.
        4 => {
            let cut = rng.below(last.len() as u64 + 1) as usize;
            (
                format!("cut at {cut}"),
                last[..cut].to_vec(),
                state_at_cut(h, cut),
            )
        }
        // Old bytes put back at their place (an "un-wipe" from a backup of the same generation):
        // dead records stay dead, so exactly the last state.
        5 if n > gen_start => {
            let k = gen_start + rng.below((n - gen_start) as u64) as usize;
            let old = &h.files[k];
            let a = HEADER_LEN + rng.below((old.len() - HEADER_LEN) as u64 + 1) as usize;
            let b = a + rng.below((old.len() - a) as u64 + 1) as usize;
            let mut bytes = last.clone();
            bytes[a..b].copy_from_slice(&old[a..b]);
            (
                format!("bytes {a}..{b} restored from op {k}"),
                bytes,
                Expect::Exactly(n, false),
            )
        }
        // The header changed and its unkeyed checksum recomputed, as a tamperer would.
        6 => {
            let mut bytes = last.clone();
            let i = rng.below(224) as usize;
            bytes[i] ^= 1 << rng.below(8);
            let sum = ring::digest::digest(&ring::digest::SHA256, &bytes[..224]);
            bytes[224..256].copy_from_slice(sum.as_ref());
            (
                format!("header byte {i} with checksum fixed"),
                bytes,
                Expect::Error,
            )
        }
        // Frames of another store (another file id) spliced in.
        7 => {
            let src = &other.files[other.files.len() - 1];
            let a = HEADER_LEN + rng.below((src.len() - HEADER_LEN) as u64 + 1) as usize;
            let b = a + rng.below((src.len() - a).min(400) as u64 + 1) as usize;
            let at = HEADER_LEN + rng.below((last.len() - HEADER_LEN) as u64 + 1) as usize;
            let mut bytes = last[..at].to_vec();
            bytes.extend_from_slice(&src[a..b]);
            let expect = if rng.below(2) == 0 {
                bytes.extend_from_slice(&last[at..]);
                Expect::OneOf(last_or_before(h))
            } else {
                // The rest cut off: like a cut at `at` followed by garbage.
                state_at_cut(h, at)
            };
            (
                format!("other store's {a}..{b} spliced at {at}"),
                bytes,
                expect,
            )
        }
        // Random files: nothing, random bytes, the magic then random bytes, or this store's
        // header then random bytes.
        _ => {
            let len = rng.below(1200) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let expect = match rng.below(3) {
                0 => Expect::Error,
                1 => {
                    bytes.splice(..bytes.len().min(4), *b"XEMS");
                    Expect::Error
                }
                _ => {
                    let mut v = last[..HEADER_LEN].to_vec();
                    v.extend_from_slice(&bytes);
                    bytes = v;
                    if gen_start > 0 || len == 0 {
                        // A compacted file's first batch is gone; an empty tail is just empty.
                        Expect::OneOf(vec![0])
                    } else {
                        Expect::Exactly(0, true)
                    }
                }
            };
            (
                format!("random file of {} bytes", bytes.len()),
                bytes,
                expect,
            )
        }
    }
}

#[test]
fn fuzz_opening_damaged_files() {
    let seed: u64 = std::env::var("XEMS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Rng::from_clock().0);
    let secs: f64 = std::env::var("XEMS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    eprintln!("fuzz_opening_damaged_files: XEMS_FUZZ_SEED={seed} for {secs} s");
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut rng = Rng(seed | 1);
    let dir = temp_dir("fuzz");
    let path = dir.join("case.xem");
    let (mut cases, mut histories) = (0u64, 0u64);
    let mut accepted = 0u64;
    while Instant::now() < until || cases == 0 {
        let h = build(&mut rng, &dir, "a.xem");
        let other = build(&mut rng, &dir, "b.xem");
        histories += 1;
        for _ in 0..100 {
            let (what, bytes, expect) = mutate(&mut rng, &h, &other);
            let ctx = format!("XEMS_FUZZ_SEED={seed}, history {histories}, case {cases}: {what}");
            let result = catch_unwind(AssertUnwindSafe(|| {
                let got = open_case(&path, &bytes, &ctx);
                check(&h, &got, &expect, &ctx);
                got.state.is_some()
            }));
            match result {
                Ok(ok) => accepted += u64::from(ok),
                Err(e) => {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    panic!("{ctx}: {msg}");
                }
            }
            cases += 1;
            if Instant::now() >= until {
                break;
            }
        }
    }
    eprintln!("{cases} damaged files from {histories} stores, {accepted} opened");
    assert!(
        accepted > 0 && accepted < cases,
        "both outcomes were exercised"
    );
}
