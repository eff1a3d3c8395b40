//! How a replay range is cut into evaluation timestamps and query windows, and how a
//! range answer is cut back into the instant answers the rules expect.

use std::time::Duration;

use crate::config::Group;
use crate::datasource::RangeSeries;
use crate::rule::RuleSettings;
use crate::sample::Sample;
use crate::schedule::Schedule;

/// Above this many evaluations per group the replay is refused: at one rule, that is
/// already hours of querying, and almost always a typo in `--from` or `interval`.
pub const MAX_EVALUATIONS: u64 = 50_000_000;

/// Why a range cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the replay range is empty: from ({from}) is after to ({to})")]
    Reversed { from: String, to: String },
    #[error("group {group:?} has an interval of zero")]
    ZeroInterval { group: String },
    #[error(
        "group {group:?} would need {count} evaluations (interval {interval:?}) over this range; the limit is {MAX_EVALUATIONS}: replay a shorter range or use a longer interval"
    )]
    TooMany {
        group: String,
        count: u64,
        interval: std::time::Duration,
    },
}

/// The evaluation timestamps of one group: `first, first+step, …` (`count` of them),
/// queried `per_window` at a time, and when each evaluation queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub first_ms: i64,
    pub step_ms: i64,
    pub count: u64,
    pub per_window: u64,
    /// The group's live schedule: where evaluations fall within the interval and the
    /// timestamp each one queries at.
    pub schedule: Schedule,
}

/// A group's timing settings, as its rule file gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    pub interval: Duration,
    pub eval_offset: Option<Duration>,
    pub query_offset: Option<Duration>,
    pub eval_delay: Option<Duration>,
    pub eval_alignment: Option<bool>,
}

impl Timing {
    /// The group's settings, with the defaults of `settings` (`-evaluationInterval`,
    /// `-rule.evalDelay`) where the group sets none.
    pub fn of(g: &Group, settings: &RuleSettings) -> Timing {
        Timing {
            interval: g.interval.unwrap_or(settings.default_interval),
            eval_offset: g.eval_offset,
            query_offset: g.query_offset,
            eval_delay: g.eval_delay_or(settings.eval_delay),
            eval_alignment: g.eval_alignment,
        }
    }

    /// Just an interval.
    pub fn every(interval: Duration) -> Timing {
        Timing {
            interval,
            ..Timing::default()
        }
    }
}

/// One query window: `len` evaluation timestamps starting at `start_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: u64,
    pub start_ms: i64,
    pub step_ms: i64,
    pub len: u64,
}

impl Window {
    /// The last evaluation timestamp of the window.
    pub fn end_ms(&self) -> i64 {
        self.start_ms + (self.len.saturating_sub(1) as i64) * self.step_ms
    }

    /// How messages name the window: `window FROM..TO`.
    pub fn describe(&self) -> String {
        format!(
            "window {}..{}",
            fmt_ms(self.start_ms),
            fmt_ms(self.end_ms())
        )
    }

    /// The evaluation timestamps of the window, in order.
    pub fn timestamps(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len).map(move |i| self.start_ms + i as i64 * self.step_ms)
    }
}

impl Plan {
    /// The evaluations live evaluation would have run between `from` and `to`
    /// (inclusive). With `eval_offset` they fall at that offset within each interval,
    /// as live; without it at `from, from+interval, …` — live spreads such groups by a
    /// hash of file and name only to stagger load, which a replay has no use for.
    /// Queries run at the schedule's query timestamp (`query_offset`, `eval_delay`,
    /// `eval_alignment`), as live.
    pub fn new(
        group: &str,
        from_ms: i64,
        to_ms: i64,
        timing: Timing,
        max_points: usize,
    ) -> Result<Plan, PlanError> {
        if from_ms > to_ms {
            return Err(PlanError::Reversed {
                from: fmt_ms(from_ms),
                to: fmt_ms(to_ms),
            });
        }
        let interval = timing.interval;
        let step_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if step_ms <= 0 {
            return Err(PlanError::ZeroInterval {
                group: group.to_string(),
            });
        }
        let phase = Duration::from_millis(from_ms.rem_euclid(step_ms) as u64);
        let schedule = Schedule::new(
            interval,
            Some(timing.eval_offset.unwrap_or(phase)),
            timing.query_offset,
            timing.eval_delay,
            timing.eval_alignment,
            0,
            interval,
        );
        let first_ms = schedule.next_at_or_after(from_ms);
        let count = if first_ms > to_ms {
            0
        } else {
            ((to_ms - first_ms) / step_ms) as u64 + 1
        };
        if count > MAX_EVALUATIONS {
            return Err(PlanError::TooMany {
                group: group.to_string(),
                count,
                interval,
            });
        }
        Ok(Plan {
            first_ms,
            step_ms,
            count,
            per_window: max_points.max(1) as u64,
            schedule,
        })
    }

    /// The timestamp an evaluation at `ts_ms` queries at.
    pub fn query_ts(&self, ts_ms: i64) -> i64 {
        self.schedule.query_ts(ts_ms)
    }

    /// Number of query windows per rule.
    pub fn windows(&self) -> u64 {
        self.count.div_ceil(self.per_window)
    }

    /// Window `w` (must be below [`Plan::windows`]).
    pub fn window(&self, w: u64) -> Window {
        let done = w * self.per_window;
        Window {
            index: w,
            start_ms: self.first_ms + done as i64 * self.step_ms,
            step_ms: self.step_ms,
            len: (self.count - done.min(self.count)).min(self.per_window),
        }
    }
}

