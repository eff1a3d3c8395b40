//! What an evaluation leaves behind — the rule's snapshot and its metric series — and
//! the series forgotten when a rule or group goes.

use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::GroupRunner;
use super::evaluate::Report;
use crate::config::Group;
use crate::manager::engine::{Engine, RuleLabel};
use crate::rule::Rule;
use crate::status;

/// A rule's metric series, kept so that an evaluation updates them without building
/// label sets or locking the metric families. Valid while the rule keeps its index and
/// name: rebuilt on every group update.
pub(super) struct RuleMetrics {
    /// Created at 0 on the first evaluation, so that the first error is an increase
    /// that `increase()`-based alerts can see.
    errors: Counter,
    samples: Gauge,
    /// Firing and pending alert counts (alerting rules only).
    states: Option<(Gauge, Gauge)>,
    /// Flapping alerts and firing changes (rules with `flapping` only).
    flapping: Option<(Gauge, Counter)>,
}

impl GroupRunner {
    /// Updates the rule's snapshot and metrics after an evaluation.
    pub(super) fn record(&mut self, rep: &Report, at: SystemTime) {
        let Some(slot) = self.status.rules.get_mut(rep.index) else {
            return;
        };
        let m = &self.engine.metrics;
        let handles = self.metrics[rep.index].get_or_insert_with(|| {
            let label = RuleLabel::new(
                self.labels.group.clone(),
                self.labels.file.clone(),
                slot.name.clone(),
            );
            RuleMetrics {
                errors: m.rule_errors.get_or_create(&label).clone(),
                samples: m.rule_samples.get_or_create(&label).clone(),
                states: matches!(rep.rule, Rule::Alerting(_)).then(|| {
                    (
                        m.alerts_firing.get_or_create(&label).clone(),
                        m.alerts_pending.get_or_create(&label).clone(),
                    )
                }),
                flapping: has_flapping(&rep.rule).then(|| {
                    (
                        m.alerts_flapping.get_or_create(&label).clone(),
                        m.flapping_transitions.get_or_create(&label).clone(),
                    )
                }),
            }
        });
        m.rule_evaluations.inc();
        if rep.error.is_some() {
            handles.errors.inc();
        }
        handles.samples.set(rep.samples as i64);
        if let (Rule::Alerting(a), Some((firing, pending))) = (&rep.rule, &handles.states) {
            let (f, p) = status::count_states(a);
            firing.set(f);
            pending.set(p);
        }
        if let (Rule::Alerting(a), Some((flapping, transitions))) = (&rep.rule, &handles.flapping) {
            flapping.set(a.flapping_count() as i64);
            // The rule counts since it was created, over reloads; the counter of its
            // label lives as long (both go when the rule does), so it catches up.
            transitions.inc_by(a.flapping_transitions().saturating_sub(transitions.get()));
        }
        let evaluation = status::Evaluation {
            at,
            started: rep.started,
            elapsed: rep.elapsed,
            samples: rep.samples,
            series_fetched: rep.series_fetched,
            error: rep.error.as_deref(),
            group: &self.query,
        };
        *slot = Arc::new(status::rule_status(slot, &rep.rule, &evaluation));
    }

    /// Drops the group's and its rules' metric series (the group no longer runs here).
    pub(super) fn forget_metrics(&mut self) {
        for r in self.rules.iter().flatten() {
            forget_rule_metrics(r.name(), &self.engine, &self.def);
        }
        let m = &self.engine.metrics;
        m.iterations.remove(&self.labels);
        m.missed.remove(&self.labels);
        m.duration_ms.remove(&self.labels);
    }
}

pub(super) fn forget_rule_metrics(rule: &str, engine: &Engine, def: &Group) {
    let label = RuleLabel::new(
        def.name.as_str().into(),
        def.shown_file.as_str().into(),
        rule.into(),
    );
    let m = &engine.metrics;
    m.rule_errors.remove(&label);
    m.rule_samples.remove(&label);
    m.alerts_firing.remove(&label);
    m.alerts_pending.remove(&label);
    m.alerts_flapping.remove(&label);
    m.flapping_transitions.remove(&label);
}

/// Whether `r` is an alerting rule with `flapping`.
fn has_flapping(r: &Rule) -> bool {
    match r.spec().kind {
        crate::config::RuleKind::Alerting(ref a) => a.ext.flapping.is_some(),
        crate::config::RuleKind::Recording(_) => false,
    }
}
