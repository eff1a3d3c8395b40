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
//!
//! Layers: each module imports from the module's lines below its own only, so the
//! internal dependencies point one way, down this list (checked by a test below):
//!
//! 1. `mod` (this file): [`Template`], compiled once and rendered many times;
//! 2. `exec`, the tree walker; `lint`, `inputs` and `label_refs`, what the loader and
//!    the rule linter learn from a tree;
//! 3. `funcs`, the functions templates call; `methods`, the Go methods with arguments;
//!    `data`, the alert data as values;
//! 4. `builtins`, Go's builtin functions; `context`, what a render is given;
//! 5. `library`, the definitions loaded with -rule.templates;
//! 6. `parse`, tokens into the tree (and, through lex, text into the tree);
//! 7. `lex`, text into tokens;
//! 8. `printf`, `humanize`, `escape`, `gotime`: Go's, Prometheus' and vmalert's
//!    formatting;
//! 9. `error`, every error of the module and how its position is told;
//! 10. `value`, what templates compute with;
//! 11. `gofmt`, Go's float formatting; `ast`, the tree; `limits`, the bounds on work;
//!     `names`, the functions the parser accepts.

mod ast;
mod builtins;
mod context;
mod data;
mod error;
mod escape;
mod exec;
mod funcs;
pub mod gofmt;
mod gotime;
mod humanize;
mod inputs;
mod label_refs;
mod lex;
mod library;
mod limits;
mod lint;
mod methods;
mod names;
mod parse;
mod printf;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use context::{Context, TemplateQuerier};
pub use error::{LibraryError, TemplateError};
pub use escape::{QueryEscaped, html_escape, query_escape};
pub use gofmt::format_e_shortest;
pub use inputs::Inputs;
pub use library::{Library, SharedLibrary};
pub use limits::{MAX_DEPTH, MAX_OUTPUT, MAX_QUERIES, MAX_STEPS};
pub use names::FUNCTIONS;
pub use printf::go_quote;
pub use value::format_go_duration;

use ast::Node;

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

impl Template {
    /// Compiles `text`; `name` names it in error messages (e.g. `summary`).
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let parsed = parse::compile(text, data::PREDEFINED)?;
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
        let mut env = exec::Env::new(
            ctx,
            &inner.defines,
            ctx.library.as_deref(),
            inner.source.len() + 32,
        );
        match env.run(&inner.root) {
            Ok(()) => Ok(env.out),
            Err(e) => Err(e.describe(&inner.name, &inner.source)),
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

    /// The alert labels the template reads by name (`$labels.job`, `.Labels.job`,
    /// `index $labels "job"`); reads it cannot be sure of are left out.
    pub fn label_refs(&self) -> std::collections::BTreeSet<String> {
        label_refs::of(&self.inner.root)
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    /// The layers of the module doc: module name → line number.
    fn layers(doc: &str) -> HashMap<String, usize> {
        let mut rank = HashMap::new();
        let mut line = 0;
        for l in doc.lines().map_while(|l| l.strip_prefix("//!")) {
            let l = l.trim_start();
            if let Some((n, rest)) = l.split_once(". ")
                && let Ok(n) = n.parse::<usize>()
            {
                line = n;
                collect(rest, line, &mut rank);
            } else if line > 0 && !l.is_empty() {
                collect(l, line, &mut rank);
            } else if line > 0 {
                break;
            }
        }
        rank
    }

    /// The `code` spans of a doc line that are not links (links name items, not modules).
    fn collect(text: &str, line: usize, rank: &mut HashMap<String, usize>) {
        let parts: Vec<&str> = text.split('`').collect();
        for i in (1..parts.len()).step_by(2) {
            if !parts[i - 1].ends_with('[') {
                let twice = rank.insert(parts[i].to_string(), line).is_some();
                assert!(!twice, "`{}` is in two layers", parts[i]);
            }
        }
    }

    #[test]
    fn every_module_imports_only_from_the_layers_below_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/template");
        let rank = layers(include_str!("mod.rs"));
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("src/template") {
            let path = entry.expect("entry").path();
            let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
            let text = std::fs::read_to_string(&path).expect("readable");
            let Some(&own) = rank.get(name) else {
                panic!("src/template/{name}.rs is missing from the layers in the module doc");
            };
            files += 1;
            // Unit tests may reach anywhere.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for prefix in ["super::", "crate::template::"] {
                for (i, _) in code.match_indices(prefix) {
                    let used: String = code[i + prefix.len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    // Anything but a sibling module is an item of `mod` itself.
                    let below = rank.get(&used).is_some_and(|&r| r > own);
                    assert!(
                        below,
                        "{name}.rs (line {own} of the layers) uses {prefix}{used}, which is not below it"
                    );
                }
            }
        }
        assert_eq!(files, rank.len(), "every layer names a file: {rank:?}");
    }
}
