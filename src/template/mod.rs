//! Go text/template-compatible templates for alert labels and annotations.
//!
//! PLACEHOLDER: this module is being written under issue 3. The interface below is the
//! contract the loader uses: `Template::parse` at load time, errors carry a position.

use std::fmt;

/// A compiled template.
#[derive(Clone, Debug)]
pub struct Template {
    source: String,
}

/// A template that failed to parse; `line`/`col` are 1-based within the template text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct TemplateError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Template {
    /// Compiles `text`; `name` names it in error messages (e.g. `summary`).
    pub fn parse(_name: &str, text: &str) -> Result<Template, TemplateError> {
        Ok(Template {
            source: text.to_string(),
        })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

use std::time::{Duration, SystemTime};

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
    pub querier: Option<&'a dyn TemplateQuerier>,
}

impl Template {
    /// Renders; execution errors never fail the caller: the result is Prometheus'
    /// `<error expanding template: …>` text.
    pub fn render(&self, _ctx: &Context<'_>) -> String {
        self.source.clone()
    }

    /// True when the template has no actions (renders to its source at no cost).
    pub fn is_static(&self) -> bool {
        !self.source.contains("{{")
    }

    /// True when the template calls `query` (must be rendered off the async runtime).
    pub fn uses_query(&self) -> bool {
        self.source.contains("query")
    }
}
