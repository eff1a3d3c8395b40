//! When a group evaluates, and at which timestamp it queries. Pure arithmetic on
//! milliseconds since the epoch, so it is tested without a clock.
//!
//! Prometheus spreads groups over their interval with a per-group offset derived from a
//! hash of the group's file and name, so that a thousand groups with the same interval do
//! not all query at the same instant. vmalert instead lets the user pin the offset
//! (`eval_offset`), delay the query time (`eval_delay`) and align query timestamps to
//! the interval (`eval_alignment`). tocsin does what Prometheus does unless a group asks
//! for vmalert's behaviour explicitly.

use std::time::Duration;

/// The timing settings of one group, resolved from its file and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub interval_ms: i64,
    /// Position of evaluations within each interval, in `[0, interval)`.
    pub offset_ms: i64,
    /// Queries run at `ts - query_offset - eval_delay`.
    pub query_shift_ms: i64,
    /// vmalert `eval_alignment: true`: truncate query timestamps to the interval.
    pub align_query: bool,
}

impl Schedule {
    /// Builds the schedule of a group. `key_hash` identifies the group (file and name),
    /// used to spread groups when no `eval_offset` is given.
    pub fn new(
        interval: Duration,
        eval_offset: Option<Duration>,
        query_offset: Option<Duration>,
        eval_delay: Option<Duration>,
        eval_alignment: Option<bool>,
        key_hash: u64,
    ) -> Schedule {
        let interval_ms = (interval.as_millis() as i64).max(1);
        let offset_ms = match eval_offset {
            Some(o) => (o.as_millis() as i64) % interval_ms,
            None => (key_hash % interval_ms as u64) as i64,
        };
        let shift = query_offset.unwrap_or_default() + eval_delay.unwrap_or_default();
        Schedule {
            interval_ms,
            offset_ms,
            query_shift_ms: shift.as_millis() as i64,
            align_query: eval_alignment.unwrap_or(false),
        }
    }

    /// The first evaluation timestamp at or after `now_ms`.
    pub fn next_at_or_after(&self, now_ms: i64) -> i64 {
        let adj = now_ms - self.offset_ms;
        let base = adj - adj.rem_euclid(self.interval_ms);
        let ts = base + self.offset_ms;
        if ts < now_ms {
            ts + self.interval_ms
        } else {
            ts
        }
    }

    /// After an evaluation scheduled at `prev_ms` finished at `now_ms`: the next
    /// evaluation timestamp and how many ticks were missed in between (a late evaluation
    /// skips the ticks it overran instead of running them back to back).
    pub fn next_after(&self, prev_ms: i64, now_ms: i64) -> (i64, u64) {
        let next = prev_ms + self.interval_ms;
        if next >= now_ms {
            return (next, 0);
        }
        let behind = now_ms - next;
        let missed = (behind / self.interval_ms) as u64 + 1;
        let at = next + missed as i64 * self.interval_ms;
        (at, missed)
    }

    /// The timestamp the datasource is queried at for an evaluation at `eval_ms`.
    pub fn query_ts(&self, eval_ms: i64) -> i64 {
        let ts = eval_ms - self.query_shift_ms;
        if self.align_query {
            ts - ts.rem_euclid(self.interval_ms)
        } else {
            ts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(interval: u64, offset: Option<u64>) -> Schedule {
        Schedule::new(
            Duration::from_secs(interval),
            offset.map(Duration::from_secs),
            None,
            None,
            None,
            7_777,
        )
    }

    #[test]
    fn evaluations_land_on_the_offset_within_each_interval() {
        let sc = s(60, Some(10));
        assert_eq!(sc.next_at_or_after(0), 10_000);
        assert_eq!(sc.next_at_or_after(10_000), 10_000);
        assert_eq!(sc.next_at_or_after(10_001), 70_000);
        assert_eq!(sc.next_at_or_after(125_000), 130_000);
    }

    #[test]
    fn hash_spreads_groups_within_the_interval() {
        let sc = s(60, None);
        assert_eq!(sc.offset_ms, 7_777);
        let a = Schedule::new(Duration::from_secs(60), None, None, None, None, 1);
        let b = Schedule::new(Duration::from_secs(60), None, None, None, None, 50_000);
        assert_ne!(a.next_at_or_after(0), b.next_at_or_after(0));
    }

    #[test]
    fn late_evaluations_skip_and_count_missed_ticks() {
        let sc = s(10, Some(0));
        assert_eq!(sc.next_after(0, 5_000), (10_000, 0));
        assert_eq!(sc.next_after(0, 10_000), (10_000, 0));
        assert_eq!(sc.next_after(0, 10_001), (20_000, 1));
        assert_eq!(sc.next_after(0, 35_000), (40_000, 3));
    }

    #[test]
    fn query_time_is_shifted_and_optionally_aligned() {
        let mut sc = Schedule::new(
            Duration::from_secs(60),
            Some(Duration::from_secs(5)),
            Some(Duration::from_secs(1)),
            Some(Duration::from_secs(2)),
            Some(true),
            0,
        );
        assert_eq!(sc.query_ts(125_000), 120_000);
        sc.align_query = false;
        assert_eq!(sc.query_ts(125_000), 122_000);
    }
}
