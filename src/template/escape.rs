//! String helpers with Go's exact behaviour: URL/HTML/JS/JSON escaping, `title`,
//! and `net.SplitHostPort` for `stripPort` / `stripDomain`.

use std::fmt::Write;

fn percent(out: &mut String, b: u8) {
    let _ = write!(out, "%{b:02X}");
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    QueryEscaped(s).to_string()
}

/// Go's `url.QueryEscape` of the string, written straight into a formatter (a link or a
/// JSON string) without an intermediate `String`: the one query escape of the crate.
pub struct QueryEscaped<'a>(pub &'a str);

impl std::fmt::Display for QueryEscaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.0.as_bytes();
        let mut kept = 0; // start of the run of bytes written as they are
        for (i, &b) in bytes.iter().enumerate() {
            if unreserved(b) {
                continue;
            }
            // Non-empty runs are ASCII between char boundaries (UTF-8 bytes are escaped).
            if kept < i {
                f.write_str(&self.0[kept..i])?;
            }
            if b == b' ' {
                f.write_str("+")?;
            } else {
                write!(f, "%{b:02X}")?;
            }
            kept = i + 1;
        }
        f.write_str(&self.0[kept..])
    }
}

/// Go's `url.PathEscape` (escapes a path segment: `/`, `;`, `,`, `?` included).
pub fn path_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) || matches!(b, b'$' | b'&' | b'+' | b':' | b'=' | b'@') {
            out.push(b as char);
        } else {
            percent(&mut out, b);
        }
    }
    out
}

/// Go's `template.HTMLEscapeString` (and `html.EscapeString`, same output).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            // ASCII controls, and non-ASCII runes Go does not consider printable.
            c if (c as u32) < 0x20 || (!c.is_ascii() && (c.is_control() || c.is_whitespace())) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// vmalert's `jsonEscape`: a JSON string literal, quotes included, escaped the way
/// VictoriaMetrics escapes JSON (`<` and `'` as `\u003c`/`\u0027`; `>`, `&`, DEL and
/// non-ASCII kept), as vmalert 1.79 was observed to produce.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    out.push_str(&quotes_escape(s));
    out.push('"');
    out
}

/// vmalert's `quotesEscape`: the body of [`json_escape`] without the quotes.
pub fn quotes_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '\'' => out.push_str("\\u0027"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// vmalert's `htmlEscape` (`&quot;` for a double quote, unlike Go's `html` builtin).
pub fn vm_html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Prometheus 3's `title`: `cases.Title(language.AmericanEnglish, cases.NoLower)` from
/// golang.org/x/text, the Unicode title-casing of words (Prometheus 2.42 used Go's
/// `strings.Title`, and so does vmalert). The first cased letter of each word takes its
/// title-case form (`ß` → `Ss`, `ǆ` → `ǅ`), the rest of the word is left as it is. A word
/// goes on through letters, digits, `_`, combining marks and one of `.` `'` `:` `·` `’`
/// between them (`don't`, `a.b`); anything else ends it (`a-b` → `A-B`, `x_y` → `X_y`,
/// `1st` → `1St`: a digit does not start a word's cased part).
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut mid_word = false;
    let mut prev_mid = false;
    for c in s.chars() {
        let mid = is_mid(c);
        if prev_mid && mid {
            mid_word = false;
        }
        if is_cased(c) {
            if mid_word {
                out.push(c);
            } else {
                push_title(&mut out, c);
                mid_word = true;
            }
        } else {
            out.push(c);
            if is_break(c) {
                mid_word = false;
            }
        }
        prev_mid = mid;
    }
    out
}

/// Word-break MidLetter and MidNumLet characters: inside a word between letters.
fn is_mid(c: char) -> bool {
    matches!(
        c,
        '.' | '\''
            | ':'
            | '·'
            | '\u{387}'
            | '\u{5F4}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{2024}'
            | '\u{2027}'
            | '\u{FE13}'
            | '\u{FE52}'
            | '\u{FE55}'
            | '\u{FF07}'
            | '\u{FF0E}'
            | '\u{FF1A}'
    )
}

/// Letters with case, the title-case digraphs (`ǅ`) included.
fn is_cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase() || is_titlecase_digraph(c)
}

fn is_titlecase_digraph(c: char) -> bool {
    matches!(c, '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}')
}

/// What ends a word: anything but a letter, a decimal digit, a combining mark, `_` or a
/// mid-word character. Other numbers (`²`, `½`) end it too.
fn is_break(c: char) -> bool {
    let digit = c.is_numeric() && !is_other_number(c);
    !(c.is_alphabetic() || digit || is_mid(c) || c == '_' || is_mark(c))
}

