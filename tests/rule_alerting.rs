//! The alerting state machine, step by step with explicit timestamps.

use std::sync::Arc;
use std::time::Duration;

use tocsin::config::{LoadOptions, load_str};
use tocsin::labels::Labels;
use tocsin::rule::{AlertState, AlertingRule, EvalTime, Health, Rule, RuleContext, is_stale_nan};
use tocsin::sample::Sample;

const S: i64 = 1000;
const T0: i64 = 1_700_000_000_000;

fn rule_with(body: &str, ctx: RuleContext) -> AlertingRule {
    let text = format!("groups:\n- name: g\n  rules:\n{body}");
    let gs = load_str(
        std::path::Path::new("r.yml"),
        &text,
        &LoadOptions::default(),
    )
    .expect("valid rule");
    match Rule::new(&gs[0].rules[0], Arc::new(ctx)) {
        Rule::Alerting(a) => a,
        Rule::Recording(_) => panic!("not an alerting rule"),
    }
}

fn ctx() -> RuleContext {
    let mut c = RuleContext {
        group_name: "g".into(),
        interval: Duration::from_secs(10),
        ..RuleContext::default()
    };
    c.settings.resend_delay = Duration::from_secs(60);
    c
}

fn rule(body: &str) -> AlertingRule {
    rule_with(body, ctx())
}

fn sample(pairs: &[(&str, &str)], v: f64) -> Sample {
    Sample {
        labels: Labels::from_pairs(pairs.iter().copied()),
        value: v,
        timestamp_ms: 0,
    }
}

fn up(instance: &str) -> Sample {
    sample(&[("__name__", "up"), ("instance", instance)], 0.0)
}

fn states(r: &AlertingRule) -> Vec<(String, AlertState)> {
    let mut v: Vec<_> = r
        .alerts()
        .map(|a| (a.labels.get("instance").unwrap_or("").to_string(), a.state))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn step(r: &mut AlertingRule, samples: Vec<Sample>, ts: i64) -> tocsin::rule::StepOutput {
    r.step(Ok(samples), EvalTime::at(ts), None)
}

const FOR_30S: &str =
    "  - alert: Down\n    expr: up == 0\n    for: 30s\n    labels:\n      severity: page\n";

#[test]
fn pending_then_firing_exactly_at_for() {
    let mut r = rule(FOR_30S);
    step(&mut r, vec![up("a")], T0);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 20 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 30 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.active_at_ms, T0);
    assert_eq!(a.fired_at_ms, Some(T0 + 30 * S));
    assert_eq!(a.labels.get("alertname"), Some("Down"));
    assert_eq!(a.labels.get("alertgroup"), Some("g"));
    assert_eq!(a.labels.get("severity"), Some("page"));
    assert_eq!(a.labels.get("__name__"), None);
}

#[test]
fn for_zero_fires_at_once() {
    let mut r = rule("  - alert: Now\n    expr: up == 0\n");
    step(&mut r, vec![up("a")], T0);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
}

#[test]
fn pending_that_disappears_is_forgotten() {
    let mut r = rule(FOR_30S);
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![], T0 + 10 * S);
    assert!(states(&r).is_empty());
    // Coming back starts a new pending period.
    step(&mut r, vec![up("a")], T0 + 20 * S);
    assert_eq!(r.alerts().next().unwrap().active_at_ms, T0 + 20 * S);
}

#[test]
fn firing_that_disappears_resolves_and_is_kept_for_retention() {
    let mut r = rule("  - alert: Now\n    expr: up == 0\n");
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![], T0 + 10 * S);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms, Some(T0 + 10 * S));
    step(&mut r, vec![], T0 + 10 * S + 15 * 60 * S);
    assert_eq!(r.alerts().count(), 1, "kept while ts - resolvedAt <= 15m");
    step(&mut r, vec![], T0 + 20 * S + 15 * 60 * S);
    assert_eq!(r.alerts().count(), 0, "dropped after the retention");
}

#[test]
fn resolved_alert_that_returns_is_pending_again_with_new_active_at() {
    let mut r = rule(FOR_30S);
    for i in 0..4 {
        step(&mut r, vec![up("a")], T0 + i * 10 * S);
    }
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    step(&mut r, vec![], T0 + 40 * S);
    step(&mut r, vec![up("a")], T0 + 50 * S);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Pending);
    assert_eq!(a.active_at_ms, T0 + 50 * S);
    assert_eq!(a.resolved_at_ms, None);
}

