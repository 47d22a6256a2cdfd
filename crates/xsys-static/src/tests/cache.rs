//! The content cache: used only for the file it was filled from, bounded, and never stale.

use std::time::{Duration, Instant};

use super::support::*;
use crate::fs::touched_during;
use crate::{Body, CacheLimits, Options, Outcome};

fn cached_files(tree: &Tree, limits: CacheLimits) -> crate::StaticFiles {
    tree.files(Options {
        cache: limits,
        ..Options::default()
    })
}

#[test]
fn a_hit_stats_but_does_not_open() {
    let tree = Tree::new();
    let files = cached_files(&tree, CacheLimits::default());
    let first = touched_during(|| {
        assert_eq!(body(&response(get(&files, "/hello.txt"))), HELLO);
    });
    let path = format!("{}/hello.txt", tree.root().display());
    assert_eq!(first, [path.clone(), path.clone()], "stat, then open");
    let second = touched_during(|| {
        assert_eq!(body(&response(get(&files, "/hello.txt"))), HELLO);
        // Ranges come from the same copy.
        let r = response(serve(
            &files,
            "GET",
            "/hello.txt",
            &[("range", "bytes=6-10")],
        ));
        assert_eq!(body(&r), b"world");
    });
    assert_eq!(second, [path.clone(), path], "a stat each, no open");
    assert_eq!(files.cache().len(), 1);
}

#[test]
fn a_rewritten_file_is_read_again() {
    let tree = Tree::new();
    let files = cached_files(&tree, CacheLimits::default());
    assert_eq!(body(&response(get(&files, "/hello.txt"))), HELLO);
    // Same size, same modification time: only the change time (and content) differ.
    std::fs::write(tree.root().join("hello.txt"), b"HELLO WORLD\n").expect("write");
    tree.set_mtime("root/hello.txt", Duration::from_secs(MTIME_SECS));
    let r = response(get(&files, "/hello.txt"));
    assert_eq!(body(&r), b"HELLO WORLD\n");
    assert_eq!(files.cache().len(), 1, "replaced, not added");
}

#[test]
fn a_replaced_file_is_read_again() {
    let tree = Tree::new();
    let files = cached_files(&tree, CacheLimits::default());
    assert_eq!(body(&response(get(&files, "/hello.txt"))), HELLO);
    let staged = tree.root().join("staged.tmp");
    std::fs::write(&staged, b"replaced!!!\n").expect("write");
    tree.set_mtime("root/staged.tmp", Duration::from_secs(MTIME_SECS));
    std::fs::rename(&staged, tree.root().join("hello.txt")).expect("rename");
    assert_eq!(body(&response(get(&files, "/hello.txt"))), b"replaced!!!\n");
}

#[test]
fn a_deleted_file_is_gone() {
    let tree = Tree::new();
    let files = cached_files(&tree, CacheLimits::default());
    assert_eq!(body(&response(get(&files, "/hello.txt"))), HELLO);
    std::fs::remove_file(tree.root().join("hello.txt")).expect("rm");
    assert!(matches!(get(&files, "/hello.txt"), Outcome::Next));
}

#[test]
fn memory_stays_within_the_limit() {
    let tree = Tree::new();
    let limits = CacheLimits {
        max_file_size: 4096,
        max_total_bytes: 16 * 1024,
    };
    let files = cached_files(&tree, limits);
    for i in 0..64 {
        tree.write(&format!("root/f{i}.txt"), &vec![b'x'; 1000 + i]);
    }
    for round in 0..3 {
        for i in 0..64 {
            let r = response(get(&files, &format!("/f{i}.txt")));
            assert_eq!(body(&r).len(), 1000 + i, "round {round}");
            assert!(files.cache().total_bytes() <= limits.max_total_bytes);
        }
    }
    assert!(files.cache().len() > 4, "it still caches");
    assert!(files.cache().len() < 64);
    // Too big for the cache: streamed, not kept.
    tree.write("root/large.txt", &vec![b'y'; 5000]);
    let r = response(get(&files, "/large.txt"));
    assert!(matches!(r.body, Body::File(_)));
}

#[test]
fn a_disabled_cache_reads_every_time() {
    let tree = Tree::new();
    let files = cached_files(&tree, CacheLimits::DISABLED);
    for _ in 0..2 {
        let touched = touched_during(|| {
            assert_eq!(body(&response(get(&files, "/hello.txt"))), HELLO);
        });
        assert_eq!(touched.len(), 2, "stat and open");
    }
    assert_eq!(files.cache().len(), 0);
}

/// Informative only: what one cache hit costs here (path resolution, the stat, the lookup and
/// the headers). `cargo test -p xsys-static --release -- --ignored --nocapture cost`.
#[test]
#[ignore]
fn cost_of_a_cache_hit() {
    let tree = Tree::new();
    tree.write("root/two-k.txt", &vec![b'z'; 2048]);
    for (label, limits) in [
        ("cache hit", CacheLimits::default()),
        ("no cache (open + read)", CacheLimits::DISABLED),
    ] {
        let files = cached_files(&tree, limits);
        let rounds = 100_000;
        for _ in 0..1000 {
            let _ = get(&files, "/two-k.txt");
        }
        let start = Instant::now();
        for _ in 0..rounds {
            let r = response(get(&files, "/two-k.txt"));
            assert_eq!(r.headers.len(), 6);
        }
        let per = start.elapsed() / rounds;
        println!("{label}: {per:?} per request (2 KiB file, GET, one thread)");
    }
}
