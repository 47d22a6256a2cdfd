//! The `Date` response header, formatted once per second per thread.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

thread_local! {
    static CACHED: RefCell<(u64, HeaderValue)> = const { RefCell::new((u64::MAX, HeaderValue::from_static(""))) };
}

/// Now, as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as Node writes it.
pub(crate) fn now() -> HeaderValue {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != second {
            let formatted = httpdate::fmt_http_date(now);
            // An IMF-fixdate is plain ASCII.
            cached.1 =
                HeaderValue::from_str(&formatted).unwrap_or_else(|_| HeaderValue::from_static(""));
            cached.0 = second;
        }
        cached.1.clone()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_is_an_imf_fixdate() {
        let value = super::now();
        let text = value.to_str().expect("ascii");
        assert_eq!(text.len(), 29, "{text}");
        assert!(text.ends_with(" GMT"), "{text}");
        assert!(httpdate::parse_http_date(text).is_ok(), "{text}");
    }
}
