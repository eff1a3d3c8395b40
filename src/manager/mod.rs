//! Group lifecycle: one task per group, started, updated in place and stopped as rule
//! sets are applied. Never two tasks for one group: a group is keyed by its
//! [`Group::id`](crate::config::Group::id) (file and name) and the manager is the only
//! one that starts or stops tasks.

pub mod diff;
pub mod engine;
pub mod group;
pub mod restore;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use diff::{Diff, diff};
pub use engine::{Engine, EvalMetrics};
pub use group::{Control, GroupRunner};

use crate::config::RuleSet;
use crate::datasource::Querier;

struct Running {
    checksum: u64,
    ctl: mpsc::Sender<Control>,
}

/// Owns the group tasks.
pub struct Manager {
    engine: Arc<Engine>,
    running: HashMap<u64, Running>,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

/// What an `apply` changed, for logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub unchanged: usize,
}

impl Manager {
    pub fn new(engine: Arc<Engine>, cancel: CancellationToken) -> Manager {
        Manager {
            engine,
            running: HashMap::new(),
            tracker: TaskTracker::new(),
            cancel,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Brings the running groups in line with `set`. New groups are started (their
    /// alert state restored from `restore` when given), removed ones stopped with their
    /// alerts resolved, changed ones updated in place. Unchanged groups are not touched.
    pub async fn apply(&mut self, set: &RuleSet, restore: Option<&restore::Restorer>) -> Applied {
        let checksums: HashMap<u64, u64> = self
            .running
            .iter()
            .map(|(&id, r)| (id, r.checksum))
            .collect();
        let d = diff(&checksums, &set.groups);
        let applied = Applied {
            added: d.added.len(),
            removed: d.removed.len(),
            changed: d.changed.len(),
            unchanged: d.unchanged,
        };
        for &id in &d.removed {
            if let Some(r) = self.running.remove(&id) {
                let (tx, rx) = oneshot::channel();
                if r.ctl
                    .send(Control::Stop {
                        resolve: true,
                        done: tx,
                    })
                    .await
                    .is_ok()
                {
                    let _ = rx.await;
                }
                self.engine.board.remove(id);
            }
        }
        for g in &d.changed {
            if let Some(r) = self.running.get_mut(&g.id()) {
                r.checksum = g.checksum;
                let _ = r.ctl.send(Control::Update(g.clone())).await;
            }
        }
        for g in &d.added {
            let mut runner = GroupRunner::new(g.clone(), self.engine.clone());
            if let Some(rs) = restore {
                rs.restore(&mut runner).await;
            }
            runner.publish_initial();
            let (tx, rx) = mpsc::channel(4);
            self.running.insert(
                g.id(),
                Running {
                    checksum: g.checksum,
                    ctl: tx,
                },
            );
            let cancel = self.cancel.clone();
            self.tracker.spawn(runner.run(rx, cancel));
        }
        // Keep the API's group order equal to the files' order.
        let order: HashMap<u64, usize> = set
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id(), i))
            .collect();
        let mut snap = self.engine.board.snapshot();
        snap.sort_by_key(|g| order.get(&g.id).copied().unwrap_or(usize::MAX));
        self.engine.board.replace(snap);
        applied
    }

    /// Stops the groups `ids` because another member evaluates them now: their alerts
    /// are handed over as they are — not sent resolved, no staleness markers — since the
    /// new owner restores them from `ALERTS_FOR_STATE` and keeps sending them.
    pub async fn hand_over(&mut self, ids: &[u64]) {
        let mut stopping = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.running.remove(id) {
                let (tx, rx) = oneshot::channel();
                let stop = Control::Stop {
                    resolve: false,
                    done: tx,
                };
                if r.ctl.send(stop).await.is_ok() {
                    stopping.push(rx);
                }
            }
        }
        for rx in stopping {
            let _ = rx.await;
        }
        for id in ids {
            self.engine.board.remove(*id);
        }
    }

    /// Whether the group `id` is running here.
    pub fn is_running(&self, id: u64) -> bool {
        self.running.contains_key(&id)
    }

    /// The IDs of the running groups.
    pub fn running_ids(&self) -> Vec<u64> {
        self.running.keys().copied().collect()
    }

    /// Number of running groups.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Waits for every group task to end (after the cancel token fired): in-flight
    /// evaluations finish, no new ones start.
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// A querier used only to restore state (the `-remoteRead.url` datasource).
pub type RestoreQuerier = Arc<dyn Querier>;
