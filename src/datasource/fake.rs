//! An in-memory datasource for tests: answers are set per expression and can be
//! changed while a test runs.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{BoxFuture, InstantQuery, Querier, QueryError, RangeQuery, RangeSeries};
use crate::sample::Sample;

/// Answers instant queries from a table; unknown expressions answer an empty vector.
#[derive(Default)]
pub struct FakeQuerier {
    answers: Mutex<HashMap<String, Result<Vec<Sample>, QueryError>>>,
    /// Every instant query received, in order.
    pub log: Mutex<Vec<InstantQuery>>,
    ranges: Mutex<HashMap<String, Result<Vec<RangeSeries>, QueryError>>>,
    /// Every range query received, in order.
    pub range_log: Mutex<Vec<RangeQuery>>,
    /// Range queries starting at these times fail with this error, whatever the
    /// expression (one window of a replay failing).
    failing_ranges: Mutex<HashMap<i64, QueryError>>,
}

impl FakeQuerier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what `expr` answers from now on.
    pub fn set(&self, expr: &str, answer: Result<Vec<Sample>, QueryError>) {
        if let Ok(mut m) = self.answers.lock() {
            m.insert(expr.to_string(), answer);
        }
    }

    /// Sets what range queries of `expr` answer from now on: the points of each series
    /// that fall in the queried range are returned, as a datasource would.
    pub fn set_range(&self, expr: &str, answer: Result<Vec<RangeSeries>, QueryError>) {
        if let Ok(mut m) = self.ranges.lock() {
            m.insert(expr.to_string(), answer);
        }
    }

    /// Makes every range query that starts at `start_ms` fail with `error`.
    pub fn fail_ranges_at(&self, start_ms: i64, error: QueryError) {
        if let Ok(mut m) = self.failing_ranges.lock() {
            m.insert(start_ms, error);
        }
    }

    /// The range queries received so far.
    pub fn range_queries(&self) -> Vec<RangeQuery> {
        self.range_log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The queries received so far.
    pub fn queries(&self) -> Vec<InstantQuery> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Querier for FakeQuerier {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        Box::pin(async move {
            if let Ok(mut l) = self.log.lock() {
                l.push(q.clone());
            }
            self.answers
                .lock()
                .ok()
                .and_then(|m| m.get(&q.expr).cloned())
                .unwrap_or(Ok(Vec::new()))
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        Box::pin(async move {
            if let Ok(mut l) = self.range_log.lock() {
                l.push(q.clone());
            }
            let failing = self.failing_ranges.lock().ok();
            if let Some(e) = failing.and_then(|m| m.get(&q.start_ms).cloned()) {
                return Err(e);
            }
            let answer = self
                .ranges
                .lock()
                .ok()
                .and_then(|m| m.get(&q.expr).cloned())
                .unwrap_or(Ok(Vec::new()))?;
            Ok(answer
                .into_iter()
                .map(|(labels, points)| {
                    let inside = points
                        .into_iter()
                        .filter(|(t, _)| *t >= q.start_ms && *t <= q.end_ms)
                        .collect::<Vec<_>>();
                    (labels, inside)
                })
                .filter(|(_, p)| !p.is_empty())
                .collect())
        })
    }
}
