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
    /// The window the first evaluation falls in after a start (`-group.maxStartDelay`,
    /// at most the interval); the whole interval when `eval_offset` pins the position.
    spread_ms: i64,
    /// The group's position within `spread_ms`, from its hash.
    spread_pos_ms: i64,
}

impl Schedule {
    /// Builds the schedule of a group. `key_hash` identifies the group (file and name),
    /// used to spread groups when no `eval_offset` is given; `max_start_delay`
    /// (`-group.maxStartDelay`) caps how far they are spread.
    pub fn new(
        interval: Duration,
        eval_offset: Option<Duration>,
        query_offset: Option<Duration>,
        eval_delay: Option<Duration>,
        eval_alignment: Option<bool>,
        key_hash: u64,
        max_start_delay: Duration,
    ) -> Schedule {
        let interval_ms = (interval.as_millis() as i64).max(1);
        let spread_ms = match eval_offset {
            Some(_) => interval_ms,
            None => (max_start_delay.as_millis() as i64).clamp(1, interval_ms),
        };
        let spread_pos_ms = (key_hash % spread_ms as u64) as i64;
        let offset_ms = match eval_offset {
            Some(o) => (o.as_millis() as i64) % interval_ms,
            None => spread_pos_ms,
        };
        let shift = query_offset.unwrap_or_default() + eval_delay.unwrap_or_default();
        Schedule {
            interval_ms,
            offset_ms,
            query_shift_ms: shift.as_millis() as i64,
            align_query: eval_alignment.unwrap_or(false),
            spread_ms,
            spread_pos_ms,
        }
    }

    /// The first evaluation of a group started at `now_ms`; later ones keep its
    /// position within the interval.
    ///
    /// Prometheus places a group at a fixed, hashed position within its interval, so a
    /// group with a one-hour interval may wait an hour for its first evaluation. vmalert
    /// waits at most `-group.maxStartDelay` (5m): the group's hashed position within
    /// that window decides. Both agree while the interval is within the window.
    pub fn start(&mut self, now_ms: i64) -> i64 {
        if self.spread_ms < self.interval_ms {
            let adj = now_ms - self.spread_pos_ms;
            let mut first = adj - adj.rem_euclid(self.spread_ms) + self.spread_pos_ms;
            if first < now_ms {
                first += self.spread_ms;
            }
            self.offset_ms = first.rem_euclid(self.interval_ms);
        }
        self.next_at_or_after(now_ms)
    }

    /// This schedule, keeping the position a running group took at its start
    /// ([`Schedule::start`]) when the new settings do not move it.
    pub fn keeping_position_of(mut self, running: &Schedule) -> Schedule {
        if self.spread_ms < self.interval_ms
            && (self.interval_ms, self.spread_ms, self.spread_pos_ms)
                == (
                    running.interval_ms,
                    running.spread_ms,
                    running.spread_pos_ms,
                )
        {
            self.offset_ms = running.offset_ms;
        }
        self
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
        self.query_time().of(eval_ms)
    }

    /// What maps an evaluation timestamp to its query timestamp, without the rest.
    pub fn query_time(&self) -> QueryTime {
        QueryTime {
            shift_ms: self.query_shift_ms,
            align_ms: if self.align_query {
                self.interval_ms
            } else {
                1
            },
        }
    }
}

/// Where a group's queries land relative to its evaluations: `query_offset` and
/// `eval_delay` earlier, truncated to the interval with `eval_alignment`. The part of a
/// [`Schedule`] an evaluation's record keeps to show its query time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryTime {
    shift_ms: i64,
    /// The query timestamp is a multiple of this (1: not aligned).
    align_ms: i64,
}

impl QueryTime {
    /// The query timestamp of an evaluation at `eval_ms`.
    pub fn of(&self, eval_ms: i64) -> i64 {
        let ts = eval_ms - self.shift_ms;
        ts - ts.rem_euclid(self.align_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn s(interval: u64, offset: Option<u64>) -> Schedule {
        Schedule::new(
            Duration::from_secs(interval),
            offset.map(Duration::from_secs),
            None,
            None,
            None,
            7_777,
            Duration::from_secs(3600),
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
        let a = Schedule::new(Duration::from_secs(60), None, None, None, None, 1, HOUR);
        let b = Schedule::new(
            Duration::from_secs(60),
            None,
            None,
            None,
            None,
            50_000,
            HOUR,
        );
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
            HOUR,
        );
        assert_eq!(sc.query_ts(125_000), 120_000);
        sc.align_query = false;
        assert_eq!(sc.query_ts(125_000), 122_000);
    }

    #[test]
    fn a_long_interval_starts_within_the_max_start_delay_and_keeps_its_position() {
        let five_min = Duration::from_secs(300);
        let mk = || Schedule::new(HOUR, None, None, None, None, 1_000_123, five_min);
        let mut sc = mk();
        // Hash position 1_000_123 % 300_000 = 100_123 ms within each 5m window.
        let first = sc.start(3_600_000 + 250_000);
        assert_eq!(first, 3_600_000 + 300_000 + 100_123);
        assert_eq!(sc.next_after(first, first + 10), (first + 3_600_000, 0));
        // A reload that keeps the settings keeps the position; the next tick after the
        // reload is the old one.
        let kept = mk().keeping_position_of(&sc);
        assert_eq!(kept.next_at_or_after(first + 1), first + 3_600_000);
        // Without the cap (Prometheus), the position is spread over the whole hour.
        let mut wide = Schedule::new(HOUR, None, None, None, None, 1_000_123, HOUR);
        assert_eq!(wide.start(3_600_000 + 250_000), 3_600_000 + 1_000_123);
    }

    #[test]
    fn zero_max_start_delay_starts_at_once_and_eval_offset_ignores_it() {
        let mut sc = Schedule::new(HOUR, None, None, None, None, 42, Duration::ZERO);
        assert_eq!(sc.start(7_777_777), 7_777_777);
        let ten_min = Duration::from_secs(600);
        let mut pinned = Schedule::new(HOUR, Some(ten_min), None, None, None, 42, Duration::ZERO);
        assert_eq!(pinned.start(0), 600_000);
        assert_eq!(pinned.start(600_001), 4_200_000);
    }
}
