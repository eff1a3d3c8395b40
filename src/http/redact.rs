//! How a URL may be shown. Operators put credentials into URLs
//! (`http://user:pass@host`, `?authKey=…`), and every place that prints a URL — log
//! lines, error messages (`lastError`), API answers, the UI, metric labels — prints it
//! through [`redact_url`], or through [`redact_text`] for messages written by others
//! (reqwest's errors embed the URL they were sending to).

/// What replaces a secret; Go's `url.URL.Redacted` uses the same mark.
pub const MASK: &str = "xxxxx";

/// Fragments of query-parameter names that carry secrets (compared lowercased, without
/// `_` and `-`): `authKey`, `api_key`, `access_token`, `password`, `X-Amz-Signature`, …
const SECRET_PARAM_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "pass",
    "pwd",
    "auth",
    "credential",
    "signature",
];

/// Whether a query parameter of this name carries a secret.
pub fn is_secret_param(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    let norm: String = decoded
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    norm == "sig" || SECRET_PARAM_PARTS.iter().any(|p| norm.contains(p))
}

/// The URL with its password (or a user name standing alone, which is often a token)
/// and the values of secret query parameters replaced by [`MASK`]:
/// `http://user:pw@h/p?authKey=k&x=1` → `http://user:xxxxx@h/p?authKey=xxxxx&x=1`.
/// Works on any string, parseable or not; everything else is kept as it is.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match authority.rfind('@') {
        Some(at) => {
            match authority[..at].split_once(':') {
                Some((user, _)) if !user.is_empty() => {
                    out.push_str(user);
                    out.push(':');
                }
                _ => {}
            }
            out.push_str(MASK);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let (before_fragment, fragment) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(before_fragment),
    }
    out.push_str(fragment);
    out
}

/// `a=1&authKey=k` → `a=1&authKey=xxxxx`.
fn redact_query(query: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_secret_param(name) => {
                format!("{name}={MASK}")
            }
            _ => pair.to_string(),
        })
        .collect();
    pairs.join("&")
}

/// Characters that may start a URL scheme (`http`, `https`, `svc+http`).
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Characters that end a URL quoted inside a message.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']' | '}')
}

/// Every URL (`scheme://…`) inside a free-form message passed through [`redact_url`].
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_scheme_char(*c))
            .last()
            .map(|(j, _)| j)
            .unwrap_or(i);
        let len = rest[i..].find(ends_url).unwrap_or(rest.len() - i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..i + len]));
        rest = &rest[i + len..];
    }
    out.push_str(rest);
    out
}

/// The URL's credentials (`user:password@`, percent-decoded) and the URL without them,
/// or `None` when it carries none.
pub fn split_userinfo(url: &str) -> Option<(String, String, String)> {
    let i = url.find("://")? + 3;
    let end = url[i..].find(['/', '?', '#']).map_or(url.len(), |e| i + e);
    let at = i + url[i..end].rfind('@')?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = match url[i..at].split_once(':') {
        Some((u, p)) => (decode(u), decode(p)),
        None => (decode(&url[i..at]), String::new()),
    };
    Some((format!("{}{}", &url[..i], &url[at + 1..]), user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_secret_parameters_are_masked() {
        let cases = [
            (
                "http://user:pa55@host:9090/p",
                "http://user:xxxxx@host:9090/p",
            ),
            ("https://T0KEN@host", "https://xxxxx@host"),
            ("http://:pw@host", "http://xxxxx@host"),
            (
                "http://h/api?authKey=k1&x=1&access_token=t&API-KEY=z#f",
                "http://h/api?authKey=xxxxx&x=1&access_token=xxxxx&API-KEY=xxxxx#f",
            ),
            ("http://h/a@b?x=1", "http://h/a@b?x=1"),
            ("http://h:1/p?password=", "http://h:1/p?password="),
            ("user:pw@host:9093", "user:xxxxx@host:9093"),
            ("http://plain:9093", "http://plain:9093"),
            ("not a url", "not a url"),
        ];
        for (raw, want) in cases {
            assert_eq!(redact_url(raw), want, "{raw}");
        }
    }

    #[test]
    fn urls_inside_messages_are_masked() {
        let msg = "error sending request for url (http://u:s3cr3t@127.0.0.1:1/api/v1/query?authKey=k3y): client error";
        let got = redact_text(msg);
        assert_eq!(
            got,
            "error sending request for url (http://u:xxxxx@127.0.0.1:1/api/v1/query?authKey=xxxxx): client error"
        );
        assert_eq!(redact_text("no url here"), "no url here");
        assert_eq!(
            redact_text("a https://t@h/x and svc+http://u:p@h2 end"),
            "a https://xxxxx@h/x and svc+http://u:xxxxx@h2 end"
        );
    }

    #[test]
    fn credentials_split_off() {
        assert_eq!(
            split_userinfo("http://al%40ice:p%3Aw@h:1/x@y?q=1"),
            Some((
                "http://h:1/x@y?q=1".to_string(),
                "al@ice".to_string(),
                "p:w".to_string()
            ))
        );
        assert_eq!(
            split_userinfo("https://tok@h"),
            Some(("https://h".into(), "tok".into(), String::new()))
        );
        assert_eq!(split_userinfo("http://h/a@b"), None);
        assert_eq!(split_userinfo("h:1"), None);
    }

    #[test]
    fn secret_parameter_names() {
        for n in [
            "authKey",
            "password",
            "token",
            "X-Amz-Signature",
            "sig",
            "api%5Fkey",
        ] {
            assert!(is_secret_param(n), "{n}");
        }
        for n in ["query", "time", "step", "nocache", "extra_label"] {
            assert!(!is_secret_param(n), "{n}");
        }
    }
}
