//! The `cors` package (2.8): which Access-Control-* headers a request gets, and the whole
//! answer to a preflight.
//!
//! Everything that does not depend on the request is prepared once; a decision is a method
//! comparison, at most a few origin comparisons, and cloning prepared headers.

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderValue, ACCESS_CONTROL_REQUEST_HEADERS, ORIGIN};

use crate::error::Error;
use crate::header::Header;
use crate::js::{joined_header, latin1_header_value, number_to_string, OptionValue};
use crate::regexp::JsRegExp;

/// cors's options after its defaults are applied. [`CorsOptions::default`] is `cors()`.
#[derive(Debug, Clone, PartialEq)]
pub struct CorsOptions {
    pub origin: Origin,
    /// `Access-Control-Allow-Methods` (an array is joined with `,`); empty sends none.
    pub methods: String,
    pub allowed_headers: AllowedHeaders,
    /// `Access-Control-Expose-Headers` (joined with `,`); empty sends none.
    pub exposed_headers: String,
    /// `credentials === true`.
    pub credentials: bool,
    /// `Access-Control-Max-Age`, as `maxAge.toString()`; `None` sends none.
    pub max_age: Option<String>,
    /// Let the preflight go on to the next handler instead of answering it.
    pub preflight_continue: bool,
    pub options_success_status: u16,
}

impl Default for CorsOptions {
    fn default() -> Self {
        Self {
            origin: Origin::Any,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".to_owned(),
            allowed_headers: AllowedHeaders::Reflect,
            exposed_headers: String::new(),
            credentials: false,
            max_age: None,
            preflight_continue: false,
            options_success_status: 204,
        }
    }
}

/// cors's `origin`.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A falsy `origin`: cors passes every request on untouched.
    Disabled,
    /// `'*'` (the default).
    Any,
    /// Any other string: sent as is, whatever the request's Origin.
    Fixed(String),
    /// `true`, a RegExp or an array: the request's Origin is sent back when it matches.
    Allowed(OriginMatcher),
}

/// How cors's `isOriginAllowed` judges the request's Origin.
#[derive(Debug, Clone, PartialEq)]
pub enum OriginMatcher {
    /// A string: exact, case-sensitive equality.
    Exact(String),
    /// A RegExp: `test()` on the Origin (on `"undefined"` when there is none, as in JS).
    Pattern(JsRegExp),
    /// Any other truthy value (`true`).
    Always,
    /// Any other falsy value inside an array.
    Never,
    /// An array: any element allows.
    AnyOf(Vec<OriginMatcher>),
}

/// cors's `allowedHeaders` (or its alias `headers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHeaders {
    /// Unset (falsy): send back the request's Access-Control-Request-Headers and vary on it.
    Reflect,
    /// Given (an array is joined with `,`); empty sends none.
    List(String),
}

/// What cors does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsDecision {
    /// The request goes on untouched (origin disabled).
    Pass,
    /// Set these headers (in order; `Vary` as if the response had none yet, see
    /// [`crate::vary::append`] otherwise) and go on to the next handler.
    Continue(Vec<Header>),
    /// Answer the preflight now: this status, these headers (ending with `Content-Length: 0`)
    /// and an empty body.
    Respond { status: u16, headers: Vec<Header> },
}

/// The compiled stage.
#[derive(Debug, Clone)]
pub struct Cors {
    origin: CompiledOrigin,
    credentials: Option<Header>,
    methods: Option<Header>,
    allowed_headers: Option<Option<Header>>,
    max_age: Option<Header>,
    exposed_headers: Option<Header>,
    preflight_continue: bool,
    status: u16,
}

#[derive(Debug, Clone)]
enum CompiledOrigin {
    Disabled,
    Any,
    Fixed(Header),
    Allowed(Matcher),
}

#[derive(Debug, Clone)]
enum Matcher {
    /// The string as Latin-1 bytes (how a header value compares with it in JS); `None` for a
    /// string with a character beyond U+00FF, which no header value can equal.
    Exact(Option<Vec<u8>>),
    Pattern(JsRegExp),
    Constant(bool),
    AnyOf(Vec<Matcher>),
}

impl Matcher {
    fn new(matcher: &OriginMatcher) -> Matcher {
        match matcher {
            OriginMatcher::Exact(s) => Matcher::Exact(latin1_bytes(s)),
            OriginMatcher::Pattern(r) => Matcher::Pattern(r.clone()),
            OriginMatcher::Always => Matcher::Constant(true),
            OriginMatcher::Never => Matcher::Constant(false),
            OriginMatcher::AnyOf(items) => Matcher::AnyOf(items.iter().map(Matcher::new).collect()),
        }
    }

