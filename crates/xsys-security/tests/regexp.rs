//! JS RegExps translated for native matching, against V8's answers in `fixtures/security.json`
//! for generated patterns, flags and Latin-1 inputs.

mod common;

use common::{fixture, report};
use xsys_security::regexp::JsRegExp;

#[test]
fn translated_regexps_answer_as_v8() {
    let fixture = fixture();
    let cases = fixture["regexp"].as_array().expect("regexp cases");
    let mut failures = Vec::new();
    let (mut translated, mut compared) = (0, 0);
    for case in cases {
        let source = case["source"].as_str().expect("source");
        let flags = case["flags"].as_str().expect("flags");
        let regexp = match JsRegExp::new(source, flags) {
            Ok(regexp) => regexp,
            Err(error) if error.is_not_native() => continue,
            Err(error) => {
                failures.push(format!("/{source}/{flags}: {error}"));
                continue;
            }
        };
        translated += 1;
        for input in case["inputs"].as_array().expect("inputs") {
            let text = input[0].as_str().expect("input");
            let expected = input[1].as_bool().expect("result");
            let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
            compared += 1;
            if regexp.test(&bytes) != expected {
                failures.push(format!(
                    "/{source}/{flags}.test({text:?}) should be {expected}"
                ));
            }
        }
    }
    // Most generated patterns are in the translated subset; a translator that refuses
    // everything must not pass.
    assert!(
        translated * 2 > cases.len(),
        "only {translated} of {} patterns translated",
        cases.len()
    );
    report("regexp", compared, &failures);
}
