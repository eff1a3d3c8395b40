//! One task per group: wait for the next tick, evaluate the rules (in file order, or
//! concurrently where the dependency analysis allows), write series, send alerts,
//! publish a snapshot for the API.
//!
//! This module holds the task's life: its state, its start and its schedule loop, which
//! reacts to ticks, updates and stop requests. The evaluation of one tick is in
//! `evaluate`, what an evaluation leaves in the snapshots and metric series in
//! `record`, a changed definition and the group's retirement in `update`.

mod evaluate;
mod record;
mod update;

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::engine::{Engine, GroupLabel};
use super::restore::Restorer;
use crate::clock::Clock;
use crate::config::Group;
use crate::rule::{Rule, RuleContext, deps};
use crate::schedule::Schedule;
use crate::status::{GroupQuery, GroupStatus};
use record::RuleMetrics;

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
    /// What every rule's evaluation asks alike (`params`, query time), shared by the
    /// rules' evaluation records.
    query: Arc<GroupQuery>,
    /// Per-rule metric handles, looked up at a rule's first evaluation; see
    /// [`RuleMetrics`].
    metrics: Vec<Option<RuleMetrics>>,
    /// Whether each rule was paused at its previous evaluation (see [`crate::rule::pause::step`]).
    paused: Vec<bool>,
}

impl GroupRunner {
    pub fn new(def: Arc<Group>, engine: Arc<Engine>) -> GroupRunner {
        let status = GroupStatus::from_config(&def, &engine.settings);
        let ctx = Arc::new(RuleContext::for_group(&def, &engine.settings));
        let rules = def
            .rules
            .iter()
            .map(|r| Some(Rule::from_spec(r.clone(), ctx.clone())))
            .collect();
        let labels = GroupLabel {
            group: status.name.clone(),
            file: status.file.clone(),
        };
        let schedule = schedule_of(&def, &engine);
        let query = group_query(&def, &schedule);
        GroupRunner {
            deps: deps::dependencies(&def.rules),
            schedule,
            query,
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
}

/// What every rule of the group asks the datasource alike.
pub(super) fn group_query(def: &Group, schedule: &Schedule) -> Arc<GroupQuery> {
    Arc::new(GroupQuery {
        params: def.params.clone(),
        query_time: schedule.query_time(),
    })
}

pub(super) fn schedule_of(def: &Group, engine: &Engine) -> Schedule {
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
