//! The alerting state machine, step by step with explicit timestamps, checking the exact
//! series written at each step (ported from the `rulecore` branch; complements
//! rule_alerting.rs, which loads its rules from YAML).

mod rule_support;

use std::time::Duration;

use rule_support::*;
use tocsin::rule::alerting::DUPLICATE_LABELSET;
use tocsin::rule::{AlertState, AlertingRule, EvalTime, Health, Rule, RuleContext};
use tocsin::sample::Sample;

const T0: i64 = 1_700_000_000_000;

fn rule(for_s: u64, kff_s: u64) -> AlertingRule {
    AlertingRule::new(
        &alerting("HighLoad", "load > 1", for_s, kff_s, &[]),
        arc(ctx()),
    )
}

fn load(instance: &str, v: f64) -> Sample {
    sample(&[("__name__", "load"), ("instance", instance)], v)
}

fn one(instance: &str) -> Result<Vec<Sample>, String> {
    Ok(vec![load(instance, 2.0)])
}

fn none() -> Result<Vec<Sample>, String> {
    Ok(vec![])
}

fn alerts_series(state: &str, inst: &str, ts: i64, active_at: i64) -> Vec<(String, String, i64)> {
    let mut v = vec![
        (
            format!(
                r#"{{__name__="ALERTS", alertname="HighLoad", alertstate="{state}", instance="{inst}"}}"#
            ),
            "1".to_string(),
            ts,
        ),
        (
            format!(r#"{{__name__="ALERTS_FOR_STATE", alertname="HighLoad", instance="{inst}"}}"#),
            (active_at / 1000).to_string(),
            ts,
        ),
    ];
    v.sort();
    v
}

fn stale(name: &str, state: Option<&str>, inst: &str, ts: i64) -> (String, String, i64) {
    let labels = match state {
        Some(s) => format!(
            r#"{{__name__="{name}", alertname="HighLoad", alertstate="{s}", instance="{inst}"}}"#
        ),
        None => format!(r#"{{__name__="{name}", alertname="HighLoad", instance="{inst}"}}"#),
    };
    (labels, "stale".to_string(), ts)
}

fn only(r: &AlertingRule) -> tocsin::rule::Alert {
    let a = alerts_sorted(r);
    assert_eq!(a.len(), 1, "expected exactly one alert, got {a:?}");
    a.into_iter().next().unwrap()
}

#[test]
fn pending_then_firing_at_exactly_for() {
    let mut r = rule(120, 0);
    let out = step_at(&mut r, one("a"), T0);
    assert!(out.error.is_none());
    assert_eq!(
        series_view(&out.series),
        alerts_series("pending", "a", T0, T0)
    );
    let a = only(&r);
    assert_eq!(a.state, AlertState::Pending);
    assert_eq!(a.active_at_ms, T0);
    assert_eq!(
        a.labels,
        ls(&[("alertname", "HighLoad"), ("instance", "a")])
    );
    assert_eq!(a.value, 2.0);

    let out = step_at(&mut r, one("a"), T0 + MIN);
    assert_eq!(only(&r).state, AlertState::Pending);
    assert_eq!(
        series_view(&out.series),
        alerts_series("pending", "a", T0 + MIN, T0)
    );

    // 1 ms short of `for` is still pending.
    let out = step_at(&mut r, one("a"), T0 + 2 * MIN - 1);
    assert_eq!(only(&r).state, AlertState::Pending);
    assert_eq!(out.series.len(), 2);

    let t = T0 + 2 * MIN;
    let out = step_at(&mut r, one("a"), t);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.fired_at_ms, Some(t));
    assert_eq!(a.active_at_ms, T0);
    let mut exp = alerts_series("firing", "a", t, T0);
    exp.push(stale("ALERTS", Some("pending"), "a", t));
    exp.sort();
    assert_eq!(series_view(&out.series), exp);
    assert_eq!(r.health(), Health::Ok);
}

#[test]
fn zero_for_fires_at_once() {
    let mut r = rule(0, 0);
    let out = step_at(&mut r, one("a"), T0);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!((a.active_at_ms, a.fired_at_ms), (T0, Some(T0)));
    assert_eq!(
        series_view(&out.series),
        alerts_series("firing", "a", T0, T0)
    );
}

#[test]
fn pending_that_disappears_is_deleted_and_its_series_go_stale() {
    let mut r = rule(300, 0);
    step_at(&mut r, one("a"), T0);
    let t = T0 + MIN;
    let out = step_at(&mut r, none(), t);
    assert!(r.alerts().next().is_none());
    let mut exp = vec![
        stale("ALERTS", Some("pending"), "a", t),
        stale("ALERTS_FOR_STATE", None, "a", t),
    ];
    exp.sort();
    assert_eq!(series_view(&out.series), exp);
    assert!(r.alerts_to_send(t).is_empty());
    // Nothing left to mark stale afterwards.
    assert!(step_at(&mut r, none(), t + MIN).series.is_empty());
}

#[test]
fn firing_that_disappears_resolves() {
    let mut r = rule(0, 0);
    step_at(&mut r, one("a"), T0);
    let t = T0 + MIN;
    let out = step_at(&mut r, none(), t);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms, Some(t));
    assert_eq!(a.fired_at_ms, Some(T0));
    let mut exp = vec![
        stale("ALERTS", Some("firing"), "a", t),
        stale("ALERTS_FOR_STATE", None, "a", t),
    ];
    exp.sort();
    assert_eq!(series_view(&out.series), exp);
}

