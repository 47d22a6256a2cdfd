//! Checks route tables against `fixtures/path_to_regexp.json`, which `fixtures/gen.mjs`
//! writes from path-to-regexp@8 and router@2 themselves.
//!
//! Shared by the integration test (tables as built for the engine) and a unit test that
//! forces every pattern through the fallback matcher.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use xsys_router::{LayerId, Lookup, Methods, RouteTable, TableOptions};

const FIXTURE: &str = include_str!("../fixtures/path_to_regexp.json");

/// One expected or actual match: layer, `m[0]`, params (later duplicates win, as in JS).
type Row = (u32, String, BTreeMap<String, String>);

/// Builds every suite's table with `new_table`, looks up every path and returns the number
/// of (layer, path) evaluations compared; panics listing every disagreement.
pub fn check(new_table: impl Fn(TableOptions) -> RouteTable) -> u64 {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    let mut failures = Vec::new();
    let mut compared = 0;
    for suite in fixture["suites"].as_array().expect("suites") {
        let name = suite["name"].as_str().expect("suite name");
        let options = TableOptions {
            case_sensitive: suite["case_sensitive"].as_bool().expect("case_sensitive"),
            strict: suite["strict"].as_bool().expect("strict"),
        };
        let mut table = new_table(options);
        let mut unsupported = BTreeSet::new();
        let mut in_table = 0;
        let mut non_ascii_patterns = false;
        for (index, layer) in suite["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .enumerate()
        {
            let id = LayerId(u32::try_from(index).expect("few layers"));
            let end = layer["end"].as_bool().expect("end");
            let methods = if end { Methods::GET } else { Methods::ALL };
            let paths: Vec<&str> = match &layer["path"] {
                Value::String(path) => vec![path.as_str()],
                Value::Array(paths) => paths.iter().map(|p| p.as_str().expect("path")).collect(),
                other => panic!("bad layer path {other}"),
            };
            non_ascii_patterns |= paths.iter().any(|p| !p.is_ascii());
            let result = match &layer["path"] {
                Value::String(path) => table.insert(id, path, end, methods),
                _ => table.insert_paths(id, &paths, end, methods),
            };
            match (layer["error"].as_str(), result) {
                (None, Ok(())) => in_table += 1,
                (Some(expected), Err(error)) if error.is_invalid_pattern() => {
                    if error.to_string() != expected {
                        failures.push(format!(
                            "{name}: layer {index} {paths:?}: error {error} != {expected}"
                        ));
                    }
                }
                // Express accepts these; the table must refuse them rather than guess.
                (None, Err(error))
                    if error.is_unsupported() && paths.iter().any(|p| !p.is_ascii()) =>
                {
                    unsupported.insert(u32::try_from(index).expect("few layers"));
                }
                (expected, result) => failures.push(format!(
                    "{name}: layer {index} {paths:?}: expected {expected:?}, got {result:?}"
                )),
            }
        }

        for entry in suite["paths"].as_array().expect("paths") {
            let path = entry["path"].as_str().expect("path");
            compared += in_table;
            let expected: Vec<Row> = entry["matches"]
                .as_array()
                .expect("matches")
                .iter()
                .map(|m| {
                    let params = m["params"]
                        .as_array()
                        .expect("params")
                        .iter()
                        .map(|pair| {
                            (
                                pair[0].as_str().expect("name").to_owned(),
                                pair[1].as_str().expect("value").to_owned(),
                            )
                        })
                        .collect();
                    let layer =
                        u32::try_from(m["layer"].as_u64().expect("layer")).expect("few layers");
                    (layer, m["path"].as_str().expect("m[0]").to_owned(), params)
                })
                .filter(|row: &Row| !unsupported.contains(&row.0))
                .collect();
            match table.find(path) {
                Lookup::Defer => {
                    let may_defer =
                        !options.case_sensitive && non_ascii_patterns && !path.is_ascii();
                    if !may_defer {
                        failures.push(format!("{name}: {path:?}: deferred"));
                    }
                }
                Lookup::Layers(layers) => {
                    let actual: Vec<Row> = layers
                        .iter()
                        .map(|m| {
                            let params = m
                                .params
                                .iter()
                                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                                .collect();
                            (m.id.0, m.path.to_owned(), params)
                        })
                        .collect();
                    if actual != expected {
                        failures.push(format!(
                            "{name}: {path:?}:\n  expected {expected:?}\n  actual   {actual:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with path-to-regexp:\n{}",
        failures.len(),
        failures.join("\n")
    );
    compared
}
