//! The semantic core: alerting and recording rules as pure state machines.
//!
//! A rule's `step` takes a query result and explicit timestamps and returns the series to
//! write; alerting rules also say which alerts are due for (re)sending. Nothing here reads
//! the clock or does I/O, so live evaluation, replay and tests share this code.

pub mod alert;
pub mod alerting;
pub mod budget;
mod context;
pub mod deps;
pub mod limits;
pub mod link;
pub mod pause;
pub mod recording;
mod sorted;
pub mod watchdog;

use std::sync::Arc;
use std::time::Duration;

pub use alert::{Alert, AlertState, Annotations, MaybeMs, Notification};
pub use alerting::AlertingRule;
pub use budget::AlertBudget;
pub use context::{RuleContext, RuleSettings};
pub use limits::Limits;
pub use recording::RecordingRule;

use crate::config;
use crate::labels::Labels;
use crate::sample::Sample;
use crate::template::TemplateQuerier;

/// Shared copies of the label names and values that every alert or written series
/// carries: label sets built from these point at one string instead of allocating their
/// own (at 20,000 rules, those copies were megabytes).
pub(crate) mod shared {
    use std::sync::OnceLock;

    use crate::labels::Str;

    macro_rules! shared {
        ($($f:ident = $s:expr;)*) => {$(
            pub(crate) fn $f() -> Str {
                static V: OnceLock<Str> = OnceLock::new();
                V.get_or_init(|| Str::from($s)).clone()
            }
        )*};
    }

    shared! {
        metric_name = crate::labels::METRIC_NAME;
        alerts = "ALERTS";
        alerts_for_state = "ALERTS_FOR_STATE";
        alertstate = "alertstate";
        alertname = "alertname";
        alertgroup = "alertgroup";
        inactive = "inactive";
        pending = "pending";
        firing = "firing";
    }
}

/// The bit pattern Prometheus uses for a staleness marker: a NaN that ordinary
/// computations never produce, telling queries the series ended here.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness-marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// True for a staleness marker (not for other NaNs).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Milliseconds since the epoch as a `SystemTime` (negative values before the epoch).
pub fn system_time(ms: i64) -> std::time::SystemTime {
    let epoch = std::time::UNIX_EPOCH;
    if ms >= 0 {
        epoch + Duration::from_millis(ms as u64)
    } else {
        epoch - Duration::from_millis(ms.unsigned_abs())
    }
}

/// A `SystemTime` as milliseconds since the epoch (negative before it): the inverse of
/// [`system_time`].
pub fn epoch_ms(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Health of a rule after its last evaluation, as `/api/v1/rules` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    #[default]
    Unknown,
    Ok,
    Err,
}

impl Health {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// A rule's health after its last evaluation, shared by both kinds of rule.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    health: Health,
    last_error: Option<String>,
}

impl Outcome {
    pub(crate) fn health(&self) -> Health {
        self.health
    }

    pub(crate) fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Records a failed evaluation; the step produces nothing.
    pub(crate) fn fail(&mut self, error: String, samples: usize) -> StepOutput {
        self.health = Health::Err;
        self.last_error = Some(error.clone());
        StepOutput {
            series: Vec::new(),
            error: Some(error),
            samples,
        }
    }

    pub(crate) fn succeed(&mut self) {
        self.health = Health::Ok;
        self.last_error = None;
    }
}

/// What one evaluation step produced.
#[derive(Debug, Default)]
pub struct StepOutput {
    /// Series to write: results, `ALERTS`, `ALERTS_FOR_STATE` and staleness markers.
    pub series: Vec<Sample>,
    /// The error that made this evaluation fail, if any (also kept as `last_error`).
    pub error: Option<String>,
    /// Number of samples the query returned.
    pub samples: usize,
}

/// What the datasource answered for one evaluation of a rule: its `expr` and, for an
/// alerting rule with `recover_expr`, that expression at the same time.
#[derive(Debug)]
pub struct Answer {
    pub expr: Result<Vec<Sample>, String>,
    pub recover: Option<Result<Vec<Sample>, String>>,
    /// For a rule with `no_data` whose `expr` returned nothing: whether any selector of
    /// `expr` returned a series ([`Rule::presence_query`]). The engine asks only then;
    /// a failure of that query is a failure of the evaluation (`expr` is the error).
    pub has_data: Option<bool>,
    /// The datasource said `expr`'s answer may be partial (templates' `$isPartial`).
    pub partial: bool,
}

impl Answer {
    /// The answer of a rule that queries `expr` only.
    pub fn of(expr: Result<Vec<Sample>, String>) -> Answer {
        Answer {
            expr,
            recover: None,
            has_data: None,
            partial: false,
        }
    }
}

/// Evaluation timestamps of one step, in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalTime {
    /// The scheduled evaluation time: alert state times (`activeAt`, …) use it.
    pub ts_ms: i64,
    /// The time the query ran at (`ts - query_offset`); written series carry it.
    pub query_ts_ms: i64,
}

impl EvalTime {
    /// Both timestamps equal, as without `query_offset`.
    pub fn at(ts_ms: i64) -> EvalTime {
        EvalTime {
            ts_ms,
            query_ts_ms: ts_ms,
        }
    }
}

/// Either kind of rule, so a group holds one list in file order.
///
/// Boxed, each kind at its own size: inline, every rule took an alerting rule's room
/// (920 bytes; a recording rule needs 424), and a group's rules are moved between the
/// group task and the evaluation as a pointer instead of a copy (see "Memory per rule"
/// in docs/benchmarks.md).
#[derive(Debug)]
pub enum Rule {
    Alerting(Box<AlertingRule>),
    Recording(Box<RecordingRule>),
}

