//! The replay of one rule as a small pipeline: fetch ([`Fetcher`]: the next window's
//! range query runs while the rule steps through the current one), step (here), and
//! write ([`Output`]: batches of `write_batch` samples to the rule's writer task).
//!
//! A window is fetched only once the rules it reads have written (and the target
//! acknowledged) that window; the writer says when a window of this rule is written.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::fetch::{Answers, Fetcher, Queries};
use super::progress::GroupBar;
use super::report::{RuleReport, Tracker};
use super::window::{Plan, Window, fmt_ms};
use super::write::Output;
use crate::config::Group;
use crate::datasource::Querier;
use crate::offload::{self, BlockingQuerier};
use crate::remote_write::RemoteWriter;
use crate::rule::{EvalTime, Rule};
use crate::sample::Sample;

/// What all rule tasks share.
pub(super) struct Shared {
    pub querier: Arc<dyn Querier>,
    pub writer: Option<RemoteWriter>,
    /// Windows being fetched or fetched and waiting to be evaluated.
    pub fetch_permits: Arc<Semaphore>,
    /// Windows being evaluated. With `fetch_permits`, at most twice the concurrency
    /// windows are in memory, and fetching overlaps with evaluating even at 1.
    pub eval_permits: Arc<Semaphore>,
    pub rules_delay: Duration,
    pub retry_attempts: usize,
    pub retry_backoff: Duration,
    pub write_batch: usize,
    /// Staleness markers after the range are written only up to this time: a replay
    /// that ends now leaves the series to live evaluation.
    pub now_ms: i64,
    /// The replay was interrupted (SIGTERM/SIGINT): start no further window.
    pub cancel: tokio_util::sync::CancellationToken,
}

/// One rule to replay and its links to the rules it reads and that read it.
pub(super) struct RuleJob {
    pub group: Arc<Group>,
    /// Position of the rule in its group.
    pub spec: usize,
    pub rule: Rule,
    pub plan: Plan,
    /// Windows written so far by each earlier rule this one reads.
    pub deps: Vec<watch::Receiver<u64>>,
    /// Windows this rule has written (acknowledged) so far.
    pub done: watch::Sender<u64>,
    pub bar: GroupBar,
    /// Keep the samples of this (recording) rule in its report.
    pub collect: bool,
}

/// What the rule's steps add up to; moves to a blocking thread with the rule when
/// templates call `query`.
struct Tally {
    tracker: Tracker,
    report: RuleReport,
}

/// A window being stepped through: its answers and where the next step falls.
struct WindowSteps {
    answers: Answers,
    win: Window,
    plan: Plan,
    /// Index in the window of the next timestamp.
    next: u64,
}

/// The report of rule `spec` of `group` before anything is replayed: its names only.
pub(super) fn named_report(group: &Group, spec: &crate::config::Rule) -> RuleReport {
    RuleReport {
        group: group.name.clone(),
        file: group.shown_file.clone(),
        rule: spec.name().to_string(),
        kind: match spec.kind {
            crate::config::RuleKind::Alerting(_) => "alerting",
            crate::config::RuleKind::Recording(_) => "recording",
        },
        ..RuleReport::default()
    }
}

/// Replays the rule over the whole plan and reports what happened.
pub(super) async fn run(job: RuleJob, shared: Arc<Shared>) -> RuleReport {
    let RuleJob {
        group,
        spec,
        mut rule,
        plan,
        deps,
        done,
        bar,
        collect,
    } = job;
    let mut tally = Tally {
        tracker: Tracker::default(),
        report: RuleReport {
            recorded: (collect && matches!(rule, Rule::Recording(_))).then(Default::default),
            ..named_report(&group, &group.rules[spec])
        },
    };
    let out = Output::start(shared.writer.as_ref(), done, shared.retry_attempts);
    let mut fetcher = Fetcher::start(
        shared.clone(),
        group.clone(),
        Queries {
            expr: rule.expr().into(),
            recover: rule.recover_expr().map(Arc::from),
            presence: rule.presence_query().map(Arc::from),
        },
        rule.name(),
        plan.clone(),
        deps,
    );
    let mut interrupted = false;
    for w in 0..plan.windows() {
        // A signal ends the replay at a window's edge: the windows before it are
        // evaluated and written, the query being waited for is abandoned.
        let fetched = tokio::select! {
            biased;
            _ = shared.cancel.cancelled() => None,
            f = fetcher.window(w, &mut tally.report) => Some(f),
        };
        let Some((answers, permit)) = fetched else {
            tally.report.problem(interrupted_at(&plan, w));
            interrupted = true;
            break;
        };
        let steps = WindowSteps {
            answers,
            win: plan.window(w),
            plan: plan.clone(),
            next: 0,
        };
        let len = steps.win.len;
        (rule, tally) = match step_window(rule, tally, steps, &group, &shared, &out).await {
            Ok(back) => back,
            Err(report) => return report,
        };
        drop(permit);
        out.window_done(w).await;
        bar.inc(len);
    }
    // Interrupted, the series did not end: live evaluation or the next replay goes on.
    if out.writes() && !interrupted {
        end_series(&mut rule, &plan, shared.now_ms, &out).await;
    }
    out.finish(&mut tally.report).await;
    tally.tracker.finish(&mut tally.report);
    tally.report
}

