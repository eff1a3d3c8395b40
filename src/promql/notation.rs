//! The series expanding notation shared by promqltest's `load` blocks and promtool's
//! `input_series`: a series (`metric{label="value"}`) followed by values such as
//! `1 2 3`, `1+1x10` (11 values counting up), `5x3` (four 5s), `-2-1x3`, `_` (no sample),
//! `_x4` (four missing samples), `stale` (a stale marker), `Inf`, `NaN`.
//!
//! Errors name the column (1-based, in characters) of what is wrong; the caller adds the
//! file and line. Expansions are bounded: a series may expand to at most
//! [`MAX_EXPANDED_VALUES`] values, so `1+0x100000000` is an error, not an allocation.
//! Native histograms (`{{…}}`) are not supported and say so.

use crate::labels::{Labels, LabelsBuilder, METRIC_NAME};

use super::store::stale_nan;

/// The most values one series may expand to.
pub const MAX_EXPANDED_VALUES: u64 = 1_000_000;

/// One value of an expanded sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqValue {
    /// A sample (possibly a stale marker).
    Value(f64),
    /// `_`: no sample at this step.
    Omitted,
}

/// A mistake in the notation, at a column (1-based, counted in characters).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct NotationError {
    pub column: usize,
    pub message: String,
}

fn err<T>(byte_pos: usize, src: &str, message: impl Into<String>) -> Result<T, NotationError> {
    Err(NotationError {
        column: src[..byte_pos.min(src.len())].chars().count() + 1,
        message: message.into(),
    })
}

/// Parses a whole description: `metric{labels} values…`.
pub fn parse_series(line: &str) -> Result<(Labels, Vec<SeqValue>), NotationError> {
    let (labels, end) = parse_metric_at(line, 0)?;
    let values = parse_values_at(line, end)?;
    Ok((labels, values))
}

/// Splits a description into its series and the text of its values.
pub fn split_series(line: &str) -> Result<(Labels, &str), NotationError> {
    let (labels, end) = parse_metric_at(line, 0)?;
    Ok((labels, &line[end..]))
}

/// Parses a series selector alone (`metric`, `metric{a="b"}`, `{__name__="m"}`), as
/// promtool's `series:` field holds it.
pub fn parse_metric(src: &str) -> Result<Labels, NotationError> {
    let (labels, end) = parse_metric_at(src, 0)?;
    if !src[end..].trim().is_empty() {
        return err(
            end,
            src,
            format!("unexpected {:?} after the series", src[end..].trim()),
        );
    }
    Ok(labels)
}

/// Parses values alone (`1+1x10 _ stale`), as promtool's `values:` field holds them.
pub fn parse_values(src: &str) -> Result<Vec<SeqValue>, NotationError> {
    parse_values_at(src, 0)
}

