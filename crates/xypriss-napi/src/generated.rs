//! Files of lib/ generated from the binding's declarations (the batch layout, the error codes),
//! so the two languages cannot drift: a stale file fails `cargo test`, and
//! `npm run generate` (the ignored test below) rewrites them.

use std::path::PathBuf;

/// Every generated file: its path from the repository root, and its content.
fn files() -> Vec<(&'static str, String)> {
    vec![
        (
            "lib/engine/batch-layout.ts",
            crate::batch::typescript_layout(),
        ),
        ("lib/error-codes.ts", crate::errors::typescript_codes()),
    ]
}

fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// Fails when the file at `relative` is not exactly `expected`.
pub fn check(relative: &str, expected: &str) {
    let actual = std::fs::read_to_string(path(relative)).unwrap_or_default();
    assert!(
        actual == expected,
        "{relative} does not match its declaration in the binding: run `npm run generate`"
    );
}

#[test]
#[ignore = "writes files: run through `npm run generate`"]
fn write_generated_files() {
    for (relative, content) in files() {
        std::fs::write(path(relative), content).unwrap();
    }
}
