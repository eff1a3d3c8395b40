//! One range query per window, however many rules ask for it: both sides of a backtest
//! (and rules of one side with the same expression) read the same answers.
//!
//! Before the replays start, every window query each rule will send is counted; the
//! first rule to ask sends the query, later ones wait for its answer, and the answer is
//! dropped once the last of them took it, so memory follows the lag between the rules,
//! not the range. A failed query is not shared: each rule's own retries query again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::datasource::{BoxFuture, InstantQuery, Querier, QueryError, RangeQuery, RangeSeries};
use crate::sample::Sample;

/// What identifies a range query's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    expr: String,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl Key {
    fn of(q: &RangeQuery) -> Key {
        Key {
            expr: q.expr.clone(),
            start_ms: q.start_ms,
            end_ms: q.end_ms,
            step_ms: q.step_ms,
            params: q.params.clone(),
            headers: q.headers.clone(),
        }
    }
}

/// An answer being fetched or waiting for the rules that have not taken it yet.
struct Entry {
    answer: OnceCell<Vec<RangeSeries>>,
    left: AtomicUsize,
}

/// Counts of what the datasource was asked, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FetchStats {
    /// Range queries the rules asked for.
    pub asked: u64,
    /// Range queries sent to the datasource (failed attempts included).
    pub sent: u64,
    /// Series in all answers received.
    pub series: u64,
}

/// A [`Querier`] that shares range answers between the rules expected to ask for them.
pub struct SharedQuerier {
    inner: Arc<dyn Querier>,
    /// How many rules will ask for each window query.
    demand: HashMap<Key, usize>,
    pending: Mutex<HashMap<Key, Arc<Entry>>>,
    asked: AtomicU64,
    sent: AtomicU64,
    series: AtomicU64,
}

impl SharedQuerier {
    /// `queries`: every window query every rule will send (one item per rule and window).
    pub fn new(inner: Arc<dyn Querier>, queries: impl IntoIterator<Item = RangeQuery>) -> Self {
        let mut demand = HashMap::new();
        for q in queries {
            *demand.entry(Key::of(&q)).or_insert(0) += 1;
        }
        SharedQuerier {
            inner,
            demand,
            pending: Mutex::new(HashMap::new()),
            asked: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            series: AtomicU64::new(0),
        }
    }

    /// Distinct window queries (what a run without failures sends).
    pub fn distinct(&self) -> usize {
        self.demand.len()
    }

    pub fn stats(&self) -> FetchStats {
        FetchStats {
            asked: self.asked.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            series: self.series.load(Ordering::Relaxed),
        }
    }

    async fn send(&self, q: &RangeQuery) -> Result<Vec<RangeSeries>, QueryError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let answer = self.inner.range(q).await?;
        self.series
            .fetch_add(answer.len() as u64, Ordering::Relaxed);
        Ok(answer)
    }

    async fn shared(&self, q: &RangeQuery, n: usize) -> Result<Vec<RangeSeries>, QueryError> {
        let key = Key::of(q);
        let entry = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .entry(key.clone())
                .or_insert_with(|| {
                    Arc::new(Entry {
                        answer: OnceCell::new(),
                        left: AtomicUsize::new(n),
                    })
                })
                .clone()
        };
        let answer = entry.answer.get_or_try_init(|| self.send(q)).await?;
        let out = answer.clone();
        if entry.left.fetch_sub(1, Ordering::AcqRel) <= 1 {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.get(&key).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                pending.remove(&key);
            }
        }
        Ok(out)
    }
}

impl Querier for SharedQuerier {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        self.inner.instant(q)
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        Box::pin(async move {
            self.asked.fetch_add(1, Ordering::Relaxed);
            match self.demand.get(&Key::of(q)).copied().unwrap_or(1) {
                n if n > 1 => self.shared(q, n).await,
                _ => self.send(q).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasource::fake::FakeQuerier;
    use crate::labels::Labels;

    fn q(expr: &str, start_ms: i64) -> RangeQuery {
        RangeQuery {
            expr: expr.into(),
            start_ms,
            end_ms: start_ms + 60_000,
            step_ms: 60_000,
            ..RangeQuery::default()
        }
    }

    #[tokio::test]
    async fn each_window_is_fetched_once_and_then_forgotten() {
        let fake = Arc::new(FakeQuerier::new());
        let x = Labels::from_pairs([("__name__", "x")]);
        fake.set_range("x", Ok(vec![(x, vec![(0, 1.0), (60_000, 2.0)])]));
        let s = SharedQuerier::new(
            fake.clone(),
            [q("x", 0), q("x", 0), q("x", 120_000), q("y", 0)],
        );
        assert_eq!(s.distinct(), 3);
        let (q0, q1) = (q("x", 0), q("x", 0));
        let (a, b) = tokio::join!(s.range(&q0), s.range(&q1));
        assert_eq!(a.unwrap(), b.unwrap());
        assert!(
            s.pending.lock().unwrap().is_empty(),
            "taken by both: dropped"
        );
        s.range(&q("x", 120_000)).await.unwrap();
        let _ = s.range(&q("y", 0)).await;
        let sent: Vec<String> = fake
            .range_queries()
            .iter()
            .map(|q| q.expr.clone())
            .collect();
        assert_eq!(sent, ["x", "x", "y"]);
        assert_eq!(
            s.stats(),
            FetchStats {
                asked: 4,
                sent: 3,
                series: 1
            }
        );
    }

    #[tokio::test]
    async fn a_failed_query_is_not_shared() {
        let fake = Arc::new(FakeQuerier::new());
        fake.set_range(
            "x",
            Err(QueryError::Unreachable {
                url: "http://ds".into(),
                message: "refused".into(),
            }),
        );
        let s = SharedQuerier::new(fake.clone(), [q("x", 0), q("x", 0)]);
        assert!(s.range(&q("x", 0)).await.is_err());
        assert!(s.range(&q("x", 0)).await.is_err());
        assert_eq!(fake.range_queries().len(), 2);
    }
}
