//! Behaviour of the store through its public API.
#![allow(clippy::unwrap_used)]

mod common;

use std::thread;
use std::time::Duration;

use common::*;
use xems::{HardwareId, Options, RecoveryKey, Store, MIN_PBKDF2_ITERATIONS};

#[test]
fn round_trip_and_reopen() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("s.xem");
    let (s, rep) = Store::open(&path, opts()).unwrap();
    assert!(rep.created && !rep.shared && rep.recovery_key.is_none());
    let binary: Vec<u8> = (0..=255u8).collect();
    s.set("users", "alice", b"{\"role\":\"admin\"}", None)
        .wait()
        .unwrap();
    s.set("users", "bob", &binary, None).wait().unwrap();
    s.set("csrf", "alice", b"token-for-csrf", None)
        .wait()
        .unwrap();
    s.set("users", "empty", b"", None).wait().unwrap();
    assert_eq!(
        get(&s, "users", "alice").as_deref(),
        Some(&b"{\"role\":\"admin\"}"[..])
    );
    assert_eq!(get(&s, "users", "bob"), Some(binary.clone()));
    assert_eq!(
        get(&s, "csrf", "alice").as_deref(),
        Some(&b"token-for-csrf"[..]),
        "sandboxes are separate"
    );
    assert_eq!(get(&s, "users", "empty"), Some(vec![]));
    assert_eq!(get(&s, "users", "nobody"), None);
    s.set("users", "alice", b"v2", None).wait().unwrap();
    assert!(s.del("users", "empty").wait().unwrap());
    assert!(
        !s.del("users", "empty").wait().unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(s.len("users"), 2);
    let mut keys = s.keys("users").unwrap();
    keys.sort();
    assert_eq!(keys, vec!["alice", "bob"]);
    let mut sbs = s.sandboxes();
    sbs.sort();
    assert_eq!(sbs, vec!["csrf", "users"]);
    s.close().wait().unwrap();
    assert!(s.get("users", "alice").unwrap_err().is_closed());
    assert!(s
        .set("users", "x", b"y", None)
        .wait()
        .unwrap_err()
        .is_closed());
    drop(s);

    let (s, rep) = Store::open(&path, opts()).unwrap();
    assert!(!rep.created && rep.dropped_tail.is_none() && rep.rewiped == 0);
    assert_eq!(rep.live_records, 3);
    assert_eq!(get(&s, "users", "alice").as_deref(), Some(&b"v2"[..]));
    assert_eq!(get(&s, "users", "bob"), Some(binary));
    assert_eq!(get(&s, "users", "empty"), None);
    assert_eq!(s.clear("users").wait().unwrap(), 2);
    assert_eq!(get(&s, "users", "bob"), None);
    assert_eq!(
        get(&s, "csrf", "alice").as_deref(),
        Some(&b"token-for-csrf"[..])
    );
    let st = s.stats();
    assert_eq!((st.live_records, st.sandboxes), (1, 1));
    assert_eq!(st.file_size, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn invalid_arguments_are_rejected() {
    let dir = temp_dir("invalid");
    let path = dir.join("s.xem");
    let e = Store::open(&path, Options::with_key(b"short")).unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    let e = Store::open(
        &path,
        Options::with_passphrase("long enough").pbkdf2_iterations(10),
    )
    .unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    assert!(!path.exists(), "a rejected open creates nothing");
    let e = Store::open(&path, opts().create_if_missing(false)).unwrap_err();
    assert!(e.is_io(), "{e}");
    let s = open(&path);
    assert!(s
        .set("", "k", b"v", None)
        .wait()
        .unwrap_err()
        .is_invalid_argument());
    assert!(s
        .set("sb", "", b"v", None)
        .wait()
        .unwrap_err()
        .is_invalid_argument());
    assert!(s
        .set("sb", "k", b"v", Some(Duration::ZERO))
        .wait()
        .unwrap_err()
        .is_invalid_argument());
    assert!(s
        .set("sb", &"k".repeat(2000), b"v", None)
        .wait()
        .unwrap_err()
        .is_invalid_argument());
    assert!(s
        .set("sb", "k", &vec![0u8; (16 << 20) + 1], None)
        .wait()
        .unwrap_err()
        .is_invalid_argument());
    assert!(s
        .rotate("sb", "k", "k", Duration::ZERO)
        .wait()
        .unwrap_err()
        .is_invalid_argument());
    assert!(s.get("", "k").unwrap_err().is_invalid_argument());
    assert_eq!(s.stats().writes, 0);
}

#[test]
fn ttl_expiry_is_never_returned_and_is_purged() {
    let dir = temp_dir("ttl");
    let path = dir.join("s.xem");
    let s = open(&path);
    s.set("sb", "short", b"gone soon", Some(Duration::from_millis(80)))
        .wait()
        .unwrap();
    s.set(
        "sb",
        "lazy",
        b"gone soon too",
        Some(Duration::from_millis(80)),
    )
    .wait()
    .unwrap();
    s.set("sb", "forever", b"stays", None).wait().unwrap();
    s.set(
        "sb",
        "long",
        b"stays for now",
        Some(Duration::from_secs(3600)),
    )
    .wait()
    .unwrap();
    assert_eq!(get(&s, "sb", "short").as_deref(), Some(&b"gone soon"[..]));
    thread::sleep(Duration::from_millis(150));
    assert_eq!(
        get(&s, "sb", "short"),
        None,
        "expired entries are never returned"
    );
    assert_eq!(s.len("sb"), 2);
    assert!(!s.keys("sb").unwrap().contains(&"short".to_owned()));
    // Reading "short" queued a lazy purge; purge_expired takes whatever is left ("lazy").
    let purged = s.purge_expired().wait().unwrap();
    assert!((1..=2).contains(&purged), "purged {purged}");
    let st = s.stats();
    assert_eq!((st.live_records, st.expired_pending), (2, 0));
    assert!(st.wiped_records >= 2, "expired records are wiped: {st:?}");
    s.close().wait().unwrap();
    drop(s);

    // An entry that expires while the store is closed is not returned after reopening and
    // compaction drops it.
    let s = open(&path);
    s.set("sb", "while-closed", b"x", Some(Duration::from_millis(50)))
        .wait()
        .unwrap();
    s.close().wait().unwrap();
    drop(s);
    thread::sleep(Duration::from_millis(80));
    let s = open(&path);
    assert_eq!(get(&s, "sb", "while-closed"), None);
    s.compact().wait().unwrap();
    let st = s.stats();
    assert_eq!(
        (st.live_records, st.expired_pending, st.generation),
        (2, 0, 1)
    );
    assert_eq!(get(&s, "sb", "forever").as_deref(), Some(&b"stays"[..]));
    assert_eq!(
        get(&s, "sb", "long").as_deref(),
        Some(&b"stays for now"[..])
    );
}

#[test]
fn rotation_with_grace_period() {
    let dir = temp_dir("rotate");
    let path = dir.join("s.xem");
    let s = open(&path);
    let grace = Duration::from_millis(1200);
    s.set(
        "tok",
        "t1",
        b"session-data",
        Some(Duration::from_secs(3600)),
    )
    .wait()
    .unwrap();
    assert!(s.rotate("tok", "t1", "t2", grace).wait().unwrap());
    assert_eq!(get(&s, "tok", "t2").as_deref(), Some(&b"session-data"[..]));
    assert_eq!(
        get(&s, "tok", "t1").as_deref(),
        Some(&b"session-data"[..]),
        "old token within grace"
    );
    assert!(
        !s.rotate("tok", "t1", "t3", grace).wait().unwrap(),
        "an alias cannot be rotated again"
    );
    assert!(!s.rotate("tok", "missing", "t3", grace).wait().unwrap());
    let st = s.stats();
    assert_eq!((st.live_records, st.aliases), (1, 1));

    // The grace survives a restart (the alias is a durable, encrypted record).
    s.close().wait().unwrap();
    drop(s);
    let s = open(&path);
    assert_eq!(get(&s, "tok", "t1").as_deref(), Some(&b"session-data"[..]));
    // Updating the new token is what the old one resolves to during grace.
    s.set("tok", "t2", b"updated", Some(Duration::from_secs(3600)))
        .wait()
        .unwrap();
    assert_eq!(get(&s, "tok", "t1").as_deref(), Some(&b"updated"[..]));
    thread::sleep(grace + Duration::from_millis(100));
    assert_eq!(get(&s, "tok", "t1"), None, "old token after grace");
    assert_eq!(get(&s, "tok", "t2").as_deref(), Some(&b"updated"[..]));
    s.purge_expired().wait().unwrap();
    assert_eq!(s.stats().aliases, 0);
    s.close().wait().unwrap();
    drop(s);
    let s = open(&path);
    assert_eq!(get(&s, "tok", "t1"), None, "never again, also after reopen");

    // Zero grace: the old token dies at once.
    assert!(s.rotate("tok", "t2", "t4", Duration::ZERO).wait().unwrap());
    assert_eq!(get(&s, "tok", "t2"), None);
    assert_eq!(get(&s, "tok", "t4").as_deref(), Some(&b"updated"[..]));
}

#[test]
fn sessions_create_resolve_rotate_destroy() {
    let dir = temp_dir("sessions");
    let s = open(&dir.join("s.xem"));
    let t1 = s
        .create_session("sess", b"{\"user\":1}", Some(Duration::from_secs(600)))
        .wait()
        .unwrap();
    let t_other = s
        .create_session("sess", b"{\"user\":2}", None)
        .wait()
        .unwrap();
    assert_eq!(t1.len(), 43, "256-bit base64url token");
    assert!(t1
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_ne!(t1, t_other);
    assert_eq!(
        s.resolve_session("sess", &t1)
            .unwrap()
            .as_deref()
            .map(|v| v.as_slice()),
        Some(&b"{\"user\":1}"[..])
    );
    let t2 = s
        .rotate_session("sess", &t1, Duration::from_secs(30))
        .wait()
        .unwrap()
        .unwrap();
    assert_ne!(t1, t2);
    assert!(s.resolve_session("sess", &t2).unwrap().is_some());
    assert!(
        s.resolve_session("sess", &t1).unwrap().is_some(),
        "old token within grace"
    );
    assert_eq!(
        s.rotate_session("sess", &t1, Duration::from_secs(30))
            .wait()
            .unwrap(),
        None
    );
    assert!(s.destroy_session("sess", &t2).wait().unwrap());
    assert!(s.resolve_session("sess", &t2).unwrap().is_none());
    assert!(
        s.resolve_session("sess", &t1).unwrap().is_none(),
        "alias of a destroyed session resolves to nothing"
    );
    assert!(s.resolve_session("sess", &t_other).unwrap().is_some());
}

/// Opening with a wrong secret or on another machine must fail with a Key error and must not
/// touch the file, even when the file has a torn tail that a successful open would truncate.
#[test]
fn wrong_secret_or_other_hardware_is_refused_and_file_untouched() {
    let dir = temp_dir("wrongkey");
    let path = dir.join("s.xem");
    let s = open(&path);
    s.set("sb", "k", b"v", None).wait().unwrap();
    s.close().wait().unwrap();
    drop(s);
    // Simulate a torn write after the last batch.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0x41, 0, 0, 0, b'R', 0, 0, 0, 1, 2, 3]);
    std::fs::write(&path, &bytes).unwrap();

    let wrong_secret = Options::with_key([0x5a; 32]).hardware_id(HardwareId::from_bytes(HW1));
    let e = Store::open(&path, wrong_secret).unwrap_err();
    assert!(e.is_key(), "{e}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "wrong secret left the file byte-identical"
    );

    let e = Store::open(&path, opts_on(HW2)).unwrap_err();
    assert!(e.is_key(), "{e}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "other hardware left the file byte-identical"
    );

    let e = Store::open(&path, opts().hardware_bound(false)).unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    let e = Store::open(
        &path,
        Options::with_passphrase(SECRET).hardware_id(HardwareId::from_bytes(HW1)),
    )
    .unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // The right key opens it, and only then is the torn tail dropped.
    let (s, rep) = Store::open(&path, opts()).unwrap();
    let tail = rep.dropped_tail.expect("torn tail reported");
    assert_eq!(tail.bytes, 11);
    assert_eq!(get(&s, "sb", "k").as_deref(), Some(&b"v"[..]));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), tail.offset);
}

#[test]
fn unbound_store_ignores_hardware() {
    let dir = temp_dir("unbound");
    let path = dir.join("s.xem");
    let (s, _) = Store::open(&path, opts_on(HW1).hardware_bound(false)).unwrap();
    s.set("sb", "k", b"v", None).wait().unwrap();
    s.close().wait().unwrap();
    drop(s);
    // "Another machine" (other hardware id) opens an unbound store with the secret alone.
    let (s, _) = Store::open(&path, opts_on(HW2).hardware_bound(false)).unwrap();
    assert_eq!(get(&s, "sb", "k").as_deref(), Some(&b"v"[..]));
}

#[test]
fn passphrase_store_and_rebind_to_new_hardware_with_recovery_key() {
    let dir = temp_dir("rebind");
    let path = dir.join("s.xem");
    let pass = || {
        Options::with_passphrase("correct horse battery staple")
            .pbkdf2_iterations(MIN_PBKDF2_ITERATIONS)
    };
    let (s, rep) = Store::open(
        &path,
        pass()
            .hardware_id(HardwareId::from_bytes(HW1))
            .recovery_key(true),
    )
    .unwrap();
    let recovery_text = rep
        .recovery_key
        .expect("recovery key returned once at creation")
        .reveal();
    s.set("sb", "k", b"moved with the data", None)
        .wait()
        .unwrap();
    s.close().wait().unwrap();
    drop(s);

    let e = Store::open(&path, pass().hardware_id(HardwareId::from_bytes(HW2))).unwrap_err();
    assert!(
        e.is_key(),
        "the copied file does not open on new hardware: {e}"
    );
    let e = Store::open(
        &path,
        Options::with_passphrase("wrong passphrase!")
            .pbkdf2_iterations(MIN_PBKDF2_ITERATIONS)
            .hardware_id(HardwareId::from_bytes(HW1)),
    )
    .unwrap_err();
    assert!(e.is_key(), "{e}");

    let wrong = RecoveryKey::parse(&"ab".repeat(32)).unwrap();
    let new_opts = || Options::with_key([0x77; 32]).hardware_id(HardwareId::from_bytes(HW2));
    let before = std::fs::read(&path).unwrap();
    assert!(Store::rebind(&path, &wrong, new_opts())
        .unwrap_err()
        .is_key());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "failed rebind leaves the file as it was"
    );

    let rk = RecoveryKey::parse(&recovery_text).unwrap();
    Store::rebind(&path, &rk, new_opts()).unwrap();
    let (s, _) = Store::open(&path, new_opts()).unwrap();
    assert_eq!(
        get(&s, "sb", "k").as_deref(),
        Some(&b"moved with the data"[..])
    );
    s.close().wait().unwrap();
    drop(s);
    let e = Store::open(
        &path,
        Options::with_key([0x77; 32]).hardware_id(HardwareId::from_bytes(HW1)),
    )
    .unwrap_err();
    assert!(e.is_key(), "now bound to the new hardware only: {e}");
    assert!(
        Store::open(&path, pass().hardware_id(HardwareId::from_bytes(HW1)))
            .unwrap_err()
            .is_invalid_argument()
    );
    // The recovery key keeps working after a rebind.
    Store::rebind(&path, &rk, opts_on(HW1)).unwrap();
    assert_eq!(
        get(&open(&path), "sb", "k").as_deref(),
        Some(&b"moved with the data"[..])
    );

    // A store created without a recovery key cannot be rebound.
    let p2 = dir.join("norecovery.xem");
    drop(open(&p2));
    assert!(Store::rebind(&p2, &rk, opts_on(HW2))
        .unwrap_err()
        .is_invalid_argument());
}

