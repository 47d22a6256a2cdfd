use super::*;

fn names(h: &Helmet) -> Vec<&'static str> {
    h.headers().iter().map(|h| h.cased_name).collect()
}

#[test]
fn defaults_match_helmet_defaults_through_both_doors() {
    let typed = Helmet::new(&HelmetOptions::default()).expect("valid");
    let untyped = Helmet::from_option_value(&OptionValue::Object(vec![])).expect("valid");
    assert_eq!(typed, untyped);
    assert_eq!(
        names(&typed),
        [
            "Content-Security-Policy",
            "Cross-Origin-Opener-Policy",
            "Cross-Origin-Resource-Policy",
            "Origin-Agent-Cluster",
            "Referrer-Policy",
            "Strict-Transport-Security",
            "X-Content-Type-Options",
            "X-DNS-Prefetch-Control",
            "X-Download-Options",
            "X-Frame-Options",
            "X-Permitted-Cross-Domain-Policies",
            "X-XSS-Protection",
        ]
    );
    assert!(typed.removes_powered_by());
}

#[test]
fn hsts_floors_and_refuses_negative_ages() {
    let mut options = HelmetOptions {
        strict_transport_security: Some(StrictTransportSecurity {
            max_age: 86400.9,
            include_sub_domains: false,
            preload: true,
        }),
        ..HelmetOptions::default()
    };
    let helmet = Helmet::new(&options).expect("valid");
    let hsts = helmet
        .headers()
        .iter()
        .find(|h| h.cased_name == "Strict-Transport-Security")
        .expect("set");
    assert_eq!(hsts.value, "max-age=86400; preload");
    options.strict_transport_security = Some(StrictTransportSecurity {
        max_age: -1.0,
        ..StrictTransportSecurity::default()
    });
    let error = Helmet::new(&options).expect_err("negative");
    assert!(error.is_invalid_option());
    assert_eq!(
        error.message(),
        "Strict-Transport-Security: -1 is not a valid value for maxAge. Please choose a positive integer."
    );
}

#[test]
fn the_default_values_are_all_static() {
    let helmet = Helmet::new(&HelmetOptions::default()).expect("defaults");
    for header in helmet.headers() {
        assert!(
            FIXED_VALUES.contains(&header.value.to_str().expect("ascii")),
            "{}: {:?}",
            header.cased_name,
            header.value
        );
    }
}
