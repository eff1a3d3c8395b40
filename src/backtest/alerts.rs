//! What an alerting rule change does to its alerts, from the pending and firing
//! intervals each side's replay reported.
//!
//! An alert is told apart from the others by its labels without `alertname`,
//! `alertgroup` and the labels either rule sets itself (so changing `severity`, renaming
//! the rule or moving it to another group does not make every alert new). A *page* is one firing stretch (its first notification);
//! it fires *only in old* when no firing stretch of the same alert in the new replay
//! overlaps it, and the other way round. A stretch fires from its first firing
//! evaluation until the evaluation after its last one. *Time to fire* is the time from
//! the start of the pending stretch just before (when the condition started; none with
//! `for: 0`) to the first firing evaluation. An alert *flaps* when it starts firing
//! [`FLAP_STARTS`] times within [`FLAP_WINDOW_MS`].

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::labels::Labels;
use crate::replay::RuleReport;

/// Starts within [`FLAP_WINDOW_MS`] that make an alert flapping.
pub const FLAP_STARTS: usize = 3;
/// One hour.
pub const FLAP_WINDOW_MS: i64 = 3_600_000;
/// Examples of alerts firing on one side only kept per rule (the counts stay exact).
pub const MAX_EXAMPLES: usize = 20;

const DAY_MS: f64 = 86_400_000.0;

/// One firing stretch of one alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// The alert's labels on its side.
    pub labels: Labels,
    #[serde(serialize_with = "crate::replay::report::ser_ts")]
    pub from: i64,
    /// The last firing evaluation.
    #[serde(serialize_with = "crate::replay::report::ser_ts")]
    pub to: i64,
}

/// One side's figures for one alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideFigures {
    pub pages: u64,
    pub pages_per_day: f64,
    pub firing_seconds_total: f64,
    pub firing_seconds_median: Option<f64>,
    pub time_to_fire_seconds_median: Option<f64>,
    /// Alerts that flap.
    pub flapping: u64,
}

/// The comparison of one alerting rule's two sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertDiff {
    pub old: Option<SideFigures>,
    pub new: Option<SideFigures>,
    pub only_old: u64,
    pub only_new: u64,
    pub only_old_examples: Vec<Page>,
    pub only_new_examples: Vec<Page>,
    /// Alerts (identities) that flap in the new replay and did not in the old one.
    pub started_flapping: Vec<Labels>,
    pub stopped_flapping: Vec<Labels>,
}

/// A firing stretch with the alert's identity and when its condition started.
struct Stretch {
    id: Labels,
    page: Page,
    condition_from: i64,
}

/// One side of one rule: its replay report and its group's interval.
pub struct SideInput<'a> {
    pub report: &'a RuleReport,
    pub step_ms: i64,
}

fn identity(labels: &Labels, strip: &HashSet<String>) -> Labels {
    let mut b = labels.to_builder();
    b.del("alertname");
    b.del("alertgroup");
    for k in strip {
        b.del(k);
    }
    b.build()
}

fn stretches(side: &SideInput, strip: &HashSet<String>) -> Vec<Stretch> {
    let ivs = &side.report.intervals;
    // Pending stretches by alert and the evaluation after their last one: the firing
    // stretch that starts there is the one they led to.
    let pending: HashMap<(&Labels, i64), i64> = ivs
        .iter()
        .filter(|p| p.state == "pending")
        .map(|p| ((&p.labels, p.to + side.step_ms), p.from))
        .collect();
    ivs.iter()
        .filter(|i| i.state == "firing")
        .map(|f| Stretch {
            id: identity(&f.labels, strip),
            page: Page {
                labels: f.labels.clone(),
                from: f.from,
                to: f.to,
            },
            condition_from: pending.get(&(&f.labels, f.from)).copied().unwrap_or(f.from),
        })
        .collect()
}

