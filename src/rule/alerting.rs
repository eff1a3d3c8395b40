//! Alerting rules: Prometheus' pending → firing → inactive state machine, with
//! `for`, `keep_firing_for`, the resolved retention and `limit`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::alert::{Alert, AlertState, Annotations, Notification};
use super::{EvalTime, Health, Outcome, RuleContext, StepOutput, Written, shared, system_time};
use crate::config::{self, RuleKind};
use crate::labels::{Labels, LabelsBuilder, METRIC_NAME};
use crate::sample::Sample;
use crate::template::{Context, Inputs, Template, TemplateQuerier};

/// The error Prometheus reports when two samples map to one alert.
pub const DUPLICATE_LABELSET: &str =
    "vector contains metrics with the same labelset after applying alert labels";

/// An alerting rule and the alerts it currently holds.
#[derive(Debug)]
pub struct AlertingRule {
    spec: config::Rule,
    ctx: Arc<RuleContext>,
    /// Rule labels with group labels merged under them, in application order.
    labels: Vec<LabelTemplate>,
    /// Annotation names, shared by all alerts.
    annotation_names: Vec<Arc<str>>,
    /// `alertname` and, unless disabled, `alertgroup`, as added to every alert.
    identity: Vec<(Arc<str>, Arc<str>)>,
    /// What the label templates, and the annotation templates, read besides labels.
    label_inputs: Inputs,
    annotation_inputs: Inputs,
    /// `generatorURL` of every notification.
    generator_url: Arc<str>,
    for_ms: i64,
    keep_firing_for_ms: i64,
    active: HashMap<u64, Alert>,
    /// Renderings by fingerprint of the query series they were made for.
    rendered: HashMap<u64, Rendered>,
    /// Numbers evaluations, to tell what the current one saw.
    attempt: u64,
    /// Series written at the last successful evaluation.
    written: Written,
    outcome: Outcome,
    /// Set by `update`: at the next step, firing alerts younger than `for` go back to
    /// pending (their age is only known then).
    recheck_for: bool,
}

/// Labels and annotations rendered for one query series, reused while it comes back
/// unchanged. A rendering is valid for its series' label set (the cache key); it is
/// invalidated by a different value when a template reads `$value`, is never kept when a
/// template reads volatile inputs ([`Inputs::volatile`]: `query`, `now`, `$activeAt`,
/// library definitions), is dropped when its series is absent from a successful
/// evaluation, and the whole cache is dropped when the rule is updated.
#[derive(Debug)]
struct Rendered {
    value_bits: u64,
    labels: Labels,
    annotations: Annotations,
    /// The evaluation attempt that last used it.
    seen: u64,
}

/// A rule label: its name, and its value when the template is static, shared by all
/// alerts of the rule.
#[derive(Debug)]
struct LabelTemplate {
    name: Arc<str>,
    template: Template,
    fixed: Option<Arc<str>>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What all templates of a list read together.
fn inputs_of<'a>(templates: impl Iterator<Item = &'a Template>) -> Inputs {
    templates.fold(Inputs::default(), |acc, t| acc.union(t.inputs()))
}

impl AlertingRule {
    /// Builds the rule; `spec` must be an alerting rule (a recording rule yields a rule
    /// that never fires, which cannot happen with a validated rule set).
    pub fn new(spec: &config::Rule, ctx: Arc<RuleContext>) -> AlertingRule {
        let (for_ms, keep_firing_for_ms, annotation_inputs) = match &spec.kind {
            RuleKind::Alerting(a) => (
                ms(a.for_),
                ms(a.keep_firing_for),
                inputs_of(a.annotations.iter().map(|(_, t)| t)),
            ),
            RuleKind::Recording(_) => (0, 0, Inputs::default()),
        };
        let labels: Vec<LabelTemplate> = merged_labels(&ctx.group_labels, &spec.labels)
            .into_iter()
            .map(|(name, template)| LabelTemplate {
                name: name.into(),
                fixed: template.is_static().then(|| template.source().into()),
                template,
            })
            .collect();
        let mut identity = vec![(shared::alertname(), Arc::from(spec.name()))];
        if !ctx.settings.disable_alertgroup_label {
            identity.push((shared::alertgroup(), Arc::from(ctx.group_name.as_str())));
        }
        let annotation_names = match &spec.kind {
            RuleKind::Alerting(a) => a
                .annotations
                .iter()
                .map(|(n, _)| n.as_str().into())
                .collect(),
            RuleKind::Recording(_) => Vec::new(),
        };
        AlertingRule {
            annotation_names,
            label_inputs: inputs_of(labels.iter().map(|l| &l.template)),
            annotation_inputs,
            labels,
            identity,
            generator_url: generator_url(&ctx.settings.external_url, &spec.expr).into(),
            spec: spec.clone(),
            ctx,
            for_ms,
            keep_firing_for_ms,
            active: HashMap::new(),
            rendered: HashMap::new(),
            attempt: 0,
            written: Written::default(),
            outcome: Outcome::default(),
            recheck_for: false,
        }
    }

    pub fn spec(&self) -> &config::Rule {
        &self.spec
    }

