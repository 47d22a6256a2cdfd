//! Seeded randomness and a time budget for the crate's fuzz tests (unit and integration alike
//! read the same variables): `XEMS_FUZZ_SEED` replays a run, `XEMS_FUZZ_SECONDS` bounds it
//! (default 1 s, so `cargo test` stays quick; CI runs longer).
#![cfg(test)]

use std::time::{Duration, Instant};

/// xorshift64*: small, deterministic for a seed, good enough to pick inputs.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The seed to use (from `XEMS_FUZZ_SEED`, else the clock) and when to stop.
pub(crate) fn budget(what: &str) -> (u64, Instant) {
    let seed = std::env::var("XEMS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let secs: f64 = std::env::var("XEMS_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    eprintln!("{what}: XEMS_FUZZ_SEED={seed} for {secs} s");
    (seed, Instant::now() + Duration::from_secs_f64(secs))
}
