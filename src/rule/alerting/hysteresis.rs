//! `recover_expr` (hysteresis): once firing, an alert stays firing while its series is
//! absent from `expr`, until an evaluation where `recover_expr` returns the same series.
//!
//! "The same series" is the series `expr` produced, without `__name__`. The alert keeps
//! only its final labels, in which the rule's (and group's) labels, `alertname` and
//! `alertgroup` may have replaced or removed labels of the series; both sides are
//! therefore compared without the names the rule sets. Two series of `expr` that differ
//! only in those names would make one alert, which fails the evaluation anyway, so the
//! comparison tells apart exactly the alerts the rule can hold. The same key is computed
//! from a restored alert's labels, so hysteresis also holds across a restart.

use std::collections::HashSet;

use crate::labels::{Labels, METRIC_NAME, Str, fingerprint_sorted};
use crate::sample::Sample;

/// How a rule with `recover_expr` matches the recovery series to its alerts.
#[derive(Debug, Clone)]
pub(super) struct Recovery {
    /// `__name__` and every label name the rule sets: left out of the comparison.
    ignored: Vec<Str>,
}

/// The alerts whose recovery condition holds at one evaluation, by [`Recovery::key`].
#[derive(Debug, Default)]
pub(super) struct Recovered(HashSet<u64>);

impl Recovery {
    /// For a rule that sets the labels `names` (rule and group labels, `alertname`,
    /// `alertgroup`).
    pub(super) fn new<'a>(names: impl Iterator<Item = &'a Str>) -> Recovery {
        let mut ignored: Vec<Str> = names.cloned().collect();
        ignored.push(Str::from(METRIC_NAME));
        Recovery { ignored }
    }

    /// The identity compared: the labels without the ignored names.
    pub(super) fn key(&self, labels: &Labels) -> u64 {
        fingerprint_sorted(
            labels
                .iter()
                .filter(|l| !self.ignored.iter().any(|n| **n == *l.name))
                .map(|l| (&*l.name, &*l.value)),
        )
    }

    /// The series `recover_expr` returned at this evaluation.
    pub(super) fn recovered(&self, samples: &[Sample]) -> Recovered {
        Recovered(samples.iter().map(|s| self.key(&s.labels)).collect())
    }
}

impl Recovered {
    /// Whether the recovery condition holds for an alert with these labels.
    pub(super) fn contains(&self, recovery: &Recovery, labels: &Labels) -> bool {
        self.0.contains(&recovery.key(labels))
    }
}
