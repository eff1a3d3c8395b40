//! Phase 4's series: what an active alert writes (`ALERTS` with its state,
//! `ALERTS_FOR_STATE` with its `activeAt`), and the record that ends them with staleness
//! markers once they are no longer written.
//!
//! Their label sets are not kept with the alert: they are built when written, from the
//! alert's labels, and dropped once sent. Kept, they were most of what an alert cost
//! (two label sets of 9 and 10 labels, about 640 bytes; see "Memory per active alert" in
//! docs/benchmarks.md), for two allocations per alert and evaluation saved. The record
//! of what was written keeps, per alert, the alert's own label set (shared with the
//! alert), the state its `ALERTS` carried and whether it carried `flapping="true"`
//! (`flapping.rs`), which is all a marker's labels are built from.

use std::collections::HashMap;

use crate::labels::{Labels, Str};
use crate::rule::alert::{Alert, AlertState};
use crate::rule::{RuleContext, shared, stale_sample};
use crate::sample::Sample;

/// Phase 4 for one active alert: its series, stamped with the query time as Prometheus
/// does, so that they line up with the data that raised them. `ALERTS` carries the
/// state; `ALERTS_FOR_STATE` carries `activeAt` in whole seconds, which a restart reads
/// back to keep counting toward `for` (see [`super::AlertingRule::restore`]).
///
/// A `flapping` alert's `ALERTS` carries `flapping="true"` (`ALERTS_FOR_STATE` does not:
/// a restart restores the alert by its own labels).
pub(super) fn emit(
    a: &Alert,
    ctx: &RuleContext,
    query_ts_ms: i64,
    flapping: bool,
    out: &mut Vec<Sample>,
) {
    out.push(Sample {
        labels: alerts_series(&a.labels, a.state, flapping, ctx),
        value: 1.0,
        timestamp_ms: query_ts_ms,
    });
    out.push(Sample {
        labels: for_state_series(&a.labels, ctx),
        value: (a.active_at_ms / 1000) as f64,
        timestamp_ms: query_ts_ms,
    });
}

/// `ALERTS{…, alertstate}` of an alert with these labels in this state, with
/// `flapping="true"` when it flaps.
fn alerts_series(alert: &Labels, state: AlertState, flapping: bool, ctx: &RuleContext) -> Labels {
    let labels = series(alert, shared::alerts(), Some(state), ctx);
    if flapping {
        super::flapping::with_label(&labels)
    } else {
        labels
    }
}

/// `ALERTS_FOR_STATE{…}` of an alert with these labels.
fn for_state_series(alert: &Labels, ctx: &RuleContext) -> Labels {
    series(alert, shared::alerts_for_state(), None, ctx)
}

/// The alert's labels under metric name `name`, with `alertstate` when given, and the
/// external labels it lacks unless `external_labels_on_series` is off.
fn series(alert: &Labels, name: Str, state: Option<AlertState>, ctx: &RuleContext) -> Labels {
    let external = &ctx.settings.external_labels;
    let mut b = alert.to_builder_with_room(2 + external.len());
    if ctx.settings.external_labels_on_series {
        for l in external.iter().filter(|l| alert.get(&l.name).is_none()) {
            b.set(l.name.clone(), l.value.clone());
        }
    }
    b.set(shared::metric_name(), name);
    if let Some(state) = state {
        b.set(shared::alertstate(), state.shared_str());
    }
    b.build()
}

/// The series the alerts of a rule wrote at its last successful evaluation, to end the
/// ones that disappear with staleness markers: by alert label set (hashed by its
/// fingerprint, compared by pointer first), the round that last wrote the alert's
/// series, the state its `ALERTS` carried and whether it was flapping. Entries are updated in place, so an
/// evaluation that writes what the last one did allocates nothing here.
#[derive(Debug, Default)]
pub(super) struct Written {
    alerts: HashMap<Labels, (u64, AlertState, bool)>,
    round: u64,
}

impl Written {
    /// Records the active alerts among `alerts` (each with whether it flaps) as what
    /// this evaluation wrote and appends to `out` markers at `ts_ms` for the series
    /// written last time and not now: both series of an alert no longer active,
    /// `ALERTS` of the state an alert left or of the `flapping` label it lost or got.
    pub(super) fn replace<'a>(
        &mut self,
        alerts: impl Iterator<Item = (&'a Alert, bool)>,
        ctx: &RuleContext,
        ts_ms: i64,
        out: &mut Vec<Sample>,
    ) {
        self.round += 1;
        let round = self.round;
        let mut active = 0;
        for (a, flaps) in alerts.filter(|(a, _)| a.state != AlertState::Inactive) {
            active += 1;
            match self.alerts.get_mut(&a.labels) {
                Some((r, state, flapping)) => {
                    if (*state, *flapping) != (a.state, flaps) {
                        let gone = alerts_series(&a.labels, *state, *flapping, ctx);
                        out.push(stale_sample(gone, ts_ms));
                        (*state, *flapping) = (a.state, flaps);
                    }
                    *r = round;
                }
                None => {
                    self.alerts
                        .insert(a.labels.clone(), (round, a.state, flaps));
                }
            }
        }
        if self.alerts.len() > active {
            self.alerts.retain(|labels, (r, state, flapping)| {
                if *r != round {
                    let gone = alerts_series(labels, *state, *flapping, ctx);
                    out.push(stale_sample(gone, ts_ms));
                    out.push(stale_sample(for_state_series(labels, ctx), ts_ms));
                }
                *r == round
            });
        }
    }

    /// Empties the record, returning the label sets of the series written.
    pub(super) fn take(&mut self, ctx: &RuleContext) -> Vec<Labels> {
        self.alerts
            .drain()
            .flat_map(|(labels, (_, state, flapping))| {
                [
                    alerts_series(&labels, state, flapping, ctx),
                    for_state_series(&labels, ctx),
                ]
            })
            .collect()
    }
}
