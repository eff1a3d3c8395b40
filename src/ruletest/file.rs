//! A unit-test file, validated: promtool's format, and vmalert-tool's variant of it
//! (`metricsql_expr_test`, `groupname`).
//!
//! Problems that make promtool reject the whole file (YAML, unknown fields, durations,
//! a repeated `group_eval_order` entry) are errors of the file, each with its line and
//! column. Problems promtool only finds when it reaches a test group (an alert test
//! without `alertname`) stay with that group and are reported in its turn, so output
//! and pass/fail follow promtool's order.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{self, RawAlertTest, RawExprTest, RawTestFile, RawTestGroup};
use crate::config::raw::{RawMap, S, pos};
use crate::config::{DurationError, ErrorKind, parse_duration};
use crate::labels::Labels;

/// promtool's default for `evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

/// Which tool's dialect a file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Promtool,
    /// vmalert-tool's: seen from `metricsql_expr_test` or `groupname` keys.
    VmalertTool,
}

/// A test file, validated.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: PathBuf,
    /// `rule_files` entries as written, with their positions.
    pub rule_files: Vec<Positioned<String>>,
    pub evaluation_interval: Duration,
    pub group_eval_order: Vec<String>,
    pub fuzzy_compare: bool,
    pub tests: Vec<TestGroup>,
    pub flavour: Flavour,
}

/// A value and the 1-based line and column it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Positioned<T> {
    pub value: T,
    pub line: usize,
    pub col: usize,
}

impl<T: Clone> Positioned<T> {
    fn of(s: &S<T>) -> Self {
        let (line, col) = pos(s);
        Positioned {
            value: s.value.clone(),
            line,
            col,
        }
    }
}

/// One entry of `tests`: input series and the checks made on them.
#[derive(Debug, Clone)]
pub struct TestGroup {
    /// `name`, empty when not given.
    pub name: String,
    pub line: usize,
    /// `interval`, or the file's `evaluation_interval` when absent or zero.
    pub interval: Duration,
    pub input_series: Vec<InputSeries>,
    pub alert_tests: Vec<AlertTest>,
    pub expr_tests: Vec<ExprTest>,
    pub external_labels: Labels,
    pub external_url: String,
    /// A problem promtool reports when it reaches this group; the group is not run.
    pub problem: Option<String>,
}

/// One `input_series` entry, as text: the engine parses it.
#[derive(Debug, Clone)]
pub struct InputSeries {
    pub series: Positioned<String>,
    pub values: Positioned<String>,
}

#[derive(Debug, Clone)]
pub struct AlertTest {
    pub eval_time: Duration,
    pub alertname: String,
    /// vmalert-tool's `groupname`.
    pub groupname: Option<String>,
    pub exp_alerts: Vec<ExpAlert>,
}

/// An expected alert: labels (without `alertname`) and annotations.
#[derive(Debug, Clone, Default)]
pub struct ExpAlert {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct ExprTest {
    pub expr: String,
    pub eval_time: Duration,
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Clone)]
pub struct ExpSample {
    /// A series in PromQL notation (`up{job="a"}`, `{job="a"}`, or empty).
    pub labels: Positioned<String>,
    pub value: f64,
    /// A native-histogram expectation (`{{schema:0 …}}`); tocsin's engine has none, so a
    /// test using one fails with a message saying so.
    pub histogram: String,
}

/// A problem that makes the whole file unusable.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub kind: FileErrorKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileErrorKind {
    #[error("cannot read the test file: {0}")]
    Io(String),
    #[error("the test file is not UTF-8 text")]
    NotUtf8,
    #[error("not a valid test file: {0}")]
    Yaml(String),
    /// Unknown fields, kept in the rule files' wording (with "did you mean").
    #[error("{0}")]
    Config(ErrorKind),
    #[error(
        "invalid `{field}`: {error}; write e.g. 30s, 5m or 1h30m (units y w d h m s ms, largest first)"
    )]
    BadDuration {
        field: &'static str,
        error: DurationError,
    },
    #[error("group name repeated in evaluation order: {0}")]
    RepeatedGroupOrder(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.col)?;
        }
        write!(f, " {}", self.kind)
    }
}

impl std::error::Error for FileError {}

/// Reads and validates a test file; every file-level problem is returned.
pub fn read(path: &Path) -> Result<TestFile, Vec<FileError>> {
    let err = |kind| {
        vec![FileError {
            file: path.to_path_buf(),
            line: 0,
            col: 0,
            kind,
        }]
    };
    let bytes = std::fs::read(path).map_err(|e| err(FileErrorKind::Io(e.to_string())))?;
    let text = String::from_utf8(bytes).map_err(|_| err(FileErrorKind::NotUtf8))?;
    parse(path, &text)
}

