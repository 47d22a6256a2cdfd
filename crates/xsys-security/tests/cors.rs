//! cors 2.8 against `fixtures/security.json`: for each option set, the same requests must get
//! the same status, headers (names, values, order), body and pass-through as with cors on Node.

mod common;

use common::{decode, fixture, latin1, pairs, report};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use xsys_security::cors::{Cors, CorsDecision};
use xsys_security::OptionValue;

fn request_headers(request: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    if request["headers"].is_null() {
        return map;
    }
    for (name, value) in pairs(&request["headers"]) {
        let bytes: Vec<u8> = value.chars().map(|c| c as u32 as u8).collect();
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_bytes(&bytes).expect("value"),
        );
    }
    map
}

#[test]
fn cors_options_give_cors_responses() {
    let fixture = fixture();
    let cases = fixture["cors"].as_array().expect("cors cases");
    assert!(cases.len() >= 40, "too few cors cases");
    let mut failures = Vec::new();
    let (mut native, mut preflights) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let options = decode(&case["options"]);
        let built = Cors::from_option_value(&options);
        if let Some(error) = case["error"].as_object() {
            failures.push(format!(
                "{name}: cors threw {error:?}, which no case expects"
            ));
            continue;
        }
        let cors = match built {
            Ok(cors) => cors,
            Err(error) if error.is_not_native() => {
                // Allowed only where JS decides per request or where cors fails per request.
                let json = serde_json::to_string(&case["options"]).expect("json");
                let fails_in_js = case["requests"]
                    .as_array()
                    .expect("requests")
                    .iter()
                    .any(|r| r["response"]["failure"].is_string());
                let stateful = matches!(&options, OptionValue::Object(_)) && json.contains("\"g\"");
                if !(json.contains("$function") || fails_in_js || stateful) {
                    failures.push(format!("{name}: not native ({error}) but cors is static"));
                }
                continue;
            }
            Err(error) => {
                failures.push(format!("{name}: error {error}"));
                continue;
            }
        };
        native += 1;
        for exchange in case["requests"].as_array().expect("requests") {
            let label = exchange["name"].as_str().expect("request name");
            let request = &exchange["request"];
            let expected = &exchange["response"];
            let method = request["method"].as_str().expect("method");
            let (status, headers, next) = match cors.decide(method, &request_headers(request)) {
                CorsDecision::Pass => (200, Vec::new(), true),
                CorsDecision::Continue(headers) => (200, headers, true),
                CorsDecision::Respond { status, headers } => (status, headers, false),
            };
            if method == "OPTIONS" && !next {
                preflights += 1;
            }
            let actual: Vec<(String, String)> = headers
                .iter()
                .map(|h| (h.cased_name.to_owned(), latin1(h.value.as_bytes())))
                .collect();
            let want = (
                expected["status"].as_u64().expect("status") as u16,
                pairs(&expected["headers"]),
                expected["next"].as_bool().expect("next"),
            );
            if expected["failure"].is_string() || (status, actual.clone(), next) != want {
                failures.push(format!(
                    "{name} / {label}:\n  rust {:?}\n  node {want:?} {}",
                    (status, actual, next),
                    expected["failure"]
                ));
            }
            if !expected["body"].as_str().expect("body").is_empty() {
                failures.push(format!("{name} / {label}: cors sent a body"));
            }
        }
    }
    assert!(
        native >= 40,
        "only {native} cors option sets were answered natively"
    );
    assert!(preflights >= 100, "only {preflights} preflights answered");
    report("cors", cases.len(), &failures);
}