    pub fn context(&self) -> &Arc<RuleContext> {
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
        self.attempt += 1;
        let attempt = self.attempt;
        let n = samples.len();
        // (alert fingerprint, value, labels, annotations) for every sample.
        let mut found: Vec<(u64, f64, Labels, Annotations)> = Vec::with_capacity(n);
        for s in &samples {
            let (labels, annotations) = self.rendering(s, t, querier);
            found.push((labels.fingerprint(), s.value, labels, annotations));
        }
        found.sort_unstable_by_key(|f| f.0);
        if found.windows(2).any(|w| w[0].0 == w[1].0) {
            return self.outcome.fail(DUPLICATE_LABELSET.to_string(), n);
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
        for (fp, value, labels, annotations) in found {
            match self.active.get_mut(&fp) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = value;
                    existing.annotations = annotations;
                    existing.seen = attempt;
                }
                _ => {
                    let mut a = Alert::new(labels, annotations, value, ts);
                    a.seen = attempt;
                    self.active.insert(fp, a);
                }
            }
        }

        let mut active_count = 0usize;
        let retention = ms(self.ctx.settings.resolved_retention);
        let mut to_delete = Vec::new();
        let mut out = Vec::with_capacity(2 * self.active.len());
        for (fp, a) in self.active.iter_mut() {
            if a.seen != attempt {
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
                    first_tick_after(a.active_at_ms, self.for_ms, ms(self.ctx.interval), ts)
                } else {
                    ts
                });
            }
            let active_at_s = (a.active_at_ms / 1000) as f64;
            let series = a.series_labels(&self.ctx.settings.external_labels);
            out.push(Sample {
                labels: series.alerts.clone(),
                value: 1.0,
                timestamp_ms: t.query_ts_ms,
            });
            out.push(Sample {
                labels: series.for_state.clone(),
                value: active_at_s,
                timestamp_ms: t.query_ts_ms,
            });
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
        self.rendered.retain(|_, r| r.seen == attempt);
        self.written.replace(&mut out, t.query_ts_ms);
        StepOutput {
            series: out,
            error: None,
            samples: n,
        }
    }

    /// The labels and annotations of the alert a sample stands for: reused from the
    /// render cache when still valid (see [`Rendered`]), else rendered (and cached).
    fn rendering(
        &mut self,
        s: &Sample,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> (Labels, Annotations) {
        let key = s.labels.fingerprint();
        let bits = s.value.to_bits();
        let (li, ai) = (self.label_inputs, self.annotation_inputs);
        let cached = self
            .rendered
            .get(&key)
            .filter(|r| !li.volatile && (!li.value || r.value_bits == bits));
        let (labels, annotations) = match cached {
            Some(r) if !ai.volatile && (!ai.value || r.value_bits == bits) => {
                let hit = (r.labels.clone(), r.annotations.clone());
                if let Some(r) = self.rendered.get_mut(&key) {
                    r.seen = self.attempt;
                }
                return hit;
            }
            Some(r) => {
                let labels = r.labels.clone();
                let annotations = self.render_annotations(&labels, s, t, querier);
                (labels, annotations)
            }
            None => {
                let labels = self.render_labels(s, t, querier);
                let annotations = self.render_annotations(&labels, s, t, querier);
                (labels, annotations)
            }
        };
        if !li.volatile && !ai.volatile {
            self.rendered.insert(
                key,
                Rendered {
                    value_bits: bits,
                    labels: labels.clone(),
                    annotations: annotations.clone(),
                    seen: self.attempt,
                },
            );
        }
        (labels, annotations)
    }

    /// The template data for a sample.
    fn template_context<'a>(
        &'a self,
        s: &'a Sample,
        t: EvalTime,
        querier: Option<&'a dyn TemplateQuerier>,
    ) -> Context<'a> {
        let for_ = match &self.spec.kind {
            RuleKind::Alerting(a) => a.for_,
            RuleKind::Recording(_) => Duration::ZERO,
        };
        let mut tctx = Context::new(&s.labels, s.value);
        tctx.external_labels = &self.ctx.settings.external_labels;
        tctx.external_url = &self.ctx.settings.external_url;
        tctx.expr = &self.spec.expr;
        tctx.for_ = for_;
        tctx.group_id = self.ctx.group_id;
        tctx.querier = querier;
        tctx.library = self.ctx.settings.library.as_deref();
        tctx.eval_time = Some(system_time(t.ts_ms));
        tctx.active_at = Some(system_time(t.ts_ms));
        tctx
    }

    /// The alert's final labels: the sample's without `__name__`, rule labels rendered,
    /// `alertname` and `alertgroup`.
    fn render_labels(
        &self,
        s: &Sample,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> Labels {
        let tctx = self.template_context(s, t, querier);
        let mut b: LabelsBuilder = s.labels.to_builder();
        b.del(METRIC_NAME);
        for l in &self.labels {
            match &l.fixed {
                Some(v) => b.set(l.name.clone(), v.clone()),
                None => b.set(l.name.clone(), l.template.render(&tctx)),
            };
        }
        for (name, value) in &self.identity {
            b.set(name.clone(), value.clone());
        }
        b.build()
    }

    fn render_annotations(
        &self,
        labels: &Labels,
        s: &Sample,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> Annotations {
        let mut tctx = self.template_context(s, t, querier);
        tctx.alert_id = labels.fingerprint();
        let pairs = self
            .annotations()
            .iter()
            .zip(&self.annotation_names)
            .map(|((_, tmpl), name)| (name.clone(), Arc::from(render(tmpl, &tctx))))
            .collect();
        Annotations::new(pairs)
    }

    /// The alerts due for (re)sending at `ts_ms`, marked as sent. Call after `step`
    /// succeeded; Prometheus sends nothing for a failed evaluation.
    pub fn alerts_to_send(&mut self, ts_ms: i64) -> Vec<Notification> {
        let resend = ms(self.ctx.settings.resend_delay);
        let delta = ms(self.ctx.interval).max(resend);
        let max_resolve = ms(self.ctx.settings.max_resolve_duration);
        let url = &self.generator_url;
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
            let ends_at = a.resolved_at_ms.unwrap_or(valid_until);
            out.push(a.notification(ends_at, &self.ctx.settings.external_labels, url));
        }
        out
    }

    /// Resolves every firing alert at `ts_ms` and returns what to send: used when the
    /// rule is removed, so Alertmanager hears at once that its alerts ended instead of
    /// waiting for `endsAt`.
    pub fn resolve_all(&mut self, ts_ms: i64) -> Vec<Notification> {
        let url = &self.generator_url;
        let external = &self.ctx.settings.external_labels;
        self.active
            .drain()
            .filter(|(_, a)| a.state == AlertState::Firing)
            .map(|(_, mut a)| a.notification(ts_ms, external, url))
            .collect()
    }

    /// Takes the set of series written last time (for staleness markers on removal).
    pub(crate) fn take_written(&mut self) -> Vec<Labels> {
        self.written.take()
    }

    /// Restores `ActiveAt` of an alert from `ALERTS_FOR_STATE` at start-up: the alert is
    /// created pending with the old `ActiveAt`, so `for` keeps counting across the
    /// restart; the next evaluation fires it if `for` has elapsed. `labels` are the
    /// alert's labels (without `__name__` and without external labels).
    pub fn restore(&mut self, labels: Labels, active_at_ms: i64) {
        let fp = labels.fingerprint();
        self.active.entry(fp).or_insert_with(|| {
            let mut a = Alert::new(labels, Annotations::default(), 0.0, active_at_ms);
            a.restored = true;
            a
        });
    }

    /// Applies a changed definition with the same identity (name, expr, labels), keeping
    /// alerts: `for`, `keep_firing_for` and annotations take effect at the next step. A
    /// firing alert younger than a raised `for` goes back to pending, as in Prometheus 3.
    pub fn update(&mut self, spec: &config::Rule, ctx: Arc<RuleContext>) {
        let fresh = AlertingRule::new(spec, ctx);
        self.labels = fresh.labels;
        self.identity = fresh.identity;
        self.annotation_names = fresh.annotation_names;
        self.label_inputs = fresh.label_inputs;
        self.annotation_inputs = fresh.annotation_inputs;
        self.generator_url = fresh.generator_url;
        self.spec = fresh.spec;
        self.ctx = fresh.ctx;
        self.for_ms = fresh.for_ms;
        self.keep_firing_for_ms = fresh.keep_firing_for_ms;
        self.recheck_for = true;
        // Templates and external labels may have changed.
        self.rendered.clear();
        for a in self.active.values_mut() {
            a.series = None;
        }
    }
}

