//! `-rule.maxActiveAlerts`: one budget of alerts shared by every alerting rule, on top
//! of each group's `limit`.
//!
//! Every alert costs memory — its labels, rendered annotations, the `ALERTS` and
//! `ALERTS_FOR_STATE` series it owns, its render-cache entry — so a rule whose answer
//! explodes in cardinality (a label that takes a new value at every scrape, a join gone
//! wrong) would otherwise grow without bound. With a budget, a rule that would hold more
//! alerts than the others leave room for fails as `limit` makes it fail: its alerts are
//! dropped, its evaluation reports the error, and nothing is rendered for the excess.
//!
//! Alerts count while the rule holds them: pending, firing, and resolved ones kept for
//! `-rule.resolvedRetention` (they are memory too). Shares are claimed atomically, so
//! rules evaluating at the same time never hold more than the budget together.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::metrics::counter::Counter;

/// The budget shared by all rules of an evaluator.
#[derive(Debug)]
pub struct AlertBudget {
    max: usize,
    held: AtomicUsize,
    /// Evaluations that failed because the budget was exhausted.
    pub exceeded: Counter,
}

impl AlertBudget {
    /// A budget of `max` alerts.
    pub fn new(max: usize) -> Arc<AlertBudget> {
        Arc::new(AlertBudget {
            max,
            held: AtomicUsize::new(0),
            exceeded: Counter::default(),
        })
    }

    /// The most alerts all rules together may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Alerts held by all rules now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

/// One rule's part of the budget: how many alerts it holds. Dropping the share (the rule
/// is removed or rebuilt) gives them back.
#[derive(Debug, Default)]
pub(crate) struct Share {
    budget: Option<Arc<AlertBudget>>,
    held: usize,
}

/// Why a share could not grow: the error the rule's evaluation reports.
pub(crate) fn exceeded_message(max: usize, others: usize, wanted: usize) -> String {
    format!(
        "exceeded -rule.maxActiveAlerts of {max}: this rule would hold {wanted} alerts and \
         other rules hold {others}; the rule's alerts were dropped"
    )
}

impl Share {
    pub(crate) fn new(budget: Option<Arc<AlertBudget>>) -> Share {
        Share { budget, held: 0 }
    }

    /// Claims room for `n` alerts in place of what the rule holds now. On failure the
    /// share is unchanged and the error says by how much the budget was exceeded (and
    /// the failure is counted).
    pub(crate) fn claim(&mut self, n: usize) -> Result<(), String> {
        let Some(b) = &self.budget else {
            return Ok(());
        };
        let mine = self.held;
        let swapped = b
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |total| {
                let others = total - mine;
                (others + n <= b.max).then_some(others + n)
            });
        match swapped {
            Ok(_) => {
                self.held = n;
                Ok(())
            }
            Err(total) => {
                b.exceeded.inc();
                Err(exceeded_message(b.max, total - mine, n))
            }
        }
    }

    /// Gives back everything the rule holds.
    pub(crate) fn release(&mut self) {
        if let Some(b) = &self.budget {
            b.held.fetch_sub(self.held, Ordering::AcqRel);
        }
        self.held = 0;
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_share_one_budget() {
        let b = AlertBudget::new(10);
        let mut x = Share::new(Some(b.clone()));
        let mut y = Share::new(Some(b.clone()));
        x.claim(6).unwrap();
        let e = y.claim(5).unwrap_err();
        assert!(
            e.contains("of 10") && e.contains("hold 5") && e.contains("hold 6"),
            "{e}"
        );
        assert_eq!(b.exceeded.get(), 1);
        y.claim(4).unwrap();
        assert_eq!(b.held(), 10);
        // A claim replaces the rule's own share: shrinking always fits.
        x.claim(2).unwrap();
        y.claim(8).unwrap();
        drop(x);
        assert_eq!(b.held(), 8);
        y.release();
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn no_budget_no_limit() {
        let mut s = Share::new(None);
        s.claim(usize::MAX).unwrap();
    }
}
