//! The in-process PromQL engine (`promql/`) as the store of a test run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promql_parser::parser::Expr;

use super::driver::{Backend, InputData, SeriesDump};
use super::run::{Engine, InputError};
use crate::labels::Labels;
use crate::promql::notation::{self, SeqValue};
use crate::promql::{self, EngineOptions, Value};
use crate::sample::Sample;

/// Input samples one test group may hold in all (each series is also limited by the
/// notation itself): beyond this, the group fails before evaluating anything.
pub const MAX_INPUT_SAMPLES: usize = 10_000_000;

/// Parsed expressions by their text, shared by every test group of a run: the same
/// rules are queried at every evaluation of every group, and parsing was a good part of
/// the time.
type ParseCache = Arc<Mutex<HashMap<String, Result<Arc<Expr>, String>>>>;

/// `tocsin test`'s engine: a fresh [`promql::Engine`] per test group.
#[derive(Debug, Default, Clone)]
pub struct InProcess {
    parsed: ParseCache,
}

/// One test group's store and engine.
struct Store {
    engine: promql::Engine,
    parsed: ParseCache,
}

impl Store {
    fn parse(&self, expr: &str) -> Result<Arc<Expr>, String> {
        let mut cache = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = cache.get(expr) {
            return r.clone();
        }
        let r = promql::parse(expr).map(Arc::new).map_err(|e| e.to_string());
        cache.insert(expr.to_string(), r.clone());
        r
    }
}

impl Engine for InProcess {
    fn new_backend(&self, evaluation_interval: Duration) -> Box<dyn Backend> {
        Box::new(Store {
            engine: promql::Engine::new(EngineOptions {
                default_subquery_step_ms: i64::try_from(evaluation_interval.as_millis())
                    .unwrap_or(i64::MAX),
                ..EngineOptions::default()
            }),
            parsed: self.parsed.clone(),
        })
    }

    fn parse_input(
        &self,
        series: &str,
        values: &str,
        interval: Duration,
    ) -> Result<InputData, InputError> {
        let labels = notation::parse_metric(series).map_err(|e| InputError {
            in_values: false,
            column: e.column,
            message: e.message,
        })?;
        let seq = notation::parse_values(values).map_err(|e| InputError {
            in_values: true,
            column: e.column,
            message: e.message,
        })?;
        let step = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        let samples = seq
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                SeqValue::Value(f) => Some(((i as i64).saturating_mul(step), f)),
                SeqValue::Omitted => None,
            })
            .collect();
        Ok(InputData { labels, samples })
    }

    fn max_input_samples(&self) -> usize {
        MAX_INPUT_SAMPLES
    }
}

impl Backend for Store {
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<Sample>, String> {
        let parsed = self.parse(expr)?;
        let r = self
            .engine
            .instant_expr(&parsed, t_ms)
            .map_err(|e| e.to_string())?;
        // Prometheus' words (rules.EngineQueryFunc and promtool's query).
        r.value
            .into_samples()
            .map_err(|_| "rule result is not a vector or scalar".to_string())
    }

    fn append(&mut self, samples: &[Sample]) {
        let mut store = self.engine.store_mut();
        for s in samples {
            store.append(&s.labels, s.timestamp_ms, s.value);
        }
    }

    fn dump(&self, t_ms: i64) -> Result<SeriesDump, String> {
        let expr = format!("{{__name__=~\".+\"}}[{t_ms}ms]");
        let r = self
            .engine
            .instant(&expr, t_ms)
            .map_err(|e| e.to_string())?;
        match r.value {
            Value::Matrix(m) => Ok(m.into_iter().map(|s| (s.labels, s.points)).collect()),
            other => Err(format!(
                "got a {} instead of a range vector",
                other.type_name()
            )),
        }
    }

    fn parse_labels(&self, text: &str) -> Result<Labels, String> {
        if text.trim().is_empty() {
            return Ok(Labels::empty());
        }
        notation::parse_metric(text).map_err(|e| e.to_string())
    }
}
