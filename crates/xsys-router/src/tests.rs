//! Tests that need the table's insides: the tries against the fallback matcher.

#[path = "../tests/common/fixture.rs"]
mod fixture;

use crate::{LayerId, Methods, RouteTable, TableOptions};

fn fallback_only(options: TableOptions) -> RouteTable {
    RouteTable {
        fallback_only: true,
        ..RouteTable::new(options)
    }
}

#[test]
fn fixture_agrees_with_every_pattern_in_the_fallback() {
    assert!(fixture::check(fallback_only) > 40_000);
}

#[test]
fn common_express_patterns_live_in_the_tries() {
    let mut table = RouteTable::new(TableOptions::default());
    let patterns = [
        ("/api", false),
        ("/static", false),
        ("/users", true),
        ("/users/", true),
        ("/users/new", true),
        ("/users/:id", true),
        ("/users/:id/posts/:postId", true),
        ("/files/*path", true),
        ("/docs{/:page}", true),
        ("/*splat", true),
        ("/health", true),
    ];
    for (id, (path, end)) in (0..).zip(patterns) {
        assert!(
            table.insert(LayerId(id), path, end, Methods::GET).is_ok(),
            "{path}"
        );
    }
    assert_eq!(table.fallback.len(), 0);
}

#[test]
fn patterns_matchit_cannot_express_go_to_the_fallback() {
    let mut table = RouteTable::new(TableOptions::default());
    for (id, path) in (0..).zip([
        "/:a-:b",
        "/img-:id.png",
        "/files/*path/edit",
        "/*a/*b",
        "/v:v",
    ]) {
        assert!(
            table.insert(LayerId(id), path, true, Methods::GET).is_ok(),
            "{path}"
        );
    }
    assert_eq!(table.fallback.len(), 5);
}

/// xorshift64*: enough randomness to pick pattern and path pieces reproducibly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
        usize::try_from(value).unwrap_or(0) % n
    }

    fn pick<'a>(&mut self, pieces: &[&'a str]) -> &'a str {
        pieces[self.below(pieces.len())]
    }
}

#[test]
fn tries_agree_with_the_fallback_on_random_tables() {
    const PATTERN_PIECES: [&str; 14] = [
        "/a",
        "/b",
        "/ab",
        "/A",
        "/:p",
        "/:q",
        "/*w",
        "{/x}",
        "{/:o}",
        "/a.:e",
        "/:p-:q",
        "/",
        "{/b{/:n}}",
        "/%41",
    ];
    const PATH_PIECES: [&str; 11] = [
        "/a", "/b", "/ab", "/x", "/A", "/", "/a.b", "/a-b", "/B", "/%41", "/é",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let options = TableOptions {
            case_sensitive: rng.below(2) == 0,
            strict: rng.below(2) == 0,
        };
        let mut tries = RouteTable::new(options);
        let mut reference = fallback_only(options);
        for id in 0..12 {
            let pattern: String = (0..=rng.below(4))
                .map(|_| rng.pick(&PATTERN_PIECES))
                .collect();
            let end = rng.below(3) != 0;
            let inserted = tries.insert(LayerId(id), &pattern, end, Methods::ALL);
            assert_eq!(
                inserted,
                reference.insert(LayerId(id), &pattern, end, Methods::ALL)
            );
        }
        for _ in 0..200 {
            let path: String = (0..rng.below(5)).map(|_| rng.pick(&PATH_PIECES)).collect();
            assert_eq!(
                tries.find(&path),
                reference.find(&path),
                "{path:?} with {options:?}"
            );
        }
    }
}
