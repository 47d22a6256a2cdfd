//! helmet's `contentSecurityPolicy`: defaults, directive names, value validation, header text.

use crate::error::Error;
use crate::js::{json_display, json_quote, OptionValue};

/// Options of `helmet.contentSecurityPolicy(options)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentSecurityPolicy {
    /// Start from helmet's default directives (`useDefaults`, default `true`).
    pub use_defaults: bool,
    /// Directives in the order given, names as given (`scriptSrc` or `script-src`).
    pub directives: Vec<(String, DirectiveValue)>,
    /// Send `Content-Security-Policy-Report-Only` instead.
    pub report_only: bool,
}

impl Default for ContentSecurityPolicy {
    fn default() -> Self {
        Self {
            use_defaults: true,
            directives: Vec::new(),
            report_only: false,
        }
    }
}

/// One directive's value as given in `directives`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectiveValue {
    /// `null`: drop the directive (a default one included).
    Remove,
    /// A string or a list of strings, sent space-separated.
    Values(Vec<String>),
    /// `helmet.contentSecurityPolicy.dangerouslyDisableDefaultSrc` (only valid for `default-src`).
    DangerouslyDisableDefaultSrc,
}

/// Values helmet refuses unquoted: the keyword is only a keyword with its quotes.
const SHOULD_BE_QUOTED: [&str; 9] = [
    "none",
    "self",
    "strict-dynamic",
    "report-sample",
    "inline-speculation-rules",
    "unsafe-inline",
    "unsafe-eval",
    "unsafe-hashes",
    "wasm-unsafe-eval",
];

/// helmet 8's `getDefaultDirectives()`, in its order.
pub const DEFAULT_DIRECTIVES: [(&str, &[&str]); 11] = [
    ("default-src", &["'self'"]),
    ("base-uri", &["'self'"]),
    ("font-src", &["'self'", "https:", "data:"]),
    ("form-action", &["'self'"]),
    ("frame-ancestors", &["'self'"]),
    ("img-src", &["'self'", "data:"]),
    ("object-src", &["'none'"]),
    ("script-src", &["'self'"]),
    ("script-src-attr", &["'none'"]),
    ("style-src", &["'self'", "https:", "'unsafe-inline'"]),
    ("upgrade-insecure-requests", &[]),
];

impl ContentSecurityPolicy {
    /// The header name and value helmet sets, or helmet's error.
    pub(crate) fn header(&self) -> Result<(&'static str, String), Error> {
        let name = if self.report_only {
            "Content-Security-Policy-Report-Only"
        } else {
            "Content-Security-Policy"
        };
        Ok((name, self.value()?))
    }

    fn value(&self) -> Result<String, Error> {
        build_value(
            self.use_defaults,
            self.directives.iter().map(|(n, v)| (n.as_str(), Ok(v))),
        )
    }
}

/// What a JS directive value is when it is not a usable [`DirectiveValue`]; reported where helmet
/// reports it, after the directive's name has been checked.
#[derive(Debug, Clone, Copy)]
enum BadValue {
    Falsy,
    NotIterable,
    PerRequest,
}

fn build_value<'a>(
    use_defaults: bool,
    directives: impl Iterator<Item = (&'a str, Result<&'a DirectiveValue, BadValue>)>,
) -> Result<String, Error> {
    // An insertion-ordered map: a directive set again keeps its place, as in a JS Map.
    let mut result: Vec<(String, Vec<String>)> = if use_defaults {
        DEFAULT_DIRECTIVES
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    } else {
        Vec::new()
    };
    let mut disabled_default_src = false;
    let mut seen: Vec<String> = Vec::new();
    for (raw_name, raw_value) in directives {
        let name = parse_directive_name(raw_name)?;
        if seen.contains(&name) {
            return Err(Error::invalid(format!(
                "Content-Security-Policy received a duplicate directive {}",
                json_quote(&name)
            )));
        }
        seen.push(name.clone());
        let raw_value = match raw_value {
                Ok(value) => value,
                Err(BadValue::Falsy) => return Err(invalid_value(&name)),
                Err(BadValue::NotIterable) => {
                    return Err(Error::invalid_type("directiveValue is not iterable"))
                }
                Err(BadValue::PerRequest) => {
                    return Err(Error::not_native(format!(
                        "Content-Security-Policy directive {} has a value computed per request; it stays in JS",
                        json_quote(&name)
                    )))
                }
            };
        let values = match raw_value {
            DirectiveValue::Remove => {
                if name == "default-src" {
                    return Err(Error::invalid(
                            "Content-Security-Policy needs a default-src but it was set to `null`. If you really want to disable it, set it to `contentSecurityPolicy.dangerouslyDisableDefaultSrc`.",
                        ));
                }
                result.retain(|(n, _)| *n != name);
                continue;
            }
            DirectiveValue::DangerouslyDisableDefaultSrc => {
                if name == "default-src" {
                    disabled_default_src = true;
                    result.retain(|(n, _)| *n != name);
                    continue;
                }
                return Err(Error::invalid(format!(
                        "Content-Security-Policy: tried to disable {} as if it were default-src; simply omit the key",
                        json_quote(&name)
                    )));
            }
            DirectiveValue::Values(values) => values,
        };
        for value in values {
            validate_value(&name, value)?;
            validate_entry(&name, value)?;
        }
        match result.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = values.clone(),
            None => result.push((name, values.clone())),
        }
    }
    if result.is_empty() {
        return Err(Error::invalid(
            "Content-Security-Policy has no directives. Either set some or disable the header",
        ));
    }
    if !disabled_default_src && !result.iter().any(|(n, _)| n == "default-src") {
        return Err(Error::invalid(
                "Content-Security-Policy needs a default-src but none was provided. If you really want to disable it, set it to `contentSecurityPolicy.dangerouslyDisableDefaultSrc`.",
            ));
    }
    let mut out = String::new();
    for (name, values) in &result {
        if !out.is_empty() {
            out.push(';');
        }
        let joined = values.join(" ");
        out.push_str(name);
        // helmet tests the joined text's truthiness: `[""]` gives the bare name.
        if !joined.is_empty() {
            out.push(' ');
            out.push_str(&joined);
        }
    }
    Ok(out)
}

