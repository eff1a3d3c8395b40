//! The four cases of the Prometheus alert-generator compliance suite
//! (prometheus/compliance, alert_generator/cases), replayed at the step level: the
//! suite's remote-written samples become scripted query answers, the group evaluates
//! every 30s, and we check states, ALERTS series and sent alerts at each evaluation.
//! The real-server run is in tests/compliance.rs; this is the pure part of it, so a
//! semantic regression shows up here with the evaluation time it happened at.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::rules::*;
use tocsin::labels::Labels;
use tocsin::rule::{AlertState, AlertingRule, Notification, RuleContext};
use tocsin::sample::Sample;

/// Zero time of the run; relative times below are in seconds from here.
const Z: i64 = 1_700_000_010_000;
const RW: i64 = 15; // remote-write interval, s
const EVAL: i64 = 30; // group interval, s
const RESEND: Duration = Duration::from_secs(60);

fn at(rel_s: i64) -> i64 {
    Z + rel_s * SEC
}

/// Expands the suite's sample notation: "v" is a value, "0xN" repeats the previous
/// value N more times.
fn expand(spec: &[&str]) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    for s in spec {
        if let Some(n) = s.strip_prefix("0x") {
            let n: usize = n.parse().expect("repeat count");
            let last = *out.last().expect("repeat after a value");
            out.extend(std::iter::repeat_n(last, n));
        } else {
            out.push(s.parse().expect("value"));
        }
    }
    out
}

/// The instant-query view of a series written every 15s: the latest sample at or
/// before `rel_s`, visible for the 5m lookback after the last one.
fn value_at(vals: &[f64], rel_s: i64) -> Option<f64> {
    let idx = usize::try_from(rel_s / RW).ok()?;
    if idx < vals.len() {
        return Some(vals[idx]);
    }
    let last_t = (vals.len() as i64 - 1) * RW;
    (rel_s - last_t <= 300).then(|| vals[vals.len() - 1])
}

fn ctx_for(group: &str) -> RuleContext {
    let mut c = RuleContext {
        group_name: group.into(),
        interval: Duration::from_secs(EVAL as u64),
        ..ctx()
    };
    c.settings.resend_delay = RESEND;
    c
}

/// A threshold rule over one metric (`metric > threshold`), the shape the suite uses.
fn threshold_answer(vals: &[f64], rel_s: i64, threshold: f64, labels: &Labels) -> Vec<Sample> {
    match value_at(vals, rel_s) {
        Some(v) if v > threshold => vec![Sample {
            labels: labels.clone(),
            value: v,
            timestamp_ms: at(rel_s),
        }],
        _ => vec![],
    }
}

/// One evaluation's observations of a rule.
struct Obs {
    alerts: Vec<tocsin::rule::Alert>,
    alerts_series: Vec<String>,
    sent: Vec<Notification>,
}

fn observe(r: &mut AlertingRule, input: Vec<Sample>, rel_s: i64) -> (Obs, Vec<Sample>) {
    let out = step_at(r, Ok(input), at(rel_s));
    assert!(out.error.is_none(), "{:?}", out.error);
    let alerts_series = out
        .series
        .iter()
        .filter(|s| s.labels.get("__name__") == Some("ALERTS") && !is_stale(s))
        .map(|s| s.labels.to_string())
        .collect();
    let sent = r.alerts_to_send(at(rel_s));
    (
        Obs {
            alerts: alerts_sorted(r),
            alerts_series,
            sent,
        },
        out.series,
    )
}

fn sends(log: &[(i64, Notification)]) -> Vec<(i64, bool)> {
    log.iter()
        .map(|(t, a)| (*t, a.ends_at_ms <= at(*t)))
        .collect()
}

