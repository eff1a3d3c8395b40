//! Alerting rules: Prometheus' pending → firing → inactive state machine, with
//! `for`, `keep_firing_for`, the resolved retention and `limit`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::alert::{Alert, AlertState, Notification};
use super::{
    EvalTime, Health, Outcome, RuleContext, StepOutput, add_missing, diff_written, system_time,
};
use crate::config::{self, RuleKind};
use crate::labels::{Labels, LabelsBuilder, METRIC_NAME};
use crate::sample::Sample;
use crate::template::{Context, Template, TemplateQuerier};

/// The error Prometheus reports when two samples map to one alert.
pub const DUPLICATE_LABELSET: &str =
    "vector contains metrics with the same labelset after applying alert labels";

/// An alerting rule and the alerts it currently holds.
#[derive(Debug)]
pub struct AlertingRule {
    spec: config::Rule,
    ctx: Arc<RuleContext>,
    /// Rule labels with group labels merged under them, in application order.
    labels: Vec<(String, Template)>,
    for_ms: i64,
    keep_firing_for_ms: i64,
    active: HashMap<u64, Alert>,
    /// Series written at the last successful evaluation (fingerprint → labels).
    written: HashMap<u64, Labels>,
    outcome: Outcome,
    /// Set by `update`: at the next step, firing alerts younger than `for` go back to
    /// pending (their age is only known then).
    recheck_for: bool,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl AlertingRule {
    /// Builds the rule; `spec` must be an alerting rule (a recording rule yields a rule
    /// that never fires, which cannot happen with a validated rule set).
    pub fn new(spec: &config::Rule, ctx: Arc<RuleContext>) -> AlertingRule {
        let (for_ms, keep_firing_for_ms) = match &spec.kind {
            RuleKind::Alerting(a) => (ms(a.for_), ms(a.keep_firing_for)),
            RuleKind::Recording(_) => (0, 0),
        };
        AlertingRule {
            labels: merged_labels(&ctx.group_labels, &spec.labels),
            spec: spec.clone(),
            ctx,
            for_ms,
            keep_firing_for_ms,
            active: HashMap::new(),
            written: HashMap::new(),
            outcome: Outcome::default(),
            recheck_for: false,
        }
    }

    pub fn spec(&self) -> &config::Rule {
        &self.spec
    }

    pub fn context(&self) -> &RuleContext {
        &self.ctx
    }

    pub fn health(&self) -> Health {
        self.outcome.health()
    }

    pub fn last_error(&self) -> Option<&str> {
        self.outcome.last_error()
    }

    /// The alerts held: pending, firing and resolved ones within the retention.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    fn annotations(&self) -> &[(String, Template)] {
        match &self.spec.kind {
            RuleKind::Alerting(a) => &a.annotations,
            RuleKind::Recording(_) => &[],
        }
    }

    /// One evaluation. Errors leave the alerts as they were (except `limit`, which
    /// clears them, as Prometheus does) and produce no series.
    pub fn step(
        &mut self,
        result: Result<Vec<Sample>, String>,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> StepOutput {
        let samples = match result {
            Ok(s) => s,
            Err(e) => return self.outcome.fail(e, 0),
        };
        let n = samples.len();
        let mut fresh: HashMap<u64, Alert> = HashMap::with_capacity(n);
        for s in &samples {
            let alert = self.alert_for(s, t, querier);
            let fp = alert.labels.fingerprint();
            if fresh.insert(fp, alert).is_some() {
                return self.outcome.fail(DUPLICATE_LABELSET.to_string(), n);
            }
        }
        let ts = t.ts_ms;
        if std::mem::take(&mut self.recheck_for) {
            for a in self.active.values_mut() {
                if a.state == AlertState::Firing && ts - a.active_at_ms < self.for_ms {
                    a.state = AlertState::Pending;
                    a.fired_at_ms = None;
                }
            }
        }
        for (fp, a) in fresh.iter() {
            match self.active.get_mut(fp) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = a.value;
                    existing.annotations = a.annotations.clone();
                }
                _ => {
                    self.active.insert(*fp, a.clone());
                }
            }
        }

