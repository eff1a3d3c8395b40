//! Name rules for metrics, labels and annotations, and the template compile step shared
//! by group and rule validation.
//!
//! Names follow Prometheus 3's UTF-8 names (promtool 3.5, and vmalert 1.145 likewise):
//! any non-empty text names a series, a label or an annotation, so `foo-bar`, `0day`
//! and `http.status` are valid (promtool 2.x refused them; 3.5 wins). Still refused: a
//! record name with braces (a selector written in the wrong place: labels go under
//! `labels:`) and a rule label `__name__` (the name comes from `record:`).

use crate::template::{Template, TemplateError};

/// A recording rule's name: non-empty, without braces.
pub fn is_valid_record_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['{', '}'])
}

/// A label or annotation name: non-empty (rules may not set `__name__`; see callers).
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// A classic label name, `[a-zA-Z_][a-zA-Z0-9_]*`: the ones Prometheus prints unquoted.
pub fn is_classic_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A template that renders `text` verbatim under Go text/template rules, for recording
/// rule labels (which Prometheus never expands) and for templates whose check was
/// switched off: each `{{` becomes an action printing `{{`; a lone `}}` is already text.
pub fn literal_template(name: &str, text: &str) -> Result<Template, TemplateError> {
    if !text.contains("{{") {
        return Template::parse(name, text);
    }
    Template::parse(name, &text.replace("{{", "{{\"{{\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names() {
        for ok in ["up", "job:rate5m:sum", "1a", "a-b", "a.b", "é", "a b"] {
            assert!(is_valid_record_name(ok), "{ok}");
        }
        for bad in ["", "foo{a}", "foo}", "{a=\"b\"}"] {
            assert!(!is_valid_record_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["job", "_x", "0bad", "a-b", "a.b", "ü"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        assert!(!is_valid_label_name(""));
        for classic in ["job", "_x", "a1", "__name__"] {
            assert!(is_classic_label_name(classic), "{classic}");
        }
        for quoted in ["", "0bad", "a-b", "a:b", "a.b", "ü"] {
            assert!(!is_classic_label_name(quoted), "{quoted}");
        }
    }
}
