//! What a template sees: the alert data and the evaluation's services (datasource,
//! library, clock), supplied by the caller for each render.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use super::library::Library;
use crate::labels::Labels;
use crate::sample::Sample;

/// Runs the `query` template function. Blocking on purpose: rendering is synchronous,
/// so the caller renders templates that use `query` on a blocking thread
/// (`tokio::task::spawn_blocking`) and the implementation may `Handle::block_on` the
/// datasource client. The evaluation timestamp is fixed by the implementation.
pub trait TemplateQuerier: Send + Sync {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String>;
}

/// What a template sees: Prometheus' `$labels`, `$value`, `$externalLabels`,
/// `$externalURL` (and `.Labels` …) plus vmalert's extras.
pub struct Context<'a> {
    pub labels: &'a Labels,
    pub value: f64,
    pub external_labels: &'a Labels,
    pub external_url: &'a str,
    /// vmalert `$expr`.
    pub expr: &'a str,
    /// vmalert `$activeAt`.
    pub active_at: Option<SystemTime>,
    /// vmalert `$for`.
    pub for_: Duration,
    /// vmalert `$alertID`, `$groupID`.
    pub alert_id: u64,
    pub group_id: u64,
    /// vmalert `$type`: "prometheus".
    pub rule_type: &'a str,
    /// vmalert `$isPartial`: the datasource said the rule's answer may be partial
    /// (VictoriaMetrics cluster with a storage node down).
    pub is_partial: bool,
    pub querier: Option<&'a dyn TemplateQuerier>,
    /// `{{ define }}`s loaded from `-rule.templates`, callable with `{{ template }}`
    /// (held for the render: a reload may swap the rules' library meanwhile).
    pub library: Option<Arc<Library>>,
    /// The evaluation timestamp, for `now` (wall clock when `None`).
    pub eval_time: Option<SystemTime>,
}

fn empty_labels() -> &'static Labels {
    static EMPTY: OnceLock<Labels> = OnceLock::new();
    EMPTY.get_or_init(Labels::empty)
}

impl<'a> Context<'a> {
    /// A context with only labels and value set; other fields empty, as for a
    /// recording rule or a test. Set the rest with struct update syntax.
    pub fn new(labels: &'a Labels, value: f64) -> Context<'a> {
        Context {
            labels,
            value,
            external_labels: empty_labels(),
            external_url: "",
            expr: "",
            active_at: None,
            for_: Duration::ZERO,
            alert_id: 0,
            group_id: 0,
            rule_type: "prometheus",
            is_partial: false,
            querier: None,
            library: None,
            eval_time: None,
        }
    }
}
