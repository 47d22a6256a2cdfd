//! helmet 8 against `fixtures/security.json`: the same options must give the same headers in
//! the same order, the same warnings, or the same error.

mod common;

use common::{decode, fixture, latin1, pairs, report};
use xsys_security::helmet::Helmet;
use xsys_security::OptionValue;

#[test]
fn helmet_options_give_helmets_headers_errors_and_warnings() {
    let fixture = fixture();
    let cases = fixture["helmet"].as_array().expect("helmet cases");
    assert!(cases.len() >= 30, "too few helmet cases");
    let mut failures = Vec::new();
    let mut native = 0;
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let options = match decode(&case["options"]) {
            // helmet(undefined) is helmet({}).
            OptionValue::Undefined => OptionValue::Object(Vec::new()),
            other => other,
        };
        let built = Helmet::from_option_value(&options);
        let expected_warnings: Vec<String> = case["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| w["text"].as_str().expect("text").to_owned())
            .collect();
        match (&case["error"], &case["response"], built) {
            (error, _, Err(actual)) if error.is_object() => {
                let message = error["message"].as_str().expect("message");
                let type_error = error["type"].as_str() == Some("TypeError");
                if !actual.is_invalid_option()
                    || actual.message() != message
                    || actual.is_type_error() != type_error
                {
                    failures.push(format!(
                        "{name}: error {actual:?}, helmet threw {message:?}"
                    ));
                }
            }
            (_, response, Err(actual)) if actual.is_not_native() => {
                // Only per-request values (functions) or headers Node refuses may stay in JS.
                let per_request = response["failure"].is_string()
                    || serde_json::to_string(&case["options"])
                        .expect("json")
                        .contains("$function");
                if !per_request {
                    failures.push(format!(
                        "{name}: not native ({actual}) but helmet is static"
                    ));
                }
            }
            (_, response, Ok(helmet)) if response.is_object() => {
                native += 1;
                if response["failure"].is_string() {
                    failures.push(format!("{name}: built, but helmet fails per request"));
                    continue;
                }
                let mut actual = vec![("X-Powered-By".to_owned(), "Express".to_owned())];
                if helmet.removes_powered_by() {
                    actual.clear();
                }
                actual.extend(
                    helmet
                        .headers()
                        .iter()
                        .map(|h| (h.cased_name.to_owned(), latin1(h.value.as_bytes()))),
                );
                let expected = pairs(&response["headers"]);
                if actual != expected {
                    failures.push(format!("{name}:\n  rust {actual:?}\n  node {expected:?}"));
                }
                let warnings: Vec<String> = helmet
                    .warnings()
                    .iter()
                    .map(|w| w.message.clone())
                    .collect();
                if warnings != expected_warnings {
                    failures.push(format!(
                        "{name}: warnings {warnings:?} != {expected_warnings:?}"
                    ));
                }
                for header in helmet.headers() {
                    if header.name.as_str() != header.cased_name.to_ascii_lowercase() {
                        failures.push(format!(
                            "{name}: {} has name {}",
                            header.cased_name, header.name
                        ));
                    }
                }
            }
            (error, _, Ok(_)) => failures.push(format!("{name}: built, helmet threw {error}")),
            (_, _, Err(actual)) => failures.push(format!("{name}: error {actual:?}, helmet built")),
        }
    }
    assert!(
        native >= 30,
        "only {native} helmet cases were answered natively"
    );
    report("helmet", cases.len(), &failures);
}
