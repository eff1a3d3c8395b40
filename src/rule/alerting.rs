//! Alerting rules: Prometheus' pending → firing → inactive state machine, with
//! `for`, `keep_firing_for`, the resolved retention and `limit`.
//!
//! [`AlertingRule::step`] follows Prometheus' `AlertingRule.Eval` (rules/alerting.go)
//! phase by phase, each a function of its own:
//!
//! 1. `render`: every series of the query result becomes an
//!    `Observed` alert, its labels and annotations rendered (or reused, see
//!    `render.rs`); two series that make one alert fail the evaluation;
//! 2. `merge`: the observed alerts join the held ones;
//! 3. `advance`: every held alert moves through its states at this evaluation time;
//! 4. `emit`: every active alert writes `ALERTS` and `ALERTS_FOR_STATE`.
//!
//! Before rendering, the answer's size is claimed in the alert budget shared by all rules
//! (`-rule.maxActiveAlerts`, see `budget.rs`), and after advancing, the alerts held.
//!
//! tocsin's extensions (docs/rules.md) enter in the same phases: `recover_expr`
//! (`hysteresis.rs`) holds a firing alert present in `advance` until its recovery
//! series is returned; `for_count` (`dampening.rs`) records, between `merge` and
//! `advance`, which alerts this evaluation returned, and holds back pending alerts not
//! returned often enough; `no_data` and `on_error` (`policy.rs`) judge the answer before
//! rendering: they keep the alerts as they were or add a synthetic alert's series to
//! the result; `flapping` (`flapping.rs`) records, right after `advance`, each alert's
//! changes into and out of firing, and changes only what phase 4 writes and `send.rs`
//! sends. A rule without them takes exactly Prometheus' path.
//!
//! Around the phases: `render.rs` (phase 1 and its cache), `advance.rs` (phase 3 for
//! one alert), `series.rs` (phase 4), `send.rs` (what goes to Alertmanager),
//! `lifecycle.rs` (what a reload and a restart keep).
//!
//! The comments say why each decision is taken. New alert semantics belong in a phase:
//! how an alert changes state in `advance` (reading the durations of `Timing`), what
//! makes an alert present in `render` and `merge`.

mod advance;
mod alerts;
mod dampening;
mod flapping;
mod hysteresis;
mod lifecycle;
mod policy;
mod render;
mod send;
mod series;

use std::sync::Arc;

use super::alert::{Alert, AlertState, Annotations, Attempt};
use super::budget::Share;
use super::{Answer, EvalTime, Health, Outcome, RuleContext, StepOutput, shared};
use crate::config::{self, RuleKind};
use crate::labels::{Labels, Str};
use crate::sample::Sample;
use crate::template::{Inputs, TemplateQuerier};
use advance::{Seen, advance, held};
use alerts::Alerts;
use dampening::Dampening;
pub use flapping::FLAPPING_LABEL;
use flapping::Flapping;
use hysteresis::{Recovered, Recovery};
pub use policy::REASON_LABEL;
use policy::{Outcome as DataOutcome, Policies, Reason};
use render::{LabelTemplate, inputs_of};
use series::{Written, emit};

/// The error Prometheus reports when two samples map to one alert.
pub const DUPLICATE_LABELSET: &str =
    "vector contains metrics with the same labelset after applying alert labels";

