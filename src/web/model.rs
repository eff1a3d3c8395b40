//! The read-only snapshot the HTTP API renders.
//!
//! Group tasks build a fresh [`GroupStatus`] after each evaluation and publish it as an
//! `Arc`; a request clones a handful of `Arc`s and serializes straight from them. Nothing
//! is rebuilt per request and no lock is held while a response is written, so the API
//! stays fast with tens of thousands of rules and never slows evaluation down.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::labels::Labels;

/// A notifier target's counters: the notifier's own status type.
pub use crate::notifier::TargetStatus as NotifierStatus;

/// Health and alert states are the rule core's own types.
pub use crate::rule::{AlertState, Health};

/// One alert instance of an alerting rule.
#[derive(Debug, Clone)]
pub struct AlertStatus {
    /// vmalert's alert ID (used by `/api/v1/alert?alert_id=`); by convention the
    /// fingerprint of `labels`, see [`AlertStatus::new`].
    pub id: u64,
    pub labels: Labels,
    pub annotations: Labels,
    pub state: AlertState,
    pub active_at: SystemTime,
    /// Set while the alert is kept firing by `keep_firing_for`.
    pub keep_firing_since: Option<SystemTime>,
    /// The query value that produced the alert at the last evaluation.
    pub value: f64,
    /// Whether `active_at` was restored from `ALERTS_FOR_STATE` at start-up.
    pub restored: bool,
}

impl AlertStatus {
    /// An alert whose ID is its label fingerprint, the identity the rest of tocsin uses.
    pub fn new(labels: Labels, state: AlertState, active_at: SystemTime, value: f64) -> Self {
        AlertStatus {
            id: labels.fingerprint(),
            labels,
            annotations: Labels::empty(),
            state,
            active_at,
            keep_firing_since: None,
            value,
            restored: false,
        }
    }

    /// Pending and firing alerts are "active"; only those appear in the API.
    pub fn is_active(&self) -> bool {
        self.state != AlertState::Inactive
    }
}

/// What only alerting rules have.
#[derive(Debug, Clone, Default)]
pub struct AlertingStatus {
    /// `for`.
    pub for_: Duration,
    pub keep_firing_for: Duration,
    /// Annotations as written in the rule (templates unexpanded).
    pub annotations: Labels,
    /// Current alerts; inactive ones may be included and are filtered out on output.
    pub alerts: Vec<AlertStatus>,
}

#[derive(Debug, Clone)]
pub enum RuleKindStatus {
    Alerting(AlertingStatus),
    Recording,
}

/// One past evaluation, for vmalert's `/api/v1/rule` `updates` list.
#[derive(Debug, Clone)]
pub struct StateUpdate {
    /// Wall-clock time the evaluation ran.
    pub time: SystemTime,
    /// The evaluation (query) timestamp.
    pub at: SystemTime,
    pub duration: Duration,
    pub samples: usize,
    pub series_fetched: Option<usize>,
    pub error: Option<Arc<str>>,
    /// What reproduces the datasource request, if the querier offers one.
    pub curl: Option<Reproduce>,
}

/// The inputs of a curl command reproducing an evaluation's query. Kept instead of the
/// command, which is formatted only when the API shows it: rules keep up to
/// `update_entries_limit` of these each, and most are never looked at.
#[derive(Debug, Clone)]
pub struct Reproduce {
    pub expr: Arc<str>,
    pub time_ms: i64,
    /// The group's `params`.
    pub params: Arc<[(String, String)]>,
}

impl std::fmt::Display for Reproduce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quote = |s: &str| s.replace('\'', r"'\''");
        write!(
            f,
            "curl -s --data-urlencode 'query={}' --data-urlencode 'time={}'",
            quote(&self.expr),
            crate::datasource::format_ts(self.time_ms)
        )?;
        for (k, v) in self.params.iter() {
            write!(f, " --data-urlencode '{}={}'", quote(k), quote(v))?;
        }
        f.write_str(" <datasource>/api/v1/query")
    }
}

/// One rule's status after its last evaluation.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    /// vmalert's rule ID, unique within the group (`/api/v1/rule?rule_id=`).
    pub id: u64,
    pub name: Arc<str>,
    pub query: Arc<str>,
    /// Rule labels as written (templates unexpanded).
    pub labels: Labels,
    pub health: Health,
    pub last_error: Option<Arc<str>>,
    /// Evaluation duration of the last evaluation.
    pub evaluation_time: Duration,
    /// `None` until the rule was evaluated once (rendered as Go's zero time).
    pub last_evaluation: Option<SystemTime>,
    /// Samples the last query returned.
    pub last_samples: usize,
    /// Series the datasource scanned for the last query, when it reports that.
    pub last_series_fetched: Option<usize>,
    pub debug: bool,
    /// How many `updates` the rule keeps (`update_entries_limit`).
    pub max_updates: usize,
    /// Most recent first.
    pub updates: Vec<StateUpdate>,
    pub kind: RuleKindStatus,
}

