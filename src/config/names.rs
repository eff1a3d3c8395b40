//! Name rules for metrics, labels and annotations, and the template compile step shared
//! by group and rule validation.
//!
//! tocsin keeps Prometheus' classic (pre-UTF-8) name syntax: it is what promtool 2.x
//! enforces, what remote-write receivers such as VictoriaMetrics accept unquoted, and it
//! keeps a record name like `foo{a="b"}` an error rather than a strange metric.

use crate::template::{Template, TemplateError};

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_valid_label_name(name: &str) -> bool {
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
    fn metric_names() {
        for ok in ["up", "job:rate5m:sum", "_x", ":a", "a1"] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "1a", "foo{a}", "a-b", "a.b", "é", "a b"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["job", "_x", "a1", "__name__"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "0bad", "a-b", "a:b", "a.b", "ü"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }
}
