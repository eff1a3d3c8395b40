//! What survives a reload (`update`: same identity, new `for`), a restart (`restore`
//! from `ALERTS_FOR_STATE`) and a removal (staleness markers).

use super::support::rules::*;
use super::*;
use std::sync::Arc;
use tocsin::labels::Labels;
use tocsin::rule::{AlertState, Rule};

#[test]
fn shorter_for_on_update_keeps_the_alert_and_its_active_at() {
    let mut r = rule(300, 0);
    step_at(&mut r, one("a"), T0);
    assert_eq!(only(&r).state, AlertState::Pending);
    // Shorter `for`: takes effect at the next step, same ActiveAt.
    r.update(
        Arc::new(alerting("HighLoad", "load > 1", 60, 0, &[])),
        arc(ctx()),
    );
    step_at(&mut r, one("a"), T0 + MIN);
    let a = only(&r);
    assert_eq!((a.state, a.active_at_ms), (AlertState::Firing, T0));
}

#[test]
fn raising_for_above_an_alerts_age_returns_it_to_pending() {
    let mut r = in_group(alerting("U", "up == 0", 10, 0, &[]));
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![up("a")], T0 + 10 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
    r.update(
        Arc::new(alerting("U", "up == 0", 60, 0, &[])),
        arc(group_ctx()),
    );
    step(&mut r, vec![up("a")], T0 + 20 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 60 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
}

#[test]
fn raising_for_below_an_alerts_age_keeps_it_firing() {
    let mut r = in_group(alerting("U", "up == 0", 10, 0, &[]));
    step(&mut r, vec![up("a")], T0);
    step(&mut r, vec![up("a")], T0 + 10 * SEC);
    r.update(
        Arc::new(alerting("U", "up == 0", 60, 0, &[])),
        arc(group_ctx()),
    );
    step(&mut r, vec![up("a")], T0 + 120 * SEC);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(
        a.fired_at_ms,
        Some(T0 + 10 * SEC),
        "no new startsAt, no new page"
    );
}

#[test]
fn restored_active_at_counts_toward_for_and_is_written_back() {
    let mut r = rule(600, 0);
    // main restores before the first evaluation, as pending with the old ActiveAt.
    r.restore([(
        ls(&[("alertname", "HighLoad"), ("instance", "a")]),
        T0 - 9 * MIN,
    )]);
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

/// The labels of `Down`'s alert for `instance`, as `ALERTS_FOR_STATE` keeps them.
fn down_labels(instance: &str) -> Labels {
    Labels::from_pairs([
        ("alertgroup", "g"),
        ("alertname", "Down"),
        ("instance", instance),
        ("severity", "page"),
    ])
}

#[test]
fn restored_active_at_keeps_the_for_clock() {
    let mut r = down_for_30s();
    let labels = down_labels("a");
    r.restore([(labels, T0 - 25 * SEC)]);
    step(&mut r, vec![up("a")], T0);
    assert_eq!(states(&r), [("a".into(), AlertState::Pending)]);
    step(&mut r, vec![up("a")], T0 + 5 * SEC);
    assert_eq!(states(&r), [("a".into(), AlertState::Firing)]);
}

#[test]
fn an_alert_firing_before_a_restart_keeps_its_start_time() {
    let mut r = down_for_30s();
    let labels = down_labels("a");
    // Active since T0-100s; with for 30s on a 10s grid it fired at T0-70s.
    r.restore([(labels, T0 - 100 * SEC)]);
    step(&mut r, vec![up("a")], T0);
    let a = r.alerts().next().unwrap();
    assert_eq!(a.state, AlertState::Firing);
    assert_eq!(a.fired_at_ms, Some(T0 - 70 * SEC));
    assert_eq!(r.alerts_to_send(T0)[0].starts_at_ms, T0 - 70 * SEC);
}

#[test]
fn stale_markers_for_removed_rule() {
    let mut r = rule(0, 0);
    step_at(&mut r, Ok(vec![load("a", 2.0), load("b", 2.0)]), T0);
    let mut rule = Rule::Alerting(Box::new(r));
    let m = rule.stale_series(T0 + MIN);
    assert_eq!(m.len(), 4);
    assert!(m.iter().all(|s| is_stale(s) && s.timestamp_ms == T0 + MIN));
    // Once ended, they are not ended again.
    assert!(rule.stale_series(T0 + 2 * MIN).is_empty());
}

#[test]
fn a_reloaded_template_library_renders_the_next_step_of_a_running_rule() {
    use tocsin::template::{Library, SharedLibrary};
    let library = |version: &str| {
        let mut lib = Library::default();
        let text = format!(
            "{{{{ define \"where\" }}}}{version} on {{{{ .Labels.instance }}}}{{{{ end }}}}"
        );
        lib.add(std::path::Path::new("t.tpl"), &text).unwrap();
        lib
    };
    let mut c = ctx();
    c.settings.library = SharedLibrary::new(Some(library("v1")));
    // What a reload holds: the same library as every rule's settings.
    let reloaded = c.settings.library.clone();
    let spec = alerting_with(
        "HighLoad",
        "load > 1",
        0,
        0,
        &[],
        &[("summary", "{{ template \"where\" . }}")],
    );
    let mut r = AlertingRule::new(&spec, arc(c));
    let summary = |r: &AlertingRule| only(r).annotations.get("summary").map(str::to_string);
    step_at(&mut r, one("a"), T0);
    assert_eq!(summary(&r).as_deref(), Some("v1 on a"));
    reloaded.replace(Some(library("v2")));
    step_at(&mut r, one("a"), T0 + MIN);
    assert_eq!(summary(&r).as_deref(), Some("v2 on a"));
    // The alert is the same one, still firing since T0.
    assert_eq!(only(&r).active_at_ms, T0);
}