#[test]
fn keep_firing_for_holds_then_resolves() {
    let mut r = rule(0, 120);
    step_at(&mut r, one("a"), T0);
    // Gone at T0+1m: keeps firing, KeepFiringSince set.
    let out = step_at(&mut r, none(), T0 + MIN);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.keep_firing_since_ms, Some(T0 + MIN));
    assert_eq!(
        series_view(&out.series),
        alerts_series("firing", "a", T0 + MIN, T0)
    );
    // 1m into keep_firing_for: still firing.
    step_at(&mut r, none(), T0 + 2 * MIN);
    assert_eq!(only(&r).state, AlertState::Firing);
    // Exactly keep_firing_for after KeepFiringSince: resolved.
    let t = T0 + 3 * MIN;
    let out = step_at(&mut r, none(), t);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms, Some(t));
    assert_eq!(out.series.iter().filter(|s| is_stale(s)).count(), 2);
}

#[test]
fn keep_firing_since_resets_when_the_alert_returns() {
    let mut r = rule(0, 120);
    step_at(&mut r, one("a"), T0);
    step_at(&mut r, none(), T0 + MIN);
    assert_eq!(only(&r).keep_firing_since_ms, Some(T0 + MIN));
    step_at(&mut r, one("a"), T0 + 2 * MIN);
    assert_eq!(only(&r).keep_firing_since_ms, None);
    // Gone again: the window starts over from here.
    step_at(&mut r, none(), T0 + 3 * MIN);
    assert_eq!(only(&r).keep_firing_since_ms, Some(T0 + 3 * MIN));
    step_at(&mut r, none(), T0 + 4 * MIN);
    assert_eq!(only(&r).state, AlertState::Firing);
    step_at(&mut r, none(), T0 + 5 * MIN);
    assert_eq!(only(&r).state, AlertState::Inactive);
}

#[test]
fn resolved_alert_that_returns_starts_pending_again() {
    let mut r = rule(60, 0);
    step_at(&mut r, one("a"), T0);
    step_at(&mut r, one("a"), T0 + MIN);
    assert_eq!(only(&r).state, AlertState::Firing);
    step_at(&mut r, none(), T0 + 2 * MIN);
    assert_eq!(only(&r).state, AlertState::Inactive);
    let t = T0 + 3 * MIN;
    step_at(&mut r, one("a"), t);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Pending);
    assert_eq!(a.active_at_ms, t);
    assert_eq!(
        (a.fired_at_ms, a.resolved_at_ms, a.last_sent_at_ms),
        (None, None, None)
    );
}

#[test]
fn resolved_alert_is_dropped_after_retention() {
    let mut r = rule(0, 0);
    step_at(&mut r, one("a"), T0);
    let resolved = T0 + MIN;
    step_at(&mut r, none(), resolved);
    // Exactly 15m later it is still kept (Prometheus drops when strictly older).
    step_at(&mut r, none(), resolved + 15 * MIN);
    assert_eq!(only(&r).state, AlertState::Inactive);
    step_at(&mut r, none(), resolved + 15 * MIN + SEC);
    assert!(r.alerts().next().is_none());
}

#[test]
fn custom_resolved_retention() {
    let mut c = ctx();
    c.settings.resolved_retention = Duration::from_secs(60);
    let mut r = AlertingRule::new(&alerting("HighLoad", "load > 1", 0, 0, &[]), arc(c));
    step_at(&mut r, one("a"), T0);
    step_at(&mut r, none(), T0 + MIN);
    step_at(&mut r, none(), T0 + 2 * MIN + 1);
    assert!(r.alerts().next().is_none());
}

