//! The generated Content-Type table must match the mime-db and mime-types send loads.

use std::path::{Path, PathBuf};

use crate::mime_table::SOURCE_SHA256;

/// Node's resolution of `name` from a package directory: its own node_modules, then up.
fn resolve_package(from: &Path, name: &str) -> Option<PathBuf> {
    from.ancestors()
        .map(|dir| dir.join("node_modules").join(name))
        .find(|candidate| candidate.join("package.json").is_file())
}

#[test]
fn the_mime_table_matches_the_installed_mime_db() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let send = resolve_package(&repo, "send").expect("node_modules/send is installed (npm ci)");
    let mime_types = resolve_package(&send, "mime-types").expect("send's mime-types");
    let mime_db = resolve_package(&mime_types, "mime-db").expect("mime-types' mime-db");
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for file in [
        mime_db.join("db.json"),
        mime_types.join("index.js"),
        mime_types.join("mimeScore.js"),
    ] {
        context.update(&std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())));
    }
    let digest: String = context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest, SOURCE_SHA256,
        "mime-db or mime-types changed since src/mime_table.rs was generated: run \
         node crates/xsys-static/scripts/generate-mime-table.mjs"
    );
}