impl Rule {
    /// Builds the runtime rule for a validated definition, from a copy of it.
    pub fn new(spec: &config::Rule, ctx: Arc<RuleContext>) -> Rule {
        Rule::from_spec(Arc::new(spec.clone()), ctx)
    }

    /// Builds the runtime rule around a definition shared with the loaded rule set (a
    /// copy per rule was 280 bytes and the expression's, name's and labels' strings).
    pub fn from_spec(spec: Arc<config::Rule>, ctx: Arc<RuleContext>) -> Rule {
        match &spec.kind {
            config::RuleKind::Alerting(_) => {
                Rule::Alerting(Box::new(AlertingRule::from_spec(spec, ctx)))
            }
            config::RuleKind::Recording(_) => {
                Rule::Recording(Box::new(RecordingRule::from_spec(spec, ctx)))
            }
        }
    }

    pub fn spec(&self) -> &Arc<config::Rule> {
        match self {
            Rule::Alerting(r) => r.spec(),
            Rule::Recording(r) => r.spec(),
        }
    }

    /// The context the rule evaluates in (its group's, shared by the group's rules).
    pub fn context(&self) -> &Arc<RuleContext> {
        match self {
            Rule::Alerting(r) => r.context(),
            Rule::Recording(r) => r.context(),
        }
    }

    pub fn name(&self) -> &str {
        self.spec().name()
    }

    pub fn expr(&self) -> &str {
        &self.spec().expr
    }

    /// The second expression the rule queries at every evaluation: an alerting rule's
    /// `recover_expr`.
    pub fn recover_expr(&self) -> Option<&str> {
        match &self.spec().kind {
            config::RuleKind::Alerting(a) => a.ext.recover_expr.as_deref(),
            config::RuleKind::Recording(_) => None,
        }
    }

    /// The query that tells "no data" from "condition false" for a rule with
    /// `no_data`: non-empty when any selector of `expr` returns a series. The engine
    /// runs it when `expr` returned nothing and gives its answer in
    /// [`Answer::has_data`].
    pub fn presence_query(&self) -> Option<&str> {
        match self {
            Rule::Alerting(r) => r.presence_query(),
            Rule::Recording(_) => None,
        }
    }

    /// Whether the alerts of a failed evaluation are still sent (`on_error`).
    pub fn sends_after_error(&self) -> bool {
        match self {
            Rule::Alerting(r) => r.sends_after_error(),
            Rule::Recording(_) => false,
        }
    }

    /// Feeds one query result (or the query's error) at `t`.
    pub fn step(
        &mut self,
        result: Result<Vec<Sample>, String>,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> StepOutput {
        self.step_answer(Answer::of(result), t, querier)
    }

    /// Feeds what the datasource answered for every expression of the rule at `t`.
    pub fn step_answer(
        &mut self,
        answer: Answer,
        t: EvalTime,
        querier: Option<&dyn TemplateQuerier>,
    ) -> StepOutput {
        match self {
            Rule::Alerting(r) => r.step_answer(answer, t, querier),
            Rule::Recording(r) => r.step(answer.expr, t),
        }
    }

    /// True when templates of this rule call `query` (render off the async runtime).
    pub fn uses_query_templates(&self) -> bool {
        let s = self.spec();
        let in_labels = s.labels.iter().any(|(_, t)| t.uses_query());
        match &s.kind {
            config::RuleKind::Alerting(a) => {
                in_labels || a.annotations.iter().any(|(_, t)| t.uses_query())
            }
            config::RuleKind::Recording(_) => in_labels,
        }
    }

    /// Staleness markers at `ts_ms` for every series this rule wrote last time: used
    /// when a rule or group is removed, so its series end at once.
    pub fn stale_series(&mut self, ts_ms: i64) -> Vec<Sample> {
        let written = match self {
            Rule::Alerting(r) => r.take_written(),
            Rule::Recording(r) => r.take_written(),
        };
        staleness_markers(written.into_iter(), ts_ms)
    }

    pub fn health(&self) -> Health {
        match self {
            Rule::Alerting(r) => r.health(),
            Rule::Recording(r) => r.health(),
        }
    }

    pub fn last_error(&self) -> Option<&str> {
        match self {
            Rule::Alerting(r) => r.last_error(),
            Rule::Recording(r) => r.last_error(),
        }
    }
}

/// Adds `extra` labels to `base` where `base` has no label of that name.
pub(crate) fn add_missing(base: &Labels, extra: &Labels) -> Labels {
    if extra.is_empty() || extra.iter().all(|l| base.get(&l.name).is_some()) {
        return base.clone();
    }
    let mut b = base.to_builder();
    for l in extra.iter() {
        if base.get(&l.name).is_none() {
            b.set(l.name.clone(), l.value.clone());
        }
    }
    b.build()
}

/// Markers for series that were written before and are absent now.
pub(crate) fn staleness_markers(gone: impl Iterator<Item = Labels>, ts_ms: i64) -> Vec<Sample> {
    gone.map(|labels| stale_sample(labels, ts_ms)).collect()
}

pub(crate) fn stale_sample(labels: Labels, ts_ms: i64) -> Sample {
    Sample {
        labels,
        value: stale_nan(),
        timestamp_ms: ts_ms,
    }
}