    /// `isOriginAllowed(req.headers.origin, allowed)`; `None` is an absent header.
    fn allows(&self, origin: Option<&[u8]>) -> bool {
        match self {
            Matcher::Exact(expected) => {
                matches!((expected, origin), (Some(e), Some(o)) if e.as_slice() == o)
            }
            // `RegExp#test(undefined)` tests the string "undefined".
            Matcher::Pattern(r) => r.test(origin.unwrap_or(b"undefined")),
            Matcher::Constant(allowed) => *allowed,
            Matcher::AnyOf(items) => items.iter().any(|m| m.allows(origin)),
        }
    }
}

fn latin1_bytes(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

// The headers cors sets whatever the options, ready to push (no name lookup per request).
const ANY_ORIGIN: Header = Header::constant(
    "Access-Control-Allow-Origin",
    "access-control-allow-origin",
    "*",
);
const VARY_ORIGIN: Header = Header::constant("Vary", "vary", "Origin");
const VARY_REQUEST_HEADERS: Header =
    Header::constant("Vary", "vary", "Access-Control-Request-Headers");
const VARY_ORIGIN_AND_REQUEST_HEADERS: Header =
    Header::constant("Vary", "vary", "Origin, Access-Control-Request-Headers");
const NO_CONTENT_LENGTH: Header = Header::constant("Content-Length", "content-length", "0");

impl Cors {
    pub fn new(options: &CorsOptions) -> Result<Cors, Error> {
        let origin = match &options.origin {
            Origin::Disabled => CompiledOrigin::Disabled,
            Origin::Any => CompiledOrigin::Any,
            Origin::Fixed(s) if s == "*" => CompiledOrigin::Any,
            // An empty string is falsy, which disables cors.
            Origin::Fixed(s) if s.is_empty() => CompiledOrigin::Disabled,
            Origin::Fixed(s) => match header("Access-Control-Allow-Origin", s)? {
                Some(h) => CompiledOrigin::Fixed(h),
                None => CompiledOrigin::Disabled,
            },
            Origin::Allowed(m) => CompiledOrigin::Allowed(Matcher::new(m)),
        };
        if !(100..=999).contains(&options.options_success_status) {
            return Err(Error::not_native(format!(
                "optionsSuccessStatus {} is not a status Node can send",
                options.options_success_status
            )));
        }
        Ok(Cors {
            origin,
            credentials: options
                .credentials
                .then(|| Header::fixed("Access-Control-Allow-Credentials", "true")),
            methods: header("Access-Control-Allow-Methods", &options.methods)?,
            allowed_headers: match &options.allowed_headers {
                AllowedHeaders::Reflect => None,
                AllowedHeaders::List(list) => Some(header("Access-Control-Allow-Headers", list)?),
            },
            max_age: match &options.max_age {
                Some(age) => header("Access-Control-Max-Age", age)?,
                None => None,
            },
            exposed_headers: header("Access-Control-Expose-Headers", &options.exposed_headers)?,
            preflight_continue: options.preflight_continue,
            status: options.options_success_status,
        })
    }

    /// `cors(options)` for options as JS passed them.
    pub fn from_option_value(options: &OptionValue) -> Result<Cors, Error> {
        Cors::new(&CorsOptions::from_option_value(options)?)
    }

    /// Whether the stage ever touches a request (a falsy `origin` makes cors a no-op).
    pub fn is_enabled(&self) -> bool {
        !matches!(self.origin, CompiledOrigin::Disabled)
    }

    /// What cors does with a request with this method and these headers.
    pub fn decide(&self, method: &str, request: &HeaderMap) -> CorsDecision {
        if !self.is_enabled() {
            return CorsDecision::Pass;
        }
        // cors upper-cases the method; every OPTIONS request counts as a preflight.
        let preflight = method.eq_ignore_ascii_case("OPTIONS");
        let mut headers = Vec::with_capacity(if preflight { 8 } else { 4 });
        let mut vary: Option<usize> = None;
        match &self.origin {
            CompiledOrigin::Disabled => {}
            CompiledOrigin::Any => headers.push(ANY_ORIGIN),
            CompiledOrigin::Fixed(h) => {
                headers.push(h.clone());
                vary = Some(headers.len());
                headers.push(VARY_ORIGIN);
            }
            CompiledOrigin::Allowed(matcher) => {
                let origin = joined_header(request, &ORIGIN);
                if matcher.allows(origin.as_deref()) {
                    // An empty Origin is falsy: no header, as in cors.
                    if let Some(value) = origin.filter(|o| !o.is_empty()) {
                        headers.push(reflected(
                            "Access-Control-Allow-Origin",
                            request,
                            &ORIGIN,
                            value,
                        ));
                    }
                }
                vary = Some(headers.len());
                headers.push(VARY_ORIGIN);
            }
        }
        if let Some(h) = &self.credentials {
            headers.push(h.clone());
        }
        if !preflight {
            if let Some(h) = &self.exposed_headers {
                headers.push(h.clone());
            }
            return CorsDecision::Continue(headers);
        }
        if let Some(h) = &self.methods {
            headers.push(h.clone());
        }
        match &self.allowed_headers {
            Some(h) => headers.extend(h.iter().cloned()),
            None => {
                match vary {
                    Some(at) => headers[at] = VARY_ORIGIN_AND_REQUEST_HEADERS,
                    None => headers.push(VARY_REQUEST_HEADERS),
                }
                if let Some(value) = joined_header(request, &ACCESS_CONTROL_REQUEST_HEADERS)
                    .filter(|v| !v.is_empty())
                {
                    headers.push(reflected(
                        "Access-Control-Allow-Headers",
                        request,
                        &ACCESS_CONTROL_REQUEST_HEADERS,
                        value,
                    ));
                }
            }
        }
        if let Some(h) = &self.max_age {
            headers.push(h.clone());
        }
        if let Some(h) = &self.exposed_headers {
            headers.push(h.clone());
        }
        if self.preflight_continue {
            return CorsDecision::Continue(headers);
        }
        // Safari needs Content-Length: 0 on the 204 (cors sets it explicitly).
        headers.push(NO_CONTENT_LENGTH);
        CorsDecision::Respond {
            status: self.status,
            headers,
        }
    }
}

/// A request header's value sent back: the request's own value when it came once (a cheap
/// clone), the `", "`-joined values otherwise, as Node's `req.headers` joins them.
fn reflected(
    name: &'static str,
    request: &HeaderMap,
    from: &http::header::HeaderName,
    value: Cow<'_, [u8]>,
) -> Header {
    let value = match value {
        Cow::Borrowed(_) => request.get(from).cloned(),
        Cow::Owned(joined) => HeaderValue::from_bytes(&joined).ok(),
    };
    Header::new(name, value.unwrap_or_else(|| HeaderValue::from_static("")))
}

/// A header cors would set with this value: `None` when the value is empty (falsy in JS).
fn header(name: &'static str, value: &str) -> Result<Option<Header>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    let value = latin1_header_value(value).ok_or_else(|| {
        Error::not_native(format!(
            "{name} would carry a character Node refuses in a header value"
        ))
    })?;
    Ok(Some(Header::new(name, value)))
}

