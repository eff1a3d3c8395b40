//! `no_data` and `on_error`: what an evaluation whose selectors all returned nothing, or
//! whose queries failed, does to a rule's alerts (docs/rules.md).
//!
//! Prometheus reads an empty result as "the condition is false" and resolves every
//! alert, and a failed query as "nothing known": alerts stay, nothing is written or
//! sent, and Alertmanager lets them expire at their `endsAt`. A rule with a policy tells
//! the two situations apart from the ordinary ones and decides here:
//!
//! - **No data** is an empty result of `expr` for which the engine also found that no
//!   selector of `expr` returned anything (it asks only then; the answer arrives in
//!   [`Answer::has_data`](crate::rule::Answer)). Until it has lasted `after`, the
//!   alerts are kept as they were: a scrape that broke for a minute neither resolves
//!   nor pages. Then `ok` resolves them (Prometheus' reading), `keep` keeps them for as
//!   long as no data comes, and `alerting` resolves them and raises a synthetic alert.
//! - **An error** (either query failed) keeps the alerts as they were, as Prometheus
//!   does, but unlike Prometheus they are still written and re-sent, so that they do
//!   not expire at Alertmanager during a datasource outage; with `alerting`, once the
//!   errors have lasted `after`, a synthetic alert fires.
//!
//! A synthetic alert carries the rule's labels, `alertname` and
//! `alertstate_reason="no_data"` or `"error"` (Grafana's DatasourceNoData and
//! DatasourceError). Its `activeAt` is the first evaluation of the condition; it fires
//! at once (its `after` is its `for`; the rule's `for`, `for_count` and `recover_expr`
//! do not apply to it) and resolves at the first evaluation where the condition ends.

use std::collections::HashMap;

use super::AlertingRule;
use super::advance::fire;
use super::hysteresis::Recovered;
use crate::config::{Policy, PolicyState};
use crate::labels::Labels;
use crate::rule::{AlertState, Answer};
use crate::sample::Sample;

/// The label a synthetic alert carries, and its values.
pub const REASON_LABEL: &str = "alertstate_reason";

/// Why a synthetic alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    NoData,
    Error,
}

impl Reason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::NoData => "no_data",
            Reason::Error => "error",
        }
    }

    fn of(labels: &Labels) -> Option<Reason> {
        match labels.get(REASON_LABEL)? {
            "no_data" => Some(Reason::NoData),
            "error" => Some(Reason::Error),
            _ => None,
        }
    }

    /// The series a synthetic alert is rendered from, as if the query had returned it:
    /// the rule's labels and templates apply as to any alert; it has no value.
    pub(super) fn sample(self) -> Sample {
        Sample {
            labels: Labels::from_pairs([(REASON_LABEL, self.as_str())]),
            value: f64::NAN,
            timestamp_ms: 0,
        }
    }
}

/// A rule's policies and how long their conditions have lasted.
#[derive(Debug, Clone, Default)]
pub(super) struct Policies {
    no_data: Option<Policy>,
    on_error: Option<Policy>,
    /// The first evaluation of the current run of evaluations without data.
    no_data_since: Option<i64>,
    /// The first evaluation of the current run of failed evaluations.
    error_since: Option<i64>,
    /// The synthetic alerts held, by fingerprint.
    synthetic: HashMap<u64, Reason>,
}

/// What one evaluation does with the rule's alerts, besides what the result says.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Verdict {
    /// Alerts absent from the result are kept as they were (not advanced), and still
    /// written and sent.
    pub(super) keep: bool,
    /// The synthetic alert present at this evaluation, and since when its condition
    /// lasts.
    pub(super) raise: Option<(Reason, i64)>,
}

/// What the queries of one evaluation said, as far as the policies care.
pub(super) enum Outcome {
    /// `expr` returned series, or returned none while its selectors had data.
    Data,
    /// `expr` returned nothing and no selector of it returned anything.
    NoData,
    /// A query failed.
    Failed,
}

impl Policies {
    pub(super) fn new(no_data: Option<Policy>, on_error: Option<Policy>) -> Policies {
        Policies {
            no_data,
            on_error,
            ..Policies::default()
        }
    }

    /// Whether a failed evaluation still writes and sends the alerts.
    pub(super) fn on_error(&self) -> bool {
        self.on_error.is_some()
    }

    /// Takes the policies of a reloaded rule; the conditions in progress keep counting.
    pub(super) fn update(&mut self, fresh: Policies) {
        self.no_data = fresh.no_data;
        self.on_error = fresh.on_error;
    }

