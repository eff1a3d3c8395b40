//! The replay of one rule as a small pipeline: the next window's range query runs
//! while the rule steps through the current one, and what the rule produces goes, in
//! batches of `write_batch` samples, to the rule's writer task through a short queue,
//! so a window's output is never held whole.
//!
//! A window is fetched only once the rules it reads have written (and the target
//! acknowledged) that window; the writer says when a window of this rule is written.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use super::progress::GroupBar;
use super::report::{MAX_PROBLEMS, RuleReport, Tracker};
use super::window::{Plan, Slicer, Window, fmt_ms};
use crate::config::Group;
use crate::datasource::{BlockingQuerier, Querier, QueryError, RangeQuery};
use crate::remote_write::{RemoteWriter, WriteError};
use crate::rule::{EvalTime, Rule};
use crate::sample::Sample;

/// Batches waiting for a rule's writer: with one being written, at most this many
/// more are held, so a slow target slows evaluation instead of filling memory.
const WRITE_QUEUE: usize = 2;

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
}

/// One rule to replay and its links to the rules it reads and that read it.
pub(super) struct RuleJob {
    pub group: Arc<Group>,
    pub rule: Rule,
    pub plan: Plan,
    /// Windows written so far by each earlier rule this one reads.
    pub deps: Vec<watch::Receiver<u64>>,
    /// Windows this rule has written (acknowledged) so far.
    pub done: watch::Sender<u64>,
    pub bar: GroupBar,
}

/// Rule state that moves to a blocking thread when templates call `query`.
struct State {
    rule: Rule,
    tracker: Tracker,
    report: RuleReport,
}

/// A window's answers: cut from the range answer, or the error every step sees.
enum Answers {
    Ok(Slicer),
    Failed { error: String, left: u64 },
}

impl Answers {
    fn remaining(&self) -> u64 {
        match self {
            Answers::Ok(s) => s.remaining(),
            Answers::Failed { left, .. } => *left,
        }
    }

    fn next(&mut self) -> Option<Result<Vec<Sample>, String>> {
        match self {
            Answers::Ok(s) => s.next_answer().map(Ok),
            Answers::Failed { error, left } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                Some(Err(error.clone()))
            }
        }
    }

    fn failed(&self) -> bool {
        matches!(self, Answers::Failed { .. })
    }
}

/// One window's range query and what it cost.
struct Fetched {
    /// The answer, or the error and whether it was a transient one that outlasted every
    /// retry (the datasource is down).
    answers: Result<Slicer, (String, bool)>,
    retries: u64,
    problems: Vec<String>,
    /// Held until the window's evaluation starts: it bounds the windows in memory.
    permit: Option<OwnedSemaphorePermit>,
}

/// What a rule's writer sends back.
#[derive(Default)]
struct WriteOutcome {
    written: u64,
    unwritten: u64,
    problems: Vec<String>,
}

enum ToWriter {
    Batch(Vec<Sample>, Window),
    /// Every batch of this window has been queued: acknowledge it to dependents.
    WindowDone(u64),
}

