//! JavaScript values as options arrive from JS, and the few JavaScript conversions the packages
//! apply to them (truthiness, `Number#toString`, `JSON.stringify`, Latin-1 header strings).

/// An option value as the JS caller passed it.
///
/// The binding converts a JS options object into this shape without interpreting it; every
/// JavaScript rule the packages apply (truthiness, `typeof`, `in`, defaults) is applied here, so
/// it is tested here against the packages themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// An `Array` (or a `Set`, which the packages iterate the same way).
    Array(Vec<OptionValue>),
    /// A plain object's own enumerable properties, in JS property order.
    Object(Vec<(String, OptionValue)>),
    /// A `RegExp`, as its `source` and `flags`.
    RegExp {
        source: String,
        flags: String,
    },
    /// A `Buffer` or typed array.
    Bytes(Vec<u8>),
    /// A function: whatever it computes is only known in JS.
    Function,
    /// A symbol, by its description (helmet's `dangerouslyDisableDefaultSrc`).
    Symbol(String),
}

impl OptionValue {
    /// JavaScript truthiness.
    pub fn is_truthy(&self) -> bool {
        match self {
            OptionValue::Undefined | OptionValue::Null => false,
            OptionValue::Bool(b) => *b,
            OptionValue::Number(n) => !(*n == 0.0 || n.is_nan()),
            OptionValue::String(s) => !s.is_empty(),
            _ => true,
        }
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, OptionValue::Undefined)
    }

    /// `value ?? fallback`: `None` for `undefined` and `null`.
    pub fn defined(&self) -> Option<&OptionValue> {
        match self {
            OptionValue::Undefined | OptionValue::Null => None,
            other => Some(other),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            OptionValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of property `key` (`undefined` when absent), for an object.
    pub fn get(&self, key: &str) -> &OptionValue {
        match self {
            OptionValue::Object(props) => props
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&OptionValue::Undefined, |(_, v)| v),
            _ => &OptionValue::Undefined,
        }
    }

    /// `key in value`, for an object.
    pub fn has(&self, key: &str) -> bool {
        match self {
            OptionValue::Object(props) => props.iter().any(|(k, _)| k == key),
            _ => false,
        }
    }

    /// `String(value)` for the values that have an obvious one (not objects or functions).
    pub(crate) fn to_js_string(&self) -> Option<String> {
        Some(match self {
            OptionValue::Undefined => "undefined".to_owned(),
            OptionValue::Null => "null".to_owned(),
            OptionValue::Bool(b) => b.to_string(),
            OptionValue::Number(n) => number_to_string(*n),
            OptionValue::String(s) => s.clone(),
            OptionValue::RegExp { source, flags } => format!("/{source}/{flags}"),
            OptionValue::Array(items) => {
                let mut out = String::new();
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    match item {
                        OptionValue::Undefined | OptionValue::Null => {}
                        other => out.push_str(&other.to_js_string()?),
                    }
                }
                out
            }
            OptionValue::Object(_)
            | OptionValue::Bytes(_)
            | OptionValue::Function
            | OptionValue::Symbol(_) => return None,
        })
    }
}

/// Appends `Number.prototype.toString()` of `x` to `out`: an integer (a count, a limit, seconds)
/// without allocating, anything else as [`number_to_string`] writes it.
pub(crate) fn push_number(out: &mut Vec<u8>, x: f64) {
    match safe_integer(x) {
        Some(integer) => out.extend_from_slice(itoa::Buffer::new().format(integer).as_bytes()),
        None => out.extend_from_slice(number_to_string(x).as_bytes()),
    }
}

/// `x` as an integer when it is one below 2^53 (counts, limits, seconds), which JavaScript
/// prints as plain digits; 0 and -0 both give 0 (both print "0").
fn safe_integer(x: f64) -> Option<i64> {
    (x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0).then_some(x as i64)
}

/// `Number.prototype.toString()` (radix 10): the shortest digits that round-trip, in JavaScript's
/// layout (plain up to 21 integer digits, exponent form beyond, `0.000001` down to 1e-7).
pub fn number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if let Some(integer) = safe_integer(x) {
        return integer.to_string();
    }
    // Rust's `{:e}` prints the shortest round-tripping digits, as ECMAScript's Number::toString.
    let scientific = format!("{:e}", x.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exponent + 1;
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let e = n - 1;
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&e.unsigned_abs().to_string());
    }
    out
}

