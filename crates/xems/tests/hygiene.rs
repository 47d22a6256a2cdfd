//! File hygiene: temporaries are never followed, files are private, a store others can write
//! is refused, leftovers are removed without touching anything else.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use xems::Store;

const VICTIM: &[u8] = b"another file the store must never write";

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn store_with_data(path: &Path) {
    let s = open(path);
    for i in 0..20 {
        s.set("sb", &format!("k{i}"), &value("v", i), None)
            .wait()
            .unwrap();
    }
    s.close().wait().unwrap();
}

/// A symlink planted where a compaction or rebind leaves its temporary used to be opened (so
/// followed) and wiped at the next open: the store overwrote whatever it pointed to.
#[test]
fn leftover_temporary_symlinks_are_unlinked_never_followed() {
    let dir = temp_dir("leftover-link");
    let path = dir.join("s.xem");
    store_with_data(&path);
    for suffix in ["compact.tmp", "rebind.tmp"] {
        let victim = dir.join(format!("victim-{suffix}"));
        fs::write(&victim, VICTIM).unwrap();
        let link = dir.join(format!("s.xem.{suffix}"));
        symlink(&victim, &link).unwrap();
        let (s, _) = Store::open(&path, opts()).unwrap();
        assert_eq!(
            fs::read(&victim).unwrap(),
            VICTIM,
            "{suffix}: victim written"
        );
        assert!(
            fs::symlink_metadata(&link).is_err(),
            "{suffix}: link not removed"
        );
        assert_eq!(get(&s, "sb", "k3"), Some(value("v", 3)));
        s.close().wait().unwrap();
    }
}

/// A hard link to another file is just as dangerous: only the name is removed.
#[test]
fn leftover_temporary_hard_link_is_unlinked_not_wiped() {
    let dir = temp_dir("leftover-hardlink");
    let path = dir.join("s.xem");
    store_with_data(&path);
    let victim = dir.join("victim");
    fs::write(&victim, VICTIM).unwrap();
    let link = dir.join("s.xem.compact.tmp");
    fs::hard_link(&victim, &link).unwrap();
    let (s, _) = Store::open(&path, opts()).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), VICTIM);
    assert!(fs::symlink_metadata(&link).is_err());
    s.close().wait().unwrap();
}

/// What a crash mid-compaction really leaves (a plain file of ours) is still overwritten
/// before it is unlinked, and a FIFO does not hang the open.
#[test]
fn leftover_plain_temporary_is_wiped_and_removed_and_a_fifo_does_not_hang() {
    let dir = temp_dir("leftover-plain");
    let path = dir.join("s.xem");
    store_with_data(&path);
    let tmp = dir.join("s.xem.compact.tmp");
    fs::write(&tmp, b"ciphertext of an interrupted compaction").unwrap();
    let fifo = dir.join("s.xem.rebind.tmp");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (s, _) = Store::open(&path, opts()).unwrap();
    assert!(fs::symlink_metadata(&tmp).is_err());
    assert!(fs::symlink_metadata(&fifo).is_err());
    s.close().wait().unwrap();
}

/// A compaction that finds something at its temporary name removes the name and creates its
/// file afresh (exclusively), leaving the link's target alone.
#[test]
fn compaction_replaces_a_planted_temporary_without_following_it() {
    let dir = temp_dir("compact-planted");
    let path = dir.join("s.xem");
    let s = open(&path);
    for i in 0..40 {
        s.set("sb", "same", &value("v", i), None).wait().unwrap();
    }
    let victim = dir.join("victim");
    fs::write(&victim, VICTIM).unwrap();
    symlink(&victim, dir.join("s.xem.compact.tmp")).unwrap();
    s.compact().wait().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), VICTIM);
    assert_eq!(s.stats().generation, 1);
    assert_eq!(get(&s, "sb", "same"), Some(value("v", 39)));
    assert!(fs::symlink_metadata(dir.join("s.xem.compact.tmp")).is_err());
}