        let mut active_count = 0usize;
        let retention = ms(self.ctx.resolved_retention);
        let mut to_delete = Vec::new();
        let mut series = HashMap::new();
        for (fp, a) in self.active.iter_mut() {
            if !fresh.contains_key(fp) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for_ms;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at_ms.is_some_and(|r| ts - r > retention)
                {
                    to_delete.push(*fp);
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since_ms = None;
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts - a.active_at_ms >= self.for_ms {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(if a.restored {
                    // It fired before the restart (or would have): keep the time it
                    // fired then, so Alertmanager sees the same startsAt.
                    first_tick_after(a.active_at_ms, self.for_ms, ms(self.ctx.interval)).min(ts)
                } else {
                    ts
                });
            }
            let (alerts_series, for_state) = alert_series(a, &self.ctx.external_labels);
            series.insert(alerts_series.fingerprint(), (alerts_series, 1.0));
            series.insert(
                for_state.fingerprint(),
                (for_state, (a.active_at_ms / 1000) as f64),
            );
        }
        for fp in to_delete {
            self.active.remove(&fp);
        }
        if self.ctx.limit > 0 && active_count > self.ctx.limit {
            self.active.clear();
            let e = format!(
                "exceeded limit of {} with {} alerts",
                self.ctx.limit, active_count
            );
            return self.outcome.fail(e, n);
        }

        self.outcome.succeed();
        let mut out = Vec::with_capacity(series.len());
        let mut now_written = HashMap::with_capacity(series.len());
        for (fp, (labels, value)) in series {
            out.push(Sample {
                labels: labels.clone(),
                value,
                timestamp_ms: t.query_ts_ms,
            });
            now_written.insert(fp, labels);
        }
        diff_written(&mut self.written, now_written, t.query_ts_ms, &mut out);
        StepOutput {
            series: out,
            error: None,
            samples: n,
        }
    }

    /// Builds the alert a sample stands for (labels and annotations rendered).
    fn alert_for(&self, s: &Sample, t: EvalTime, querier: Option<&dyn TemplateQuerier>) -> Alert {
        let for_ = match &self.spec.kind {
            RuleKind::Alerting(a) => a.for_,
            RuleKind::Recording(_) => Duration::ZERO,
        };
        let mut tctx = Context::new(&s.labels, s.value);
        tctx.external_labels = &self.ctx.external_labels;
        tctx.external_url = &self.ctx.external_url;
        tctx.expr = &self.spec.expr;
        tctx.for_ = for_;
        tctx.group_id = self.ctx.group_id;
        tctx.querier = querier;
        tctx.library = self.ctx.library.as_deref();
        tctx.eval_time = Some(system_time(t.ts_ms));
        tctx.active_at = Some(system_time(t.ts_ms));

        let mut b: LabelsBuilder = s.labels.to_builder();
        b.del(METRIC_NAME);
        for (name, tmpl) in &self.labels {
            b.set(name.as_str(), render(tmpl, &tctx));
        }
        b.set("alertname", self.spec.name());
        if !self.ctx.disable_alertgroup_label {
            b.set("alertgroup", self.ctx.group_name.as_str());
        }
        let labels = b.build();
        tctx.alert_id = labels.fingerprint();
        let annotations = self
            .annotations()
            .iter()
            .map(|(name, tmpl)| (name.clone(), render(tmpl, &tctx)))
            .collect();
        Alert {
            labels,
            annotations,
            state: AlertState::Pending,
            value: s.value,
            active_at_ms: t.ts_ms,
            fired_at_ms: None,
            resolved_at_ms: None,
            last_sent_at_ms: None,
            keep_firing_since_ms: None,
            valid_until_ms: None,
            restored: false,
        }
    }

