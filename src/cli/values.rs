//! The value types of vmalert's flags, parsed as vmalert parses them: Go durations,
//! integers and booleans, VictoriaMetrics' arrays (comma-separated, with quotes and
//! braces protecting commas), and `^^`-separated header lists (sizes such as `1MB` are
//! [`crate::bytesize`]'s). Each parser's error says what the flag expects, in one line;
//! clap puts the flag's name in front of it.

use std::time::Duration;

/// Parses a duration as Go's `time.ParseDuration` does (`1m30s`, `1.5h`, `300ms`), plus
/// the `d`, `w` and `y` units that VictoriaMetrics flags also accept. A bare `0` is zero.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}: use a number with a unit, like 30s, 1m or 1h30m");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = t.strip_prefix('+').unwrap_or(t);
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => return Err(err()),
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

/// A non-negative whole number, as Go's `flag.Int` reads it (decimal, or with a `0x`,
/// `0o` or `0b` prefix; `_` between digits).
pub fn parse_count(s: &str) -> Result<usize, String> {
    let err = || format!("invalid number {s:?}: use a whole number such as 10");
    let t = s.trim();
    let (digits, radix) = match t.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("0x") => (&t[2..], 16),
        Some("0o") => (&t[2..], 8),
        Some("0b") => (&t[2..], 2),
        _ => (t, 10),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return Err(err());
    }
    let digits = digits.replace('_', "");
    usize::from_str_radix(&digits, radix).map_err(|_| err())
}

/// A floating-point number, as Go's `flag.Float64` reads it.
pub fn parse_float(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("invalid number {s:?}: use a number such as 60 or 0.5"))
}

/// Go's `strconv.ParseBool`: the spellings a boolean flag accepts.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A `^^`-separated list of HTTP headers (`Name: value^^Name2: value2`), as vmalert's
/// `-*.headers` flags take them. Returns the value unchanged when every header has a
/// valid name and value. Errors never quote the value: headers carry tokens.
pub fn parse_header_list(s: &str) -> Result<String, String> {
    let headers = crate::http::parse_headers("", s).map_err(|e| match e {
        crate::http::ClientError::Setting { message, .. } => {
            format!("{message}, several separated by ^^")
        }
        other => other.to_string(),
    })?;
    crate::http::header_map(&headers).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// One HTTP header, `Name: value` (`-pushmetrics.header`). Errors never quote the value.
pub fn parse_header(s: &str) -> Result<String, String> {
    let headers = match crate::http::parse_headers("", s) {
        Ok(h) if h.len() == 1 && !s.contains("^^") => h,
        _ => return Err("not a header: use 'Name: value'".to_string()),
    };
    crate::http::header_map(&headers).map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// Splits a vmalert array value into its items: items are separated by commas, except
/// inside single or double quotes and `[]`, `{}` or `()` braces; an item quoted as a
/// whole loses its quotes. An empty value is one empty item (positions matter for the
/// per-URL `-notifier.*` lists).
pub fn split_array(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut rest = s;
    loop {
        let (item, tail) = next_item(rest);
        items.push(unquote(item));
        match tail.strip_prefix(',') {
            Some(t) => rest = t,
            None => return items,
        }
    }
}

/// The first item of `s` and what follows it (starting at the separating comma).
fn next_item(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b',' => return (&s[..i], &s[i..]),
            q @ (b'"' | b'\'') => i = close_quote(b, i + 1, q),
            b'[' | b'{' | b'(' => i = close_brace(b, i + 1),
            _ => i += 1,
        }
    }
    (s, "")
}

/// The index after the quote `q` that closes at or after `from` (skipping escaped
/// quotes); an unclosed quote protects nothing, as in vmalert.
fn close_quote(b: &[u8], from: usize, q: u8) -> usize {
    let mut i = from;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            return i + 1;
        }
        i += 1;
    }
    from
}

/// The index after the brace that closes the one opened before `from` (braces and
/// quotes nest); an unclosed brace protects nothing, as in vmalert.
fn close_brace(b: &[u8], from: usize) -> usize {
    let mut depth = 1;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i = close_quote(b, i + 1, q);
                continue;
            }
            b'[' | b'{' | b'(' => depth += 1,
            b']' | b'}' | b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    from
}

fn unquote(item: &str) -> String {
    let quoted = |q: char| item.len() >= 2 && item.starts_with(q) && item.ends_with(q);
    if quoted('"') {
        let inner = &item[1..item.len() - 1];
        return inner.replace("\\\"", "\"").replace("\\\\", "\\");
    }
    if quoted('\'') {
        let inner = &item[1..item.len() - 1];
        return inner.replace("\\'", "'").replace("\\\\", "\\");
    }
    item.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("1x").is_err());
    }

    #[test]
    fn counts_as_go_reads_ints() {
        assert_eq!(parse_count("10"), Ok(10));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_count("0x10"), Ok(16));
        for bad in ["", "-1", "1.5", "1e3", "ten", "_1"] {
            let e = parse_count(bad).unwrap_err();
            assert!(e.contains("whole number"), "{bad}: {e}");
        }
    }

    #[test]
    fn bools_take_gos_spellings() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_go_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_go_bool("yes"), None);
    }

    #[test]
    fn header_lists() {
        assert!(parse_header_list("X-A: 1^^X-B: two words").is_ok());
        assert!(parse_header_list("X-A:1").is_ok());
        for (bad, want) in [
            ("no colon", "header 1 has no name before ':'"),
            ("X-A: secret^^broken", "header 2 has no name before ':'"),
            (": v", "header 1 has no name"),
            (
                "Bad Name: secret",
                r#"header "Bad Name" cannot be sent: invalid name"#,
            ),
        ] {
            let e = parse_header_list(bad).unwrap_err();
            assert!(e.starts_with(want), "{bad}: {e}");
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
        assert!(parse_header("Authorization: Basic Zm9v").is_ok());
        assert!(parse_header("A: 1^^B: 2").is_err());
        assert!(parse_header("A").is_err());
    }

    #[test]
    fn arrays_split_as_vmalert_splits_them() {
        assert_eq!(split_array("a,b"), ["a", "b"]);
        assert_eq!(split_array(""), [""]);
        assert_eq!(split_array(",x"), ["", "x"]);
        assert_eq!(
            split_array("rules/{a,b}.yml,c.yml"),
            ["rules/{a,b}.yml", "c.yml"]
        );
        assert_eq!(split_array(r#"'a,b',"c,d",e"#), ["a,b", "c,d", "e"]);
        assert_eq!(
            split_array(r#"instance="x,y",job="z""#),
            [r#"instance="x,y""#, r#"job="z""#]
        );
        assert_eq!(split_array("f(a,[b,c]),d"), ["f(a,[b,c])", "d"]);
        assert_eq!(split_array("{unclosed,x"), ["{unclosed", "x"]);
    }
}