#[test]
fn compaction_keeps_every_live_record() {
    let dir = temp_dir("compact");
    let path = dir.join("s.xem");
    let s = open(&path);
    let mut futs = Vec::new();
    for i in 0..300u64 {
        futs.push(s.set("sb", &format!("k{i}"), &value("v1", i), None));
    }
    for i in 0..200u64 {
        futs.push(s.set("sb", &format!("k{i}"), &value("v2", i), None));
    }
    for f in join_all(futs) {
        f.unwrap();
    }
    for i in 250..300u64 {
        assert!(s.del("sb", &format!("k{i}")).wait().unwrap());
    }
    s.set("sb", "expiring", b"x", Some(Duration::from_millis(30)))
        .wait()
        .unwrap();
    assert!(s
        .rotate("sb", "k0", "k0-new", Duration::from_secs(600))
        .wait()
        .unwrap());
    thread::sleep(Duration::from_millis(50));
    let before = s.stats();
    s.compact().wait().unwrap();
    let after = s.stats();
    assert!(
        after.file_size < before.file_size,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.generation, 1);
    assert_eq!(after.live_records, 250, "k1..k249 and k0-new");
    assert_eq!(after.aliases, 1);
    assert!(
        after.dead_bytes < 100,
        "only the commit record is overhead: {after:?}"
    );
    assert_eq!(after.file_size, std::fs::metadata(&path).unwrap().len());
    let check = |s: &Store| {
        for i in 1..250u64 {
            let want = if i < 200 {
                value("v2", i)
            } else {
                value("v1", i)
            };
            assert_eq!(get(s, "sb", &format!("k{i}")), Some(want), "k{i}");
        }
        for i in 250..300u64 {
            assert_eq!(get(s, "sb", &format!("k{i}")), None);
        }
        assert_eq!(get(s, "sb", "k0-new"), Some(value("v2", 0)));
        assert_eq!(
            get(s, "sb", "k0"),
            Some(value("v2", 0)),
            "alias survives compaction"
        );
        assert_eq!(get(s, "sb", "expiring"), None);
    };
    check(&s);
    // Writing after a compaction continues the new generation; reopen sees it all.
    s.set("sb", "after", b"compaction", None).wait().unwrap();
    s.close().wait().unwrap();
    drop(s);
    let s = open(&path);
    check(&s);
    assert_eq!(get(&s, "sb", "after").as_deref(), Some(&b"compaction"[..]));
    assert_eq!(s.stats().generation, 1);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");
}

