//! `no_data` and `on_error`: CPU curves in which the data goes missing (`_`) or the
//! query fails (`x`); `9` is 95 % (above `expr`'s 90), `8` is 80 % (between the
//! thresholds), `5` is 50 % (below).

use super::*;

/// One evaluation at minute `m`: `c` is the CPU digit, `_` or `x`.
fn eval_at(r: &mut AlertingRule, m: i64, c: char) -> StepOutput {
    let t = EvalTime::at(T0 + m * MIN);
    let cpu = match c {
        '9' => Some(95.0),
        '8' => Some(80.0),
        '5' => Some(50.0),
        '_' => None,
        'x' => return r.step_answer(Answer::of(Err("datasource down".into())), t, None),
        _ => panic!("unknown step {c}"),
    };
    let values: Vec<(&str, f64)> = cpu.map(|v| ("a", v)).into_iter().collect();
    let mut a = answer(&values);
    if !r.spec_has_recover() {
        a.recover = None;
    }
    // The engine asks for the selectors only when `expr` returned nothing.
    if a.expr.as_ref().is_ok_and(|s| s.is_empty()) && r.presence_query().is_some() {
        a.has_data = Some(cpu.is_some());
    }
    let out = r.step_answer(a, t, None);
    assert_eq!(out.error, None, "minute {m}");
    out
}

trait HasRecover {
    fn spec_has_recover(&self) -> bool;
}

impl HasRecover for AlertingRule {
    fn spec_has_recover(&self) -> bool {
        match &self.spec().kind {
            tocsin::config::RuleKind::Alerting(a) => a.ext.recover_expr.is_some(),
            tocsin::config::RuleKind::Recording(_) => false,
        }
    }
}

/// The synthetic alert of `reason`, if held.
fn synthetic(r: &AlertingRule, reason: &str) -> Option<Alert> {
    r.alerts()
        .find(|a| a.labels.get("alertstate_reason") == Some(reason))
        .cloned()
}

/// Steps through `curve` from minute 0; after each step, the states of instance a's
/// alert, the no-data alert and the error alert (`F-R`: a firing, no no-data alert, a
/// resolved error alert), space-separated.
fn run(r: &mut AlertingRule, curve: &str) -> String {
    run_from(r, 0, curve)
}

