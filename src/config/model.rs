//! The validated, immutable rule-set model that the loader produces and every other
//! part of tocsin consumes. Nothing here is half-valid: if a `RuleSet` exists, every
//! expression parsed, every template compiled and every duration was in range.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::labels::Labels;
use crate::template::Template;

/// Everything loaded from the `-rule` files in one go. Reloads build a new `RuleSet`
/// and diff it against the running one group by group (see [`Group::checksum`]).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Groups in file order, files in the order the `-rule` patterns expanded.
    pub groups: Vec<Arc<Group>>,
    /// Every file that was read, for the file watcher and `/api/v1/rules`.
    pub files: Vec<PathBuf>,
}

impl RuleSet {
    /// Total number of rules over all groups.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// Which query API a group talks to. vmalert also knows `graphite` and `vlogs`; tocsin
/// speaks the Prometheus HTTP API only and rejects the others at load time, so that a
/// rule never silently runs against the wrong language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DatasourceType {
    #[default]
    Prometheus,
}

/// One rule group, as written in a file, validated.
#[derive(Debug, Clone)]
pub struct Group {
    /// The file the group came from (as given or as the glob expanded).
    pub file: PathBuf,
    pub name: String,
    /// 1-based line of the group's `name:` key, for messages.
    pub line: usize,
    /// `interval`; `None` means "use -evaluationInterval".
    pub interval: Option<Duration>,
    /// Prometheus' `query_offset`: queries run at `ts - query_offset`.
    pub query_offset: Option<Duration>,
    /// Maximum number of alerts (or series, for recording rules) per rule; 0 = none.
    pub limit: usize,
    /// Group `labels`, applied to every rule's output (rule labels win on conflict).
    pub labels: Labels,
    /// vmalert `eval_offset`: evaluate at this offset within each interval.
    pub eval_offset: Option<Duration>,
    /// vmalert `eval_delay`: shift the query timestamp back by this much.
    pub eval_delay: Option<Duration>,
    /// vmalert `eval_alignment`: align query timestamps to the interval (default true).
    pub eval_alignment: Option<bool>,
    /// vmalert `concurrency`: rules of this group evaluated at once (default 1).
    pub concurrency: usize,
    pub datasource_type: DatasourceType,
    /// vmalert `params`: extra query-string parameters for every datasource request.
    pub params: Vec<(String, String)>,
    /// vmalert `headers`: extra HTTP headers for datasource requests.
    pub headers: Vec<(String, String)>,
    /// vmalert `notifier_headers`: extra HTTP headers for notifier requests.
    pub notifier_headers: Vec<(String, String)>,
    pub debug: bool,
    pub rules: Vec<Rule>,
    /// Stable hash of everything above (except `line`): equal checksum ⇔ same group.
    /// The reload diff leaves groups with an unchanged checksum untouched.
    pub checksum: u64,
}

/// One rule, validated.
#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: RuleKind,
    /// The PromQL expression, as written (trimmed).
    pub expr: String,
    /// Rule `labels` (templated for alerting rules, literal for recording rules).
    pub labels: Vec<(String, Template)>,
    /// vmalert `debug`: log every evaluation of this rule.
    pub debug: bool,
    /// vmalert `update_entries_limit`: how many past evaluations `/api/v1/rule` keeps.
    pub update_entries_limit: Option<usize>,
    /// 0-based position in its group, and the 1-based line of the rule, for messages.
    pub index: usize,
    pub line: usize,
}

impl Rule {
    /// The alert or record name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Alerting(a) => &a.name,
            RuleKind::Recording(r) => &r.name,
        }
    }
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    Alerting(AlertingSpec),
    Recording(RecordingSpec),
}

#[derive(Debug, Clone)]
pub struct AlertingSpec {
    pub name: String,
    /// `for`; zero fires at once.
    pub for_: Duration,
    /// `keep_firing_for`; zero resolves at once.
    pub keep_firing_for: Duration,
    /// Annotations in file order.
    pub annotations: Vec<(String, Template)>,
}

#[derive(Debug, Clone)]
pub struct RecordingSpec {
    pub name: String,
}
