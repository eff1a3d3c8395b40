//! The replay of one rule: for each window, wait until the rules it reads have written
//! that window, fetch the window with one range query, step the rule at every
//! evaluation timestamp, and write what it produced — the next window's query overlaps
//! with this window's write.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::progress::GroupBar;
use super::report::{RuleReport, Tracker};
use super::window::{Plan, Window, fmt_ms, slice};
use crate::config::Group;
use crate::datasource::{BlockingQuerier, Querier, QueryError, RangeQuery};
use crate::remote_write::{RemoteWriter, WriteError};
use crate::rule::{EvalTime, Rule};
use crate::sample::Sample;

/// What all rule tasks share.
pub(super) struct Shared {
    pub querier: Arc<dyn Querier>,
    pub writer: Option<RemoteWriter>,
    pub permits: Arc<Semaphore>,
    pub rules_delay: Duration,
    pub retry_attempts: usize,
    pub retry_backoff: Duration,
    pub write_batch: usize,
}

/// One rule to replay and its links to the rules it reads and that read it.
pub(super) struct RuleJob {
    pub group: Arc<Group>,
    pub rule: Rule,
    pub plan: Plan,
    pub query_offset_ms: i64,
    /// Windows written so far by each earlier rule this one reads.
    pub deps: Vec<watch::Receiver<u64>>,
    /// Windows this rule has written (acknowledged) so far.
    pub done: watch::Sender<u64>,
    /// A later rule reads this one's output: write each window before moving on.
    pub read_later: bool,
    pub bar: GroupBar,
}

/// Rule state that moves to a blocking thread when templates call `query`.
struct State {
    rule: Rule,
    tracker: Tracker,
    report: RuleReport,
}

/// Samples written and not written by one window's write.
struct WriteOutcome {
    written: u64,
    unwritten: u64,
    error: Option<String>,
}

/// Replays the rule over the whole plan and reports what happened.
pub(super) async fn run(job: RuleJob, shared: Arc<Shared>) -> RuleReport {
    let RuleJob {
        group,
        rule,
        plan,
        query_offset_ms,
        mut deps,
        done,
        read_later,
        bar,
    } = job;
    let report = RuleReport {
        group: group.name.clone(),
        file: group.file.display().to_string(),
        rule: rule.name().to_string(),
        kind: match rule {
            Rule::Alerting(_) => "alerting",
            Rule::Recording(_) => "recording",
        },
        ..RuleReport::default()
    };
    let mut st = State {
        rule,
        tracker: Tracker::default(),
        report,
    };
    let templated_queries = st.rule.uses_query_templates();
    let mut in_flight: Option<JoinHandle<WriteOutcome>> = None;
    // Set once the datasource stayed unreachable through all retries: later windows are
    // not queried (each would only wait through the same retries), but still stepped
    // and counted as failed.
    let mut given_up: Option<String> = None;
    for w in 0..plan.windows() {
        let win = plan.window(w);
        for d in deps.iter_mut() {
            // A dependency that ended early (it cannot, short of a bug) releases us.
            let _ = d.wait_for(|&n| n > w).await;
        }
        if !deps.is_empty() && !shared.rules_delay.is_zero() {
            tokio::time::sleep(shared.rules_delay).await;
        }
        let permit = shared.permits.clone().acquire_owned().await.ok();
        let answers = match &given_up {
            Some(e) => Err(e.clone()),
            None => {
                let a = fetch(
                    &shared,
                    &group,
                    st.rule.expr(),
                    &win,
                    query_offset_ms,
                    &mut st.report,
                )
                .await;
                if let Err((e, true)) = &a {
                    st.report.problem(format!(
                        "later windows were not queried: the datasource stayed unreachable ({e})"
                    ));
                    given_up = Some(e.clone());
                }
                a.map_err(|(e, _)| e)
            }
        };
        let (next, series) = if templated_queries {
            let tq = BlockingQuerier {
                handle: tokio::runtime::Handle::current(),
                querier: shared.querier.clone(),
                params: group.params.clone(),
                headers: group.headers.clone(),
            };
            let rule_name = st.rule.name().to_string();
            let moved = tokio::task::spawn_blocking(move || {
                let mut st = st;
                let series = step_window(&mut st, answers, &win, query_offset_ms, Some(&tq));
                (st, series)
            })
            .await;
            match moved {
                Ok(x) => x,
                Err(e) => {
                    // The rule task panicked (a bug); report and stop this rule.
                    let mut report = RuleReport {
                        group: group.name.clone(),
                        rule: rule_name,
                        ..RuleReport::default()
                    };
                    report.errors += 1;
                    report.problem(format!("internal error while evaluating: {e}"));
                    let _ = done.send(plan.windows());
                    return report;
                }
            }
        } else {
            let series = step_window(&mut st, answers, &win, query_offset_ms, None);
            (st, series)
        };
        st = next;
        drop(permit);
        if let Some(h) = in_flight.take() {
            absorb(h.await, &mut st.report);
        }
        if let Some(writer) = &shared.writer {
            let h = tokio::spawn(write_window(
                writer.clone(),
                series,
                shared.write_batch,
                shared.retry_attempts,
                win,
            ));
            if read_later {
                absorb(h.await, &mut st.report);
            } else {
                in_flight = Some(h);
            }
        }
        let _ = done.send(w + 1);
        bar.inc(win.len);
    }
    if let Some(h) = in_flight.take() {
        absorb(h.await, &mut st.report);
    }
    st.tracker.finish(&mut st.report);
    st.report
}

