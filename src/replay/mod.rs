//! Replay (backfill): evaluates rules over a past range with the live engine's rule
//! code, feeding each evaluation timestamp the instant answer cut out of a range query,
//! and writes recorded series, `ALERTS` and `ALERTS_FOR_STATE` through remote write —
//! or, in report mode, only says when each alert was pending and firing.
//!
//! Every rule is its own task walking the range window by window; a rule that reads
//! earlier rules of its group waits until they have written (and the target
//! acknowledged) the same window. Query windows of all rules share one bound
//! (`-replay.ruleEvaluationConcurrency`), so memory follows the window size, not the
//! range.

mod fetch;
pub mod launch;
mod progress;
pub mod report;
mod rule_task;
pub mod window;
mod write;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Group;
use crate::datasource::Querier;
use crate::remote_write::RemoteWriter;
use crate::rule::{Rule, RuleContext, RuleSettings, deps};

pub use fetch::range_query;
pub use report::{AlertInterval, Recorded, RuleReport};
pub use window::{Plan, PlanError, Timing};

/// The `-replay.*` settings.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Evaluation timestamps per range query (`-replay.maxDatapointsPerQuery`).
    pub max_points: usize,
    /// Pause before a rule queries a window its group's earlier rules just wrote
    /// (`-replay.rulesDelay`), for storages that make writes searchable with a delay.
    pub rules_delay: Duration,
    /// Attempts per range query and per remote-write batch (`-replay.ruleRetryAttempts`).
    pub retry_attempts: usize,
    /// Wait before the n-th retry is n times this.
    pub retry_backoff: Duration,
    /// Windows fetched and evaluated at once (`-replay.ruleEvaluationConcurrency`).
    pub concurrency: usize,
    pub progress: bool,
    /// Samples per remote-write request.
    pub write_batch: usize,
    /// Recording rules whose samples the report keeps ([`RuleReport::recorded`]), as
    /// (position of the group's plan, position of the rule in its group).
    pub collect: HashSet<(usize, usize)>,
    /// Rules not replayed, as (position of the group's plan, position of the rule in
    /// its group): their report only names them. A backtest replays a rule that is the
    /// same on both sides once and reports it for both.
    pub skip: HashSet<(usize, usize)>,
    /// Cancelled by SIGTERM/SIGINT: no window is started after it, the samples of the
    /// windows already evaluated are still written, and the report says where each
    /// rule stopped.
    pub cancel: CancellationToken,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            from_ms: 0,
            to_ms: 0,
            max_points: 1000,
            rules_delay: Duration::from_secs(1),
            retry_attempts: 5,
            retry_backoff: Duration::from_secs(1),
            concurrency: 1,
            progress: false,
            write_batch: 10_000,
            collect: HashSet::new(),
            skip: HashSet::new(),
            cancel: CancellationToken::new(),
        }
    }
}

/// The plan of one group.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    pub group: Arc<Group>,
    pub plan: Plan,
}

/// Plans every group; fails on the first group whose range cannot be replayed.
pub fn plan(
    groups: &[Arc<Group>],
    settings: &RuleSettings,
    opts: &ReplayOptions,
) -> Result<Vec<GroupPlan>, PlanError> {
    groups
        .iter()
        .map(|g| {
            let timing = Timing::of(g, settings);
            Ok(GroupPlan {
                group: g.clone(),
                plan: Plan::new(&g.name, opts.from_ms, opts.to_ms, timing, opts.max_points)?,
            })
        })
        .collect()
}

/// What a replay did, per rule in file order.
#[derive(Debug, Clone)]
pub struct ReplayOutcome {
    pub rules: Vec<RuleReport>,
}

impl ReplayOutcome {
    /// True when every evaluation succeeded and every sample was written.
    pub fn complete(&self) -> bool {
        self.rules
            .iter()
            .all(|r| r.errors == 0 && r.samples_unwritten == 0 && r.problems.is_empty())
    }
}

/// Replays the planned groups. `writer` is `None` in report mode.
pub async fn replay(
    plans: &[GroupPlan],
    settings: &RuleSettings,
    querier: Arc<dyn Querier>,
    writer: Option<RemoteWriter>,
    opts: &ReplayOptions,
) -> ReplayOutcome {
    let shared = Arc::new(rule_task::Shared {
        querier,
        writer,
        fetch_permits: Arc::new(Semaphore::new(opts.concurrency.max(1))),
        eval_permits: Arc::new(Semaphore::new(opts.concurrency.max(1))),
        rules_delay: opts.rules_delay,
        retry_attempts: opts.retry_attempts.max(1),
        retry_backoff: opts.retry_backoff,
        write_batch: opts.write_batch.max(1),
        now_ms: chrono::Utc::now().timestamp_millis(),
        cancel: opts.cancel.clone(),
    });
    let total: u64 = plans
        .iter()
        .map(|p| p.plan.count * p.group.rules.len() as u64)
        .sum();
    let progress = progress::Progress::new(opts.progress, total);
    let mut handles = Vec::new();
    for (pi, p) in plans.iter().enumerate() {
        let g = &p.group;
        let ctx = Arc::new(RuleContext::for_group(g, settings));
        let dep_lists = deps::dependencies(&g.rules);
        let bar = progress.group(&g.name, p.plan.count * g.rules.len() as u64);
        let mut receivers: Vec<watch::Receiver<u64>> = Vec::with_capacity(g.rules.len());
        for (i, spec) in g.rules.iter().enumerate() {
            let (done, rx) = watch::channel(0u64);
            let deps: Vec<_> = dep_lists[i]
                .iter()
                .filter_map(|&d| receivers.get(d).cloned())
                .collect();
            receivers.push(rx);
            if opts.skip.contains(&(pi, i)) {
                // `done` drops here: a rule reading this one does not wait for it.
                handles.push(Err(rule_task::named_report(g, spec)));
                continue;
            }
            let job = rule_task::RuleJob {
                group: g.clone(),
                spec: i,
                rule: Rule::from_spec(spec.clone(), ctx.clone()),
                plan: p.plan.clone(),
                deps,
                done,
                bar: bar.clone(),
                collect: opts.collect.contains(&(pi, i)),
            };
            handles.push(Ok(tokio::spawn(rule_task::run(job, shared.clone()))));
        }
    }
    let mut rules = Vec::with_capacity(handles.len());
    for h in handles {
        let h = match h {
            Ok(h) => h,
            Err(skipped) => {
                rules.push(skipped);
                continue;
            }
        };
        match h.await {
            Ok(r) => rules.push(r),
            Err(e) => {
                let mut r = RuleReport::default();
                r.errors += 1;
                r.problem(format!("internal error: a rule task failed: {e}"));
                rules.push(r);
            }
        }
    }
    progress.finish();
    ReplayOutcome { rules }
}
