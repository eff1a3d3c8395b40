//! What an alerting rule keeps over a reload (`update`: a changed definition with the
//! same identity) and a restart (`restore`: alerts read back from `ALERTS_FOR_STATE`).
//! Which extension keeps what is in docs/semantics.md.

use std::sync::Arc;

use super::{AlertingRule, REASON_LABEL};
use crate::config;
use crate::labels::Labels;
use crate::rule::RuleContext;
use crate::rule::alert::{Alert, AlertState, Annotations, MaybeMs};

impl AlertingRule {
    /// Restores `ActiveAt` of alerts from `ALERTS_FOR_STATE` at start-up: each alert is
    /// created pending with its old `ActiveAt`, so `for` keeps counting across the
    /// restart; the next evaluation fires it if `for` has elapsed. The labels are the
    /// alert's labels (without `__name__` and without external labels). An alert already
    /// held, or given twice, is restored once (the first time).
    pub fn restore(&mut self, alerts: impl IntoIterator<Item = (Labels, i64)>) {
        let mut fresh: Vec<Alert> = Vec::new();
        for (labels, active_at_ms) in alerts {
            let fp = labels.fingerprint();
            if self.active.contains(fp) {
                continue;
            }
            // A synthetic alert (`alertstate_reason`) also restores how long its
            // condition lasted; one whose policy is gone is not restored.
            if labels.get(REASON_LABEL).is_some()
                && !self.policies.restore(fp, &labels, active_at_ms)
            {
                continue;
            }
            let mut a = Alert::new(labels, Annotations::default(), 0.0, active_at_ms);
            a.restored = true;
            fresh.push(a);
        }
        // Stable: of alerts given twice, the first is kept.
        fresh.sort_by_key(|a| a.labels.fingerprint());
        fresh.dedup_by_key(|a| a.labels.fingerprint());
        self.active.add(fresh);
    }

    /// Applies a changed definition with the same identity (name, expr, labels), keeping
    /// alerts: `for`, `keep_firing_for` and annotations take effect at the next step. A
    /// firing alert younger than a raised `for` goes back to pending (unlike Prometheus;
    /// see `AlertingRule::demote_below_raised_for`).
    pub fn update(&mut self, spec: Arc<config::Rule>, ctx: Arc<RuleContext>) {
        let fresh = AlertingRule::from_spec(spec, ctx);
        self.labels = fresh.labels;
        self.identity = fresh.identity;
        self.annotation_names = fresh.annotation_names;
        self.label_inputs = fresh.label_inputs;
        self.annotation_inputs = fresh.annotation_inputs;
        self.generator_url = fresh.generator_url;
        self.spec = fresh.spec;
        self.ctx = fresh.ctx;
        self.timing = fresh.timing;
        self.recovery = fresh.recovery;
        // The history outlives a changed `flapping`, not its removal.
        self.flapping = match (self.flapping.take(), fresh.flapping) {
            (Some(mut old), Some(new)) => {
                old.update(new.rule());
                Some(old)
            }
            (_, new) => new,
        };
        self.presence = fresh.presence;
        self.policies.update(fresh.policies);
        // The history outlives a changed `for_count` (cut to its window), not its removal.
        self.dampening = match (self.dampening.take(), fresh.dampening) {
            (Some(mut old), Some(new)) => {
                old.update(new.rule());
                Some(old)
            }
            (_, new) => new,
        };
        self.recheck_for = true;
        // Templates may have changed.
        self.active.drop_index();
    }

    /// After `update` raised `for`: firing alerts younger than the new `for` go back to
    /// pending, keeping `activeAt`, and fire again once old enough.
    ///
    /// This is tocsin's rule, not Prometheus'. Prometheus 3.5 hands the old alerts to
    /// the reloaded rule as they are (`Group.CopyState`) and `Eval` only ever promotes
    /// pending alerts, so there an alert keeps firing when `for` is raised above its age
    /// (checked with prometheus 3.5.3: `for` raised from 0s to 1h, the alert still
    /// firing after the reload). tocsin applies the new `for` to every alert, so that a
    /// firing alert is always one that has been active for `for`, as the rule now reads:
    /// raising `for` is how an alert that fires too early is quieted. Alertmanager is
    /// not told (pending alerts are not sent): it lets the alert expire at its `endsAt`.
    pub(super) fn demote_below_raised_for(&mut self, ts: i64) {
        for a in self.active.iter_mut() {
            if a.state == AlertState::Firing && ts - a.active_at_ms < self.timing.for_ms {
                a.state = AlertState::Pending;
                a.fired_at_ms = MaybeMs::NEVER;
            }
        }
    }
}
