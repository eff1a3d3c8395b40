//! `for_count: {n: N, of: M}` (dampening): an alert fires only at an evaluation where its
//! series is returned and was returned in at least N of the last M evaluations, that one
//! included (Hawkular's "relaxed count"; N consecutive is `{n: N, of: N}`).
//!
//! The history is one bit per evaluation and alert identity, newest in the lowest bit,
//! kept while any of the last M evaluations saw the series: a pending alert that leaves
//! the result is forgotten as in Prometheus, but its history is not, so that its return
//! within the window counts what came before. Only successful evaluations count: a
//! failed query says nothing about the series.

use std::collections::HashMap;

use super::super::alert::{Alert, AlertState};
use crate::config::ForCount;

/// The evaluation history of every alert identity a rule with `for_count` saw lately.
#[derive(Debug, Clone)]
pub(super) struct Dampening {
    rule: ForCount,
    /// By alert fingerprint; bit 0 is the current evaluation.
    seen: HashMap<u64, u64>,
}

impl Dampening {
    pub(super) fn new(rule: ForCount) -> Dampening {
        Dampening {
            rule,
            seen: HashMap::new(),
        }
    }

    pub(super) fn rule(&self) -> ForCount {
        self.rule
    }

    /// Takes a changed `for_count` (a reload): the history is kept, cut to the new
    /// window.
    pub(super) fn update(&mut self, rule: ForCount) {
        self.rule = rule;
        let window = self.window();
        self.seen.retain(|_, bits| {
            *bits &= window;
            *bits != 0
        });
    }

    fn window(&self) -> u64 {
        match self.rule.of {
            64.. => u64::MAX,
            of => (1u64 << of) - 1,
        }
    }

    /// Records one successful evaluation at `ts`: `present` tells, for each held alert,
    /// whether this evaluation returned its series.
    ///
    /// A restored alert (from `ALERTS_FOR_STATE` after a restart) brings no history; its
    /// `activeAt` says its series was returned at every evaluation since then (a pending
    /// alert is dropped at its first absence), so those evaluations, on the group's
    /// `interval` grid, are counted for it.
    pub(super) fn record<'a>(
        &mut self,
        alerts: impl Iterator<Item = (u64, &'a Alert, bool)>,
        ts: i64,
        interval_ms: i64,
    ) {
        let window = self.window();
        for bits in self.seen.values_mut() {
            *bits <<= 1;
        }
        for (fp, a, present) in alerts {
            // A restored alert brings its history even when absent: `recover_expr` may
            // hold it, and it fires only if that history allows.
            let restored = a.restored && a.state != AlertState::Inactive;
            if !present && !restored {
                continue;
            }
            let bits = self
                .seen
                .entry(fp)
                .or_insert_with(|| seed(a, ts, interval_ms, self.rule.of) << 1);
            *bits |= u64::from(present);
        }
        self.seen.retain(|_, bits| {
            *bits &= window;
            *bits != 0
        });
    }

    /// Whether the alert `fp` may fire: returned in at least N of the last M evaluations.
    pub(super) fn allows(&self, fp: u64) -> bool {
        self.seen
            .get(&fp)
            .is_some_and(|bits| bits.count_ones() >= self.rule.n)
    }

    /// Forgets everything (the rule's alerts were dropped).
    pub(super) fn clear(&mut self) {
        self.seen.clear();
    }
}

/// The evaluations before `ts` that returned a restored alert's series: those since its
/// `activeAt`, at most `of`. An alert first seen by this process has none.
fn seed(a: &Alert, ts: i64, interval_ms: i64, of: u32) -> u64 {
    if !a.restored || a.state == AlertState::Inactive || interval_ms <= 0 || ts <= a.active_at_ms {
        return 0;
    }
    let before = (ts - a.active_at_ms + interval_ms - 1) / interval_ms;
    match before.min(i64::from(of)) {
        64.. => u64::MAX,
        k => (1u64 << k) - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::rule::alert::Annotations;

    fn alert(restored: bool, active_at: i64) -> Alert {
        let mut a = Alert::new(Labels::empty(), Annotations::default(), 1.0, active_at);
        a.restored = restored;
        a
    }

    #[test]
    fn counts_n_of_the_last_m_evaluations() {
        let mut d = Dampening::new(ForCount { n: 2, of: 3 });
        let a = alert(false, 0);
        let mut allows = Vec::new();
        for (i, present) in [true, false, true, false, false, true, true]
            .iter()
            .enumerate()
        {
            d.record(
                std::iter::once((1, &a, *present)),
                i as i64 * 60_000,
                60_000,
            );
            allows.push(d.allows(1));
        }
        // Windows of three: [1], [1,0], [1,0,1], [0,1,0], [1,0,0], [0,0,1], [0,1,1].
        assert_eq!(allows, [false, false, true, false, false, false, true]);
        // Three evaluations without the series: forgotten.
        for i in 7..10 {
            d.record(std::iter::empty(), i * 60_000, 60_000);
        }
        assert!(d.seen.is_empty());
    }

    #[test]
    fn a_restored_alert_counts_the_evaluations_since_active_at() {
        let mut d = Dampening::new(ForCount { n: 3, of: 5 });
        // Active since 2 minutes before the first evaluation after the restart: seen at
        // two evaluations before this one.
        let a = alert(true, 0);
        d.record(std::iter::once((1, &a, true)), 120_000, 60_000);
        assert!(d.allows(1));
        let mut d = Dampening::new(ForCount { n: 3, of: 5 });
        let a = alert(true, 60_000);
        d.record(std::iter::once((1, &a, true)), 120_000, 60_000);
        assert!(!d.allows(1), "one evaluation before and this one make two");
    }

    #[test]
    fn a_reload_cuts_the_history_to_the_new_window() {
        let mut d = Dampening::new(ForCount { n: 1, of: 4 });
        let a = alert(false, 0);
        d.record(std::iter::once((1, &a, true)), 0, 60_000);
        d.record(std::iter::empty(), 60_000, 60_000);
        d.record(std::iter::empty(), 120_000, 60_000);
        assert!(d.allows(1));
        d.update(ForCount { n: 1, of: 2 });
        assert!(!d.allows(1));
    }
}
