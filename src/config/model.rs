//! The validated, immutable rule-set model that the loader produces and every other
//! part of tocsin consumes. Nothing here is half-valid: if a `RuleSet` exists, every
//! expression parsed, every template compiled and every duration was in range.

use std::path::{Path, PathBuf};
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
    /// The files without a `groups:` list: empty, comments only, or `groups:` with
    /// nothing after it. Valid (no groups), but also what a file looks like while a copy
    /// that truncates it first is still writing it; see [`RuleSet::emptied_since`].
    pub listless: Vec<PathBuf>,
}

impl RuleSet {
    /// The files that held groups in `before` and have no `groups:` list now, each with
    /// the number of groups it held. A reload refuses these (the old rules keep running
    /// until the file has content again): an empty rule file that had rules is far more
    /// often a copy in progress than a wish to stop alerting, and `groups: []` says the
    /// latter plainly.
    pub fn emptied_since(&self, before: &RuleSet) -> Vec<(&Path, usize)> {
        self.listless
            .iter()
            .filter_map(|f| {
                let held = before.groups.iter().filter(|g| &g.file == f).count();
                (held > 0).then_some((f.as_path(), held))
            })
            .collect()
    }

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
    /// The file as logs, the API and `/metrics` show it: `file`, or with
    /// `-rule.stripFilePath` vmalert's `<group id>/<file name>`.
    pub shown_file: String,
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
    /// Shared with the running rules built from them (a rule keeps its definition).
    pub rules: Vec<Arc<Rule>>,
    /// Stable hash of everything above (except `line`): equal checksum ⇔ same group.
    /// The reload diff leaves groups with an unchanged checksum untouched.
    pub checksum: u64,
    /// [`Group::id`]: [`group_id`] of `file` and `name`, computed once by whoever builds
    /// the group. Asked for about ten times per group and load (diff, manager, board,
    /// schedule, snapshots), hashing the names again each time was a few per cent of a
    /// reload of 100,000 groups.
    pub identity: u64,
}

/// One rule, validated.
#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: RuleKind,
    /// The PromQL expression, as written (trimmed).
    pub expr: Arc<str>,
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

impl Group {
    /// The group's identity: a stable hash of its file and name. The reload diff matches
    /// running groups by it, the API shows it (vmalert's `group_id`), `$groupID` renders
    /// it and it spreads the groups' evaluation offsets, so links to a group survive
    /// reloads and restarts.
    pub fn id(&self) -> u64 {
        debug_assert_eq!(
            self.identity,
            group_id(&self.file.to_string_lossy(), &self.name),
            "Group::identity out of step with file and name"
        );
        self.identity
    }

    /// How far back this group's queries look, besides `query_offset`: its own
    /// `eval_delay`, else `default` (`-rule.evalDelay`). As in vmalert, the default does
    /// not apply to a group that pins `eval_offset`; nor, in tocsin, to one that sets
    /// Prometheus' `query_offset`, which already says how far back to query.
    pub fn eval_delay_or(&self, default: Duration) -> Option<Duration> {
        if self.eval_delay.is_some() || self.eval_offset.is_some() || self.query_offset.is_some() {
            return self.eval_delay;
        }
        (!default.is_zero()).then_some(default)
    }

