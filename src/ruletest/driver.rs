//! One test group, run as promtool runs it: every `evaluation_interval` from time 0 to
//! the largest `eval_time`, input samples up to that instant become visible, every
//! rule group is evaluated (in `group_eval_order`) by tocsin's own rule core, each
//! rule's output is written back to the store at once (so later rules, later
//! evaluations and the expression tests see it), and the alert tests due in that
//! interval compare the firing alerts. Expression tests run last, on everything
//! written.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::check::{self, AlertCheck};
use super::file::{Flavour, TestGroup};
use super::format::go_duration;
use crate::config;
use crate::labels::Labels;
use crate::rule::{EvalTime, Rule, RuleContext, RuleSettings};
use crate::sample::Sample;
use crate::template::TemplateQuerier;

/// Rule evaluations one test group may run (evaluation steps × rules): a test asking
/// for `eval_time: 10y` at a one-second interval gets a clear error, not hours of work.
pub const MAX_RULE_EVALUATIONS: u64 = 20_000_000;

/// Series with their samples, as `--debug` dumps them.
pub type SeriesDump = Vec<(Labels, Vec<(i64, f64)>)>;

/// What a test group runs on: the in-memory series store with the PromQL engine.
pub trait Backend: Send + Sync {
    /// An instant query at `t_ms`: a vector, or a scalar as one sample without labels;
    /// anything else, or a failure, is the error text Prometheus would give.
    fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<Sample>, String>;
    /// Adds samples (input series, rule results, `ALERTS`, staleness markers).
    fn append(&mut self, samples: &[Sample]);
    /// Parses a series in the notation of `input_series` (`up{job="a"}`, `{a="b"}`,
    /// or empty for no labels), for the labels of expected samples.
    fn parse_labels(&self, text: &str) -> Result<Labels, String>;
    /// Every stored series with its samples in the range `(t_ms - t_ms, t_ms]` (what
    /// `{__name__=~".+"}[t]` selects at `t`), sorted by labels: `--debug`'s dump.
    fn dump(&self, t_ms: i64) -> Result<SeriesDump, String>;
}

/// How a test group's run ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// promtool's failure messages; empty when the group passed.
    pub errors: Vec<String>,
    /// Whether every evaluation and check ran (a rule error stops the group early).
    pub completed: bool,
}

/// An input series, expanded: samples in time order (staleness markers included).
#[derive(Debug, Clone)]
pub struct InputData {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// Everything one test group needs besides the store.
pub struct GroupRun<'a> {
    pub test: &'a TestGroup,
    pub flavour: Flavour,
    pub evaluation_interval: Duration,
    /// Rule groups in evaluation order.
    pub groups: &'a [Arc<config::Group>],
    pub fuzzy_compare: bool,
    /// `--diff`: alert differences as a coloured JSON difference.
    pub diff: bool,
}

/// A rule group's runtime rules and its query offset.
struct LiveGroup {
    spec: Arc<config::Group>,
    rules: Vec<Rule>,
    query_offset_ms: i64,
}

/// Template `query` calls answered by the store at the evaluation's query time.
struct StoreQuerier<'a> {
    backend: &'a dyn Backend,
    t_ms: i64,
}

impl TemplateQuerier for StoreQuerier<'_> {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        self.backend.query(expr, self.t_ms)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl GroupRun<'_> {
    /// Runs the group.
    pub fn run(&self, backend: &mut dyn Backend, input: Vec<InputData>) -> Outcome {
        let mut outcome = Outcome::default();
        match self.run_checks(backend, input) {
            Ok(errors) => {
                outcome.errors = errors;
                outcome.completed = true;
            }
            Err(errors) => outcome.errors = errors,
        }
        outcome
    }

    /// The evaluations and checks: `Err` when they stopped early.
    fn run_checks(
        &self,
        backend: &mut dyn Backend,
        input: Vec<InputData>,
    ) -> Result<Vec<String>, Vec<String>> {
        let interval = ms(self.evaluation_interval).max(1);
        let max_t = self.max_eval_time();
        let steps = (max_t / interval) as u64 + 1;
        let rule_count: usize = self.groups.iter().map(|g| g.rules.len()).sum();
        if steps.saturating_mul(rule_count as u64) > MAX_RULE_EVALUATIONS {
            return Err(vec![format!(
                "    the largest eval_time ({}) at evaluation_interval {} needs {steps} \
                 evaluations of {rule_count} rules, more than the {MAX_RULE_EVALUATIONS} \
                 rule evaluations a test group may run; raise evaluation_interval or \
                 lower eval_time",
                super::format::model_duration(Duration::from_millis(max_t as u64)),
                super::format::model_duration(self.evaluation_interval),
            )]);
        }
        let mut groups = self.live_groups();
        let mut feed = Feed::new(input);
        let mut alert_checks = AlertCheck::due_list(&self.test.alert_tests);
        let mut errors = Vec::new();
        let mut ts = 0i64;
        while ts <= max_t {
            backend.append(&feed.until(ts));
            let eval_errors = self.evaluate(backend, &mut groups, ts);
            if !eval_errors.is_empty() {
                errors.extend(eval_errors);
                return Err(errors);
            }
            let mut firing = None;
            while let Some(c) = alert_checks.front() {
                let at = ms(c.eval_time);
                if !(ts <= at && at < ts.saturating_add(interval)) {
                    break;
                }
                let firing = firing.get_or_insert_with(|| self.alerts_for(&groups));
                errors.extend(c.compare(self.test, self.flavour, firing, self.diff));
                alert_checks.pop_front();
            }
            ts = match ts.checked_add(interval) {
                Some(t) => t,
                None => break,
            };
        }
        for t in &self.test.expr_tests {
            errors.extend(check::expr_test(t, &*backend, self.fuzzy_compare));
        }
        Ok(errors)
    }