/// Numbers that are not decimal digits: superscripts, subscripts, fractions, number
/// forms and circled numbers.
fn is_other_number(c: char) -> bool {
    matches!(c, '²' | '³' | '¹' | '¼'..='¾' | '\u{2070}'..='\u{218F}' | '\u{2460}'..='\u{24FF}')
}

/// Combining marks, which continue the word of the letter they modify.
fn is_mark(c: char) -> bool {
    matches!(
        c,
        '\u{300}'..='\u{36F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// A letter's full title-case mapping.
fn push_title(out: &mut String, c: char) {
    if c == '\u{149}' {
        out.push_str("\u{2BC}N");
        return;
    }
    let single = to_title(c);
    if single != c || is_titlecase_digraph(c) {
        out.push(single);
        return;
    }
    // Where upper case is several letters (`ß` → `SS`, `ﬁ` → `FI`), title case is the
    // first in upper case and the rest in lower case (`Ss`, `Fi`).
    let mut up = c.to_uppercase();
    if let Some(first) = up.next() {
        out.push(first);
        for rest in up {
            out.extend(rest.to_lowercase());
        }
    }
}

/// Go's `unicode.ToUpper`: the simple one-rune mapping (`ß` stays `ß`), unlike Rust's
/// full mapping (`SS`).
fn to_upper_rune(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` (simple mapping, no final-sigma rule).
fn to_lower_rune(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`: differs from upper case only for the Latin digraphs.
fn to_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        c => to_upper_rune(c),
    }
}

/// Go's `strings.ToUpper`.
pub fn to_upper(s: &str) -> String {
    s.chars().map(to_upper_rune).collect()
}

/// Go's `strings.ToLower`.
pub fn to_lower(s: &str) -> String {
    s.chars().map(to_lower_rune).collect()
}

/// Go's `net.SplitHostPort`; `None` where Go returns an error.
pub fn split_host_port(hp: &str) -> Option<(&str, &str)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = after.strip_prefix(':')?;
        if port.contains([':', '[', ']']) || host.contains(['[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let i = hp.rfind(':')?;
    let (host, port) = (&hp[..i], &hp[i + 1..]);
    if host.contains([':', '[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Prometheus' `stripPort`.
pub fn strip_port(hp: &str) -> String {
    match split_host_port(hp) {
        Some((h, _)) => h.to_string(),
        None => hp.to_string(),
    }
}

/// Prometheus' `stripDomain`: keeps IPs, drops everything after the first dot of a name.
pub fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or((hp, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let short = host.split('.').next().unwrap_or(host);
    if port.is_empty() {
        short.to_string()
    } else {
        join_host_port(short, port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes() {
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(path_escape("a b/c"), "a%20b%2Fc");
        assert_eq!(
            html_escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"
        );
        assert_eq!(js_escape("a'b<"), "a\\'b\\u003C");
        assert_eq!(json_escape("a\"b\n<>&'"), "\"a\\\"b\\n\\u003c>&\\u0027\"");
        assert_eq!(title("hello wORLD foo_bar x.y"), "Hello WORLD Foo_bar X.y");
        // Each of these rendered by promtool 3.5.3.
        assert_eq!(
            title("1st x_y a..b a:b a-b a;b foo1bar ßa ﬀx ǆa"),
            "1St X_y A..B A:b A-B A;B Foo1bar Ssa Ffx ǅa"
        );
        assert_eq!(
            title("don't o’neil a'b 'q' ŉa ﬁx a__b _ab 3d ٣x x\u{301}y 中a 'a' a''b"),
            "Don't O’neil A'b 'Q' ʼNa Fix A__b _Ab 3D ٣X X\u{301}y 中A 'A' A''B"
        );
        assert_eq!(title("élan ⅱ x²y a·b a=b"), "Élan Ⅱ X²Y A·b A=B");
    }

    #[test]
    fn host_port() {
        assert_eq!(strip_port("foo.example.com:9100"), "foo.example.com");
        assert_eq!(strip_port("[::1]:9100"), "::1");
        assert_eq!(strip_port("foo"), "foo");
        assert_eq!(strip_domain("foo.example.com:9100"), "foo:9100");
        assert_eq!(strip_domain("192.168.0.1:9100"), "192.168.0.1:9100");
        assert_eq!(strip_domain("foo.example.com"), "foo");
    }
}