/// The median of `v` (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Identities that flap: [`FLAP_STARTS`] starts within [`FLAP_WINDOW_MS`].
fn flapping(st: &[Stretch]) -> BTreeMap<Labels, ()> {
    let mut starts: BTreeMap<Labels, Vec<i64>> = BTreeMap::new();
    for s in st {
        starts.entry(s.id.clone()).or_default().push(s.page.from);
    }
    starts
        .into_iter()
        .filter(|(_, t)| {
            let mut t = t.clone();
            t.sort_unstable();
            t.windows(FLAP_STARTS)
                .any(|w| w[FLAP_STARTS - 1] - w[0] <= FLAP_WINDOW_MS)
        })
        .map(|(id, _)| (id, ()))
        .collect()
}

fn figures(st: &[Stretch], step_ms: i64, range_ms: i64) -> SideFigures {
    let firing: Vec<f64> = st
        .iter()
        .map(|s| (s.page.to - s.page.from + step_ms) as f64 / 1000.0)
        .collect();
    let ttf: Vec<f64> = st
        .iter()
        .map(|s| (s.page.from - s.condition_from) as f64 / 1000.0)
        .collect();
    SideFigures {
        pages: st.len() as u64,
        pages_per_day: st.len() as f64 / (range_ms.max(1) as f64 / DAY_MS),
        firing_seconds_total: firing.iter().sum(),
        firing_seconds_median: median(firing),
        time_to_fire_seconds_median: median(ttf),
        flapping: flapping(st).len() as u64,
    }
}

/// Stretches of `a` that no stretch of the same alert in `b` overlaps.
fn only_in(a: &[Stretch], b: &[Stretch]) -> Vec<Page> {
    // Per alert, `b`'s stretches by start, each with the latest end so far: a stretch
    // of `a` is overlapped exactly when, among the stretches starting before it ends,
    // one ends at or after its start.
    let mut by_id: HashMap<&Labels, Vec<(i64, i64)>> = HashMap::new();
    for y in b {
        by_id
            .entry(&y.id)
            .or_default()
            .push((y.page.from, y.page.to));
    }
    for v in by_id.values_mut() {
        v.sort_unstable();
        let mut latest = i64::MIN;
        for iv in v.iter_mut() {
            latest = latest.max(iv.1);
            iv.1 = latest;
        }
    }
    let overlapped = |x: &Stretch| {
        by_id.get(&x.id).is_some_and(|v| {
            let before_end = v.partition_point(|&(from, _)| from <= x.page.to);
            before_end > 0 && v[before_end - 1].1 >= x.page.from
        })
    };
    a.iter()
        .filter(|x| !overlapped(x))
        .map(|x| x.page.clone())
        .collect()
}