#[test]
fn pending_and_firing_and_resolved() {
    let g = "PendingAndFiringAndResolved";
    let name = "PendingAndFiringAndResolved_SimpleAlert";
    let vals = expand(&[
        "3", "5", "0x2", "9", "0x3", "11", "0x12", "15", "0x11", "0x20", "19", "0x15", "9", "0x19",
        "15", "0x24", "0x20", "8", "0x15",
    ]);
    assert_eq!(vals.len(), 150);
    let rule = alerting_with(
        name,
        "metric > 10",
        360,
        0,
        &[("foo", "bar"), ("rulegroup", g)],
        &[("description", "SimpleAlert is firing")],
    );
    let mut r = AlertingRule::new(&rule, arc(ctx_for(g)));
    let metric = ls(&[("__name__", "test_metric"), ("rulegroup", g)]);
    let alert_labels = ls(&[("alertname", name), ("foo", "bar"), ("rulegroup", g)]);
    let alerts_series = |state: &str| {
        format!(
            r#"{{__name__="ALERTS", alertname="{name}", alertstate="{state}", foo="bar", rulegroup="{g}"}}"#
        )
    };

    let mut log = Vec::new();
    let mut t = 0;
    while t <= 150 * RW {
        let (o, _) = observe(&mut r, threshold_answer(&vals, t, 10.0, &metric), t);
        let expect: Option<(AlertState, i64, f64)> = match t {
            0..120 => None,
            120..330 => Some((AlertState::Pending, 120, 11.0)),
            330..480 => Some((AlertState::Pending, 120, 15.0)),
            480..810 => Some((AlertState::Firing, 120, 15.0)),
            810..1050 => Some((AlertState::Firing, 120, 19.0)),
            1050..1350 => Some((AlertState::Inactive, 120, 19.0)),
            1350..1710 => Some((AlertState::Pending, 1350, 15.0)),
            1710..2010 => Some((AlertState::Firing, 1350, 15.0)),
            _ => Some((AlertState::Inactive, 1350, 15.0)),
        };
        match expect {
            None => assert!(o.alerts.is_empty(), "t={t}: {:?}", o.alerts),
            Some((state, active_at, value)) => {
                assert_eq!(o.alerts.len(), 1, "t={t}");
                let a = &o.alerts[0];
                assert_eq!(a.labels, alert_labels);
                assert_eq!(
                    (a.state, a.active_at_ms, a.value),
                    (state, at(active_at), value),
                    "t={t}"
                );
            }
        }
        let exp_series: Vec<String> = match expect {
            Some((AlertState::Pending, ..)) => vec![alerts_series("pending")],
            Some((AlertState::Firing, ..)) => vec![alerts_series("firing")],
            _ => vec![],
        };
        assert_eq!(o.alerts_series, exp_series, "t={t}");
        log.extend(o.sent.into_iter().map(|a| (t, a)));
        t += EVAL;
    }

    let times: Vec<(i64, bool)> = sends(&log);
    let firing = |ts: &[i64]| ts.iter().map(|&t| (t, false)).collect::<Vec<_>>();
    let mut exp = firing(&[480, 570, 660, 750, 840, 930, 1020]);
    exp.extend([1050, 1140, 1230, 1320].map(|t| (t, true)));
    exp.extend(firing(&[1710, 1800, 1890, 1980]));
    exp.extend([2010, 2100, 2190].map(|t| (t, true)));
    assert_eq!(times, exp);
    for (t, a) in &log {
        let started = if *t < 1350 { 480 } else { 1710 };
        assert_eq!(a.starts_at_ms, at(started), "t={t}");
        let resolved = match *t {
            1050..1350 => Some(1050),
            2010.. => Some(2010),
            _ => None,
        };
        let ends = resolved.map(at).unwrap_or(at(*t) + 4 * 60 * SEC);
        assert_eq!(a.ends_at_ms, ends, "t={t}");
        assert_eq!(a.labels, alert_labels);
    }
}

