use super::*;

fn limiter(limit: f64, algorithm: Algorithm) -> RateLimit {
    RateLimit::new(RateLimitOptions {
        limit,
        window_ms: 1000.0,
        algorithm,
        ..RateLimitOptions::default()
    })
    .expect("valid")
}

#[test]
fn fixed_window_counts_then_resets_at_the_window_end() {
    let limiter = limiter(2.0, Algorithm::FixedWindow);
    let key = ClientKey::Text("k".into());
    let t0 = 1_700_000_000_500;
    assert!(limiter.hit(&key, t0).rejection.is_none());
    assert!(limiter.hit(&key, t0 + 10).rejection.is_none());
    let third = limiter.hit(&key, t0 + 999);
    assert!(third.rejection.is_some());
    assert_eq!(third.info.used, 3);
    assert_eq!(third.info.reset_time_ms, t0 + 1000);
    let next = limiter.hit(&key, t0 + 1000);
    assert!(next.rejection.is_none());
    assert_eq!(next.info.used, 1);
}

#[test]
fn gcra_allows_a_burst_then_one_per_interval() {
    let limiter = limiter(4.0, Algorithm::Gcra);
    let key = ClientKey::Text("k".into());
    let t0 = 1_700_000_000_000;
    for i in 0..4 {
        let hit = limiter.hit(&key, t0);
        assert!(hit.rejection.is_none(), "burst hit {i}");
        assert_eq!(hit.info.remaining, 3.0 - f64::from(i));
    }
    assert!(limiter.hit(&key, t0).rejection.is_some());
    assert!(limiter.hit(&key, t0 + 249).rejection.is_some());
    assert!(limiter.hit(&key, t0 + 250).rejection.is_none());
    assert!(limiter.hit(&key, t0 + 251).rejection.is_some());
}

#[test]
fn memory_stays_bounded_under_distinct_keys() {
    let limiter = RateLimit::new(RateLimitOptions {
        max_keys: 1000,
        shards: 8,
        ..RateLimitOptions::default()
    })
    .expect("valid");
    for i in 0..20_000u32 {
        limiter.hit(&ClientKey::V4(i.into()), 1_700_000_000_000 + u64::from(i));
    }
    assert!(limiter.key_count() <= 1000, "{}", limiter.key_count());
    assert!(limiter.key_count() >= 500, "{}", limiter.key_count());
}

#[test]
fn draft8_policies_of_two_limiters_for_one_key_stay_their_own() {
    let limiter = |name: &str| {
        RateLimit::new(RateLimitOptions {
            standard_headers: StandardHeaders::Draft8,
            identifier: Some(name.to_owned()),
            ..RateLimitOptions::default()
        })
        .expect("valid")
    };
    let (a, b) = (limiter("a"), limiter("b"));
    let policy = |l: &RateLimit, key: &ClientKey| {
        let hit = l.hit(key, 1_700_000_000_000);
        let h = hit
            .headers
            .iter()
            .find(|h| h.cased_name == "RateLimit-Policy")
            .expect("policy")
            .value
            .clone();
        h.to_str().expect("ascii").to_owned()
    };
    let (one, two) = (ClientKey::Text("1".into()), ClientKey::Text("2".into()));
    for _ in 0..2 {
        assert!(policy(&a, &one).starts_with("\"a\"; q=5; w=60; pk=:"));
        assert!(policy(&b, &one).starts_with("\"b\""));
        assert_ne!(policy(&a, &one), policy(&a, &two), "the key's own pk");
    }
}

#[test]
fn identifiers_name_the_window_as_express_rate_limit() {
    assert_eq!(default_identifier(5.0, 60_000.0), "5-in-1min");
    assert_eq!(default_identifier(100.0, 1_500.0), "100-in-1.5sec");
    assert_eq!(default_identifier(10.0, 3_600_000.0), "10-in-1hr");
    assert_eq!(default_identifier(10.0, 7_200_000.0), "10-in-2hrs");
    assert_eq!(default_identifier(1.0, 86_400_000.0 * 2.0), "1-in-2days");
}