#[test]
fn one_store_per_path_per_process() {
    let dir = temp_dir("registry");
    let path = dir.join("s.xem");
    let (a, _) = Store::open(&path, opts()).unwrap();
    let (b, rep) = Store::open(dir.join(".").join("s.xem"), opts()).unwrap();
    assert!(
        rep.shared && a.ptr_eq(&b),
        "same canonical path, same store"
    );
    let e = Store::open(
        &path,
        Options::with_key([9u8; 32]).hardware_id(HardwareId::from_bytes(HW1)),
    )
    .unwrap_err();
    assert!(e.is_key(), "a second open must still prove the secret: {e}");
    let e = Store::open(&path, opts().hardware_bound(false)).unwrap_err();
    assert!(e.is_invalid_argument(), "conflicting options: {e}");

    // Many threads, one store.
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = if t % 2 == 0 { a.clone() } else { b.clone() };
            thread::spawn(move || {
                for i in 0..20 {
                    s.set("sb", &format!("t{t}-{i}"), &value("th", t * 100 + i), None)
                        .wait()
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(a.len("sb"), 160);
    b.close().wait().unwrap();
    assert!(
        a.get("sb", "t0-0").unwrap_err().is_closed(),
        "close affects every handle"
    );
    let (c, rep) = Store::open(&path, opts()).unwrap();
    assert!(!rep.shared && !c.ptr_eq(&a));
    assert_eq!(rep.live_records, 160);
    // Dropping the last handle releases the file for an immediate reopen.
    drop(c);
    let (d, rep) = Store::open(&path, opts()).unwrap();
    assert!(!rep.shared);
    assert_eq!(d.len("sb"), 160);
}

/// 64 writers in flight from ONE thread (as the JS binding does), polled as futures: the writer
/// thread must batch them so that far fewer fsyncs than writes happen.
#[test]
fn group_commit_shares_fsyncs() {
    let dir = temp_dir("group");
    let s = open(&dir.join("s.xem"));
    for round in 0..10u64 {
        let futs: Vec<_> = (0..64u64)
            .map(|i| s.set("sb", &format!("k{}", round * 64 + i), &value("g", i), None))
            .collect();
        for r in join_all(futs) {
            r.unwrap();
        }
    }
    let st = s.stats();
    assert_eq!(st.writes, 640);
    assert_eq!(
        st.fsyncs, st.batches,
        "no wipes happened, one fsync per batch"
    );
    assert!(
        st.fsyncs * 4 < st.writes,
        "group commit must share fsyncs: {st:?}"
    );

    // The same with 64 OS threads blocking in wait().
    let before = s.stats();
    let handles: Vec<_> = (0..64u64)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..5u64 {
                    s.set("threads", &format!("t{t}-{i}"), b"x", None)
                        .wait()
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let after = s.stats();
    let (writes, fsyncs) = (after.writes - before.writes, after.fsyncs - before.fsyncs);
    assert_eq!(writes, 320);
    assert!(fsyncs * 2 < writes, "{fsyncs} fsyncs for {writes} writes");
    assert_eq!(s.len("sb") + s.len("threads"), 960);
}

/// Completions can also deliver through a callback on the writer thread (what a napi
/// thread-safe function wants), in submission order for one store.
#[test]
fn completion_callbacks_run_after_durability() {
    let dir = temp_dir("callbacks");
    let s = open(&dir.join("s.xem"));
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..50u64 {
        let tx = tx.clone();
        let s2 = s.clone();
        s.set("sb", &format!("k{i}"), &value("cb", i), None)
            .on_complete(move |r| {
                r.unwrap();
                // Visible to readers by the time the completion fires.
                let seen = s2.get("sb", &format!("k{i}")).unwrap().is_some();
                tx.send((i, seen)).unwrap();
            });
    }
    drop(tx);
    let got: Vec<(u64, bool)> = rx.iter().collect();
    assert_eq!(got.len(), 50);
    assert!(got.iter().all(|&(_, seen)| seen));
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "completions in submission order"
    );
}