    /// The alerts due for (re)sending at `ts_ms`, marked as sent. Call after `step`
    /// succeeded; Prometheus sends nothing for a failed evaluation.
    pub fn alerts_to_send(&mut self, ts_ms: i64) -> Vec<Notification> {
        let resend = ms(self.ctx.resend_delay);
        let delta = ms(self.ctx.interval).max(resend);
        let max_resolve = ms(self.ctx.max_resolve_duration);
        let url = generator_url(&self.ctx.external_url, &self.spec.expr);
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if !a.needs_sending(ts_ms, resend) {
                continue;
            }
            a.last_sent_at_ms = Some(ts_ms);
            let mut valid_until = ts_ms + 4 * delta;
            if max_resolve > 0 {
                valid_until = valid_until.min(ts_ms + max_resolve);
            }
            a.valid_until_ms = Some(valid_until);
            out.push(a.notification(
                a.resolved_at_ms.unwrap_or(valid_until),
                &self.ctx.external_labels,
                &url,
            ));
        }
        out
    }

    /// Resolves every firing alert at `ts_ms` and returns what to send: used when the
    /// rule is removed, so Alertmanager hears at once that its alerts ended instead of
    /// waiting for `endsAt`.
    pub fn resolve_all(&mut self, ts_ms: i64) -> Vec<Notification> {
        let url = generator_url(&self.ctx.external_url, &self.spec.expr);
        self.active
            .drain()
            .filter(|(_, a)| a.state == AlertState::Firing)
            .map(|(_, a)| a.notification(ts_ms, &self.ctx.external_labels, &url))
            .collect()
    }

    /// Takes the set of series written last time (for staleness markers on removal).
    pub(crate) fn take_written(&mut self) -> HashMap<u64, Labels> {
        std::mem::take(&mut self.written)
    }

    /// Restores `ActiveAt` of an alert from `ALERTS_FOR_STATE` at start-up: the alert is
    /// created pending with the old `ActiveAt`, so `for` keeps counting across the
    /// restart; the next evaluation fires it if `for` has elapsed. `labels` are the
    /// alert's labels (without `__name__` and without external labels).
    pub fn restore(&mut self, labels: Labels, active_at_ms: i64) {
        let fp = labels.fingerprint();
        self.active.entry(fp).or_insert(Alert {
            labels,
            annotations: Vec::new(),
            state: AlertState::Pending,
            value: 0.0,
            active_at_ms,
            fired_at_ms: None,
            resolved_at_ms: None,
            last_sent_at_ms: None,
            keep_firing_since_ms: None,
            valid_until_ms: None,
            restored: true,
        });
    }

    /// Applies a changed definition with the same identity (name, expr, labels), keeping
    /// alerts: `for`, `keep_firing_for` and annotations take effect at the next step. A
    /// firing alert younger than a raised `for` goes back to pending, as in Prometheus 3.
    pub fn update(&mut self, spec: &config::Rule, ctx: Arc<RuleContext>) {
        let fresh = AlertingRule::new(spec, ctx);
        self.labels = fresh.labels;
        self.spec = fresh.spec;
        self.ctx = fresh.ctx;
        self.for_ms = fresh.for_ms;
        self.keep_firing_for_ms = fresh.keep_firing_for_ms;
        self.recheck_for = true;
    }
}

/// The first evaluation at or after `active_at + for` on a grid of `interval` through
/// `active_at`: when the alert fired, or would have, without the restart.
fn first_tick_after(active_at: i64, for_ms: i64, interval: i64) -> i64 {
    if interval <= 0 {
        return active_at + for_ms;
    }
    let ticks = (for_ms + interval - 1) / interval;
    active_at + ticks * interval
}

/// Group labels first, then rule labels, so rule labels win on a name clash.
pub(crate) fn merged_labels(
    group: &Labels,
    rule: &[(String, Template)],
) -> Vec<(String, Template)> {
    let mut out: Vec<(String, Template)> = group
        .iter()
        .filter(|l| !rule.iter().any(|(n, _)| n.as_str() == &*l.name))
        .filter_map(|l| {
            Template::parse(&l.name, &l.value)
                .or_else(|_| crate::config::names::literal_template(&l.name, &l.value))
                .ok()
                .map(|t| (l.name.to_string(), t))
        })
        .collect();
    out.extend(rule.iter().cloned());
    out
}

fn render(t: &Template, ctx: &Context<'_>) -> String {
    if t.is_static() {
        t.source().to_string()
    } else {
        t.render(ctx)
    }
}

/// `ALERTS{…, alertstate}` and `ALERTS_FOR_STATE{…}` labels for an alert.
fn alert_series(a: &Alert, external: &Labels) -> (Labels, Labels) {
    let base = add_missing(&a.labels, external);
    let mut b = base.to_builder();
    b.set(METRIC_NAME, "ALERTS");
    b.set("alertstate", a.state.as_str());
    let alerts = b.build();
    let mut b = base.to_builder();
    b.set(METRIC_NAME, "ALERTS_FOR_STATE");
    (alerts, b.build())
}

/// Prometheus' link back to the expression: `<external URL>/graph?g0.expr=…&g0.tab=1`.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        query_escape(expr)
    )
}

/// Go's `url.QueryEscape`: unreserved characters stay, space becomes `+`, the rest is
/// percent-encoded with upper-case hex.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
