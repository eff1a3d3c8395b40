//! The fetching end of a rule's replay: one range query per window, the next one
//! running while the rule steps through the current one, transient errors retried, and
//! no more queries once the datasource stayed down through every retry.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::task::JoinHandle;

use super::report::RuleReport;
use super::rule_task::Shared;
use super::window::{Plan, Slicer, Window};
use crate::config::Group;
use crate::datasource::RangeQuery;
use crate::rule::Answer;

/// What a rule queries over each window: `expr`, and `recover_expr` and the presence
/// query of `no_data` when the rule has them.
#[derive(Clone)]
pub(super) struct Queries {
    pub(super) expr: Arc<str>,
    pub(super) recover: Option<Arc<str>>,
    pub(super) presence: Option<Arc<str>>,
}

/// The range answers of a window's [`Queries`].
pub(super) struct Slices {
    expr: Slicer,
    recover: Option<Slicer>,
    presence: Option<Slicer>,
}

/// A window's answers: cut from the range answers, or the error every step sees.
pub(super) enum Answers {
    Ok(Slices),
    Failed { error: String, left: u64 },
}

impl Answers {
    pub(super) fn remaining(&self) -> u64 {
        match self {
            Answers::Ok(s) => s.expr.remaining(),
            Answers::Failed { left, .. } => *left,
        }
    }

    pub(super) fn next(&mut self) -> Option<Answer> {
        match self {
            Answers::Ok(s) => {
                let expr = s.expr.next_answer()?;
                let next = |s: &mut Option<Slicer>| {
                    s.as_mut().map(|r| r.next_answer().unwrap_or_default())
                };
                Some(Answer {
                    expr: Ok(expr),
                    recover: next(&mut s.recover).map(Ok),
                    has_data: next(&mut s.presence).map(|p| !p.is_empty()),
                    partial: false,
                })
            }
            Answers::Failed { error, left } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                Some(Answer::of(Err(error.clone())))
            }
        }
    }

    pub(super) fn failed(&self) -> bool {
        matches!(self, Answers::Failed { .. })
    }
}

/// One window's range query and what it cost.
struct Fetched {
    /// The answer, or the error and whether it was a transient one that outlasted every
    /// retry (the datasource is down).
    answers: Result<Slices, (String, bool)>,
    retries: u64,
    problems: Vec<String>,
    /// Held until the window's evaluation starts: it bounds the windows in memory.
    permit: Option<OwnedSemaphorePermit>,
}

impl Fetched {
    fn failed(error: String, down: bool) -> Fetched {
        Fetched {
            answers: Err((error, down)),
            retries: 0,
            problems: Vec::new(),
            permit: None,
        }
    }
}

/// The range queries of one rule, window after window.
pub(super) struct Fetcher {
    shared: Arc<Shared>,
    group: Arc<Group>,
    queries: Queries,
    rule: Arc<str>,
    plan: Plan,
    /// Windows written so far by each earlier rule this one reads.
    deps: Vec<watch::Receiver<u64>>,
    /// The query of the next window, running.
    next: Option<JoinHandle<Fetched>>,
    /// Set once the datasource stayed unreachable through all retries: later windows
    /// are not queried (each would only wait through the same retries), but still
    /// stepped and counted as failed.
    given_up: Option<String>,
}

impl Fetcher {
    /// Starts the query of the first window.
    pub(super) fn start(
        shared: Arc<Shared>,
        group: Arc<Group>,
        queries: Queries,
        rule: &str,
        plan: Plan,
        deps: Vec<watch::Receiver<u64>>,
    ) -> Fetcher {
        let mut f = Fetcher {
            shared,
            group,
            queries,
            rule: Arc::from(rule),
            plan,
            deps,
            next: None,
            given_up: None,
        };
        f.prefetch(0);
        f
    }

    fn prefetch(&mut self, w: u64) {
        if w >= self.plan.windows() || self.given_up.is_some() {
            return;
        }
        self.next = Some(tokio::spawn(fetch_window(
            self.shared.clone(),
            self.group.clone(),
            self.queries.clone(),
            self.rule.clone(),
            self.plan.clone(),
            self.plan.window(w),
            self.deps.clone(),
        )));
    }