#[test]
fn zero_for_and_small_for() {
    let g = "ZeroFor_SmallFor";
    let vals = expand(&[
        "3", "5", "0x2", "9", "0x3", "15", "0x12", "9", "0x71", "11", "0x12", "9",
    ]);
    assert_eq!(vals.len(), 107);
    let zf_name = "ZeroFor_SmallFor_ZeroFor";
    let sf_name = "ZeroFor_SmallFor_SmallFor";
    let c = arc(ctx_for(g));
    let mut zf = AlertingRule::new(
        &alerting(
            zf_name,
            "zf > 10",
            0,
            0,
            &[("foo", "bar"), ("rulegroup", g)],
        ),
        c.clone(),
    );
    let mut sf = AlertingRule::new(
        &alerting(
            sf_name,
            "sf > 13",
            15,
            0,
            &[("ba_dum", "tss"), ("rulegroup", g)],
        ),
        c,
    );
    let zf_metric = ls(&[("__name__", "m"), ("alertname", zf_name)]);
    let sf_metric = ls(&[("__name__", "m"), ("alertname", sf_name)]);

    let (mut zf_log, mut sf_log) = (Vec::new(), Vec::new());
    let mut t = 0;
    while t <= 127 * RW {
        let (zo, _) = observe(&mut zf, threshold_answer(&vals, t, 10.0, &zf_metric), t);
        let (so, _) = observe(&mut sf, threshold_answer(&vals, t, 13.0, &sf_metric), t);
        let zs = zo.alerts.first().map(|a| (a.state, a.active_at_ms));
        let ss = so.alerts.first().map(|a| (a.state, a.active_at_ms));
        let (ez, es) = match t {
            0..120 => (None, None),
            120 => (
                Some((AlertState::Firing, 120)),
                Some((AlertState::Pending, 120)),
            ),
            150..330 => (
                Some((AlertState::Firing, 120)),
                Some((AlertState::Firing, 120)),
            ),
            // Resolved at 330; kept (and resent) for 15m, dropped after.
            330..=1230 => (
                Some((AlertState::Inactive, 120)),
                Some((AlertState::Inactive, 120)),
            ),
            1260..1410 => (None, None),
            1410..1590 => (Some((AlertState::Firing, 1410)), None),
            _ => (Some((AlertState::Inactive, 1410)), None),
        };
        assert_eq!(zs, ez.map(|(s, a)| (s, at(a))), "zero-for t={t}");
        assert_eq!(ss, es.map(|(s, a)| (s, at(a))), "small-for t={t}");
        zf_log.extend(zo.sent.into_iter().map(|a| (t, a)));
        sf_log.extend(so.sent.into_iter().map(|a| (t, a)));
        t += EVAL;
    }
    // Small `for` (less than the interval): first sent after the second evaluation.
    assert_eq!(
        sf_log.first().map(|(t, a)| (*t, a.starts_at_ms)),
        Some((150, at(150)))
    );
    // Zero `for`: sent at the first evaluation; the inactive alert stops being sent
    // after retention, and the new episode is a new alert.
    assert_eq!(
        zf_log.first().map(|(t, a)| (*t, a.starts_at_ms)),
        Some((120, at(120)))
    );
    let zf_times: Vec<i64> = zf_log.iter().map(|(t, _)| *t).collect();
    assert!(zf_times.contains(&1230) && !zf_times.iter().any(|t| (1231..1410).contains(t)));
    let again = zf_log
        .iter()
        .find(|(t, _)| *t >= 1410)
        .expect("firing again is sent");
    assert_eq!((again.0, again.1.starts_at_ms), (1410, at(1410)));
    let last = zf_log.last().expect("sent");
    assert_eq!(last.1.ends_at_ms, at(1590), "resolved again at 1590");
}

#[test]
fn pending_and_resolved_always_inactive() {
    let g = "PendingAndResolved_AlwaysInactive";
    let vals = expand(&["3", "5", "0x2", "9", "0x3", "11", "0x10", "9"]);
    assert_eq!(vals.len(), 20);
    let c = arc(ctx_for(g));
    let mut pending = AlertingRule::new(
        &alerting("P", "p > 10", 180, 0, &[("foo", "bar"), ("rulegroup", g)]),
        c.clone(),
    );
    let mut never = AlertingRule::new(
        &alerting(
            "I",
            "i > 99",
            180,
            0,
            &[("ba_dum", "tss"), ("rulegroup", g)],
        ),
        c,
    );
    let metric = ls(&[("__name__", "m")]);
    let mut t = 0;
    while t <= 60 * RW {
        let (po, pseries) = observe(&mut pending, threshold_answer(&vals, t, 10.0, &metric), t);
        let (no, nseries) = observe(&mut never, threshold_answer(&vals, t, 99.0, &metric), t);
        assert!(
            po.sent.is_empty() && no.sent.is_empty(),
            "nothing is ever sent (t={t})"
        );
        assert!(no.alerts.is_empty() && nseries.is_empty(), "t={t}");
        match t {
            120..300 => {
                let a = &po.alerts[0];
                assert_eq!(
                    (a.state, a.active_at_ms, a.value),
                    (AlertState::Pending, at(120), 11.0)
                );
                assert_eq!(po.alerts_series.len(), 1);
            }
            300 => {
                assert!(po.alerts.is_empty());
                assert_eq!(pseries.iter().filter(|s| is_stale(s)).count(), 2);
            }
            _ => assert!(po.alerts.is_empty() && pseries.is_empty(), "t={t}"),
        }
        t += EVAL;
    }
}

