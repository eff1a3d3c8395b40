//! Where snapshots live between evaluations and requests: the [`StatusBoard`], the
//! outcome of the last reload, and the [`StateSource`] the HTTP server reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use super::model::{GroupStatus, NotifierStatus, Pause};
use crate::rule::pause::Pauses;

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
/// cheap: `groups` is called once per API request and should hand out a shared
/// [`Snapshot`], not build one.
pub trait StateSource: Send + Sync + 'static {
    /// Current group snapshots in file order.
    fn groups(&self) -> Snapshot;

    /// The `version` the next [`groups`](StateSource::groups) would carry, without
    /// building a snapshot: the server keys its rendered answers by it, so that it
    /// renders once per change whatever the number of requests. Called on the runtime's
    /// threads: keep it cheap.
    fn version(&self) -> u64 {
        self.groups().version
    }

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

    /// Where rules are paused and resumed (`POST /api/v1/rules/pause`); `None` where
    /// they cannot be.
    fn pause_book(&self) -> Option<&super::PauseBook> {
        None
    }

    /// Now: the `since` of a new pause, and what a relative `until` counts from.
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Every group's status at one moment, in file order: immutable and shared, so a
/// request holds it without holding up anyone. `version` changes whenever any group
/// changed, so renderings can be cached by it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: u64,
    pub groups: Arc<[Arc<GroupStatus>]>,
}

impl Snapshot {
    /// A snapshot of `groups` (version 0), for tests and tools.
    pub fn of(groups: Vec<Arc<GroupStatus>>) -> Snapshot {
        Snapshot {
            version: 0,
            groups: groups.into(),
        }
    }
}

impl std::ops::Deref for Snapshot {
    type Target = [Arc<GroupStatus>];
    fn deref(&self) -> &Self::Target {
        &self.groups
    }
}

/// A ready-made store of snapshots: group tasks [`publish`](StatusBoard::publish) their
/// group after each evaluation, the manager adds, removes and orders groups on reload.
///
/// Every write is O(1) (a group is found by its id through an index), whatever the
/// number of groups: with 100,000 groups, a linear search per publish made start-up
/// quadratic. Readers get a [`Snapshot`] built by the first reader after a change and
/// shared by every later one until the next change; the lock is held only to swap
/// `Arc`s or copy the list once per change.
#[derive(Debug, Default)]
pub struct StatusBoard {
    groups: Mutex<Groups>,
    /// Whether any pause exists: group tasks ask for their rules' pauses at every
    /// evaluation, and need no lock while there are none.
    any_paused: std::sync::atomic::AtomicBool,
    reload: RwLock<ReloadStatus>,
}

#[derive(Debug, Default)]
struct Groups {
    list: Vec<Arc<GroupStatus>>,
    /// Group id → position in `list`.
    index: HashMap<u64, usize>,
    version: u64,
    /// The snapshot of `version`, once a reader asked for it.
    shared: Option<Snapshot>,
    /// Every pause, marked on the snapshots of the groups and rules they cover.
    pauses: Pauses,
}

impl Groups {
    fn changed(&mut self) {
        self.version += 1;
        self.shared = None;
    }

    fn reindex(&mut self) {
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id, i))
            .collect();
    }
}

impl StatusBoard {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Groups> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// All groups, in file order.
    pub fn snapshot(&self) -> Snapshot {
        let mut g = self.lock();
        if let Some(s) = &g.shared {
            return s.clone();
        }
        let s = Snapshot {
            version: g.version,
            groups: g.list.as_slice().into(),
        };
        g.shared = Some(s.clone());
        s
    }

    /// The version of the list: it changes with every write.
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.lock().list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the whole list.
    pub fn replace(&self, groups: Vec<Arc<GroupStatus>>) {
        let mut g = self.lock();
        g.list = groups;
        g.reindex();
        g.changed();
    }

    /// Swaps in a new snapshot of the group with the same `id`; appends it if absent.
    pub fn publish(&self, group: Arc<GroupStatus>) {
        let mut g = self.lock();
        // Group tasks publish their own snapshots, which carry no pause: mark those of
        // a group that a pause names.
        let group = if !g.pauses.is_empty() && g.pauses.touches(&group.file, &group.name) {
            group.with_pauses(&g.pauses).map_or(group, Arc::new)
        } else {
            group
        };
        match g.index.get(&group.id).copied() {
            Some(i) => g.list[i] = group,
            None => {
                let i = g.list.len();
                g.index.insert(group.id, i);
                g.list.push(group);
            }
        }
        g.changed();
    }

    /// Drops the group with this `id`.
    pub fn remove(&self, id: u64) {
        drop(self.remove_all(&[id]));
    }

    /// Drops every group in `ids`, in one pass over the list, and hands their snapshots
    /// back: they are freed after the lock is released, by the caller, where it suits
    /// it. Freeing the snapshots of 100,000 groups and their alerts took most of a
    /// reload that removed them, all of it with the lock held (every publishing group
    /// and every API request waiting).
    pub fn remove_all(&self, ids: &[u64]) -> Vec<Arc<GroupStatus>> {
        if ids.is_empty() {
            return Vec::new();
        }
        let gone: std::collections::HashSet<u64> = ids.iter().copied().collect();
        let mut g = self.lock();
        let (removed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut g.list)
            .into_iter()
            .partition(|x| gone.contains(&x.id));
        g.list = kept;
        g.reindex();
        g.changed();
        removed
    }

