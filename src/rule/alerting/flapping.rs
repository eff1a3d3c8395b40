//! `flapping: {changes: K, within: DURATION, hold: BOOL}`: an alert that went into or out
//! of firing more than K times within the window is *flapping*, until it has not changed
//! for a whole window. While it flaps, its `ALERTS` series and notifications carry
//! `flapping="true"` (Alertmanager sees another alert: the label set it had is resolved
//! there when the label comes, and back), or, with `hold: true`, nothing is sent for it
//! and the state it is in when it settles is sent then.
//!
//! The history is kept per alert identity and outlives the alert (a resolved alert is
//! dropped after the retention, and its return is a new alert with the same identity),
//! for as long as a change lies within the window. Only firing ↔ not firing counts:
//! pending alerts are never sent, so they cannot page anyone twice.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::config;
use crate::labels::Labels;
use crate::rule::AlertState;

/// The label a flapping alert carries (without `hold`).
pub const FLAPPING_LABEL: &str = "flapping";

/// The firing changes of every alert identity of a rule with `flapping`.
#[derive(Debug, Clone)]
pub(super) struct Flapping {
    rule: config::Flapping,
    by_alert: HashMap<u64, History>,
    /// Firing changes seen since the rule was created (kept over reloads): only grows,
    /// for the metric that counts them.
    transitions: u64,
}

#[derive(Debug, Clone, Default)]
pub(super) struct History {
    /// Evaluation times of its changes within the window, oldest first.
    changes: VecDeque<i64>,
    flapping: bool,
    /// Whether the label set Alertmanager last got as firing carried the label: when it
    /// differs from the current one, that label set is resolved there.
    sent_flapping: bool,
}

impl Flapping {
    pub(super) fn new(rule: config::Flapping) -> Flapping {
        Flapping {
            rule,
            by_alert: HashMap::new(),
            transitions: 0,
        }
    }

    pub(super) fn rule(&self) -> config::Flapping {
        self.rule
    }

    /// Takes a reloaded rule's `flapping`; the history is kept.
    pub(super) fn update(&mut self, rule: config::Flapping) {
        self.rule = rule;
    }

    /// Records the alert `fp` moving from `before` to `after` at `ts`; returns whether
    /// it flaps now.
    pub(super) fn observe(
        &mut self,
        fp: u64,
        before: AlertState,
        after: AlertState,
        ts: i64,
    ) -> bool {
        let firing = |s| s == AlertState::Firing;
        if firing(before) != firing(after) {
            self.by_alert.entry(fp).or_default().changes.push_back(ts);
            self.transitions += 1;
        }
        let (within, k) = self.limits();
        self.by_alert
            .get_mut(&fp)
            .is_some_and(|h| h.settle(ts, within, k))
    }

    /// After an evaluation at `ts`, for the alerts no longer held as well: forgets
    /// changes older than the window, and histories with nothing left to tell.
    pub(super) fn settle(&mut self, ts: i64) {
        let (within, k) = self.limits();
        self.by_alert.retain(|_, h| {
            h.settle(ts, within, k);
            h.flapping || !h.changes.is_empty() || h.sent_flapping
        });
    }

    fn limits(&self) -> (i64, usize) {
        let within = i64::try_from(self.rule.within.as_millis()).unwrap_or(i64::MAX);
        (within, self.rule.changes as usize)
    }

    /// Whether the alert `fp` is flapping.
    pub(super) fn is_flapping(&self, fp: u64) -> bool {
        self.by_alert.get(&fp).is_some_and(|h| h.flapping)
    }

    /// How many alert identities are flapping.
    pub(super) fn count(&self) -> usize {
        self.by_alert.values().filter(|h| h.flapping).count()
    }

    /// Firing changes counted since the rule was created.
    pub(super) fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Whether a notification of alert `fp` carries the label now, and whether the
    /// last one sent for it did not (or did): then the label set Alertmanager has is
    /// resolved, and the other one sent at once.
    pub(super) fn variant(&self, fp: u64) -> (bool, bool) {
        match self.by_alert.get(&fp) {
            Some(h) if !self.rule.hold => (h.flapping, h.flapping != h.sent_flapping),
            _ => (false, false),
        }
    }

    /// Records that a notification of alert `fp` went out as [`Flapping::variant`] said.
    pub(super) fn sent(&mut self, fp: u64) {
        if let Some(h) = self.by_alert.get_mut(&fp) {
            h.sent_flapping = h.flapping && !self.rule.hold;
        }
    }

    /// Whether the alert `fp` carries `flapping="true"` now (flapping, without `hold`).
    pub(super) fn labelled(&self, fp: u64) -> bool {
        !self.rule.hold && self.is_flapping(fp)
    }

    /// Whether the notifications of alert `fp` are held now.
    pub(super) fn held(&self, fp: u64) -> bool {
        self.rule.hold && self.is_flapping(fp)
    }

    /// Forgets everything (the rule's alerts were dropped).
    pub(super) fn clear(&mut self) {
        self.by_alert.clear();
    }
}

impl History {
    /// Forgets changes older than the window at `ts` and decides whether the alert
    /// flaps: more than K changes within the window start it, a window without change
    /// ends it.
    fn settle(&mut self, ts: i64, within: i64, k: usize) -> bool {
        while self.changes.front().is_some_and(|&c| ts - c >= within) {
            self.changes.pop_front();
        }
        self.flapping = self.changes.len() > k || (self.flapping && !self.changes.is_empty());
        self.flapping
    }
}

/// `labels` with `flapping="true"`.
pub(super) fn with_label(labels: &Labels) -> Labels {
    let mut b = labels.to_builder();
    b.set(Arc::from(FLAPPING_LABEL), Arc::from("true"));
    b.build()
}
