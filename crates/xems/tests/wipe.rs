//! Secure wipe: superseded records leave no plaintext and no ciphertext in the file.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::thread;
use std::time::Duration;

use common::*;
use xems::Store;

/// Long enough that finding it in the file means it was written there: a two-byte name turns up
/// in a few kilobytes of ciphertext by chance now and then.
const NAMESPACE: &str = "session-bucket";

/// The record frame appended by the single-op batch that started at `start`.
fn frame_at(path: &Path, start: u64) -> (u64, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let s = start as usize;
    let len = u32::from_le_bytes(bytes[s..s + 4].try_into().unwrap()) as usize;
    assert_eq!(bytes[s + 4], b'R');
    (start, bytes[s..s + len].to_vec())
}

fn assert_wiped(path: &Path, off: u64, old: &[u8], what: &str) {
    let file = std::fs::read(path).unwrap();
    // Not a single 16-byte run of the old nonce/ciphertext/tag survives anywhere in the file.
    for w in old[8..].windows(16) {
        assert!(
            !contains(&file, w),
            "{what}: old ciphertext bytes still in the file"
        );
    }
    let o = off as usize;
    assert_eq!(
        &file[o..o + 4],
        &old[..4],
        "{what}: length kept so the frame stays skippable"
    );
    assert_eq!(file[o + 4], b'W', "{what}: marked wiped");
    assert_eq!(file[o + 5..o + 8], old[5..8], "{what}: offset hint kept");
    assert!(
        file[o + 8..o + old.len()].iter().all(|&b| b == 0),
        "{what}: zero-filled"
    );
}

#[test]
fn superseded_records_leave_no_plaintext_or_ciphertext() {
    let dir = temp_dir("wipe");
    let path = dir.join("s.xem");
    let s = open(&path);
    let secret = b"PLAINTEXT-SESSION-VALUE-0123456789-must-never-reach-the-disk".to_vec();
    let names = [
        "overwritten-key",
        "deleted-key",
        "rotated-token-with-grace",
        "rotated-token-no-grace",
        "expiring-key",
    ];
    let mut wiped = Vec::new();

    // Each op is its own batch, so the record frame starts where the file ended before it.
    let size = |s: &Store| s.stats().file_size;

    let at = size(&s);
    s.set(NAMESPACE, names[0], &secret, None).wait().unwrap();
    let f = frame_at(&path, at);
    s.set(NAMESPACE, names[0], b"replacement", None)
        .wait()
        .unwrap();
    assert_wiped(&path, f.0, &f.1, "overwrite");
    wiped.push(f);

    let at = size(&s);
    s.set(NAMESPACE, names[1], &secret, None).wait().unwrap();
    let f = frame_at(&path, at);
    assert!(s.del(NAMESPACE, names[1]).wait().unwrap());
    assert_wiped(&path, f.0, &f.1, "delete");
    wiped.push(f);

    let at = size(&s);
    s.set(NAMESPACE, names[2], &secret, None).wait().unwrap();
    let f = frame_at(&path, at);
    assert!(s
        .rotate(NAMESPACE, names[2], "new-token-a", Duration::from_secs(600))
        .wait()
        .unwrap());
    assert_wiped(&path, f.0, &f.1, "rotation with grace");
    assert_eq!(
        get(&s, NAMESPACE, names[2]),
        Some(secret.clone()),
        "still resolves through its alias"
    );
    wiped.push(f);

    let at = size(&s);
    s.set(NAMESPACE, names[3], &secret, None).wait().unwrap();
    let f = frame_at(&path, at);
    assert!(s
        .rotate(NAMESPACE, names[3], "new-token-b", Duration::ZERO)
        .wait()
        .unwrap());
    assert_wiped(&path, f.0, &f.1, "rotation without grace");
    wiped.push(f);

    let at = size(&s);
    s.set(
        NAMESPACE,
        names[4],
        &secret,
        Some(Duration::from_millis(30)),
    )
    .wait()
    .unwrap();
    let f = frame_at(&path, at);
    thread::sleep(Duration::from_millis(60));
    assert_eq!(s.purge_expired().wait().unwrap(), 1);
    assert_wiped(&path, f.0, &f.1, "expiry purge");
    wiped.push(f);

    assert_eq!(s.stats().wiped_records, 5);
    let file = std::fs::read(&path).unwrap();
    assert!(!contains(&file, &secret), "plaintext value never on disk");
    for n in names
        .iter()
        .chain(["new-token-a", "new-token-b", NAMESPACE].iter())
    {
        assert!(
            !contains(&file, n.as_bytes()),
            "key {n} never on disk in plaintext"
        );
    }

    // Compaction rewrites the file; old bytes do not come back, live data stays.
    s.compact().wait().unwrap();
    let file = std::fs::read(&path).unwrap();
    for (_, old) in &wiped {
        for w in old[8..].windows(16) {
            assert!(!contains(&file, w));
        }
    }
    assert!(!contains(&file, &secret));
    assert_eq!(get(&s, NAMESPACE, "new-token-a"), Some(secret.clone()));
    assert_eq!(get(&s, NAMESPACE, "new-token-b"), Some(secret));
}

/// A crash can stop a wipe at any point; the commit that declared the frame dead is already
/// durable, so open finishes the wipe. Putting the old bytes back (as a backup restore of that
/// region would) does not resurrect the record either.
#[test]
fn interrupted_or_undone_wipe_is_finished_on_open() {
    let dir = temp_dir("rewipe");
    let path = dir.join("s.xem");
    let s = open(&path);
    s.set(NAMESPACE, "keep", b"kept", None).wait().unwrap();
    let at = s.stats().file_size;
    s.set(NAMESPACE, "victim", b"deleted value", None)
        .wait()
        .unwrap();
    let (off, old) = frame_at(&path, at);
    assert!(s.del(NAMESPACE, "victim").wait().unwrap());
    s.close().wait().unwrap();
    drop(s);
    let o = off as usize;

    // (a) The wipe never ran: the old, authentic record is back in place.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[o..o + old.len()].copy_from_slice(&old);
    std::fs::write(&path, &bytes).unwrap();
    let (s, rep) = Store::open(&path, opts()).unwrap();
    assert_eq!(rep.rewiped, 1);
    assert_eq!(
        get(&s, NAMESPACE, "victim"),
        None,
        "a restored dead record stays dead"
    );
    assert_eq!(get(&s, NAMESPACE, "keep").as_deref(), Some(&b"kept"[..]));
    s.close().wait().unwrap();
    drop(s);
    assert_wiped(&path, off, &old, "re-wipe after restore");

    // (b) Crash between the random pass and the zero pass.
    let mut bytes = std::fs::read(&path).unwrap();
    for (i, b) in bytes[o + 8..o + old.len()].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    // The frame header as the random pass left it: type and offset hint untouched.
    bytes[o + 4..o + 8].copy_from_slice(&old[4..8]);
    std::fs::write(&path, &bytes).unwrap();
    let (s, rep) = Store::open(&path, opts()).unwrap();
    assert_eq!((rep.rewiped, rep.dropped_tail), (1, None));
    assert_eq!(get(&s, NAMESPACE, "victim"), None);
    s.close().wait().unwrap();
    drop(s);
    assert_wiped(&path, off, &old, "re-wipe after torn wipe");

    // (c) A wiped frame whose length is altered no longer matches its declaration.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[o] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();
    let e = Store::open(&path, opts()).unwrap_err();
    assert!(e.is_integrity() && e.offset().is_some(), "{e}");
}
