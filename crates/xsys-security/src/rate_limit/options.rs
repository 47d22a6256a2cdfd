//! express-rate-limit's options: defaults, aliases, and the validations it logs.

use crate::error::{Error, Warning, WarningLevel};
use crate::js::{json_stringify, number_to_string, OptionValue};

/// express-rate-limit's options (the ones decided natively) plus xypriss's store settings.
/// [`RateLimitOptions::default`] is `rateLimit()`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitOptions {
    pub window_ms: f64,
    /// `limit` (or its alias `max`).
    pub limit: f64,
    pub message: Message,
    pub status_code: u16,
    /// `X-RateLimit-*` (option `legacyHeaders`, alias `headers`).
    pub legacy_headers: bool,
    pub standard_headers: StandardHeaders,
    /// draft-8's policy name; `None` is express-rate-limit's `${limit}-in-${duration}`.
    pub identifier: Option<String>,
    /// `retryAfter` in seconds; `None` sends the seconds until the window resets.
    pub retry_after: Option<f64>,
    pub skip_successful_requests: bool,
    pub skip_failed_requests: bool,
    /// `ipv6Subnet`: IPv6 clients share a counter per network of this many bits; `None` is
    /// `false` (each address counts alone, as written).
    pub ipv6_subnet: Option<u8>,
    /// Where JS puts the info (`req.rateLimit`).
    pub request_property_name: String,
    /// xypriss: how hits are counted. Not an express-rate-limit option.
    pub algorithm: Algorithm,
    /// xypriss: the most keys held at once (see the store's eviction). Not an
    /// express-rate-limit option; MemoryStore holds any number.
    pub max_keys: usize,
    /// xypriss: counter shards (rounded up to a power of two).
    pub shards: usize,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        Self {
            window_ms: 60_000.0,
            limit: 5.0,
            message: Message::Text("Too many requests, please try again later.".to_owned()),
            status_code: 429,
            legacy_headers: true,
            standard_headers: StandardHeaders::Off,
            identifier: None,
            retry_after: None,
            skip_successful_requests: false,
            skip_failed_requests: false,
            ipv6_subnet: Some(56),
            request_property_name: "rateLimit".to_owned(),
            algorithm: Algorithm::FixedWindow,
            max_keys: 100_000,
            shards: 64,
        }
    }
}

/// The body past the limit, as `res.send(message)` treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A string: `text/html; charset=utf-8`.
    Text(String),
    /// Anything `res.send` hands to `res.json`, already serialized: `application/json`.
    Json(String),
    /// A Buffer: `application/octet-stream`.
    Bytes(Vec<u8>),
    /// `null`: an empty body without Content-Type.
    Empty,
}

/// `standardHeaders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardHeaders {
    Off,
    /// `'draft-6'` or `true`.
    Draft6,
    Draft7,
    Draft8,
    /// Any other truthy value: no standard headers (and a logged error), but it still asks for
    /// `Retry-After` past the limit, as in express-rate-limit.
    Unsupported,
}

/// How hits are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// express-rate-limit's MemoryStore: a window starts at a client's first hit and lasts
    /// `windowMs`; every hit counts, refused ones included.
    #[default]
    FixedWindow,
    /// Generic cell rate algorithm: `limit` hits per `windowMs` with no window edge to burst
    /// across; refused hits are not counted.
    Gcra,
}

/// JS functions given in the options. Their results are only known in JS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsHooks {
    /// `keyGenerator`: JS computes the key; [`super::RateLimit::hit`] takes it as
    /// [`super::ClientKey::Text`].
    pub key_generator: bool,
    /// `skip`: JS decides whether the request is counted at all.
    pub skip: bool,
    /// `handler`: JS answers past the limit.
    pub handler: bool,
    /// `requestWasSuccessful`: JS judges the response for the skip options.
    pub request_was_successful: bool,
}

impl JsHooks {
    /// Whether any decision needs JS.
    pub fn any(&self) -> bool {
        self.key_generator || self.skip || self.handler || self.request_was_successful
    }
}

