//! What the engine returns: typed query values, and Prometheus' way of writing floats.

use std::fmt;

use crate::labels::Labels;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
    /// The evaluation timestamp (milliseconds), as Prometheus reports it.
    pub timestamp_ms: i64,
}

/// One series of a matrix: a range vector, or the answer of a range query.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `(timestamp_ms, value)`, oldest first.
    pub points: Vec<(i64, f64)>,
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar {
        timestamp_ms: i64,
        value: f64,
    },
    String {
        timestamp_ms: i64,
        value: String,
    },
    /// Sorted by labels unless the query sorts (`sort`, `topk`, …).
    Vector(Vec<Sample>),
    /// Sorted by labels.
    Matrix(Vec<Series>),
}

impl Value {
    /// The type's name as Prometheus' API spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }

    /// The answer as rules read an instant query: a vector's samples, or a scalar as one
    /// sample without labels; any other type is `Err` with its name.
    pub fn into_samples(self) -> Result<Vec<crate::sample::Sample>, &'static str> {
        match self {
            Value::Vector(v) => Ok(v
                .into_iter()
                .map(|s| crate::sample::Sample {
                    labels: s.labels,
                    value: s.value,
                    timestamp_ms: s.timestamp_ms,
                })
                .collect()),
            Value::Scalar {
                timestamp_ms,
                value,
            } => Ok(vec![crate::sample::Sample {
                labels: Labels::empty(),
                value,
                timestamp_ms,
            }]),
            other => Err(other.type_name()),
        }
    }
}

/// The result of a query: its value and the annotations (warnings and infos) Prometheus
/// would attach, each already prefixed `PromQL warning: ` or `PromQL info: `.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Writes a float as Prometheus' HTTP API does: shortest round-trip digits, plain
/// notation between 1e-6 and 1e21, exponent notation (`1e+21`, `1e-07`) outside,
/// `NaN`, `+Inf`, `-Inf`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        return go_exponent(f);
    }
    format!("{f}")
}

/// Writes a float as Go's `%v` and `%g` do (`1e+06`, `0.0001`, `+Inf`), as promtool's
/// messages and Prometheus' annotations print values.
pub use crate::template::gofmt::format_v as format_go;

/// The label value `count_values` writes: Go's `FormatFloat(f, 'f', -1, 64)`.
pub fn format_plain(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    format!("{f}")
}

/// Go's exponent form: mantissa in shortest digits, `e`, sign, at least two digits.
fn go_exponent(f: f64) -> String {
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// Prometheus' `almost.Equal`: equal within a relative `epsilon`, NaN equal to NaN.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} => {}", self.labels, format_float(self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_prometheus_writes_them() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1.5e-7), "1.5e-07");
        assert_eq!(format_float(123456789.0), "123456789");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_float(-0.0), "-0");
    }

    #[test]
    fn count_values_writes_plain_numbers() {
        assert_eq!(format_plain(1e21), "1000000000000000000000");
        assert_eq!(format_plain(f64::INFINITY), "+Inf");
        assert_eq!(format_go(1e6), "1e+06");
    }
}
