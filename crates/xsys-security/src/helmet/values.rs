//! Each helmet option read and turned into its header's value, with helmet's own errors for
//! the values it refuses.

use crate::error::Error;
use crate::js::{json_display, json_quote, number_to_string, OptionValue};

use super::{Builder, StrictTransportSecurity, COEP, COOP, CORP};

/// `options.name ?? options.alias`, after helmet's "specified twice" check.
pub(super) fn aliased<'a>(
    options: &'a OptionValue,
    name: &str,
    alias: &str,
    header: &str,
) -> Result<&'a OptionValue, Error> {
    if options.has(name) && options.has(alias) {
        return Err(Error::invalid(format!(
            "{header} option was specified twice. Remove the `{alias}` option to fix this error."
        )));
    }
    Ok(options.get(name).defined().unwrap_or(options.get(alias)))
}

/// A header that takes no options: on unless `false`; anything else warns and stays on.
pub(super) fn flag(
    b: &mut Builder,
    options: &OptionValue,
    name: &str,
    alias: &str,
    header: &str,
) -> Result<bool, Error> {
    Ok(match aliased(options, name, alias, header)? {
        OptionValue::Undefined | OptionValue::Bool(true) => true,
        OptionValue::Bool(false) => false,
        _ => {
            b.warn(&format!(
                "{header} does not take options. Remove the property to silence this warning."
            ));
            true
        }
    })
}

/// `{ policy }` destructured from a sub-option object; a non-string policy fails the header's
/// allowed-set check with its JSON form.
pub(super) fn policy_option(header: &str, value: &OptionValue) -> Result<Option<String>, Error> {
    match value {
        OptionValue::Null => Err(Error::invalid_type(
            "Cannot read properties of null (reading 'policy')",
        )),
        other => match other.get("policy") {
            OptionValue::Undefined => Ok(None),
            OptionValue::String(s) => Ok(Some(s.clone())),
            p => Err(Error::invalid(format!(
                "{header} does not support the {} policy",
                json_display(p)
            ))),
        },
    }
}

fn checked_policy(
    header: &str,
    policy: Option<&str>,
    default: &'static str,
    allowed: &[&'static str],
) -> Result<&'static str, Error> {
    let policy = policy.unwrap_or(default);
    allowed
        .iter()
        .find(|p| **p == policy)
        .copied()
        .ok_or_else(|| {
            Error::invalid(format!(
                "{header} does not support the {} policy",
                json_quote(policy)
            ))
        })
}

pub(super) fn coep_value(policy: Option<&str>) -> Result<&'static str, Error> {
    checked_policy(
        COEP.0,
        policy,
        COEP.1,
        &["require-corp", "credentialless", "unsafe-none"],
    )
}

pub(super) fn coop_value(policy: Option<&str>) -> Result<&'static str, Error> {
    checked_policy(
        COOP.0,
        policy,
        COOP.1,
        &[
            "same-origin",
            "same-origin-allow-popups",
            "noopener-allow-popups",
            "unsafe-none",
        ],
    )
}

pub(super) fn corp_value(policy: Option<&str>) -> Result<&'static str, Error> {
    checked_policy(
        CORP.0,
        policy,
        CORP.1,
        &["same-origin", "same-site", "cross-origin"],
    )
}

pub(super) const REFERRER_TOKENS: [&str; 9] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
    "",
];

pub(super) fn referrer_value(tokens: &[String]) -> Result<String, Error> {
    let as_values: Vec<OptionValue> = tokens.iter().cloned().map(OptionValue::String).collect();
    check_referrer_tokens(&as_values)?;
    Ok(tokens.join(","))
}

/// helmet's `tokens.forEach` check: each token in turn must be allowed, then not repeated.
pub(super) fn check_referrer_tokens(tokens: &[OptionValue]) -> Result<(), Error> {
    if tokens.is_empty() {
        return Err(Error::invalid("Referrer-Policy received no policy tokens"));
    }
    for (i, token) in tokens.iter().enumerate() {
        let allowed = token.as_str().is_some_and(|t| REFERRER_TOKENS.contains(&t));
        if !allowed {
            return Err(Error::invalid(format!(
                "Referrer-Policy received an unexpected policy token {}",
                json_display(token)
            )));
        }
        if tokens[..i].contains(token) {
            return Err(Error::invalid(format!(
                "Referrer-Policy received a duplicate policy token {}",
                json_display(token)
            )));
        }
    }
    Ok(())
}