fn skip_space(src: &str, mut i: usize) -> usize {
    let b = src.as_bytes();
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name_char(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

fn parse_metric_at(src: &str, start: usize) -> Result<(Labels, usize), NotationError> {
    let b = src.as_bytes();
    let mut i = skip_space(src, start);
    let mut builder = LabelsBuilder::default();
    let name_start = i;
    while i < b.len() && is_name_char(b[i]) && (i > name_start || is_name_start(b[i])) {
        i += 1;
    }
    if i > name_start {
        builder.set(METRIC_NAME, &src[name_start..i]);
    }
    if i < b.len() && b[i] == b'{' {
        i = parse_label_block(src, i, &mut builder)?;
    } else if i == name_start {
        return err(i, src, "expected a metric name or '{'");
    }
    Ok((builder.build(), i))
}

/// Parses `{name="value", …}` starting at the brace; returns the position after `}`.
fn parse_label_block(
    src: &str,
    open: usize,
    builder: &mut LabelsBuilder,
) -> Result<usize, NotationError> {
    let b = src.as_bytes();
    let mut i = open + 1;
    let mut seen: Vec<String> = Vec::new();
    loop {
        i = skip_space(src, i);
        match b.get(i) {
            None => return err(i, src, "unclosed '{'"),
            Some(b'}') => return Ok(i + 1),
            _ => {}
        }
        let (name, after_name, quoted) = parse_label_name(src, i)?;
        let mut j = skip_space(src, after_name);
        if quoted && matches!(b.get(j), Some(b',') | Some(b'}')) {
            // A lone quoted string is the metric name (Prometheus 3's UTF-8 syntax).
            builder.set(METRIC_NAME, name);
        } else {
            if b.get(j) != Some(&b'=') || b.get(j + 1) == Some(&b'~') {
                return err(j, src, format!("expected '=' after label name {name:?}"));
            }
            j = skip_space(src, j + 1);
            let (value, after) = parse_quoted(src, j)?;
            if seen.contains(&name) {
                return err(i, src, format!("label {name:?} is given twice"));
            }
            seen.push(name.clone());
            builder.set(name, value);
            j = skip_space(src, after);
        }
        match b.get(j) {
            Some(b',') => i = j + 1,
            Some(b'}') => return Ok(j + 1),
            _ => return err(j, src, "expected ',' or '}' in the label set"),
        }
    }
}

fn parse_label_name(src: &str, i: usize) -> Result<(String, usize, bool), NotationError> {
    let b = src.as_bytes();
    if matches!(b.get(i), Some(b'"') | Some(b'\'') | Some(b'`')) {
        let (name, end) = parse_quoted(src, i)?;
        return Ok((name, end, true));
    }
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    if j == i || b[i].is_ascii_digit() {
        return err(i, src, "expected a label name");
    }
    Ok((src[i..j].to_string(), j, false))
}

/// Parses a Go-style quoted string (`"…"`, `'…'` or raw `` `…` ``) at `i`.
pub(crate) fn parse_quoted(src: &str, i: usize) -> Result<(String, usize), NotationError> {
    let quote = match src[i..].chars().next() {
        Some(q @ ('"' | '\'' | '`')) => q,
        _ => return err(i, src, "expected a quoted string"),
    };
    let mut out = String::new();
    let mut chars = src[i + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        if c == quote {
            return Ok((out, i + 1 + off + 1));
        }
        if c == '\n' {
            break;
        }
        if c != '\\' || quote == '`' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match unescape(e, &mut chars, quote) {
            Some(ch) => out.push(ch),
            None => return err(i + 1 + off, src, format!("invalid escape '\\{e}'")),
        }
    }
    err(i, src, "unterminated quoted string")
}

fn unescape(e: char, chars: &mut std::str::CharIndices<'_>, quote: char) -> Option<char> {
    let hex = |chars: &mut std::str::CharIndices<'_>, n: usize, radix: u32| {
        let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
        (digits.len() == n)
            .then(|| u32::from_str_radix(&digits, radix).ok())
            .flatten()
            .and_then(char::from_u32)
    };
    match e {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        c if c == quote => Some(c),
        'x' => hex(chars, 2, 16),
        'u' => hex(chars, 4, 16),
        'U' => hex(chars, 8, 16),
        '0'..='7' => {
            let rest: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
            u32::from_str_radix(&format!("{e}{rest}"), 8)
                .ok()
                .and_then(char::from_u32)
        }
        _ => None,
    }
}

fn parse_values_at(src: &str, start: usize) -> Result<Vec<SeqValue>, NotationError> {
    if let Some(p) = src[start..].find("{{") {
        return err(
            start + p,
            src,
            "native histogram samples ({{…}}) are not supported",
        );
    }
    let mut out = Vec::new();
    let mut i = skip_space(src, start);
    while i < src.len() {
        let end = src[i..]
            .find([' ', '\t'])
            .map(|p| i + p)
            .unwrap_or(src.len());
        expand_item(src, i, end, &mut out)?;
        i = skip_space(src, end);
    }
    Ok(out)
}

/// Expands one whitespace-free item (`_`, `_x3`, `stale`, `5`, `5x3`, `1+2x3`) into `out`.
fn expand_item(
    src: &str,
    start: usize,
    end: usize,
    out: &mut Vec<SeqValue>,
) -> Result<(), NotationError> {
    let item = &src[start..end];
    if item == "_" {
        return push_checked(out, SeqValue::Omitted, 1, src, start);
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n = parse_count(n, src, start + 2)?;
        return push_checked(out, SeqValue::Omitted, n, src, start);
    }
    if item == "stale" {
        return push_checked(out, SeqValue::Value(stale_nan()), 1, src, start);
    }
    let (first, mut i) = scan_number(src, start, end, true)?;
    let mut delta = 0.0;
    let mut repeat = None;
    if i < end && matches!(src.as_bytes()[i], b'+' | b'-') {
        let (d, j) = scan_number(src, i, end, true)?;
        delta = d;
        i = j;
        if i >= end || src.as_bytes()[i] != b'x' {
            return err(i, src, "expected 'x' and a count after the increment");
        }
    }
    if i < end && src.as_bytes()[i] == b'x' {
        repeat = Some(parse_count(&src[i + 1..end], src, i + 1)?);
        i = end;
    }
    if i != end {
        return err(
            i,
            src,
            format!("unexpected {:?} in series values", &src[i..end]),
        );
    }
    match repeat {
        None => push_checked(out, SeqValue::Value(first), 1, src, start),
        Some(n) => {
            check_room(out.len() as u64, n.saturating_add(1), src, start)?;
            let mut v = first;
            for _ in 0..=n {
                out.push(SeqValue::Value(v));
                v += delta;
            }
            Ok(())
        }
    }
}

fn push_checked(
    out: &mut Vec<SeqValue>,
    v: SeqValue,
    n: u64,
    src: &str,
    at: usize,
) -> Result<(), NotationError> {
    check_room(out.len() as u64, n, src, at)?;
    out.extend(std::iter::repeat_n(v, n as usize));
    Ok(())
}

fn check_room(have: u64, more: u64, src: &str, at: usize) -> Result<(), NotationError> {
    if have.saturating_add(more) > MAX_EXPANDED_VALUES {
        return err(
            at,
            src,
            format!(
                "the series would expand to more than {MAX_EXPANDED_VALUES} values; \
                 use fewer repetitions"
            ),
        );
    }
    Ok(())
}

fn parse_count(s: &str, src: &str, at: usize) -> Result<u64, NotationError> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return err(
            at,
            src,
            format!("expected a whole number after 'x', got {s:?}"),
        );
    }
    s.parse()
        .or_else(|_| err(at, src, format!("count {s} is too large")))
}

