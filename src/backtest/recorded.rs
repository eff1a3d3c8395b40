//! What a recording rule change does to its samples: the samples of both replays, by
//! series (labels without `__name__`, so a renamed rule compares with its old self) and
//! timestamp, counted as equal, different, or present on one side only.

use std::collections::HashMap;

use serde::Serialize;

use crate::labels::Labels;
use crate::replay::Recorded;

/// The sample that differs most (by absolute difference).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worst {
    pub labels: Labels,
    #[serde(serialize_with = "crate::replay::report::ser_ts")]
    pub at: i64,
    pub old: f64,
    pub new: f64,
}

/// The comparison of one recording rule's two sides.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RecordedDiff {
    /// False when the two rules cannot differ (same expression, labels and group
    /// settings), so their samples were not compared.
    pub compared: bool,
    pub old_samples: u64,
    pub new_samples: u64,
    /// Samples of the same series at the same time with different values.
    pub differing: u64,
    pub only_old: u64,
    pub only_new: u64,
    pub max_abs_difference: f64,
    /// |old − new| / max(|old|, |new|).
    pub max_rel_difference: f64,
    pub worst: Option<Worst>,
}

impl RecordedDiff {
    /// Samples that are not the same on both sides.
    pub fn changed(&self) -> u64 {
        self.differing + self.only_old + self.only_new
    }
}

/// Points as (series without `__name__`, timestamp, value).
type Points = Vec<(u64, i64, f64)>;

/// The points by series without `__name__` and timestamp, sorted; the series' labels.
fn keyed(r: &Recorded) -> (Points, HashMap<u64, Labels>) {
    let ids: HashMap<u64, (u64, Labels)> = r
        .series
        .iter()
        .map(|(fp, l)| {
            let id = l.without_metric_name();
            (*fp, (id.fingerprint(), l.clone()))
        })
        .collect();
    let mut pts: Points = r
        .points
        .iter()
        .map(|(fp, t, v)| (ids.get(fp).map_or(*fp, |x| x.0), *t, *v))
        .collect();
    pts.sort_by_key(|a| (a.0, a.1));
    let labels = ids.into_values().collect();
    (pts, labels)
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Compares the samples of the two sides.
pub fn compare(old: &Recorded, new: &Recorded) -> RecordedDiff {
    let (o, labels) = keyed(old);
    let (n, _) = keyed(new);
    let mut d = RecordedDiff {
        compared: true,
        old_samples: o.len() as u64,
        new_samples: n.len() as u64,
        ..RecordedDiff::default()
    };
    let (mut i, mut j) = (0, 0);
    while i < o.len() || j < n.len() {
        let ko = o.get(i).map(|x| (x.0, x.1));
        let kn = n.get(j).map(|x| (x.0, x.1));
        match (ko, kn) {
            (Some(a), Some(b)) if a == b => {
                let (x, y) = (o[i].2, n[j].2);
                if !same(x, y) {
                    d.differing += 1;
                    let abs = (x - y).abs();
                    let scale = x.abs().max(y.abs());
                    let rel = if scale > 0.0 { abs / scale } else { 0.0 };
                    if abs > d.max_abs_difference || (abs.is_nan() && d.worst.is_none()) {
                        d.max_abs_difference = abs;
                        d.worst = Some(Worst {
                            labels: labels.get(&a.0).cloned().unwrap_or_default(),
                            at: a.1,
                            old: x,
                            new: y,
                        });
                    }
                    if rel > d.max_rel_difference {
                        d.max_rel_difference = rel;
                    }
                }
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                d.only_old += 1;
                i += 1;
            }
            (Some(_), None) => {
                d.only_old += 1;
                i += 1;
            }
            _ => {
                d.only_new += 1;
                j += 1;
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sample;

    fn rec(name: &str, pts: &[(&str, i64, f64)]) -> Recorded {
        let mut r = Recorded::default();
        let samples: Vec<Sample> = pts
            .iter()
            .map(|(inst, t, v)| Sample {
                labels: Labels::from_pairs([("__name__", name), ("instance", inst)]),
                value: *v,
                timestamp_ms: *t,
            })
            .collect();
        r.add(&samples);
        r
    }

    #[test]
    fn counts_and_extremes_of_the_differences() {
        let old = rec(
            "a:x",
            &[("1", 0, 10.0), ("1", 60, 4.0), ("2", 0, 1.0), ("3", 0, 5.0)],
        );
        let new = rec(
            "b:x",
            &[("1", 0, 10.0), ("1", 60, 1.0), ("2", 0, 2.0), ("4", 0, 5.0)],
        );
        let d = compare(&old, &new);
        assert_eq!((d.differing, d.only_old, d.only_new), (2, 1, 1));
        assert_eq!(d.max_abs_difference, 3.0);
        assert_eq!(d.max_rel_difference, 0.75);
        let w = d.worst.unwrap();
        assert_eq!(
            (w.labels.get("instance"), w.at, w.old, w.new),
            (Some("1"), 60, 4.0, 1.0)
        );
    }
}