/// The first evaluation at or after `active_at + for` on the grid of evaluations
/// `interval` apart through `ts` (the current one, at or after that point): when the
/// alert fired, or would have, before the restart or handover. The grid is taken from
/// `ts`, not from `active_at`: `ALERTS_FOR_STATE` keeps whole seconds, so a restored
/// `active_at` is off the grid by the group's sub-second offset.
fn first_tick_after(active_at: i64, for_ms: i64, interval: i64, ts: i64) -> i64 {
    let target = active_at + for_ms;
    if interval <= 0 || ts <= target {
        return ts;
    }
    ts - (ts - target) / interval * interval
}

#[cfg(test)]
mod first_tick_tests {
    use super::first_tick_after;

    #[test]
    fn the_grid_comes_from_the_current_evaluation() {
        // Evaluations at …20.300, 22.300, 24.300; the alert became active at 20.300,
        // stored as 20 (whole seconds); `for` 2s: it fired at 22.300.
        assert_eq!(first_tick_after(20_000, 2_000, 2_000, 24_300), 22_300);
        assert_eq!(first_tick_after(20_000, 2_000, 2_000, 22_300), 22_300);
        assert_eq!(first_tick_after(20_000, 2_000, 2_000, 40_300), 22_300);
        // `for` shorter than the interval: the next evaluation after activation.
        assert_eq!(first_tick_after(20_000, 500, 2_000, 26_300), 22_300);
    }
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
