//! Failed steps: a query error, two series that make one alert, more alerts than
//! `limit`. None writes series; only `limit` touches the alerts held.

use super::support::rules::*;
use super::*;
use tocsin::rule::alerting::DUPLICATE_LABELSET;
use tocsin::rule::{AlertState, AlertingRule, EvalTime, Health, RuleContext};

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
fn query_errors_change_nothing_and_write_nothing() {
    let mut r = down_for_30s();
    step(&mut r, vec![up("a")], T0);
    let out = r.step(Err("boom".into()), EvalTime::at(T0 + 10 * SEC), None);
    assert!(out.series.is_empty());
    assert_eq!(r.last_error(), Some("boom"));
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
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
fn rule_labels_that_merge_series_fail_the_rule() {
    let mut r = in_group(alerting("D", "up == 0", 0, 0, &[("instance", "same")]));
    step(&mut r, vec![up("x")], T0);
    let out = step(&mut r, vec![up("a"), up("b")], T0 + 10 * SEC);
    assert!(out.series.is_empty());
    assert_eq!(r.health(), Health::Err);
    assert!(r.last_error().unwrap().contains("same labelset"));
    assert_eq!(states(&r), [("same".into(), AlertState::Firing)]);
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
fn limit_exceeded_clears_alerts_and_recovers() {
    let mut c = group_ctx();
    c.limit = 1;
    let mut r = AlertingRule::new(&alerting("L", "up == 0", 0, 0, &[]), arc(c));
    let out = step(&mut r, vec![up("a"), up("b")], T0);
    assert!(out.series.is_empty());
    assert_eq!(
        out.error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert_eq!(r.alerts().count(), 0);
    step(&mut r, vec![up("a")], T0 + 10 * SEC);
    assert_eq!(r.health(), Health::Ok);
}
