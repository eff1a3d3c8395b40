//! Where snapshots live between evaluations and requests: the [`StatusBoard`], the
//! outcome of the last reload, and the [`StateSource`] the HTTP server reads.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::model::{GroupStatus, NotifierStatus};

/// Outcome of the most recent rule (re)load.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadStatus {
    /// Whether the most recent attempt succeeded.
    pub success: bool,
    /// When the most recent attempt finished; `None` before the first.
    pub last_attempt: Option<SystemTime>,
    /// When rules were last loaded successfully; `None` until the first good load,
    /// which is also what `/-/ready` waits for.
    pub last_success: Option<SystemTime>,
    /// The error of the most recent attempt, if it failed.
    pub error: Option<String>,
}

/// A boxed, sendable future, so that [`StateSource`] stays object-safe without pulling
/// in the `futures` crate.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

/// What the rest of tocsin implements to feed the web server. Implementations must be
/// cheap: `groups` is called once per API request and should clone `Arc`s only.
pub trait StateSource: Send + Sync + 'static {
    /// Current group snapshots in file order.
    fn groups(&self) -> Vec<Arc<GroupStatus>>;

    /// Result of the most recent rule (re)load.
    fn reload_status(&self) -> ReloadStatus;

    /// Reloads the rule files now; resolves when the reload has been applied (or has
    /// failed, with the error text a user should see).
    fn reload(&self) -> BoxFuture<Result<(), String>>;

    /// Whether `/-/ready` answers 200: by default, once rules were loaded once.
    fn ready(&self) -> bool {
        self.reload_status().last_success.is_some()
    }

    /// Alertmanager targets with their counters, for `/api/v1/notifiers` and the UI's
    /// Notifiers page; none by default (alerts are not sent anywhere).
    fn notifiers(&self) -> Vec<NotifierStatus> {
        Vec::new()
    }

    /// The cluster this process is a member of; `None` when it evaluates every group
    /// itself.
    fn cluster(&self) -> Option<Arc<dyn super::ClusterSource>> {
        None
    }
}

/// A ready-made store of snapshots: group tasks [`publish`](StatusBoard::publish) their
/// group after each evaluation, the manager [`replace`](StatusBoard::replace)s the list
/// on reload. The lock is held only to clone or swap `Arc`s.
#[derive(Debug, Default)]
pub struct StatusBoard {
    groups: RwLock<Arc<Vec<Arc<GroupStatus>>>>,
    reload: RwLock<ReloadStatus>,
}

impl StatusBoard {
    pub fn new() -> Self {
        Self::default()
    }

    /// All groups, in file order.
    pub fn snapshot(&self) -> Vec<Arc<GroupStatus>> {
        let g = match self.groups.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        };
        g.as_ref().clone()
    }

    /// Replaces the whole list (after a reload).
    pub fn replace(&self, groups: Vec<Arc<GroupStatus>>) {
        let new = Arc::new(groups);
        match self.groups.write() {
            Ok(mut g) => *g = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// Swaps in a new snapshot of the group with the same `id`; appends it if absent.
    pub fn publish(&self, group: Arc<GroupStatus>) {
        let mut guard = match self.groups.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let list = Arc::make_mut(&mut guard);
        match list.iter_mut().find(|g| g.id == group.id) {
            Some(slot) => *slot = group,
            None => list.push(group),
        }
    }

    /// Drops the group with this `id`.
    pub fn remove(&self, id: u64) {
        let mut guard = match self.groups.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Arc::make_mut(&mut guard).retain(|g| g.id != id);
    }

    pub fn reload_status(&self) -> ReloadStatus {
        match self.reload.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Records the outcome of a reload attempt finished at `at`.
    pub fn record_reload(&self, at: SystemTime, result: Result<(), String>) {
        let mut guard = match self.reload.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.last_attempt = Some(at);
        match result {
            Ok(()) => {
                guard.success = true;
                guard.last_success = Some(at);
                guard.error = None;
            }
            Err(e) => {
                guard.success = false;
                guard.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn board_publish_replaces_by_id_and_keeps_order() {
        let b = StatusBoard::new();
        let g1 = Arc::new(GroupStatus::new("f", "a", Duration::from_secs(1)));
        let g2 = Arc::new(GroupStatus::new("f", "b", Duration::from_secs(1)));
        b.replace(vec![g1.clone(), g2.clone()]);
        let mut g1b = (*g1).clone();
        g1b.limit = 7;
        b.publish(Arc::new(g1b));
        let s = b.snapshot();
        assert_eq!(s.len(), 2);
        assert_eq!(&*s[0].name, "a");
        assert_eq!(s[0].limit, 7);
        b.remove(g1.id);
        assert_eq!(b.snapshot().len(), 1);
    }

    #[test]
    fn reload_status_tracks_last_success() {
        let b = StatusBoard::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        b.record_reload(t0, Ok(()));
        b.record_reload(t0 + Duration::from_secs(5), Err("bad".into()));
        let r = b.reload_status();
        assert!(!r.success);
        assert_eq!(r.last_success, Some(t0));
        assert_eq!(r.error.as_deref(), Some("bad"));
    }
}