#[test]
fn keep_firing_for_holds_then_resolves_and_resets_on_return() {
    let mut r = rule("  - alert: K\n    expr: up == 0\n    keep_firing_for: 20s\n");
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![], T0 + 10 * S);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.keep_firing_since_ms, Some(T0 + 10 * S));
    step(&mut r, vec![], T0 + 20 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    // Back in the result: the keep-firing clock resets.
    step(&mut r, vec![up("a")], T0 + 25 * S);
    assert_eq!(r.alerts().next().unwrap().keep_firing_since_ms, None);
    step(&mut r, vec![], T0 + 30 * S);
    step(&mut r, vec![], T0 + 49 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    step(&mut r, vec![], T0 + 50 * S);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms, Some(T0 + 50 * S));
}

#[test]
fn duplicate_labelsets_fail_the_rule_and_keep_state() {
    let mut r = rule("  - alert: D\n    expr: up == 0\n    labels:\n      instance: same\n");
    step(&mut r, vec![up("x")], T0);
    let out = step(&mut r, vec![up("a"), up("b")], T0 + 10 * S);
    assert!(out.series.is_empty());
    assert_eq!(r.health(), Health::Err);
    assert!(r.last_error().unwrap().contains("same labelset"));
    assert_eq!(states(&r), [("same".into(), AlertState::Firing)]);
}

#[test]
fn limit_exceeded_clears_alerts_and_errors() {
    let mut c = ctx();
    c.limit = 1;
    let mut r = rule_with("  - alert: L\n    expr: up == 0\n", c);
    let out = step(&mut r, vec![up("a"), up("b")], T0);
    assert!(out.series.is_empty());
    assert_eq!(
        out.error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert_eq!(r.alerts().count(), 0);
    step(&mut r, vec![up("a")], T0 + 10 * S);
    assert_eq!(r.health(), Health::Ok);
}

#[test]
fn query_errors_change_nothing_and_write_nothing() {
    let mut r = rule(FOR_30S);
    step(&mut r, vec![up("a")], T0);
    let out = r.step(Err("boom".into()), EvalTime::at(T0 + 10 * S), None);
    assert!(out.series.is_empty());
    assert_eq!(r.last_error(), Some("boom"));
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
}

#[test]
fn empty_rule_label_value_deletes_the_label() {
    let mut r = rule("  - alert: E\n    expr: up == 0\n    labels:\n      instance: ''\n");
    step(&mut r, vec![up("a")], T0);
    assert_eq!(r.alerts().next().unwrap().labels.get("instance"), None);
}

#[test]
fn templated_labels_create_distinct_alerts_and_annotations_render() {
    let mut r = rule(concat!(
        "  - alert: T\n    expr: up == 0\n    labels:\n      who: '{{ $labels.instance }}-x'\n",
        "    annotations:\n      summary: '{{ $labels.instance }} is {{ $value }}'\n"
    ));
    step(&mut r, vec![up("a"), up("b")], T0);
    let mut who: Vec<String> = r
        .alerts()
        .map(|a| a.labels.get("who").unwrap().to_string())
        .collect();
    who.sort();
    assert_eq!(who, ["a-x", "b-x"]);
    let a = r
        .alerts()
        .find(|a| a.labels.get("instance") == Some("a"))
        .unwrap();
    assert_eq!(
        a.annotations.to_vec(),
        [("summary".to_string(), "a is 0".to_string())]
    );
}

/// The annotation of the one active alert (a label change leaves the old alert behind,
/// resolved, in an order the rule does not define).
fn annotation(r: &AlertingRule, name: &str) -> String {
    let mut active = r.alerts().filter(|a| a.state != AlertState::Inactive);
    let a = active.next().expect("one active alert");
    assert!(active.next().is_none(), "more than one active alert");
    a.annotations.get(name).expect("annotation").to_string()
}

#[test]
fn renderings_follow_value_labels_and_clock_across_evaluations() {
    // Rendered labels and annotations are reused between evaluations; each must still
    // show what its templates read at this evaluation.
    let mut r = rule(concat!(
        "  - alert: T\n    expr: x > 0\n    labels:\n      sev: '{{ if gt $value 5.0 }}high{{ else }}low{{ end }}'\n",
        "    annotations:\n      value: 'v={{ $value }}'\n      who: '{{ $labels.instance }}'\n",
        "      at: '{{ now | humanizeTimestamp }}'\n"
    ));
    let x = |v: f64| sample(&[("__name__", "x"), ("instance", "a")], v);
    step(&mut r, vec![x(1.0)], T0);
    assert_eq!(annotation(&r, "value"), "v=1");
    assert_eq!(annotation(&r, "who"), "a");
    let at0 = annotation(&r, "at");
    step(&mut r, vec![x(1.0)], T0 + 60 * S);
    assert_eq!(annotation(&r, "value"), "v=1");
    assert_ne!(
        annotation(&r, "at"),
        at0,
        "`now` is read at every evaluation"
    );
    step(&mut r, vec![x(7.0)], T0 + 120 * S);
    assert_eq!(annotation(&r, "value"), "v=7");
    let sev: Vec<_> = r
        .alerts()
        .filter(|a| a.state != AlertState::Inactive)
        .map(|a| a.labels.get("sev").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        sev,
        ["high"],
        "a label template reading $value is re-rendered"
    );
    let mut r = rule(concat!(
        "  - alert: U\n    expr: x > 0\n",
        "    annotations:\n      value: 'v={{ $value }}'\n"
    ));
    step(&mut r, vec![x(1.0)], T0);
    step(&mut r, vec![x(2.0)], T0 + 60 * S);
    assert_eq!(annotation(&r, "value"), "v=2");
}

fn series_named<'a>(out: &'a tocsin::rule::StepOutput, name: &str) -> Vec<&'a Sample> {
    out.series
        .iter()
        .filter(|s| s.labels.get("__name__") == Some(name))
        .collect()
}

