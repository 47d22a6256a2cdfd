//! Property tests: thousands of generated spellings of traversal, none of which may reach
//! outside the root or turn an encoded separator into a separator.

use super::support::*;
use crate::fs::touched_during;
use crate::{Body, Dotfiles, Options, Outcome};

/// splitmix64: small, seeded, so a failure replays from the seed printed with it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PIECES: &[&str] = &[
    "..",
    ".",
    "...",
    "....",
    "%2e%2e",
    "%2E%2e",
    "%2e%2E",
    ".%2e",
    "%2e.",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "\\",
    "/",
    "//",
    "%00",
    "\0",
    "%c0%ae",
    "%c0%af",
    "%C0%AE%C0%AE",
    "%e0%80%ae",
    "%c1%9c",
    "%c1%1c",
    "%c0%2f",
    "%ef%bc%8f",
    "%e2%88%95",
    "%u002e",
    "%u2215",
    "%25",
    "%252e",
    "%252e%252e",
    "%252f",
    "%255c",
    "%",
    "%2",
    "%zz",
    "..%2f",
    "%2e%2e%2f",
    "%2e%2e%5c",
    "..\\",
    "..%5c",
    "..%255c",
    ";",
    "%3b",
    "?",
    "%3f",
    "#",
    "%23",
    "secret.txt",
    "root-sibling",
    "root",
    "hello.txt",
    "sub",
    "index.html",
    ".env",
    "big.bin",
    "empty",
    "a b.txt",
    "a%20b.txt",
    "caf%C3%A9.txt",
    "x",
    "%c3%a9",
    "%ff",
    "%fe%ff",
];

fn generate(rng: &mut Rng) -> String {
    let mut url = String::from(if rng.below(8) == 0 { "//" } else { "/" });
    for i in 0..1 + rng.below(8) {
        if i > 0 && rng.below(3) != 0 {
            url.push('/');
        }
        url.push_str(rng.pick(PIECES));
    }
    if rng.below(4) == 0 {
        url.push('/');
    }
    url
}

fn has_encoded_separator(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.contains("%2f") || lower.contains("%5c")
}

/// A path the OS is given must be the root or under it, with no `.`/`..` segment to climb by.
fn assert_inside(root: &str, touched: &str, url: &str, seed: u64) {
    let rest = if touched == root {
        ""
    } else {
        touched
            .strip_prefix(root)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or_else(|| panic!("seed {seed}: {url:?} touched {touched:?} outside {root}"))
    };
    for segment in rest.split('/') {
        assert!(
            segment != ".." && segment != ".",
            "seed {seed}: {url:?} touched {touched:?} (a dot segment)"
        );
    }
}

/// Every file's content under `dir`, recursively.
fn contents_under(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("ls") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(contents_under(&path));
        } else if let Ok(content) = std::fs::read(&path) {
            out.push(content);
        }
    }
    out
}

#[test]
fn no_generated_path_leaves_the_root() {
    let tree = Tree::new();
    let root = tree.root().to_str().expect("utf8").to_owned();
    let variants = [
        Options::default(),
        no_fallthrough(),
        Options {
            dotfiles: Dotfiles::Allow,
            extensions: vec!["txt".into(), "html".into()],
            ..Options::default()
        },
        Options {
            dotfiles: Dotfiles::Allow,
            fallthrough: false,
            index: vec!["index.html".into(), "hello.txt".into()],
            ..Options::default()
        },
    ];
    let all_files = contents_under(&tree.root());
    let seed = 0x5eed_0001;
    let mut rng = Rng(seed);
    let mut served = 0;
    let mut refused_encoded = 0;
    for case in 0..20_000 {
        let url = generate(&mut rng);
        let options = &variants[case % variants.len()];
        let files = tree.files(options.clone());
        let mut outcome = None;
        let touched = touched_during(|| outcome = Some(get(&files, &url)));
        let outcome = outcome.expect("ran");
        for path in &touched {
            assert_inside(&root, path, &url, seed);
        }
        // The query is not the pathname: what follows `?` (or `#`) is never a file name.
        let (pathname, _) = read(&url);
        let separator = has_encoded_separator(pathname) || pathname.contains('\\');
        if separator || pathname.contains('\0') {
            // A separator in disguise names no file (404); a NUL is send's 400.
            let status = if separator { 404 } else { 400 };
            refused_encoded += 1;
            assert!(
                touched.is_empty(),
                "seed {seed}: {url:?} reached the file system: {touched:?}"
            );
            let refused = match &outcome {
                Outcome::Next => options.fallthrough,
                Outcome::Forward(f) => {
                    !options.fallthrough && f.status == status && f.cause.is_none()
                }
                _ => false,
            };
            assert!(refused, "seed {seed}: {url:?} gave {outcome:?}");
        }
        if let Outcome::Respond(response) = &outcome {
            let content = body(response);
            assert_ne!(content, SECRET, "seed {seed}: {url:?}");
            if response.status.is_success() && !matches!(response.body, Body::Empty) {
                served += 1;
                let is_part_of_a_file = |file: &Vec<u8>| {
                    content.is_empty()
                        || file.windows(content.len()).any(|w| w == content.as_slice())
                };
                assert!(
                    all_files.iter().any(is_part_of_a_file),
                    "seed {seed}: {url:?} served bytes that are no file in the root"
                );
            }
            if let Some((_, location)) = response.headers.iter().find(|(n, _)| *n == "Location") {
                let location = location.to_str().expect("ascii");
                assert!(
                    location.starts_with('/') && !location.starts_with("//"),
                    "seed {seed}: {url:?} redirects to {location:?}"
                );
            }
        }
    }
    // The generator must exercise both sides, or the test proves nothing.
    assert!(served > 100, "only {served} served");
    assert!(
        refused_encoded > 5000,
        "only {refused_encoded} encoded separators"
    );
}

#[test]
fn a_missing_root_is_not_extended_into_its_parent() {
    // send would stat `<root>.html` for the root itself when it is missing; that file is
    // outside the root.
    let tree = Tree::new();
    std::fs::write(tree.base().join("gone.html"), SECRET).expect("write");
    let files = crate::StaticFiles::new(
        tree.base().join("gone").to_str().expect("utf8"),
        Options {
            extensions: vec!["html".into()],
            ..Options::default()
        },
    )
    .expect("new");
    for url in ["/.", "/sub/..", "/"] {
        let mut outcome = None;
        let touched = touched_during(|| outcome = Some(get(&files, url)));
        assert!(matches!(outcome, Some(Outcome::Next)), "{url}");
        assert!(
            touched.iter().all(|p| !p.ends_with("gone.html")),
            "{url}: {touched:?}"
        );
    }
    let mount = touched_during(|| {
        let outcome = serve_with(&files, "GET", "/", "/mount", &[]);
        assert!(matches!(outcome, Outcome::Next));
    });
    assert!(mount.iter().all(|p| !p.ends_with("gone.html")), "{mount:?}");
}