#[test]
fn duplicate_label_sets_fail_without_touching_state() {
    let mut r = rule(0, 0);
    step_at(&mut r, one("a"), T0);
    let before = only(&r);
    // Two series that only differ by __name__ collapse to one alert.
    let dup = Ok(vec![
        sample(&[("__name__", "x"), ("instance", "a")], 5.0),
        sample(&[("__name__", "y"), ("instance", "a")], 6.0),
    ]);
    let out = step_at(&mut r, dup, T0 + MIN);
    assert_eq!(out.error.as_deref(), Some(DUPLICATE_LABELSET));
    assert!(out.series.is_empty());
    assert_eq!(r.health(), Health::Err);
    assert_eq!(
        r.last_error(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
    let after = only(&r);
    assert_eq!((after.value, after.state), (before.value, before.state));
    // Recovers on the next good evaluation, and nothing was marked stale meanwhile.
    let out = step_at(&mut r, one("a"), T0 + 2 * MIN);
    assert!(out.error.is_none());
    assert_eq!(r.health(), Health::Ok);
    assert_eq!(r.last_error(), None);
    assert!(out.series.iter().all(|s| !is_stale(s)));
}

#[test]
fn query_error_sets_health_and_writes_nothing() {
    let mut r = rule(0, 0);
    step_at(&mut r, one("a"), T0);
    let out = step_at(&mut r, Err("bad gateway".into()), T0 + MIN);
    assert_eq!(out.error.as_deref(), Some("bad gateway"));
    assert!(out.series.is_empty());
    assert_eq!(r.last_error(), Some("bad gateway"));
    // The alert keeps firing: a failed query is not an absent result.
    assert_eq!(only(&r).state, AlertState::Firing);
}

#[test]
fn limit_exceeded_errors_and_clears_alerts() {
    let c = RuleContext { limit: 1, ..ctx() };
    let mut r = AlertingRule::new(&alerting("HighLoad", "load > 1", 0, 0, &[]), arc(c));
    let out = step_at(&mut r, one("a"), T0);
    assert!(out.error.is_none());
    let out = step_at(&mut r, Ok(vec![load("a", 2.0), load("b", 3.0)]), T0 + MIN);
    assert_eq!(
        out.error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert!(out.series.is_empty());
    assert_eq!(r.last_error(), Some("exceeded limit of 1 with 2 alerts"));
    // Dropped without a resolved notification, as Prometheus does.
    assert!(r.alerts().next().is_none());
    assert!(r.alerts_to_send(T0 + MIN).is_empty());
    // The next good step marks the old series stale.
    let out = step_at(&mut r, none(), T0 + 2 * MIN);
    assert_eq!(out.series.iter().filter(|s| is_stale(s)).count(), 2);
}

#[test]
fn rule_labels_group_labels_and_empty_values() {
    let c = RuleContext {
        group_labels: ls(&[("team", "ops"), ("severity", "group"), ("env", "prod")]),
        ..ctx()
    };
    let rl = alerting(
        "HighLoad",
        "load > 1",
        0,
        0,
        &[("severity", "page"), ("instance", ""), ("env", "")],
    );
    let mut r = AlertingRule::new(&rl, arc(c));
    let out = step_at(
        &mut r,
        Ok(vec![sample(
            &[
                ("__name__", "load"),
                ("instance", "a"),
                ("job", "node"),
                ("team", "dev"),
            ],
            2.0,
        )]),
        T0,
    );
    assert!(out.error.is_none());
    // Rule labels win over group labels; group labels win over sample labels; an empty
    // rule label deletes both the sample's label and the group's.
    assert_eq!(
        only(&r).labels,
        ls(&[
            ("alertname", "HighLoad"),
            ("job", "node"),
            ("severity", "page"),
            ("team", "ops")
        ])
    );
}

#[test]
fn alertgroup_label_when_enabled() {
    let mut c = ctx();
    c.settings.disable_alertgroup_label = false;
    let mut r = AlertingRule::new(&alerting("HighLoad", "load > 1", 0, 0, &[]), arc(c));
    step_at(&mut r, one("a"), T0);
    assert_eq!(only(&r).labels.get("alertgroup"), Some("g"));
}

#[test]
fn distinct_samples_make_distinct_alerts_with_their_own_active_at() {
    let mut r = rule(60, 0);
    step_at(&mut r, one("a"), T0);
    step_at(&mut r, Ok(vec![load("a", 2.0), load("b", 3.0)]), T0 + MIN);
    let a = alerts_sorted(&r);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].labels.get("instance"), Some("a"));
    assert_eq!((a[0].state, a[0].active_at_ms), (AlertState::Firing, T0));
    assert_eq!(
        (a[1].state, a[1].active_at_ms),
        (AlertState::Pending, T0 + MIN)
    );
    assert_eq!(a[1].value, 3.0);
}

#[test]
fn templated_labels_create_distinct_alerts() {
    let rl = alerting(
        "HighLoad",
        "load > 1",
        0,
        0,
        &[("level", "{{ if gt $value 10.0 }}high{{ else }}low{{ end }}")],
    );
    let mut r = AlertingRule::new(&rl, arc(ctx()));
    step_at(
        &mut r,
        Ok(vec![
            sample(&[("instance", "a")], 5.0),
            sample(&[("instance", "b")], 50.0),
        ]),
        T0,
    );
    let levels: Vec<_> = alerts_sorted(&r)
        .iter()
        .map(|a| a.labels.get("level").unwrap_or("").to_string())
        .collect();
    assert_eq!(levels, ["low", "high"]);
}

#[test]
fn query_offset_stamps_series_with_the_query_time() {
    // main carries the offset in `EvalTime` rather than in the rule context.
    let mut r = rule(0, 0);
    let t = EvalTime {
        ts_ms: T0,
        query_ts_ms: T0 - 30 * SEC,
    };
    let out = r.step(one("a"), t, None);
    assert!(!out.series.is_empty());
    assert!(out.series.iter().all(|s| s.timestamp_ms == T0 - 30 * SEC));
    // The alert's own clock is the evaluation time.
    assert_eq!(only(&r).active_at_ms, T0);
}

#[test]
fn shorter_for_on_update_keeps_the_alert_and_its_active_at() {
    let mut r = rule(300, 0);
    step_at(&mut r, one("a"), T0);
    assert_eq!(only(&r).state, AlertState::Pending);
    // Shorter `for`: takes effect at the next step, same ActiveAt.
    r.update(&alerting("HighLoad", "load > 1", 60, 0, &[]), arc(ctx()));
    step_at(&mut r, one("a"), T0 + MIN);
    let a = only(&r);
    assert_eq!((a.state, a.active_at_ms), (AlertState::Firing, T0));
}

#[test]
fn restored_active_at_counts_toward_for_and_is_written_back() {
    let mut r = rule(600, 0);
    // main restores before the first evaluation, as pending with the old ActiveAt.
    r.restore(
        ls(&[("alertname", "HighLoad"), ("instance", "a")]),
        T0 - 9 * MIN,
    );
    step_at(&mut r, one("a"), T0);
    let a = only(&r);
    assert_eq!(
        (a.state, a.active_at_ms),
        (AlertState::Pending, T0 - 9 * MIN)
    );
    let out = step_at(&mut r, one("a"), T0 + MIN);
    assert_eq!(only(&r).state, AlertState::Firing);
    let for_state = out
        .series
        .iter()
        .find(|s| s.labels.get("__name__") == Some("ALERTS_FOR_STATE"))
        .map(|s| s.value);
    assert_eq!(for_state, Some(((T0 - 9 * MIN) / 1000) as f64));
}

#[test]
fn stale_markers_for_removed_rule() {
    let mut r = rule(0, 0);
    step_at(&mut r, Ok(vec![load("a", 2.0), load("b", 2.0)]), T0);
    let mut rule = Rule::Alerting(r);
    let m = rule.stale_series(T0 + MIN);
    assert_eq!(m.len(), 4);
    assert!(m.iter().all(|s| is_stale(s) && s.timestamp_ms == T0 + MIN));
    // Once ended, they are not ended again.
    assert!(rule.stale_series(T0 + 2 * MIN).is_empty());
}

#[test]
fn alerts_for_state_is_whole_seconds() {
    let mut r = rule(60, 0);
    let out = step_at(&mut r, one("a"), T0 + 1_999);
    let v = out
        .series
        .iter()
        .find(|s| s.labels.get("__name__") == Some("ALERTS_FOR_STATE"))
        .map(|s| s.value);
    assert_eq!(v, Some((T0 / 1000 + 1) as f64));
}
