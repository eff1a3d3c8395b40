//! `tocsin check --lint`: checks that prove something is wrong with a rule, from the
//! rule files alone (and, with a datasource, from the series it has).
//!
//! Every check has an id (`promql/rate-range`), a severity and an explanation
//! ([`CHECKS`], listed in docs/lint.md, which a test keeps in step). A finding names
//! `file:line:col`, the group and the rule. A comment silences a check for one rule or a
//! whole file (see [`source`]).
//!
//! - [`labels`]: which labels an expression's output can carry.
//! - [`rules`]: checks of one rule against its group.
//! - [`across`]: checks over all the files at once (duplicates, dependency order).
//! - [`series`]: checks against the datasource's series.
//! - [`cost`]: what a rule costs the datasource at each evaluation.

pub mod across;
pub mod cost;
pub mod labels;
pub mod rules;
pub mod series;
pub mod source;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Group, Rule};
use source::{Source, Span};

/// How bad a finding is. Both make `--lint-fatal` fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The rule cannot do what it says (a label that never exists, a series that
    /// never comes).
    Error,
    /// The rule works, but not as its author most likely meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One check: its id, severity and what it means.
#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    pub id: &'static str,
    pub severity: Severity,
    /// Why it matters and what to do, in one paragraph (docs/lint.md shows it).
    pub explanation: &'static str,
    /// Needs `-datasource.url`.
    pub needs_datasource: bool,
}

macro_rules! check {
    ($name:ident, $id:literal, $sev:ident, $ds:literal, $text:literal) => {
        pub const $name: Check = Check {
            id: $id,
            severity: Severity::$sev,
            explanation: $text,
            needs_datasource: $ds,
        };
    };
}

check!(
    TEMPLATE_LABEL,
    "alerts/template-label",
    Error,
    false,
    "A template (in `annotations` or `labels`) reads a label that the expression can never produce, so it always renders empty: `sum by (job) (…)` keeps only `job`, `absent(x{a=\"b\"})` only `a`, `vector(1)` none. Keep the label in the aggregation (`by (job, instance)`), copy it with `group_left`, or drop it from the template. Labels of the rule, of its group and `alertname` count as present in annotations; external labels are `$externalLabels`, not `$labels`."
);
check!(
    FOR_INTERVAL,
    "alerts/for",
    Warning,
    false,
    "`for` is shorter than the group's interval, or not a multiple of it. The condition is only seen at evaluations, so the alert fires after the next multiple of the interval at or after `for`, not after `for`. Make `for` a multiple of the interval (or zero)."
);
check!(
    KEEP_FIRING,
    "alerts/keep-firing-for",
    Warning,
    false,
    "`keep_firing_for` without `for`: the alert fires at the first evaluation whose condition holds, even a single spike, and then keeps firing for `keep_firing_for`. A flapping condition becomes a long page. Add a `for`."
);
check!(
    RATE_RANGE,
    "promql/rate-range",
    Warning,
    false,
    "`rate`, `irate` or `increase` over a range shorter than twice the group interval (or, for `rate`/`increase`, shorter than twice what a scrape interval needs): a window with fewer than two samples returns nothing, so the rule sees gaps. Use a range of at least 2× the evaluation interval (4× the scrape interval is the usual advice)."
);
check!(
    ABSENT_AGGREGATION,
    "promql/absent-aggregation",
    Warning,
    false,
    "`absent()` over an aggregation (or any expression other than a selector) returns a series with no labels: the alert cannot say what is missing, and `absent(sum(x{job=\"a\"}))` is `absent(x{job=\"a\"})` with the label lost. Put the selector inside `absent()` directly."
);
check!(
    RECORD_COMPARISON,
    "record/comparison",
    Warning,
    false,
    "A recording rule whose result is a comparison without `bool` records only the series that pass, so the recorded series comes and goes with the condition and looks stale in between. Write `x > bool 0` to record 0/1, or move the comparison into an alerting rule."
);
check!(
    RECORD_NAME,
    "record/name",
    Warning,
    false,
    "A recording rule's name should be `level:metric:operations` (Prometheus' naming convention, e.g. `job:http_requests:rate5m`): three parts separated by colons. Names without colons look like scraped metrics, and colon names are how readers tell recorded series apart."
);
check!(
    DUPLICATE,
    "rule/duplicate",
    Warning,
    false,
    "Two rules with the same kind, name, labels and expression (compared after parsing, so spacing does not matter), in the same or different files: they are evaluated twice and write the same series or alerts. Remove one."
);
check!(
    DEPENDENCY_ORDER,
    "rule/dependency-order",
    Warning,
    false,
    "The rule reads a series that a rule records only later: later in the same group (so every evaluation reads the value from the previous cycle), or in a later group with a longer interval (so it reads values up to that interval old, and stale ones once the interval passes the 5m lookback). Move the recording rule before its reader, into the reader's group or into a group with the same interval."
);
check!(
    EXTENSIONS,
    "rule/extensions",
    Warning,
    false,
    "The rule uses tocsin's rule-file extensions (`recover_expr`, `for_count`, `flapping`, `no_data`, `on_error`, also when inherited from its group's `no_data`/`on_error`): the file loads in tocsin only. Prometheus and vmalert reject keys they do not know, so the file cannot go back to them, nor be checked by promtool. Keep such rules in files meant for tocsin alone, and silence this check there with `# tocsin file/disable rule/extensions`."
);

