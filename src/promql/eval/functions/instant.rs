//! Functions over instant vectors and scalars: arithmetic, clamping, rounding, dates,
//! sorting, conversions.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, Timelike};
use promql_parser::parser::Expr;

use super::super::{Elem, EvalResult, Evaluator, Val, fail};
use super::string_arg;
use crate::labels::Labels;
use crate::promql::PromqlError;

/// A float-to-float function, by name.
fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// A date function of a Unix time in seconds, by name.
fn date_fn(name: &str) -> Option<fn(DateTime<chrono::Utc>) -> f64> {
    Some(match name {
        "days_in_month" => |t| days_in_month(t.year(), t.month()) as f64,
        "day_of_month" => |t| t.day() as f64,
        "day_of_week" => |t| t.weekday().num_days_from_sunday() as f64,
        "day_of_year" => |t| t.ordinal() as f64,
        "hour" => |t| t.hour() as f64,
        "minute" => |t| t.minute() as f64,
        "month" => |t| t.month() as f64,
        "year" => |t| t.year() as f64,
        _ => return None,
    })
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(31)
}

fn date_of(secs: f64) -> Option<DateTime<chrono::Utc>> {
    if !secs.is_finite() {
        return None;
    }
    DateTime::from_timestamp(secs.trunc() as i64, 0)
}

impl Evaluator<'_> {
    pub(super) fn call_instant(&self, name: &str, args: &[&Expr], ts: i64) -> EvalResult {
        if let Some(f) = math_fn(name) {
            return self.map_floats(self.eval_vector(args[0], ts)?, f);
        }
        if let Some(f) = date_fn(name) {
            if args.is_empty() {
                let t = date_of(ts.div_euclid(1000) as f64);
                return Ok(Val::Vector(vec![Elem {
                    labels: Labels::empty(),
                    f: t.map(f).unwrap_or(f64::NAN),
                    drop_name: false,
                }]));
            }
            return self.map_floats(self.eval_vector(args[0], ts)?, |v| {
                date_of(v).map(f).unwrap_or(f64::NAN)
            });
        }
        match name {
            "time" => Ok(Val::Scalar(ts as f64 / 1000.0)),
            "pi" => Ok(Val::Scalar(std::f64::consts::PI)),
            "vector" => Ok(Val::Vector(vec![Elem {
                labels: Labels::empty(),
                f: self.eval_scalar(args[0], ts)?,
                drop_name: false,
            }])),
            "scalar" => {
                let v = self.eval_vector(args[0], ts)?;
                Ok(Val::Scalar(if v.len() == 1 { v[0].f } else { f64::NAN }))
            }
            "round" => self.round(args, ts),
            "clamp" | "clamp_min" | "clamp_max" => self.clamp(name, args, ts),
            "sort" | "sort_desc" => Ok(Val::Vector(sort_by_value(
                self.eval_vector(args[0], ts)?,
                name == "sort_desc",
            ))),
            "sort_by_label" | "sort_by_label_desc" => self.sort_by_label(name, args, ts),
            "histogram_quantile" => self.histogram_quantile(args, ts),
            "histogram_fraction" => self.histogram_fraction(args, ts),
            // These read native histograms only; float samples are ignored.
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
            | "histogram_stdvar" => {
                self.eval_vector(args[0], ts)?;
                Ok(Val::Vector(Vec::new()))
            }
            other => fail(format!("function {other}() is not supported")),
        }
    }

    fn map_floats(&self, v: Vec<Elem>, f: impl Fn(f64) -> f64) -> EvalResult {
        let mut out = v;
        for e in &mut out {
            e.f = f(e.f);
            self.mark_drop(e);
        }
        self.check_unique(&out)?;
        Ok(Val::Vector(out))
    }

    fn round(&self, args: &[&Expr], ts: i64) -> EvalResult {
        let to = match args.get(1) {
            Some(a) => self.eval_scalar(a, ts)?,
            None => 1.0,
        };
        let inverse = 1.0 / to;
        self.map_floats(self.eval_vector(args[0], ts)?, |v| {
            (v * inverse + 0.5).floor() / inverse
        })
    }

    fn clamp(&self, name: &str, args: &[&Expr], ts: i64) -> EvalResult {
        let v = self.eval_vector(args[0], ts)?;
        let (min, max) = match name {
            "clamp" => (
                self.eval_scalar(args[1], ts)?,
                self.eval_scalar(args[2], ts)?,
            ),
            "clamp_min" => (self.eval_scalar(args[1], ts)?, f64::INFINITY),
            _ => (f64::NEG_INFINITY, self.eval_scalar(args[1], ts)?),
        };
        if max < min {
            return Ok(Val::Vector(Vec::new()));
        }
        // Go's math.Max/Min: NaN wins.
        self.map_floats(v, |f| {
            if f.is_nan() || min.is_nan() || max.is_nan() {
                f64::NAN
            } else {
                f.min(max).max(min)
            }
        })
    }

    fn sort_by_label(&self, name: &str, args: &[&Expr], ts: i64) -> EvalResult {
        let mut v = self.eval_vector(args[0], ts)?;
        let names: Vec<&str> = args[1..]
            .iter()
            .map(|a| string_arg(a))
            .collect::<Result<_, PromqlError>>()?;
        let desc = name == "sort_by_label_desc";
        v.sort_by(|a, b| {
            for n in &names {
                let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                if x == y {
                    continue;
                }
                let o = if natural_less(x, y) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                return if desc { o.reverse() } else { o };
            }
            let o = a.labels.cmp(&b.labels);
            if desc { o.reverse() } else { o }
        });
        Ok(Val::Vector(v))
    }
}

/// `sort` (ascending) and `sort_desc`: NaN last either way.
fn sort_by_value(mut v: Vec<Elem>, desc: bool) -> Vec<Elem> {
    v.sort_by(|a, b| match (a.f.is_nan(), b.f.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = a.f.partial_cmp(&b.f).unwrap_or(Ordering::Equal);
            if desc { o.reverse() } else { o }
        }
    });
    v
}

/// Splits into runs of digits and non-digits.
fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    for i in 1..=b.len() {
        if i == b.len() || b[i].is_ascii_digit() != b[i - 1].is_ascii_digit() {
            if i > start {
                out.push(&s[start..i]);
            }
            start = i;
        }
    }
    out
}

/// Natural order as Prometheus' `natsort.Compare` decides it: digit runs compare as
/// numbers, the rest as strings.
fn natural_less(a: &str, b: &str) -> bool {
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        let Some(y) = cb.get(i) else {
            return false;
        };
        let last_a = i == ca.len() - 1;
        let last_b = i == cb.len() - 1;
        match (x.parse::<i64>(), y.parse::<i64>()) {
            (Ok(nx), Ok(ny)) if nx != ny => return nx < ny,
            (Ok(_), Ok(_)) => {}
            _ if x != y => return x < y,
            _ => {}
        }
        if last_a {
            return true;
        }
        if last_b {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert!(natural_less("a2", "a10"));
        assert!(!natural_less("a10", "a2"));
        assert!(natural_less("abc", "abd"));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 12), 31);
    }
}