/// Validates test-file text as if read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<TestFile, Vec<FileError>> {
    let raw = raw::parse(text).map_err(|e| {
        let (line, col, msg) = crate::config::yaml_problem(&e, "a test file needs 7");
        vec![FileError {
            file: path.to_path_buf(),
            line,
            col,
            kind: FileErrorKind::Yaml(msg),
        }]
    })?;
    let mut v = Validator {
        file: path,
        errors: Vec::new(),
    };
    let file = v.file(raw);
    if v.errors.is_empty() {
        Ok(file)
    } else {
        v.errors.sort_by_key(|e| (e.line, e.col));
        Err(v.errors)
    }
}

struct Validator<'a> {
    file: &'a Path,
    errors: Vec<FileError>,
}

impl Validator<'_> {
    fn push(&mut self, at: (usize, usize), kind: FileErrorKind) {
        self.errors.push(FileError {
            file: self.file.to_path_buf(),
            line: at.0,
            col: at.1,
            kind,
        });
    }

    fn unknown(&mut self, keys: &[S<String>], context: &'static str, valid: &'static str) {
        for k in keys {
            let kind = ErrorKind::UnknownField {
                field: k.value.clone(),
                context,
                valid,
            };
            self.push(pos(k), FileErrorKind::Config(kind));
        }
    }

    /// A duration field; absent, or bad (reported), is zero.
    fn duration(&mut self, field: &'static str, v: &Option<S<String>>) -> Duration {
        let Some(s) = v else { return Duration::ZERO };
        match parse_duration(s.value.trim()) {
            Ok(d) => d,
            Err(error) => {
                self.push(pos(s), FileErrorKind::BadDuration { field, error });
                Duration::ZERO
            }
        }
    }

    fn file(&mut self, raw: RawTestFile) -> TestFile {
        self.unknown(&raw.unknown, "the test file (top level)", raw::FILE_FIELDS);
        let mut evaluation_interval =
            self.duration("evaluation_interval", &raw.evaluation_interval);
        if evaluation_interval.is_zero() {
            evaluation_interval = DEFAULT_EVALUATION_INTERVAL;
        }
        let mut group_eval_order: Vec<String> = Vec::new();
        for g in raw.group_eval_order.map(|l| l.value).unwrap_or_default() {
            if group_eval_order.contains(&g.value) {
                self.push(pos(&g), FileErrorKind::RepeatedGroupOrder(g.value.clone()));
            }
            group_eval_order.push(g.value);
        }
        let raw_tests = raw.tests.map(|t| t.value).unwrap_or_default();
        let flavour = if raw_tests.iter().any(|t| is_vmalert(&t.value)) {
            Flavour::VmalertTool
        } else {
            Flavour::Promtool
        };
        let tests = raw_tests
            .into_iter()
            .map(|t| self.group(t, evaluation_interval))
            .collect();
        TestFile {
            path: self.file.to_path_buf(),
            rule_files: raw
                .rule_files
                .map(|l| l.value.iter().map(Positioned::of).collect())
                .unwrap_or_default(),
            evaluation_interval,
            group_eval_order,
            fuzzy_compare: raw.fuzzy_compare.is_some_and(|b| b.value),
            tests,
            flavour,
        }
    }

    fn group(&mut self, raw: S<RawTestGroup>, evaluation_interval: Duration) -> TestGroup {
        let line = pos(&raw).0;
        let g = raw.value;
        self.unknown(&g.unknown, "a test group", raw::GROUP_FIELDS);
        let mut interval = self.duration("interval", &g.interval);
        if interval.is_zero() {
            interval = evaluation_interval;
        }
        let name = g.name.map(|n| n.value).unwrap_or_default();
        let input_series = g
            .input_series
            .map(|l| l.value)
            .unwrap_or_default()
            .into_iter()
            .map(|s| self.series(s))
            .collect();
        let mut problem = None;
        let mut alert_tests = Vec::new();
        for a in g.alert_rule_test.map(|l| l.value).unwrap_or_default() {
            let t = self.alert_test(a);
            if t.alertname.is_empty() && problem.is_none() {
                problem = Some(missing_alertname(&t, &name));
            }
            alert_tests.push(t);
        }
        let mut expr_tests = Vec::new();
        for list in [g.promql_expr_test, g.metricsql_expr_test]
            .into_iter()
            .flatten()
        {
            for e in list.value {
                expr_tests.push(self.expr_test(e));
            }
        }
        TestGroup {
            name,
            line,
            interval,
            input_series,
            alert_tests,
            expr_tests,
            external_labels: g
                .external_labels
                .map(|m| Labels::from_pairs(pairs(&m.value)))
                .unwrap_or_else(Labels::empty),
            external_url: g.external_url.map(|u| u.value).unwrap_or_default(),
            problem,
        }
    }

    fn series(&mut self, s: S<raw::RawSeries>) -> InputSeries {
        let at = pos(&s);
        self.unknown(&s.value.unknown, "an input series", raw::SERIES_FIELDS);
        let text = |v: &Option<S<String>>| match v {
            Some(v) => Positioned::of(v),
            None => Positioned {
                value: String::new(),
                line: at.0,
                col: at.1,
            },
        };
        InputSeries {
            series: text(&s.value.series),
            values: text(&s.value.values),
        }
    }

    fn alert_test(&mut self, a: S<RawAlertTest>) -> AlertTest {
        let a = a.value;
        self.unknown(
            &a.unknown,
            "an alert_rule_test item",
            raw::ALERT_TEST_FIELDS,
        );
        let mut exp_alerts = Vec::new();
        for e in a.exp_alerts.map(|l| l.value).unwrap_or_default() {
            let e = e.value;
            self.unknown(&e.unknown, "an exp_alerts item", raw::EXP_ALERT_FIELDS);
            exp_alerts.push(ExpAlert {
                labels: e.exp_labels.map(|m| pairs(&m.value)).unwrap_or_default(),
                annotations: e
                    .exp_annotations
                    .map(|m| pairs(&m.value))
                    .unwrap_or_default(),
            });
        }
        AlertTest {
            eval_time: self.duration("eval_time", &a.eval_time),
            alertname: a.alertname.map(|n| n.value).unwrap_or_default(),
            groupname: a.groupname.map(|n| n.value),
            exp_alerts,
        }
    }

    fn expr_test(&mut self, e: S<RawExprTest>) -> ExprTest {
        let e = e.value;
        self.unknown(&e.unknown, "an expression test", raw::EXPR_TEST_FIELDS);
        let mut exp_samples = Vec::new();
        for s in e.exp_samples.map(|l| l.value).unwrap_or_default() {
            let at = pos(&s);
            let s = s.value;
            self.unknown(&s.unknown, "an exp_samples item", raw::EXP_SAMPLE_FIELDS);
            exp_samples.push(ExpSample {
                labels: s.labels.as_ref().map(Positioned::of).unwrap_or(Positioned {
                    value: String::new(),
                    line: at.0,
                    col: at.1,
                }),
                value: s.value.map(|v| v.value).unwrap_or(0.0),
                histogram: s.histogram.map(|h| h.value).unwrap_or_default(),
            });
        }
        ExprTest {
            expr: e.expr.map(|x| x.value).unwrap_or_default(),
            eval_time: self.duration("eval_time", &e.eval_time),
            exp_samples,
        }
    }
}

