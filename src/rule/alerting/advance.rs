//! Phase 3 for one held alert: how it moves through its states at an evaluation
//! (Prometheus' transitions, with `keep_firing_for`, and tocsin's `recover_expr`,
//! `for_count`, `no_data` and `on_error` through [`Seen`]). Phase 4, the series it
//! writes, is in `series.rs`.

use super::hysteresis::{Recovered, Recovery};
use super::{Fate, Timing};
use crate::rule::alert::{Alert, AlertState, MaybeMs};

/// What an evaluation tells of one held alert, besides its state.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Seen {
    /// Its series is in this evaluation's result.
    pub(super) present: bool,
    /// Absent, but held by `recover_expr`: firing, and its recovery series not returned.
    pub(super) held: bool,
    /// `for_count` forbids firing now: too few of the last evaluations returned it.
    pub(super) dampened: bool,
    /// Absent, and kept as it is by `no_data` or `on_error` (see `policy.rs`).
    pub(super) kept: bool,
    /// A synthetic alert of `no_data` or `on_error`: it ends with its condition.
    pub(super) synthetic: bool,
}

/// Phase 3 for one held alert: where it stands at evaluation time `ts`, given what this
/// evaluation saw of it.
pub(super) fn advance(a: &mut Alert, seen: Seen, ts: i64, timing: &Timing) -> Fate {
    if seen.kept && a.state != AlertState::Inactive {
        // Nothing is known of it at this evaluation (no data yet, or a failed query):
        // it stays as it was, neither resolved nor promoted, its windows unchanged.
        return Fate::Active;
    }
    if seen.present || seen.held {
        // Back in the result (or its condition still holds, by `recover_expr`): a
        // `keep_firing_for` window in progress ends; should the series leave again, a
        // new window starts then. So with `recover_expr`, `keep_firing_for` counts from
        // the first evaluation that returned the recovery series.
        a.set_keep_firing_since(MaybeMs::NEVER);
    } else if seen.synthetic || !keeps_firing(a, ts, timing) {
        return resolve(a, ts, timing);
    }
    if a.state == AlertState::Pending && ts - a.active_at_ms >= timing.for_ms && !seen.dampened {
        fire(a, ts, timing.for_ms, timing.interval_ms);
    }
    Fate::Active
}

/// Whether `recover_expr` holds an alert absent from `expr`: a firing alert is held until
/// its recovery series is returned, so that a value between the two thresholds keeps it
/// firing. A pending alert is not (it never fired: it is dropped as in Prometheus),
/// except one restored at start-up that has been active for `for`: it fired before the
/// restart, or would have, and the restart must not resolve what the recovery
/// condition does not.
pub(super) fn held(
    a: &Alert,
    (recovery, recovered): (&Recovery, &Recovered),
    ts: i64,
    t: &Timing,
) -> bool {
    let firing = match a.state {
        AlertState::Firing => true,
        // `seen == 0`: not yet returned by any evaluation since the restart. A restored
        // alert that was, and is now absent, is an ordinary pending alert.
        AlertState::Pending => a.restored && a.seen == 0 && ts - a.active_at_ms >= t.for_ms,
        AlertState::Inactive => false,
    };
    firing && !recovered.contains(recovery, &a.labels)
}

/// Whether a firing alert whose series left the result keeps firing: it does for
/// `keep_firing_for` from the first evaluation that missed it, so that a condition
/// flapping around its threshold does not page again at each return.
fn keeps_firing(a: &mut Alert, ts: i64, timing: &Timing) -> bool {
    if a.state != AlertState::Firing || timing.keep_firing_for_ms <= 0 {
        return false;
    }
    let since = a.keep_firing_since_ms().get().unwrap_or(ts);
    a.set_keep_firing_since(MaybeMs::at(since));
    ts - since < timing.keep_firing_for_ms
}

/// An alert whose series left the result and that does not keep firing.
fn resolve(a: &mut Alert, ts: i64, timing: &Timing) -> Fate {
    // Decided on the state before this evaluation. A pending alert never fired, so
    // nobody was told of it: it is forgotten, and starts pending anew should it return.
    // A resolved alert is kept for the retention (Prometheus' 15 minutes, here
    // `-rule.resolvedRetention`) and its resolution re-sent every resend delay
    // meanwhile: a resolution lost on the way, or by an Alertmanager that restarts
    // before it notifies (routes with a long group_interval), would otherwise leave the
    // alert firing there until its `endsAt`. It is dropped once strictly older.
    let fate = if a.state == AlertState::Pending
        || a.resolved_at_ms()
            .get()
            .is_some_and(|r| ts - r > timing.retention_ms)
    {
        Fate::Dropped
    } else {
        Fate::Resolved
    };
    if a.state != AlertState::Inactive {
        a.resolve(ts);
    }
    fate
}

/// A pending alert active for `for_ms` fires: now, or, when restored at start-up, at
/// the time it fired (or would have) before the restart, so that Alertmanager sees the
/// same `startsAt` and nobody is paged again (Prometheus stamps it with the first
/// evaluation after the restart).
pub(super) fn fire(a: &mut Alert, ts: i64, for_ms: i64, interval_ms: i64) {
    a.state = AlertState::Firing;
    a.fired_at_ms = MaybeMs::at(if a.restored {
        first_tick_after(a.active_at_ms, for_ms, interval_ms, ts)
    } else {
        ts
    });
}

/// The first evaluation at or after `active_at + for` on the grid of evaluations
/// `interval` apart through `ts` (the current one, at or after that point): when the
/// alert fired, or would have, before the restart or handover. The grid is taken from
/// `ts`, not from `active_at`: `ALERTS_FOR_STATE` keeps whole seconds, so a restored
/// `active_at` is off the grid by the group's sub-second offset.
fn first_tick_after(active_at: i64, for_ms: i64, interval: i64, ts: i64) -> i64 {
    let target = active_at + for_ms;
    if interval <= 0 || ts <= target {
        return ts;
    }
    ts - (ts - target) / interval * interval
}

#[cfg(test)]
mod first_tick_tests {
    use super::first_tick_after;

    #[test]
    fn the_grid_comes_from_the_current_evaluation() {
        // Evaluations at …20.300, 22.300, 24.300; the alert became active at 20.300,
        // stored as 20 (whole seconds); `for` 2s: it fired at 22.300.
        assert_eq!(first_tick_after(20_000, 2_000, 2_000, 24_300), 22_300);
        assert_eq!(first_tick_after(20_000, 2_000, 2_000, 22_300), 22_300);
        assert_eq!(first_tick_after(20_000, 2_000, 2_000, 40_300), 22_300);
        // `for` shorter than the interval: the next evaluation after activation.
        assert_eq!(first_tick_after(20_000, 500, 2_000, 26_300), 22_300);
    }
}
