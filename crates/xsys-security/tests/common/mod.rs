//! Reads `fixtures/security.json`, which `fixtures/gen.mjs` records from helmet, cors and
//! express-rate-limit themselves.

#![allow(dead_code)]

use serde_json::Value;
use xsys_security::OptionValue;

pub fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/security.json")).expect("the fixture is JSON")
}

/// The tagged JSON of `gen.mjs` back into the value JS passed.
pub fn decode(value: &Value) -> OptionValue {
    match value {
        Value::Null => OptionValue::Null,
        Value::Bool(b) => OptionValue::Bool(*b),
        Value::Number(n) => OptionValue::Number(n.as_f64().expect("a number")),
        Value::String(s) => OptionValue::String(s.clone()),
        Value::Array(items) => OptionValue::Array(items.iter().map(decode).collect()),
        Value::Object(map) => {
            let (tag, inner) = map.iter().next().expect("a tagged object");
            match tag.as_str() {
                "$o" => OptionValue::Object(
                    inner
                        .as_array()
                        .expect("pairs")
                        .iter()
                        .map(|pair| {
                            (
                                pair[0].as_str().expect("a key").to_owned(),
                                decode(&pair[1]),
                            )
                        })
                        .collect(),
                ),
                "$undefined" => OptionValue::Undefined,
                "$function" => OptionValue::Function,
                "$symbol" => OptionValue::Symbol(inner.as_str().expect("description").to_owned()),
                "$regexp" => OptionValue::RegExp {
                    source: inner[0].as_str().expect("source").to_owned(),
                    flags: inner[1].as_str().expect("flags").to_owned(),
                },
                "$number" => OptionValue::Number(match inner.as_str().expect("number") {
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => f64::NAN,
                }),
                "$bytes" => OptionValue::Bytes(
                    inner
                        .as_array()
                        .expect("bytes")
                        .iter()
                        .map(|b| b.as_u64().expect("byte") as u8)
                        .collect(),
                ),
                other => panic!("unknown tag {other}"),
            }
        }
    }
}

/// A header value's bytes as Node's client hands them to JS (one character per byte).
pub fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `[[name, value], ...]` of a recorded response.
pub fn pairs(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .expect("header pairs")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().expect("name").to_owned(),
                pair[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

/// Panics listing every failure, after saying how many cases were compared.
pub fn report(what: &str, compared: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {compared} cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
