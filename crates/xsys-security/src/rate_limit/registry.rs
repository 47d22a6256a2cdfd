//! Limiters shared by the JS threads of one process.
//!
//! Worker threads that run the same app each call `rateLimit(options)`, and each would count its
//! own requests: a client would get its limit once per thread. A limiter is therefore built and
//! then [`shared`] under a name its threads agree on (the binding names it by the listener the
//! threads serve and the limiter's place among the limiters the app made), and every thread
//! that shares a limiter under that name with equal options counts in the same store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use super::RateLimit;

type Registry = HashMap<String, Weak<RateLimit>>;

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    static LIMITERS: OnceLock<Mutex<Registry>> = OnceLock::new();
    LIMITERS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The limiter shared under `name`: a live one built with equal options (and the same JS
/// hooks), else `built`, now shared under that name. A live one with other options keeps the
/// name; `built` then counts alone (two apps that differ do not share counts by accident).
pub fn shared(name: &str, built: RateLimit) -> Arc<RateLimit> {
    let mut registry = registry();
    registry.retain(|_, limiter| limiter.strong_count() > 0);
    if let Some(live) = registry.get(name).and_then(Weak::upgrade) {
        if live.options() == built.options() && live.js_hooks() == built.js_hooks() {
            return live;
        }
        return Arc::new(built);
    }
    let limiter = Arc::new(built);
    registry.insert(name.to_owned(), Arc::downgrade(&limiter));
    limiter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::RateLimitOptions;

    fn limiter(limit: f64) -> RateLimit {
        RateLimit::new(RateLimitOptions {
            limit,
            ..RateLimitOptions::default()
        })
        .expect("valid options")
    }

    #[test]
    fn threads_that_share_a_limiter_count_in_one_store() {
        let name = "listener-1/0";
        let threads: Vec<Arc<RateLimit>> = (0..4)
            .map(|_| std::thread::spawn(move || shared(name, limiter(3.0))))
            .map(|t| t.join().expect("thread"))
            .collect();
        assert!(threads.iter().all(|l| Arc::ptr_eq(l, &threads[0])));
        let key = threads[0].key_for_ip_text("203.0.113.9");
        let now = 1_700_000_000_000;
        let hits: Vec<bool> = threads
            .iter()
            .map(|l| l.hit(&key, now).rejection.is_some())
            .collect();
        // The limit is 3 for the client, whichever thread it reaches.
        assert_eq!(hits, [false, false, false, true]);
    }

    #[test]
    fn another_name_or_other_options_count_apart() {
        let a = shared("listener-2/0", limiter(3.0));
        let b = shared("listener-2/1", limiter(3.0));
        let c = shared("listener-2/0", limiter(4.0));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&a, &shared("listener-2/0", limiter(3.0))));
    }

    #[test]
    fn a_name_no_live_limiter_holds_starts_a_new_store() {
        let first = shared("listener-3/0", limiter(1.0));
        let key = first.key_for_ip_text("198.51.100.1");
        assert!(first.hit(&key, 1).rejection.is_none());
        drop(first);
        let again = shared("listener-3/0", limiter(1.0));
        assert!(again.hit(&key, 2).rejection.is_none(), "a fresh store");
    }
}
