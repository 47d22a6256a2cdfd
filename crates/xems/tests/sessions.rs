//! Session rotation races: a token rotated away can never bring its session back, whatever a
//! stale request saves or destroys under it, during its grace period, after it, or while other
//! requests rotate the same session at the same time.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use xems::Store;

const SB: &str = "sessions";
const HOUR: Option<Duration> = Some(Duration::from_secs(3600));

fn resolve(s: &Store, token: &str) -> Option<Vec<u8>> {
    s.resolve_session(SB, token).unwrap().map(|v| v.to_vec())
}

/// A request that read the session through the old token, during the grace period, saves its
/// changes: they go to the session the token names now (its successor), never to a record of
/// the old token's own.
#[test]
fn stale_save_during_grace_updates_the_successor_only() {
    let dir = temp_dir("sess-grace");
    let path = dir.join("s.xem");
    let s = open(&path);
    let grace = Duration::from_millis(800);
    let old = s.create_session(SB, b"v1", HOUR).wait().unwrap();
    let new = s.rotate_session(SB, &old, grace).wait().unwrap().unwrap();
    assert!(s
        .save_session(SB, &old, b"from-stale", None)
        .wait()
        .unwrap());
    assert_eq!(resolve(&s, &new).as_deref(), Some(&b"from-stale"[..]));
    assert_eq!(resolve(&s, &old).as_deref(), Some(&b"from-stale"[..]));
    let st = s.stats();
    assert_eq!((st.live_records, st.aliases), (1, 1), "no second session");
    thread::sleep(grace + Duration::from_millis(200));
    assert_eq!(resolve(&s, &old), None, "old token after grace");
    assert_eq!(resolve(&s, &new).as_deref(), Some(&b"from-stale"[..]));
    s.close().wait().unwrap();
    drop(s);
    let s = open(&path);
    assert_eq!(resolve(&s, &old), None, "old token after reopen");
    assert_eq!(s.stats().live_records, 1);
}

/// The same save arriving after the grace period writes nothing at all.
#[test]
fn stale_save_after_grace_writes_nothing() {
    let dir = temp_dir("sess-after");
    let path = dir.join("s.xem");
    let s = open(&path);
    let grace = Duration::from_millis(300);
    let old = s.create_session(SB, b"v1", HOUR).wait().unwrap();
    let new = s.rotate_session(SB, &old, grace).wait().unwrap().unwrap();
    thread::sleep(grace + Duration::from_millis(150));
    let size = s.stats().file_size;
    assert!(!s
        .save_session(SB, &old, b"resurrected", HOUR)
        .wait()
        .unwrap());
    assert_eq!(s.stats().file_size, size, "nothing appended");
    assert_eq!(resolve(&s, &old), None);
    assert_eq!(resolve(&s, &new).as_deref(), Some(&b"v1"[..]));
    // Also once the expired alias has been purged (the read above queued that already).
    s.purge_expired().wait().unwrap();
    let st = s.stats();
    assert_eq!((st.aliases, st.expired_pending, st.live_records), (0, 0, 1));
    assert!(!s
        .save_session(SB, &old, b"resurrected", HOUR)
        .wait()
        .unwrap());
    assert_eq!(resolve(&s, &old), None);
    s.close().wait().unwrap();
    drop(s);
    assert_eq!(resolve(&open(&path), &old), None);
}

/// Zero grace: the old token is dead at once, and saving under it does nothing.
#[test]
fn save_under_a_token_rotated_without_grace_writes_nothing() {
    let dir = temp_dir("sess-zero");
    let s = open(&dir.join("s.xem"));
    let old = s.create_session(SB, b"v1", HOUR).wait().unwrap();
    let new = s
        .rotate_session(SB, &old, Duration::ZERO)
        .wait()
        .unwrap()
        .unwrap();
    assert!(!s.save_session(SB, &old, b"x", None).wait().unwrap());
    assert_eq!(resolve(&s, &old), None);
    assert_eq!(resolve(&s, &new).as_deref(), Some(&b"v1"[..]));
}

/// A destroyed session stays destroyed whatever a stale request saves, under its token or an
/// older one; destroying through an old token within grace ends the session itself.
#[test]
fn destroyed_sessions_stay_destroyed() {
    let dir = temp_dir("sess-destroy");
    let s = open(&dir.join("s.xem"));
    let t1 = s.create_session(SB, b"v1", HOUR).wait().unwrap();
    assert!(s.destroy_session(SB, &t1).wait().unwrap());
    assert!(!s.save_session(SB, &t1, b"again", None).wait().unwrap());
    assert_eq!(resolve(&s, &t1), None);

    let a = s.create_session(SB, b"v1", HOUR).wait().unwrap();
    let b = s
        .rotate_session(SB, &a, Duration::from_secs(30))
        .wait()
        .unwrap()
        .unwrap();
    let c = s
        .rotate_session(SB, &b, Duration::from_secs(30))
        .wait()
        .unwrap()
        .unwrap();
    // Logging out from a tab that still holds the first token ends the session.
    assert!(s.destroy_session(SB, &a).wait().unwrap());
    for t in [&a, &b, &c] {
        assert_eq!(resolve(&s, t), None);
        assert!(!s.save_session(SB, t, b"again", None).wait().unwrap());
    }
    let st = s.stats();
    assert_eq!((st.live_records, st.aliases), (0, 0));
}