    /// The largest `eval_time` of the group's tests, in milliseconds.
    pub fn max_eval_time(&self) -> i64 {
        let alerts = self.test.alert_tests.iter().map(|t| t.eval_time);
        let exprs = self.test.expr_tests.iter().map(|t| t.eval_time);
        alerts.chain(exprs).max().map(ms).unwrap_or(0)
    }

    fn live_groups(&self) -> Vec<LiveGroup> {
        self.groups
            .iter()
            .map(|g| {
                let settings = RuleSettings {
                    default_interval: self.test.interval,
                    external_labels: self.test.external_labels.clone(),
                    external_labels_on_series: false,
                    external_url: self.test.external_url.clone(),
                    // promtool's alerts carry no `alertgroup`; vmalert-tool's do.
                    disable_alertgroup_label: self.flavour == Flavour::Promtool,
                    ..RuleSettings::default()
                };
                let ctx = Arc::new(RuleContext::for_group(g, &settings));
                LiveGroup {
                    rules: g
                        .rules
                        .iter()
                        .map(|r| Rule::from_spec(r.clone(), ctx.clone()))
                        .collect(),
                    query_offset_ms: g.query_offset.map(ms).unwrap_or(0),
                    spec: g.clone(),
                }
            })
            .collect()
    }

    /// One evaluation of every group at `ts`; returns promtool's messages for the rules
    /// that failed.
    fn evaluate(
        &self,
        backend: &mut dyn Backend,
        groups: &mut [LiveGroup],
        ts: i64,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        for g in groups.iter_mut() {
            let q = ts - g.query_offset_ms;
            let t = EvalTime {
                ts_ms: ts,
                query_ts_ms: q,
            };
            for rule in &mut g.rules {
                let out = {
                    let store: &dyn Backend = backend;
                    let result = store.query(rule.expr(), q);
                    let tq = StoreQuerier {
                        backend: store,
                        t_ms: q,
                    };
                    rule.step(result, t, Some(&tq))
                };
                backend.append(&out.series);
                if let Some(e) = rule.last_error() {
                    errors.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        rule.name(),
                        go_duration(ts)
                    ));
                }
            }
        }
        errors
    }

    /// Firing alerts of every alerting rule, by (group name, alert name), in group order.
    fn alerts_for(&self, groups: &[LiveGroup]) -> HashMap<(String, String), Vec<check::Got>> {
        let mut out: HashMap<(String, String), Vec<check::Got>> = HashMap::new();
        for g in groups {
            for r in &g.rules {
                let Rule::Alerting(a) = r else { continue };
                let firing = a
                    .alerts()
                    .filter(|x| x.state == crate::rule::AlertState::Firing)
                    .map(|x| check::Got {
                        labels: x.labels.clone(),
                        annotations: x
                            .annotations
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    });
                out.entry((g.spec.name.clone(), a.spec().name().to_string()))
                    .or_default()
                    .extend(firing);
            }
        }
        out
    }
}

/// Input samples made visible step by step, as promtool's lazy loader does: a query at
/// `t` never sees input samples after the last evaluation time reached.
struct Feed {
    series: Vec<(InputData, usize)>,
}

impl Feed {
    fn new(input: Vec<InputData>) -> Feed {
        Feed {
            series: input.into_iter().map(|s| (s, 0)).collect(),
        }
    }

    /// The samples with timestamps up to `t` not handed out yet.
    fn until(&mut self, t: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        for (s, next) in &mut self.series {
            while let Some(&(ts, v)) = s.samples.get(*next) {
                if ts > t {
                    break;
                }
                out.push(Sample {
                    labels: s.labels.clone(),
                    value: v,
                    timestamp_ms: ts,
                });
                *next += 1;
            }
        }
        out
    }
}