impl ContentSecurityPolicy {
    /// The header `helmet.contentSecurityPolicy(options)` sets, read from JS options with
    /// helmet's checks in helmet's order.
    pub(crate) fn header_from_option_value(
        options: &OptionValue,
    ) -> Result<(&'static str, String), Error> {
        if matches!(options, OptionValue::Null) {
            return Err(Error::invalid_type(
                "Cannot read properties of null (reading 'reportOnly')",
            ));
        }
        let name = if options.get("reportOnly").is_truthy() {
            "Content-Security-Policy-Report-Only"
        } else {
            "Content-Security-Policy"
        };
        let use_defaults = match options.get("useDefaults") {
            OptionValue::Undefined => true,
            other => other.is_truthy(),
        };
        let props: &[(String, OptionValue)] = match options.get("directives") {
            OptionValue::Object(props) => props,
            // `for...in` over a string or an array visits index keys, which are invalid names.
            OptionValue::String(s) if !s.is_empty() => return Err(invalid_name("0")),
            OptionValue::Array(items) if !items.is_empty() => return Err(invalid_name("0")),
            _ => &[],
        };
        let converted: Vec<(&str, Result<DirectiveValue, BadValue>)> = props
            .iter()
            .map(|(name, value)| (name.as_str(), directive_value(value)))
            .collect();
        let value = build_value(
            use_defaults,
            converted
                .iter()
                .map(|(name, value)| (*name, value.as_ref().map_err(|bad| *bad))),
        )?;
        Ok((name, value))
    }
}

fn directive_value(value: &OptionValue) -> Result<DirectiveValue, BadValue> {
    match value {
        OptionValue::Null => Ok(DirectiveValue::Remove),
        OptionValue::String(s) => Ok(DirectiveValue::Values(vec![s.clone()])),
        OptionValue::Symbol(description) if description == "dangerouslyDisableDefaultSrc" => {
            Ok(DirectiveValue::DangerouslyDisableDefaultSrc)
        }
        OptionValue::Array(items) => items
            .iter()
            .map(|item| match item {
                OptionValue::String(s) => Ok(s.clone()),
                // helmet calls functions per request (nonces) and stringifies other
                // non-strings per request: both belong to the JS middleware.
                _ => Err(BadValue::PerRequest),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(DirectiveValue::Values),
        OptionValue::Bytes(_) => Err(BadValue::PerRequest),
        other if other.is_truthy() => Err(BadValue::NotIterable),
        _ => Err(BadValue::Falsy),
    }
}

/// helmet's name rule (`/^[a-z](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/`), then camelCase to dashes.
fn parse_directive_name(raw: &str) -> Result<String, Error> {
    let bytes = raw.as_bytes();
    let valid = !bytes.is_empty()
        && bytes[0].is_ascii_lowercase()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    if !valid {
        return Err(invalid_name(raw));
    }
    let mut name = String::with_capacity(raw.len() + 4);
    for c in raw.chars() {
        if c.is_ascii_uppercase() {
            name.push('-');
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    Ok(name)
}

fn invalid_name(raw: &str) -> Error {
    Error::invalid(format!(
        "Content-Security-Policy received an invalid directive name {}",
        json_quote(raw)
    ))
}

fn invalid_value(name: &str) -> Error {
    Error::invalid(format!(
        "Content-Security-Policy received an invalid directive value for {}",
        json_quote(name)
    ))
}

fn validate_value(name: &str, value: &str) -> Result<(), Error> {
    if value.contains([';', ',']) {
        return Err(invalid_value(name));
    }
    Ok(())
}

fn validate_entry(name: &str, value: &str) -> Result<(), Error> {
    if SHOULD_BE_QUOTED.contains(&value)
        || ["nonce-", "sha256-", "sha384-", "sha512-"]
            .iter()
            .any(|p| value.starts_with(p))
    {
        return Err(Error::invalid(format!(
            "Content-Security-Policy received an invalid directive value for {}. {} should be quoted",
            json_quote(name),
            json_display(&OptionValue::String(value.to_owned()))
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_helmets() {
        let (name, value) = ContentSecurityPolicy::default().header().expect("valid");
        assert_eq!(name, "Content-Security-Policy");
        assert_eq!(
            value,
            "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
        );
    }

    #[test]
    fn names_are_dashed_and_checked() {
        assert_eq!(
            parse_directive_name("scriptSrcAttr").ok().as_deref(),
            Some("script-src-attr")
        );
        for bad in ["", "ScriptSrc", "script-", "script src", "1a", "a_b"] {
            assert!(parse_directive_name(bad).is_err(), "{bad:?}");
        }
    }
}
