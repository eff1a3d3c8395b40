//! The alerting rule step by step, with explicit timestamps: every test of
//! `AlertingRule::step`, of `update` and `restore` (which act through the next step) and
//! of what is sent to Alertmanager afterwards; one module per concern.
//!
//! Two fixtures: `HighLoad` (`rule`), in `ctx()` (no `alertgroup` label, so the exact
//! series read like Prometheus'), and `Down` and friends (`in_group`), in a group with a
//! 10 s interval and vmalert's `alertgroup` label, as a rule file loads them by default.

#[path = "../support/mod.rs"]
mod support;

mod errors;
mod labels;
mod reload;
mod sending;
mod series;
mod states;

use std::time::Duration;

use support::rules::*;
use tocsin::config;
use tocsin::rule::{Alert, AlertState, AlertingRule, RuleContext, StepOutput};
use tocsin::sample::Sample;

const T0: i64 = 1_700_000_000_000;

/// `HighLoad` on `load > 1` with `for` and `keep_firing_for` in seconds, in `ctx()`.
fn rule(for_s: u64, kff_s: u64) -> AlertingRule {
    AlertingRule::new(
        &alerting("HighLoad", "load > 1", for_s, kff_s, &[]),
        arc(ctx()),
    )
}

fn load(instance: &str, v: f64) -> Sample {
    sample(&[("__name__", "load"), ("instance", instance)], v)
}

fn one(instance: &str) -> Result<Vec<Sample>, String> {
    Ok(vec![load(instance, 2.0)])
}

fn none() -> Result<Vec<Sample>, String> {
    Ok(vec![])
}

/// The `ALERTS` and `ALERTS_FOR_STATE` series `HighLoad` writes for one alert.
fn alerts_series(state: &str, inst: &str, ts: i64, active_at: i64) -> Vec<(String, String, i64)> {
    let mut v = vec![
        (
            format!(
                r#"{{__name__="ALERTS", alertname="HighLoad", alertstate="{state}", instance="{inst}"}}"#
            ),
            "1".to_string(),
            ts,
        ),
        (
            format!(r#"{{__name__="ALERTS_FOR_STATE", alertname="HighLoad", instance="{inst}"}}"#),
            (active_at / 1000).to_string(),
            ts,
        ),
    ];
    v.sort();
    v
}

/// A staleness marker for one of `HighLoad`'s series.
fn stale(name: &str, state: Option<&str>, inst: &str, ts: i64) -> (String, String, i64) {
    let labels = match state {
        Some(s) => format!(
            r#"{{__name__="{name}", alertname="HighLoad", alertstate="{s}", instance="{inst}"}}"#
        ),
        None => format!(r#"{{__name__="{name}", alertname="HighLoad", instance="{inst}"}}"#),
    };
    (labels, "stale".to_string(), ts)
}

fn only(r: &AlertingRule) -> Alert {
    let a = alerts_sorted(r);
    assert_eq!(a.len(), 1, "expected exactly one alert, got {a:?}");
    a.into_iter().next().unwrap()
}

/// A group with a 10 s interval and the `alertgroup` label on.
fn group_ctx() -> RuleContext {
    let mut c = RuleContext {
        interval: Duration::from_secs(10),
        ..ctx()
    };
    c.settings.resend_delay = Duration::from_secs(60);
    c.settings.disable_alertgroup_label = false;
    c
}

/// The alerting rule `spec` in `group_ctx()`.
fn in_group(spec: config::Rule) -> AlertingRule {
    AlertingRule::new(&spec, arc(group_ctx()))
}

/// `Down`: `up == 0` for 30 s, labelled `severity: page`.
fn down_for_30s() -> AlertingRule {
    in_group(alerting("Down", "up == 0", 30, 0, &[("severity", "page")]))
}

/// The answer to `up == 0` for one instance.
fn up(instance: &str) -> Sample {
    sample(&[("__name__", "up"), ("instance", instance)], 0.0)
}

/// One step with an answer.
fn step(r: &mut AlertingRule, samples: Vec<Sample>, ts: i64) -> StepOutput {
    step_at(r, Ok(samples), ts)
}

/// `(instance, state)` of every alert held, by instance.
fn states(r: &AlertingRule) -> Vec<(String, AlertState)> {
    let mut v: Vec<_> = r
        .alerts()
        .map(|a| (a.labels.get("instance").unwrap_or("").to_string(), a.state))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
