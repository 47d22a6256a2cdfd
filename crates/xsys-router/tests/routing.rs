//! Matching behaviour, one small test per Express rule.

use xsys_router::{LayerId, LayerMatch, Lookup, Methods, RouteTable, TableOptions};

const ROUTE: bool = true;
const USE: bool = false;

fn table_with(options: TableOptions, layers: &[(&str, bool)]) -> RouteTable {
    let mut table = RouteTable::new(options);
    for (id, &(path, end)) in (0..).zip(layers) {
        let methods = if end { Methods::GET } else { Methods::ALL };
        if let Err(error) = table.insert(LayerId(id), path, end, methods) {
            panic!("{path}: {error}");
        }
    }
    table
}

fn table(layers: &[(&str, bool)]) -> RouteTable {
    table_with(TableOptions::default(), layers)
}

fn layers<'t, 'p>(table: &'t RouteTable, path: &'p str) -> Vec<LayerMatch<'t, 'p>> {
    match table.find(path) {
        Lookup::Layers(layers) => layers,
        Lookup::Defer => panic!("{path}: deferred"),
    }
}

/// Ids of the layers matching `path`.
fn ids(table: &RouteTable, path: &str) -> Vec<u32> {
    layers(table, path).iter().map(|m| m.id.0).collect()
}

/// Params of the only matching layer.
fn params<'t, 'p>(table: &'t RouteTable, path: &'p str) -> Vec<(&'t str, &'p str)> {
    let mut found = layers(table, path);
    assert_eq!(found.len(), 1, "{path}: {found:?}");
    found.remove(0).params
}

fn matches(pattern: &str, path: &str) -> bool {
    !ids(&table(&[(pattern, ROUTE)]), path).is_empty()
}

#[test]
fn static_route() {
    let t = table(&[("/about", ROUTE)]);
    assert_eq!(ids(&t, "/about"), [0]);
    assert!(ids(&t, "/abou").is_empty());
    assert!(ids(&t, "/about/us").is_empty());
    assert!(ids(&t, "/aboutus").is_empty());
}

#[test]
fn empty_table_matches_nothing() {
    assert_eq!(
        RouteTable::new(TableOptions::default()).find("/"),
        Lookup::Layers(vec![])
    );
}

#[test]
fn param_takes_one_whole_segment() {
    let t = table(&[("/users/:id", ROUTE)]);
    assert_eq!(params(&t, "/users/42"), [("id", "42")]);
    assert!(ids(&t, "/users/").is_empty());
    assert!(ids(&t, "/users/42/x").is_empty());
    assert!(ids(&t, "/users//").is_empty());
}

#[test]
fn multiple_params() {
    let t = table(&[("/users/:userId/books/:bookId", ROUTE)]);
    assert_eq!(
        params(&t, "/users/7/books/9"),
        [("userId", "7"), ("bookId", "9")]
    );
}

#[test]
fn params_in_one_segment_stop_at_the_text_between_them() {
    // path-to-regexp 8's backtrack rule: the second parameter may not contain the `-`.
    let t = table(&[("/:from-:to", ROUTE)]);
    assert_eq!(params(&t, "/a-b-c"), [("from", "a-b"), ("to", "c")]);
    let t = table(&[("/:file.:ext", ROUTE)]);
    assert_eq!(
        params(&t, "/archive.tar.gz"),
        [("file", "archive.tar"), ("ext", "gz")]
    );
}

#[test]
fn param_with_static_suffix_is_greedy() {
    let t = table(&[("/img-:id.png", ROUTE)]);
    assert_eq!(params(&t, "/img-1.png.png"), [("id", "1.png")]);
    assert!(ids(&t, "/img-.png").is_empty());
}

#[test]
fn splat_takes_one_or_more_characters_across_slashes() {
    let t = table(&[("/files/*path", ROUTE)]);
    assert_eq!(params(&t, "/files/a/b/c.txt"), [("path", "a/b/c.txt")]);
    // The wildcard swallows the trailing slash instead of the optional one.
    assert_eq!(params(&t, "/files/a/"), [("path", "a/")]);
    assert!(ids(&t, "/files/").is_empty());
    assert!(ids(&t, "/files").is_empty());
}

#[test]
fn splat_followed_by_text() {
    let t = table(&[("/files/*path/edit", ROUTE)]);
    assert_eq!(params(&t, "/files/a/b/edit"), [("path", "a/b")]);
    assert!(ids(&t, "/files/edit").is_empty());
}

#[test]
fn optional_splat_also_matches_the_root() {
    let t = table(&[("/{*splat}", ROUTE)]);
    assert_eq!(params(&t, "/"), []);
    assert_eq!(params(&t, "/a/b"), [("splat", "a/b")]);
}

#[test]
fn optional_group() {
    let t = table(&[("/docs{/:page}", ROUTE)]);
    assert_eq!(params(&t, "/docs"), []);
    assert_eq!(params(&t, "/docs/intro"), [("page", "intro")]);
    assert!(ids(&t, "/docs/a/b").is_empty());
}