/// An alerting rule and the alerts it currently holds.
#[derive(Debug)]
pub struct AlertingRule {
    spec: Arc<config::Rule>,
    ctx: Arc<RuleContext>,
    /// Rule labels with group labels merged under them, in application order.
    labels: Vec<LabelTemplate>,
    /// Annotation names, shared by all alerts.
    annotation_names: Arc<Vec<Str>>,
    /// `alertname` and, unless disabled, `alertgroup`, as added to every alert.
    identity: Vec<(Str, Str)>,
    /// What the label templates, and the annotation templates, read besides labels.
    label_inputs: Inputs,
    annotation_inputs: Inputs,
    /// `generatorURL` of every notification.
    generator_url: Arc<str>,
    timing: Timing,
    /// The alerts held, sorted by the fingerprint of their labels, with the render
    /// cache's index of them by query series (see `alerts.rs` and `render.rs`).
    active: Alerts,
    /// The last evaluation whose renderings the render cache holds: the alerts it
    /// returned hold what was rendered for their series.
    rendered_at: Attempt,
    /// Numbers evaluations, to tell what the current one saw.
    attempt: Attempt,
    /// The current evaluation's answer may be partial (`$isPartial` in templates).
    partial: bool,
    /// The records of series written at the last successful evaluation by alerts no
    /// longer held (those held keep their own, `Alert::wrote`).
    written: Written,
    outcome: Outcome,
    /// Set by `update`: at the next step, firing alerts younger than `for` go back to
    /// pending (their age is only known then).
    recheck_for: bool,
    /// This rule's part of `-rule.maxActiveAlerts`.
    budget: Share,
    /// `recover_expr`: how its series match the alerts.
    recovery: Option<Recovery>,
    /// `for_count`: which evaluations returned each alert lately.
    dampening: Option<Dampening>,
    /// `no_data` and `on_error`, and the synthetic alerts they raised.
    policies: Policies,
    /// `flapping`: the recent firing changes of each alert.
    flapping: Option<Flapping>,
    /// With `no_data`: the query asking whether `expr`'s selectors returned anything.
    presence: Option<Arc<str>>,
}

/// One series of the query result as the alert it stands for, before it joins the
/// alerts held (Prometheus' `alerts[h]` in `Eval`).
struct Observed {
    /// The fingerprint of `labels`: the alert's identity.
    fingerprint: u64,
    /// The fingerprint of the query series.
    source: u64,
    value: f64,
    labels: Labels,
    annotations: Annotations,
}

/// The durations an alert's transitions are measured against, in milliseconds.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// `for`: how long an alert is pending before it fires.
    for_ms: i64,
    /// `keep_firing_for`: how long a firing alert outlives its series.
    keep_firing_for_ms: i64,
    /// `-rule.resolvedRetention`: how long a resolved alert is kept.
    retention_ms: i64,
    /// The group's interval, the grid a restored alert fired on.
    interval_ms: i64,
}

impl Timing {
    fn new(spec: &config::Rule, ctx: &RuleContext) -> Timing {
        let (for_ms, keep_firing_for_ms) = match &spec.kind {
            RuleKind::Alerting(a) => (ms(a.for_), ms(a.keep_firing_for)),
            RuleKind::Recording(_) => (0, 0),
        };
        Timing {
            for_ms,
            keep_firing_for_ms,
            retention_ms: ms(ctx.settings.resolved_retention),
            interval_ms: ms(ctx.interval),
        }
    }
}

