//! `recover_expr`: fire above 90 % CPU, resolve below 70 %.

use super::*;

const RECOVER: &str = "    recover_expr: cpu < 70\n";

#[test]
fn fires_above_90_and_resolves_only_below_70() {
    let mut r = high(RECOVER);
    // 95: fires (no `for`); 80 and 75: between the thresholds, still firing; 65: resolved.
    assert_eq!(timeline(&mut r, &[95.0, 80.0, 75.0, 65.0, 80.0]), "FFFRR");
    // Without `recover_expr`, the same curve resolves as soon as it drops below 90.
    // (The plain rule gets no `recover_expr` answer: `Answer::of`.)
    let mut plain = high("");
    let got: String = [95.0, 80.0, 75.0, 65.0, 80.0]
        .iter()
        .enumerate()
        .map(|(m, v)| {
            let expr = answer(&[("a", *v)]).expr;
            let t = EvalTime::at(T0 + m as i64 * MIN);
            assert_eq!(plain.step_answer(Answer::of(expr), t, None).error, None);
            letter(state(&plain, "a"))
        })
        .collect();
    assert_eq!(got, "FRRRR");
}

#[test]
fn the_resolution_is_sent_at_the_recovering_evaluation() {
    let mut r = high(RECOVER);
    eval(&mut r, 0, &[("a", 95.0)]);
    assert_eq!(r.alerts_to_send(T0).len(), 1);
    eval(&mut r, 1, &[("a", 80.0)]);
    assert!(
        r.alerts_to_send(T0 + MIN).is_empty(),
        "held: nothing new to send"
    );
    eval(&mut r, 2, &[("a", 60.0)]);
    let sent = r.alerts_to_send(T0 + 2 * MIN);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at_ms, T0);
    assert_eq!(sent[0].ends_at_ms, T0 + 2 * MIN, "resolved at the recovery");
}

#[test]
fn a_held_alert_keeps_writing_its_series() {
    let mut r = high(RECOVER);
    eval(&mut r, 0, &[("a", 95.0)]);
    let out = eval(&mut r, 1, &[("a", 80.0)]);
    let firing: Vec<_> = out
        .series
        .iter()
        .filter(|s| s.labels.get("alertstate") == Some("firing"))
        .collect();
    assert_eq!(firing.len(), 1, "{:?}", out.series);
    assert_eq!(firing[0].timestamp_ms, T0 + MIN);
}

#[test]
fn a_pending_alert_is_not_held() {
    let mut r = high(&format!("    for: 2m\n{RECOVER}"));
    // Pending at 95, gone at 80: it never fired, so there is nothing to hold.
    assert_eq!(timeline(&mut r, &[95.0, 80.0, 95.0, 95.0, 95.0]), "P-PPF");
}

#[test]
fn keep_firing_for_counts_from_the_first_recovered_evaluation() {
    let mut r = high(&format!("    keep_firing_for: 2m\n{RECOVER}"));
    // Recovered at minute 2, back between thresholds at 3 (the window restarts),
    // recovered again from minute 4: resolved 2 minutes later, at minute 6.
    assert_eq!(
        timeline(&mut r, &[95.0, 80.0, 65.0, 80.0, 65.0, 65.0, 65.0]),
        "FFFFFFR"
    );
    assert_eq!(alert(&r, "a").unwrap().resolved_at_ms(), Some(T0 + 6 * MIN));
}

#[test]
fn the_recovery_series_matches_by_labels_without_name_and_rule_labels() {
    let mut r = high("    recover_expr: cpu_smoothed < 70\n");
    eval(&mut r, 0, &[("a", 95.0), ("b", 95.0)]);
    // `cpu_smoothed` for instance a only: a resolves (other `__name__`, and the rule's
    // `severity` label is not in the series); b is held.
    let answer = Answer {
        expr: Ok(vec![]),
        recover: Some(Ok(vec![cpu_sample("cpu_smoothed", "a", 60.0)])),
        has_data: None,
        partial: false,
    };
    let out = r.step_answer(answer, EvalTime::at(T0 + MIN), None);
    assert_eq!(out.error, None);
    assert_eq!(state(&r, "a"), Some(AlertState::Inactive));
    assert_eq!(state(&r, "b"), Some(AlertState::Firing));
}

