//! What leaves the core for Alertmanager: cadence, startsAt/endsAt, URL, labels, and the
//! resolution sent when a rule is removed.

use std::time::Duration;

use super::support::rules::*;
use super::*;
use tocsin::labels::Labels;
use tocsin::rule::{AlertingRule, RuleContext};
use tocsin::sample::Sample;

const RESEND: Duration = Duration::from_secs(60);

fn firing_input() -> Result<Vec<Sample>, String> {
    Ok(vec![sample(&[("instance", "a")], 2.0)])
}

/// A context whose resend delay is the one these tests reason about.
fn ctx_resend() -> RuleContext {
    let mut c = ctx();
    c.settings.resend_delay = RESEND;
    c
}

fn rule_in(c: RuleContext, for_s: u64) -> AlertingRule {
    AlertingRule::new(
        &alerting_with(
            "Down",
            r#"up{job="node"} == 0"#,
            for_s,
            0,
            &[("severity", "page")],
            &[("summary", "instance down")],
        ),
        arc(c),
    )
}

/// Steps every `interval` from `from` to `to` (inclusive) with `input`, collecting the
/// evaluation times at which something was sent.
fn run(r: &mut AlertingRule, from: i64, to: i64, interval: i64, firing: bool) -> Vec<(i64, bool)> {
    let mut sent = Vec::new();
    let mut ts = from;
    while ts <= to {
        let input = if firing { firing_input() } else { Ok(vec![]) };
        step_at(r, input, ts);
        for a in r.alerts_to_send(ts) {
            sent.push((ts, a.ends_at_ms <= ts));
        }
        ts += interval;
    }
    sent
}

#[test]
fn pending_is_never_sent() {
    let mut r = rule_in(ctx_resend(), 600);
    let sent = run(&mut r, T0, T0 + 5 * MIN, 15 * SEC, true);
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn firing_resend_cadence_follows_prometheus() {
    let c = RuleContext {
        interval: Duration::from_secs(15),
        ..ctx_resend()
    };
    let mut r = rule_in(c, 0);
    let sent = run(&mut r, T0, T0 + 4 * MIN, 15 * SEC, true);
    // Sent at once, then when strictly more than the resend delay has passed: with a
    // 15s interval that is every 75s.
    let times: Vec<i64> = sent.iter().map(|(t, _)| (t - T0) / SEC).collect();
    assert_eq!(times, [0, 75, 150, 225]);
    assert!(sent.iter().all(|(_, resolved)| !resolved));
}

#[test]
fn resolved_is_sent_at_once_then_resent_during_retention_only() {
    let c = RuleContext {
        interval: Duration::from_secs(60),
        ..ctx_resend()
    };
    let mut r = rule_in(c, 0);
    run(&mut r, T0, T0 + 30 * SEC, 30 * SEC, true);
    let resolved_at = T0 + MIN;
    let sent = run(&mut r, resolved_at, resolved_at + 20 * MIN, 30 * SEC, false);
    let times: Vec<i64> = sent.iter().map(|(t, _)| (t - resolved_at) / SEC).collect();
    // First at the resolution (even though it was sent 30s earlier as firing), then
    // every 90s (strictly after 60s at a 30s cadence) until dropped after 15m.
    assert_eq!(times, [0, 90, 180, 270, 360, 450, 540, 630, 720, 810, 900]);
    assert!(sent.iter().all(|(_, resolved)| *resolved));
}

#[test]
fn starts_at_is_fired_at_and_ends_at_follows_interval_and_resend_delay() {
    let c = RuleContext {
        interval: Duration::from_secs(30),
        ..ctx_resend()
    };
    let mut r = rule_in(c, 60);
    step_at(&mut r, firing_input(), T0);
    assert!(r.alerts_to_send(T0).is_empty());
    let fired = T0 + MIN;
    step_at(&mut r, firing_input(), fired);
    let sent = r.alerts_to_send(fired);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at_ms, fired);
    // 4 × max(30s interval, 60s resend delay).
    assert_eq!(sent[0].ends_at_ms, fired + 4 * MIN);
    let a = &alerts_sorted(&r)[0];
    assert_eq!(a.last_sent_at_ms, Some(fired));

    let resolved = fired + MIN;
    step_at(&mut r, Ok(vec![]), resolved);
    let sent = r.alerts_to_send(resolved);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].starts_at_ms, sent[0].ends_at_ms),
        (fired, resolved)
    );
}

