//! `--fail-on 'new_pages_per_day > 5'`: thresholds a CI job sets on a backtest. Each is
//! checked against every rule it applies to; a rule crossing it fails the run, and the
//! exit code says which threshold failed first (see [`exit_code`]).

use std::collections::HashMap;

use super::{Report, row_name};

/// Metrics of alerting rules.
pub const ALERTING_METRICS: &[&str] = &[
    "old_pages_per_day",
    "new_pages_per_day",
    "pages_per_day_change",
    "only_old_alerts",
    "only_new_alerts",
    "started_flapping",
    "stopped_flapping",
];

/// Metrics of recording rules.
pub const RECORDING_METRICS: &[&str] = &[
    "changed_samples",
    "max_abs_difference",
    "max_rel_difference",
];

/// Exit code of a run whose `N`-th (0-based) threshold was the first crossed.
pub const EXIT_BASE: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One parsed `--fail-on`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    metric: String,
    op: Op,
    value: f64,
}

/// A rule that crossed a threshold.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Crossed {
    /// Position of the threshold among the `--fail-on` flags.
    pub threshold: usize,
    pub text: String,
    pub rule: String,
    pub value: f64,
}

/// Parses `METRIC OP NUMBER` (OP one of `> >= < <= == !=`).
pub fn parse(text: &str) -> Result<Threshold, String> {
    let t = text.trim();
    let ops = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];
    let known = || {
        format!(
            "metrics of alerting rules: {}; of recording rules: {}",
            ALERTING_METRICS.join(", "),
            RECORDING_METRICS.join(", ")
        )
    };
    let Some((pos, sym, op)) = ops
        .iter()
        .filter_map(|(sym, op)| t.find(sym).map(|p| (p, *sym, *op)))
        .min_by_key(|(p, sym, _)| (*p, usize::MAX - sym.len()))
    else {
        return Err(format!(
            "--fail-on {text:?}: write METRIC OP NUMBER, e.g. 'new_pages_per_day > 5' ({})",
            known()
        ));
    };
    let metric = t[..pos].trim().to_string();
    let number = t[pos + sym.len()..].trim();
    if !ALERTING_METRICS.contains(&metric.as_str()) && !RECORDING_METRICS.contains(&metric.as_str())
    {
        return Err(format!(
            "--fail-on {text:?}: unknown metric {metric:?} ({})",
            known()
        ));
    }
    let value = number
        .parse::<f64>()
        .map_err(|_| format!("--fail-on {text:?}: {number:?} is not a number"))?;
    Ok(Threshold {
        text: t.to_string(),
        metric,
        op,
        value,
    })
}

fn recording_metrics(d: &super::RecordedDiff) -> HashMap<&'static str, f64> {
    HashMap::from([
        ("changed_samples", d.changed() as f64),
        ("max_abs_difference", d.max_abs_difference),
        ("max_rel_difference", d.max_rel_difference),
    ])
}

/// Every rule crossing every threshold, in threshold order.
pub fn check(thresholds: &[Threshold], report: &Report) -> Vec<Crossed> {
    let mut rows: Vec<(String, HashMap<&'static str, f64>)> = report
        .alerting
        .iter()
        .map(|r| (row_name(&r.old_rule, &r.new_rule), super::metrics(r)))
        .collect();
    rows.extend(report.recording.iter().filter_map(|r| {
        r.diff
            .as_ref()
            .map(|d| (row_name(&r.old_rule, &r.new_rule), recording_metrics(d)))
    }));
    let mut out = Vec::new();
    for (i, t) in thresholds.iter().enumerate() {
        for (rule, m) in &rows {
            if let Some(&v) = m.get(t.metric.as_str())
                && t.op.holds(v, t.value)
            {
                out.push(Crossed {
                    threshold: i,
                    text: t.text.clone(),
                    rule: rule.clone(),
                    value: v,
                });
            }
        }
    }
    out
}

/// [`EXIT_BASE`] plus the position of the first threshold crossed; `None` if none was.
pub fn exit_code(crossed: &[Crossed]) -> Option<u8> {
    crossed
        .iter()
        .map(|c| c.threshold)
        .min()
        .map(|i| EXIT_BASE.saturating_add(u8::try_from(i).unwrap_or(u8::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_reasons() {
        let t = parse("new_pages_per_day >= 5").unwrap();
        assert_eq!(
            (t.metric.as_str(), t.op, t.value),
            ("new_pages_per_day", Op::Ge, 5.0)
        );
        assert_eq!(parse("only_new_alerts>0").unwrap().op, Op::Gt);
        let e = parse("pages > 5").unwrap_err();
        assert!(
            e.contains("unknown metric \"pages\"") && e.contains("new_pages_per_day"),
            "{e}"
        );
        assert!(
            parse("new_pages_per_day > many")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            parse("new_pages_per_day")
                .unwrap_err()
                .contains("METRIC OP NUMBER")
        );
    }

    #[test]
    fn the_first_threshold_crossed_sets_the_exit_code() {
        let c = |threshold| Crossed {
            threshold,
            text: String::new(),
            rule: String::new(),
            value: 0.0,
        };
        assert_eq!(exit_code(&[]), None);
        assert_eq!(exit_code(&[c(2), c(1)]), Some(11));
    }
}