fn is_vmalert(g: &RawTestGroup) -> bool {
    g.metricsql_expr_test.is_some()
        || g.alert_rule_test
            .as_ref()
            .is_some_and(|l| l.value.iter().any(|a| a.value.groupname.is_some()))
}

fn pairs(m: &RawMap) -> Vec<(String, String)> {
    m.0.iter()
        .map(|(k, v)| (k.value.clone(), v.value.clone()))
        .collect()
}

/// promtool's message for an alert test without `alertname`.
fn missing_alertname(t: &AlertTest, group_name: &str) -> String {
    let in_group = if group_name.is_empty() {
        String::new()
    } else {
        format!(" (in TestGroup {group_name})")
    };
    format!(
        "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
        crate::config::format_duration(t.eval_time)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> TestFile {
        parse(Path::new("t.yml"), text).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn errs(text: &str) -> Vec<String> {
        parse(Path::new("t.yml"), text)
            .expect_err("should fail")
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn reads_promtools_format_with_defaults() {
        let f = ok(r#"
rule_files: [a.yml, "b/*.yml"]
group_eval_order: [g2, g1]
fuzzy_compare: true
tests:
  - interval: 30s
    name: first
    external_labels: {cluster: eu}
    external_url: http://x
    input_series:
      - series: 'up{job="a"}'
        values: 1 0 0
      - series: x
        values: 1
    alert_rule_test:
      - eval_time: 5m
        alertname: Down
        exp_alerts:
          - exp_labels: {job: a}
            exp_annotations: {summary: "down"}
          - {}
    promql_expr_test:
      - expr: up
        eval_time: 1m
        exp_samples:
          - labels: 'up{job="a"}'
            value: 0
          - value: 1e3
  - {}
"#);
        assert_eq!(f.evaluation_interval, DEFAULT_EVALUATION_INTERVAL);
        assert_eq!(f.rule_files[1].value, "b/*.yml");
        assert_eq!((f.rule_files[0].line, f.rule_files[0].col), (2, 14));
        assert_eq!(f.group_eval_order, ["g2", "g1"]);
        assert!(f.fuzzy_compare);
        assert_eq!(f.flavour, Flavour::Promtool);
        let g = &f.tests[0];
        assert_eq!(
            (g.name.as_str(), g.interval),
            ("first", Duration::from_secs(30))
        );
        assert_eq!(g.external_labels.get("cluster"), Some("eu"));
        assert_eq!(g.input_series[0].values.value, "1 0 0");
        assert_eq!(
            g.input_series[1].values.value, "1",
            "a YAML number is text here"
        );
        assert_eq!(g.input_series[0].series.line, 11);
        assert_eq!(g.alert_tests[0].exp_alerts.len(), 2);
        assert_eq!(g.alert_tests[0].exp_alerts[0].annotations[0].1, "down");
        assert_eq!(g.expr_tests[0].exp_samples[1].value, 1000.0);
        assert_eq!(g.expr_tests[0].exp_samples[1].labels.value, "");
        assert_eq!(f.tests[1].interval, DEFAULT_EVALUATION_INTERVAL);
        assert!(ok("").tests.is_empty());
    }

    #[test]
    fn vmalert_tool_files_are_recognised() {
        let f = ok("tests:\n  - metricsql_expr_test:\n      - expr: x\n        eval_time: 1m\n");
        assert_eq!(f.flavour, Flavour::VmalertTool);
        assert_eq!(f.tests[0].expr_tests.len(), 1);
        let f = ok(
            "tests:\n  - alert_rule_test:\n      - {eval_time: 1m, groupname: g, alertname: A}\n",
        );
        assert_eq!(f.flavour, Flavour::VmalertTool);
        assert_eq!(f.tests[0].alert_tests[0].groupname.as_deref(), Some("g"));
    }

    #[test]
    fn every_file_problem_is_reported_with_its_position() {
        let e = errs(
            "evaluation_interval: 1x\nrule_file: [a]\ngroup_eval_order: [a, b, a]\ntests:\n  - intervall: 1m\n    input_series:\n      - {series: x, value: 1}\n",
        );
        assert_eq!(e.len(), 5, "{e:#?}");
        assert!(
            e[0].starts_with(
                "t.yml:1:22: invalid `evaluation_interval`: unknown unit \"x\" in duration \"1x\""
            ),
            "{}",
            e[0]
        );
        assert!(e[1].starts_with("t.yml:2:1: unknown field \"rule_file\" in the test file (top level); did you mean \"rule_files\"?"), "{}", e[1]);
        assert_eq!(
            e[2],
            "t.yml:3:26: group name repeated in evaluation order: a"
        );
        assert!(
            e[3].contains(
                "t.yml:5:5: unknown field \"intervall\" in a test group; did you mean \"interval\"?"
            ),
            "{}",
            e[3]
        );
        let e = errs("tests:\n  - input_series:\n      - {series: x, value: 1}\n");
        assert!(
            e[0].starts_with(
                "t.yml:3:21: unknown field \"value\" in an input series; did you mean \"values\"?"
            ),
            "{}",
            e[0]
        );
        let e = errs("tests: [\n");
        assert!(e[0].starts_with("t.yml:"), "{}", e[0]);
        assert!(e[0].contains("not a valid test file"), "{}", e[0]);
    }

    #[test]
    fn an_alert_test_without_alertname_fails_its_group_only() {
        let f =
            ok("tests:\n  - name: a\n    alert_rule_test:\n      - eval_time: 5m\n  - name: b\n");
        assert_eq!(
            f.tests[0].problem.as_deref(),
            Some(
                "an item under alert_rule_test misses required attribute alertname at eval_time 5m (in TestGroup a)"
            )
        );
        assert!(f.tests[1].problem.is_none());
    }
}
