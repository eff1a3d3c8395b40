//! Group lifecycle: one task per group, started, updated in place and stopped as rule
//! sets are applied. Never two tasks for one group: a group is keyed by its
//! [`Group::id`](crate::config::Group::id) (file and name) and the manager is the only
//! one that starts or stops tasks.

pub mod diff;
pub mod engine;
pub mod group;
pub mod mailbox;
mod paused;
pub mod restore;
pub mod watchdog;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use diff::{Diff, diff};
pub use engine::{Engine, EvalMetrics};
pub use group::{Control, GroupRunner};

use crate::config::RuleSet;
use crate::datasource::Querier;

struct Running {
    checksum: u64,
    ctl: mailbox::Sender<Control>,
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
    /// alert state restored from `restore` by their own task, before their first
    /// evaluation), removed ones stopped with their alerts resolved, changed ones
    /// updated in place. Unchanged groups are not touched.
    ///
    /// The cost is linear in the number of groups: every board update is O(1), removed
    /// groups are all asked to stop before any is waited for, and the future yields
    /// every few hundred groups, so a shutdown signal interrupts even a reload of
    /// 100,000 groups at once (dropping this future mid-way leaves every started task
    /// tracked and cancellable).
    pub async fn apply(
        &mut self,
        set: &RuleSet,
        restore: Option<&Arc<restore::Restorer>>,
    ) -> Applied {
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
        self.stop_all(&d.removed).await;
        for (i, g) in d.changed.iter().enumerate() {
            if let Some(r) = self.running.get_mut(&g.id()) {
                r.checksum = g.checksum;
                let _ = r.ctl.send(Control::Update(g.clone()));
            }
            pause_every(i).await;
        }
        for (i, g) in d.added.iter().enumerate() {
            let runner = GroupRunner::new(g.clone(), self.engine.clone());
            runner.publish_initial();
            let (tx, rx) = mailbox::mailbox();
            self.running.insert(
                g.id(),
                Running {
                    checksum: g.checksum,
                    ctl: tx,
                },
            );
            let cancel = self.cancel.clone();
            self.tracker.spawn(runner.run(rx, cancel, restore.cloned()));
            pause_every(i).await;
        }
        // Keep the API's group order equal to the files' order.
        let order: HashMap<u64, usize> = set
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id(), i))
            .collect();
        self.engine.board.order_by(&order);
        applied
    }

    /// Stops the groups `ids` (alerts resolved, series ended), because they are gone
    /// from the rule files.
    async fn stop_all(&mut self, ids: &[u64]) {
        self.stop(ids, true).await;
    }

    /// Stops the groups `ids` because another member evaluates them now: their alerts
    /// are handed over as they are — not sent resolved, no staleness markers — since the
    /// new owner restores them from `ALERTS_FOR_STATE` and keeps sending them.
    pub async fn hand_over(&mut self, ids: &[u64]) {
        self.stop(ids, false).await;
    }

    /// Stops the groups `ids`, their alerts sent resolved and series ended if `resolve`:
    /// asks every one first, then waits for all, so that their goodbyes run concurrently.
    async fn stop(&mut self, ids: &[u64], resolve: bool) {
        let mut stopping = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if let Some(r) = self.running.remove(id) {
                let (tx, rx) = oneshot::channel();
                let stop = Control::Stop { resolve, done: tx };
                if r.ctl.send(stop).is_ok() {
                    stopping.push(rx);
                }
            }
            pause_every(i).await;
        }
        for rx in stopping {
            let _ = rx.await;
        }
        let removed = self.engine.board.remove_all(ids);
        // Freeing the snapshots of many groups (with their alerts) is most of the work
        // of stopping them (100,000 groups that evaluate every minute, 10 alerts each:
        // half the CPU of the reload). A blocking thread frees them while the reload
        // finishes; a few are freed here.
        if removed.len() >= FREE_ASIDE_FROM {
            tokio::task::spawn_blocking(move || drop(removed));
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

/// From this many groups removed at once, their snapshots are freed on a blocking
/// thread (see [`Manager::stop`]).
const FREE_ASIDE_FROM: usize = 1024;

/// Lets other tasks (and a shutdown signal) in every few hundred groups of a long
/// apply.
async fn pause_every(i: usize) {
    if i % 256 == 255 {
        tokio::task::yield_now().await;
    }
}

/// A querier used only to restore state (the `-remoteRead.url` datasource).
pub type RestoreQuerier = Arc<dyn Querier>;