/// `ttl: None` keeps the session's expiry; a ttl restarts it.
#[test]
fn save_keeps_or_restarts_the_expiry() {
    let dir = temp_dir("sess-ttl");
    let s = open(&dir.join("s.xem"));
    let t = s
        .create_session(SB, b"v1", Some(Duration::from_millis(600)))
        .wait()
        .unwrap();
    assert!(s.save_session(SB, &t, b"v2", None).wait().unwrap());
    thread::sleep(Duration::from_millis(800));
    assert_eq!(resolve(&s, &t), None, "None kept the 600 ms expiry");
    assert!(!s.save_session(SB, &t, b"v3", HOUR).wait().unwrap());
    assert_eq!(resolve(&s, &t), None, "an expired session is not revived");

    let t = s
        .create_session(SB, b"v1", Some(Duration::from_millis(600)))
        .wait()
        .unwrap();
    assert!(s.save_session(SB, &t, b"v2", HOUR).wait().unwrap());
    thread::sleep(Duration::from_millis(800));
    assert_eq!(resolve(&s, &t).as_deref(), Some(&b"v2"[..]));
}

/// Two requests rotate the same token at once (queued in one batch): one wins, the other gets
/// `None`; both then save under the token they hold. One session, and after the grace period
/// only the winner's token resolves.
#[test]
fn concurrent_rotations_of_one_token() {
    let dir = temp_dir("sess-concurrent");
    let s = open(&dir.join("s.xem"));
    let grace = Duration::from_millis(600);
    let old = s.create_session(SB, b"v1", HOUR).wait().unwrap();
    let first = s.rotate_session(SB, &old, grace);
    let second = s.rotate_session(SB, &old, grace);
    let outcomes = join_all(vec![first, second]);
    let tokens: Vec<String> = outcomes.into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(tokens.len(), 1, "exactly one rotation wins");
    let new = &tokens[0];
    // The loser holds `old`: its save lands in the same session.
    let saves = join_all(vec![
        s.save_session(SB, new, b"winner", None),
        s.save_session(SB, &old, b"loser", None),
    ]);
    assert!(saves.into_iter().all(|r| r.unwrap()));
    assert_eq!(
        resolve(&s, new).as_deref(),
        Some(&b"loser"[..]),
        "last save wins"
    );
    assert_eq!(s.stats().live_records, 1);
    thread::sleep(grace + Duration::from_millis(200));
    assert_eq!(resolve(&s, &old), None);
    assert!(resolve(&s, new).is_some());
}

/// Many threads play requests of one client at once: each resolves the token it holds,
/// rotates it, and saves under whatever token it ends up with, with random delays, some
/// after the grace period. Afterwards there is still exactly one session, and once the
/// grace has passed every token but the current one resolves to nothing.
#[test]
fn racing_requests_never_fork_or_revive_a_session() {
    let dir = temp_dir("sess-race");
    let path = dir.join("s.xem");
    let s = open(&path);
    let grace = Duration::from_millis(150);
    let seed = Rng::from_clock().0;
    let first = s.create_session(SB, b"0", HOUR).wait().unwrap();
    let current = Arc::new(std::sync::Mutex::new(first.clone()));
    let seen = Arc::new(std::sync::Mutex::new(vec![first]));
    const THREADS: u64 = 8;
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (s, current, seen, barrier) =
                (s.clone(), current.clone(), seen.clone(), barrier.clone());
            thread::spawn(move || {
                let mut rng = Rng(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                barrier.wait();
                for i in 0..25 {
                    let mut token = current.lock().unwrap().clone();
                    let Some(_) = resolve(&s, &token) else {
                        continue;
                    };
                    if rng.below(2) == 0 {
                        if let Some(next) = s.rotate_session(SB, &token, grace).wait().unwrap() {
                            seen.lock().unwrap().push(next.clone());
                            *current.lock().unwrap() = next.clone();
                            token = next;
                        }
                    }
                    // Some requests are slow: they save after the grace period.
                    thread::sleep(Duration::from_millis(rng.below(4) * 60));
                    let data = format!("{t}:{i}");
                    s.save_session(SB, &token, data.as_bytes(), None)
                        .wait()
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.stats().live_records, 1, "one session (seed {seed})");
    thread::sleep(grace + Duration::from_millis(200));
    let seen = seen.lock().unwrap().clone();
    let live: Vec<&String> = seen.iter().filter(|t| resolve(&s, t).is_some()).collect();
    assert_eq!(
        live,
        vec![&*current.lock().unwrap()],
        "only the current token resolves (seed {seed}, {} tokens)",
        seen.len()
    );
    s.close().wait().unwrap();
    drop(s);
    let s = open(&path);
    let live = seen.iter().filter(|t| resolve(&s, t).is_some()).count();
    assert_eq!(live, 1, "after reopen (seed {seed})");
}