    /// Window `w`'s answers, with the permit to evaluate them; records retries and
    /// problems in `report`, and starts the next window's query.
    pub(super) async fn window(
        &mut self,
        w: u64,
        report: &mut RuleReport,
    ) -> (Answers, Option<OwnedSemaphorePermit>) {
        let fetched = match self.next.take() {
            Some(h) => h.await.unwrap_or_else(|e| {
                Fetched::failed(format!("internal error while querying: {e}"), false)
            }),
            None => Fetched::failed(self.given_up.clone().unwrap_or_default(), true),
        };
        report.retries += fetched.retries;
        for p in fetched.problems {
            report.problem(p);
        }
        // Evaluation takes its own permit, then frees the fetch permit for the next
        // query to start.
        let permit = self.shared.eval_permits.clone().acquire_owned().await.ok();
        drop(fetched.permit);
        let answers = match fetched.answers {
            Ok(s) => Answers::Ok(s),
            Err((error, down)) => {
                if down && self.given_up.is_none() {
                    report.problem(format!(
                        "later windows were not queried: the datasource stayed unreachable ({error})"
                    ));
                    self.given_up = Some(error.clone());
                }
                Answers::Failed {
                    error,
                    left: self.plan.window(w).len,
                }
            }
        };
        // Prefetch: the next window's query runs while this one is evaluated.
        self.prefetch(w + 1);
        (answers, permit)
    }
}

/// The range query that fetches window `win` of a rule of `group` reading `expr`.
pub fn range_query(group: &Group, plan: &Plan, win: Window, expr: &str) -> RangeQuery {
    let mut params = group.params.clone();
    // VictoriaMetrics otherwise may align the range to its cache grid.
    params.push(("nocache".to_string(), "1".to_string()));
    RangeQuery {
        expr: expr.to_string(),
        start_ms: plan.query_ts(win.start_ms),
        end_ms: plan.query_ts(win.end_ms()),
        step_ms: win.step_ms,
        params,
        headers: group.headers.clone(),
    }
}

/// An interrupted replay leaves no query running behind it.
impl Drop for Fetcher {
    fn drop(&mut self) {
        if let Some(h) = self.next.take() {
            h.abort();
        }
    }
}

/// Waits until the rules this one reads have written the window, takes a fetch permit, and
/// runs the window's range queries, retrying transient errors.
async fn fetch_window(
    shared: Arc<Shared>,
    group: Arc<Group>,
    queries: Queries,
    rule: Arc<str>,
    plan: Plan,
    win: Window,
    mut deps: Vec<watch::Receiver<u64>>,
) -> Fetched {
    for d in deps.iter_mut() {
        // A dependency that ended early (it cannot, short of a bug) releases us.
        let _ = d.wait_for(|&n| n > win.index).await;
    }
    if !deps.is_empty() && !shared.rules_delay.is_zero() {
        tokio::time::sleep(shared.rules_delay).await;
    }
    let permit = shared.fetch_permits.clone().acquire_owned().await.ok();
    let mut out = Fetched::failed(String::new(), false);
    let at = Where {
        shared: &shared,
        group: &group,
        rule: &rule,
        plan: &plan,
        win,
    };
    out.answers = at.slices(&queries, &mut out).await;
    out.permit = permit;
    out
}

/// One window of one rule: where a range query runs.
struct Where<'a> {
    shared: &'a Shared,
    group: &'a Group,
    rule: &'a str,
    plan: &'a Plan,
    win: Window,
}

impl Where<'_> {
    /// The range queries of the window, one after the other; the first error ends them.
    async fn slices(&self, q: &Queries, out: &mut Fetched) -> Result<Slices, (String, bool)> {
        let expr = self.range(&q.expr, out).await?;
        let recover = match &q.recover {
            Some(r) => Some(self.range(r, out).await?),
            None => None,
        };
        let presence = match &q.presence {
            Some(p) => Some(self.range(p, out).await?),
            None => None,
        };
        Ok(Slices {
            expr,
            recover,
            presence,
        })
    }

    /// The range query of `expr` over the window, retrying transient errors; retries and
    /// problems go to `out`.
    async fn range(&self, expr: &str, out: &mut Fetched) -> Result<Slicer, (String, bool)> {
        let (shared, group, rule, win) = (self.shared, self.group, self.rule, &self.win);
        let q = range_query(group, self.plan, *win, expr);
        let attempts = shared.retry_attempts.max(1);
        let mut attempt = 1;
        loop {
            match shared.querier.range(&q).await {
                Ok(series) => return Ok(Slicer::new(series, q.start_ms, q.step_ms, win.len)),
                Err(e) if e.is_transient() && attempt < attempts => {
                    out.retries += 1;
                    tracing::warn!(group = %group.name, rule = %rule, attempt, "{}: {e}; retrying", win.describe());
                    tokio::time::sleep(shared.retry_backoff * attempt as u32).await;
                    attempt += 1;
                }
                Err(e) => {
                    let msg = format!(
                        "{}: query failed after {attempt} attempt(s): {e}",
                        win.describe()
                    );
                    tracing::error!(group = %group.name, rule = %rule, "{msg}");
                    out.problems.push(msg);
                    return Err((e.to_string(), e.is_transient()));
                }
            }
        }
    }
}
