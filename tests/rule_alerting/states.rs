//! The life of an alert: pending until `for` has passed, firing, resolved when its series
//! leaves the result (or `keep_firing_for` later), kept for the resolved retention, and
//! pending again when it returns.

use std::time::Duration;

use super::support::rules::*;
use super::*;
use tocsin::rule::{AlertState, AlertingRule, Health};

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
fn pending_then_firing_with_rule_and_identity_labels() {
    let mut r = down_for_30s();
    step(&mut r, vec![up("a")], T0);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 20 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 30 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.active_at_ms, T0);
    assert_eq!(a.fired_at_ms, Some(T0 + 30 * SEC));
    assert_eq!(a.labels.get("alertname"), Some("Down"));
    assert_eq!(a.labels.get("alertgroup"), Some("g"));
    assert_eq!(a.labels.get("severity"), Some("page"));
    assert_eq!(a.labels.get("__name__"), None);
}

#[test]
fn zero_for_fires_at_once() {
    let mut r = rule(0, 0);
    let out = step_at(&mut r, one("a"), T0);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!((a.active_at_ms, a.fired_at_ms.get()), (T0, Some(T0)));
    assert_eq!(
        series_view(&out.series),
        alerts_series("firing", "a", T0, T0)
    );
}

#[test]
fn zero_for_fires_at_the_first_step_in_a_group() {
    let mut r = in_group(alerting("Now", "up == 0", 0, 0, &[]));
    step(&mut r, vec![up("a")], T0);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
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
fn pending_that_disappears_is_forgotten() {
    let mut r = down_for_30s();
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![], T0 + 10 * SEC);
    assert!(states(&r).is_empty());
    // Coming back starts a new pending period.
    step(&mut r, vec![up("a")], T0 + 20 * SEC);
    assert_eq!(r.alerts().next().unwrap().active_at_ms, T0 + 20 * SEC);
}

#[test]
fn firing_that_disappears_resolves() {
    let mut r = rule(0, 0);
    step_at(&mut r, one("a"), T0);
    let t = T0 + MIN;
    let out = step_at(&mut r, none(), t);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms(), Some(t));
    assert_eq!(a.fired_at_ms, Some(T0));
    let mut exp = vec![
        stale("ALERTS", Some("firing"), "a", t),
        stale("ALERTS_FOR_STATE", None, "a", t),
    ];
    exp.sort();
    assert_eq!(series_view(&out.series), exp);
}

#[test]
fn firing_that_disappears_resolves_and_is_kept_for_retention() {
    let mut r = in_group(alerting("Now", "up == 0", 0, 0, &[]));
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![], T0 + 10 * SEC);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms(), Some(T0 + 10 * SEC));
    step(&mut r, vec![], T0 + 10 * SEC + 15 * 60 * SEC);
    assert_eq!(r.alerts().count(), 1, "kept while ts - resolvedAt <= 15m");
    step(&mut r, vec![], T0 + 20 * SEC + 15 * 60 * SEC);
    assert_eq!(r.alerts().count(), 0, "dropped after the retention");
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
        (
            a.fired_at_ms.get(),
            a.resolved_at_ms().get(),
            a.last_sent_at_ms.get()
        ),
        (None, None, None)
    );
}

#[test]
fn resolved_alert_that_returns_is_pending_again_with_new_active_at() {
    let mut r = down_for_30s();
    for i in 0..4 {
        step(&mut r, vec![up("a")], T0 + i * 10 * SEC);
    }
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    step(&mut r, vec![], T0 + 40 * SEC);
    step(&mut r, vec![up("a")], T0 + 50 * SEC);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Pending);
    assert_eq!(a.active_at_ms, T0 + 50 * SEC);
    assert_eq!(a.resolved_at_ms(), None);
}

#[test]
fn keep_firing_for_holds_then_resolves() {
    let mut r = rule(0, 120);
    step_at(&mut r, one("a"), T0);
    // Gone at T0+1m: keeps firing, KeepFiringSince set.
    let out = step_at(&mut r, none(), T0 + MIN);
    let a = only(&r);
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.keep_firing_since_ms(), Some(T0 + MIN));
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
    assert_eq!(a.resolved_at_ms(), Some(t));
    assert_eq!(out.series.iter().filter(|s| is_stale(s)).count(), 2);
}

#[test]
fn keep_firing_since_resets_when_the_alert_returns() {
    let mut r = rule(0, 120);
    step_at(&mut r, one("a"), T0);
    step_at(&mut r, none(), T0 + MIN);
    assert_eq!(only(&r).keep_firing_since_ms(), Some(T0 + MIN));
    step_at(&mut r, one("a"), T0 + 2 * MIN);
    assert_eq!(only(&r).keep_firing_since_ms(), None);
    // Gone again: the window starts over from here.
    step_at(&mut r, none(), T0 + 3 * MIN);
    assert_eq!(only(&r).keep_firing_since_ms(), Some(T0 + 3 * MIN));
    step_at(&mut r, none(), T0 + 4 * MIN);
    assert_eq!(only(&r).state, AlertState::Firing);
    step_at(&mut r, none(), T0 + 5 * MIN);
    assert_eq!(only(&r).state, AlertState::Inactive);
}

#[test]
fn keep_firing_for_holds_then_resolves_and_resets_on_return() {
    let mut r = in_group(alerting("K", "up == 0", 0, 20, &[]));
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![], T0 + 10 * SEC);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.keep_firing_since_ms(), Some(T0 + 10 * SEC));
    step(&mut r, vec![], T0 + 20 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    // Back in the result: the keep-firing clock resets.
    step(&mut r, vec![up("a")], T0 + 25 * SEC);
    assert_eq!(r.alerts().next().unwrap().keep_firing_since_ms(), None);
    step(&mut r, vec![], T0 + 30 * SEC);
    step(&mut r, vec![], T0 + 49 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    step(&mut r, vec![], T0 + 50 * SEC);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Inactive);
    assert_eq!(a.resolved_at_ms(), Some(T0 + 50 * SEC));
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