/// `JSON.stringify(string)`.
pub fn json_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `JSON.stringify(value)` with no replacer or indentation; `None` where JavaScript returns
/// `undefined` (undefined, functions, symbols).
pub fn json_stringify(value: &OptionValue) -> Option<String> {
    Some(match value {
        OptionValue::Undefined | OptionValue::Function | OptionValue::Symbol(_) => return None,
        OptionValue::Null => "null".to_owned(),
        OptionValue::Bool(b) => b.to_string(),
        OptionValue::Number(n) if n.is_finite() => number_to_string(*n),
        OptionValue::Number(_) => "null".to_owned(),
        OptionValue::String(s) => json_quote(s),
        OptionValue::RegExp { .. } => "{}".to_owned(),
        OptionValue::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| json_stringify(v).unwrap_or_else(|| "null".to_owned()))
                .collect();
            format!("[{}]", parts.join(","))
        }
        OptionValue::Object(props) => {
            let parts: Vec<String> = props
                .iter()
                .filter_map(|(k, v)| Some(format!("{}:{}", json_quote(k), json_stringify(v)?)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        // A Buffer's toJSON.
        OptionValue::Bytes(bytes) => {
            let data: Vec<String> = bytes.iter().map(u8::to_string).collect();
            format!("{{\"type\":\"Buffer\",\"data\":[{}]}}", data.join(","))
        }
    })
}

/// `${JSON.stringify(value)}` as it appears in the packages' messages (`undefined` included).
pub(crate) fn json_display(value: &OptionValue) -> String {
    json_stringify(value).unwrap_or_else(|| "undefined".to_owned())
}

/// A header value as Node writes a JS string: one byte per character, which must be a tab or
/// in 0x20-0x7E or 0x80-0xFF (Node's `setHeader` throws `ERR_INVALID_CHAR` otherwise).
pub fn latin1_header_value(s: &str) -> Option<http::HeaderValue> {
    if s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return http::HeaderValue::from_str(s).ok();
    }
    let mut bytes = Vec::with_capacity(s.len());
    for c in s.chars() {
        let code = c as u32;
        if code == 0x09 || (0x20..0x7f).contains(&code) || (0x80..=0xff).contains(&code) {
            bytes.push(code as u8);
        } else {
            return None;
        }
    }
    http::HeaderValue::from_bytes(&bytes).ok()
}

/// A request header's bytes as Node's parser hands them to JS: one character per byte.
pub fn latin1_decode(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // ASCII bytes are valid UTF-8 with the same characters.
        return String::from_utf8_lossy(bytes).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `req.headers[name]` for a header Node joins with `", "` when repeated (Origin,
/// Access-Control-Request-Headers and every other header outside Node's short list of
/// single-valued ones), as raw bytes; `None` when absent.
pub fn joined_header<'a>(
    headers: &'a http::HeaderMap,
    name: &http::header::HeaderName,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(std::borrow::Cow::Borrowed(first.as_bytes()));
    };
    let mut joined = Vec::with_capacity(first.len() + second.len() + 2);
    joined.extend_from_slice(first.as_bytes());
    for value in std::iter::once(second).chain(values) {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(value.as_bytes());
    }
    Some(std::borrow::Cow::Owned(joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (x, js) in [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (31536000.0, "31536000"),
            (2.5e300, "2.5e+300"),
            (-0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (1.0 / 3.0, "0.3333333333333333"),
            (60.5, "60.5"),
            (-42.0, "-42"),
            (9_007_199_254_740_991.0, "9007199254740991"),
            (9_007_199_254_740_992.0, "9007199254740992"),
        ] {
            assert_eq!(number_to_string(x), js, "{x:e}");
            let mut pushed = b"x".to_vec();
            push_number(&mut pushed, x);
            assert_eq!(pushed, format!("x{js}").as_bytes(), "{x:e}");
        }
    }

    #[test]
    fn strings_quote_as_json_stringify() {
        assert_eq!(json_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn header_values_are_latin1() {
        assert_eq!(
            latin1_header_value("café").map(|v| v.as_bytes().to_vec()),
            Some(b"caf\xe9".to_vec())
        );
        assert!(latin1_header_value("€").is_none());
        assert!(latin1_header_value("a\nb").is_none());
        assert_eq!(latin1_decode(b"caf\xe9"), "café");
    }
}