#[test]
fn while_expr_returns_the_series_the_alert_stays_whatever_recover_expr_says() {
    let mut r = high(RECOVER);
    eval(&mut r, 0, &[("a", 95.0)]);
    let both = Answer {
        expr: Ok(vec![cpu_sample("cpu", "a", 95.0)]),
        recover: Some(Ok(vec![cpu_sample("cpu", "a", 95.0)])),
        has_data: None,
        partial: false,
    };
    r.step_answer(both, EvalTime::at(T0 + MIN), None);
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

#[test]
fn a_failed_recovery_query_fails_the_evaluation_and_keeps_the_alerts() {
    let mut r = high(RECOVER);
    eval(&mut r, 0, &[("a", 95.0)]);
    let answer = Answer {
        expr: Ok(vec![]),
        recover: Some(Err("datasource down".into())),
        has_data: None,
        partial: false,
    };
    let out = r.step_answer(answer, EvalTime::at(T0 + MIN), None);
    assert_eq!(out.error.as_deref(), Some("recover_expr: datasource down"));
    assert!(out.series.is_empty());
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
    assert_eq!(r.last_error(), Some("recover_expr: datasource down"));
    // The engine always asks both; a caller that forgets the second is told so.
    let out = r.step(Ok(vec![]), EvalTime::at(T0 + 2 * MIN), None);
    assert_eq!(out.error.as_deref(), Some("recover_expr was not evaluated"));
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

#[test]
fn a_reload_keeps_a_held_alert_and_applies_the_new_condition() {
    let mut r = high(RECOVER);
    eval(&mut r, 0, &[("a", 95.0)]);
    eval(&mut r, 1, &[("a", 80.0)]);
    // The rule's identity (name, expr, labels) is unchanged: `update` keeps its alerts.
    let g = group(
        "  - alert: High\n    expr: cpu > 90\n    recover_expr: cpu < 50\n    labels:\n      severity: page\n",
    );
    r.update(
        g.rules[0].clone(),
        Arc::new(RuleContext::for_group(&g, &settings())),
    );
    let answer = Answer {
        expr: Ok(vec![]),
        recover: Some(Ok(vec![])),
        has_data: None,
        partial: false,
    };
    r.step_answer(answer, EvalTime::at(T0 + 2 * MIN), None);
    assert_eq!(
        state(&r, "a"),
        Some(AlertState::Firing),
        "65 is not below 50"
    );
    let answer = Answer {
        expr: Ok(vec![]),
        recover: Some(Ok(vec![cpu_sample("cpu", "a", 45.0)])),
        has_data: None,
        partial: false,
    };
    r.step_answer(answer, EvalTime::at(T0 + 3 * MIN), None);
    assert_eq!(state(&r, "a"), Some(AlertState::Inactive));
}

#[test]
fn after_a_restart_a_held_alert_fires_on_with_its_old_start() {
    let mut r = high(RECOVER);
    // Firing since 5 minutes before the restart, then between the thresholds.
    r.restore([(high_labels("a"), T0 - 5 * MIN)]);
    eval(&mut r, 0, &[("a", 80.0)]);
    let a = alert(&r, "a").unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(
        a.fired_at_ms,
        Some(T0 - 5 * MIN),
        "same startsAt: nobody re-paged"
    );
    eval(&mut r, 1, &[("a", 60.0)]);
    assert_eq!(state(&r, "a"), Some(AlertState::Inactive));
}

#[test]
fn after_a_restart_a_recovered_alert_is_dropped_unsent() {
    let mut r = high(RECOVER);
    r.restore([(high_labels("a"), T0 - 5 * MIN)]);
    eval(&mut r, 0, &[("a", 60.0)]);
    assert_eq!(state(&r, "a"), None);
    assert!(r.alerts_to_send(T0).is_empty());
}

#[test]
fn after_a_restart_a_pending_alert_younger_than_for_is_not_held() {
    let mut r = high(&format!("    for: 10m\n{RECOVER}"));
    r.restore([(high_labels("a"), T0 - 5 * MIN)]);
    eval(&mut r, 0, &[("a", 80.0)]);
    assert_eq!(
        state(&r, "a"),
        None,
        "it never fired: dropped as in Prometheus"
    );
}

#[test]
fn after_a_restart_a_pending_alert_that_was_seen_again_is_not_held() {
    let mut r = high(&format!("    for: 2m\n{RECOVER}"));
    r.restore([(high_labels("a"), T0 - MIN)]);
    // Seen again, still pending (1m of 2m); absent at minute 1, when `for` would have
    // elapsed: it never fired, so it is dropped, not held.
    eval(&mut r, 0, &[("a", 95.0)]);
    assert_eq!(state(&r, "a"), Some(AlertState::Pending));
    eval(&mut r, 1, &[("a", 80.0)]);
    assert_eq!(state(&r, "a"), None);
}
