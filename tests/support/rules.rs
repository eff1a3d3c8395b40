//! Builders shared by the rule tests: config rules, samples and contexts without a
//! loader, so a test states exactly the rule it exercises.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tocsin::config::{AlertingSpec, RecordingSpec, Rule, RuleKind};
use tocsin::labels::Labels;
use tocsin::rule::{Alert, AlertingRule, EvalTime, RuleContext, StepOutput, is_stale_nan};
use tocsin::sample::Sample;
use tocsin::template::Template;

pub const SEC: i64 = 1000;
pub const MIN: i64 = 60 * SEC;

pub fn tmpl(name: &str, text: &str) -> Template {
    Template::parse(name, text).expect("test template parses")
}

pub fn alerting(name: &str, expr: &str, for_s: u64, kff_s: u64, labels: &[(&str, &str)]) -> Rule {
    alerting_with(name, expr, for_s, kff_s, labels, &[])
}

pub fn alerting_with(
    name: &str,
    expr: &str,
    for_s: u64,
    kff_s: u64,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> Rule {
    rule(
        RuleKind::Alerting(std::sync::Arc::new(AlertingSpec {
            name: name.into(),
            for_: Duration::from_secs(for_s),
            keep_firing_for: Duration::from_secs(kff_s),
            annotations: annotations
                .iter()
                .map(|(n, v)| (n.to_string(), tmpl(n, v)))
                .collect(),
            ext: Default::default(),
        })),
        expr,
        labels,
    )
}

pub fn recording(name: &str, expr: &str, labels: &[(&str, &str)]) -> Rule {
    rule(
        RuleKind::Recording(RecordingSpec { name: name.into() }),
        expr,
        labels,
    )
}

/// The first rule of a file, of `kind`, with `labels` as templates.
fn rule(kind: RuleKind, expr: &str, labels: &[(&str, &str)]) -> Rule {
    Rule {
        kind,
        expr: expr.into(),
        labels: labels
            .iter()
            .map(|(n, v)| (n.to_string(), tmpl(n, v)))
            .collect(),
        debug: false,
        update_entries_limit: None,
        index: 0,
        line: 1,
    }
}

pub fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

pub fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        labels: ls(pairs),
        value,
        timestamp_ms: 0,
    }
}

/// A context with vmalert's `alertgroup` label off, so expectations read like
/// Prometheus'; tests of that label turn it on.
pub fn ctx() -> RuleContext {
    let mut c = RuleContext {
        group_name: "g".into(),
        file: "rules.yml".into(),
        interval: Duration::from_secs(60),
        ..RuleContext::default()
    };
    c.settings.disable_alertgroup_label = true;
    c
}

pub fn arc(c: RuleContext) -> Arc<RuleContext> {
    Arc::new(c)
}

pub fn is_stale(s: &Sample) -> bool {
    is_stale_nan(s.value)
}

/// One alerting step at `ts_ms` (no `query_offset`, no template querier).
pub fn step_at(r: &mut AlertingRule, input: Result<Vec<Sample>, String>, ts_ms: i64) -> StepOutput {
    r.step(input, EvalTime::at(ts_ms), None)
}

/// The rule's alerts, ordered by their labels (the rule keeps them unordered).
pub fn alerts_sorted(r: &AlertingRule) -> Vec<Alert> {
    let mut v: Vec<Alert> = r.alerts().cloned().collect();
    v.sort_by_key(|a| a.labels.to_string());
    v
}

/// Series as `(labels text, value or "stale", ts)`, sorted, for readable assertions.
pub fn series_view(series: &[Sample]) -> Vec<(String, String, i64)> {
    let mut v: Vec<_> = series
        .iter()
        .map(|s| {
            let val = if is_stale(s) {
                "stale".to_string()
            } else {
                s.value.to_string()
            };
            (s.labels.to_string(), val, s.timestamp_ms)
        })
        .collect();
    v.sort();
    v
}
