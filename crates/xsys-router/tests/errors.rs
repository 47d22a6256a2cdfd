//! Patterns Express refuses are refused here too, with path-to-regexp's message.

use xsys_router::{Error, LayerId, Methods, RouteTable, TableOptions};

fn insert(path: &str) -> Result<(), Error> {
    RouteTable::new(TableOptions::default()).insert(LayerId(0), path, true, Methods::GET)
}

fn message(path: &str) -> String {
    match insert(path) {
        Ok(()) => panic!("{path} was accepted"),
        Err(error) => {
            assert!(error.is_invalid_pattern(), "{error}");
            error.to_string()
        }
    }
}

#[test]
fn reserved_characters() {
    for (path, expected) in [
        ("/(", "Unexpected ( at index 1: /("),
        ("/a)", "Unexpected ) at index 2: /a)"),
        ("/[x]", "Unexpected [ at index 1: /[x]"),
        ("/]", "Unexpected ] at index 1: /]"),
        ("/a+", "Unexpected + at index 2: /a+"),
        ("/!", "Unexpected ! at index 1: /!"),
        ("/}", "Unexpected } at index 1: /}"),
    ] {
        assert_eq!(message(path), expected);
    }
}

#[test]
fn express_4_optional_param_syntax() {
    assert_eq!(
        message("/users/:id?"),
        "Unexpected ? at index 10: /users/:id?"
    );
}

#[test]
fn express_4_regex_param_syntax() {
    assert_eq!(message("/:id(\\d+)"), "Unexpected ( at index 4: /:id(\\d+)");
}

#[test]
fn express_4_bare_star() {
    assert_eq!(
        message("/users/*"),
        "Missing parameter name at index 8: /users/*"
    );
}

#[test]
fn missing_names() {
    assert_eq!(message("/:"), "Missing parameter name at index 2: /:");
    assert_eq!(message("/:-x"), "Missing parameter name at index 2: /:-x");
    assert_eq!(
        message("/:\"\""),
        "Missing parameter name at index 4: /:\"\""
    );
}

#[test]
fn unterminated_quote() {
    assert_eq!(message("/:\"abc"), "Unterminated quote at index 2: /:\"abc");
}

#[test]
fn unclosed_group() {
    assert_eq!(
        message("/a{b"),
        "Unexpected end at index 4, expected }: /a{b"
    );
}

#[test]
fn trailing_backslash() {
    assert_eq!(message("/a\\"), "Unexpected end after \\ at index 3: /a\\");
}

#[test]
fn regression_loosen_exposes_an_escaped_trailing_slash() {
    // router@2 strips trailing slashes before parsing, leaving a dangling backslash.
    assert_eq!(
        message("/foo\\/"),
        "Unexpected end after \\ at index 5: /foo\\"
    );
    let strict = TableOptions {
        strict: true,
        ..TableOptions::default()
    };
    assert!(RouteTable::new(strict)
        .insert(LayerId(0), "/foo\\/", true, Methods::GET)
        .is_ok());
}

#[test]
fn adjacent_captures_need_text_between_them() {
    assert_eq!(message("/:a:b"), "Missing text before \"b\" param: /:a:b");
    assert_eq!(
        message("/:a*b"),
        "Missing text before \"b\" wildcard: /:a*b"
    );
}

#[test]
fn adjacent_captures_in_any_variant_fail_the_pattern() {
    assert_eq!(
        message("/:a{-}:b"),
        "Missing text before \"b\" param: /:a{-}:b"
    );
}

#[test]
fn too_many_optional_groups() {
    assert_eq!(
        message("/{a}{b}{c}{d}{e}{f}{g}{h}{i}"),
        "Too many path combinations: /{a}{b}{c}{d}{e}{f}{g}{h}{i}"
    );
}

#[test]
fn error_index_is_in_characters() {
    let error = insert("/é(").err();
    assert_eq!(error.and_then(|e| e.index()), Some(2));
}

#[test]
fn non_ascii_parameter_names_are_unsupported() {
    let error = insert("/:café").err();
    assert!(
        error.as_ref().is_some_and(Error::is_unsupported),
        "{error:?}"
    );
    assert_eq!(error.and_then(|e| e.index()), Some(5));
}

#[test]
fn a_refused_pattern_leaves_the_table_unchanged() {
    let mut table = RouteTable::new(TableOptions::default());
    assert!(table
        .insert_paths(LayerId(0), &["/ok", "/bad("], true, Methods::GET)
        .is_err());
    assert!(table.insert(LayerId(0), "/ok", true, Methods::GET).is_ok());
}

#[test]
fn duplicate_layer_ids() {
    let mut table = RouteTable::new(TableOptions::default());
    assert!(table.insert(LayerId(3), "/a", true, Methods::GET).is_ok());
    let error = table.insert(LayerId(3), "/b", true, Methods::GET).err();
    assert!(error.is_some_and(|e| e.is_duplicate_layer()));
}
