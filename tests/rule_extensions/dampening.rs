//! `for_count: {n, of}`: fire only when the series was returned in N of the last M
//! evaluations, this one included.

use super::*;

/// 95 where `pattern` has `x`, 50 elsewhere: the series is returned at the `x`s.
fn curve(pattern: &str) -> Vec<f64> {
    pattern
        .chars()
        .map(|c| if c == 'x' { 95.0 } else { 50.0 })
        .collect()
}

#[test]
fn fires_when_returned_in_n_of_the_last_m_evaluations() {
    let mut r = high("    for_count: {n: 3, of: 5}\n");
    // Returned at minutes 0, 2, 4: the third return within five evaluations fires.
    assert_eq!(timeline(&mut r, &curve("x.x.xx")), "P-P-FF");
    assert_eq!(alert(&r, "a").unwrap().fired_at_ms, Some(T0 + 4 * MIN));
}

#[test]
fn a_spike_that_does_not_come_back_never_fires() {
    let mut r = high("    for_count: {n: 2, of: 3}\n");
    assert_eq!(timeline(&mut r, &curve("x..x..x")), "P--P--P");
}

#[test]
fn n_of_n_is_n_consecutive_evaluations() {
    let mut r = high("    for_count: {n: 3, of: 3}\n");
    assert_eq!(timeline(&mut r, &curve("xx.xxx")), "PP-PPF");
}

#[test]
fn with_for_both_must_hold() {
    // `for: 1m` is met at minute 1, three of four only at minute 2.
    let mut r = high("    for: 1m\n    for_count: {n: 3, of: 4}\n");
    assert_eq!(timeline(&mut r, &curve("xxx")), "PPF");
    // Three of four is met at minute 3 (0, 2, 3), `for: 1m` since minute 2 only then.
    let mut r = high("    for: 1m\n    for_count: {n: 3, of: 4}\n");
    assert_eq!(timeline(&mut r, &curve("x.xx")), "P-PF");
    // `for: 3m` outlasts the count: fires at minute 3.
    let mut r = high("    for: 3m\n    for_count: {n: 2, of: 2}\n");
    assert_eq!(timeline(&mut r, &curve("xxxx")), "PPPF");
}

#[test]
fn a_firing_alert_resolves_when_absent_unless_keep_firing_for_keeps_it() {
    let mut r = high("    for_count: {n: 2, of: 3}\n");
    assert_eq!(timeline(&mut r, &curve("xx.")), "PFR");
    let mut r = high("    keep_firing_for: 1m\n    for_count: {n: 2, of: 3}\n");
    assert_eq!(timeline(&mut r, &curve("xx..")), "PFFR");
}

#[test]
fn with_recover_expr_a_firing_alert_is_held() {
    let mut r = high("    for_count: {n: 2, of: 3}\n    recover_expr: cpu < 70\n");
    // 80 is between the thresholds: held; 60 recovers.
    let got = timeline(&mut r, &[95.0, 95.0, 80.0, 80.0, 60.0]);
    assert_eq!(got, "PFFFR");
}

#[test]
fn failed_evaluations_do_not_count() {
    let mut r = high("    for_count: {n: 2, of: 2}\n");
    eval(&mut r, 0, &[("a", 95.0)]);
    let failed = r.step_answer(
        Answer::of(Err("timeout".into())),
        EvalTime::at(T0 + MIN),
        None,
    );
    assert!(failed.error.is_some());
    eval(&mut r, 2, &[("a", 95.0)]);
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

#[test]
fn a_reload_keeps_the_history() {
    let mut r = high("    for_count: {n: 3, of: 5}\n");
    assert_eq!(timeline(&mut r, &curve("x.x")), "P-P");
    let g = group(
        "  - alert: High\n    expr: cpu > 90\n    for_count: {n: 3, of: 4}\n    labels:\n      severity: page\n",
    );
    r.update(
        g.rules[0].clone(),
        Arc::new(RuleContext::for_group(&g, &settings())),
    );
    // Minutes 0, 2 and 3 are three of the last four.
    eval(&mut r, 3, &[("a", 95.0)]);
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

#[test]
fn a_reload_that_removes_for_count_fires_at_once() {
    let mut r = high("    for_count: {n: 3, of: 5}\n");
    eval(&mut r, 0, &[("a", 95.0)]);
    let g = group("  - alert: High\n    expr: cpu > 90\n    labels:\n      severity: page\n");
    r.update(
        g.rules[0].clone(),
        Arc::new(RuleContext::for_group(&g, &settings())),
    );
    let t = EvalTime::at(T0 + MIN);
    r.step_answer(answer(&[("a", 95.0)]), t, None);
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

#[test]
fn after_a_restart_the_evaluations_since_active_at_count() {
    // Active since two evaluations before the restart: with this one, three of five.
    let mut r = high("    for_count: {n: 3, of: 5}\n");
    r.restore([(high_labels("a"), T0 - 2 * MIN)]);
    eval(&mut r, 0, &[("a", 95.0)]);
    let a = alert(&r, "a").unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(
        a.fired_at_ms,
        Some(T0 - 2 * MIN),
        "its time before the restart"
    );
    // Active since one evaluation before: two of five, still pending.
    let mut r = high("    for_count: {n: 3, of: 5}\n");
    r.restore([(high_labels("a"), T0 - MIN)]);
    eval(&mut r, 0, &[("a", 95.0)]);
    assert_eq!(state(&r, "a"), Some(AlertState::Pending));
    eval(&mut r, 1, &[("a", 95.0)]);
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}
