//! One task per group: wait for the next tick, evaluate the rules (in file order, or
//! concurrently where the dependency analysis allows), write series, send alerts,
//! publish a snapshot for the API.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::engine::{Engine, GroupLabel, RuleLabel};
use super::restore::Restorer;
use crate::clock::Clock;
use crate::config::Group;
use crate::datasource::InstantQuery;
use crate::offload::{self, BlockingQuerier};
use crate::rule::{Answer, EvalTime, Rule, RuleContext, StepOutput, deps};
use crate::schedule::Schedule;
use crate::status::{self, GroupStatus, RuleStatus};

/// Messages from the manager to a running group.
pub enum Control {
    /// Apply a changed definition of the same group (same file and name).
    Update(Arc<Group>),
    /// Stop; `resolve` sends the group's firing alerts as resolved and ends its series
    /// with staleness markers (the group was removed from the files); without it the
    /// alerts and series are left to the member that takes the group over.
    Stop {
        resolve: bool,
        done: oneshot::Sender<()>,
    },
}

/// A running group's state.
pub struct GroupRunner {
    def: Arc<Group>,
    rules: Vec<Option<Rule>>,
    deps: Vec<Vec<usize>>,
    schedule: Schedule,
    engine: Arc<Engine>,
    status: GroupStatus,
    labels: GroupLabel,
    /// The group's `params`, shared by every rule's evaluation records.
    params: Arc<[(String, String)]>,
    /// Per-rule metric handles, looked up at a rule's first evaluation; see
    /// [`RuleMetrics`].
    metrics: Vec<Option<RuleMetrics>>,
    /// Whether each rule was paused at its previous evaluation (see [`pause::step`]).
    paused: Vec<bool>,
}

/// A rule's metric series, kept so that an evaluation updates them without building
/// label sets or locking the metric families. Valid while the rule keeps its index and
/// name: rebuilt on every group update.
struct RuleMetrics {
    /// Created at 0 on the first evaluation, so that the first error is an increase
    /// that `increase()`-based alerts can see.
    errors: Counter,
    samples: Gauge,
    /// Firing and pending alert counts (alerting rules only).
    states: Option<(Gauge, Gauge)>,
    /// Flapping alerts and firing changes (rules with `flapping` only).
    flapping: Option<(Gauge, Counter)>,
}

/// How often a long group evaluation publishes the rules finished so far.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// What one rule's evaluation reports back to the group.
struct Report {
    index: usize,
    rule: Rule,
    started: SystemTime,
    elapsed: Duration,
    samples: usize,
    /// Series the datasource reports having fetched (VictoriaMetrics), if it does.
    series_fetched: Option<usize>,
    error: Option<String>,
}

impl GroupRunner {
    pub fn new(def: Arc<Group>, engine: Arc<Engine>) -> GroupRunner {
        let status = GroupStatus::from_config(&def, &engine.settings);
        let ctx = Arc::new(RuleContext::for_group(&def, &engine.settings));
        let rules = def
            .rules
            .iter()
            .map(|r| Some(Rule::new(r, ctx.clone())))
            .collect();
        let labels = GroupLabel {
            group: def.name.clone(),
            file: def.shown_file.clone(),
        };
        GroupRunner {
            deps: deps::dependencies(&def.rules),
            schedule: schedule_of(&def, &engine),
            params: def.params.clone().into(),
            metrics: def.rules.iter().map(|_| None).collect(),
            paused: vec![false; def.rules.len()],
            rules,
            def,
            engine,
            status,
            labels,
        }
    }

    /// Mutable access to the rules, for restoring state before the first evaluation.
    pub fn rules_mut(&mut self) -> impl Iterator<Item = &mut Rule> {
        self.rules.iter_mut().flatten()
    }

    /// The clock the group reads the time from.
    pub fn clock(&self) -> Clock {
        self.engine.clock
    }

    /// The group definition.
    pub fn def(&self) -> &Arc<Group> {
        &self.def
    }

    /// How often the group evaluates (its own `interval` or `-evaluationInterval`).
    pub fn interval(&self) -> std::time::Duration {
        self.def
            .interval
            .unwrap_or(self.engine.settings.default_interval)
    }

    /// Publishes the never-evaluated snapshot.
    pub fn publish_initial(&self) {
        self.engine.board.publish(Arc::new(self.status.clone()));
    }

