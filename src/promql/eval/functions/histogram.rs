//! `histogram_quantile` and `histogram_fraction` over classic histograms: series that
//! differ only in their `le` label are the cumulative buckets of one histogram.

use std::collections::HashMap;

use promql_parser::parser::Expr;

use super::super::{Elem, EvalResult, Evaluator, Val};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::value::{almost_equal, format_go};

/// Relative difference below which neighbouring bucket counts are taken as equal.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

#[derive(Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

impl Evaluator<'_> {
    /// Groups a vector's samples into histograms, warning about bad `le` labels.
    fn classic_histograms(&self, v: Vec<Elem>) -> Vec<(Labels, Vec<Bucket>)> {
        let mut out: Vec<(Labels, Vec<Bucket>)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for e in v {
            let le = e.labels.get("le").unwrap_or("");
            let Ok(upper) = le.trim_start_matches('+').parse::<f64>() else {
                self.warn(format!(
                    "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {:?}",
                    e.labels.get(METRIC_NAME).unwrap_or("")
                ));
                continue;
            };
            let mut b = e.labels.to_builder();
            b.del("le");
            let key = b.build();
            let i = *index.entry(key.clone()).or_insert_with(|| {
                out.push((key, Vec::new()));
                out.len() - 1
            });
            out[i].1.push(Bucket { upper, count: e.f });
        }
        out
    }

    pub(super) fn histogram_quantile(&self, args: &[&Expr], ts: i64) -> EvalResult {
        let q = self.eval_scalar(args[0], ts)?;
        if q.is_nan() || !(0.0..=1.0).contains(&q) {
            self.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                format_go(q)
            ));
        }
        let v = self.eval_vector(args[1], ts)?;
        let mut out = Vec::new();
        for (labels, mut buckets) in self.classic_histograms(v) {
            let (f, forced) = bucket_quantile(q, &mut buckets);
            if forced {
                self.info(format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {:?}",
                    labels.get(METRIC_NAME).unwrap_or("")
                ));
            }
            let mut e = Elem {
                labels,
                f,
                drop_name: false,
            };
            self.mark_drop(&mut e);
            out.push(e);
        }
        self.check_unique(&out)?;
        Ok(Val::Vector(out))
    }

    pub(super) fn histogram_fraction(&self, args: &[&Expr], ts: i64) -> EvalResult {
        let lower = self.eval_scalar(args[0], ts)?;
        let upper = self.eval_scalar(args[1], ts)?;
        let v = self.eval_vector(args[2], ts)?;
        let mut out = Vec::new();
        for (labels, mut buckets) in self.classic_histograms(v) {
            let mut e = Elem {
                labels,
                f: bucket_fraction(lower, upper, &mut buckets),
                drop_name: false,
            };
            self.mark_drop(&mut e);
            out.push(e);
        }
        self.check_unique(&out)?;
        Ok(Val::Vector(out))
    }
}

/// Sorts by upper bound and merges buckets with the same bound.
fn prepare(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    *buckets = merged;
}

/// Makes counts non-decreasing; returns whether a real decrease had to be fixed.
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// The quantile of a classic histogram by linear interpolation inside its bucket.
fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    prepare(buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return (f64::NAN, false);
    }
    let forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, false);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, false);
    }
    let mut rank = q * observations;
    let n = buckets.len();
    let b = buckets[..n - 1].partition_point(|x| x.count < rank);
    if b == n - 1 {
        return (buckets[n - 2].upper, forced);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return (buckets[0].upper, forced);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].upper, buckets[b].count);
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// The fraction of observations between `lower` and `upper`, interpolating linearly
/// inside buckets.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    prepare(buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    for (i, b) in buckets.iter().enumerate() {
        let lb = if i > 0 {
            buckets[i - 1].upper
        } else {
            f64::NEG_INFINITY
        };
        let ub = b.upper;
        let interpolate = |v: f64| rank + (b.count - rank) * (v - lb) / (ub - lb);
        if lower_rank.is_none() && lb >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lb >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && lb < lower && ub > lower {
            lower_rank = Some(interpolate(lower));
        }
        if upper_rank.is_none() && lb < upper && ub > upper {
            upper_rank = Some(interpolate(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = b.count;
    }
    let lr = lower_rank.filter(|r| *r <= count).unwrap_or(count);
    let ur = upper_rank.filter(|r| *r <= count).unwrap_or(count);
    (ur - lr) / count
}
