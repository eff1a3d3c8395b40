//! Recording rules built without a loader: renaming, labels, duplicates, limit,
//! staleness (ported from the `rulecore` branch; complements rule_recording.rs).

mod rule_support;

use rule_support::*;
use tocsin::rule::recording::DUPLICATE_SERIES;
use tocsin::rule::{EvalTime, Health, RecordingRule, Rule, RuleContext};

const T0: i64 = 1_700_000_000_000;

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
