//! Stepping rules whose templates call `query` off the async runtime.
//!
//! Rendering is synchronous, so a rule whose templates call `query` is stepped inside
//! `spawn_blocking`; there [`BlockingQuerier`] drives the datasource future with
//! `Handle::block_on`, which never blocks the runtime's worker threads. Live evaluation
//! and replay both step through [`step_rule`].

use std::sync::Arc;

use crate::config::Group;
use crate::datasource::{InstantQuery, Querier};
use crate::rule::Rule;
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
    /// Queries `querier` as `group`'s rules do, from the current runtime.
    pub fn for_group(querier: Arc<dyn Querier>, group: &Group) -> BlockingQuerier {
        BlockingQuerier {
            handle: tokio::runtime::Handle::current(),
            querier,
            params: group.params.clone(),
            headers: group.headers.clone(),
        }
    }

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

/// Runs `f` on `rule` and `with` (whatever else steps along with the rule): on a
/// blocking thread with a template querier built by `querier` when the rule's
/// templates call `query`, inline (without one) otherwise.
///
/// A panic in `f` is a bug, and it must not cost the group a rule: the rule, which
/// moved into the failed thread, comes back rebuilt from its definition with no state,
/// `with` is lost, and the panic's message is the error.
pub async fn step_rule<W, T>(
    mut rule: Rule,
    mut with: W,
    querier: impl FnOnce() -> BlockingQuerier,
    f: impl FnOnce(&mut Rule, &mut W, Option<&BlockingQuerier>) -> T + Send + 'static,
) -> (Rule, Result<(W, T), String>)
where
    W: Send + 'static,
    T: Send + 'static,
{
    if !rule.uses_query_templates() {
        let out = f(&mut rule, &mut with, None);
        return (rule, Ok((with, out)));
    }
    let spec = rule.spec().clone();
    let ctx = rule.context().clone();
    let tq = querier();
    let joined = tokio::task::spawn_blocking(move || {
        let out = f(&mut rule, &mut with, Some(&tq));
        (rule, with, out)
    })
    .await;
    match joined {
        Ok((rule, with, out)) => (rule, Ok((with, out))),
        Err(e) => (Rule::from_spec(spec, ctx), Err(e.to_string())),
    }
}
