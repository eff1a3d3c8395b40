//! What a rule evaluates in: the settings every group shares (from the command line)
//! and the values of its own group.

use std::sync::Arc;
use std::time::Duration;

use super::AlertBudget;
use crate::config::Group;
use crate::labels::Labels;
use crate::template::SharedLibrary;

use super::limits::Limits;

/// Rule settings that come from flags rather than files: the same for every group.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    /// `-evaluationInterval`: the interval of groups that set none.
    pub default_interval: Duration,
    /// `-external.label`s: added to alerts sent and series written when absent.
    pub external_labels: Labels,
    /// Whether written series (recorded, `ALERTS`, `ALERTS_FOR_STATE`) carry the
    /// external labels. On for a remote-write target, as vmalert writes them; off for
    /// the in-memory store of `tocsin test`, which holds series as Prometheus' own TSDB
    /// does (external labels only go on what leaves it).
    pub external_labels_on_series: bool,
    /// `-external.url`: base of the alerts' generator URL and `$externalURL`.
    pub external_url: String,
    /// `-rule.resendDelay`.
    pub resend_delay: Duration,
    /// `-rule.maxResolveDuration` (zero = no cap).
    pub max_resolve_duration: Duration,
    /// `-rule.resolvedRetention`.
    pub resolved_retention: Duration,
    /// `-rule.resultsLimit`: the `limit` of groups that set none (0 = none).
    pub results_limit: usize,
    /// `-rule.evalDelay`: how far back queries look in groups that set no `eval_delay`
    /// (see [`Group::eval_delay_or`]).
    pub eval_delay: Duration,
    /// `-group.maxStartDelay`: the latest a group's first evaluation comes after its
    /// start (see [`crate::schedule::Schedule::start`]).
    pub max_start_delay: Duration,
    /// `-rule.updateEntriesLimit`: past evaluations kept per rule for the API when the
    /// rule sets no `update_entries_limit`.
    pub update_entries_limit: usize,
    /// vmalert adds `alertgroup=<group name>` to alerts unless this is set
    /// (`-disableAlertgroupLabel`).
    pub disable_alertgroup_label: bool,
    /// `-rule.templates` definitions, shared by all rules and swapped by a reload.
    pub library: SharedLibrary,
    /// `-external.alert.source`: the template of each alert's link (see
    /// [`super::link`]); `None`: Prometheus' link to the expression.
    pub alert_source: Option<crate::template::Template>,
    /// `-rule.max*`: what one evaluation may produce.
    pub limits: Limits,
    /// `-rule.maxActiveAlerts`: the alert budget all rules share (`None` = no budget).
    pub alert_budget: Option<Arc<AlertBudget>>,
}

impl Default for RuleSettings {
    /// vmalert's flag defaults.
    fn default() -> Self {
        RuleSettings {
            default_interval: Duration::from_secs(60),
            external_labels: Labels::empty(),
            external_labels_on_series: true,
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            max_resolve_duration: Duration::ZERO,
            resolved_retention: Duration::from_secs(15 * 60),
            results_limit: 0,
            // Prometheus queries at the evaluation time; vmalert's default is 30s.
            eval_delay: Duration::ZERO,
            max_start_delay: Duration::from_secs(300),
            update_entries_limit: 20,
            disable_alertgroup_label: false,
            library: SharedLibrary::default(),
            alert_source: None,
            limits: Limits::default(),
            alert_budget: None,
        }
    }
}

/// Settings a rule takes from its group, and from the command line through `settings`.
#[derive(Debug, Clone)]
pub struct RuleContext {
    pub group_name: String,
    pub file: String,
    /// Stable id of the group ([`Group::id`]; `$groupID`).
    pub group_id: u64,
    /// Group `labels`: added to every output, overridden by rule labels.
    pub group_labels: Labels,
    /// The group's `interval`, or `-evaluationInterval`.
    pub interval: Duration,
    /// Group `limit`, else `-rule.resultsLimit` (0 = none).
    pub limit: usize,
    pub settings: RuleSettings,
}

impl RuleContext {
    /// The context rules of `group` evaluate in.
    pub fn for_group(group: &Group, settings: &RuleSettings) -> RuleContext {
        RuleContext {
            group_name: group.name.clone(),
            file: group.shown_file.clone(),
            group_id: group.id(),
            group_labels: group.labels.clone(),
            interval: group.interval.unwrap_or(settings.default_interval),
            // As vmalert: a group's own `limit` wins over `-rule.resultsLimit`.
            limit: if group.limit > 0 {
                group.limit
            } else {
                settings.results_limit
            },
            settings: settings.clone(),
        }
    }
}

impl Default for RuleContext {
    /// An unnamed group without labels or limit, at the default settings and interval.
    fn default() -> Self {
        let settings = RuleSettings::default();
        RuleContext {
            group_name: String::new(),
            file: String::new(),
            group_id: 0,
            group_labels: Labels::empty(),
            interval: settings.default_interval,
            limit: 0,
            settings,
        }
    }
}
