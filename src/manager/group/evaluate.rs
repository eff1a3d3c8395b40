//! One tick of a group: its rules evaluated in order (concurrently where the
//! dependency analysis allows), each rule's query, step, writes and notifications.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use super::GroupRunner;
use crate::config::Group;
use crate::datasource::InstantQuery;
use crate::manager::engine::Engine;
use crate::offload::{self, BlockingQuerier};
use crate::rule::{Answer, EvalTime, Rule, RuleContext, StepOutput, deps};
use crate::status;

/// How often a long group evaluation publishes the rules finished so far.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// What one rule's evaluation reports back to the group.
pub(super) struct Report {
    pub(super) index: usize,
    pub(super) rule: Rule,
    pub(super) started: SystemTime,
    pub(super) elapsed: Duration,
    pub(super) samples: usize,
    /// Series the datasource reports having fetched (VictoriaMetrics), if it does.
    pub(super) series_fetched: Option<usize>,
    pub(super) error: Option<String>,
}

impl GroupRunner {
    /// Evaluates every rule at `ts_ms` and publishes the result.
    pub async fn evaluate(&mut self, ts_ms: i64) {
        let started = Instant::now();
        let t = EvalTime {
            ts_ms,
            query_ts_ms: self.schedule.query_ts(ts_ms),
        };
        let at = UNIX_EPOCH + Duration::from_millis(ts_ms.max(0) as u64);
        self.run_rules(t, at).await;
        // Wake the writer now rather than at its flush interval: the alert generator
        // compliance specification reads `ALERTS` right after the evaluation that wrote
        // them (Prometheus writes to its local storage at once); one group's series
        // still travel together. Tried without it: compliance failed.
        if let Some(w) = &self.engine.writer {
            w.send_soon();
        }
        let elapsed = started.elapsed();
        self.status.evaluation_time = elapsed;
        self.status.last_evaluation = Some(at);
        let m = &self.engine.metrics;
        m.iterations.get_or_create(&self.labels).inc();
        // At 0 from the first evaluation, so that the first skipped tick is an increase.
        let _ = m.missed.get_or_create(&self.labels);
        m.duration_ms
            .get_or_create(&self.labels)
            .set(elapsed.as_millis() as i64);
        self.engine.board.publish(Arc::new(self.status.clone()));
    }

    /// Evaluates every rule at `t`: in file order, a rule waiting only for the earlier
    /// rules it reads, at most `concurrency` at once. Takes the rules out of
    /// `self.rules` and puts each back when it finished, with its snapshot updated at
    /// once: the API shows a rule's health as soon as it is known, not when the whole
    /// group finished (published at most every [`PUBLISH_EVERY`], so that a group of
    /// many fast rules publishes about once).
    ///
    /// The evaluations run inside the group's own task rather than one task each: a
    /// spawned task per rule evaluation cost a scheduling round and a cross-thread
    /// wake-up each (docs/benchmarks.md, "CPU step 8"). Concurrent rules still overlap
    /// their queries; groups still run on all worker threads. A panicking evaluation
    /// (a bug) is caught and costs only its rule ([`GroupRunner::rebuilt`]).
    async fn run_rules(&mut self, t: EvalTime, at: SystemTime) {
        let n = self.rules.len();
        let limit = self.def.concurrency.max(1);
        let mut done = vec![false; n];
        let mut next = 0usize;
        let mut running = FuturesUnordered::new();
        let mut finished = 0usize;
        let mut published = Instant::now();
        let mut unpublished = false;
        while finished < n {
            // Start every rule (in order) whose dependencies are done, up to the limit.
            while next < n && running.len() < limit && self.deps[next].iter().all(|&d| done[d]) {
                let Some(rule) = self.rules[next].take() else {
                    next += 1;
                    continue;
                };
                let Some(rule) = self.unless_paused(next, rule, t.ts_ms) else {
                    done[next] = true;
                    finished += 1;
                    unpublished = true;
                    next += 1;
                    continue;
                };
                let flush = deps::is_read_later(&self.deps, next);
                let index = next;
                let eval = eval_one(index, rule, t, self.engine.clone(), self.def.clone(), flush);
                running.push(
                    AssertUnwindSafe(eval)
                        .catch_unwind()
                        .map(move |r| (index, r)),
                );
                next += 1;
            }
            let joined = tokio::select! {
                joined = running.next() => joined,
                _ = tokio::time::sleep_until(published + PUBLISH_EVERY), if unpublished => {
                    self.publish();
                    (published, unpublished) = (Instant::now(), false);
                    continue;
                }
            };
            let Some((index, joined)) = joined else {
                break;
            };
            finished += 1;
            let rep = joined.unwrap_or_else(|panic| self.rebuilt(index, panic.as_ref()));
            done[rep.index] = true;
            self.record(&rep, at);
            self.rules[rep.index] = Some(rep.rule);
            unpublished = true;
            if finished < n && published.elapsed() >= PUBLISH_EVERY {
                self.publish();
                (published, unpublished) = (Instant::now(), false);
            }
        }
    }