/// The store used to be created 0644 (0666 less the umask).
#[test]
fn store_files_are_created_private() {
    let dir = temp_dir("private");
    let path = dir.join("s.xem");
    let (s, _) = Store::open(&path, opts().recovery_key(true)).unwrap();
    assert_eq!(mode(&path), 0o600, "new store");
    s.set("sb", "k", b"v", None).wait().unwrap();
    s.compact().wait().unwrap();
    assert_eq!(mode(&path), 0o600, "after compaction");
    s.close().wait().unwrap();
    // An owner who chose to let the group read it keeps that through compactions.
    chmod(&path, 0o640);
    let s = open(&path);
    s.compact().wait().unwrap();
    assert_eq!(mode(&path), 0o640, "compaction keeps a group-readable mode");
    s.close().wait().unwrap();
    assert!(
        fs::read_dir(&*dir).unwrap().count() == 1,
        "no temporaries left"
    );
}

#[test]
fn rebind_keeps_the_store_private() {
    let dir = temp_dir("private-rebind");
    let path = dir.join("s.xem");
    let (s, rep) = Store::open(&path, opts().recovery_key(true)).unwrap();
    s.close().wait().unwrap();
    drop(s);
    Store::rebind(&path, &rep.recovery_key.unwrap(), opts_on(HW2)).unwrap();
    assert_eq!(mode(&path), 0o600);
}

/// Others who can write the file could roll it back or damage it: refused with its own code.
#[test]
fn a_store_others_can_write_is_refused() {
    let dir = temp_dir("writable");
    let path = dir.join("s.xem");
    store_with_data(&path);
    for m in [0o620, 0o602, 0o666] {
        chmod(&path, m);
        let before = fs::read(&path).unwrap();
        let e = Store::open(&path, opts()).unwrap_err();
        assert!(e.is_permissions(), "mode {m:o}: {e}");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), before, "refused file untouched");
    }
    chmod(&path, 0o600);
    assert_eq!(get(&open(&path), "sb", "k1"), Some(value("v", 1)));
}

/// A directory others can write lets them rename another file over the store; with the sticky
/// bit (like /tmp) they cannot, so it is accepted.
#[test]
fn a_directory_others_can_write_is_refused_unless_sticky() {
    let dir = temp_dir("writable-dir");
    let sub = dir.join("d");
    fs::create_dir(&sub).unwrap();
    let path = sub.join("s.xem");
    for m in [0o777, 0o775, 0o757] {
        chmod(&sub, m);
        let e = Store::open(&path, opts()).unwrap_err();
        assert!(e.is_permissions(), "mode {m:o}: {e}");
        assert!(fs::symlink_metadata(&path).is_err(), "nothing created");
    }
    chmod(&sub, 0o1777);
    let (s, rep) = Store::open(&path, opts()).unwrap();
    assert!(rep.created);
    s.close().wait().unwrap();
    drop(s);
    chmod(&sub, 0o777);
    assert!(Store::open(&path, opts()).unwrap_err().is_permissions());
    chmod(&sub, 0o700);
    drop(open(&path));
}

/// Reading a FIFO planted at the store's path used to block the open forever.
#[test]
fn a_store_path_that_is_not_a_regular_file_is_refused() {
    let dir = temp_dir("fifo");
    let path = dir.join("s.xem");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Store::open(&p, opts()).map(|_| ()));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("opening a FIFO hung");
    let e = result.unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
}

/// A creator that died between making its `.creating` file and linking it leaves the file
/// behind; the next open removes it once it is old enough to be abandoned.
#[test]
fn abandoned_creation_files_are_removed() {
    let dir = temp_dir("creating");
    let path = dir.join("s.xem");
    store_with_data(&path);
    let stale = dir.join("s.xem.0123456789abcdef.creating");
    let fresh = dir.join("s.xem.fedcba9876543210.creating");
    let unrelated = dir.join("other.xem.0123456789abcdef.creating");
    for f in [&stale, &fresh, &unrelated] {
        fs::write(f, b"header").unwrap();
    }
    let old = SystemTime::now() - Duration::from_secs(3600);
    for f in [&stale, &unrelated] {
        fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    drop(open(&path));
    assert!(fs::symlink_metadata(&stale).is_err(), "stale one removed");
    assert!(
        fs::symlink_metadata(&fresh).is_ok(),
        "a creation in progress is left alone"
    );
    assert!(
        fs::symlink_metadata(&unrelated).is_ok(),
        "another store's left alone"
    );
}