check!(
    SERIES,
    "promql/series",
    Warning,
    true,
    "A selector matches no series on the datasource over the last `--lookback` (7d by default): the metric is not there at all (a typo, a renamed metric, a target that is not scraped) or no series has the matchers' values. An alert on it can never fire; a recording rule records nothing. Selectors inside `absent()` and of series the rule files record are not checked."
);
check!(
    SERIES_LABEL,
    "promql/series-label",
    Warning,
    true,
    "A matcher needs a label that the metric's series never carried over the last `--lookback`: the selector can never match. Usually a typo or a label that relabelling renames; check the series' labels."
);

check!(
    COST,
    "rule/cost",
    Warning,
    true,
    "The rule is expensive for the datasource: an evaluation reads more series than `--lint.maxSeries` (10000 by default; each selector's series counted over the window it reads), or loads more samples than `--lint.maxSamples` (1000000 by default; from the datasource's query statistics, which Prometheus gives and VictoriaMetrics does not). Every evaluation pays it again, once per interval. Narrow the selectors with matchers, aggregate before joining, shorten ranges, or record an aggregate once and read that. A datasource that refuses the expression (a query limit, an unsupported function) is reported here too."
);

/// Every check, in the order they are documented.
pub const CHECKS: &[&Check] = &[
    &TEMPLATE_LABEL,
    &FOR_INTERVAL,
    &KEEP_FIRING,
    &RATE_RANGE,
    &ABSENT_AGGREGATION,
    &RECORD_COMPARISON,
    &RECORD_NAME,
    &DUPLICATE,
    &DEPENDENCY_ORDER,
    &EXTENSIONS,
    &SERIES,
    &SERIES_LABEL,
    &COST,
];

/// One problem found in one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static Check,
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub group: String,
    /// 0-based index of the rule in its group (printed 1-based, as load errors are).
    pub rule_index: usize,
    pub rule_name: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: group {:?}, rule {}, {:?}: {} [{}]: {}",
            self.file.display(),
            self.line,
            self.col,
            self.group,
            self.rule_index + 1,
            self.rule_name,
            self.check.severity,
            self.check.id,
            self.message
        )
    }
}

/// A loaded rule file and its text (for positions and silencing comments).
pub struct LintFile {
    pub path: PathBuf,
    pub groups: Vec<Arc<Group>>,
    pub source: Source,
    spans: Vec<Vec<Span>>,
}

impl LintFile {
    pub fn new(path: PathBuf, text: &str, groups: Vec<Arc<Group>>) -> LintFile {
        let source = Source::new(text);
        let spans = source.spans(&groups);
        LintFile {
            path,
            groups,
            source,
            spans,
        }
    }
}

/// How the linter sees the rules' surroundings.
#[derive(Debug, Clone)]
pub struct LintOptions {
    /// The interval of groups without `interval` (`-evaluationInterval`).
    pub default_interval: Duration,
    /// With `--datasource.url`: where the series checks look.
    pub datasource: Option<DatasourceLint>,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            default_interval: Duration::from_secs(60),
            datasource: None,
        }
    }
}

/// The datasource of the series and cost checks, how far back they look and what a
/// rule may cost.
#[derive(Clone)]
pub struct DatasourceLint {
    pub querier: Arc<dyn crate::datasource::Querier>,
    pub lookback: Duration,
    pub limits: cost::CostLimits,
}

impl fmt::Debug for DatasourceLint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatasourceLint")
            .field("lookback", &self.lookback)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What the checks that ask the datasource found, and whether they stopped early.
