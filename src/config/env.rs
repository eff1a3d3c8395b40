//! vmalert's `%{ENV_VAR}` substitution, applied to the whole file text before parsing so
//! that it works in any field, as in vmalert.

/// Replaces every `%{NAME}` (NAME of letters, digits and `_`) with the variable's value.
/// A reference to an unset variable is an error rather than silent text, because an
/// expression like `up > %{THRESHOLD}` would otherwise fail later in a confusing way;
/// the error gives the 1-based line and column of the reference and its name.
pub fn substitute_env(text: &str) -> Result<std::borrow::Cow<'_, str>, (usize, usize, String)> {
    substitute_with(text, |name| std::env::var(name).ok())
}

/// [`substitute_env`] with an explicit lookup, for tests.
pub fn substitute_with(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<std::borrow::Cow<'_, str>, (usize, usize, String)> {
    if !text.contains("%{") {
        return Ok(std::borrow::Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            match lookup(name) {
                Some(v) => out.push_str(&v),
                None => {
                    let consumed = text.len() - rest.len() + start;
                    let line = text[..consumed].matches('\n').count() + 1;
                    let line_start = text[..consumed].rfind('\n').map_or(0, |i| i + 1);
                    let col = text[line_start..consumed].chars().count() + 1;
                    return Err((line, col, name.to_string()));
                }
            }
            rest = &after[name_len + 1..];
        } else {
            out.push_str("%{");
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(std::borrow::Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "THR" => Some("5".into()),
            "JOB" => Some("api".into()),
            _ => None,
        }
    }

    #[test]
    fn replaces_known_variables_everywhere() {
        let out = substitute_with("expr: up{job=\"%{JOB}\"} > %{THR}\n", env).unwrap();
        assert_eq!(out, "expr: up{job=\"api\"} > 5\n");
    }

    #[test]
    fn leaves_non_references_alone() {
        let text = "a: 100%{ b\nc: %{}\nd: %{a-b}\n";
        assert_eq!(substitute_with(text, env).unwrap(), text);
    }

    #[test]
    fn unset_variable_is_an_error_with_position() {
        let err = substitute_with("groups:\n  - x: %{NOPE}\n", env).unwrap_err();
        assert_eq!(err, (2, 8, "NOPE".to_string()));
    }
}