pub(super) fn referrer_from_option_value(value: &OptionValue) -> Result<String, Error> {
    if matches!(value, OptionValue::Null) {
        return Err(Error::invalid_type(
            "Cannot read properties of null (reading 'policy')",
        ));
    }
    match value.get("policy") {
        OptionValue::Undefined => Ok("no-referrer".to_owned()),
        OptionValue::String(s) => referrer_value(std::slice::from_ref(s)),
        OptionValue::Null => Err(Error::invalid_type(
            "Cannot read properties of null (reading 'length')",
        )),
        OptionValue::Array(items) => {
            check_referrer_tokens(items)?;
            let tokens: Vec<&str> = items.iter().filter_map(OptionValue::as_str).collect();
            Ok(tokens.join(","))
        }
        _ => Err(Error::invalid_type("tokens.forEach is not a function")),
    }
}

pub(super) fn hsts_from_option_value(
    value: &OptionValue,
) -> Result<StrictTransportSecurity, Error> {
    match value {
        OptionValue::Object(_) => {}
        // `"maxage" in value` throws for primitives.
        other => {
            let shown = other.to_js_string().unwrap_or_default();
            return Err(Error::invalid_type(format!(
                "Cannot use 'in' operator to search for 'maxage' in {shown}"
            )));
        }
    }
    if value.has("maxage") {
        return Err(Error::invalid(
            "Strict-Transport-Security received an unsupported property, `maxage`. Did you mean to pass `maxAge`?",
        ));
    }
    if value.has("includeSubdomains") {
        return Err(Error::invalid(
            "Strict-Transport-Security middleware should use `includeSubDomains` instead of `includeSubdomains`. (The correct one has an uppercase \"D\".)",
        ));
    }
    let max_age = match value.get("maxAge") {
        OptionValue::Undefined => StrictTransportSecurity::default().max_age,
        OptionValue::Number(n) => *n,
        other => return Err(max_age_error(&json_display(other))),
    };
    let include = value.get("includeSubDomains");
    Ok(StrictTransportSecurity {
        max_age,
        include_sub_domains: include.is_undefined() || include.is_truthy(),
        preload: value.get("preload").is_truthy(),
    })
}

pub(super) fn max_age_error(shown: &str) -> Error {
    Error::invalid(format!(
        "Strict-Transport-Security: {shown} is not a valid value for maxAge. Please choose a positive integer."
    ))
}

pub(super) fn hsts_value(options: &StrictTransportSecurity) -> Result<String, Error> {
    let max_age = options.max_age;
    if !(max_age >= 0.0 && max_age.is_finite()) {
        let shown = if max_age.is_finite() {
            number_to_string(max_age)
        } else {
            "null".to_owned()
        };
        return Err(max_age_error(&shown));
    }
    let mut value = format!("max-age={}", number_to_string(max_age.floor()));
    if options.include_sub_domains {
        value.push_str("; includeSubDomains");
    }
    if options.preload {
        value.push_str("; preload");
    }
    Ok(value)
}

pub(super) fn x_frame_value(action: &str) -> Result<&'static str, Error> {
    match action.to_uppercase().as_str() {
        "SAME-ORIGIN" | "SAMEORIGIN" => Ok("SAMEORIGIN"),
        "DENY" => Ok("DENY"),
        _ => Err(Error::invalid(format!(
            "X-Frame-Options received an invalid action {}",
            json_quote(action)
        ))),
    }
}

pub(super) fn xpcdp_value(policy: &str) -> Result<&'static str, Error> {
    ["none", "master-only", "by-content-type", "all"]
        .into_iter()
        .find(|p| *p == policy)
        .ok_or_else(|| xpcdp_error(&OptionValue::String(policy.to_owned())))
}

pub(super) fn xpcdp_error(policy: &OptionValue) -> Error {
    Error::invalid(format!(
        "X-Permitted-Cross-Domain-Policies does not support {}",
        json_display(policy)
    ))
}