/// Where an interrupted replay of a rule stopped.
fn interrupted_at(plan: &Plan, w: u64) -> String {
    format!(
        "interrupted by a signal after {w} of {} windows: not replayed from {} on",
        plan.windows(),
        fmt_ms(plan.window(w).start_ms),
    )
}

/// Steps the rule through a window, sending what it produces to `out` batch by
/// batch. Evaluation that panicked (a bug) stops the rule: the report says so.
async fn step_window(
    mut rule: Rule,
    mut tally: Tally,
    mut steps: WindowSteps,
    group: &Arc<Group>,
    shared: &Arc<Shared>,
    out: &Output,
) -> Result<(Rule, Tally), RuleReport> {
    let budget = shared.write_batch;
    while steps.answers.remaining() > 0 {
        let querier = || BlockingQuerier::for_group(shared.querier.clone(), group);
        let (r, stepped) = offload::step_rule(rule, (tally, steps), querier, move |r, with, tq| {
            let (tally, steps) = with;
            step_some(r, tally, steps, budget, tq)
        })
        .await;
        rule = r;
        let batch;
        ((tally, steps), batch) = match stepped {
            Ok(x) => x,
            Err(e) => {
                // The writer ends when its queue closes; dependents are released when
                // `done` is dropped.
                let mut report = RuleReport {
                    group: group.name.clone(),
                    file: group.shown_file.clone(),
                    rule: rule.name().to_string(),
                    ..RuleReport::default()
                };
                report.errors += 1;
                report.problem(format!("internal error while evaluating: {e}"));
                return Err(report);
            }
        };
        if let Some(rec) = tally.report.recorded.as_mut() {
            rec.add(&batch);
        }
        out.batch(batch, steps.win).await;
    }
    Ok((rule, tally))
}

/// Steps the rule through the window's next timestamps until it has produced `budget`
/// samples or the window ends; returns what to write.
fn step_some(
    rule: &mut Rule,
    tally: &mut Tally,
    steps: &mut WindowSteps,
    budget: usize,
    tq: Option<&BlockingQuerier>,
) -> Vec<Sample> {
    let mut series = Vec::new();
    let failed = steps.answers.failed();
    while let Some(answer) = steps.answers.next() {
        let ts = steps.win.start_ms + steps.next as i64 * steps.win.step_ms;
        steps.next += 1;
        let t = EvalTime {
            ts_ms: ts,
            query_ts_ms: steps.plan.query_ts(ts),
        };
        let out = match tq {
            Some(src) => rule.step_answer(answer, t, Some(&src.at(t.query_ts_ms))),
            None => rule.step_answer(answer, t, None),
        };
        let report = &mut tally.report;
        report.evaluations += 1;
        if let Some(e) = out.error {
            report.errors += 1;
            if !failed {
                report.problem(format!("evaluation at {} failed: {e}", fmt_ms(ts)));
            }
        }
        if series.is_empty() {
            series = out.series;
            // Room for the batch at this step's size, so that it is not copied as it grows.
            let steps_left = steps.answers.remaining() as usize;
            series.reserve(series.len().saturating_mul(steps_left).min(budget));
        } else {
            series.extend(out.series);
        }
        if let Rule::Alerting(a) = rule {
            tally.tracker.observe(ts, a.alerts(), report);
        }
        if series.len() >= budget {
            break;
        }
    }
    series
}

/// The range ends: series still present at its last evaluation end at the next one,
/// as when live evaluation drops a rule, unless that lies in the future (a replay up
/// to now, which live evaluation carries on).
async fn end_series(rule: &mut Rule, plan: &Plan, now_ms: i64, out: &Output) {
    if plan.count == 0 {
        return;
    }
    let next_ts = plan.first_ms + plan.count as i64 * plan.step_ms;
    if next_ts > now_ms {
        return;
    }
    let markers = rule.stale_series(plan.query_ts(next_ts));
    let win = Window {
        index: plan.windows(),
        start_ms: next_ts,
        step_ms: plan.step_ms,
        len: 1,
    };
    out.batch(markers, win).await;
}