/// What an evaluation leaves of a held alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Pending or firing: counts toward `limit` and writes its series.
    Active,
    /// Resolved and within the retention: kept, so that its resolution is re-sent.
    Resolved,
    /// Forgotten.
    Dropped,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl AlertingRule {
    /// Builds the rule from a copy of `spec`; see [`AlertingRule::from_spec`].
    pub fn new(spec: &config::Rule, ctx: Arc<RuleContext>) -> AlertingRule {
        AlertingRule::from_spec(Arc::new(spec.clone()), ctx)
    }

    /// Builds the rule around `spec`, shared with the loaded rule set; `spec` must be an
    /// alerting rule (a recording rule yields a rule that never fires, which cannot
    /// happen with a validated rule set).
    pub fn from_spec(spec: Arc<config::Rule>, ctx: Arc<RuleContext>) -> AlertingRule {
        let (annotation_names, annotation_inputs) = match &spec.kind {
            RuleKind::Alerting(a) => (
                Arc::new(
                    a.annotations
                        .iter()
                        .map(|(n, _)| n.as_str().into())
                        .collect(),
                ),
                inputs_of(a.annotations.iter().map(|(_, t)| t)),
            ),
            RuleKind::Recording(_) => (Arc::default(), Inputs::default()),
        };
        let labels = LabelTemplate::all(&ctx.group_labels, &spec.labels);
        let mut identity = vec![(shared::alertname(), Str::from(spec.name()))];
        if !ctx.settings.disable_alertgroup_label {
            identity.push((shared::alertgroup(), Str::from(ctx.group_name.as_str())));
        }
        let ctx_budget = ctx.settings.alert_budget.clone();
        let ext = match &spec.kind {
            RuleKind::Alerting(a) => a.ext.clone(),
            RuleKind::Recording(_) => Default::default(),
        };
        let recovery = ext.recover_expr.as_ref().map(|_| {
            Recovery::new(
                labels
                    .iter()
                    .map(|l| &l.name)
                    .chain(identity.iter().map(|(n, _)| n)),
            )
        });
        AlertingRule {
            recovery,
            dampening: ext.for_count.map(Dampening::new),
            policies: Policies::new(ext.no_data, ext.on_error),
            flapping: ext.flapping.map(Flapping::new),
            presence: ext
                .no_data
                .and_then(|_| crate::promql::selectors::presence_query(&spec.expr))
                .map(Arc::from),
            annotation_names,
            label_inputs: inputs_of(labels.iter().map(|l| &l.template)),
            annotation_inputs,
            labels,
            identity,
            generator_url: super::link::expr_link(&ctx.settings.external_url, &spec.expr).into(),
            timing: Timing::new(&spec, &ctx),
            spec,
            ctx,
            active: Alerts::default(),
            rendered_at: 0,
            attempt: 0,
            partial: false,
            written: Written::default(),
            outcome: Outcome::default(),
            recheck_for: false,
            budget: Share::new(ctx_budget),
        }
    }

    pub fn spec(&self) -> &Arc<config::Rule> {
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
        self.active.iter()
    }

    /// One evaluation of `expr` alone (see [`AlertingRule::step_answer`]); a rule with
    /// `recover_expr` fails it, as its recovery condition was not asked.
    pub fn step(
        &mut self,
        result: Result<Vec<Sample>, String>,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> StepOutput {
        self.step_answer(Answer::of(result), t, querier)
    }

    /// Whether the alert `a` of this rule is flapping (`flapping`).
    pub fn is_flapping(&self, a: &Alert) -> bool {
        self.flapping
            .as_ref()
            .is_some_and(|f| f.is_flapping(a.labels.fingerprint()))
    }

    /// How many of this rule's alerts are flapping.
    pub fn flapping_count(&self) -> usize {
        self.flapping.as_ref().map_or(0, |f| f.count())
    }

    /// How many times this rule's alerts went into or out of firing since it was
    /// created (only counted with `flapping`; reloads keep counting).
    pub fn flapping_transitions(&self) -> u64 {
        self.flapping.as_ref().map_or(0, |f| f.transitions())
    }

    /// The query that tells "no data" from "condition false" (with `no_data`).
    pub fn presence_query(&self) -> Option<&str> {
        self.presence.as_deref()
    }

    /// Whether the alerts of a failed evaluation are still sent (`on_error`).
    pub fn sends_after_error(&self) -> bool {
        self.policies.on_error()
    }

    /// One evaluation: render → merge → advance → emit. Errors leave the alerts as they
    /// were (except `limit`, which clears them, as Prometheus does) and produce no
    /// series, unless `on_error` says otherwise (`policy.rs`).
    pub fn step_answer(
        &mut self,
        answer: Answer,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> StepOutput {
        let partial = answer.partial;
        // `no_data` and `on_error` judge the answer before anything else: whether it
        // failed, found no data or holds the condition's series decides whether the
        // alerts move at all.
        let read = self.read(answer);
        let outcome = match &read {
            Err(_) => DataOutcome::Failed,
            Ok((_, _, true)) => DataOutcome::NoData,
            Ok(_) => DataOutcome::Data,
        };
        let Some(verdict) = self.policies.judge(outcome, t.ts_ms) else {
            // A failed query says nothing about the alerts: as in Prometheus, they stay
            // as they are, and nothing is written, so no series is marked stale.
            return self.outcome.fail(read.err().unwrap_or_default(), 0);
        };
        let (mut samples, recovered, failed) = match read {
            Ok((s, r, _)) => (s, r, None),
            Err(e) => (Vec::new(), None, Some(e)),
        };
        // A synthetic alert is rendered from a series of its own, as if the query had
        // returned it; the result is empty whenever one is raised.
        if let Some((reason, _)) = verdict.raise {
            samples.push(reason.sample());
        }
        self.next_attempt();
        self.partial = partial;
        let n = samples.len();
        // Each series becomes an alert: room for them is claimed in `-rule.maxActiveAlerts`
        // before anything is rendered, so an answer that explodes in cardinality costs
        // nothing beyond itself.
        if let Err(e) = self.budget.claim(n.max(self.active.len())) {
            return self.drop_alerts(e, n);
        }
        let observed = match self.render(&samples, t, querier) {
            Ok(o) => o,
            Err(e) => return self.outcome.fail(e, n),
        };
        let raised = verdict.raise.zip(observed.first().map(|o| o.fingerprint));
        self.merge(observed, t.ts_ms);
        // A synthetic alert fires at once: its `after` was its `for`, already waited.
        if let Some(((reason, since), fp)) = raised {
            self.fire_synthetic(fp, reason, since, t.ts_ms);
        }
        if failed.is_none() {
            self.record_returned(t.ts_ms);
        }
        let mut series = Vec::with_capacity(2 * self.active.len());
        let active = self.advance_and_emit(t, recovered.as_ref(), verdict.keep, &mut series);
        self.conclude(active, n, failed, series, t)
    }

    /// `for_count`: which held alerts this evaluation returned. Only a successful
    /// evaluation counts: a failed one says nothing about whether the condition held.
    fn record_returned(&mut self, ts: i64) {
        if let Some(d) = self.dampening.as_mut() {
            let attempt = self.attempt;
            let seen = self
                .active
                .iter()
                .map(|a| (a.labels.fingerprint(), a, a.seen == attempt));
            d.record(seen, ts, self.timing.interval_ms);
        }
    }

    /// After advancing: `limit` and the alert budget checked against the alerts now
    /// held (`active` of them pending or firing), what no alert needs any more
    /// forgotten, and the evaluation's output: the `series` written, as a success or,
    /// with `on_error`, as the failure `failed`.
    fn conclude(
        &mut self,
        active: usize,
        n: usize,
        failed: Option<String>,
        mut series: Vec<Sample>,
        t: EvalTime,
    ) -> StepOutput {
        if self.ctx.limit > 0 && active > self.ctx.limit {
            // Prometheus forgets all the rule's alerts, firing ones too, without sending
            // their resolution: the rule is broken until its result fits the limit, and
            // keeping some of its alerts would be an arbitrary choice.
            let e = format!(
                "exceeded limit of {} with {} alerts",
                self.ctx.limit, active
            );
            return self.drop_alerts(e, n);
        }
        // The alerts now held, resolved ones too (they are memory as well), replace the
        // claim made for this evaluation's answer.
        if let Err(e) = self.budget.claim(self.active.len()) {
            return self.drop_alerts(e, n);
        }
        let held = &self.active;
        self.policies.retain(|fp| held.contains(fp));
        self.index_rendered();
        let flapping = self.flapping.as_ref();
        let alerts = self.active.iter_mut().map(|a| {
            let flaps = flapping.is_some_and(|f| f.labelled(a.labels.fingerprint()));
            (a, flaps)
        });
        self.written
            .replace(alerts, &self.ctx, t.query_ts_ms, &mut series);
        let mut out = match failed {
            // `on_error`: the evaluation failed, yet the alerts kept are written (and
            // sent by the engine), so that they do not expire during an outage.
            Some(e) => self.outcome.fail(e, 0),
            None => {
                self.outcome.succeed();
                StepOutput {
                    samples: n,
                    ..StepOutput::default()
                }
            }
        };
        out.series = series;
        out
    }

    /// Fails the evaluation and drops every alert, as Prometheus does when `limit` is
    /// exceeded; the alerts' part of the budget is given back.
    fn drop_alerts(&mut self, error: String, samples: usize) -> StepOutput {
        // Their series end at the next successful evaluation, unless they are back.
        for a in self.active.take() {
            self.written.leave(&a);
        }
        if let Some(d) = &mut self.dampening {
            d.clear();
        }
        self.policies.retain(|_| false);
        if let Some(f) = &mut self.flapping {
            f.clear();
        }
        self.budget.release();
        self.outcome.fail(error, samples)
    }

    /// Phase 2: the observed alerts join the held ones.
    fn merge(&mut self, observed: Vec<Observed>, ts: i64) {
        if std::mem::take(&mut self.recheck_for) {
            self.demote_below_raised_for(ts);
        }
        // Alerts new to the rule, in the order of `observed`: by fingerprint.
        let mut fresh = Vec::new();
        let mut moved = false;
        for o in observed {
            let held = self.active.get_mut(o.fingerprint);
            // The render cache's index goes when an alert is made by another series.
            moved |= held.as_ref().is_some_and(|a| a.source != o.source);
            match held {
                // Still pending or firing: the same alert, with this evaluation's value
                // and annotations; its `activeAt` keeps counting toward `for`.
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = o.value;
                    a.annotations = o.annotations;
                    a.source = o.source;
                    a.seen = self.attempt;
                }
                // New, or back after it resolved. Prometheus replaces a resolved alert
                // with a new pending one instead of reviving it, so `for` restarts: its
                // resolution was sent, so its return is a new incident, which must hold
                // for `for` before it pages, with its own `activeAt`, `firedAt` and
                // sending history (a firing alert never sent is sent at once).
                // It takes over what the resolved one's series carried when last
                // written, so that they are ended or continued as the new one's.
                old => {
                    let mut a = Alert::new(o.labels, o.annotations, o.value, ts);
                    a.source = o.source;
                    a.seen = self.attempt;
                    match old {
                        Some(resolved) => {
                            a.wrote = resolved.wrote;
                            *resolved = a;
                        }
                        None => fresh.push(a),
                    }
                }
            }
        }
        if moved {
            self.active.drop_index();
        }
        self.active.add(fresh);
    }

    /// Phases 3 and 4, in one pass over the alerts: advances every held alert to `t`,
    /// emits the series of the active ones into `series`, forgets the dropped ones.
    /// Returns how many are active.
    fn advance_and_emit(
        &mut self,
        t: EvalTime,
        recovered: Option<&Recovered>,
        keep: bool,
        series: &mut Vec<Sample>,
    ) -> usize {
        let (attempt, timing) = (self.attempt, self.timing);
        let ctx = &self.ctx;
        let recovery = self.recovery.as_ref().zip(recovered);
        let dampening = self.dampening.as_ref();
        let policies = &self.policies;
        let mut flapping = self.flapping.as_mut();
        let written = &mut self.written;
        let mut active = 0;
        self.active.retain(|a| {
            let fp = a.labels.fingerprint();
            let present = a.seen == attempt;
            let synthetic = policies.synthetic(fp);
            let seen = Seen {
                present,
                held: !present
                    && synthetic.is_none()
                    && recovery.is_some_and(|r| held(a, r, t.ts_ms, &timing)),
                dampened: dampening.is_some_and(|d| !d.allows(fp)),
                // An error alert is not kept past the errors: data came back.
                kept: keep && !present && synthetic != Some(Reason::Error),
                synthetic: synthetic.is_some(),
            };
            let before = a.state;
            let fate = advance(a, seen, t.ts_ms, &timing);
            let flaps = flapping
                .as_deref_mut()
                .is_some_and(|f| f.observe(fp, before, a.state, t.ts_ms) && f.labelled(fp));
            match fate {
                Fate::Active => {
                    active += 1;
                    emit(a, ctx, t.query_ts_ms, flaps, series);
                }
                Fate::Resolved => {}
                Fate::Dropped => written.leave(a),
            }
            fate != Fate::Dropped
        });
        if let Some(f) = &mut self.flapping {
            f.settle(t.ts_ms);
        }
        active
    }

    /// `-external.alert.source` rendered for `a`, when set (the API's `source`; the same
    /// link goes to Alertmanager as `generatorURL`).
    pub fn alert_source(&self, a: &Alert) -> Option<String> {
        let t = self.ctx.settings.alert_source.as_ref()?;
        Some(super::link::render_source(t, &self.ctx, &self.spec, a))
    }

    /// Takes the set of series written last time (for staleness markers on removal).
    pub(crate) fn take_written(&mut self) -> Vec<Labels> {
        self.written.take(self.active.iter_mut(), &self.ctx)
    }

    /// Starts an evaluation attempt: numbers wrap, skipping 0 ("not yet returned").
    fn next_attempt(&mut self) {
        self.attempt = self.attempt.checked_add(1).unwrap_or(1);
    }
}
