//! Method sets and the list of methods a request may carry.

use xsys_router::Methods;

#[test]
fn names_are_case_insensitive() {
    assert_eq!(Methods::from_name("get"), Methods::GET);
    assert_eq!(Methods::from_name("Delete"), Methods::DELETE);
    assert_eq!(Methods::from_name("CONNECT"), Methods::CONNECT);
}

#[test]
fn unknown_names_share_other() {
    assert_eq!(Methods::from_name("PROPFIND"), Methods::OTHER);
    assert_eq!(Methods::from_name("QUERY"), Methods::OTHER);
    assert_eq!(Methods::from_name(""), Methods::OTHER);
}

#[test]
fn all_is_not_a_method_name() {
    assert_eq!(Methods::from_name("all"), Methods::OTHER);
}

#[test]
fn http_methods_are_nodes_list_exactly_as_spelled() {
    assert_eq!(xsys_router::HTTP_METHODS.len(), 35);
    for name in ["GET", "M-SEARCH", "QUERY", "UNSUBSCRIBE", "CONNECT"] {
        assert!(xsys_router::is_http_method(name.as_bytes()), "{name}");
    }
    for name in ["get", "FOO", "", "GET ", "HTTP/1.1"] {
        assert!(!xsys_router::is_http_method(name.as_bytes()), "{name:?}");
    }
    // Every named bit is one of them.
    for name in [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    ] {
        assert!(xsys_router::is_http_method(name.as_bytes()), "{name}");
    }
}

#[test]
fn head_is_handled_by_get() {
    assert!(Methods::GET.may_handle(Methods::HEAD));
    assert!(!Methods::HEAD.may_handle(Methods::GET));
    assert!(!Methods::POST.may_handle(Methods::HEAD));
}

#[test]
fn all_handles_everything() {
    for name in ["GET", "OPTIONS", "PROPFIND"] {
        assert!(Methods::ALL.may_handle(Methods::from_name(name)), "{name}");
    }
}

#[test]
fn other_may_handle_other() {
    assert!(Methods::OTHER.may_handle(Methods::from_name("REPORT")));
    assert!(!Methods::GET.may_handle(Methods::OTHER));
}

#[test]
fn bits_round_trip_and_drop_unknown_bits() {
    let methods = Methods::GET | Methods::ALL;
    assert_eq!(Methods::from_bits_truncate(methods.bits()), methods);
    assert_eq!(Methods::from_bits_truncate(0xf800), Methods::NONE);
}

#[test]
fn debug_lists_names() {
    assert_eq!(
        format!("{:?}", Methods::GET | Methods::OTHER | Methods::ALL),
        "{GET, OTHER, ALL}"
    );
}

#[test]
fn allow_header_is_sorted_and_adds_head_for_get() {
    let methods = Methods::POST | Methods::GET | Methods::DELETE;
    assert_eq!(
        methods.allow_header().as_deref(),
        Some("DELETE, GET, HEAD, POST")
    );
}

#[test]
fn allow_header_lists_every_named_method_in_order() {
    let every = [
        "TRACE", "PUT", "POST", "PATCH", "OPTIONS", "HEAD", "GET", "DELETE", "CONNECT",
    ]
    .into_iter()
    .fold(Methods::NONE, |set, name| set | Methods::from_name(name));
    assert_eq!(
        every.allow_header().as_deref(),
        Some("CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE")
    );
}

#[test]
fn allow_header_leaves_out_all() {
    assert_eq!(
        (Methods::ALL | Methods::PUT).allow_header().as_deref(),
        Some("PUT")
    );
    assert_eq!(Methods::ALL.allow_header().as_deref(), Some(""));
}

#[test]
fn allow_header_is_unknown_with_other_methods() {
    assert_eq!((Methods::GET | Methods::OTHER).allow_header(), None);
}