    /// `rule` back, to evaluate, unless it is paused at `ts_ms`: then it goes back in
    /// its place, its snapshot showing its alerts as the pause left them.
    fn unless_paused(&mut self, index: usize, mut rule: Rule, ts_ms: i64) -> Option<Rule> {
        let paused = &mut self.paused[index];
        if !crate::manager::paused::skip(&self.engine, &self.def, paused, &mut rule, ts_ms) {
            return Some(rule);
        }
        if let Some(slot) = self.status.rules.get_mut(index) {
            *slot = Arc::new(status::with_alerts_of(slot, &rule));
        }
        self.rules[index] = Some(rule);
        None
    }

    /// The report of rule `i` whose evaluation panicked (a bug): the rule rebuilt from
    /// its definition, so the group keeps all its rules, and the failure reported.
    fn rebuilt(&self, i: usize, panic: &(dyn Any + Send)) -> Report {
        let e = panic_message(panic);
        tracing::error!(group = %self.def.name, rule = i, "rule evaluation panicked: {e}");
        let ctx = Arc::new(RuleContext::for_group(&self.def, &self.engine.settings));
        Report {
            index: i,
            rule: Rule::from_spec(self.def.rules[i].clone(), ctx),
            started: self.engine.clock.now(),
            elapsed: Duration::ZERO,
            samples: 0,
            series_fetched: None,
            error: Some(format!("internal error: the evaluation panicked: {e}")),
        }
    }

    pub(super) fn publish(&self) {
        self.engine.board.publish(Arc::new(self.status.clone()));
    }
}

/// A panic's message (`panic!` carries a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Queries, steps the rule, writes its series and sends its alerts.
async fn eval_one(
    index: usize,
    rule: Rule,
    t: EvalTime,
    engine: Arc<Engine>,
    def: Arc<Group>,
    flush_writes: bool,
) -> Report {
    let started_at = engine.clock.now();
    let started = Instant::now();
    let (answer, series_fetched) = query_rule(&rule, t, &engine, &def).await;
    let querier = || BlockingQuerier::for_group(engine.querier.clone(), &def);
    let (mut rule, stepped) = offload::step_rule(rule, (), querier, move |r, _, tq| match tq {
        Some(tq) => r.step_answer(answer, t, Some(&tq.at(t.query_ts_ms))),
        None => r.step_answer(answer, t, None),
    })
    .await;
    let out = stepped.map(|(_, out)| out).unwrap_or_else(|e| StepOutput {
        error: Some(format!("template rendering failed: {e}")),
        ..StepOutput::default()
    });
    if let Some(e) = &out.error {
        tracing::warn!(group = %def.name, rule = %rule.name(), "evaluation failed: {e}");
    }
    if let Some(w) = &engine.writer {
        if flush_writes {
            if let Err(e) = w.write_now(&out.series).await {
                tracing::error!(group = %def.name, rule = %rule.name(), "a later rule reads this rule's series, but writing them failed: {e}");
            }
        } else {
            w.push(out.series);
        }
    }
    // Prometheus sends nothing after a failed evaluation; `on_error` sends the alerts
    // it kept.
    if (out.error.is_none() || rule.sends_after_error())
        && let (Rule::Alerting(a), Some(n)) = (&mut rule, &engine.notifier)
    {
        let due = a.alerts_to_send(t.ts_ms);
        n.send(&due, &def.notifier_headers);
    }
    Report {
        index,
        rule,
        started: started_at,
        elapsed: started.elapsed(),
        samples: out.samples,
        series_fetched,
        error: out.error,
    }
}

/// Runs the rule's queries at `t`: `expr` and, with `recover_expr`, both at once. Also
/// returns the series the datasource fetched for them, when it says.
async fn query_rule(
    rule: &Rule,
    t: EvalTime,
    engine: &Engine,
    def: &Group,
) -> (Answer, Option<usize>) {
    let query = |expr: &str| InstantQuery {
        expr: expr.to_string(),
        time_ms: t.query_ts_ms,
        params: def.params.clone(),
        headers: def.headers.clone(),
    };
    let run = |q: InstantQuery| async move {
        let answer = engine.querier.instant_answer(&q).await;
        let meta = answer
            .as_ref()
            .map_or((None, false), |a| (a.series_fetched, a.is_partial));
        (answer.map(|a| a.samples).map_err(|e| e.to_string()), meta)
    };
    let (mut answer, mut fetched) = match rule.recover_expr() {
        None => {
            let (expr, (fetched, partial)) = run(query(rule.expr())).await;
            (
                Answer {
                    partial,
                    ..Answer::of(expr)
                },
                fetched,
            )
        }
        Some(recover) => {
            let ((expr, (f1, partial)), (recover, (f2, _))) =
                tokio::join!(run(query(rule.expr())), run(query(recover)));
            let fetched = f1.zip(f2).map(|(a, b)| a + b);
            let answer = Answer {
                expr,
                recover: Some(recover),
                has_data: None,
                partial,
            };
            (answer, fetched)
        }
    };
    // `no_data`: only an empty result can mean "no data"; whether it does, the
    // expression's selectors tell (the rule core decides what follows).
    if let Some(presence) = rule.presence_query()
        && answer.expr.as_ref().is_ok_and(|s| s.is_empty())
    {
        let (present, (f, _)) = run(query(presence)).await;
        fetched = fetched.zip(f).map(|(a, b)| a + b);
        match present {
            Ok(s) => answer.has_data = Some(!s.is_empty()),
            Err(e) => {
                answer.expr = Err(format!("no_data: asking for the selectors of `expr`: {e}"))
            }
        }
    }
    (answer, fetched)
}