/// Replays the rule over the whole plan and reports what happened.
pub(super) async fn run(job: RuleJob, shared: Arc<Shared>) -> RuleReport {
    let RuleJob {
        group,
        rule,
        plan,
        deps,
        done,
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
    let expr: Arc<str> = Arc::from(st.rule.expr());
    let rule_name: Arc<str> = Arc::from(st.rule.name());
    let templated_queries = st.rule.uses_query_templates();
    // Without a writer (report mode) a window is done once evaluated.
    let (to_writer, writer_task, done) = match &shared.writer {
        Some(w) => {
            let (tx, rx) = mpsc::channel(WRITE_QUEUE);
            let h = tokio::spawn(write_all(w.clone(), rx, done, shared.retry_attempts));
            (Some(tx), Some(h), None)
        }
        None => (None, None, Some(done)),
    };
    let fetch = |w: u64| {
        tokio::spawn(fetch_window(
            shared.clone(),
            group.clone(),
            expr.clone(),
            rule_name.clone(),
            plan.clone(),
            plan.window(w),
            deps.clone(),
        ))
    };
    let windows = plan.windows();
    let mut next: Option<JoinHandle<Fetched>> = (windows > 0).then(|| fetch(0));
    // Set once the datasource stayed unreachable through all retries: later windows are
    // not queried (each would only wait through the same retries), but still stepped
    // and counted as failed.
    let mut given_up: Option<String> = None;
    for w in 0..windows {
        let win = plan.window(w);
        let fetched = match next.take() {
            Some(h) => h.await.unwrap_or_else(|e| Fetched {
                answers: Err((format!("internal error while querying: {e}"), false)),
                retries: 0,
                problems: Vec::new(),
                permit: None,
            }),
            None => Fetched {
                answers: Err((given_up.clone().unwrap_or_default(), true)),
                retries: 0,
                problems: Vec::new(),
                permit: None,
            },
        };
        st.report.retries += fetched.retries;
        for p in fetched.problems {
            st.report.problem(p);
        }
        // Evaluation takes its own permit, then frees the fetch permit for the next
        // query to start.
        let _permit = shared.eval_permits.clone().acquire_owned().await.ok();
        drop(fetched.permit);
        let mut answers = match fetched.answers {
            Ok(s) => Answers::Ok(s),
            Err((error, down)) => {
                if down && given_up.is_none() {
                    st.report.problem(format!(
                        "later windows were not queried: the datasource stayed unreachable ({error})"
                    ));
                    given_up = Some(error.clone());
                }
                Answers::Failed {
                    error,
                    left: win.len,
                }
            }
        };
        // Prefetch: the next window's query runs while this one is evaluated.
        if w + 1 < windows && given_up.is_none() {
            next = Some(fetch(w + 1));
        }
        let mut step_index = 0u64;
        while answers.remaining() > 0 {
            let budget = shared.write_batch;
            let (back, batch) = if templated_queries {
                let tq = BlockingQuerier {
                    handle: tokio::runtime::Handle::current(),
                    querier: shared.querier.clone(),
                    params: group.params.clone(),
                    headers: group.headers.clone(),
                };
                let plan = plan.clone();
                let moved = tokio::task::spawn_blocking(move || {
                    let (mut st, mut answers) = (st, answers);
                    let batch = step_some(
                        &mut st,
                        &mut answers,
                        &win,
                        step_index,
                        &plan,
                        budget,
                        Some(&tq),
                    );
                    ((st, answers), batch)
                })
                .await;
                match moved {
                    Ok(x) => x,
                    Err(e) => {
                        // Evaluation panicked (a bug): report and stop this rule. The
                        // writer ends when its queue closes; dependents are released
                        // when `done` is dropped.
                        let mut report = RuleReport {
                            group: group.name.clone(),
                            file: group.file.display().to_string(),
                            rule: rule_name.to_string(),
                            ..RuleReport::default()
                        };
                        report.errors += 1;
                        report.problem(format!("internal error while evaluating: {e}"));
                        return report;
                    }
                }
            } else {
                let batch = step_some(&mut st, &mut answers, &win, step_index, &plan, budget, None);
                ((st, answers), batch)
            };
            (st, answers) = back;
            step_index = win.len - answers.remaining();
            if let Some(tx) = &to_writer
                && !batch.is_empty()
            {
                // The writer only stops early if it panicked; its outcome says so.
                let _ = tx.send(ToWriter::Batch(batch, win)).await;
            }
        }
        drop(answers);
        drop(_permit);
        match (&to_writer, &done) {
            (Some(tx), _) => {
                let _ = tx.send(ToWriter::WindowDone(w)).await;
            }
            (None, Some(d)) => {
                let _ = d.send(w + 1);
            }
            (None, None) => {}
        }
        bar.inc(win.len);
    }
    if let Some(tx) = &to_writer
        && plan.count > 0
    {
        // The range ends: series still present at its last evaluation end at the next
        // one, as when live evaluation drops a rule, unless that lies in the future (a
        // replay up to now, which live evaluation carries on).
        let next_ts = plan.first_ms + plan.count as i64 * plan.step_ms;
        if next_ts <= shared.now_ms {
            let markers = st.rule.stale_series(plan.query_ts(next_ts));
            if !markers.is_empty() {
                let win = Window {
                    index: windows,
                    start_ms: next_ts,
                    step_ms: plan.step_ms,
                    len: 1,
                };
                let _ = tx.send(ToWriter::Batch(markers, win)).await;
            }
        }
    }
    drop(to_writer);
    if let Some(h) = writer_task {
        match h.await {
            Ok(o) => {
                st.report.samples_written += o.written;
                st.report.samples_unwritten += o.unwritten;
                for p in o.problems {
                    st.report.problem(p);
                }
            }
            Err(e) => st
                .report
                .problem(format!("internal error while writing: {e}")),
        }
    }
    st.tracker.finish(&mut st.report);
    st.report
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

/// Waits until the rules this one reads have written the window, takes a fetch permit, and
/// runs the window's range query, retrying transient errors.
async fn fetch_window(
    shared: Arc<Shared>,
    group: Arc<Group>,
    expr: Arc<str>,
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
    let mut params = group.params.clone();
    // VictoriaMetrics otherwise may align the range to its cache grid.
    params.push(("nocache".to_string(), "1".to_string()));
    let q = RangeQuery {
        expr: expr.to_string(),
        start_ms: plan.query_ts(win.start_ms),
        end_ms: plan.query_ts(win.end_ms()),
        step_ms: win.step_ms,
        params,
        headers: group.headers.clone(),
    };
    let attempts = shared.retry_attempts.max(1);
    let mut out = Fetched {
        answers: Err((String::new(), false)),
        retries: 0,
        problems: Vec::new(),
        permit: None,
    };
    let mut attempt = 1;
    loop {
        match shared.querier.range(&q).await {
            Ok(series) => {
                out.answers = Ok(Slicer::new(series, q.start_ms, q.step_ms, win.len));
                out.permit = permit;
                return out;
            }
            Err(e) if transient(&e) && attempt < attempts => {
                out.retries += 1;
                tracing::warn!(group = %group.name, rule = %rule, attempt, "{}: {e}; retrying", window_text(&win));
                tokio::time::sleep(shared.retry_backoff * attempt as u32).await;
                attempt += 1;
            }
            Err(e) => {
                let msg = format!(
                    "{}: query failed after {attempt} attempt(s): {e}",
                    window_text(&win)
                );
                tracing::error!(group = %group.name, rule = %rule, "{msg}");
                out.problems.push(msg);
                out.answers = Err((e.to_string(), transient(&e)));
                return out;
            }
        }
    }
}

/// Steps the rule through the window's next timestamps until it has produced `budget`
/// samples or the window ends; returns what to write. `first` is the index in the window
/// of the next timestamp.
fn step_some(
    st: &mut State,
    answers: &mut Answers,
    win: &Window,
    first: u64,
    plan: &Plan,
    budget: usize,
    tq: Option<&BlockingQuerier>,
) -> Vec<Sample> {
    let mut series = Vec::new();
    let failed = answers.failed();
    let mut i = first;
    while let Some(result) = answers.next() {
        let ts = win.start_ms + i as i64 * win.step_ms;
        i += 1;
        let t = EvalTime {
            ts_ms: ts,
            query_ts_ms: plan.query_ts(ts),
        };
        let out = match tq {
            Some(src) => st.rule.step(result, t, Some(&src.at(t.query_ts_ms))),
            None => st.rule.step(result, t, None),
        };
        st.report.evaluations += 1;
        if let Some(e) = out.error {
            st.report.errors += 1;
            if !failed {
                st.report
                    .problem(format!("evaluation at {} failed: {e}", fmt_ms(ts)));
            }
        }
        if series.is_empty() {
            series = out.series;
        } else {
            series.extend(out.series);
        }
        if let Rule::Alerting(a) = &st.rule {
            st.tracker.observe(ts, a.alerts(), &mut st.report);
        }
        if series.len() >= budget {
            break;
        }
    }
    series
}

/// A rule's writer: writes each batch (acknowledged, retried where a later attempt may
/// succeed), counts what could not be written, and tells dependents when a window is
/// written. After a batch that could not be written for good, the rest of its window
/// is counted as not written without trying; the next window tries again.
async fn write_all(
    writer: RemoteWriter,
    mut rx: mpsc::Receiver<ToWriter>,
    done: watch::Sender<u64>,
    attempts: usize,
) -> WriteOutcome {
    let mut out = WriteOutcome::default();
    let mut failed_window: Option<u64> = None;
    while let Some(msg) = rx.recv().await {
        let (batch, win) = match msg {
            ToWriter::Batch(b, win) => (b, win),
            ToWriter::WindowDone(w) => {
                let _ = done.send(w + 1);
                continue;
            }
        };
        if failed_window == Some(win.index) {
            out.unwritten += batch.len() as u64;
            continue;
        }
        let mut attempt = 1;
        loop {
            match writer.write_now(&batch).await {
                Ok(()) => {
                    out.written += batch.len() as u64;
                    break;
                }
                Err(e) => {
                    let gave_up = matches!(e, WriteError::GaveUp { .. });
                    if gave_up && attempt < attempts.max(1) {
                        attempt += 1;
                        continue;
                    }
                    out.unwritten += batch.len() as u64;
                    if out.problems.len() < MAX_PROBLEMS {
                        out.problems.push(format!(
                            "{}: {} samples not written: {e}",
                            window_text(&win),
                            batch.len()
                        ));
                    }
                    if gave_up {
                        failed_window = Some(win.index);
                    }
                    break;
                }
            }
        }
    }
    out
}