#[derive(Debug, Default)]
pub struct DatasourceFindings {
    pub findings: Vec<Finding>,
    /// Set when the datasource stayed unreachable: the rules from there on (and the
    /// cost check, if the series checks stopped) were not checked against it.
    pub stopped: Option<series::Stopped>,
}

/// Runs the checks that ask the datasource (series, then cost), evaluating at
/// `now_ms`. A failed query is a finding for the rule that needed it; the checks stop
/// only when the datasource stays unreachable (see [`series::DOWN_AFTER`]).
pub async fn datasource_checks(
    files: &[LintFile],
    ds: &DatasourceLint,
    now_ms: i64,
) -> DatasourceFindings {
    let src = series::SeriesSource {
        querier: &*ds.querier,
        lookback: ds.lookback,
        now_ms,
    };
    let mut cache = series::Cache::default();
    let mut out = DatasourceFindings::default();
    let ran = match series::check(files, &src, &mut cache, &mut out.findings).await {
        Ok(()) => cost::check(files, &src, &ds.limits, &mut cache, &mut out.findings).await,
        Err(stopped) => Err(stopped),
    };
    out.stopped = ran.err();
    out
}

/// A rule being checked, with where it is.
pub struct Site<'a> {
    pub file: &'a LintFile,
    pub group: &'a Group,
    pub rule: &'a Rule,
    /// The group's position over all files (0 = first group of the first file).
    pub group_no: usize,
    span: Span,
}

impl Site<'_> {
    /// The group's evaluation interval.
    pub fn interval(&self, opts: &LintOptions) -> Duration {
        self.group.interval.unwrap_or(opts.default_interval)
    }

    /// A finding of `check` at the rule's `key` (and `sub` entry), unless silenced.
    pub fn finding(
        &self,
        check: &'static Check,
        key: &str,
        sub: Option<&str>,
        message: String,
    ) -> Option<Finding> {
        if self.file.source.silenced(check.id, self.span) {
            return None;
        }
        let (line, col) = self.file.source.locate(self.span, self.rule.line, key, sub);
        Some(Finding {
            check,
            file: self.file.path.clone(),
            line,
            col,
            group: self.group.name.clone(),
            rule_index: self.rule.index,
            rule_name: self.rule.name().to_string(),
            message,
        })
    }
}

/// Every rule of `files`, with its site.
pub fn sites(files: &[LintFile]) -> impl Iterator<Item = Site<'_>> {
    files
        .iter()
        .flat_map(|f| f.groups.iter().zip(&f.spans).map(move |(g, s)| (f, g, s)))
        .enumerate()
        .flat_map(|(group_no, (file, group, spans))| {
            group
                .rules
                .iter()
                .zip(spans)
                .map(move |(rule, &span)| Site {
                    file,
                    group,
                    rule,
                    group_no,
                    span,
                })
        })
}

/// Runs every static check over `files`; findings in file order.
pub fn lint(files: &[LintFile], opts: &LintOptions) -> Vec<Finding> {
    let recorded = rules::RecordedLabels::new(files);
    let mut out = Vec::new();
    for site in sites(files) {
        out.extend(rules::check_rule(&site, opts, &recorded));
    }
    out.extend(across::duplicates(files));
    out.extend(across::dependency_order(files, opts));
    sort(files, &mut out);
    out
}

/// Directive comments that name no check (`# tocsin disable promql/serise`): they would
/// silence nothing, so each is reported as `file:line:col: …`.
pub fn unknown_directives(files: &[LintFile]) -> Vec<String> {
    let known = |id: &str| {
        id == "all"
            || CHECKS
                .iter()
                .any(|c| c.id == id || c.id.split('/').next() == Some(id))
    };
    let mut out = Vec::new();
    for f in files {
        for (line, col, id) in f.source.directive_ids() {
            if !known(&id) {
                out.push(format!(
                    "{}:{line}:{col}: unknown check {id:?} in a `# tocsin disable` comment: it silences nothing; the checks are listed in docs/lint.md",
                    f.path.display()
                ));
            }
        }
    }
    out
}

/// Puts findings in file order (as the files were given), then by position.
pub fn sort(files: &[LintFile], findings: &mut [Finding]) {
    let file_no = |f: &Finding| files.iter().position(|x| x.path == f.file);
    findings.sort_by_key(|f| (file_no(f), f.line, f.col, f.check.id));
}
