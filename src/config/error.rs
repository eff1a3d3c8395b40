//! Load and validation errors: one value per problem, each knowing its file, position,
//! group and rule, so that `tocsin check` and reload logs can print them one per line
//! with enough context to fix the file without guessing.

use std::fmt;
use std::path::PathBuf;

use super::duration::DurationError;

/// Which rule an error is about: 0-based index in its group (printed 1-based, as
/// promtool does) and its alert or record name (may be empty when missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub index: usize,
    pub name: String,
}

/// One problem found while loading rule files.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    /// The file, or `None` for a problem with a `-rule` pattern itself.
    pub file: Option<PathBuf>,
    /// 1-based position in the file; 0 when not known (the file as a whole).
    pub line: usize,
    pub col: usize,
    pub group: Option<String>,
    pub rule: Option<RuleRef>,
    pub kind: ErrorKind,
}

/// What went wrong. The texts keep promtool's wording where one exists (people search
/// for it) and add what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error(
        "no file matches the pattern {0:?}; check the path and that the shell did not expand it"
    )]
    NoMatch(String),
    #[error("invalid file pattern {pattern:?}: {message}")]
    BadPattern { pattern: String, message: String },
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("cannot fetch the rules: {0}")]
    Fetch(String),
    #[error("the file is not UTF-8 text (is it a binary file?)")]
    NotUtf8,
    #[error("environment variable {0} is not set; set it or remove %{{{0}}} from the file")]
    MissingEnv(String),
    #[error("not a valid rule file: {0}")]
    Yaml(String),
    #[error("{}", unknown_field_message(field, context, valid))]
    UnknownField {
        field: String,
        context: &'static str,
        valid: &'static str,
    },
    #[error("group name must not be empty; give every group a `name`")]
    EmptyGroupName,
    #[error(
        "groupname: {name:?} is repeated in the same file (first at line {first_line}); group names must be unique per file"
    )]
    DuplicateGroup { name: String, first_line: usize },
    #[error(
        "invalid `{field}`: {error}; write e.g. 30s, 5m or 1h30m (units y w d h m s ms, largest first, whole numbers)"
    )]
    BadDuration {
        field: &'static str,
        error: DurationError,
    },
    #[error("`{field}` must not be negative (got {value})")]
    Negative { field: &'static str, value: i64 },
    #[error(
        "unsupported datasource type {0:?}: tocsin speaks the Prometheus query API only; remove `type` or set it to `prometheus`"
    )]
    UnsupportedType(String),
    #[error(
        "the group sets no `type`, so it takes -rule.defaultRuleType={0:?}, which tocsin cannot evaluate (it speaks the Prometheus query API only); set `type: prometheus` on the group or drop the flag"
    )]
    UnsupportedDefaultType(String),
    #[error("invalid `{field}` entry {value:?}: expected \"Name: value\"")]
    BadHeader { field: &'static str, value: String },
    #[error("`eval_offset` cannot be used with `eval_delay`; keep only one of them")]
    EvalOffsetWithDelay,
    #[error("`eval_offset` ({offset}) must not be larger than `interval` ({interval})")]
    EvalOffsetTooLarge { offset: String, interval: String },
    #[error("only one of 'record' and 'alert' must be set; split it into two rules")]
    BothRecordAndAlert,
    #[error("one of 'record' or 'alert' must be set")]
    NeitherRecordNorAlert,
    #[error("field 'expr' must be set in rule")]
    MissingExpr,
    #[error(
        "could not parse expression: {0} (set -rule.validateExpressions=false to skip this check for MetricsQL)"
    )]
    BadExpr(String),
    #[error(
        "invalid field '{0}' in recording rule; only alerting rules take it: remove it, or make this an `alert:` rule"
    )]
    RecordingField(&'static str),
    #[error(
        "could not parse `recover_expr`: {0} (it is PromQL, like `expr`: the condition under which a firing alert resolves)"
    )]
    BadRecoverExpr(String),
    #[error(
        "`recover_expr` must not be empty: give the condition under which a firing alert resolves, or remove the key"
    )]
    EmptyRecoverExpr,
    #[error(
        "`for_count` needs `{0}`: write `for_count: {{n: N, of: M}}` (fire when the series was returned in N of the last M evaluations)"
    )]
    MissingForCountField(&'static str),
    #[error(
        "invalid `for_count`: n: {n}, of: {of}; it needs 1 <= n <= of <= 64 (n of the last `of` evaluations; n consecutive is {{n: N, of: N}})"
    )]
    BadForCount { n: i64, of: i64 },
    #[error("`{0}` needs `state`: write `{0}: {{after: 5m, state: STATE}}` ({1})")]
    MissingPolicyState(&'static str, &'static str),
    #[error("{}", bad_state_message(field, got, valid))]
    BadPolicyState {
        field: &'static str,
        got: String,
        valid: &'static str,
    },
    #[error(
        "`flapping` needs `{0}`: write `flapping: {{changes: K, within: DURATION}}` (an alert that fires or resolves more than K times within DURATION is flapping)"
    )]
    MissingFlappingField(&'static str),
    #[error("invalid `flapping`: changes: {0}; it needs at least 1")]
    BadFlappingChanges(i64),
    #[error(
        "`flapping` window {within} is too short: it must be non-zero and at least {interval}, else it never sees two changes; make `within` several intervals long"
    )]
    FlappingWindowTooShort { within: String, interval: String },
    #[error(
        "`no_data` needs a selector in `expr`: {0:?} reads no series, so it never lacks data; remove `no_data` from this rule (or its group)"
    )]
    NoDataWithoutSelectors(String),
    #[error(
        "invalid recording rule name: {0}; a series name is any non-empty text without braces (put labels under `labels:`, selectors in `expr`)"
    )]
    BadRecordName(String),
    #[error(
        "invalid label name: {0}; a label name is any non-empty text, and __name__ cannot be set (use `record:` to name a series)"
    )]
    BadLabelName(String),
    #[error("invalid annotation name: {0}; an annotation name is any non-empty text")]
    BadAnnotationName(String),
    #[error("{what} {name:?}: template error at {line}:{col} of the value: {message}")]
    BadTemplate {
        what: &'static str,
        name: String,
        line: usize,
        col: usize,
        message: String,
    },
}

