//! Recording rules: renaming, labels, duplicates, limit and staleness markers.

use std::sync::Arc;

use tocsin::config::{LoadOptions, load_str};
use tocsin::labels::Labels;
use tocsin::rule::{EvalTime, Health, Rule, RuleContext, is_stale_nan};
use tocsin::sample::Sample;

const T0: i64 = 1_700_000_000_000;

fn rule(group_extra: &str, body: &str, ctx: RuleContext) -> Rule {
    let text = format!("groups:\n- name: g\n{group_extra}  rules:\n{body}");
    let gs = load_str(
        std::path::Path::new("r.yml"),
        &text,
        &LoadOptions::default(),
    )
    .expect("valid rule");
    let mut ctx = ctx;
    ctx.group_labels = gs[0].labels.clone();
    Rule::new(&gs[0].rules[0], Arc::new(ctx))
}

fn s(job: &str, v: f64) -> Sample {
    Sample {
        labels: Labels::from_pairs([("__name__", "up"), ("job", job)]),
        value: v,
        timestamp_ms: 0,
    }
}

#[test]
fn renames_applies_labels_and_marks_vanished_series_stale() {
    let mut r = rule(
        "  labels:\n    team: a\n    tier: x\n",
        "  - record: job:up\n    expr: up\n    labels:\n      tier: y\n",
        {
            let mut c = RuleContext::default();
            c.settings.external_labels = Labels::from_pairs([("cluster", "eu")]);
            c
        },
    );
    let out = r.step(Ok(vec![s("a", 1.0), s("b", 0.0)]), EvalTime::at(T0), None);
    assert_eq!(out.series.len(), 2);
    let first = &out.series[0];
    assert_eq!(first.labels.get("__name__"), Some("job:up"));
    assert_eq!(first.labels.get("team"), Some("a"), "group label");
    assert_eq!(first.labels.get("tier"), Some("y"), "rule label wins");
    assert_eq!(first.labels.get("cluster"), Some("eu"), "external label");
    assert_eq!(first.timestamp_ms, T0);

    let out = r.step(Ok(vec![s("a", 1.0)]), EvalTime::at(T0 + 10_000), None);
    assert_eq!(out.series.len(), 2);
    let stale: Vec<_> = out
        .series
        .iter()
        .filter(|x| is_stale_nan(x.value))
        .collect();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0].labels.get("job"), Some("b"));
    assert_eq!(stale[0].timestamp_ms, T0 + 10_000);
}

#[test]
fn duplicates_and_limit_are_errors_without_output() {
    let mut r = rule(
        "",
        "  - record: x\n    expr: sum(up)\n    labels:\n      job: same\n",
        RuleContext::default(),
    );
    let out = r.step(Ok(vec![s("a", 1.0), s("b", 2.0)]), EvalTime::at(T0), None);
    assert!(out.series.is_empty());
    assert_eq!(r.health(), Health::Err);
    assert!(r.last_error().unwrap().contains("same labelset"));

    let mut r = rule(
        "  limit: 1\n",
        "  - record: y\n    expr: up\n",
        RuleContext {
            limit: 1,
            ..RuleContext::default()
        },
    );
    let out = r.step(Ok(vec![s("a", 1.0), s("b", 2.0)]), EvalTime::at(T0), None);
    assert!(out.series.is_empty());
    assert_eq!(
        out.error.as_deref(),
        Some("exceeded limit of 1 with 2 series")
    );
}

#[test]
fn removal_ends_every_series() {
    let mut r = rule("", "  - record: z\n    expr: up\n", RuleContext::default());
    r.step(Ok(vec![s("a", 1.0), s("b", 2.0)]), EvalTime::at(T0), None);
    let stale = r.stale_series(T0 + 1);
    assert_eq!(stale.len(), 2);
    assert!(
        stale
            .iter()
            .all(|x| is_stale_nan(x.value) && x.timestamp_ms == T0 + 1)
    );
}