    /// Orders the groups by `position` (groups it does not know go last).
    pub fn order_by(&self, position: &HashMap<u64, usize>) {
        let mut g = self.lock();
        g.list
            .sort_by_key(|x| position.get(&x.id).copied().unwrap_or(usize::MAX));
        g.reindex();
        g.changed();
    }

    /// Every pause.
    pub fn pauses(&self) -> Pauses {
        self.lock().pauses.clone()
    }

    /// The pause that covers the rule `rule` of the group `group` in `file` (as the
    /// API shows the file), if any; over or not.
    pub fn pause_of(&self, file: &str, group: &str, rule: &str) -> Option<Arc<Pause>> {
        if !self.any_paused.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        self.lock().pauses.of_rule(file, group, rule).cloned()
    }

    /// Changes the pauses with `f` and marks them on the snapshots of the groups whose
    /// pauses changed.
    ///
    /// Only the groups a changed pause names are re-marked, so a pause costs a name
    /// comparison per group and the rules of its own group, not a walk over every rule
    /// loaded (with 100,000 rules, every pause and every `until` that ran out did that).
    pub fn update_pauses<R>(&self, f: impl FnOnce(&mut Pauses) -> R) -> R {
        let mut g = self.lock();
        let before = g.pauses.clone();
        let r = f(&mut g.pauses);
        self.any_paused
            .store(!g.pauses.is_empty(), std::sync::atomic::Ordering::Relaxed);
        let touched = before.changed_groups(&g.pauses);
        if touched.is_empty() {
            return r;
        }
        let Groups { list, pauses, .. } = &mut *g;
        let named = |x: &GroupStatus| {
            touched
                .iter()
                .any(|(f, n)| **f == *x.file && **n == *x.name)
        };
        for x in list.iter_mut().filter(|x| named(x)) {
            if let Some(marked) = x.with_pauses(pauses) {
                *x = Arc::new(marked);
            }
        }
        g.changed();
        r
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
    fn readers_share_one_snapshot_until_the_next_change() {
        let b = StatusBoard::new();
        let g = |n: &str| Arc::new(GroupStatus::new("f", n, Duration::from_secs(1)));
        b.replace(vec![g("a"), g("b"), g("c")]);
        let s1 = b.snapshot();
        let s2 = b.snapshot();
        assert!(Arc::ptr_eq(&s1.groups, &s2.groups), "built once, shared");
        assert_eq!(b.version(), s1.version);
        b.publish(g("d"));
        assert!(b.version() > s1.version, "known before a snapshot is built");
        let s3 = b.snapshot();
        assert_eq!(s3.version, b.version());
        assert_eq!(s1.len(), 3, "an old snapshot stays as it was");
        assert_eq!(s3.len(), 4);
        let removed = b.remove_all(&[g("a").id, g("c").id]);
        let names = |s: &Snapshot| s.iter().map(|x| x.name.to_string()).collect::<Vec<_>>();
        let removed: Vec<&str> = removed.iter().map(|x| &*x.name).collect();
        assert_eq!(removed, ["a", "c"], "the removed snapshots are handed back");
        assert_eq!(names(&b.snapshot()), ["b", "d"]);
        let order: HashMap<u64, usize> = [(g("d").id, 0), (g("b").id, 1)].into();
        b.order_by(&order);
        assert_eq!(names(&b.snapshot()), ["d", "b"]);
        // The index follows the new order: a publish replaces, it does not append.
        let mut d = (*g("d")).clone();
        d.limit = 3;
        b.publish(Arc::new(d));
        let s = b.snapshot();
        assert_eq!(names(&s), ["d", "b"]);
        assert_eq!(s[0].limit, 3);
    }

    #[test]
    fn a_pause_change_marks_only_the_groups_it_names() {
        let b = StatusBoard::new();
        let g = |n: &str| Arc::new(GroupStatus::new("f", n, Duration::from_secs(1)));
        b.replace(vec![g("a"), g("b")]);
        let pause = |group: &str, until_ms| crate::rule::pause::Pause {
            target: crate::rule::pause::PauseTarget {
                file: "f".into(),
                group: group.into(),
                rule: None,
            },
            since_ms: 0,
            until_ms,
            by: "ops".into(),
            reason: "why".into(),
            note: String::new(),
            hold: false,
        };
        let s0 = b.snapshot();
        b.update_pauses(|p| p.pause(pause("a", Some(10))));
        let s1 = b.snapshot();
        assert!(s1[0].paused.is_some(), "a is marked");
        assert!(Arc::ptr_eq(&s0[1], &s1[1]), "b is not touched");
        // Nothing over yet: nothing changes, not even the version.
        let v = b.version();
        assert_eq!(b.update_pauses(|p| p.expire(9)), 0);
        assert_eq!(b.version(), v);
        // A pause of a group not loaded changes no snapshot, but is kept.
        b.update_pauses(|p| p.pause(pause("gone", None)));
        let s2 = b.snapshot();
        assert!(Arc::ptr_eq(&s1[0], &s2[0]) && Arc::ptr_eq(&s1[1], &s2[1]));
        assert_eq!(b.pauses().len(), 2);
        // `until` reached: a is unmarked.
        assert_eq!(b.update_pauses(|p| p.expire(10)), 1);
        assert!(b.snapshot()[0].paused.is_none());
        assert!(Arc::ptr_eq(&s0[1], &b.snapshot()[1]));
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
