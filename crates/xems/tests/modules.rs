//! The crate's modules form layers: no module uses, directly or through others, a module that
//! uses it (what `src/lib.rs` lists, from the bytes up). Checked from the sources, so a new
//! `use crate::...` that closes a circle fails here.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Public re-exports at the crate root, by the module that defines them.
const ROOT_ITEMS: [(&str, &str); 7] = [
    ("Error", "error"),
    ("HardwareId", "hardware"),
    ("Store", "store"),
    ("RecoveryKey", "crypto"),
    ("Completion", "completion"),
    ("Options", "options"),
    ("Stats", "report"),
];

fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "lib" && path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Test modules may reach anywhere; doc links are not uses.
            let code: String = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            modules.insert(name, code);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut deps = BTreeMap::new();
    for (name, code) in &modules {
        let mut uses = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            // `crate::{a, b::c}` or `crate::a::...` or `crate::Item`
            let group = if let Some(inner) = rest.strip_prefix('{') {
                &inner[..inner.find('}').unwrap_or(inner.len())]
            } else {
                &rest[..rest
                    .find([';', ' ', '\n', '(', ')', ',', '>'])
                    .unwrap_or(rest.len())]
            };
            for item in group.split([',', ' ', '\n']) {
                let head = item.split("::").next().unwrap().trim();
                if names.contains(head) && head != name {
                    uses.insert(head.to_owned());
                }
                if let Some((_, m)) = ROOT_ITEMS.iter().find(|(i, _)| *i == head) {
                    if *m != name {
                        uses.insert((*m).to_owned());
                    }
                }
            }
        }
        deps.insert(name.clone(), uses);
    }
    deps
}

#[test]
fn modules_use_each_other_without_circles() {
    let deps = dependencies();
    assert!(deps.len() >= 20, "modules found: {:?}", deps.keys());
    assert!(deps["writer"].contains("batch") && deps["store"].contains("open"));
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("module circle: {} -> {m}", path[at..].join(" -> "));
        }
        path.push(m.to_owned());
        for d in &deps[m] {
            visit(d, deps, path, done);
        }
        path.pop();
        done.insert(m.to_owned());
    }
    let mut done = BTreeSet::new();
    for m in deps.keys() {
        visit(m, &deps, &mut Vec::new(), &mut done);
    }
}

#[test]
fn no_module_is_over_about_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // Unit tests beside the code do not count.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let lines = code.lines().count();
        assert!(lines <= 620, "{}: {lines} lines", path.display());
    }
}
