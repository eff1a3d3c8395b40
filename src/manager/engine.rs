//! What every group task shares: where answers come from, where alerts and series go,
//! the command-line settings of rules, and the metrics.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::config::Group;
use crate::datasource::Querier;
use crate::labels::Labels;
use crate::notifier::Notifier;
use crate::remote_write::RemoteWriter;
use crate::rule::RuleContext;
use crate::template::Library;
use crate::web::StatusBoard;

/// Rule settings that come from flags rather than files.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    pub default_interval: Duration,
    pub external_labels: Labels,
    pub external_url: String,
    pub resend_delay: Duration,
    pub max_resolve_duration: Duration,
    pub resolved_retention: Duration,
    pub disable_alertgroup_label: bool,
    pub library: Option<Arc<Library>>,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            default_interval: Duration::from_secs(60),
            external_labels: Labels::empty(),
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            max_resolve_duration: Duration::ZERO,
            resolved_retention: Duration::from_secs(15 * 60),
            disable_alertgroup_label: false,
            library: None,
        }
    }
}

impl RuleSettings {
    /// The context rules of `group` evaluate in.
    pub fn context_for(&self, group: &Group, group_id: u64) -> RuleContext {
        RuleContext {
            group_name: group.name.clone(),
            file: group.file.display().to_string(),
            group_labels: group.labels.clone(),
            external_labels: self.external_labels.clone(),
            external_labels_on_series: true,
            external_url: self.external_url.clone(),
            interval: group.interval.unwrap_or(self.default_interval),
            limit: group.limit,
            resend_delay: self.resend_delay,
            max_resolve_duration: self.max_resolve_duration,
            resolved_retention: self.resolved_retention,
            disable_alertgroup_label: self.disable_alertgroup_label,
            group_id,
            library: self.library.clone(),
        }
    }
}

/// Labels of per-group metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabel {
    pub group: String,
    pub file: String,
}

/// Labels of per-rule metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    pub group: String,
    pub file: String,
    pub rule: String,
}

/// Evaluation metrics.
#[derive(Clone, Default)]
pub struct EvalMetrics {
    /// Rule evaluations over all groups (one per rule per group iteration).
    pub rule_evaluations: Counter,
    pub iterations: Family<GroupLabel, Counter>,
    pub missed: Family<GroupLabel, Counter>,
    pub duration_ms: Family<GroupLabel, Gauge>,
    pub rule_errors: Family<RuleLabel, Counter>,
    pub rule_samples: Family<RuleLabel, Gauge>,
    pub alerts_firing: Family<RuleLabel, Gauge>,
    pub alerts_pending: Family<RuleLabel, Gauge>,
}

impl EvalMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_rule_evaluations",
            "Rule evaluations, over all rules",
            self.rule_evaluations.clone(),
        );
        r.register(
            "tocsin_group_iterations",
            "Evaluations of a group",
            self.iterations.clone(),
        );
        r.register(
            "tocsin_group_iterations_missed",
            "Scheduled evaluations skipped because the previous one ran late",
            self.missed.clone(),
        );
        r.register(
            "tocsin_group_last_evaluation_duration_milliseconds",
            "How long the group's last evaluation took",
            self.duration_ms.clone(),
        );
        r.register(
            "tocsin_rule_errors",
            "Evaluations of a rule that failed",
            self.rule_errors.clone(),
        );
        r.register(
            "tocsin_rule_last_samples",
            "Samples the rule's query returned at its last evaluation",
            self.rule_samples.clone(),
        );
        r.register(
            "tocsin_alerts_firing",
            "Firing alerts of an alerting rule",
            self.alerts_firing.clone(),
        );
        r.register(
            "tocsin_alerts_pending",
            "Pending alerts of an alerting rule",
            self.alerts_pending.clone(),
        );
    }
}

/// Everything group tasks share.
pub struct Engine {
    pub querier: Arc<dyn Querier>,
    pub notifier: Option<Notifier>,
    pub writer: Option<RemoteWriter>,
    pub board: Arc<StatusBoard>,
    pub settings: RuleSettings,
    pub metrics: EvalMetrics,
}
