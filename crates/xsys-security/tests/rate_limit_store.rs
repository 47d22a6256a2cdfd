//! The rate limiter's counters beyond what express-rate-limit can show: many threads at once,
//! the skip options' edge cases, GCRA's bound, bounded memory, and a timing loop to look at
//! by hand (never asserted).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use xsys_security::cors::Cors;
use xsys_security::helmet::Helmet;
use xsys_security::rate_limit::{Algorithm, ClientKey, Completion, RateLimit, RateLimitOptions};
use xsys_security::OptionValue;

const T0: u64 = 1_700_000_000_000;

fn limiter(options: RateLimitOptions) -> RateLimit {
    RateLimit::new(options).expect("valid options")
}

/// xorshift64: a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn hits_from_many_threads_are_each_counted_once() {
    let limiter = Arc::new(limiter(RateLimitOptions {
        limit: 1e9,
        window_ms: 60_000.0,
        ..RateLimitOptions::default()
    }));
    let shared = ClientKey::V4([10, 0, 0, 1].into());
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let limiter = Arc::clone(&limiter);
            let shared = shared.clone();
            std::thread::spawn(move || {
                let own = ClientKey::V4([10, 1, 0, t].into());
                for i in 0..2_000 {
                    limiter.hit(&shared, T0 + i);
                    limiter.hit(&own, T0 + i);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    assert_eq!(
        limiter.get(&shared, T0 + 2_000).map(|(hits, _)| hits),
        Some(16_000)
    );
    for t in 0..8u8 {
        let own = ClientKey::V4([10, 1, 0, t].into());
        assert_eq!(
            limiter.get(&own, T0 + 2_000).map(|(hits, _)| hits),
            Some(2_000)
        );
    }
}

#[test]
fn skip_failed_requests_takes_back_aborted_and_failed_responses_only() {
    let limiter = limiter(RateLimitOptions {
        limit: 10.0,
        skip_failed_requests: true,
        ..RateLimitOptions::default()
    });
    let key = ClientKey::Text("k".into());
    let settle = |completion| {
        let hit = limiter.hit(&key, T0);
        limiter.settle(hit.pending.expect("pending"), completion, T0 + 1);
    };
    settle(Completion::finished(200));
    settle(Completion::finished(503));
    settle(Completion::Aborted);
    settle(Completion::Finished { successful: false });
    assert_eq!(limiter.get(&key, T0 + 1).map(|(hits, _)| hits), Some(1));
}

#[test]
fn a_hit_settled_after_its_window_ended_is_not_taken_back() {
    let limiter = limiter(RateLimitOptions {
        limit: 10.0,
        window_ms: 1_000.0,
        skip_successful_requests: true,
        ..RateLimitOptions::default()
    });
    let key = ClientKey::Text("k".into());
    let first = limiter.hit(&key, T0);
    let second = limiter.hit(&key, T0 + 1_000);
    // The first hit's window is over: the new window keeps its count.
    limiter.settle(
        first.pending.expect("pending"),
        Completion::finished(200),
        T0 + 1_000,
    );
    assert_eq!(limiter.get(&key, T0 + 1_000).map(|(hits, _)| hits), Some(1));
    limiter.settle(
        second.pending.expect("pending"),
        Completion::finished(200),
        T0 + 1_001,
    );
    assert_eq!(limiter.get(&key, T0 + 1_001).map(|(hits, _)| hits), Some(0));
}

#[test]
fn gcra_never_lets_through_more_than_its_burst_plus_its_rate() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let limit = 1 + rng.below(20);
        let window = 100 + rng.below(5_000);
        let limiter = limiter(RateLimitOptions {
            limit: limit as f64,
            window_ms: window as f64,
            algorithm: Algorithm::Gcra,
            ..RateLimitOptions::default()
        });
        let interval = window as f64 / limit as f64;
        let key = ClientKey::Text("k".into());
        let mut now = T0;
        let mut allowed = Vec::new();
        for _ in 0..2_000 {
            now += rng.below(window / limit + 1) / 2
                + u64::from(rng.below(10) == 0) * rng.below(window);
            let hit = limiter.hit(&key, now);
            if hit.rejection.is_none() {
                allowed.push(now);
            }
            assert!(hit.info.remaining <= limit as f64, "seed {seed}");
        }
        assert!(
            allowed.len() > limit as usize,
            "seed {seed}: too few allowed"
        );
        for (i, start) in allowed.iter().enumerate() {
            for (n, end) in allowed[i..].iter().enumerate() {
                let bound = limit as f64 + ((end - start) as f64 / interval).floor();
                assert!(
                    (n + 1) as f64 <= bound + 1e-9,
                    "seed {seed}: {} allowed within {} ms (limit {limit}, window {window})",
                    n + 1,
                    end - start
                );
            }
        }
    }
}

#[test]
fn eviction_drops_ended_windows_before_live_ones() {
    let limiter = limiter(RateLimitOptions {
        limit: 1.0,
        window_ms: 1_000.0,
        max_keys: 64,
        shards: 1,
        ..RateLimitOptions::default()
    });
    let live = ClientKey::Text("live".into());
    for i in 0..63u32 {
        limiter.hit(&ClientKey::V4(i.into()), T0);
    }
    limiter.hit(&live, T0 + 900);
    // The 63 early windows have ended by now; new keys take their places.
    for i in 0..63u32 {
        limiter.hit(&ClientKey::V4((1_000 + i).into()), T0 + 1_200);
    }
    let again = limiter.hit(&live, T0 + 1_300);
    assert!(again.rejection.is_some(), "the live window was kept");
    assert!(limiter.key_count() <= 64);
    let held = limiter.key_count();
    assert_eq!(limiter.sweep(T0 + 10_000), held, "every window has ended");
    assert_eq!(limiter.key_count(), 0);
}

/// `cargo test -p xsys-security --release -- --ignored --nocapture timing` prints per-call
/// costs; it asserts nothing (the machine's load decides the numbers).
#[test]
#[ignore = "a timing loop to read by hand"]
fn timing() {
    const N: u32 = 1_000_000;
    let helmet = Helmet::from_option_value(&OptionValue::Object(Vec::new())).expect("helmet");
    let started = Instant::now();
    let mut total = 0;
    for _ in 0..N {
        total += std::hint::black_box(helmet.headers().to_vec()).len();
    }
    println!(
        "helmet headers cloned: {:?}/request ({total})",
        started.elapsed() / N
    );

    let cors = Cors::from_option_value(&OptionValue::Object(vec![(
        "origin".into(),
        OptionValue::Array(vec![
            OptionValue::String("https://a.example".into()),
            OptionValue::RegExp {
                source: r"\.b\.example$".into(),
                flags: String::new(),
            },
        ]),
    )]))
    .expect("cors");
    let mut request = HeaderMap::new();
    request.insert("origin", HeaderValue::from_static("https://x.b.example"));
    let started = Instant::now();
    for _ in 0..N {
        std::hint::black_box(cors.decide("GET", &request));
    }
    println!(
        "cors decision (regexp origin): {:?}/request",
        started.elapsed() / N
    );

    let limiter = limiter(RateLimitOptions {
        limit: 1e12,
        ..RateLimitOptions::default()
    });
    let started = Instant::now();
    for i in 0..N {
        let key = limiter.key_for_ip(std::net::Ipv4Addr::from(i % 10_000).into());
        std::hint::black_box(limiter.hit(&key, T0 + u64::from(i / 1000)));
    }
    println!(
        "rate limit hit (10k clients, legacy headers): {:?}/request",
        started.elapsed() / N
    );
}
