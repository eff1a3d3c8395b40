//! An in-process PromQL engine over an in-memory series store, following Prometheus 3.5.
//!
//! ```
//! use tocsin::labels::Labels;
//! use tocsin::promql::{Engine, EngineOptions, Value};
//!
//! let engine = Engine::new(EngineOptions::default());
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
//! engine.add_series(&up, [(0, 1.0), (60_000, 0.0)]);
//! let r = engine.instant("up == 0", 60_000).unwrap();
//! let Value::Vector(v) = r.value else { panic!() };
//! assert_eq!(v[0].labels.get("job"), Some("api"));
//! ```
//!
//! - [`store`]: the series ([`Store`]), stale markers.
//! - [`notation`]: the series expanding notation (`1+1x10`) of promqltest and promtool.
//! - `eval/`: the evaluator (selectors, operators, aggregations, functions).
//! - [`promqltest`]: a reader and runner of Prometheus' PromQL test files.
//! - [`Engine`] also implements [`crate::datasource::Querier`] (`querier.rs`), so rules
//!   can query it like a datasource.
//!
//! Native histograms are not supported (see `docs/promql.md`).

mod eval;
pub mod notation;
pub mod promqltest;
mod querier;
pub mod selectors;
pub mod store;
pub mod value;

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use promql_parser::parser::{Expr, value::ValueType};

use crate::labels::Labels;
pub use store::Store;
pub use value::{QueryResult, Sample, Series, Value, format_float};

pub(crate) use eval::selects;
use eval::{Elem, Evaluator, MSeries, Val, drop_metadata};

/// Prometheus' limit on the points of a range query per series.
pub const MAX_RANGE_POINTS: i64 = 11_000;

/// How the engine evaluates.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_delta_ms: i64,
    /// Prometheus 3's delayed `__name__` removal (`promql-delayed-name-removal`; off in a
    /// default Prometheus server and promtool, on in Prometheus' PromQL tests).
    pub delayed_name_removal: bool,
    /// The step of subqueries that give none (Prometheus: the global evaluation
    /// interval; promtool: the test's evaluation interval; PromQL tests: 1m).
    pub default_subquery_step_ms: i64,
    /// The most samples (and subquery steps) one evaluation may read (an instant query,
    /// or one step of a range query); beyond it the query fails, so that no query runs
    /// unbounded (Prometheus' `--query.max-samples`, 50 million by default).
    pub max_samples: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60 * 1000,
            delayed_name_removal: false,
            default_subquery_step_ms: 60 * 1000,
            max_samples: 50_000_000,
        }
    }
}

/// Why a query failed. Evaluation messages are Prometheus' own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromqlError {
    #[error("parse error: {0}")]
    Parse(String),
    #[error("{0}")]
    Eval(String),
}

/// Whether `name` is a valid label name under Prometheus 3's UTF-8 rules.
pub fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Parses an expression.
pub fn parse(expr: &str) -> Result<Expr, PromqlError> {
    promql_parser::parser::parse(expr).map_err(PromqlError::Parse)
}