#[test]
fn ends_at_uses_the_larger_interval_and_the_resolve_cap() {
    let c = RuleContext {
        interval: Duration::from_secs(300),
        ..ctx_resend()
    };
    let mut r = rule_in(c.clone(), 0);
    step_at(&mut r, firing_input(), T0);
    assert_eq!(r.alerts_to_send(T0)[0].ends_at_ms, T0 + 20 * MIN);

    let mut capped = c;
    capped.settings.max_resolve_duration = Duration::from_secs(120);
    let mut r = rule_in(capped, 0);
    step_at(&mut r, firing_input(), T0);
    assert_eq!(r.alerts_to_send(T0)[0].ends_at_ms, T0 + 2 * MIN);
}

#[test]
fn generator_url_and_payload() {
    let mut c = ctx_resend();
    c.settings.external_url = "http://tocsin.example:8880/".into();
    c.settings.external_labels = ls(&[("cluster", "eu1"), ("severity", "none")]);
    let mut r = rule_in(c, 0);
    let out = step_at(&mut r, firing_input(), T0);
    let sent = r.alerts_to_send(T0);
    assert_eq!(
        &*sent[0].generator_url,
        "http://tocsin.example:8880/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0&g0.tab=1"
    );
    // External labels are added where absent and never override a rule label.
    assert_eq!(
        sent[0].labels,
        ls(&[
            ("alertname", "Down"),
            ("cluster", "eu1"),
            ("instance", "a"),
            ("severity", "page")
        ])
    );
    // main adds them to ALERTS/ALERTS_FOR_STATE too, as Prometheus' remote write and
    // vmalert do; there as well the rule's `severity` wins over the external one.
    assert!(!out.series.is_empty());
    for s in &out.series {
        assert_eq!(s.labels.get("cluster"), Some("eu1"), "{}", s.labels);
        assert_eq!(s.labels.get("severity"), Some("page"), "{}", s.labels);
    }
    assert_eq!(
        sent[0].annotations.to_vec(),
        vec![("summary".to_string(), "instance down".to_string())]
    );
}

#[test]
fn resend_cadence_ends_at_and_generator_url() {
    let mut c = group_ctx();
    c.settings.external_url = "http://tocsin:8880".into();
    c.settings.external_labels = Labels::from_pairs([("cluster", "eu")]);
    let mut r = AlertingRule::new(&alerting("R", "up == 0", 0, 0, &[]), arc(c));
    step(&mut r, vec![up("a")], T0);
    let sent = r.alerts_to_send(T0);
    assert_eq!(sent.len(), 1);
    let n = &sent[0];
    assert_eq!(n.starts_at_ms, T0);
    assert_eq!(
        n.ends_at_ms,
        T0 + 4 * 60 * SEC,
        "4 x max(interval, resendDelay)"
    );
    assert_eq!(n.labels.get("cluster"), Some("eu"));
    assert_eq!(
        &*n.generator_url,
        "http://tocsin:8880/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );
    assert!(r.alerts().next().unwrap().labels.get("cluster").is_none());
    // Not again until resendDelay has strictly passed.
    step(&mut r, vec![up("a")], T0 + 60 * SEC);
    assert!(r.alerts_to_send(T0 + 60 * SEC).is_empty());
    step(&mut r, vec![up("a")], T0 + 70 * SEC);
    assert_eq!(r.alerts_to_send(T0 + 70 * SEC).len(), 1);
    // Resolution is sent at once, with endsAt = resolvedAt.
    step(&mut r, vec![], T0 + 80 * SEC);
    let sent = r.alerts_to_send(T0 + 80 * SEC);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at_ms, T0 + 80 * SEC);
    assert_eq!(sent[0].starts_at_ms, T0);
    assert!(r.alerts_to_send(T0 + 90 * SEC).is_empty());
}

#[test]
fn pending_is_not_sent_after_its_first_step() {
    let mut r = down_for_30s();
    step(&mut r, vec![up("a")], T0);
    assert!(r.alerts_to_send(T0).is_empty());
}

#[test]
fn max_resolve_duration_caps_ends_at() {
    let mut c = group_ctx();
    c.settings.max_resolve_duration = Duration::from_secs(30);
    let mut r = AlertingRule::new(&alerting("M", "up == 0", 0, 0, &[]), arc(c));
    step(&mut r, vec![up("a")], T0);
    assert_eq!(r.alerts_to_send(T0)[0].ends_at_ms, T0 + 30 * SEC);
}

#[test]
fn removing_a_rule_resolves_its_firing_alerts_now() {
    let mut r = in_group(alerting("Now", "up == 0", 0, 0, &[]));
    step(&mut r, vec![up("a"), up("b")], T0);
    r.alerts_to_send(T0);
    let sent = r.resolve_all(T0 + 5 * SEC);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|n| n.ends_at_ms == T0 + 5 * SEC));
}
