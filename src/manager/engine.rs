//! What every group task shares: where answers come from, where alerts and series go,
//! the command-line settings of rules, and the metrics.

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::clock::Clock;
use crate::datasource::Querier;
use crate::notifier::Notifier;
use crate::remote_write::RemoteWriter;
use crate::rule::RuleSettings;
use crate::status::StatusBoard;

/// Labels of per-group metrics.
///
/// The names are shared strings: every metric family keeps its own copy of each key, so
/// a group's and its rules' keys point at one copy of the group's name, file and rule
/// names (separate copies were about 220 bytes a rule in the side-by-side scenarios).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabel {
    pub group: Arc<str>,
    pub file: Arc<str>,
}

/// Labels of per-rule metrics: one pointer to the rule's names, which its families
/// share. Every rule has an entry in the tables of two (recording) or four (alerting)
/// families, each table with up to twice as many slots as entries: a slot of a pointer
/// and a handle is 16 bytes, one of the three names' `Arc<str>`s 56 (see "Memory per
/// rule, step 11" in docs/benchmarks.md). Compared and hashed by the names.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RuleLabel(Arc<RuleNames>);

/// What a per-rule metric's labels say; shared strings, as in [`GroupLabel`].
#[derive(Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleNames {
    pub group: Arc<str>,
    pub file: Arc<str>,
    pub rule: Arc<str>,
}

impl RuleLabel {
    pub fn new(group: Arc<str>, file: Arc<str>, rule: Arc<str>) -> Self {
        RuleLabel(Arc::new(RuleNames { group, file, rule }))
    }
}

impl EncodeLabelSet for RuleLabel {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }
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
    /// Rules with `flapping`: their flapping alerts, and their alerts' firing changes.
    pub alerts_flapping: Family<RuleLabel, Gauge>,
    pub flapping_transitions: Family<RuleLabel, Counter>,
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
        r.register(
            "tocsin_alerts_flapping",
            "Flapping alerts of an alerting rule with `flapping`",
            self.alerts_flapping.clone(),
        );
        r.register(
            "tocsin_alerts_flapping_transitions",
            "Times the alerts of a rule with `flapping` went into or out of firing",
            self.flapping_transitions.clone(),
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
    /// Where "now" comes from: the wall clock when running, tokio's (pausable) clock in
    /// tests.
    pub clock: Clock,
}

impl Engine {
    /// An engine that only queries: no notifier, no remote writer, a board of its own
    /// and default rule settings (tests, examples and tools that evaluate rules and look
    /// at what they did; set the other fields with `Engine { .., ..Engine::querying(..) }`).
    pub fn querying(querier: Arc<dyn Querier>, clock: Clock) -> Engine {
        Engine {
            querier,
            notifier: None,
            writer: None,
            board: Arc::new(StatusBoard::new()),
            settings: RuleSettings::default(),
            metrics: EvalMetrics::default(),
            clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_rule_metrics_are_labelled_and_found_by_their_names() {
        let m = EvalMetrics::default();
        let mut registry = Registry::default();
        m.register(&mut registry);
        let label = |rule: &str| RuleLabel::new("g".into(), "rules/a.yml".into(), rule.into());
        m.rule_errors.get_or_create(&label("Down")).inc();
        // Another copy of the same names is the same series (how a rule's are removed).
        m.rule_errors.get_or_create(&label("Down")).inc();
        m.rule_samples.get_or_create(&label("job:up")).set(3);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                r#"tocsin_rule_errors_total{group="g",file="rules/a.yml",rule="Down"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"tocsin_rule_last_samples{group="g",file="rules/a.yml",rule="job:up"} 3"#
            ),
            "{text}"
        );
        assert!(m.rule_errors.remove(&label("Down")));
    }
}