    /// The rules' IDs, unique within the group (vmalert's `rule_id`): each rule's
    /// [`Rule::id`], except that a rule identical to an earlier one is told apart by its
    /// position.
    pub fn rule_ids(&self) -> Vec<u64> {
        let mut seen = std::collections::HashSet::with_capacity(self.rules.len());
        self.rules
            .iter()
            .map(|r| {
                let mut id = r.id();
                if !seen.insert(id) {
                    id ^= (r.index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    seen.insert(id);
                }
                id
            })
            .collect()
    }
}

/// The identity of the group `name` in `file` (see [`Group::id`]), for callers that
/// have only the two names.
pub fn group_id(file: &str, name: &str) -> u64 {
    // The one-shot hash of `file 0xff name`: the same value as hashing the three parts
    // in a stream, without the streaming hasher's state (hundreds of bytes set up and
    // copied per call; this runs several times per group and reload, 100,000 groups
    // at scale).
    let mut key = Vec::with_capacity(file.len() + 1 + name.len());
    key.extend_from_slice(file.as_bytes());
    key.push(0xff);
    key.extend_from_slice(name.as_bytes());
    xxhash_rust::xxh3::xxh3_64(&key)
}

impl Rule {
    /// The rule's identity: a stable hash of kind, name, expression and labels (as
    /// written), and nothing else. A reload keeps the state (alerts, history) of a rule
    /// whose identity is unchanged, so changing `for` or an annotation keeps its alerts;
    /// the API's rule IDs are derived from it (see [`Group::rule_ids`]).
    pub fn id(&self) -> u64 {
        // One-shot over the parts laid end to end, as [`group_id`] (the same value as
        // streaming them).
        let kind: &[u8] = if matches!(self.kind, RuleKind::Alerting(_)) {
            b"a"
        } else {
            b"r"
        };
        let mut key = Vec::with_capacity(64 + self.expr.len());
        key.extend_from_slice(kind);
        key.extend_from_slice(self.name().as_bytes());
        key.push(0xff);
        key.extend_from_slice(self.expr.as_bytes());
        for (k, v) in &self.labels {
            key.push(0xfe);
            key.extend_from_slice(k.as_bytes());
            key.push(0xff);
            key.extend_from_slice(v.source().as_bytes());
        }
        xxhash_rust::xxh3::xxh3_64(&key)
    }

    /// The rule's labels as written (name, template source), sorted: what tells rules
    /// apart when looking for duplicates.
    pub fn sorted_labels(&self) -> Vec<(&str, &str)> {
        let mut labels: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.source()))
            .collect();
        labels.sort_unstable();
        labels
    }

    /// The alert or record name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Alerting(a) => &a.name,
            RuleKind::Recording(r) => &r.name,
        }
    }

    /// The alert or record name, shared.
    pub fn shared_name(&self) -> &Arc<str> {
        match &self.kind {
            RuleKind::Alerting(a) => &a.name,
            RuleKind::Recording(r) => &r.name,
        }
    }
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    /// Shared: the API's snapshots of the rule show it as written (`for`, annotations,
    /// extensions) from this one copy.
    Alerting(Arc<AlertingSpec>),
    Recording(RecordingSpec),
}

#[derive(Debug, Clone, Default)]
pub struct AlertingSpec {
    /// Shared with the API's snapshots (`RuleStatus::name`) and per-rule metrics.
    pub name: Arc<str>,
    /// `for`; zero fires at once.
    pub for_: Duration,
    /// `keep_firing_for`; zero resolves at once.
    pub keep_firing_for: Duration,
    /// Annotations in file order.
    pub annotations: Vec<(String, Template)>,
    /// tocsin's rule-file extensions (none in a Prometheus file).
    pub ext: AlertExtensions,
}

/// tocsin's opt-in alerting-rule keys, beyond Prometheus and vmalert (docs/rules.md):
/// with none set, the rule behaves exactly as in Prometheus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertExtensions {
    /// `recover_expr`: once firing, the alert resolves only at an evaluation where this
    /// expression returns its series (hysteresis).
    pub recover_expr: Option<String>,
    /// `for_count: {n, of}`: the alert fires only when its series was returned in at
    /// least `n` of the last `of` evaluations (dampening).
    pub for_count: Option<ForCount>,
    /// `no_data: {after, state}`: what an evaluation whose selectors all return nothing
    /// does to the alerts (the rule's own, or its group's).
    pub no_data: Option<Policy>,
    /// `on_error: {after, state}`: what a failed evaluation does (the rule's own, or
    /// its group's).
    pub on_error: Option<Policy>,
    /// `flapping: {changes, within, hold}`: an alert that changed state more than
    /// `changes` times within `within` is flapping.
    pub flapping: Option<Flapping>,
}