/// Scans a number (with an optional sign) at `i`, stopping before `x`, a sign that is
/// not part of an exponent, or `end`.
fn scan_number(
    src: &str,
    i: usize,
    end: usize,
    signed: bool,
) -> Result<(f64, usize), NotationError> {
    let b = src.as_bytes();
    let mut j = i;
    if signed && j < end && matches!(b[j], b'+' | b'-') {
        j += 1;
    }
    let body = j;
    while j < end {
        let c = b[j];
        let exp_sign = matches!(c, b'+' | b'-') && j > body && matches!(b[j - 1], b'e' | b'E');
        if c.is_ascii_digit()
            || c == b'.'
            || c == b'_'
            || exp_sign
            || (c.is_ascii_alphabetic() && c != b'x')
        {
            j += 1;
        } else {
            break;
        }
    }
    let text = &src[i..j];
    parse_number(text)
        .map(|v| (v, j))
        .ok_or_else(|| NotationError {
            column: src[..i].chars().count() + 1,
            message: format!("expected a number or \"stale\", got {:?}", &src[i..end]),
        })
}

/// Parses a PromQL number: decimal with optional exponent and `_` separators, or
/// `Inf`/`NaN` in any case, with an optional sign.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let v = match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => f64::INFINITY,
        "nan" => f64::NAN,
        _ => {
            let ok = !body.is_empty()
                && body.bytes().all(|c| {
                    c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'e' | b'E' | b'+' | b'-')
                })
                && body.as_bytes()[0] != b'_';
            if !ok {
                return None;
            }
            body.replace('_', "").parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::store::is_stale;

    fn vals(s: &str) -> Vec<String> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                SeqValue::Omitted => "_".to_string(),
                SeqValue::Value(f) if is_stale(f) => "stale".to_string(),
                SeqValue::Value(f) => f.to_string(),
            })
            .collect()
    }

    #[test]
    fn expands_like_promtool() {
        assert_eq!(vals("1+1x3"), ["1", "2", "3", "4"]);
        assert_eq!(vals("5x2"), ["5", "5", "5"]);
        assert_eq!(vals("-2x1"), ["-2", "-2"]);
        assert_eq!(
            vals("1-1x2 _ _x2 stale"),
            ["1", "0", "-1", "_", "_", "_", "stale"]
        );
        assert_eq!(
            vals("1e3 -Inf NaN 0.5+0.25x1"),
            ["1000", "-inf", "NaN", "0.5", "0.75"]
        );
        assert_eq!(vals("1_000"), ["1000"]);
    }

    #[test]
    fn parses_series_with_labels() {
        let (l, v) = parse_series(r#"http_requests{job="api", path="/a\"b"}  1 2"#).unwrap();
        assert_eq!(l.get("__name__"), Some("http_requests"));
        assert_eq!(l.get("path"), Some("/a\"b"));
        assert_eq!(v.len(), 2);
        let (l, _) = parse_series(r#"{"my.metric", "a.b"='x'} 1"#).unwrap();
        assert_eq!(l.get("__name__"), Some("my.metric"));
        assert_eq!(l.get("a.b"), Some("x"));
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse_series("up{job=\"a\"} 1 2 zz").unwrap_err();
        assert_eq!(e.column, 17, "{e}");
        let e = parse_series("up{job=\"a\" 1").unwrap_err();
        assert_eq!(e.column, 12, "{e}");
        let e = parse_values("1+1x").unwrap_err();
        assert!(e.message.contains("whole number"), "{e}");
        let e = parse_values("1+1").unwrap_err();
        assert!(e.message.contains("'x'"), "{e}");
    }

    #[test]
    fn huge_expansions_are_refused_without_allocating() {
        let e = parse_values("1+0x100000000").unwrap_err();
        assert!(e.message.contains("more than 1000000 values"), "{e}");
        let e = parse_values("_x99999999999999999999").unwrap_err();
        assert!(e.message.contains("too large"), "{e}");
        assert!(
            parse_values("1 2 {{schema:0 sum:1}}")
                .unwrap_err()
                .message
                .contains("native")
        );
    }
}
