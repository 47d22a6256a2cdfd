//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use xems::{HardwareId, Options, Store};

pub const SECRET: [u8; 32] = *b"test-secret-0123456789abcdefghij";
pub const HW1: [u8; 32] = [0x11; 32];
pub const HW2: [u8; 32] = [0x22; 32];

/// A fresh, empty directory under cargo's per-target temp dir (a real filesystem, so fsync is
/// real), unique per process and call; removed on drop.
pub fn temp_dir(name: &str) -> TempDir {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "xems-{name}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Key-mode options on simulated machine `hw`.
pub fn opts_on(hw: [u8; 32]) -> Options {
    Options::with_key(SECRET).hardware_id(HardwareId::from_bytes(hw))
}

pub fn opts() -> Options {
    opts_on(HW1)
}

pub fn open(path: &Path) -> Store {
    Store::open(path, opts()).unwrap().0
}

pub fn get(s: &Store, sb: &str, k: &str) -> Option<Vec<u8>> {
    s.get(sb, k).unwrap().map(|v| v.to_vec())
}

/// Deterministic value of varying length for key number `i`.
pub fn value(tag: &str, i: u64) -> Vec<u8> {
    let len = 8 + (i * 37 % 200) as usize;
    let seed = format!("{tag}:{i}:");
    seed.bytes().cycle().take(len).collect()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Polls all futures from the current thread only (like a JS event loop awaiting many
/// promises): no thread per waiter.
pub fn join_all<F: Future + Unpin>(futs: Vec<F>) -> Vec<F::Output> {
    struct ThreadWaker(Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut futs: Vec<Option<F>> = futs.into_iter().map(Some).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    loop {
        let mut pending = 0;
        for (slot, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if let Some(f) = slot {
                match Pin::new(f).poll(&mut cx) {
                    Poll::Ready(o) => {
                        *out = Some(o);
                        *slot = None;
                    }
                    Poll::Pending => pending += 1,
                }
            }
        }
        if pending == 0 {
            return outs.into_iter().map(Option::unwrap).collect();
        }
        thread::park_timeout(Duration::from_millis(200));
    }
}

/// Tiny xorshift PRNG for test randomness (seeded from the clock, printed on failure).
pub struct Rng(pub u64);
impl Rng {
    pub fn from_clock() -> Rng {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(n | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform-ish in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
