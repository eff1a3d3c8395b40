//! Go text/template-compatible templates for alert labels and annotations.
//!
//! Rule files written for Prometheus and vmalert template their annotations in Go's
//! template language with Prometheus' function set; operators expect the rendered text
//! to be byte-identical. This is our own implementation (lexer → parser → tree walker
//! over a small `Value` enum) rather than a general crate, because the output
//! rules that matter (Go's `%v` for floats, `printf` verbs, `missingkey=zero`, the
//! humanize family) are Go-specific and must be exact. See docs/templates.md.
//!
//! Contract: templates are compiled once with [`Template::parse`] when rules load (a
//! parse error is a validation error carrying a 1-based line:col), and rendered with
//! [`Template::render`], which never fails: an execution error becomes Prometheus'
//! `<error expanding template: …>` text, is logged, and is counted in
//! [`render_errors`].
//!
//! Templates that call `query` ([`Template::uses_query`]) block on the datasource while
//! rendering: callers must render them on a blocking thread
//! (`tokio::task::spawn_blocking`), never on an async worker. Work per render is bounded
//! (steps, output size, nesting depth and number of queries; see [`MAX_STEPS`] and
//! its siblings).

mod ast;
mod builtins;
mod data;
mod escape;
mod exec;
mod funcs;
pub mod gofmt;
mod humanize;
mod inputs;
mod lex;
mod library;
mod lint;
mod parse;
mod printf;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crate::labels::Labels;
use crate::sample::Sample;

pub use exec::{MAX_DEPTH, MAX_OUTPUT, MAX_QUERIES, MAX_STEPS};
pub use funcs::FUNCTIONS;
pub use inputs::Inputs;
pub use library::{Library, LibraryError};

use parse::Node;

/// A compiled template; cheap to clone (the tree is shared).
#[derive(Clone, Debug)]
pub struct Template {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    source: String,
    root: Vec<Node>,
    defines: HashMap<String, Arc<Vec<Node>>>,
    is_static: bool,
    uses_query: bool,
    inputs: Inputs,
}

/// A template that failed to parse; `line`/`col` are 1-based within the template text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct TemplateError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl TemplateError {
    fn at(text: &str, pos: usize, message: String) -> Self {
        let (line, col) = line_col(text, pos);
        TemplateError { line, col, message }
    }
}

/// 1-based line and character column of byte offset `pos`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Length of `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}`,
/// which Prometheus prepends to alert templates, shifting Go's error columns on line 1.
const PROMETHEUS_DEFS_LEN: usize = 112;

/// 0-based byte column of `pos` within its line, as Go reports execution errors.
fn line_byte_col(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    pos - text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// Compiles text into a tree plus its `define`s; shared by templates and the library.
fn compile(text: &str, predeclared: &[&str]) -> Result<parse::Parsed, TemplateError> {
    let toks = lex::lex(text).map_err(|e| TemplateError::at(text, e.pos, e.msg))?;
    parse::parse(&toks, text, &funcs::is_function, predeclared)
        .map_err(|e| TemplateError::at(text, e.pos, e.msg))
}

impl Template {
    /// Compiles `text`; `name` names it in error messages (e.g. `summary`).
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let parsed = compile(text, exec::predefined())?;
        // Static means "renders to its source verbatim", so callers may use `source()`
        // directly; a comment-only template is not static (it renders to "").
        let is_static = parsed.defines.is_empty()
            && match parsed.root.as_slice() {
                [] => text.is_empty(),
                [Node::Text(t)] => **t == *text,
                _ => false,
            };
        let inputs = inputs::of(&parsed.root, &parsed.defines);
        Ok(Template {
            inner: Arc::new(Inner {
                name: name.to_string(),
                source: text.to_string(),
                root: parsed.root,
                defines: parsed.defines,
                is_static,
                uses_query: parsed.uses_query,
                inputs,
            }),
        })
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The name given at parse time.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Renders; execution errors never fail the caller: the result is Prometheus'
    /// `<error expanding template: …>` text, and the error is logged and counted.
    pub fn render(&self, ctx: &Context<'_>) -> String {
        match self.try_render(ctx) {
            Ok(s) => s,
            Err(e) => {
                RENDER_ERRORS.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(template = %self.inner.name, error = %e, "error expanding template");
                format!("<error expanding template: {e}>")
            }
        }
    }

    /// Renders, returning the execution error (in Prometheus' wording) instead of
    /// embedding it; for callers that want to report it themselves (e.g. tests, lint).
    pub fn try_render(&self, ctx: &Context<'_>) -> Result<String, String> {
        let inner = &*self.inner;
        if inner.is_static {
            return Ok(match inner.root.first() {
                Some(Node::Text(t)) => t.to_string(),
                _ => String::new(),
            });
        }
        let mut env = exec::Env::new(ctx, &inner.defines, ctx.library, inner.source.len() + 32);
        match env.run(&inner.root) {
            Ok(()) => Ok(env.out),
            Err(e) => {
                let name = &inner.name;
                // Go reports a 0-based byte column; Prometheus prepends 112 bytes of
                // variable definitions to line 1 of every alert template. A library
                // definition is placed in its own file.
                let (file, text, defs_len) = match &e.lib {
                    Some((file, text)) => (&**file, &**text, 0),
                    None => (name.as_str(), inner.source.as_str(), PROMETHEUS_DEFS_LEN),
                };
                let (line, _) = line_col(text, e.pos);
                let col = line_byte_col(text, e.pos) + if line == 1 { defs_len } else { 0 };
                let executing = e.tmpl.as_deref().unwrap_or(name);
                let at = if e.at.is_empty() {
                    String::new()
                } else {
                    format!(" at <{}>", e.at)
                };
                Err(format!(
                    "error executing template {name}: template: {file}:{line}:{col}: executing {executing:?}{at}: {}",
                    e.msg
                ))
            }
        }
    }

    /// True when the template has no actions: it renders to exactly [`Template::source`],
    /// at no cost.
    pub fn is_static(&self) -> bool {
        self.inner.is_static
    }

    /// Mistakes that will fail when executed (wrong argument counts for fixed-arity
    /// functions, number constants where a string is needed). Prometheus loads such
    /// templates, so `parse` accepts them; the loader can log these as warnings
    /// (positions 1-based, as for parse errors).
    pub fn warnings(&self) -> Vec<TemplateError> {
        let inner = &*self.inner;
        let mut w = Vec::new();
        lint::lint(&inner.root, &mut w);
        for body in inner.defines.values() {
            lint::lint(body, &mut w);
        }
        w.sort_by_key(|x| x.pos);
        w.into_iter()
            .map(|x| TemplateError::at(&inner.source, x.pos, x.message))
            .collect()
    }

    /// What the output depends on besides the labels and the rule's constants: a caller
    /// may reuse an earlier rendering for the same labels unless these changed.
    pub fn inputs(&self) -> Inputs {
        self.inner.inputs
    }

    /// True when the template calls `query` (must be rendered off the async runtime).
    pub fn uses_query(&self) -> bool {
        self.inner.uses_query
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.source)
    }
}

static RENDER_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Number of template executions that failed since start (each rendered as
/// `<error expanding template: …>`); exported as a metric by the caller.
pub fn render_errors() -> u64 {
    RENDER_ERRORS.load(Ordering::Relaxed)
}

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
    /// `{{ define }}`s loaded from `-rule.templates`, callable with `{{ template }}`.
    pub library: Option<&'a Library>,
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
            querier: None,
            library: None,
            eval_time: None,
        }
    }
}
