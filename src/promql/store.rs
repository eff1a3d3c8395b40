//! The in-memory series store the engine reads: series identified by their label set,
//! each with its samples in time order. Stale markers are stored as Prometheus stores
//! them, as a special NaN.

use std::collections::HashMap;

use regex::Regex;

use crate::labels::{Labels, METRIC_NAME};

/// The bit pattern of Prometheus' stale marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale marker as a float.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `f` is a stale marker (and not just any NaN).
pub fn is_stale(f: f64) -> bool {
    f.to_bits() == STALE_NAN_BITS
}

/// One stored series.
#[derive(Debug, Clone)]
pub struct StoredSeries {
    pub labels: Labels,
    /// `(timestamp_ms, value)`, strictly increasing timestamps.
    pub points: Vec<(i64, f64)>,
}

impl StoredSeries {
    /// The points with `from < t <= to`.
    pub fn window(&self, from: i64, to: i64) -> &[(i64, f64)] {
        let lo = self.points.partition_point(|p| p.0 <= from);
        let hi = self.points.partition_point(|p| p.0 <= to);
        &self.points[lo..hi.max(lo)]
    }

    /// The newest point with `t <= at`.
    pub fn at_or_before(&self, at: i64) -> Option<(i64, f64)> {
        let i = self.points.partition_point(|p| p.0 <= at);
        i.checked_sub(1).map(|i| self.points[i])
    }
}

/// A label matcher (`=`, `!=`, `=~`, `!~`). An absent label matches as the empty value.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchKind,
}

#[derive(Debug, Clone)]
pub enum MatchKind {
    Equal(String),
    NotEqual(String),
    Regex(Regex),
    NotRegex(Regex),
}

impl Matcher {
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).unwrap_or("");
        match &self.op {
            MatchKind::Equal(want) => v == want,
            MatchKind::NotEqual(want) => v != want,
            MatchKind::Regex(r) => r.is_match(v),
            MatchKind::NotRegex(r) => !r.is_match(v),
        }
    }

    /// The metric name this matcher pins, if it is `__name__="…"`.
    fn pinned_name(&self) -> Option<&str> {
        match &self.op {
            MatchKind::Equal(v) if self.name == METRIC_NAME => Some(v),
            _ => None,
        }
    }
}

/// Compiles a PromQL regex as Prometheus does: fully anchored, `.` matching newlines.
/// Compiled regexes are kept per thread, since rules run the same queries again and
/// again.
pub fn anchored_regex(re: &str) -> Result<Regex, regex::Error> {
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, Regex>> = Default::default();
    }
    if let Some(r) = CACHE.with(|c| c.borrow().get(re).cloned()) {
        return Ok(r);
    }
    let compiled = Regex::new(&format!("^(?s:{re})$"))?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(re.to_string(), compiled.clone());
    });
    Ok(compiled)
}

/// All series, indexed by label set and by metric name.
#[derive(Debug, Default, Clone)]
pub struct Store {
    series: Vec<StoredSeries>,
    by_labels: HashMap<Labels, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        *self = Store::default();
    }

    /// Adds one sample. A sample at a timestamp the series already has replaces it;
    /// samples may come in any order.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) {
        let i = self.series_index(labels);
        let points = &mut self.series[i].points;
        match points.last() {
            Some(&(last, _)) if last < t => points.push((t, v)),
            None => points.push((t, v)),
            _ => match points.binary_search_by_key(&t, |p| p.0) {
                Ok(j) => points[j].1 = v,
                Err(j) => points.insert(j, (t, v)),
            },
        }
    }

    /// Adds many samples of one series.
    pub fn add_series(&mut self, labels: &Labels, points: impl IntoIterator<Item = (i64, f64)>) {
        for (t, v) in points {
            self.append(labels, t, v);
        }
    }

    fn series_index(&mut self, labels: &Labels) -> usize {
        if let Some(&i) = self.by_labels.get(labels) {
            return i;
        }
        let i = self.series.len();
        self.series.push(StoredSeries {
            labels: labels.clone(),
            points: Vec::new(),
        });
        self.by_labels.insert(labels.clone(), i);
        let name = labels.get(METRIC_NAME).unwrap_or("").to_string();
        self.by_name.entry(name).or_default().push(i);
        i
    }

    /// The series every matcher of one of `groups` accepts (a selector is one group;
    /// `{a="1" or b="2"}` has several).
    pub fn select(&self, groups: &[Vec<Matcher>]) -> Vec<&StoredSeries> {
        let mut picked = vec![false; self.series.len()];
        for group in groups {
            let pinned = group.iter().find_map(Matcher::pinned_name);
            let candidates: Vec<usize> = match pinned {
                Some(name) => self.by_name.get(name).cloned().unwrap_or_default(),
                None => (0..self.series.len()).collect(),
            };
            for i in candidates {
                if !picked[i] && group.iter().all(|m| m.matches(&self.series[i].labels)) {
                    picked[i] = true;
                }
            }
        }
        picked
            .iter()
            .enumerate()
            .filter(|(_, p)| **p)
            .map(|(i, _)| &self.series[i])
            .collect()
    }

    /// Every series.
    pub fn series(&self) -> &[StoredSeries] {
        &self.series
    }

    /// The number of stored samples.
    pub fn sample_count(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(n: &str, v: &str) -> Matcher {
        Matcher {
            name: n.into(),
            op: MatchKind::Equal(v.into()),
        }
    }

    #[test]
    fn appends_in_any_order_and_replaces_same_timestamp() {
        let mut s = Store::new();
        let l = Labels::from_pairs([("__name__", "up")]);
        s.append(&l, 20, 2.0);
        s.append(&l, 10, 1.0);
        s.append(&l, 20, 3.0);
        assert_eq!(s.series()[0].points, vec![(10, 1.0), (20, 3.0)]);
        assert_eq!(s.series()[0].window(10, 20), &[(20, 3.0)]);
        assert_eq!(s.series()[0].at_or_before(15), Some((10, 1.0)));
    }

    #[test]
    fn absent_labels_match_the_empty_value() {
        let mut s = Store::new();
        s.append(&Labels::from_pairs([("__name__", "up")]), 0, 1.0);
        s.append(
            &Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            0,
            1.0,
        );
        let groups = vec![vec![eq("__name__", "up"), eq("job", "")]];
        let got = s.select(&groups);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels.get("job"), None);
    }

    #[test]
    fn stale_marker_is_a_special_nan() {
        assert!(is_stale(stale_nan()));
        assert!(!is_stale(f64::NAN));
    }
}