const KNOWN_OPTIONS: [&str; 26] = [
    "windowMs",
    "limit",
    "message",
    "statusCode",
    "legacyHeaders",
    "standardHeaders",
    "identifier",
    "retryAfter",
    "requestPropertyName",
    "skipFailedRequests",
    "skipSuccessfulRequests",
    "keyGenerator",
    "ipv6Subnet",
    "handler",
    "skip",
    "requestWasSuccessful",
    "store",
    "validate",
    "headers",
    "max",
    "passOnStoreError",
    "logger",
    "draft_polli_ratelimit_headers",
    "delayAfter",
    "delayMs",
    "maxDelayMs",
];

/// xypriss's own options, accepted beside express-rate-limit's.
const XYPRISS_OPTIONS: [&str; 3] = ["algorithm", "maxKeys", "shards"];

const VALIDATIONS: [&str; 20] = [
    "ip",
    "trustProxy",
    "xForwardedForHeader",
    "forwardedHeader",
    "positiveHits",
    "unsharedStore",
    "singleCount",
    "limit",
    "draftPolliHeaders",
    "onLimitReached",
    "headersDraftVersion",
    "headersResetTime",
    "knownOptions",
    "validationsConfig",
    "creationStack",
    "ipv6Subnet",
    "ipv6SubnetOrKeyGenerator",
    "keyGeneratorIpFallback",
    "windowMs",
    "default",
];

/// express-rate-limit's logged validations, each at most once, unless `validate` turns it off.
struct Validations<'a> {
    validate: &'a OptionValue,
    warnings: Vec<Warning>,
}

impl Validations<'_> {
    fn enabled(&self, name: &str) -> bool {
        match self.validate {
            OptionValue::Bool(b) => *b,
            OptionValue::Object(_) => match self.validate.get(name) {
                OptionValue::Undefined | OptionValue::Null => match self.validate.get("default") {
                    OptionValue::Undefined | OptionValue::Null => true,
                    d => d.is_truthy(),
                },
                v => v.is_truthy(),
            },
            _ => true,
        }
    }

    fn report(&mut self, validation: &str, code: &'static str, message: String) {
        if !self.enabled(validation) {
            return;
        }
        let level = if code.starts_with("WRN_") {
            WarningLevel::Warn
        } else {
            WarningLevel::Error
        };
        self.warnings.push(Warning {
            code: Some(code),
            message: format!(
                "{message} See https://express-rate-limit.github.io/{code}/ for more information."
            ),
            level,
        });
    }
}

fn not_native(what: &str) -> Error {
    Error::not_native(format!(
        "express-rate-limit `{what}` of this kind is decided in JS"
    ))
}