/// Compares the two sides of an alerting rule (either may be missing: added or removed
/// rules). `strip` are the label names either rule (or its group) sets itself.
pub fn compare(
    old: Option<SideInput>,
    new: Option<SideInput>,
    strip: &HashSet<String>,
    range_ms: i64,
) -> AlertDiff {
    let o = old
        .as_ref()
        .map(|s| stretches(s, strip))
        .unwrap_or_default();
    let n = new
        .as_ref()
        .map(|s| stretches(s, strip))
        .unwrap_or_default();
    let only_old = only_in(&o, &n);
    let only_new = only_in(&n, &o);
    let (fo, fnew) = (flapping(&o), flapping(&n));
    AlertDiff {
        old: old.map(|s| figures(&o, s.step_ms, range_ms)),
        new: new.map(|s| figures(&n, s.step_ms, range_ms)),
        only_old: only_old.len() as u64,
        only_new: only_new.len() as u64,
        only_old_examples: only_old.into_iter().take(MAX_EXAMPLES).collect(),
        only_new_examples: only_new.into_iter().take(MAX_EXAMPLES).collect(),
        started_flapping: fnew
            .keys()
            .filter(|k| !fo.contains_key(*k))
            .cloned()
            .collect(),
        stopped_flapping: fo
            .keys()
            .filter(|k| !fnew.contains_key(*k))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::AlertInterval;

    const MIN: i64 = 60_000;

    fn iv(state: &'static str, inst: &str, sev: &str, from: i64, to: i64) -> AlertInterval {
        AlertInterval {
            state,
            labels: Labels::from_pairs([("alertname", "A"), ("instance", inst), ("severity", sev)]),
            from: from * MIN,
            to: to * MIN,
        }
    }

    fn report(ivs: Vec<AlertInterval>) -> RuleReport {
        RuleReport {
            intervals: ivs,
            ..RuleReport::default()
        }
    }

    #[test]
    fn pages_firing_time_and_time_to_fire() {
        let strip: HashSet<String> = ["severity".to_string()].into();
        let old = report(vec![
            iv("pending", "a", "page", 0, 4),
            iv("firing", "a", "page", 5, 9),
            iv("firing", "b", "page", 20, 20),
        ]);
        let new = report(vec![
            iv("pending", "a", "warn", 0, 6),
            iv("firing", "a", "warn", 7, 9),
        ]);
        let d = compare(
            Some(SideInput {
                report: &old,
                step_ms: MIN,
            }),
            Some(SideInput {
                report: &new,
                step_ms: MIN,
            }),
            &strip,
            1440 * MIN,
        );
        let o = d.old.unwrap();
        assert_eq!((o.pages, o.pages_per_day), (2, 2.0));
        // 5 minutes and 1 minute of firing.
        assert_eq!(o.firing_seconds_total, 360.0);
        assert_eq!(o.firing_seconds_median, Some(180.0));
        // a waited 5 minutes; b fired at once (no pending stretch before it).
        assert_eq!(o.time_to_fire_seconds_median, Some(150.0));
        let n = d.new.unwrap();
        assert_eq!(n.time_to_fire_seconds_median, Some(420.0));
        // The severity change does not separate a's stretches; b fires only in old.
        assert_eq!((d.only_old, d.only_new), (1, 0));
        assert_eq!(d.only_old_examples[0].labels.get("instance"), Some("b"));
    }

    #[test]
    fn only_in_finds_exactly_the_stretches_nothing_overlaps() {
        let st = |inst: &str, from: i64, to: i64| Stretch {
            id: Labels::from_pairs([("instance", inst)]),
            page: Page {
                labels: Labels::from_pairs([("instance", inst)]),
                from,
                to,
            },
            condition_from: from,
        };
        // Pseudo-random stretches of three alerts, overlapping each other within a side
        // too (as alerts that differ only in a stripped label do).
        let mut seed = 7u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        let mut side = || -> Vec<Stretch> {
            (0..60)
                .map(|_| {
                    let from = next(500) as i64;
                    let inst = ["a", "b", "c"][next(3) as usize];
                    st(inst, from, from + next(20) as i64)
                })
                .collect()
        };
        let (a, b) = (side(), side());
        let brute: Vec<Page> = a
            .iter()
            .filter(|x| {
                !b.iter()
                    .any(|y| y.id == x.id && x.page.from <= y.page.to && y.page.from <= x.page.to)
            })
            .map(|x| x.page.clone())
            .collect();
        assert!(!brute.is_empty() && brute.len() < a.len());
        assert_eq!(only_in(&a, &b), brute);
    }

    #[test]
    fn flapping_needs_three_starts_within_an_hour() {
        let strip = HashSet::new();
        let flappy = report(vec![
            iv("firing", "a", "x", 0, 0),
            iv("firing", "a", "x", 30, 30),
            iv("firing", "a", "x", 60, 60),
        ]);
        let calm = report(vec![
            iv("firing", "a", "x", 0, 0),
            iv("firing", "a", "x", 30, 30),
            iv("firing", "a", "x", 61, 61),
        ]);
        let d = compare(
            Some(SideInput {
                report: &calm,
                step_ms: MIN,
            }),
            Some(SideInput {
                report: &flappy,
                step_ms: MIN,
            }),
            &strip,
            1440 * MIN,
        );
        assert_eq!(d.started_flapping.len(), 1);
        assert!(d.stopped_flapping.is_empty());
        assert_eq!((d.old.unwrap().flapping, d.new.unwrap().flapping), (0, 1));
    }
}
