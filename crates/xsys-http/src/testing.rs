//! What the crate's seeded property tests share.

/// A reproducible picker of `0..n` (xorshift): a failing case replays from its seed.
pub(crate) fn seeded(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    }
}