    /// Runs until cancelled or stopped: restores the group's alerts through `restore`
    /// (when given) before the first evaluation, then evaluates on schedule.
    ///
    /// The restore, the evaluation and the retirement are boxed: a future holds the
    /// state of its largest step for its whole life, and this one lives as long as the
    /// group, idle almost all of the time. Inline they made every group's task about
    /// 1.7 KiB (170 MiB with 100,000 groups); boxed they cost an allocation once per
    /// evaluation.
    pub async fn run(
        mut self,
        mut ctl: super::mailbox::Receiver<Control>,
        cancel: CancellationToken,
        restore: Option<Arc<Restorer>>,
    ) {
        if let Some(rs) = restore {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = Box::pin(rs.restore(&mut self)) => {}
            }
        }
        let clock = self.engine.clock;
        let mut next = self.schedule.start(clock.now_ms());
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                msg = ctl.recv() => match msg {
                    Some(Control::Update(def)) => {
                        self.update(def);
                        next = self.schedule.next_at_or_after(clock.now_ms());
                    }
                    Some(Control::Stop { resolve, done }) => {
                        if resolve {
                            Box::pin(self.retire()).await;
                        } else {
                            self.forget_metrics();
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
                _ = clock.sleep_until_ms(next) => {
                    Box::pin(self.evaluate(next)).await;
                    let (n, missed) = self.schedule.next_after(next, clock.now_ms());
                    if missed > 0 {
                        self.engine.metrics.missed.get_or_create(&self.labels).inc_by(missed);
                        tracing::warn!(group = %self.def.name, missed, "evaluation took longer than the interval; skipped ticks");
                    }
                    next = n;
                }
            }
        }
    }

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
    /// wake-up each, a fifth of the CPU of a group of cheap rules (docs/benchmarks.md,
    /// step 7). Concurrent rules still overlap their queries; groups still run on all
    /// worker threads. A panicking evaluation (a bug) is caught and costs only its rule
    /// ([`GroupRunner::rebuilt`]).
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
        if !super::paused::skip(&self.engine, &self.def, paused, &mut rule, ts_ms) {
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
            rule: Rule::new(&self.def.rules[i], ctx),
            started: self.engine.clock.now(),
            elapsed: Duration::ZERO,
            samples: 0,
            series_fetched: None,
            error: Some(format!("internal error: the evaluation panicked: {e}")),
        }
    }

    fn publish(&self) {
        self.engine.board.publish(Arc::new(self.status.clone()));
    }

    /// Updates the rule's snapshot and metrics after an evaluation.
    fn record(&mut self, rep: &Report, at: SystemTime) {
        let Some(slot) = self.status.rules.get_mut(rep.index) else {
            return;
        };
        let m = &self.engine.metrics;
        let handles = self.metrics[rep.index].get_or_insert_with(|| {
            let label = RuleLabel {
                group: self.def.name.clone(),
                file: self.labels.file.clone(),
                rule: rep.rule.name().to_string(),
            };
            RuleMetrics {
                errors: m.rule_errors.get_or_create(&label).clone(),
                samples: m.rule_samples.get_or_create(&label).clone(),
                states: matches!(rep.rule, Rule::Alerting(_)).then(|| {
                    (
                        m.alerts_firing.get_or_create(&label).clone(),
                        m.alerts_pending.get_or_create(&label).clone(),
                    )
                }),
                flapping: has_flapping(&rep.rule).then(|| {
                    (
                        m.alerts_flapping.get_or_create(&label).clone(),
                        m.flapping_transitions.get_or_create(&label).clone(),
                    )
                }),
            }
        });
        m.rule_evaluations.inc();
        if rep.error.is_some() {
            handles.errors.inc();
        }
        handles.samples.set(rep.samples as i64);
        if let (Rule::Alerting(a), Some((firing, pending))) = (&rep.rule, &handles.states) {
            let (f, p) = status::count_states(a);
            firing.set(f);
            pending.set(p);
        }
        if let (Rule::Alerting(a), Some((flapping, transitions))) = (&rep.rule, &handles.flapping) {
            flapping.set(a.flapping_count() as i64);
            // The rule counts since it was created, over reloads; the counter of its
            // label lives as long (both go when the rule does), so it catches up.
            transitions.inc_by(a.flapping_transitions().saturating_sub(transitions.get()));
        }
        let evaluation = status::Evaluation {
            at,
            query_ts_ms: self.schedule.query_ts(
                at.duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0),
            ),
            started: rep.started,
            elapsed: rep.elapsed,
            samples: rep.samples,
            series_fetched: rep.series_fetched,
            error: rep.error.as_deref(),
            params: &self.params,
        };
        *slot = Arc::new(status::rule_status(slot, &rep.rule, &evaluation));
    }

    /// Applies a changed definition in place: rules with the same identity (kind, name,
    /// expression, labels) keep their state; others start fresh; removed ones are
    /// retired (alerts resolved, series ended).
    fn update(&mut self, def: Arc<Group>) {
        let new_status = GroupStatus::from_config(&def, &self.engine.settings);
        let ctx = Arc::new(RuleContext::for_group(&def, &self.engine.settings));
        let mut old: HashMap<u64, Vec<(Rule, Arc<RuleStatus>)>> = HashMap::new();
        for (r, s) in self
            .rules
            .drain(..)
            .zip(self.status.rules.drain(..))
            .filter_map(|(r, s)| r.map(|r| (r, s)))
        {
            old.entry(r.spec().id()).or_default().push((r, s));
        }
        let mut rules = Vec::with_capacity(def.rules.len());
        let mut statuses = Vec::with_capacity(def.rules.len());
        for (spec, fresh_status) in def.rules.iter().zip(new_status.rules.iter()) {
            let id = spec.id();
            match old
                .get_mut(&id)
                .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
            {
                Some((mut r, s)) => {
                    match &mut r {
                        Rule::Alerting(a) => a.update(spec, ctx.clone()),
                        Rule::Recording(rr) => rr.update(spec, ctx.clone()),
                    }
                    statuses.push(status::carry_over(fresh_status, &s));
                    rules.push(Some(r));
                }
                None => {
                    statuses.push(fresh_status.clone());
                    rules.push(Some(Rule::new(spec, ctx.clone())));
                }
            }
        }
        let removed: Vec<Rule> = old.into_values().flatten().map(|(r, _)| r).collect();
        let ts = self.engine.clock.now_ms();
        for r in removed {
            retire_rule(r, ts, &self.engine, &self.def);
        }
        self.status = new_status;
        self.status.rules = statuses;
        self.deps = deps::dependencies(&def.rules);
        self.schedule = schedule_of(&def, &self.engine).keeping_position_of(&self.schedule);
        self.params = def.params.clone().into();
        self.metrics = def.rules.iter().map(|_| None).collect();
        self.paused = vec![false; def.rules.len()];
        self.rules = rules;
        self.def = def;
        self.engine.board.publish(Arc::new(self.status.clone()));
    }

    /// Ends the group: firing alerts sent as resolved, series ended by markers.
    async fn retire(&mut self) {
        let ts = self.engine.clock.now_ms();
        for r in self.rules.drain(..).flatten() {
            retire_rule(r, ts, &self.engine, &self.def);
        }
        self.forget_metrics();
    }

    /// Drops the group's and its rules' metric series (the group no longer runs here).
    fn forget_metrics(&mut self) {
        for r in self.rules.iter().flatten() {
            forget_rule_metrics(r.name(), &self.engine, &self.def);
        }
        let m = &self.engine.metrics;
        m.iterations.remove(&self.labels);
        m.missed.remove(&self.labels);
        m.duration_ms.remove(&self.labels);
    }
}