/// The word of the comma-separated `valid` closest to a misspelt `word`, if any is close.
fn closest<'a>(word: &str, valid: &'a str) -> Option<&'a str> {
    valid
        .split(", ")
        .map(|v| (edit_distance(word, v), v))
        .filter(|(d, v)| *d <= 2 && *d < v.len() / 2 + 1)
        .min()
        .map(|(_, v)| v)
}

fn bad_state_message(field: &str, got: &str, valid: &str) -> String {
    match closest(got, valid) {
        Some(v) => format!(
            "invalid `{field}` state {got:?}; did you mean {v:?}? valid states are: {valid}"
        ),
        None => format!("invalid `{field}` state {got:?}; valid states are: {valid}"),
    }
}

/// Names the valid field closest to a misspelt one, if any is close.
fn unknown_field_message(field: &str, context: &str, valid: &str) -> String {
    match closest(field, valid) {
        Some(v) => format!(
            "unknown field {field:?} in {context}; did you mean {v:?}? valid fields are: {valid}"
        ),
        None => format!("unknown field {field:?} in {context}; valid fields are: {valid}"),
    }
}

/// Levenshtein distance over chars; field names are short, so O(n·m) is nothing.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl LoadError {
    /// An error about a whole file (no position).
    pub(crate) fn file(file: &std::path::Path, kind: ErrorKind) -> Self {
        LoadError {
            file: Some(file.to_path_buf()),
            line: 0,
            col: 0,
            group: None,
            rule: None,
            kind,
        }
    }
}

impl fmt::Display for LoadError {
    /// `file:line:col: group "g", rule 2, "name": message`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:", file.display())?;
            if self.line > 0 {
                write!(f, "{}:{}:", self.line, self.col)?;
            }
            f.write_str(" ")?;
        }
        match (&self.group, &self.rule) {
            (Some(g), Some(r)) => write!(f, "group {g:?}, rule {}, {:?}: ", r.index + 1, r.name)?,
            (Some(g), None) => write!(f, "group {g:?}: ")?,
            (None, Some(r)) => write!(f, "rule {}, {:?}: ", r.index + 1, r.name)?,
            (None, None) => {}
        }
        // One problem, one line: names and parser messages may hold line breaks.
        let msg = self.kind.to_string();
        if msg.contains(['\n', '\r']) {
            f.write_str(&msg.replace('\n', "\\n").replace('\r', "\\r"))
        } else {
            f.write_str(&msg)
        }
    }
}

/// Every problem found in one load, in file order. Loading is all-or-nothing: if this
/// is returned, nothing was loaded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadErrors(pub Vec<LoadError>);

impl LoadErrors {
    pub fn iter(&self) -> impl Iterator<Item = &LoadError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for LoadErrors {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_field_names_only() {
        let valid = "record, alert, expr, for, labels, annotations";
        let msg = unknown_field_message("anotations", "rule", valid);
        assert!(msg.contains("did you mean \"annotations\"?"), "{msg}");
        let msg = unknown_field_message("exp", "rule", valid);
        assert!(msg.contains("did you mean \"expr\"?"), "{msg}");
        let msg = unknown_field_message("severity", "rule", valid);
        assert!(!msg.contains("did you mean"), "{msg}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