/// RFC 3339 in UTC, for messages and reports.
pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// Cuts a range answer into the instant answers the rule expects, one step at a time:
/// a series belongs to the answer at `t` exactly when it has a point at `t`, which is
/// what an instant query at `t` returns. Points off the step grid (a datasource that
/// realigned the range) are skipped rather than moved, so a misaligned answer shows as
/// missing data, never as data at the wrong time.
///
/// Each step's answer is built when the rule asks for it and shares the series' label
/// sets (one reference count each), so a window costs its range answer plus one step's
/// answer, not a copy of every point per step.
pub struct Slicer {
    series: Vec<RangeSeries>,
    /// Per series, the first point not yet consumed.
    cursor: Vec<usize>,
    next_ts_ms: i64,
    step_ms: i64,
    left: u64,
}

impl Slicer {
    /// `series` as the range query returned them (points in time order), queried from
    /// `query_start_ms` every `step_ms`, `len` steps.
    pub fn new(series: Vec<RangeSeries>, query_start_ms: i64, step_ms: i64, len: u64) -> Slicer {
        Slicer {
            cursor: vec![0; series.len()],
            series,
            next_ts_ms: query_start_ms,
            step_ms,
            left: len,
        }
    }

    /// Steps not handed out yet.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    /// The answer at the next step, or `None` after the last one.
    pub fn next_answer(&mut self) -> Option<Vec<Sample>> {
        if self.left == 0 {
            return None;
        }
        let t = self.next_ts_ms;
        let mut out = Vec::with_capacity(self.series.len());
        for ((labels, points), pos) in self.series.iter().zip(self.cursor.iter_mut()) {
            while let Some(&(pt, value)) = points.get(*pos) {
                if pt > t {
                    break;
                }
                *pos += 1;
                if pt == t {
                    out.push(Sample {
                        labels: labels.clone(),
                        value,
                        timestamp_ms: t,
                    });
                    break;
                }
            }
        }
        self.left -= 1;
        self.next_ts_ms += self.step_ms;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    #[test]
    fn windows_cover_the_range_inclusively() {
        let p = Plan::new("g", 0, 10_000, Timing::every(Duration::from_secs(1)), 4).unwrap();
        assert_eq!(p.count, 11);
        assert_eq!(p.windows(), 3);
        let last = p.window(2);
        assert_eq!((last.start_ms, last.len, last.end_ms()), (8_000, 3, 10_000));
        let all: Vec<i64> = (0..p.windows())
            .flat_map(|w| p.window(w).timestamps().collect::<Vec<_>>())
            .collect();
        assert_eq!(all, (0..=10).map(|s| s * 1000).collect::<Vec<_>>());
    }

    #[test]
    fn bad_ranges_are_refused_with_reasons() {
        let e = Plan::new("g", 5, 1, Timing::every(Duration::from_secs(1)), 10).unwrap_err();
        assert!(e.to_string().contains("after"), "{e}");
        let ten_years = 10 * 365 * 86_400_000i64;
        let e = Plan::new(
            "g",
            0,
            ten_years,
            Timing::every(Duration::from_secs(1)),
            1000,
        )
        .unwrap_err();
        assert!(e.to_string().contains("315360001 evaluations"), "{e}");
        assert!(
            Plan::new(
                "g",
                0,
                ten_years,
                Timing::every(Duration::from_secs(60)),
                1000
            )
            .is_ok()
        );
    }

    #[test]
    fn eval_offset_puts_evaluations_where_live_would() {
        let t = Timing {
            eval_offset: Some(Duration::from_secs(30)),
            ..Timing::every(Duration::from_secs(60))
        };
        // from 10s: the first evaluation is at 30s, then every minute up to 250s.
        let p = Plan::new("g", 10_000, 250_000, t, 1000).unwrap();
        let all: Vec<i64> = p.window(0).timestamps().collect();
        assert_eq!(all, vec![30_000, 90_000, 150_000, 210_000]);
        // A range shorter than the wait for the first offset point has no evaluation.
        let p = Plan::new("g", 31_000, 80_000, t, 1000).unwrap();
        assert_eq!((p.count, p.windows()), (0, 0));
    }

    #[test]
    fn query_timestamps_follow_offset_delay_and_alignment() {
        let t = Timing {
            eval_offset: Some(Duration::from_secs(30)),
            query_offset: Some(Duration::from_secs(5)),
            ..Timing::every(Duration::from_secs(60))
        };
        let p = Plan::new("g", 0, 600_000, t, 1000).unwrap();
        assert_eq!(p.query_ts(90_000), 85_000);
        let aligned = Timing {
            eval_delay: Some(Duration::from_secs(5)),
            eval_alignment: Some(true),
            ..Timing::every(Duration::from_secs(60))
        };
        let p = Plan::new("g", 20_000, 600_000, aligned, 1000).unwrap();
        assert_eq!(p.first_ms, 20_000);
        // 20s - 5s = 15s, truncated to the minute.
        assert_eq!((p.query_ts(20_000), p.query_ts(80_000)), (0, 60_000));
    }

    #[test]
    fn slices_keep_only_points_on_the_grid() {
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let mut s = Slicer::new(
            vec![
                (a.clone(), vec![(500, 7.0), (1000, 1.0), (3000, 3.0)]),
                (b.clone(), vec![(2000, 2.0), (2500, 9.0), (4000, 4.0)]),
            ],
            1000,
            1000,
            3,
        );
        let mut shape: Vec<Vec<(i64, f64)>> = Vec::new();
        let mut second = Vec::new();
        while let Some(v) = s.next_answer() {
            if shape.len() == 1 {
                second = v.clone();
            }
            shape.push(v.iter().map(|x| (x.timestamp_ms, x.value)).collect());
        }
        assert_eq!(
            shape,
            vec![vec![(1000, 1.0)], vec![(2000, 2.0)], vec![(3000, 3.0)]]
        );
        assert_eq!(second[0].labels, b);
        assert_eq!(s.remaining(), 0);
    }
}
