//! The raw YAML layer of a unit-test file: every field promtool 3.5 and vmalert-tool
//! know, each with its position, and every unknown key, so that validation can name
//! the line of each problem and report them all at once.

use crate::config::raw::{RawMap, S, map_visitor};

/// A whole test file.
#[derive(Debug, Default)]
pub(super) struct RawTestFile {
    pub rule_files: Option<S<Vec<S<String>>>>,
    pub evaluation_interval: Option<S<String>>,
    pub group_eval_order: Option<S<Vec<S<String>>>>,
    pub tests: Option<S<Vec<S<RawTestGroup>>>>,
    pub fuzzy_compare: Option<S<bool>>,
    pub unknown: Vec<S<String>>,
}

/// One entry of `tests`.
#[derive(Debug, Default)]
pub(super) struct RawTestGroup {
    pub interval: Option<S<String>>,
    pub input_series: Option<S<Vec<S<RawSeries>>>>,
    pub alert_rule_test: Option<S<Vec<S<RawAlertTest>>>>,
    pub promql_expr_test: Option<S<Vec<S<RawExprTest>>>>,
    /// vmalert-tool's name for `promql_expr_test`.
    pub metricsql_expr_test: Option<S<Vec<S<RawExprTest>>>>,
    pub external_labels: Option<S<RawMap>>,
    pub external_url: Option<S<String>>,
    pub name: Option<S<String>>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(super) struct RawSeries {
    pub series: Option<S<String>>,
    pub values: Option<S<String>>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(super) struct RawAlertTest {
    pub eval_time: Option<S<String>>,
    pub alertname: Option<S<String>>,
    /// vmalert-tool: the group the alert comes from (its `alertgroup` label).
    pub groupname: Option<S<String>>,
    pub exp_alerts: Option<S<Vec<S<RawExpAlert>>>>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(super) struct RawExpAlert {
    pub exp_labels: Option<S<RawMap>>,
    pub exp_annotations: Option<S<RawMap>>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(super) struct RawExprTest {
    pub expr: Option<S<String>>,
    pub eval_time: Option<S<String>>,
    pub exp_samples: Option<S<Vec<S<RawExpSample>>>>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(super) struct RawExpSample {
    pub labels: Option<S<String>>,
    pub value: Option<S<f64>>,
    pub histogram: Option<S<String>>,
    pub unknown: Vec<S<String>>,
}

map_visitor!(RawTestFile, "a test file (a mapping with `rule_files` and `tests`)", {
    "rule_files" => rule_files,
    "evaluation_interval" => evaluation_interval,
    "group_eval_order" => group_eval_order,
    "tests" => tests,
    "fuzzy_compare" => fuzzy_compare,
});

map_visitor!(RawTestGroup, "a test group (a mapping with `input_series` and tests)", {
    "interval" => interval,
    "input_series" => input_series,
    "alert_rule_test" => alert_rule_test,
    "promql_expr_test" => promql_expr_test,
    "metricsql_expr_test" => metricsql_expr_test,
    "external_labels" => external_labels,
    "external_url" => external_url,
    "name" => name,
});

map_visitor!(RawSeries, "an input series (a mapping with `series` and `values`)", {
    "series" => series,
    "values" => values,
});

map_visitor!(RawAlertTest, "an alert test (a mapping with `eval_time`, `alertname` and `exp_alerts`)", {
    "eval_time" => eval_time,
    "alertname" => alertname,
    "groupname" => groupname,
    "exp_alerts" => exp_alerts,
});

map_visitor!(RawExpAlert, "an expected alert (a mapping with `exp_labels` and `exp_annotations`)", {
    "exp_labels" => exp_labels,
    "exp_annotations" => exp_annotations,
});

map_visitor!(RawExprTest, "an expression test (a mapping with `expr`, `eval_time` and `exp_samples`)", {
    "expr" => expr,
    "eval_time" => eval_time,
    "exp_samples" => exp_samples,
});

map_visitor!(RawExpSample, "an expected sample (a mapping with `labels` and `value`)", {
    "labels" => labels,
    "value" => value,
    "histogram" => histogram,
});

/// The valid fields of each mapping, for "unknown field" messages.
pub(super) const FILE_FIELDS: &str =
    "rule_files, evaluation_interval, group_eval_order, tests, fuzzy_compare";
pub(super) const GROUP_FIELDS: &str = "interval, input_series, alert_rule_test, \
     promql_expr_test, metricsql_expr_test, external_labels, external_url, name";
pub(super) const SERIES_FIELDS: &str = "series, values";
pub(super) const ALERT_TEST_FIELDS: &str = "eval_time, alertname, groupname, exp_alerts";
pub(super) const EXP_ALERT_FIELDS: &str = "exp_labels, exp_annotations";
pub(super) const EXPR_TEST_FIELDS: &str = "expr, eval_time, exp_samples";
pub(super) const EXP_SAMPLE_FIELDS: &str = "labels, value, histogram";

/// Parses the text of a test file; an empty file is an empty test file.
pub(super) fn parse(text: &str) -> Result<RawTestFile, serde_saphyr::Error> {
    let doc: Option<RawTestFile> =
        serde_saphyr::from_str_with_options(text, crate::config::yaml_options())?;
    Ok(doc.unwrap_or_default())
}
