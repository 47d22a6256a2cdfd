//! express-rate-limit 8 against `fixtures/security.json`: request sequences under a fake
//! clock must get the same statuses, headers (order included), bodies, `req.rateLimit` and
//! logged validations; and the default key must be `ipKeyGenerator`'s for generated addresses.

mod common;

use base64::Engine as _;
use common::{decode, fixture, latin1, pairs, report};
use xsys_security::rate_limit::{ClientKey, Completion, RateLimit};

/// Express's default (weak) ETag of a body, which the engine adds after `res.send`'s headers.
fn weak_etag(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, body);
    let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    format!("W/\"{:x}-{}\"", body.len(), &hash[..27])
}

#[test]
fn rate_limit_sequences_answer_as_express_rate_limit() {
    let fixture = fixture();
    let cases = fixture["rate_limit"].as_array().expect("rate limit cases");
    let mut failures = Vec::new();
    let (mut native, mut rejected) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let limiter = match RateLimit::from_option_value(&decode(&case["options"])) {
            Ok(limiter) => limiter,
            Err(error) if error.is_not_native() => {
                // Only a window MemoryStore cannot keep may stay in JS here.
                if !name.starts_with("windowMs") {
                    failures.push(format!("{name}: not native: {error}"));
                }
                continue;
            }
            Err(error) => {
                failures.push(format!("{name}: {error}"));
                continue;
            }
        };
        native += 1;
        let hooks = limiter.js_hooks();
        if hooks.skip {
            // `skip` is decided in JS; nothing to compare natively beyond the flag.
            continue;
        }
        let t0 = case["t0"].as_u64().expect("t0");
        let mut warnings: Vec<String> = case["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| w["text"].as_str().expect("text").to_owned())
            .collect();
        for (index, step) in case["steps"].as_array().expect("steps").iter().enumerate() {
            let spec = &step["step"];
            let now = t0 + spec["at"].as_u64().expect("at");
            let key = if hooks.key_generator {
                ClientKey::Text(spec["user"].as_str().unwrap_or("anon").into())
            } else {
                limiter.key_for_ip_text(spec["ip"].as_str().unwrap_or("127.0.0.1"))
            };
            let hit = limiter.hit(&key, now);
            let mut headers = vec![("X-Powered-By".to_owned(), "Express".to_owned())];
            headers.extend(
                hit.headers
                    .iter()
                    .map(|h| (h.cased_name.to_owned(), latin1(h.value.as_bytes()))),
            );
            let (status, body) = match &hit.rejection {
                Some(rejection) => {
                    rejected += 1;
                    headers.extend(
                        rejection
                            .body_headers
                            .iter()
                            .map(|h| (h.cased_name.to_owned(), latin1(h.value.as_bytes()))),
                    );
                    headers.push(("ETag".to_owned(), weak_etag(&rejection.etag_source)));
                    (rejection.status, latin1(&rejection.body))
                }
                None => (
                    spec["status"].as_u64().unwrap_or(200) as u16,
                    "ok".to_owned(),
                ),
            };
            if let Some(pending) = hit.pending.clone() {
                limiter.settle(pending, Completion::finished(status), now);
            }
            let response = &step["response"];
            let expected = (
                response["status"].as_u64().expect("status") as u16,
                pairs(&response["headers"]),
                response["body"].as_str().expect("body").to_owned(),
            );
            let actual = (status, headers, body);
            if actual != expected {
                failures.push(format!(
                    "{name} step {index}:\n  rust {actual:?}\n  node {expected:?}"
                ));
            }
            let info = &step["info"];
            if info.is_object() {
                let i = &hit.info;
                let expected = (
                    info["limit"].as_f64().expect("limit"),
                    info["used"].as_u64().expect("used"),
                    info["remaining"].as_f64().expect("remaining"),
                    info["resetTime"].as_u64().expect("resetTime"),
                    info["key"].as_str().expect("key").to_owned(),
                );
                let actual = (
                    i.limit,
                    i.used,
                    i.remaining,
                    i.reset_time_ms,
                    i.key.to_string(),
                );
                if actual != expected {
                    failures.push(format!(
                        "{name} step {index}: info {actual:?} != {expected:?}"
                    ));
                }
            }
            warnings.extend(
                step["warnings"]
                    .as_array()
                    .expect("warnings")
                    .iter()
                    .map(|w| w["text"].as_str().expect("text").to_owned()),
            );
        }
        // What JS logs at setup and at the first request, this stage reports at setup.
        let actual: Vec<String> = limiter
            .warnings()
            .iter()
            .map(|w| format!("{}: {}", w.code.unwrap_or("Error"), w.message))
            .collect();
        if actual != warnings {
            failures.push(format!("{name}: warnings {actual:#?} != {warnings:#?}"));
        }
    }
    assert!(native >= 20, "only {native} sequences answered natively");
    assert!(rejected >= 30, "only {rejected} rejections compared");
    report("rate limit", cases.len(), &failures);
}

#[test]
fn default_keys_are_ip_key_generators() {
    let fixture = fixture();
    let cases = fixture["ip_keys"].as_array().expect("ip key cases");
    let mut failures = Vec::new();
    let mut ipv6 = 0;
    for case in cases {
        let ip = case["ip"].as_str().expect("ip");
        ipv6 += usize::from(case["isIP"].as_u64() == Some(6));
        for pair in case["keys"].as_array().expect("keys") {
            let subnet = pair[0].as_u64().map(|n| n as u8);
            let expected = pair[1].as_str().expect("key");
            let actual = ClientKey::from_ip_text(ip, subnet).to_string();
            if actual != expected {
                failures.push(format!("{ip:?} /{subnet:?}: {actual} != {expected}"));
            }
        }
    }
    assert!(ipv6 >= 100, "only {ipv6} valid IPv6 texts");
    report("ip keys", cases.len(), &failures);
}