    /// The verdict for an evaluation at `ts`; `None` for a failed evaluation without
    /// `on_error` (Prometheus' path: nothing written or sent).
    pub(super) fn judge(&mut self, outcome: Outcome, ts: i64) -> Option<Verdict> {
        let (policy, since, reason) = match outcome {
            Outcome::Data => {
                self.no_data_since = None;
                self.error_since = None;
                return Some(Verdict::default());
            }
            Outcome::NoData => {
                self.error_since = None;
                let since = *self.no_data_since.get_or_insert(ts);
                (self.no_data, since, Reason::NoData)
            }
            // An error says nothing of the data: a run without data goes on after it.
            Outcome::Failed => {
                let since = *self.error_since.get_or_insert(ts);
                (Some(self.on_error?), since, Reason::Error)
            }
        };
        let Some(policy) = policy else {
            return Some(Verdict::default());
        };
        let kept = Verdict {
            keep: true,
            raise: None,
        };
        // Until the condition has lasted `after`, nothing is decided: the alerts stay.
        if ts - since < ms(policy.after) {
            return Some(kept);
        }
        Some(match policy.state {
            PolicyState::Keep => kept,
            PolicyState::Ok => Verdict::default(),
            // Without data the rule's alerts resolve (the result is empty); after errors
            // they stay, as nothing is known of them.
            PolicyState::Alerting => Verdict {
                keep: reason == Reason::Error,
                raise: Some((reason, since)),
            },
        })
    }

    /// Records the alert `fp` as the synthetic alert of `reason`.
    pub(super) fn mark(&mut self, fp: u64, reason: Reason) {
        self.synthetic.insert(fp, reason);
    }

    /// The reason of the synthetic alert `fp`, `None` for the rule's own alerts.
    pub(super) fn synthetic(&self, fp: u64) -> Option<Reason> {
        self.synthetic.get(&fp).copied()
    }

    /// Forgets the synthetic alerts no longer held.
    pub(super) fn retain(&mut self, held: impl Fn(u64) -> bool) {
        self.synthetic.retain(|fp, _| held(*fp));
    }

    /// A synthetic alert restored at start-up (from `ALERTS_FOR_STATE`, by its
    /// `alertstate_reason`): its `activeAt` is when its condition began, so that, should
    /// the condition still hold, the alert goes on firing instead of waiting `after`
    /// anew. Returns whether `labels` are those of a synthetic alert of this rule.
    pub(super) fn restore(&mut self, fp: u64, labels: &Labels, active_at_ms: i64) -> bool {
        let Some(reason) = Reason::of(labels) else {
            return false;
        };
        let since = match (reason, self.no_data, self.on_error) {
            (Reason::NoData, Some(_), _) => &mut self.no_data_since,
            (Reason::Error, _, Some(_)) => &mut self.error_since,
            _ => return false,
        };
        *since = Some(since.map_or(active_at_ms, |s| s.min(active_at_ms)));
        self.synthetic.insert(fp, reason);
        true
    }

    /// The delay before the synthetic alert of `reason` fires.
    pub(super) fn after_ms(&self, reason: Reason) -> i64 {
        let p = match reason {
            Reason::NoData => self.no_data,
            Reason::Error => self.on_error,
        };
        p.map_or(0, |p| ms(p.after))
    }
}

impl AlertingRule {
    /// The answer's series and recovery series, and whether it found no data; or the
    /// error that fails the evaluation.
    #[allow(clippy::type_complexity)]
    pub(super) fn read(
        &self,
        answer: Answer,
    ) -> Result<(Vec<Sample>, Option<Recovered>, bool), String> {
        let samples = answer.expr?;
        let recovered = match (&self.recovery, answer.recover) {
            (None, _) => None,
            (Some(r), Some(Ok(s))) => Some(r.recovered(&s)),
            // Without its answer, no held alert can be said to have recovered or not:
            // the evaluation fails as a failed `expr` does, alerts unchanged.
            (Some(_), Some(Err(e))) => return Err(format!("recover_expr: {e}")),
            (Some(_), None) => return Err("recover_expr was not evaluated".to_string()),
        };
        let no_data = match (
            self.presence.is_some() && samples.is_empty(),
            answer.has_data,
        ) {
            (false, _) => false,
            (true, Some(has_data)) => !has_data,
            (true, None) => {
                return Err("no_data: the selectors of `expr` were not asked".to_string());
            }
        };
        Ok((samples, recovered, no_data))
    }

    /// Fires the synthetic alert `fp` just merged: at once, with `activeAt` at the start
    /// of its condition; a restored one at the evaluation it fired at before the
    /// restart (as any restored alert, see `advance::fire`).
    pub(super) fn fire_synthetic(&mut self, fp: u64, reason: Reason, since: i64, ts: i64) {
        self.policies.mark(fp, reason);
        let after = self.policies.after_ms(reason);
        let Some(a) = self.active.get_mut(fp) else {
            return;
        };
        if a.state == AlertState::Pending {
            if !a.restored {
                a.active_at_ms = since;
            }
            fire(a, ts, after, self.timing.interval_ms);
        }
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