/// `rateLimit(options)`'s `parseOptions`: the typed options, the warnings it logs at setup
/// (and the ones it would log at the first request, which depend only on the options), and the
/// JS functions found.
pub(super) fn from_option_value(
    passed: &OptionValue,
) -> Result<(RateLimitOptions, Vec<Warning>, JsHooks), Error> {
    let props: &[(String, OptionValue)] = match passed {
        OptionValue::Object(props) => props,
        OptionValue::Undefined | OptionValue::Null => &[],
        _ => {
            return Err(Error::not_native(
                "rateLimit options that are not an object",
            ))
        }
    };
    // `omitUndefinedProperties`: an undefined option is an absent one.
    let get = |key: &str| -> Option<&OptionValue> {
        props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .filter(|v| !v.is_undefined())
    };
    let validate = get("validate").unwrap_or(&OptionValue::Bool(true));
    let mut v = Validations {
        validate,
        warnings: Vec::new(),
    };

    if let OptionValue::Object(entries) = validate {
        if let Some((key, _)) = entries
            .iter()
            .find(|(k, _)| !VALIDATIONS.contains(&k.as_str()))
        {
            v.report(
                "validationsConfig",
                "ERR_ERL_UNKNOWN_VALIDATION",
                format!(
                    "options.validate.{key} is not recognized. Supported validate options are: {}.",
                    VALIDATIONS.join(", ")
                ),
            );
        }
    }
    // The unknown-option check sees undefined properties too.
    if let Some((key, _)) = props.iter().find(|(k, _)| {
        !KNOWN_OPTIONS.contains(&k.as_str()) && !XYPRISS_OPTIONS.contains(&k.as_str())
    }) {
        v.report(
            "knownOptions",
            "ERR_ERL_UNKNOWN_OPTION",
            format!("Unexpected configuration option: {key}"),
        );
    }
    if get("draft_polli_ratelimit_headers").is_some_and(OptionValue::is_truthy) {
        v.report(
            "draftPolliHeaders",
            "WRN_ERL_DEPRECATED_DRAFT_POLLI_HEADERS",
            "The draft_polli_ratelimit_headers configuration option is deprecated and has been removed in express-rate-limit v7, please set standardHeaders: 'draft-6' instead.".to_owned(),
        );
    }
    if get("onLimitReached").is_some_and(OptionValue::is_truthy) {
        v.report(
            "onLimitReached",
            "WRN_ERL_DEPRECATED_ON_LIMIT_REACHED",
            "The onLimitReached configuration option is deprecated and has been removed in express-rate-limit v7.".to_owned(),
        );
    }

    let mut hooks = JsHooks::default();
    let ipv6_subnet = match get("ipv6Subnet") {
        None => Some(56),
        Some(OptionValue::Bool(false)) => None,
        Some(OptionValue::Function) => return Err(not_native("ipv6Subnet")),
        Some(value) => {
            let in_range = matches!(value, OptionValue::Number(n) if n.fract() == 0.0 && (32.0..=64.0).contains(n));
            if !in_range {
                let shown = value.to_js_string().unwrap_or_default();
                v.report(
                    "ipv6Subnet",
                    "ERR_ERL_IPV6_SUBNET",
                    format!("Unexpected ipv6Subnet value: {shown}. Expected an integer between 32 and 64 (usually 48-64)."),
                );
            }
            match value {
                // `if (ipv6Subnet)`: 0 keys by the address itself.
                OptionValue::Number(n) if *n == 0.0 => None,
                OptionValue::Number(n) if n.fract() == 0.0 && (1.0..=128.0).contains(n) => {
                    Some(*n as u8)
                }
                // ip-address throws on each IPv6 request for other prefixes.
                _ => return Err(not_native("ipv6Subnet")),
            }
        }
    };
    match get("keyGenerator") {
        None => {}
        Some(OptionValue::Function) => {
            hooks.key_generator = true;
            if get("ipv6Subnet").is_some() {
                v.report(
                    "ipv6SubnetOrKeyGenerator",
                    "ERR_ERL_IPV6SUBNET_OR_KEYGENERATOR",
                    "Incompatible options: the 'ipv6Subnet' option is ignored when a custom 'keyGenerator' function is also set.".to_owned(),
                );
            }
        }
        Some(_) => return Err(not_native("keyGenerator")),
    }
    for (name, flag) in [
        ("skip", &mut hooks.skip),
        ("handler", &mut hooks.handler),
        ("requestWasSuccessful", &mut hooks.request_was_successful),
    ] {
        match get(name) {
            None => {}
            Some(OptionValue::Function) => *flag = true,
            Some(_) => return Err(not_native(name)),
        }
    }
    if get("store").is_some() {
        return Err(Error::not_native(
            "a custom express-rate-limit store stays in JS",
        ));
    }

    let window_ms = match get("windowMs") {
        None => 60_000.0,
        Some(OptionValue::Number(n)) => *n,
        Some(_) => return Err(not_native("windowMs")),
    };
    // MemoryStore's init validates windowMs.
    if !(window_ms >= 1.0 && window_ms <= f64::from(i32::MAX)) {
        v.report(
            "windowMs",
            "ERR_ERL_WINDOW_MS",
            format!(
                "Invalid windowMs value: {}, must be a number between 1 and {} when using the default MemoryStore",
                number_to_string(window_ms),
                i32::MAX
            ),
        );
    }

    // `limit: max ?? 5`, then a defined `limit` wins.
    let limit = match get("limit").or_else(|| get("max").and_then(OptionValue::defined)) {
        None => 5.0,
        Some(OptionValue::Number(n)) => *n,
        Some(_) => return Err(not_native("limit")),
    };
    // Logged at the first request in JS; it depends only on the option.
    if limit == 0.0 {
        v.report(
            "limit",
            "WRN_ERL_MAX_ZERO",
            "Setting limit or max to 0 disables rate limiting in express-rate-limit v6 and older, but will cause all requests to be blocked in v7".to_owned(),
        );
    }

    let message = match get("message") {
        None => RateLimitOptions::default().message,
        Some(OptionValue::String(s)) => Message::Text(s.clone()),
        Some(OptionValue::Null) => Message::Empty,
        Some(OptionValue::Bytes(b)) => Message::Bytes(b.clone()),
        Some(OptionValue::Function | OptionValue::Symbol(_)) => return Err(not_native("message")),
        Some(other) => Message::Json(json_stringify(other).ok_or_else(|| not_native("message"))?),
    };

    let status_code = match get("statusCode") {
        None => 429,
        Some(OptionValue::Number(n)) if n.fract() == 0.0 && (100.0..=999.0).contains(n) => {
            *n as u16
        }
        Some(_) => return Err(not_native("statusCode")),
    };

    let legacy_headers = match get("legacyHeaders") {
        Some(v) => v.is_truthy(),
        None => get("headers")
            .and_then(OptionValue::defined)
            .is_none_or(OptionValue::is_truthy),
    };

    let standard_headers = match get("standardHeaders").and_then(OptionValue::defined) {
        None => StandardHeaders::Off,
        Some(OptionValue::Bool(true)) => StandardHeaders::Draft6,
        Some(OptionValue::String(s)) if s == "draft-6" => StandardHeaders::Draft6,
        Some(OptionValue::String(s)) if s == "draft-7" => StandardHeaders::Draft7,
        Some(OptionValue::String(s)) if s == "draft-8" => StandardHeaders::Draft8,
        Some(other) if other.is_truthy() => {
            // Logged at the first request in JS.
            v.report(
                "headersDraftVersion",
                "ERR_ERL_HEADERS_UNSUPPORTED_DRAFT_VERSION",
                "standardHeaders: only the following versions of the IETF draft specification are supported: draft-6, draft-7, draft-8.".to_owned(),
            );
            StandardHeaders::Unsupported
        }
        Some(_) => StandardHeaders::Off,
    };

    let identifier = match get("identifier") {
        None => None,
        Some(OptionValue::Function) => return Err(not_native("identifier")),
        Some(other) => Some(
            other
                .to_js_string()
                .ok_or_else(|| not_native("identifier"))?,
        ),
    };

    let retry_after = match get("retryAfter") {
        None => None,
        Some(OptionValue::Number(n)) => Some(*n),
        Some(_) => return Err(not_native("retryAfter")),
    };

    let request_property_name = match get("requestPropertyName") {
        None => "rateLimit".to_owned(),
        Some(OptionValue::String(s)) => s.clone(),
        Some(_) => return Err(not_native("requestPropertyName")),
    };

    let defaults = RateLimitOptions::default();
    let algorithm = match get("algorithm") {
        None => Algorithm::FixedWindow,
        Some(OptionValue::String(s)) if s == "fixed-window" => Algorithm::FixedWindow,
        Some(OptionValue::String(s)) if s == "gcra" => Algorithm::Gcra,
        Some(other) => {
            return Err(Error::invalid(format!(
                "rateLimit: algorithm must be 'fixed-window' or 'gcra', not {}",
                crate::js::json_display(other)
            )))
        }
    };
    let count = |name: &str, default: usize| -> Result<usize, Error> {
        match get(name) {
            None => Ok(default),
            Some(OptionValue::Number(n)) if n.fract() == 0.0 && *n >= 1.0 => Ok(*n as usize),
            Some(other) => Err(Error::invalid(format!(
                "rateLimit: {name} must be a positive integer, not {}",
                crate::js::json_display(other)
            ))),
        }
    };

    Ok((
        RateLimitOptions {
            window_ms,
            limit,
            message,
            status_code,
            legacy_headers,
            standard_headers,
            identifier,
            retry_after,
            skip_successful_requests: get("skipSuccessfulRequests")
                .is_some_and(OptionValue::is_truthy),
            skip_failed_requests: get("skipFailedRequests").is_some_and(OptionValue::is_truthy),
            ipv6_subnet,
            request_property_name,
            algorithm,
            max_keys: count("maxKeys", defaults.max_keys)?,
            shards: count("shards", defaults.shards)?,
        },
        v.warnings,
        hooks,
    ))
}
