//! An alert's labels and annotations: the series' labels, group and rule labels,
//! `alertname`/`alertgroup`, templates, and renderings reused across steps.

use super::support::rules::*;
use super::*;
use tocsin::rule::{AlertState, AlertingRule, Answer, EvalTime, RuleContext};

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
fn empty_rule_label_value_deletes_the_label() {
    let mut r = in_group(alerting("E", "up == 0", 0, 0, &[("instance", "")]));
    step(&mut r, vec![up("a")], T0);
    assert_eq!(r.alerts().next().unwrap().labels.get("instance"), None);
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
fn templated_labels_and_annotations_render_per_series() {
    let mut r = in_group(alerting_with(
        "T",
        "up == 0",
        0,
        0,
        &[("who", "{{ $labels.instance }}-x")],
        &[("summary", "{{ $labels.instance }} is {{ $value }}")],
    ));
    step(&mut r, vec![up("a"), up("b")], T0);
    let mut who: Vec<String> = r
        .alerts()
        .map(|a| a.labels.get("who").unwrap().to_string())
        .collect();
    who.sort();
    assert_eq!(who, ["a-x", "b-x"]);
    let a = r
        .alerts()
        .find(|a| a.labels.get("instance") == Some("a"))
        .unwrap();
    assert_eq!(
        a.annotations.to_vec(),
        [("summary".to_string(), "a is 0".to_string())]
    );
}

/// The annotation of the one active alert (a label change leaves the old alert behind,
/// resolved, in an order the rule does not define).
fn annotation(r: &AlertingRule, name: &str) -> String {
    let mut active = r.alerts().filter(|a| a.state != AlertState::Inactive);
    let a = active.next().expect("one active alert");
    assert!(active.next().is_none(), "more than one active alert");
    a.annotations.get(name).expect("annotation").to_string()
}

#[test]
fn renderings_follow_value_labels_and_clock_across_evaluations() {
    // Rendered labels and annotations are reused between evaluations; each must still
    // show what its templates read at this evaluation.
    let mut r = in_group(alerting_with(
        "T",
        "x > 0",
        0,
        0,
        &[("sev", "{{ if gt $value 5.0 }}high{{ else }}low{{ end }}")],
        &[
            ("value", "v={{ $value }}"),
            ("who", "{{ $labels.instance }}"),
            ("at", "{{ now | humanizeTimestamp }}"),
        ],
    ));
    let x = |v: f64| sample(&[("__name__", "x"), ("instance", "a")], v);
    step(&mut r, vec![x(1.0)], T0);
    assert_eq!(annotation(&r, "value"), "v=1");
    assert_eq!(annotation(&r, "who"), "a");
    let at0 = annotation(&r, "at");
    step(&mut r, vec![x(1.0)], T0 + 60 * SEC);
    assert_eq!(annotation(&r, "value"), "v=1");
    assert_ne!(
        annotation(&r, "at"),
        at0,
        "`now` is read at every evaluation"
    );
    step(&mut r, vec![x(7.0)], T0 + 120 * SEC);
    assert_eq!(annotation(&r, "value"), "v=7");
    let sev: Vec<_> = r
        .alerts()
        .filter(|a| a.state != AlertState::Inactive)
        .map(|a| a.labels.get("sev").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        sev,
        ["high"],
        "a label template reading $value is re-rendered"
    );
    let mut r = in_group(alerting_with(
        "U",
        "x > 0",
        0,
        0,
        &[],
        &[("value", "v={{ $value }}")],
    ));
    step(&mut r, vec![x(1.0)], T0);
    step(&mut r, vec![x(2.0)], T0 + 60 * SEC);
    assert_eq!(annotation(&r, "value"), "v=2");
}

#[test]
fn a_rendering_is_reused_only_for_the_series_and_value_it_was_made_for() {
    // Renderings are kept with the alert; the render cache only points at it. Series that
    // collapse to one alert, and evaluations that fail after rendering, must not make an
    // alert show what was rendered for another series or another value.
    let mut r = in_group(alerting_with(
        "T",
        "x > 0",
        0,
        0,
        &[],
        &[
            ("value", "v={{ $value }}"),
            ("from", "{{ $labels.__name__ }}"),
        ],
    ));
    let s = |name: &str, v: f64| sample(&[("__name__", name), ("instance", "a")], v);
    step(&mut r, vec![s("x", 1.0)], T0);
    assert_eq!(
        (annotation(&r, "from"), annotation(&r, "value")),
        ("x".into(), "v=1".into())
    );
    // Both series render, then the evaluation fails: the alert keeps x's rendering.
    let out = step(&mut r, vec![s("x", 2.0), s("y", 1.0)], T0 + 60 * SEC);
    assert!(out.error.is_some());
    assert_eq!(annotation(&r, "value"), "v=1");
    // y alone now makes the alert: its own rendering, not x's.
    step(&mut r, vec![s("y", 1.0)], T0 + 120 * SEC);
    assert_eq!(
        (annotation(&r, "from"), annotation(&r, "value")),
        ("y".into(), "v=1".into())
    );
    // x again, with the value it last rendered in the failed evaluation: rendered anew.
    step(&mut r, vec![s("x", 2.0)], T0 + 180 * SEC);
    assert_eq!(
        (annotation(&r, "from"), annotation(&r, "value")),
        ("x".into(), "v=2".into())
    );
    step(&mut r, vec![s("x", 2.0)], T0 + 240 * SEC);
    assert_eq!(
        (annotation(&r, "from"), annotation(&r, "value")),
        ("x".into(), "v=2".into())
    );
}

#[test]
fn is_partial_follows_each_answer() {
    // vmalert 1.145's `$isPartial`: whether the datasource said this evaluation's answer
    // may be partial. The rendering is not reused from an evaluation that said otherwise.
    let mut r = in_group(alerting_with(
        "P",
        "x > 0",
        0,
        0,
        &[],
        &[(
            "warn",
            "{{ if $isPartial }}partial answer{{ else }}whole{{ end }}/{{ .IsPartial }}",
        )],
    ));
    let x = || sample(&[("__name__", "x"), ("instance", "a")], 1.0);
    let answer = |partial| Answer {
        partial,
        ..Answer::of(Ok(vec![x()]))
    };
    r.step_answer(answer(false), EvalTime::at(T0), None);
    assert_eq!(annotation(&r, "warn"), "whole/false");
    r.step_answer(answer(true), EvalTime::at(T0 + 60 * SEC), None);
    assert_eq!(annotation(&r, "warn"), "partial answer/true");
    r.step_answer(answer(false), EvalTime::at(T0 + 120 * SEC), None);
    assert_eq!(annotation(&r, "warn"), "whole/false");
}
