//! Templates' `query` function reaching the async datasource from a blocking thread.
//!
//! Rendering is synchronous, so rules whose templates call `query` are stepped inside
//! `spawn_blocking`; there the datasource future is driven with `Handle::block_on`,
//! which never blocks the runtime's worker threads.

use std::sync::Arc;

use super::{InstantQuery, Querier};
use crate::sample::Sample;
use crate::template::TemplateQuerier;

/// The datasource, the group's `params` and `headers`, and a runtime handle.
pub struct BlockingQuerier {
    pub handle: tokio::runtime::Handle,
    pub querier: Arc<dyn Querier>,
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl BlockingQuerier {
    /// A template querier answering at `time_ms` (the evaluation's query time).
    pub fn at(&self, time_ms: i64) -> QueryAt<'_> {
        QueryAt { src: self, time_ms }
    }
}

/// [`BlockingQuerier`] pinned to one evaluation timestamp.
pub struct QueryAt<'a> {
    src: &'a BlockingQuerier,
    time_ms: i64,
}

impl TemplateQuerier for QueryAt<'_> {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let q = InstantQuery {
            expr: expr.to_string(),
            time_ms: self.time_ms,
            params: self.src.params.clone(),
            headers: self.src.headers.clone(),
        };
        self.src
            .handle
            .block_on(self.src.querier.instant(&q))
            .map_err(|e| e.to_string())
    }
}