#[test]
fn new_alerts_and_order_check() {
    let g = "NewAlerts_OrderCheck";
    let r1_name = "NewAlerts_OrderCheck_Rule1";
    let one = expand(&["1", "0x7", "11", "0x64", "9", "0x20"]);
    let two = expand(&["1", "0x31", "11", "0x32", "9", "0x20"]);
    let c = arc(ctx_for(g));
    let mut r1 = AlertingRule::new(
        &alerting(
            r1_name,
            "m > 10",
            180,
            0,
            &[("foo", "bar"), ("rulegroup", g)],
        ),
        c.clone(),
    );
    let mut r2 = AlertingRule::new(
        &alerting(
            "NewAlerts_OrderCheck_Rule2",
            "(ALERTS{variant=one} + ignoring(variant) ALERTS{variant=two}) == 2",
            0,
            0,
            &[("foo", "baz"), ("ba_dum", "tss"), ("rulegroup", g)],
        ),
        c,
    );
    // The group's storage: latest sample per ALERTS series that rule 1 wrote.
    let mut store: HashMap<Labels, f64> = HashMap::new();
    let mut t = 0;
    while t < one.len() as i64 * RW {
        let mut input = Vec::new();
        for (variant, vals) in [("one", &one), ("two", &two)] {
            let l = ls(&[("__name__", "m"), ("rulegroup", g), ("variant", variant)]);
            input.extend(threshold_answer(vals, t, 10.0, &l));
        }
        let (o1, series) = observe(&mut r1, input, t);
        for s in series {
            store.insert(s.labels, s.value);
        }
        // Rule 2 runs after rule 1 in the same cycle and sees what it just wrote.
        let firing = |variant: &str| {
            store.iter().any(|(l, v)| {
                l.get("__name__") == Some("ALERTS")
                    && l.get("alertstate") == Some("firing")
                    && l.get("variant") == Some(variant)
                    && !v.is_nan()
            })
        };
        let r2_input = if firing("one") && firing("two") {
            vec![sample(
                &[
                    ("alertname", r1_name),
                    ("alertstate", "firing"),
                    ("foo", "bar"),
                    ("rulegroup", g),
                ],
                2.0,
            )]
        } else {
            vec![]
        };
        let (o2, _) = observe(&mut r2, r2_input, t);

        let states: Vec<(&str, AlertState, i64)> = o1
            .alerts
            .iter()
            .map(|a| {
                (
                    a.labels.get("variant").unwrap_or(""),
                    a.state,
                    a.active_at_ms,
                )
            })
            .collect();
        let exp1: Vec<(&str, AlertState, i64)> = match t {
            0..120 => vec![],
            120..300 => vec![("one", AlertState::Pending, at(120))],
            300..480 => vec![("one", AlertState::Firing, at(120))],
            480..660 => vec![
                ("one", AlertState::Firing, at(120)),
                ("two", AlertState::Pending, at(480)),
            ],
            660..990 => vec![
                ("one", AlertState::Firing, at(120)),
                ("two", AlertState::Firing, at(480)),
            ],
            990..1110 => vec![
                ("one", AlertState::Firing, at(120)),
                ("two", AlertState::Inactive, at(480)),
            ],
            _ => vec![
                ("one", AlertState::Inactive, at(120)),
                ("two", AlertState::Inactive, at(480)),
            ],
        };
        assert_eq!(states, exp1, "rule 1 at t={t}");

        let r2_state = o2.alerts.first().map(|a| (a.state, a.active_at_ms));
        let exp2 = match t {
            0..660 => None,
            660..990 => Some((AlertState::Firing, at(660))),
            _ => Some((AlertState::Inactive, at(660))),
        };
        assert_eq!(r2_state, exp2, "rule 2 at t={t}");
        if let Some(a) = o2.alerts.first() {
            // Rule labels override the query's; alertstate from ALERTS stays.
            assert_eq!(
                a.labels,
                ls(&[
                    ("alertname", "NewAlerts_OrderCheck_Rule2"),
                    ("alertstate", "firing"),
                    ("ba_dum", "tss"),
                    ("foo", "baz"),
                    ("rulegroup", g)
                ])
            );
            assert_eq!(a.value, 2.0);
        }
        if (660..990).contains(&t) {
            assert_eq!(
                o2.alerts_series,
                [format!(
                    r#"{{__name__="ALERTS", alertname="NewAlerts_OrderCheck_Rule2", alertstate="firing", ba_dum="tss", foo="baz", rulegroup="{g}"}}"#
                )]
            );
        }
        t += EVAL;
    }
}