fn retire_rule(mut r: Rule, ts: i64, engine: &Engine, def: &Group) {
    if let (Rule::Alerting(a), Some(n)) = (&mut r, &engine.notifier) {
        let resolved = a.resolve_all(ts);
        n.send(&resolved, &def.notifier_headers);
    }
    let stale = r.stale_series(ts);
    if let Some(w) = &engine.writer {
        w.push(stale);
    }
    forget_rule_metrics(r.name(), engine, def);
}

fn forget_rule_metrics(rule: &str, engine: &Engine, def: &Group) {
    let label = RuleLabel {
        group: def.name.clone(),
        file: def.shown_file.clone(),
        rule: rule.to_string(),
    };
    let m = &engine.metrics;
    m.rule_errors.remove(&label);
    m.rule_samples.remove(&label);
    m.alerts_firing.remove(&label);
    m.alerts_pending.remove(&label);
    m.alerts_flapping.remove(&label);
    m.flapping_transitions.remove(&label);
}

/// A panic's message (`panic!` carries a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Whether `r` is an alerting rule with `flapping`.
fn has_flapping(r: &Rule) -> bool {
    match r.spec().kind {
        crate::config::RuleKind::Alerting(ref a) => a.ext.flapping.is_some(),
        crate::config::RuleKind::Recording(_) => false,
    }
}

fn schedule_of(def: &Group, engine: &Engine) -> Schedule {
    Schedule::new(
        def.interval.unwrap_or(engine.settings.default_interval),
        def.eval_offset,
        def.query_offset,
        def.eval_delay_or(engine.settings.eval_delay),
        def.eval_alignment,
        def.id(),
        engine.settings.max_start_delay,
    )
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
