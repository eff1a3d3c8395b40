//! Phase 4's series: what an active alert writes (`ALERTS` with its state,
//! `ALERTS_FOR_STATE` with its `activeAt`), and the record that ends them with staleness
//! markers once they are no longer written.
//!
//! Their label sets are not kept with the alert: they are built when written, from the
//! alert's labels, and dropped once sent. Kept, they were most of what an alert cost
//! (two label sets of 9 and 10 labels, about 640 bytes; see "Memory per active alert" in
//! docs/benchmarks.md), for two allocations per alert and evaluation saved. The record
//! of what was written is, per alert, the state its `ALERTS` carried and whether it
//! carried `flapping="true"` (`flapping.rs`), kept in the alert itself while it is held
//! ([`Written`]): with the alert's labels, that is all a marker's labels are built from.

use std::collections::HashMap;

use crate::labels::{Labels, Str};
use crate::rule::alert::{Alert, AlertState, Wrote};
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
    let w = Wrote {
        state: a.state,
        flapping,
    };
    out.push(Sample {
        labels: alerts_series(&a.labels, w, ctx),
        value: 1.0,
        timestamp_ms: query_ts_ms,
    });
    out.push(Sample {
        labels: for_state_series(&a.labels, ctx),
        value: (a.active_at_ms / 1000) as f64,
        timestamp_ms: query_ts_ms,
    });
}

/// `ALERTS{…, alertstate}` of an alert with these labels in state `w.state`, with
/// `flapping="true"` when it flaps.
fn alerts_series(alert: &Labels, w: Wrote, ctx: &RuleContext) -> Labels {
    let labels = series(alert, shared::alerts(), Some(w.state), ctx);
    if w.flapping {
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

/// The other half of the record of what the alerts of a rule wrote at its last
/// successful evaluation, for the staleness markers that end what is no longer written.
///
/// An alert in the rule's map records what its own series carried ([`Alert::wrote`]),
/// so the record costs nothing beside the alert (it was a table of its own, about 70
/// bytes per alert; see "Memory per active alert" in docs/benchmarks.md). An alert that
/// leaves the map between two writes — a pending alert gone from the result, every alert
/// dropped by `limit` or the alert budget, the alerts drained when the rule is paused or
/// removed — leaves its record here, and its series are ended at the next write, or
/// continue if an alert of the same labels is active by then.
#[derive(Debug, Default)]
pub(super) struct Written {
    gone: HashMap<Labels, Wrote>,
}

impl Written {
    /// Keeps the record of `a`, which leaves the rule's map, for the next write.
    pub(super) fn leave(&mut self, a: &Alert) {
        if let Some(w) = a.wrote {
            self.gone.insert(a.labels.clone(), w);
        }
    }

    /// Records what `alerts` (each with whether it flaps) write at this evaluation —
    /// the active ones write their series — and appends to `out` markers at `ts_ms`
    /// for the series written last time and not now: both series of an alert no longer
    /// active or gone, `ALERTS` of the state an alert left or of the `flapping` label
    /// it lost or got.
    pub(super) fn replace<'a>(
        &mut self,
        alerts: impl Iterator<Item = (&'a mut Alert, bool)>,
        ctx: &RuleContext,
        ts_ms: i64,
        out: &mut Vec<Sample>,
    ) {
        for (a, flapping) in alerts {
            let now = (a.state != AlertState::Inactive).then_some(Wrote {
                state: a.state,
                flapping,
            });
            let before = match a.wrote.take() {
                None if !self.gone.is_empty() => self.gone.remove(&a.labels),
                w => w,
            };
            match (before, now) {
                (Some(b), Some(n)) if b != n => {
                    out.push(stale_sample(alerts_series(&a.labels, b, ctx), ts_ms));
                }
                (Some(b), None) => end(&a.labels, b, ctx, ts_ms, out),
                _ => {}
            }
            a.wrote = now;
        }
        for (labels, b) in self.gone.drain() {
            end(&labels, b, ctx, ts_ms, out);
        }
    }

    /// Empties the record of `alerts` and of the alerts gone, returning the label sets
    /// of the series written.
    pub(super) fn take<'a>(
        &mut self,
        alerts: impl Iterator<Item = &'a mut Alert>,
        ctx: &RuleContext,
    ) -> Vec<Labels> {
        for a in alerts {
            self.leave(a);
            a.wrote = None;
        }
        self.gone
            .drain()
            .flat_map(|(labels, w)| {
                [
                    alerts_series(&labels, w, ctx),
                    for_state_series(&labels, ctx),
                ]
            })
            .collect()
    }
}

/// Staleness markers for both series of the alert with `labels`, last written as `w`.
fn end(labels: &Labels, w: Wrote, ctx: &RuleContext, ts_ms: i64, out: &mut Vec<Sample>) {
    out.push(stale_sample(alerts_series(labels, w, ctx), ts_ms));
    out.push(stale_sample(for_state_series(labels, ctx), ts_ms));
}