impl RuleStatus {
    /// A never-evaluated rule with health `unknown`, for tests and for start-up.
    pub fn new(id: u64, name: &str, query: &str, kind: RuleKindStatus) -> Self {
        RuleStatus {
            id,
            name: name.into(),
            query: query.into(),
            labels: Labels::empty(),
            health: Health::Unknown,
            last_error: None,
            evaluation_time: Duration::ZERO,
            last_evaluation: None,
            last_samples: 0,
            last_series_fetched: None,
            debug: false,
            max_updates: 0,
            updates: Vec::new(),
            kind,
        }
    }

    pub fn is_alerting(&self) -> bool {
        matches!(self.kind, RuleKindStatus::Alerting(_))
    }

    /// The alerting spec, if this is an alerting rule.
    pub fn alerting(&self) -> Option<&AlertingStatus> {
        match &self.kind {
            RuleKindStatus::Alerting(a) => Some(a),
            RuleKindStatus::Recording => None,
        }
    }

    /// Pending and firing alerts, in stored order.
    pub fn active_alerts(&self) -> impl Iterator<Item = &AlertStatus> {
        self.alerting()
            .into_iter()
            .flat_map(|a| a.alerts.iter())
            .filter(|a| a.is_active())
    }

    /// Prometheus' rule state: the "highest" state among the rule's alerts (firing >
    /// pending > inactive). `None` for recording rules, which have no state.
    pub fn state(&self) -> Option<AlertState> {
        self.alerting()?;
        Some(
            self.active_alerts()
                .map(|a| a.state)
                .max()
                .unwrap_or(AlertState::Inactive),
        )
    }
}

/// One group's status. `rules` is in file order.
#[derive(Debug, Clone)]
pub struct GroupStatus {
    /// vmalert's group ID (`/api/v1/rule?group_id=`); see [`GroupStatus::id_for`].
    pub id: u64,
    pub name: Arc<str>,
    pub file: Arc<str>,
    pub interval: Duration,
    pub limit: usize,
    pub concurrency: usize,
    /// vmalert's group `type`, the datasource type (`prometheus`).
    pub datasource_type: &'static str,
    pub labels: Labels,
    /// vmalert `params`, as `key=value`.
    pub params: Vec<String>,
    /// vmalert `headers`, as `Name: value`.
    pub headers: Vec<String>,
    pub notifier_headers: Vec<String>,
    pub eval_offset: Option<Duration>,
    pub eval_delay: Option<Duration>,
    /// Duration of the last whole-group evaluation.
    pub evaluation_time: Duration,
    pub last_evaluation: Option<SystemTime>,
    pub rules: Vec<Arc<RuleStatus>>,
}

impl GroupStatus {
    /// A group with defaults (`concurrency` 1, datasource `prometheus`) and the
    /// conventional ID, for start-up and tests.
    pub fn new(file: &str, name: &str, interval: Duration) -> Self {
        GroupStatus {
            id: Self::id_for(file, name),
            name: name.into(),
            file: file.into(),
            interval,
            limit: 0,
            concurrency: 1,
            datasource_type: "prometheus",
            labels: Labels::empty(),
            params: Vec::new(),
            headers: Vec::new(),
            notifier_headers: Vec::new(),
            eval_offset: None,
            eval_delay: None,
            evaluation_time: Duration::ZERO,
            last_evaluation: None,
            rules: Vec::new(),
        }
    }

    /// The conventional group ID: a stable hash of file and name, so links to a group
    /// survive reloads and restarts.
    pub fn id_for(file: &str, name: &str) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(file.as_bytes());
        h.update(&[0xff]);
        h.update(name.as_bytes());
        h.digest()
    }
}

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
    use super::*;

    fn alerting(alerts: Vec<AlertStatus>) -> RuleStatus {
        RuleStatus::new(
            1,
            "A",
            "up == 0",
            RuleKindStatus::Alerting(AlertingStatus {
                alerts,
                ..Default::default()
            }),
        )
    }

    #[test]
    fn rule_state_is_highest_active_alert_state() {
        let t = SystemTime::UNIX_EPOCH;
        let a = |s, v: &str| AlertStatus::new(Labels::from_pairs([("i", v)]), s, t, 1.0);
        assert_eq!(alerting(vec![]).state(), Some(AlertState::Inactive));
        let r = alerting(vec![
            a(AlertState::Inactive, "1"),
            a(AlertState::Pending, "2"),
        ]);
        assert_eq!(r.state(), Some(AlertState::Pending));
        assert_eq!(r.active_alerts().count(), 1);
        let r = alerting(vec![
            a(AlertState::Firing, "1"),
            a(AlertState::Pending, "2"),
        ]);
        assert_eq!(r.state(), Some(AlertState::Firing));
        let rec = RuleStatus::new(2, "r", "1", RuleKindStatus::Recording);
        assert_eq!(rec.state(), None);
    }

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

    #[test]
    fn reproduce_quotes_for_the_shell() {
        let r = Reproduce {
            expr: "up{job='a b'}".into(),
            time_ms: 1_700_000_000_250,
            params: Arc::from([("nocache".to_string(), "1".to_string())]),
        };
        assert_eq!(
            r.to_string(),
            r"curl -s --data-urlencode 'query=up{job='\''a b'\''}' --data-urlencode 'time=1700000000.250' --data-urlencode 'nocache=1' <datasource>/api/v1/query"
        );
    }
}
