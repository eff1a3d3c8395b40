//! The snapshots: what a group, a rule and an alert looked like after the last
//! evaluation.
//!
//! Group tasks build a fresh [`GroupStatus`] after each evaluation and publish it as an
//! `Arc`; a request clones a handful of `Arc`s and serializes straight from them. Nothing
//! is rebuilt per request and no lock is held while a response is written, so the API
//! stays fast with tens of thousands of rules and never slows evaluation down.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::history::StateUpdate;
use crate::config::{AlertExtensions, AlertingSpec};
use crate::labels::{Labels, Str};

/// A notifier target's counters: the notifier's own status type.
pub use crate::notifier::TargetStatus as NotifierStatus;

/// Health and alert states are the rule core's own types.
pub use crate::rule::{AlertState, Annotations, Health, MaybeMs};

/// Pauses are the rule core's.
pub use crate::rule::pause::Pause;

/// One alert instance of an alerting rule. Every snapshot holds one of these per active
/// alert, so it is kept small (72 bytes; see "Memory per active alert" in
/// docs/benchmarks.md): times in milliseconds, the ID derived from the labels, the
/// link in one pointer.
#[derive(Debug, Clone)]
pub struct AlertStatus {
    pub labels: Labels,
    /// Rendered annotations; one that rendered empty is kept.
    pub annotations: Annotations,
    pub state: AlertState,
    /// `activeAt`, in milliseconds since the epoch.
    pub active_at_ms: i64,
    /// Set while the alert is kept firing by `keep_firing_for`.
    pub keep_firing_since_ms: MaybeMs,
    /// The query value that produced the alert at the last evaluation.
    pub value: f64,
    /// Whether `activeAt` was restored from `ALERTS_FOR_STATE` at start-up.
    pub restored: bool,
    /// Whether the alert is flapping (the rule's `flapping` extension).
    pub flapping: bool,
    /// The alert's link from `-external.alert.source`; `None`: Prometheus' link to the
    /// rule's expression. A `Str` (8 bytes) rather than an `Arc<str>` (16): every alert
    /// has the field, few processes set the flag.
    pub source: Option<Str>,
}

impl AlertStatus {
    /// An alert whose ID is its label fingerprint, the identity the rest of tocsin uses.
    pub fn new(labels: Labels, state: AlertState, active_at: SystemTime, value: f64) -> Self {
        Self::at_ms(labels, state, crate::rule::epoch_ms(active_at), value)
    }

    /// [`AlertStatus::new`] with `activeAt` in milliseconds since the epoch.
    pub fn at_ms(labels: Labels, state: AlertState, active_at_ms: i64, value: f64) -> Self {
        AlertStatus {
            labels,
            annotations: Annotations::default(),
            state,
            active_at_ms,
            keep_firing_since_ms: MaybeMs::NEVER,
            value,
            restored: false,
            flapping: false,
            source: None,
        }
    }

    /// vmalert's alert ID (used by `/api/v1/alert?alert_id=`): the fingerprint of
    /// `labels`, the identity the rest of tocsin uses.
    pub fn id(&self) -> u64 {
        self.labels.fingerprint()
    }

    /// `activeAt`.
    pub fn active_at(&self) -> SystemTime {
        crate::rule::system_time(self.active_at_ms)
    }

    /// Since when `keep_firing_for` has kept the alert firing, if it has.
    pub fn keep_firing_since(&self) -> Option<SystemTime> {
        self.keep_firing_since_ms
            .get()
            .map(crate::rule::system_time)
    }

    /// Pending and firing alerts are "active"; only those appear in the API.
    pub fn is_active(&self) -> bool {
        self.state != AlertState::Inactive
    }
}

/// What only alerting rules have.
#[derive(Debug, Clone, Default)]
pub struct AlertingStatus {
    /// The rule as written: `for`, `keep_firing_for`, annotations (templates
    /// unexpanded), tocsin's extensions. The loaded rule set's copy, shared with the
    /// running rule and every snapshot of the rule, so that snapshots hold none of
    /// their own (see "Memory per rule, step 11" in docs/benchmarks.md).
    pub spec: Arc<AlertingSpec>,
    /// Current alerts; inactive ones may be included and are filtered out on output.
    pub alerts: Vec<AlertStatus>,
}

impl AlertingStatus {
    /// The snapshot of a rule written as `spec`, without alerts.
    pub fn new(spec: Arc<AlertingSpec>) -> Self {
        AlertingStatus {
            spec,
            alerts: Vec::new(),
        }
    }

    /// `for`.
    pub fn for_(&self) -> Duration {
        self.spec.for_
    }

    pub fn keep_firing_for(&self) -> Duration {
        self.spec.keep_firing_for
    }

    /// Annotations as written, name and template pairs in file order.
    pub fn annotations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spec
            .annotations
            .iter()
            .map(|(k, t)| (k.as_str(), t.source()))
    }

    /// tocsin's extensions the rule uses (`recover_expr`, `for_count`, `flapping`,
    /// `no_data`, `on_error`, the group's defaults included); `None` without any.
    pub fn extensions(&self) -> Option<&AlertExtensions> {
        Some(&self.spec.ext).filter(|x| **x != AlertExtensions::default())
    }
}

#[derive(Debug, Clone)]
pub enum RuleKindStatus {
    Alerting(AlertingStatus),
    Recording,
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
    pub last_error: Option<Str>,
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
    /// The pause that covers the rule (its own or its group's), if any.
    pub paused: Option<Arc<Pause>>,
}

impl RuleStatus {
    /// A never-evaluated rule with health `unknown`, for tests and for start-up.
    pub fn new(id: u64, name: &str, query: &str, kind: RuleKindStatus) -> Self {
        RuleStatus::sharing(id, name.into(), query.into(), kind)
    }

    /// As [`RuleStatus::new`], holding the given copies of the name and the expression
    /// (the loaded rule's, so that its snapshots add none of their own).
    pub fn sharing(id: u64, name: Arc<str>, query: Arc<str>, kind: RuleKindStatus) -> Self {
        RuleStatus {
            id,
            name,
            query,
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
            paused: None,
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
    /// vmalert's group ID (`/api/v1/rule?group_id=`); the group's [`Group::id`](crate::config::Group::id).
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
    /// The pause of the whole group, if any.
    pub paused: Option<Arc<Pause>>,
}

impl GroupStatus {
    /// This snapshot with the pauses of `pauses` marked on the group and its rules;
    /// `None` when the marks are already right.
    pub fn with_pauses(&self, pauses: &crate::rule::pause::Pauses) -> Option<GroupStatus> {
        let of_group = pauses.of_group(&self.file, &self.name);
        let of_rule = |r: &RuleStatus| pauses.of_rule(&self.file, &self.name, &r.name);
        let same = |a: Option<&Arc<Pause>>, b: &Option<Arc<Pause>>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if same(of_group, &self.paused) && self.rules.iter().all(|r| same(of_rule(r), &r.paused)) {
            return None;
        }
        let mut g = self.clone();
        g.paused = of_group.cloned();
        for r in &mut g.rules {
            if !same(of_rule(r), &r.paused) {
                let mut changed = (**r).clone();
                changed.paused = of_rule(r).cloned();
                *r = Arc::new(changed);
            }
        }
        Some(g)
    }

    /// A group with defaults (`concurrency` 1, datasource `prometheus`) and the
    /// conventional ID, for start-up and tests.
    pub fn new(file: &str, name: &str, interval: Duration) -> Self {
        GroupStatus {
            id: crate::config::group_id(file, name),
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
            paused: None,
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
}