#[test]
fn nested_optional_groups() {
    let t = table(&[("/a{/b{/c}}", ROUTE)]);
    for path in ["/a", "/a/b", "/a/b/c"] {
        assert_eq!(ids(&t, path), [0], "{path}");
    }
    assert!(ids(&t, "/a/c").is_empty());
}

#[test]
fn first_alternative_wins_when_several_group_choices_match() {
    let t = table(&[("{/:a}{/:b}", ROUTE)]);
    assert_eq!(params(&t, "/x"), [("a", "x")]);
}

#[test]
fn escaped_characters_are_literal() {
    assert!(matches("/\\:id", "/:id"));
    assert!(!matches("/\\:id", "/7"));
    assert!(matches("/\\{x\\}", "/{x}"));
    assert!(matches("/a\\+b", "/a+b"));
}

#[test]
fn quoted_names_allow_any_characters() {
    let t = table(&[("/:\"user id\"/:\"a\\\"b\"", ROUTE)]);
    assert_eq!(params(&t, "/1/2"), [("user id", "1"), ("a\"b", "2")]);
}

#[test]
fn routes_ignore_case_by_default() {
    let t = table(&[("/Users/:id", ROUTE)]);
    // The value keeps the request's case.
    assert_eq!(params(&t, "/USERS/AbC"), [("id", "AbC")]);
}

#[test]
fn case_sensitive_routing() {
    let options = TableOptions {
        case_sensitive: true,
        ..TableOptions::default()
    };
    let t = table_with(options, &[("/Users", ROUTE), ("/api", USE)]);
    assert_eq!(ids(&t, "/Users"), [0]);
    assert!(ids(&t, "/users").is_empty());
    assert!(ids(&t, "/API/x").is_empty());
}

#[test]
fn one_trailing_slash_is_optional_without_strict() {
    let t = table(&[("/users", ROUTE), ("/posts/", ROUTE)]);
    assert_eq!(ids(&t, "/users/"), [0]);
    assert!(ids(&t, "/users//").is_empty());
    // router@2 strips the pattern's trailing slashes first.
    assert_eq!(ids(&t, "/posts"), [1]);
    assert_eq!(ids(&t, "/posts/"), [1]);
}

#[test]
fn strict_routing_makes_the_trailing_slash_significant() {
    let options = TableOptions {
        strict: true,
        ..TableOptions::default()
    };
    let t = table_with(options, &[("/users", ROUTE), ("/posts/", ROUTE)]);
    assert_eq!(ids(&t, "/users"), [0]);
    assert!(ids(&t, "/users/").is_empty());
    assert_eq!(ids(&t, "/posts/"), [1]);
    assert!(ids(&t, "/posts").is_empty());
}

#[test]
fn strict_routing_does_not_apply_to_middleware() {
    let options = TableOptions {
        strict: true,
        ..TableOptions::default()
    };
    let t = table_with(options, &[("/api/", USE)]);
    assert_eq!(ids(&t, "/api"), [0]);
    assert_eq!(ids(&t, "/api/x"), [0]);
}

#[test]
fn middleware_matches_a_prefix_up_to_a_slash() {
    let t = table(&[("/api", USE)]);
    assert_eq!(ids(&t, "/api"), [0]);
    assert_eq!(ids(&t, "/api/"), [0]);
    assert_eq!(ids(&t, "/api/x/y"), [0]);
    assert_eq!(ids(&t, "/API/x"), [0]);
    assert!(ids(&t, "/apix").is_empty());
    assert!(ids(&t, "/ap").is_empty());
}

#[test]
fn middleware_match_path_is_what_express_trims() {
    let t = table(&[("/api/:version", USE)]);
    let found = layers(&t, "/api/v2/users");
    assert_eq!(found[0].path, "/api/v2");
    assert_eq!(found[0].params, [("version", "v2")]);
    // A final slash belongs to the match.
    assert_eq!(layers(&t, "/api/v2/")[0].path, "/api/v2/");
}

#[test]
fn root_middleware_matches_everything_with_an_empty_match() {
    let t = table(&[("/", USE)]);
    for path in ["/", "/x", "/a/b/c", "*", ""] {
        let found = layers(&t, path);
        assert_eq!(found.len(), 1, "{path}");
        assert_eq!(found[0].path, "");
    }
}

#[test]
fn root_in_a_path_array_is_an_ordinary_pattern() {
    // router@2 skips path-to-regexp only for the string '/', so ['/'] matches `/` and `//x`.
    let mut t = RouteTable::new(TableOptions::default());
    assert!(t
        .insert_paths(LayerId(0), &["/"], USE, Methods::ALL)
        .is_ok());
    assert_eq!(ids(&t, "/"), [0]);
    assert_eq!(ids(&t, "//x"), [0]);
    assert!(ids(&t, "/x").is_empty());
}