#[test]
fn alerts_series_track_state_with_stale_markers() {
    let mut r = rule(FOR_30S);
    let out = step(&mut r, vec![up("a")], T0);
    let alerts = series_named(&out, "ALERTS");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels.get("alertstate"), Some("pending"));
    assert_eq!(alerts[0].value, 1.0);
    assert_eq!(alerts[0].timestamp_ms, T0);
    let fs = series_named(&out, "ALERTS_FOR_STATE");
    assert_eq!(fs[0].value, (T0 / 1000) as f64);
    assert_eq!(fs[0].labels.get("alertstate"), None);

    step(&mut r, vec![up("a")], T0 + 10 * S);
    step(&mut r, vec![up("a")], T0 + 20 * S);
    let out = step(&mut r, vec![up("a")], T0 + 30 * S);
    let alerts = series_named(&out, "ALERTS");
    let firing: Vec<_> = alerts.iter().filter(|s| !is_stale_nan(s.value)).collect();
    let stale: Vec<_> = alerts.iter().filter(|s| is_stale_nan(s.value)).collect();
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0].labels.get("alertstate"), Some("firing"));
    assert_eq!(stale.len(), 1, "the pending series ends with a marker");
    assert_eq!(stale[0].labels.get("alertstate"), Some("pending"));

    let out = step(&mut r, vec![], T0 + 40 * S);
    assert!(out.series.iter().all(|s| is_stale_nan(s.value)));
    assert_eq!(out.series.len(), 2, "ALERTS and ALERTS_FOR_STATE end");
}

