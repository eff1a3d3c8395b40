//! The series a step writes: `ALERTS` and `ALERTS_FOR_STATE`, their timestamps, values
//! and staleness markers.

use super::support::rules::*;
use super::*;
use tocsin::rule::{EvalTime, StepOutput, is_stale_nan};

fn series_named<'a>(out: &'a StepOutput, name: &str) -> Vec<&'a Sample> {
    out.series
        .iter()
        .filter(|s| s.labels.get("__name__") == Some(name))
        .collect()
}

#[test]
fn alerts_series_track_state_with_stale_markers() {
    let mut r = down_for_30s();
    let out = step(&mut r, vec![up("a")], T0);
    let alerts = series_named(&out, "ALERTS");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].labels.get("alertstate"), Some("pending"));
    assert_eq!(alerts[0].value, 1.0);
    assert_eq!(alerts[0].timestamp_ms, T0);
    let fs = series_named(&out, "ALERTS_FOR_STATE");
    assert_eq!(fs[0].value, (T0 / 1000) as f64);
    assert_eq!(fs[0].labels.get("alertstate"), None);

    step(&mut r, vec![up("a")], T0 + 10 * SEC);
    step(&mut r, vec![up("a")], T0 + 20 * SEC);
    let out = step(&mut r, vec![up("a")], T0 + 30 * SEC);
    let alerts = series_named(&out, "ALERTS");
    let firing: Vec<_> = alerts.iter().filter(|s| !is_stale_nan(s.value)).collect();
    let stale: Vec<_> = alerts.iter().filter(|s| is_stale_nan(s.value)).collect();
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0].labels.get("alertstate"), Some("firing"));
    assert_eq!(stale.len(), 1, "the pending series ends with a marker");
    assert_eq!(stale[0].labels.get("alertstate"), Some("pending"));

    let out = step(&mut r, vec![], T0 + 40 * SEC);
    assert!(out.series.iter().all(|s| is_stale_nan(s.value)));
    assert_eq!(out.series.len(), 2, "ALERTS and ALERTS_FOR_STATE end");
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

/// The staleness markers among a step's series, as `(labels, "stale", ts)`.
fn markers(out: &StepOutput) -> Vec<(String, String, i64)> {
    let stale: Vec<Sample> = out.series.iter().filter(|s| is_stale(s)).cloned().collect();
    series_view(&stale)
}

#[test]
fn a_resolved_alert_ends_its_series_exactly_once() {
    // `HighLoad` without `for`: fires at once, resolves when absent, and is kept as a
    // resolved alert for the retention (15 minutes) while nothing is written for it.
    let mut r = rule(0, 0);
    let out = step_at(&mut r, one("a"), T0);
    assert_eq!(
        series_view(&out.series),
        alerts_series("firing", "a", T0, T0)
    );
    let t = T0 + MIN;
    let out = step_at(&mut r, none(), t);
    let mut ended = vec![
        stale("ALERTS", Some("firing"), "a", t),
        stale("ALERTS_FOR_STATE", None, "a", t),
    ];
    ended.sort();
    assert_eq!(series_view(&out.series), ended);
    assert_eq!(
        only(&r).state,
        AlertState::Inactive,
        "kept for the retention"
    );
    for i in 2..5 {
        let out = step_at(&mut r, none(), T0 + i * MIN);
        assert!(out.series.is_empty(), "ended once: {:?}", out.series);
    }
    // Back: a new alert, whose series start again; nothing of the old one is ended twice.
    let back = T0 + 5 * MIN;
    let out = step_at(&mut r, one("a"), back);
    assert_eq!(
        series_view(&out.series),
        alerts_series("firing", "a", back, back)
    );
}

#[test]
fn a_pending_alert_that_goes_ends_its_series_once() {
    let mut r = rule(60, 0);
    step_at(&mut r, one("a"), T0);
    let out = step_at(&mut r, Ok(vec![load("b", 2.0)]), T0 + 10 * SEC);
    let ended = markers(&out);
    let mut want = vec![
        stale("ALERTS", Some("pending"), "a", T0 + 10 * SEC),
        stale("ALERTS_FOR_STATE", None, "a", T0 + 10 * SEC),
    ];
    want.sort();
    assert_eq!(ended, want);
    assert_eq!(states(&r), [("b".into(), AlertState::Pending)]);
    let out = step_at(&mut r, Ok(vec![load("b", 2.0)]), T0 + 20 * SEC);
    assert!(markers(&out).is_empty(), "ended once: {:?}", out.series);
}

#[test]
fn alerts_dropped_by_limit_end_their_series_unless_they_are_back() {
    // Both alerts fire; `limit` drops them; at the next good step `a` is back (pending
    // again: a new incident) and `b` is not. `a`'s `ALERTS_FOR_STATE` goes on, its
    // firing `ALERTS` ends; both of `b`'s series end. Then nothing more ends.
    let c = RuleContext { limit: 2, ..ctx() };
    let mut r = AlertingRule::new(&alerting("HighLoad", "load > 1", 60, 0, &[]), arc(c));
    let two = || Ok(vec![load("a", 2.0), load("b", 2.0)]);
    step_at(&mut r, two(), T0);
    step_at(&mut r, two(), T0 + MIN);
    let three = Ok(vec![load("a", 2.0), load("b", 2.0), load("c", 2.0)]);
    let out = step_at(&mut r, three, T0 + 2 * MIN);
    assert!(out.error.is_some() && out.series.is_empty());
    let t = T0 + 3 * MIN;
    let out = step_at(&mut r, one("a"), t);
    let mut want = vec![
        stale("ALERTS", Some("firing"), "a", t),
        stale("ALERTS", Some("firing"), "b", t),
        stale("ALERTS_FOR_STATE", None, "b", t),
    ];
    want.sort();
    assert_eq!(markers(&out), want);
    // Still pending (`for` is a minute): nothing changes, nothing ends.
    let out = step_at(&mut r, one("a"), t + 10 * SEC);
    assert!(markers(&out).is_empty(), "ended once: {:?}", out.series);
}

#[test]
fn a_removed_rule_ends_what_it_wrote_once() {
    // Pausing (or removing) a rule resolves its alerts, then ends its series: the
    // records outlive the alerts drained before the markers are asked for.
    let mut r = tocsin::rule::Rule::Alerting(Box::new(rule(0, 0)));
    let tocsin::rule::Rule::Alerting(a) = &mut r else {
        unreachable!()
    };
    step_at(a, Ok(vec![load("a", 2.0), load("b", 2.0)]), T0);
    let t = T0 + MIN;
    let (resolved, ended) = tocsin::rule::pause::enter(&mut r, t, false);
    assert_eq!(resolved.len(), 2);
    assert_eq!(ended.len(), 4);
    assert!(ended.iter().all(is_stale));
    assert!(r.stale_series(t + MIN).is_empty(), "ended once");
}