impl CorsOptions {
    /// `Object.assign({}, defaults, options)` and cors's reading of each option.
    pub fn from_option_value(options: &OptionValue) -> Result<CorsOptions, Error> {
        if matches!(options, OptionValue::Function) {
            return Err(Error::not_native(
                "cors options computed per request (a function) stay in JS",
            ));
        }
        let defaults = CorsOptions::default();
        // A property present with `undefined` overrides the default, as Object.assign does.
        let get = |key: &str| options.has(key).then(|| options.get(key));
        let function = |what: &str| {
            Error::not_native(format!("cors `{what}` given as a function stays in JS"))
        };

        let origin = match get("origin") {
            None => defaults.origin,
            Some(OptionValue::Function) => return Err(function("origin")),
            Some(v) if !v.is_truthy() => Origin::Disabled,
            Some(OptionValue::String(s)) if s == "*" => Origin::Any,
            Some(OptionValue::String(s)) => Origin::Fixed(s.clone()),
            Some(v) => Origin::Allowed(origin_matcher(v)?),
        };

        let methods = match get("methods") {
            None => defaults.methods,
            Some(OptionValue::Function) => return Err(function("methods")),
            Some(OptionValue::Undefined | OptionValue::Null) => {
                // `methods.join` throws on every preflight.
                return Err(Error::not_native(
                    "cors `methods` set to undefined or null fails every preflight in JS",
                ));
            }
            Some(v) => js_header_text(v)?,
        };

        let allowed = match get("allowedHeaders").filter(|v| v.is_truthy()) {
            Some(v) => Some(v),
            None => get("headers").filter(|v| v.is_truthy()),
        };
        let allowed_headers = match allowed {
            None => AllowedHeaders::Reflect,
            Some(v) => AllowedHeaders::List(list_with_length(v, "allowedHeaders")?),
        };

        let exposed_headers = match get("exposedHeaders").filter(|v| v.is_truthy()) {
            None => String::new(),
            Some(v) => list_with_length(v, "exposedHeaders")?,
        };

        let max_age = match get("maxAge") {
            None => None,
            Some(OptionValue::Number(n)) => Some(number_to_string(*n)),
            Some(OptionValue::Function) => return Err(function("maxAge")),
            Some(v) if v.is_truthy() => Some(js_header_text(v)?),
            Some(_) => None,
        };

        let options_success_status = match get("optionsSuccessStatus") {
            None => defaults.options_success_status,
            Some(v) => status_code(v)?,
        };

        Ok(CorsOptions {
            origin,
            methods,
            allowed_headers,
            exposed_headers,
            credentials: matches!(get("credentials"), Some(OptionValue::Bool(true))),
            max_age,
            preflight_continue: get("preflightContinue").is_some_and(OptionValue::is_truthy),
            options_success_status,
        })
    }
}