#[test]
fn resend_cadence_ends_at_and_generator_url() {
    let mut c = ctx();
    c.settings.external_url = "http://tocsin:8880".into();
    c.settings.external_labels = Labels::from_pairs([("cluster", "eu")]);
    let mut r = rule_with("  - alert: R\n    expr: up == 0\n", c);
    step(&mut r, vec![up("a")], T0);
    let sent = r.alerts_to_send(T0);
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    assert_eq!(n.starts_at_ms, T0);
    assert_eq!(
        n.ends_at_ms,
        T0 + 4 * 60 * S,
        "4 x max(interval, resendDelay)"
    );
    assert_eq!(n.labels.get("cluster"), Some("eu"));
    assert_eq!(
        &*n.generator_url,
        "http://tocsin:8880/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );
    assert!(r.alerts().next().unwrap().labels.get("cluster").is_none());
    // Not again until resendDelay has strictly passed.
    step(&mut r, vec![up("a")], T0 + 60 * S);
    assert!(r.alerts_to_send(T0 + 60 * S).is_empty());
    step(&mut r, vec![up("a")], T0 + 70 * S);
    assert_eq!(r.alerts_to_send(T0 + 70 * S).len(), 1);
    // Resolution is sent at once, with endsAt = resolvedAt.
    step(&mut r, vec![], T0 + 80 * S);
    let sent = r.alerts_to_send(T0 + 80 * S);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at_ms, T0 + 80 * S);
    assert_eq!(sent[0].starts_at_ms, T0);
    assert!(r.alerts_to_send(T0 + 90 * S).is_empty());
}

#[test]
fn pending_alerts_are_never_sent() {
    let mut r = rule(FOR_30S);
    step(&mut r, vec![up("a")], T0);
    assert!(r.alerts_to_send(T0).is_empty());
}

#[test]
fn max_resolve_duration_caps_ends_at() {
    let mut c = ctx();
    c.settings.max_resolve_duration = Duration::from_secs(30);
    let mut r = rule_with("  - alert: M\n    expr: up == 0\n", c);
    step(&mut r, vec![up("a")], T0);
    assert_eq!(r.alerts_to_send(T0)[0].ends_at_ms, T0 + 30 * S);
}

#[test]
fn removing_a_rule_resolves_its_firing_alerts_now() {
    let mut r = rule("  - alert: Now\n    expr: up == 0\n");
    step(&mut r, vec![up("a"), up("b")], T0);
    r.alerts_to_send(T0);
    let sent = r.resolve_all(T0 + 5 * S);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|n| n.ends_at_ms == T0 + 5 * S));
}

#[test]
fn raising_for_above_an_alerts_age_returns_it_to_pending() {
    let mut r = rule("  - alert: U\n    expr: up == 0\n    for: 10s\n");
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![up("a")], T0 + 10 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    let text = "groups:\n- name: g\n  rules:\n  - alert: U\n    expr: up == 0\n    for: 1m\n";
    let gs = load_str(std::path::Path::new("r.yml"), text, &LoadOptions::default()).unwrap();
    r.update(&gs[0].rules[0], Arc::new(ctx()));
    step(&mut r, vec![up("a")], T0 + 20 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 60 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
}

#[test]
fn raising_for_below_an_alerts_age_keeps_it_firing() {
    let mut r = rule("  - alert: U\n    expr: up == 0\n    for: 10s\n");
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![up("a")], T0 + 10 * S);
    let text = "groups:\n- name: g\n  rules:\n  - alert: U\n    expr: up == 0\n    for: 1m\n";
    let gs = load_str(std::path::Path::new("r.yml"), text, &LoadOptions::default()).unwrap();
    r.update(&gs[0].rules[0], Arc::new(ctx()));
    step(&mut r, vec![up("a")], T0 + 120 * S);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(
        a.fired_at_ms,
        Some(T0 + 10 * S),
        "no new startsAt, no new page"
    );
}

#[test]
fn restored_active_at_keeps_the_for_clock() {
    let mut r = rule(FOR_30S);
    let labels = Labels::from_pairs([
        ("alertgroup", "g"),
        ("alertname", "Down"),
        ("instance", "a"),
        ("severity", "page"),
    ]);
    r.restore(labels, T0 - 25 * S);
    step(&mut r, vec![up("a")], T0);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 5 * S);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
}

#[test]
fn an_alert_firing_before_a_restart_keeps_its_start_time() {
    let mut r = rule(FOR_30S);
    let labels = Labels::from_pairs([
        ("alertgroup", "g"),
        ("alertname", "Down"),
        ("instance", "a"),
        ("severity", "page"),
    ]);
    // Active since T0-100s; with for 30s on a 10s grid it fired at T0-70s.
    r.restore(labels, T0 - 100 * S);
    step(&mut r, vec![up("a")], T0);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.fired_at_ms, Some(T0 - 70 * S));
    assert_eq!(r.alerts_to_send(T0)[0].starts_at_ms, T0 - 70 * S);
}
