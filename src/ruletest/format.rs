//! promtool's text forms, byte for byte: label sets, sample values, durations and the
//! indented alert lists of its failure messages. Scripts and people compare these
//! outputs, so they follow Go's formatting rather than Rust's.

use std::fmt::Write as _;
use std::time::Duration;

use crate::config::names::is_classic_label_name;
use crate::labels::Labels;
use crate::template::{format_e_shortest, format_go_duration, go_quote};

/// Prometheus' `labels.Labels.String()`: `{a="1", b="2"}`, values quoted as Go does,
/// names quoted only when they are not classic label names.
pub fn labels(ls: &Labels) -> String {
    pairs(ls.iter().map(|l| (&*l.name, &*l.value)))
}

/// [`labels`] for name/value pairs already sorted by name.
pub fn pairs<'a>(ps: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in ps.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_classic_label_name(name) {
            out.push_str(name);
        } else {
            out.push_str(&go_quote(name));
        }
        out.push('=');
        out.push_str(&go_quote(value));
    }
    out.push('}');
    out
}

/// A sample value as promtool prints it: `strconv.FormatFloat(v, 'E', -1, 64)`.
pub fn value(v: f64) -> String {
    format_e_shortest(v, true)
}

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an
/// exponent.
pub fn plain(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// Prometheus' `promql.Matrix.String()`: each series as `labels =>` followed by one
/// `value @[timestamp]` line per sample.
pub fn matrix(series: &[(Labels, Vec<(i64, f64)>)]) -> String {
    series
        .iter()
        .map(|(l, points)| {
            let mut s = format!("{} =>", labels(l));
            for (t, v) in points {
                let _ = write!(s, "\n{} @[{t}]", plain(*v));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An `eval_time` as promtool prints it (Prometheus' `model.Duration`): `5m`, `1d`, `0s`.
pub fn model_duration(d: Duration) -> String {
    crate::config::format_duration(d)
}

/// An evaluation timestamp as promtool prints it in rule errors (Go's
/// `time.Duration.String()` of the time since the epoch): `0s`, `1m0s`, `2h0m0s`.
pub fn go_duration(ms: i64) -> String {
    format_go_duration(ms.saturating_mul(1_000_000))
}

/// Go's `%q` of a string.
pub fn quote(s: &str) -> String {
    go_quote(s)
}

/// promtool's `indentLines`: every line but the first gets `indent` in front.
pub fn indent_lines(text: &str, indent: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

/// An alert as promtool compares and prints it: labels, and annotations as a label set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertView {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

impl AlertView {
    /// Sorts both sides by name, as Prometheus' label sets are.
    pub fn new(mut labels: Vec<(String, String)>, mut annotations: Vec<(String, String)>) -> Self {
        labels.sort();
        annotations.sort();
        AlertView {
            labels,
            annotations,
        }
    }

    fn text(&self) -> String {
        let p = |v: &[(String, String)]| pairs(v.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        format!(
            "Labels:{}\nAnnotations:{}",
            p(&self.labels),
            p(&self.annotations)
        )
    }
}

/// promtool's `labelsAndAnnotations.String()`: `[]`, or a numbered, indented list.
pub fn alert_list(alerts: &[AlertView]) -> String {
    if alerts.is_empty() {
        return "[]".to_string();
    }
    let mut out = String::from("[");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "\n{i}:{}",
            indent_lines(&format!("\n{}", a.text()), "  ")
        );
    }
    out.push_str("\n]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_like_prometheus() {
        let ls = Labels::from_pairs([("job", "a\"b"), ("__name__", "up"), ("é", "ü\n")]);
        assert_eq!(labels(&ls), r#"{__name__="up", job="a\"b", "é"="ü\n"}"#);
        assert_eq!(labels(&Labels::empty()), "{}");
    }

    #[test]
    fn durations_both_ways() {
        assert_eq!(model_duration(Duration::from_secs(300)), "5m");
        assert_eq!(model_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(7_200_500), "2h0m0.5s");
    }

    #[test]
    fn alert_lists_indent_as_promtool() {
        let a = AlertView::new(vec![("alertname".into(), "Test".into())], vec![]);
        let text = indent_lines(&alert_list(&[a]), "            ");
        assert_eq!(
            text,
            "[\n            0:\n              Labels:{alertname=\"Test\"}\n              Annotations:{}\n            ]"
        );
        assert_eq!(alert_list(&[]), "[]");
    }
}
