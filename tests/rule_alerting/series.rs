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
