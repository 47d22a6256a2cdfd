//! The `vary` package's `append(header, field)`, which cors uses for `Vary: Origin` and
//! `Vary: Access-Control-Request-Headers`.

/// `vary.append(header, field)`: `field`'s names added to the `Vary` value `header` unless
/// present (compared case-insensitively), `*` absorbing everything. `None` where `vary` throws
/// (a field that is not a header name).
pub fn append(header: &str, field: &str) -> Option<String> {
    let fields = parse(field);
    if !fields.iter().all(|f| is_field_name(f)) {
        return None;
    }
    if header == "*" {
        return Some(header.to_owned());
    }
    let lower = header.to_lowercase();
    let mut values: Vec<String> = parse(&lower).into_iter().map(str::to_owned).collect();
    if fields.contains(&"*") || values.iter().any(|v| v == "*") {
        return Some("*".to_owned());
    }
    let mut out = header.to_owned();
    for field in fields {
        let lower = field.to_lowercase();
        if !values.contains(&lower) {
            values.push(lower);
            if out.is_empty() {
                out.push_str(field);
            } else {
                out.push_str(", ");
                out.push_str(field);
            }
        }
    }
    Some(out)
}

/// `vary`'s tokenizer: split at commas, trimming spaces (only spaces) around each token.
fn parse(header: &str) -> Vec<&str> {
    let mut list = Vec::new();
    let (mut start, mut end) = (0, 0);
    for (i, b) in header.bytes().enumerate() {
        match b {
            b' ' => {
                if start == end {
                    start = i + 1;
                    end = i + 1;
                }
            }
            b',' => {
                list.push(&header[start..end]);
                start = i + 1;
                end = i + 1;
            }
            _ => end = i + 1,
        }
    }
    list.push(&header[start..end]);
    list
}

/// RFC 7230 `token`, as `vary`'s FIELD_NAME_REGEXP.
fn is_field_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::append;

    #[test]
    fn appends_as_the_vary_package() {
        assert_eq!(append("", "Origin").as_deref(), Some("Origin"));
        assert_eq!(
            append("Accept-Encoding", "Origin").as_deref(),
            Some("Accept-Encoding, Origin")
        );
        assert_eq!(append("origin", "Origin").as_deref(), Some("origin"));
        assert_eq!(append("*", "Origin").as_deref(), Some("*"));
        assert_eq!(append("Accept, *", "Origin").as_deref(), Some("*"));
        assert_eq!(append("a,,b", "B, C").as_deref(), Some("a,,b, C"));
        assert_eq!(append("", "in valid"), None);
    }
}
