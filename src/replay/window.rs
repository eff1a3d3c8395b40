//! How a replay range is cut into evaluation timestamps and query windows, and how a
//! range answer is cut back into the instant answers the rules expect.

use crate::datasource::RangeSeries;
use crate::sample::Sample;

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
/// queried `per_window` at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub first_ms: i64,
    pub step_ms: i64,
    pub count: u64,
    pub per_window: u64,
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

    /// The evaluation timestamps of the window, in order.
    pub fn timestamps(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len).map(move |i| self.start_ms + i as i64 * self.step_ms)
    }
}

impl Plan {
    /// Evaluations at `from, from+interval, …` up to and including `to`.
    pub fn new(
        group: &str,
        from_ms: i64,
        to_ms: i64,
        interval: std::time::Duration,
        max_points: usize,
    ) -> Result<Plan, PlanError> {
        if from_ms > to_ms {
            return Err(PlanError::Reversed {
                from: fmt_ms(from_ms),
                to: fmt_ms(to_ms),
            });
        }
        let step_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if step_ms <= 0 {
            return Err(PlanError::ZeroInterval {
                group: group.to_string(),
            });
        }
        let count = ((to_ms - from_ms) / step_ms) as u64 + 1;
        if count > MAX_EVALUATIONS {
            return Err(PlanError::TooMany {
                group: group.to_string(),
                count,
                interval,
            });
        }
        Ok(Plan {
            first_ms: from_ms,
            step_ms,
            count,
            per_window: max_points.max(1) as u64,
        })
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

/// Cuts a range answer into one instant answer per step: a series belongs to the
/// answer at `t` exactly when it has a point at `t`, which is what an instant query at
/// `t` returns. Points off the step grid (a datasource that realigned the range) are
/// ignored rather than moved, so a misaligned answer shows as missing data, never as
/// data at the wrong time.
pub fn slice(
    series: Vec<RangeSeries>,
    query_start_ms: i64,
    step_ms: i64,
    len: u64,
) -> Vec<Vec<Sample>> {
    let mut out: Vec<Vec<Sample>> = (0..len).map(|_| Vec::new()).collect();
    for (labels, points) in series {
        for (t, value) in points {
            let off = t - query_start_ms;
            if off < 0 || off % step_ms != 0 {
                continue;
            }
            let i = (off / step_ms) as usize;
            if let Some(slot) = out.get_mut(i) {
                slot.push(Sample {
                    labels: labels.clone(),
                    value,
                    timestamp_ms: t,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use std::time::Duration;

    #[test]
    fn windows_cover_the_range_inclusively() {
        let p = Plan::new("g", 0, 10_000, Duration::from_secs(1), 4).unwrap();
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
        let e = Plan::new("g", 5, 1, Duration::from_secs(1), 10).unwrap_err();
        assert!(e.to_string().contains("after"), "{e}");
        let ten_years = 10 * 365 * 86_400_000i64;
        let e = Plan::new("g", 0, ten_years, Duration::from_secs(1), 1000).unwrap_err();
        assert!(e.to_string().contains("315360001 evaluations"), "{e}");
        assert!(Plan::new("g", 0, ten_years, Duration::from_secs(60), 1000).is_ok());
    }

    #[test]
    fn slices_keep_only_points_on_the_grid() {
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let s = slice(
            vec![
                (a.clone(), vec![(1000, 1.0), (3000, 3.0)]),
                (b.clone(), vec![(2000, 2.0), (2500, 9.0)]),
            ],
            1000,
            1000,
            3,
        );
        let shape: Vec<Vec<f64>> = s
            .iter()
            .map(|v| v.iter().map(|x| x.value).collect())
            .collect();
        assert_eq!(shape, vec![vec![1.0], vec![2.0], vec![3.0]]);
        assert_eq!(s[1][0].labels, b);
    }
}