#[test]
fn path_array_matches_with_its_first_matching_path() {
    let mut t = RouteTable::new(TableOptions::default());
    assert!(t
        .insert_paths(LayerId(0), &["/:x", "/a"], USE, Methods::ALL)
        .is_ok());
    assert!(t
        .insert_paths(LayerId(1), &["/a", "/:x"], USE, Methods::ALL)
        .is_ok());
    let found = layers(&t, "/a");
    assert_eq!(found[0].params, [("x", "a")]);
    assert_eq!(found[1].params, []);
}

#[test]
fn duplicate_patterns_with_different_param_names_each_keep_their_names() {
    let t = table(&[("/u/:id", ROUTE), ("/u/:name", ROUTE), ("/u/:id", USE)]);
    let found = layers(&t, "/u/7");
    let names: Vec<_> = found.iter().map(|m| m.params[0]).collect();
    assert_eq!(names, [("id", "7"), ("name", "7"), ("id", "7")]);
}

#[test]
fn repeated_param_name_lists_both_values() {
    let t = table(&[("/:a/:a", ROUTE)]);
    assert_eq!(params(&t, "/x/y"), [("a", "x"), ("a", "y")]);
}

#[test]
fn layers_come_in_stack_order_across_trie_and_fallback() {
    let t = table(&[
        ("/", USE),         // everywhere
        ("/:a-:b", ROUTE),  // fallback
        ("/x-y", ROUTE),    // trie
        ("/:p", USE),       // trie, another level
        ("/*a-*b", ROUTE),  // fallback
        ("/{*all}", ROUTE), // trie
    ]);
    assert_eq!(ids(&t, "/x-y"), [0, 1, 2, 3, 4, 5]);
    assert_eq!(ids(&t, "/x-y/z"), [0, 3, 4, 5]);
}

#[test]
fn static_and_param_routes_both_match() {
    // Unlike matchit alone, Express runs both: static does not shadow the parameter.
    let t = table(&[
        ("/users/:id", ROUTE),
        ("/users/new", ROUTE),
        ("/users", USE),
    ]);
    assert_eq!(ids(&t, "/users/new"), [0, 1, 2]);
}

#[test]
fn ids_need_not_be_dense() {
    let mut t = RouteTable::new(TableOptions::default());
    assert!(t.insert(LayerId(40), "/b", ROUTE, Methods::GET).is_ok());
    assert!(t.insert(LayerId(7), "/:x", ROUTE, Methods::GET).is_ok());
    assert_eq!(ids(&t, "/b"), [7, 40]);
}

#[test]
fn percent_encoded_paths_are_matched_and_returned_raw() {
    let t = table(&[("/files/:name", ROUTE)]);
    assert_eq!(params(&t, "/files/a%2Fb"), [("name", "a%2Fb")]);
    assert_eq!(params(&t, "/files/%E2%82%AC"), [("name", "%E2%82%AC")]);
    // Encoded text does not match its decoded pattern, and the reverse.
    assert!(!matches("/caf%C3%A9", "/café"));
    assert!(!matches("/café", "/caf%C3%A9"));
}

#[test]
fn percent_escapes_fold_case_like_other_text() {
    assert!(matches("/%7Buser%7D", "/%7buser%7d"));
}

#[test]
fn non_ascii_paths_defer_only_when_unicode_case_folding_could_matter() {
    let t = table(&[("/café", ROUTE)]);
    assert_eq!(t.find("/CAFÉ"), Lookup::Defer);
    assert_eq!(ids(&t, "/cafe"), Vec::<u32>::new());

    let ascii = table(&[("/:name", ROUTE)]);
    assert_eq!(params(&ascii, "/CAFÉ"), [("name", "CAFÉ")]);

    let options = TableOptions {
        case_sensitive: true,
        ..TableOptions::default()
    };
    let sensitive = table_with(options, &[("/café", ROUTE)]);
    assert_eq!(ids(&sensitive, "/café"), [0]);
    assert!(ids(&sensitive, "/CAFÉ").is_empty());
}

#[test]
fn methods_follow_set_methods() {
    let mut t = table(&[("/x", ROUTE)]);
    assert!(t
        .set_methods(LayerId(0), Methods::GET | Methods::POST)
        .is_ok());
    assert_eq!(layers(&t, "/x")[0].methods, Methods::GET | Methods::POST);
    assert!(t
        .set_methods(LayerId(9), Methods::GET)
        .is_err_and(|e| e.is_unknown_layer()));
}

#[test]
fn long_paths_against_many_captures_are_answered() {
    // Failures are memoised per (element, position), so hostile paths cost polynomial time.
    let t = table(&[("/:a-:b-:c-:d.:e", ROUTE), ("/*a/*b/*c/*d/*e/*f/x", ROUTE)]);
    let dashes = format!("/{}", "a-".repeat(2000));
    assert!(ids(&t, &dashes).is_empty());
    let segments = format!("/{}", "aaaaaaaaaa/".repeat(300));
    assert!(ids(&t, &segments).is_empty());
    assert_eq!(ids(&t, &format!("{segments}x")), [1]);
}
