//! Functions over a range vector: one result per series that has samples in its window.

use promql_parser::parser::Expr;

use super::super::aggregate::{kahan_inc, quantile};
use super::super::{Elem, EvalResult, Evaluator, Val, fail};
use super::{absent_labels, unparen};
use crate::labels::METRIC_NAME;
use crate::promql::PromqlError;

/// What a range function knows besides the points.
struct Window {
    /// Evaluation time (ms).
    ts: i64,
    /// The window `(start, end]` the points were taken from (ms).
    start: i64,
    end: i64,
    /// Scalar arguments, in order.
    scalars: Vec<f64>,
}

type Points<'p> = &'p [(i64, f64)];

impl Evaluator<'_> {
    pub(super) fn call_range(
        &self,
        name: &str,
        args: &[&Expr],
        matrix_at: usize,
        ts: i64,
    ) -> EvalResult {
        let (end, range) = match unparen(args[matrix_at]) {
            Expr::MatrixSelector(ms) => (
                self.selector_time(&ms.vs.at, &ms.vs.offset, ts),
                ms.range.as_millis() as i64,
            ),
            Expr::Subquery(sq) => (
                self.selector_time(&sq.at, &sq.offset, ts),
                sq.range.as_millis() as i64,
            ),
            _ => return fail("expected a range vector argument"),
        };
        let mut scalars = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i != matrix_at {
                scalars.push(self.eval_scalar(a, ts)?);
            }
        }
        let w = Window {
            ts,
            start: end - range,
            end,
            scalars,
        };
        let Val::Matrix(series) = self.eval(args[matrix_at], ts)? else {
            return fail("expected a range vector argument");
        };
        if name == "absent_over_time" {
            return Ok(Val::Vector(if series.is_empty() {
                vec![Elem {
                    labels: absent_labels(args[matrix_at]),
                    f: 1.0,
                    drop_name: false,
                }]
            } else {
                Vec::new()
            }));
        }
        self.check_range_params(name, &w, &series)?;
        let keeps_name = matches!(name, "last_over_time" | "first_over_time");
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let Some(f) = apply(name, &s.points, &w)? else {
                continue;
            };
            if matches!(name, "rate" | "increase") {
                self.counter_name_info(&s.labels);
            }
            let mut e = Elem {
                labels: s.labels,
                f,
                drop_name: false,
            };
            if !keeps_name {
                self.mark_drop(&mut e);
            }
            out.push(e);
        }
        self.check_unique(&out)?;
        Ok(Val::Vector(out))
    }

    fn counter_name_info(&self, labels: &crate::labels::Labels) {
        let Some(name) = labels.get(METRIC_NAME) else {
            return;
        };
        if !["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            self.info(format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
            ));
        }
    }

    /// Parameter checks that fail the query or warn.
    fn check_range_params(
        &self,
        name: &str,
        w: &Window,
        series: &[super::super::MSeries],
    ) -> Result<(), PromqlError> {
        match name {
            "quantile_over_time" if !series.is_empty() => {
                let q = w.scalars[0];
                if q.is_nan() || !(0.0..=1.0).contains(&q) {
                    self.warn(format!(
                        "quantile value should be between 0 and 1, got {}",
                        crate::promql::value::format_go(q)
                    ));
                }
            }
            "double_exponential_smoothing" => {
                let (sf, tf) = (w.scalars[0], w.scalars[1]);
                if !(sf > 0.0 && sf < 1.0) {
                    return fail(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
                    ));
                }
                if !(tf > 0.0 && tf < 1.0) {
                    return fail(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One range function over non-empty points.
fn apply(name: &str, p: Points<'_>, w: &Window) -> Result<Option<f64>, PromqlError> {
    let last = p[p.len() - 1];
    Ok(match name {
        "rate" => extrapolated_rate(p, w, true, true),
        "increase" => extrapolated_rate(p, w, true, false),
        "delta" => extrapolated_rate(p, w, false, false),
        "irate" => instant_value(p, true),
        "idelta" => instant_value(p, false),
        "deriv" => (p.len() >= 2).then(|| linear_regression(p, p[0].0).0),
        "predict_linear" => (p.len() >= 2).then(|| {
            let (slope, intercept) = linear_regression(p, w.ts);
            slope * w.scalars[0] + intercept
        }),
        "double_exponential_smoothing" => smoothing(p, w.scalars[0], w.scalars[1]),
        "avg_over_time" => Some(avg(p)),
        "sum_over_time" => Some(sum(p)),
        "count_over_time" => Some(p.len() as f64),
        "min_over_time" => Some(extreme(p, |c, m| c < m).1),
        "max_over_time" => Some(extreme(p, |c, m| c > m).1),
        "ts_of_min_over_time" => Some(extreme(p, |c, m| c <= m).0 as f64 / 1000.0),
        "ts_of_max_over_time" => Some(extreme(p, |c, m| c >= m).0 as f64 / 1000.0),
        "last_over_time" => Some(last.1),
        "first_over_time" => Some(p[0].1),
        "ts_of_last_over_time" => Some(last.0 as f64 / 1000.0),
        "ts_of_first_over_time" => Some(p[0].0 as f64 / 1000.0),
        "present_over_time" => Some(1.0),
        "stddev_over_time" => Some(variance(p).sqrt()),
        "stdvar_over_time" => Some(variance(p)),
        "quantile_over_time" => Some(quantile(w.scalars[0], &mut values(p))),
        "mad_over_time" => Some(mad(p)),
        "changes" => Some(count_pairs(p, |a, b| a != b && !(a.is_nan() && b.is_nan()))),
        "resets" => Some(count_pairs(p, |a, b| b < a)),
        other => return fail(format!("function {other}() is not supported over a range")),
    })
}

fn values(p: Points<'_>) -> Vec<f64> {
    p.iter().map(|x| x.1).collect()
}

/// `rate`, `increase` and `delta`: the change over the window (counter resets
/// compensated for counters), extrapolated to the window's edges unless the series
/// seems to start or end inside it.
fn extrapolated_rate(p: Points<'_>, w: &Window, counter: bool, per_second: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (first, last) = (p[0], p[p.len() - 1]);
    let mut result = last.1 - first.1;
    if counter {
        let mut prev = first.1;
        for &(_, v) in &p[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first.0 - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg_step = sampled / (p.len() - 1) as f64;
    let threshold = avg_step * 1.1;
    if to_start >= threshold {
        to_start = avg_step / 2.0;
    }
    if counter && result > 0.0 && first.1 >= 0.0 {
        // A counter does not go below zero: do not extrapolate past where it would.
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_step / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if per_second {
        factor /= (w.end - w.start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(p: Points<'_>, rate: bool) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let (a, b) = (p[p.len() - 2], p[p.len() - 1]);
    let interval = b.0 - a.0;
    if interval == 0 {
        return None;
    }
    let mut v = b.1;
    if !rate || b.1 >= a.1 || a.1.is_nan() || b.1.is_nan() {
        v = b.1 - a.1;
    }
    if rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares slope and intercept (at `intercept_ms`) with compensated sums.
fn linear_regression(p: Points<'_>, intercept_ms: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init = p[0].1;
    let mut constant = true;
    for (i, &(t, v)) in p.iter().enumerate() {
        if constant && i > 0 && v != init {
            constant = false;
        }
        n += 1.0;
        let x = (t - intercept_ms) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if constant {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Holt's double exponential smoothing.
fn smoothing(p: Points<'_>, sf: f64, tf: f64) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let mut s0 = 0.0;
    let mut s1 = p[0].1;
    let mut b = p[1].1 - p[0].1;
    for (i, &(_, v)) in p.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

fn avg(p: Points<'_>) -> f64 {
    let (mut sum, mut count, mut mean, mut c) = (p[0].1, 1.0, 0.0, 0.0);
    let mut incremental = false;
    for &(_, v) in &p[1..] {
        count += 1.0;
        if !incremental {
            let (s, nc) = kahan_inc(v, sum, c);
            if !s.is_infinite() {
                (sum, c) = (s, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

fn sum(p: Points<'_>) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for &(_, v) in p {
        (s, c) = kahan_inc(v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// The point `better` prefers (a NaN is always replaced), with its timestamp.
fn extreme(p: Points<'_>, better: impl Fn(f64, f64) -> bool) -> (i64, f64) {
    let (mut t, mut m) = p[0];
    for &(pt, v) in p {
        if better(v, m) || m.is_nan() {
            (t, m) = (pt, v);
        }
    }
    (t, m)
}

fn variance(p: Points<'_>) -> f64 {
    let (mut count, mut mean, mut cm, mut aux, mut ca) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(_, v) in p {
        count += 1.0;
        let delta = v - (mean + cm);
        (mean, cm) = kahan_inc(delta / count, mean, cm);
        (aux, ca) = kahan_inc(delta * (v - (mean + cm)), aux, ca);
    }
    (aux + ca) / count
}

/// Median absolute deviation.
fn mad(p: Points<'_>) -> f64 {
    let median = quantile(0.5, &mut values(p));
    let mut dev: Vec<f64> = p.iter().map(|x| (x.1 - median).abs()).collect();
    quantile(0.5, &mut dev)
}

fn count_pairs(p: Points<'_>, counts: impl Fn(f64, f64) -> bool) -> f64 {
    p.windows(2).filter(|w| counts(w[0].1, w[1].1)).count() as f64
}