fn origin_matcher(value: &OptionValue) -> Result<OriginMatcher, Error> {
    Ok(match value {
        OptionValue::Array(items) => {
            OriginMatcher::AnyOf(items.iter().map(origin_matcher).collect::<Result<_, _>>()?)
        }
        OptionValue::String(s) => OriginMatcher::Exact(s.clone()),
        OptionValue::RegExp { source, flags } => {
            OriginMatcher::Pattern(JsRegExp::new(source, flags)?)
        }
        // A function inside an array is truthy (not called), like any other object.
        v if v.is_truthy() => OriginMatcher::Always,
        _ => OriginMatcher::Never,
    })
}

/// What `res.setHeader(name, value)` sends for a value cors passes through unchanged: an
/// array joined with `,`, a primitive as `String(value)`; falsy values send nothing.
fn js_header_text(value: &OptionValue) -> Result<String, Error> {
    if !value.is_truthy() {
        return Ok(String::new());
    }
    match value {
        OptionValue::Object(_) => Ok("[object Object]".to_owned()),
        v => v.to_js_string().ok_or_else(|| {
            Error::not_native("a cors header value that only JS can turn into text")
        }),
    }
}

/// cors's `value.join ? value.join(',') : value`, then `value && value.length`: strings and
/// arrays; anything without a `length` sends nothing.
fn list_with_length(value: &OptionValue, what: &str) -> Result<String, Error> {
    match value {
        OptionValue::String(s) => Ok(s.clone()),
        OptionValue::Array(_) => js_header_text(value),
        OptionValue::Function | OptionValue::Bytes(_) => Err(Error::not_native(format!(
            "cors `{what}` of this type stays in JS"
        ))),
        _ => Ok(String::new()),
    }
}

/// `res.statusCode = value`, as Node's writeHead reads it (`value | 0`, then 100-999).
fn status_code(value: &OptionValue) -> Result<u16, Error> {
    let number = match value {
        OptionValue::Number(n) => Some(*n),
        OptionValue::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    number
        .filter(|n| n.is_finite())
        .map(|n| n.trunc())
        .filter(|n| (100.0..=999.0).contains(n))
        .map(|n| n as u16)
        .ok_or_else(|| {
            Error::not_native(
                "this optionsSuccessStatus makes Node throw on every preflight; it stays in JS",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(o).expect("valid"));
        }
        h
    }

    #[test]
    fn default_simple_request_allows_any_origin() {
        let cors = Cors::new(&CorsOptions::default()).expect("valid");
        match cors.decide("GET", &request(Some("https://a.example"))) {
            CorsDecision::Continue(h) => {
                assert_eq!(h.len(), 1);
                assert_eq!(h[0].cased_name, "Access-Control-Allow-Origin");
                assert_eq!(h[0].value, "*");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listed_origins_are_reflected_and_others_are_not() {
        let cors = Cors::new(&CorsOptions {
            origin: Origin::Allowed(OriginMatcher::AnyOf(vec![
                OriginMatcher::Exact("https://a.example".into()),
                OriginMatcher::Pattern(JsRegExp::new(r"\.b\.example$", "").expect("ok")),
            ])),
            ..CorsOptions::default()
        })
        .expect("valid");
        for (origin, allowed) in [
            ("https://a.example", true),
            ("https://x.b.example", true),
            ("https://a.example.evil", false),
        ] {
            let CorsDecision::Continue(h) = cors.decide("GET", &request(Some(origin))) else {
                panic!("continue")
            };
            let acao = h
                .iter()
                .find(|h| h.cased_name == "Access-Control-Allow-Origin");
            assert_eq!(
                acao.map(|h| h.value.as_bytes()),
                allowed.then_some(origin.as_bytes())
            );
            assert!(h
                .iter()
                .any(|h| h.cased_name == "Vary" && h.value == "Origin"));
        }
    }
}
