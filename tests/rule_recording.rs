//! Recording rules at the step level: renaming, labels, duplicates, limit, the query
//! timestamp, and staleness markers for vanished series and removed rules. The first
//! tests build their rule through the loader (group labels and external labels as a
//! rule file sets them); the rest build it directly from `support::rules`' builders.

mod support;

use std::sync::Arc;

use support::rules::*;
use tocsin::config::{LoadOptions, load_str};
use tocsin::labels::Labels;
use tocsin::rule::recording::DUPLICATE_SERIES;
use tocsin::rule::{
    EvalTime, Health, RecordingRule, Rule, RuleContext, RuleSettings, is_stale_nan,
};
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

/// `-rule.resultsLimit` is the limit of groups without one; a group's `limit` wins.
#[test]
fn results_limit_applies_where_the_group_sets_no_limit() {
    let settings = RuleSettings {
        results_limit: 1,
        ..RuleSettings::default()
    };
    for (group_extra, want_err) in [
        ("", Some("exceeded limit of 1 with 2 series")),
        ("  limit: 3\n", None),
    ] {
        let text =
            format!("groups:\n- name: g\n{group_extra}  rules:\n  - record: y\n    expr: up\n");
        let gs = load_str("r.yml".as_ref(), &text, &LoadOptions::default()).unwrap();
        let ctx = Arc::new(RuleContext::for_group(&gs[0], &settings));
        let mut r = Rule::new(&gs[0].rules[0], ctx);
        let out = r.step(Ok(vec![s("a", 1.0), s("b", 2.0)]), EvalTime::at(T0), None);
        assert_eq!(out.error.as_deref(), want_err, "{group_extra:?}");
        assert_eq!(out.series.len(), if want_err.is_some() { 0 } else { 2 });
    }
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

fn rec(labels: &[(&str, &str)], c: RuleContext) -> RecordingRule {
    RecordingRule::new(
        &recording("job:up:sum", "sum by (job, instance) (up)", labels),
        arc(c),
    )
}

fn at(ts: i64) -> EvalTime {
    EvalTime::at(ts)
}

#[test]
fn renames_and_applies_labels() {
    let c = RuleContext {
        group_labels: ls(&[("team", "ops"), ("env", "prod")]),
        ..ctx()
    };
    let mut r = rec(&[("env", "staging"), ("instance", "")], c);
    let out = r.step(
        Ok(vec![sample(
            &[
                ("__name__", "up"),
                ("job", "node"),
                ("instance", "a"),
                ("team", "x"),
            ],
            3.0,
        )]),
        at(T0),
    );
    assert!(out.error.is_none());
    // Rule labels win over group labels, group labels over the sample's; an empty rule
    // label removes the sample's label.
    assert_eq!(
        series_view(&out.series),
        [(
            r#"{__name__="job:up:sum", env="staging", job="node", team="ops"}"#.to_string(),
            "3".to_string(),
            T0
        )]
    );
    assert_eq!(r.health(), Health::Ok);
    assert_eq!(out.samples, 1);
}

#[test]
fn series_carry_the_query_timestamp() {
    let mut r = rec(&[], ctx());
    let t = EvalTime {
        ts_ms: T0,
        query_ts_ms: T0 - MIN,
    };
    let out = r.step(Ok(vec![sample(&[("job", "a")], 1.0)]), t);
    assert_eq!(out.series[0].timestamp_ms, T0 - MIN);
}

#[test]
fn duplicates_error_and_write_nothing() {
    let mut r = rec(&[("instance", "")], ctx());
    let out = r.step(
        Ok(vec![
            sample(&[("job", "a"), ("instance", "1")], 1.0),
            sample(&[("job", "a"), ("instance", "2")], 2.0),
        ]),
        at(T0),
    );
    assert_eq!(out.error.as_deref(), Some(DUPLICATE_SERIES));
    assert!(out.series.is_empty());
    assert_eq!(r.health(), Health::Err);
    assert_eq!(
        r.last_error(),
        Some("vector contains metrics with the same labelset after applying rule labels")
    );
}

#[test]
fn disappearing_series_get_stale_markers_once() {
    let mut r = rec(&[], ctx());
    r.step(
        Ok(vec![
            sample(&[("job", "a")], 1.0),
            sample(&[("job", "b")], 2.0),
        ]),
        at(T0),
    );
    let out = r.step(Ok(vec![sample(&[("job", "a")], 5.0)]), at(T0 + MIN));
    assert_eq!(
        series_view(&out.series),
        [
            (
                r#"{__name__="job:up:sum", job="a"}"#.to_string(),
                "5".to_string(),
                T0 + MIN
            ),
            (
                r#"{__name__="job:up:sum", job="b"}"#.to_string(),
                "stale".to_string(),
                T0 + MIN
            ),
        ]
    );
    let out = r.step(Ok(vec![sample(&[("job", "a")], 5.0)]), at(T0 + 2 * MIN));
    assert_eq!(out.series.len(), 1);
}

#[test]
fn failed_evaluation_marks_nothing_stale() {
    let mut r = rec(&[], ctx());
    r.step(Ok(vec![sample(&[("job", "a")], 1.0)]), at(T0));
    let out = r.step(Err("timeout".into()), at(T0 + MIN));
    assert!(out.series.is_empty());
    assert_eq!(r.last_error(), Some("timeout"));
    // After the failure the comparison is still against the last good step.
    let out = r.step(Ok(vec![]), at(T0 + 2 * MIN));
    assert_eq!(out.series.len(), 1);
    assert!(is_stale(&out.series[0]));
}

#[test]
fn limit_exceeded() {
    let c = RuleContext { limit: 2, ..ctx() };
    let mut r = rec(&[], c);
    let two = vec![sample(&[("job", "a")], 1.0), sample(&[("job", "b")], 1.0)];
    assert!(r.step(Ok(two.clone()), at(T0)).error.is_none());
    let mut three = two;
    three.push(sample(&[("job", "c")], 1.0));
    let out = r.step(Ok(three), at(T0 + MIN));
    // Prometheus' wording (rules/recording.go).
    assert_eq!(
        out.error.as_deref(),
        Some("exceeded limit of 2 with 3 series")
    );
    assert_eq!(r.last_error(), Some("exceeded limit of 2 with 3 series"));
    assert!(out.series.is_empty());
}

#[test]
fn rule_enum_dispatches_both_kinds() {
    let c = arc(ctx());
    let mut rules = [
        Rule::new(&recording("r", "up", &[]), c.clone()),
        Rule::new(&alerting("A", "r > 0", 0, 0, &[]), c),
    ];
    let out = rules[0].step(Ok(vec![sample(&[("job", "x")], 1.0)]), at(T0), None);
    assert_eq!(out.series[0].labels.get("__name__"), Some("r"));
    let out = rules[1].step(Ok(vec![sample(&[("job", "x")], 1.0)]), at(T0), None);
    assert_eq!(out.series.len(), 2);
    match &mut rules[1] {
        Rule::Alerting(a) => assert_eq!(a.alerts_to_send(T0).len(), 1),
        Rule::Recording(_) => panic!("second rule is the alerting one"),
    }
    assert!(matches!(rules[0], Rule::Recording(_)));
    assert_eq!(rules[1].name(), "A");
    assert_eq!(rules[0].name(), "r");
    assert_eq!(rules[0].health(), Health::Ok);
}