/// The engine: a store and options. Queries take a read lock, so samples can be
/// added between queries from another thread.
#[derive(Debug, Default)]
pub struct Engine {
    store: RwLock<Store>,
    opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Self {
        Engine {
            store: RwLock::new(Store::new()),
            opts,
        }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Reads the store.
    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the store.
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds samples `(timestamp_ms, value)` to a series.
    pub fn add_series(&self, labels: &Labels, points: impl IntoIterator<Item = (i64, f64)>) {
        self.store_mut().add_series(labels, points);
    }

    /// Evaluates `expr` at `ts_ms`.
    pub fn instant(&self, expr: &str, ts_ms: i64) -> Result<QueryResult, PromqlError> {
        self.instant_expr(&parse(expr)?, ts_ms)
    }

    /// Evaluates a parsed expression at `ts_ms`.
    pub fn instant_expr(&self, expr: &Expr, ts_ms: i64) -> Result<QueryResult, PromqlError> {
        let store = self.store();
        let ev = Evaluator::new(&store, &self.opts, ts_ms, ts_ms);
        let value = match ev.eval(expr, ts_ms)? {
            Val::Scalar(f) => Value::Scalar {
                timestamp_ms: ts_ms,
                value: f,
            },
            Val::Str(s) => Value::String {
                timestamp_ms: ts_ms,
                value: s,
            },
            Val::Vector(v) => Value::Vector(finish_vector(v, ts_ms)?),
            Val::Matrix(m) => Value::Matrix(finish_matrix(m)?),
        };
        Ok(result(value, ev))
    }

    /// Evaluates `expr` at every `step_ms` from `start_ms` to `end_ms`; the answer is a
    /// matrix sorted by labels.
    pub fn range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, PromqlError> {
        self.range_expr(&parse(expr)?, start_ms, end_ms, step_ms)
    }

    /// [`Self::range`] on a parsed expression.
    pub fn range_expr(
        &self,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, PromqlError> {
        check_range(expr, start_ms, end_ms, step_ms)?;
        let store = self.store();
        let ev = Evaluator::new(&store, &self.opts, start_ms, end_ms);
        let mut series: Vec<MSeries> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut ts = start_ms;
        while ts <= end_ms {
            ev.reset_charge();
            ev.collect_step(expr, ts, &mut series, &mut index)?;
            ts += step_ms;
        }
        Ok(result(Value::Matrix(finish_matrix(series)?), ev))
    }
}

fn check_range(expr: &Expr, start: i64, end: i64, step: i64) -> Result<(), PromqlError> {
    match expr.value_type() {
        ValueType::Vector | ValueType::Scalar => {}
        other => {
            return Err(PromqlError::Eval(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                match other {
                    ValueType::Matrix => "range vector",
                    _ => "string",
                }
            )));
        }
    }
    if step <= 0 {
        return Err(PromqlError::Eval(
            "zero or negative query resolution step widths are not accepted".into(),
        ));
    }
    if end < start {
        return Err(PromqlError::Eval(
            "end timestamp must not be before start time".into(),
        ));
    }
    if (end - start) / step >= MAX_RANGE_POINTS {
        return Err(PromqlError::Eval(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    Ok(())
}

fn result(value: Value, ev: Evaluator<'_>) -> QueryResult {
    let a = ev.annotations.into_inner();
    QueryResult {
        value,
        warnings: a.warnings,
        infos: a.infos,
    }
}

/// Fails when label sets repeat (after names were removed).
fn distinct<'l>(labels: impl Iterator<Item = &'l Labels>) -> Result<(), PromqlError> {
    if eval::has_duplicates(labels) {
        return Err(PromqlError::Eval(
            "vector cannot contain metrics with the same labelset".into(),
        ));
    }
    Ok(())
}

/// Removes the names marked for removal; the label sets must stay distinct.
fn finish_vector(v: Vec<Elem>, ts: i64) -> Result<Vec<Sample>, PromqlError> {
    let out: Vec<Sample> = v
        .into_iter()
        .map(|e| Sample {
            labels: if e.drop_name {
                drop_metadata(&e.labels)
            } else {
                e.labels
            },
            value: e.f,
            timestamp_ms: ts,
        })
        .collect();
    distinct(out.iter().map(|s| &s.labels))?;
    Ok(out)
}

fn finish_matrix(m: Vec<MSeries>) -> Result<Vec<Series>, PromqlError> {
    let mut out: Vec<Series> = m
        .into_iter()
        .map(|s| Series {
            labels: if s.drop_name {
                drop_metadata(&s.labels)
            } else {
                s.labels
            },
            points: s.points,
        })
        .collect();
    distinct(out.iter().map(|s| &s.labels))?;
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let e = Engine::new(EngineOptions {
            max_samples: 100_000,
            ..EngineOptions::default()
        });
        let l = Labels::from_pairs([("__name__", "x")]);
        e.add_series(&l, (0..100).map(|i| (i * 60_000, i as f64)));
        e
    }

    #[test]
    fn runaway_queries_stop_with_an_error() {
        let e = engine();
        let err = e
            .instant("max_over_time(max_over_time(x[1d:1s])[1d:1s])", 6_000_000)
            .unwrap_err();
        assert!(err.to_string().contains("too many samples"), "{err}");
        let err = e.instant("count_over_time(x[10y:1ms])", 0).unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
        let err = e.range("x", 0, 100_000_000, 1).unwrap_err();
        assert!(err.to_string().contains("11,000 points"), "{err}");
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let e = engine();
        let err = e.instant("no_such_function(x)", 0).unwrap_err();
        assert!(matches!(err, PromqlError::Parse(_)), "{err}");
        assert!(err.to_string().contains("no_such_function"), "{err}");
        let err = e.range("x[5m]", 0, 60_000, 60_000).unwrap_err();
        assert!(err.to_string().contains("range vector"), "{err}");
    }

    #[test]
    fn instant_and_range_answers() {
        let e = engine();
        let r = e.instant("x offset 1m", 600_000).unwrap();
        let Value::Vector(v) = r.value else {
            panic!("{:?}", r.value)
        };
        assert_eq!(v[0].value, 9.0);
        assert_eq!(v[0].timestamp_ms, 600_000);
        let r = e.range("x * 2", 0, 120_000, 60_000).unwrap();
        let Value::Matrix(m) = r.value else {
            panic!("{:?}", r.value)
        };
        assert_eq!(m[0].labels, Labels::empty());
        assert_eq!(m[0].points, vec![(0, 0.0), (60_000, 2.0), (120_000, 4.0)]);
        let r = e.instant("rate(x[5m])", 600_000).unwrap();
        assert_eq!(r.infos.len(), 1, "{:?}", r.infos);
        assert!(r.infos[0].starts_with("PromQL info: metric might not be a counter"));
    }
}