fn run_from(r: &mut AlertingRule, first: i64, curve: &str) -> String {
    curve
        .chars()
        .enumerate()
        .map(|(m, c)| {
            eval_at(r, first + m as i64, c);
            let s = |reason| synthetic(r, reason).map(|a| a.state);
            [
                letter(state(r, "a")),
                letter(s("no_data")),
                letter(s("error")),
            ]
            .iter()
            .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const NO_DATA_ALERTING: &str = "    no_data: {after: 2m, state: alerting}\n";

#[test]
fn no_data_waits_after_then_resolves_the_alerts_and_raises_its_own() {
    let mut r = high(NO_DATA_ALERTING);
    // Firing at 0; no data from minute 1: kept for 2 minutes, then a resolves and the
    // no-data alert fires (minute 3); data back at 4: the no-data alert resolves.
    assert_eq!(run(&mut r, "9___5"), "F-- F-- F-- RF- RR-");
    let nd = synthetic(&r, "no_data").unwrap();
    assert_eq!(
        nd.labels,
        Labels::from_pairs([
            ("alertname", "High"),
            ("alertstate_reason", "no_data"),
            ("severity", "page"),
        ])
    );
    assert_eq!(
        nd.active_at_ms,
        T0 + MIN,
        "since the first evaluation without data"
    );
    assert_eq!(nd.fired_at_ms, Some(T0 + 3 * MIN));
    assert_eq!(nd.resolved_at_ms(), Some(T0 + 4 * MIN));
}

#[test]
fn no_data_is_told_from_a_false_condition() {
    let mut r = high("    no_data: {after: 0s, state: alerting}\n");
    // Below the threshold: data, the condition is false; a resolves, nothing else.
    assert_eq!(run(&mut r, "95"), "F-- R--");
    let mut r = high("    no_data: {after: 0s, state: alerting}\n");
    assert_eq!(run(&mut r, "9_"), "F-- RF-");
}

#[test]
fn without_no_data_an_empty_result_resolves_at_once_as_in_prometheus() {
    let mut r = high("");
    assert_eq!(run(&mut r, "9__"), "F-- R-- R--");
    assert_eq!(r.presence_query(), None, "nothing more is asked");
}

#[test]
fn no_data_ok_resolves_once_after_has_passed() {
    let mut r = high("    no_data: {after: 2m, state: ok}\n");
    assert_eq!(run(&mut r, "9___"), "F-- F-- F-- R--");
}

#[test]
fn no_data_keep_keeps_the_alerts_as_they_were_and_writes_them() {
    let mut r = high("    no_data: {after: 1m, state: keep}\n");
    assert_eq!(run(&mut r, "9____"), "F-- F-- F-- F-- F--");
    let out = eval_at(&mut r, 5, '_');
    let firing = out
        .series
        .iter()
        .filter(|s| s.labels.get("alertstate") == Some("firing"))
        .count();
    assert_eq!(firing, 1, "ALERTS of the kept alert: {:?}", out.series);
    assert_eq!(run_from(&mut r, 6, "5"), "R--");
}

#[test]
fn a_kept_pending_alert_neither_fires_nor_is_dropped() {
    let mut r = high("    for: 1m\n    no_data: {after: 0s, state: keep}\n");
    // Pending at 0; no data at 1 and 2 (`for` would have elapsed): still pending; back
    // at 3, active since 0: it fires.
    assert_eq!(run(&mut r, "9__9"), "P-- P-- P-- F--");
    assert_eq!(alert(&r, "a").unwrap().active_at_ms, T0);
}

#[test]
fn the_no_data_alert_ignores_for_and_for_count() {
    let mut r = high(&format!(
        "    for: 5m\n    for_count: {{n: 3, of: 3}}\n{NO_DATA_ALERTING}"
    ));
    assert_eq!(run(&mut r, "___"), "--- --- -F-");
}

#[test]
fn recover_expr_does_not_hold_the_no_data_alert() {
    let mut r = high("    recover_expr: cpu < 70\n    no_data: {after: 0s, state: alerting}\n");
    // 95 fires a; no data: a is held by `recover_expr` (no data is no recovery), the
    // no-data alert fires; 80 ends the no-data alert at once while a stays held.
    assert_eq!(run(&mut r, "9_8"), "F-- FF- FR-");
}

#[test]
fn keep_firing_for_keeps_the_rules_alert_through_no_data_but_not_the_no_data_alert() {
    let mut r = high("    keep_firing_for: 2m\n    no_data: {after: 0s, state: alerting}\n");
    // a fires at 0; without data from 1 it is absent, and `keep_firing_for` keeps it
    // firing for 2m (1, 2) as after any absence, while the no-data alert fires at once;
    // at 3 the data is back (below the threshold): the no-data alert resolves at once
    // (`keep_firing_for` is not its), and a's 2m are over.
    assert_eq!(run(&mut r, "9__5"), "F-- FF- FF- RR-");
    // Data back above the threshold within the 2m: a was never resolved.
    let mut r = high("    keep_firing_for: 2m\n    no_data: {after: 0s, state: alerting}\n");
    assert_eq!(run(&mut r, "9_9"), "F-- FF- FR-");
    assert_eq!(alert(&r, "a").unwrap().active_at_ms, T0);
}

#[test]
fn failed_evaluations_with_on_error_do_not_move_keep_firing_for() {
    // a absent at 1 (80): kept firing for 2m from there. Errors at 2-4 keep every alert
    // as it was, so they cannot resolve it; the first evaluation with data (5, still
    // absent) finds the 2m long over and resolves it.
    let mut r = high("    keep_firing_for: 2m\n    on_error: {after: 0s, state: keep}\n");
    assert_eq!(run(&mut r, "98xxx8"), "F-- F-- F-- F-- F-- R--");
}

#[test]
fn on_error_keeps_writing_and_sending_the_alerts_and_raises_its_own() {
    let mut r = high("    on_error: {after: 2m, state: alerting}\n");
    eval_at(&mut r, 0, '9');
    assert_eq!(r.alerts_to_send(T0).len(), 1);
    assert!(r.sends_after_error());
    for m in 1..=3 {
        let t = EvalTime::at(T0 + m * MIN);
        let out = r.step_answer(Answer::of(Err("datasource down".into())), t, None);
        assert_eq!(out.error.as_deref(), Some("datasource down"));
        let firing: Vec<_> = out
            .series
            .iter()
            .filter(|s| s.labels.get("alertstate") == Some("firing"))
            .map(|s| s.labels.get("alertstate_reason").unwrap_or("").to_string())
            .collect();
        // Minute 1 and 2: a alone; minute 3 (errors for 2 minutes): the error alert too.
        let want: &[&str] = if m < 3 { &[""] } else { &["", "error"] };
        let mut firing = firing;
        firing.sort();
        assert_eq!(firing, want, "minute {m}");
    }
    // Re-sent while the errors last (resend delay 1m), the error alert sent at once.
    let sent = r.alerts_to_send(T0 + 3 * MIN);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let err = synthetic(&r, "error").unwrap();
    assert_eq!(err.active_at_ms, T0 + MIN);
    assert_eq!(err.state, AlertState::Firing);
    assert_eq!(r.health(), tocsin::rule::Health::Err);
    // The query answers again: the error alert resolves, a is evaluated as usual.
    assert_eq!(run_from(&mut r, 4, "95"), "F-R R-R");
}

#[test]
fn without_on_error_a_failed_evaluation_writes_nothing_as_in_prometheus() {
    let mut r = high("");
    eval_at(&mut r, 0, '9');
    let out = eval_at_failing(&mut r, 1);
    assert!(out.series.is_empty());
    assert!(!r.sends_after_error());
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

fn eval_at_failing(r: &mut AlertingRule, m: i64) -> StepOutput {
    let t = EvalTime::at(T0 + m * MIN);
    r.step_answer(Answer::of(Err("datasource down".into())), t, None)
}

#[test]
fn on_error_keep_keeps_pending_alerts_pending() {
    let mut r = high("    for: 1m\n    on_error: {after: 0s, state: keep}\n");
    eval_at(&mut r, 0, '9');
    let out = eval_at_failing(&mut r, 1);
    assert_eq!(state(&r, "a"), Some(AlertState::Pending));
    assert_eq!(out.series.len(), 2, "ALERTS and ALERTS_FOR_STATE of a");
    eval_at_failing(&mut r, 2);
    assert_eq!(state(&r, "a"), Some(AlertState::Pending), "not promoted");
    assert!(synthetic(&r, "error").is_none());
    eval_at(&mut r, 3, '9');
    assert_eq!(state(&r, "a"), Some(AlertState::Firing));
}

#[test]
fn errors_keep_the_no_data_alert_and_data_ends_both() {
    let mut r = high(
        "    no_data: {after: 0s, state: alerting}\n    on_error: {after: 0s, state: alerting}\n",
    );
    eval_at(&mut r, 0, '_');
    eval_at_failing(&mut r, 1);
    let s = |r: &AlertingRule, reason| synthetic(r, reason).map(|a| a.state);
    assert_eq!(
        s(&r, "no_data"),
        Some(AlertState::Firing),
        "kept through the error"
    );
    assert_eq!(s(&r, "error"), Some(AlertState::Firing));
    assert_eq!(run_from(&mut r, 2, "5"), "-RR");
}

#[test]
fn the_group_sets_defaults_that_a_rule_overrides() {
    let text = "groups:\n- name: g\n  interval: 1m\n  no_data: {after: 0s, state: alerting}\n  on_error: {state: keep}\n  rules:\n  - alert: A\n    expr: cpu > 90\n  - alert: B\n    expr: cpu > 90\n    no_data: {after: 5m, state: ok}\n  - record: r\n    expr: cpu\n";
    let g = load_str(Path::new("rules.yml"), text, &LoadOptions::default()).unwrap();
    let ext = |i: usize| match &g[0].rules[i].kind {
        tocsin::config::RuleKind::Alerting(a) => a.ext.clone(),
        tocsin::config::RuleKind::Recording(_) => panic!("rule {i} is recording"),
    };
    use tocsin::config::{Policy, PolicyState};
    let p = |secs, state| {
        Some(Policy {
            after: std::time::Duration::from_secs(secs),
            state,
        })
    };
    assert_eq!(ext(0).no_data, p(0, PolicyState::Alerting));
    assert_eq!(ext(0).on_error, p(0, PolicyState::Keep));
    assert_eq!(ext(1).no_data, p(300, PolicyState::Ok));
    assert_eq!(ext(1).on_error, p(0, PolicyState::Keep));
}

#[test]
fn a_reload_keeps_counting_the_condition() {
    let mut r = high(NO_DATA_ALERTING);
    assert_eq!(run(&mut r, "__"), "--- ---");
    let g = group(&format!(
        "  - alert: High\n    expr: cpu > 90\n{NO_DATA_ALERTING}    labels:\n      severity: page\n"
    ));
    r.update(
        g.rules[0].clone(),
        Arc::new(RuleContext::for_group(&g, &settings())),
    );
    assert_eq!(run_from(&mut r, 2, "_"), "-F-");
    assert_eq!(synthetic(&r, "no_data").unwrap().active_at_ms, T0);
}

fn no_data_labels() -> Labels {
    Labels::from_pairs([
        ("alertname", "High"),
        ("alertstate_reason", "no_data"),
        ("severity", "page"),
    ])
}

#[test]
fn after_a_restart_the_no_data_alert_fires_on_with_its_old_start() {
    let mut r = high(NO_DATA_ALERTING);
    // Without data since 5 minutes before the restart; it fired 2 minutes later.
    r.restore([(no_data_labels(), T0 - 5 * MIN)]);
    assert_eq!(run(&mut r, "_"), "-F-");
    let nd = synthetic(&r, "no_data").unwrap();
    assert_eq!(nd.active_at_ms, T0 - 5 * MIN);
    assert_eq!(
        nd.fired_at_ms,
        Some(T0 - 3 * MIN),
        "same startsAt: nobody re-paged"
    );
}

#[test]
fn after_a_restart_with_data_back_the_no_data_alert_is_dropped_unsent() {
    let mut r = high(NO_DATA_ALERTING);
    r.restore([(no_data_labels(), T0 - 5 * MIN)]);
    assert_eq!(run(&mut r, "5"), "---");
    assert!(r.alerts_to_send(T0).is_empty());
}

#[test]
fn a_no_data_alert_of_a_policy_since_removed_is_not_restored() {
    let mut r = high("");
    r.restore([(no_data_labels(), T0 - 5 * MIN)]);
    assert_eq!(r.alerts().count(), 0);
}

#[test]
fn an_answer_without_the_selectors_fails_the_evaluation() {
    let mut r = high(NO_DATA_ALERTING);
    assert_eq!(r.presence_query(), Some("count(cpu)"));
    let out = r.step(Ok(vec![]), EvalTime::at(T0), None);
    assert_eq!(
        out.error.as_deref(),
        Some("no_data: the selectors of `expr` were not asked")
    );
}