impl AlertExtensions {
    /// The keys set, as written in the file, for `tocsin check --lint`.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.recover_expr.is_some() {
            v.push("recover_expr");
        }
        if self.for_count.is_some() {
            v.push("for_count");
        }
        if self.no_data.is_some() {
            v.push("no_data");
        }
        if self.on_error.is_some() {
            v.push("on_error");
        }
        if self.flapping.is_some() {
            v.push("flapping");
        }
        v
    }
}

/// `flapping: {changes: K, within: DURATION, hold: BOOL}`: an alert that went into or
/// out of firing more than K times within the window is flapping until it has not
/// changed for a whole window; its notifications carry `flapping="true"`, or are held
/// with `hold: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flapping {
    pub changes: u32,
    pub within: Duration,
    pub hold: bool,
}

/// `no_data` or `on_error`: once the condition (no data, failed queries) has lasted
/// `after`, the rule's alerts are handled as `state` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub after: Duration,
    pub state: PolicyState,
}

/// What a `no_data` or `on_error` policy does once its condition lasted `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyState {
    /// `ok` (`no_data` only): the empty result counts as "condition false", as in
    /// Prometheus: the alerts resolve.
    Ok,
    /// `alerting`: a synthetic alert with `alertstate_reason` fires; the rule's alerts
    /// resolve (no data) or are kept (errors).
    Alerting,
    /// `keep`: the alerts are kept as they were, and still written and sent.
    Keep,
}

impl PolicyState {
    /// As written in a rule file.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyState::Ok => "ok",
            PolicyState::Alerting => "alerting",
            PolicyState::Keep => "keep",
        }
    }
}

/// `for_count: {n: N, of: M}`: N of the last M evaluations, `1 <= N <= M <= 64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForCount {
    pub n: u32,
    pub of: u32,
}

impl ForCount {
    /// The most evaluations a window may span: the history is one bit per evaluation
    /// in a `u64`.
    pub const MAX_OF: u32 = 64;
}

#[derive(Debug, Clone)]
pub struct RecordingSpec {
    /// Shared, as the alerting rule's name, with the API's snapshots.
    pub name: Arc<str>,
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadOptions, load_str};

    const RULES: &str = "groups:\n- name: node\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 5m\n    labels:\n      severity: page\n  - alert: Down\n    expr: up == 0\n    labels:\n      severity: page\n  - record: job:up:sum\n    expr: sum(up)\n";

    fn group(text: &str) -> std::sync::Arc<super::Group> {
        load_str(
            std::path::Path::new("/etc/rules/a.yml"),
            text,
            &LoadOptions::default(),
        )
        .expect("valid rules")
        .remove(0)
    }

    /// The API shows these IDs and users keep links with them: they must not change
    /// from one version of tocsin to the next.
    #[test]
    fn ids_are_stable_across_versions() {
        let g = group(RULES);
        assert_eq!(g.id(), super::group_id("/etc/rules/a.yml", "node"));
        assert_eq!(g.id(), 17337138521403676173);
        assert_eq!(
            g.rule_ids(),
            [
                11721625271432744001,
                11440664117856793707,
                8367801386102950065
            ]
        );
    }

    #[test]
    fn rule_ids_are_unique_within_the_group_and_ignore_for() {
        let g = group(RULES);
        let ids = g.rule_ids();
        assert_eq!(g.rules[0].id(), g.rules[1].id(), "`for` is not part of it");
        assert_ne!(ids[0], ids[1], "identical rules still get distinct IDs");
        assert_eq!(ids[0], g.rules[0].id(), "the first keeps its own");
        assert_ne!(g.rules[0].id(), g.rules[2].id());
    }
}