fn absorb(r: Result<WriteOutcome, tokio::task::JoinError>, report: &mut RuleReport) {
    match r {
        Ok(o) => {
            report.samples_written += o.written;
            report.samples_unwritten += o.unwritten;
            if let Some(e) = o.error {
                report.problem(e);
            }
        }
        Err(e) => report.problem(format!("internal error while writing: {e}")),
    }
}

/// Query errors worth repeating: the datasource may recover from these.
fn transient(e: &QueryError) -> bool {
    match e {
        QueryError::Unreachable { .. } | QueryError::Timeout { .. } => true,
        QueryError::Status { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

fn window_text(win: &Window) -> String {
    format!("window {}..{}", fmt_ms(win.start_ms), fmt_ms(win.end_ms()))
}

/// One range query for the window, retried on transient errors; cut into per-step
/// answers, or the error every step of the window then sees and whether it was a
/// transient one that outlasted every retry.
async fn fetch(
    shared: &Shared,
    group: &Group,
    expr: &str,
    win: &Window,
    offset_ms: i64,
    report: &mut RuleReport,
) -> Result<Vec<Vec<Sample>>, (String, bool)> {
    let mut params = group.params.clone();
    // VictoriaMetrics otherwise may align the range to its cache grid.
    params.push(("nocache".to_string(), "1".to_string()));
    let q = RangeQuery {
        expr: expr.to_string(),
        start_ms: win.start_ms - offset_ms,
        end_ms: win.end_ms() - offset_ms,
        step_ms: win.step_ms,
        params,
        headers: group.headers.clone(),
    };
    let attempts = shared.retry_attempts.max(1);
    let mut attempt = 1;
    loop {
        match shared.querier.range(&q).await {
            Ok(series) => return Ok(slice(series, q.start_ms, q.step_ms, win.len)),
            Err(e) if transient(&e) && attempt < attempts => {
                report.retries += 1;
                tracing::warn!(group = %group.name, rule = %report.rule, attempt, "{}: {e}; retrying", window_text(win));
                tokio::time::sleep(shared.retry_backoff * attempt as u32).await;
                attempt += 1;
            }
            Err(e) => {
                let msg = format!(
                    "{}: query failed after {attempt} attempt(s): {e}",
                    window_text(win)
                );
                tracing::error!(group = %group.name, rule = %report.rule, "{msg}");
                report.problem(msg);
                return Err((e.to_string(), transient(&e)));
            }
        }
    }
}

/// Steps the rule at every timestamp of the window; returns the series to write.
fn step_window(
    st: &mut State,
    answers: Result<Vec<Vec<Sample>>, String>,
    win: &Window,
    offset_ms: i64,
    tq: Option<&BlockingQuerier>,
) -> Vec<Sample> {
    let mut series = Vec::new();
    let (mut answers, failed) = match answers {
        Ok(a) => (a, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    for (i, ts) in win.timestamps().enumerate() {
        let t = EvalTime {
            ts_ms: ts,
            query_ts_ms: ts - offset_ms,
        };
        let result = match &failed {
            Some(e) => Err(e.clone()),
            None => Ok(answers.get_mut(i).map(std::mem::take).unwrap_or_default()),
        };
        let out = match tq {
            Some(src) => st.rule.step(result, t, Some(&src.at(t.query_ts_ms))),
            None => st.rule.step(result, t, None),
        };
        st.report.evaluations += 1;
        if let Some(e) = out.error {
            st.report.errors += 1;
            if failed.is_none() {
                st.report
                    .problem(format!("evaluation at {} failed: {e}", fmt_ms(ts)));
            }
        }
        series.extend(out.series);
        if let Rule::Alerting(a) = &st.rule {
            st.tracker.observe(ts, a.alerts(), &mut st.report);
        }
    }
    series
}

/// Writes a window's samples in batches, each acknowledged, retrying what may succeed
/// on a later attempt; counts what could not be written.
async fn write_window(
    writer: RemoteWriter,
    series: Vec<Sample>,
    batch: usize,
    attempts: usize,
    win: Window,
) -> WriteOutcome {
    let mut out = WriteOutcome {
        written: 0,
        unwritten: 0,
        error: None,
    };
    let chunks: Vec<&[Sample]> = series.chunks(batch.max(1)).collect();
    let mut gave_up = false;
    for chunk in chunks {
        if gave_up {
            out.unwritten += chunk.len() as u64;
            continue;
        }
        let mut attempt = 1;
        loop {
            match writer.write_now(chunk).await {
                Ok(()) => {
                    out.written += chunk.len() as u64;
                    break;
                }
                Err(e) => {
                    let retry = matches!(e, WriteError::GaveUp { .. }) && attempt < attempts.max(1);
                    if retry {
                        attempt += 1;
                        continue;
                    }
                    out.unwritten += chunk.len() as u64;
                    if out.error.is_none() {
                        out.error = Some(format!(
                            "{}: {} samples not written: {e}",
                            window_text(&win),
                            chunk.len()
                        ));
                    }
                    gave_up = matches!(e, WriteError::GaveUp { .. });
                    break;
                }
            }
        }
    }
    out
}
