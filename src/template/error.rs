//! The module's errors, from the lexer to a function call: where each is raised, and
//! how a position becomes the 1-based line and column users read.

use std::path::PathBuf;
use std::sync::Arc;

use super::ast::{Arg, Cmd};
use super::value::Value;

/// A lexing or parsing error at a byte offset of the template text.
#[derive(Debug)]
pub struct SyntaxError {
    pub pos: usize,
    pub msg: String,
}

/// Fails with a [`SyntaxError`] at `pos`.
pub fn syntax<T>(pos: usize, msg: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        pos,
        msg: msg.into(),
    })
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
    /// The error `message` at byte offset `pos` of `text`.
    pub(crate) fn at(text: &str, pos: usize, message: String) -> Self {
        let (line, col) = line_col(text, pos);
        TemplateError { line, col, message }
    }
}

/// 1-based line and character column of byte offset `pos`.
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Why the template library failed to load.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("bad glob pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: PathBuf, message: String },
    #[error("{path}:{err}")]
    Parse { path: PathBuf, err: TemplateError },
    #[error("{path}: template {name:?} is defined more than once")]
    Duplicate { path: PathBuf, name: String },
}

/// An execution error at a node.
#[derive(Debug, Default)]
pub struct ExecError {
    pub pos: usize,
    pub at: String,
    pub msg: String,
    /// The `{{define}}`d template executing when the error happened (Go names it).
    pub tmpl: Option<String>,
    /// For a `-rule.templates` definition: its file and text, to place `pos`.
    pub lib: Option<(Arc<str>, Arc<str>)>,
}

/// Length of `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}`,
/// which Prometheus prepends to alert templates, shifting Go's error columns on line 1.
const PROMETHEUS_DEFS_LEN: usize = 112;

/// 0-based byte column of `pos` within its line, as Go reports execution errors.
fn line_byte_col(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    pos - text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

impl ExecError {
    /// An error of the command `c` as a whole.
    pub(super) fn at_cmd(c: &Cmd, msg: String) -> ExecError {
        ExecError {
            pos: c.pos,
            at: c.text(),
            msg,
            ..Default::default()
        }
    }

    /// A function's error, worded as Go's text/template words it: a wrong type in an
    /// argument written in the command points at that argument; one in the piped value
    /// (beyond the written ones) at the command.
    pub(super) fn of_call(name: &str, c: &Cmd, e: FuncError) -> ExecError {
        let explicit = c.args.len() - 1;
        match e {
            FuncError::Call(m) => ExecError::at_cmd(c, format!("error calling {name}: {m}")),
            FuncError::Arg(m) => ExecError::at_cmd(c, m),
            FuncError::Type {
                index,
                expected,
                got,
            } => {
                if index >= explicit {
                    return ExecError::at_cmd(
                        c,
                        format!("wrong type for value; expected {expected}; got {got}"),
                    );
                }
                let (pos, text) = (c.arg_pos[index + 1], c.arg_text[index + 1].clone());
                let msg = match &c.args[index + 1] {
                    Arg::Str(_) | Arg::Int(_) | Arg::Float(_) | Arg::Bool(_) => {
                        if matches!(expected, "string" | "float64" | "int" | "bool") {
                            format!("expected {expected}; found {text}")
                        } else {
                            format!("can't handle {text} for arg of type {expected}")
                        }
                    }
                    _ => format!("wrong type for value; expected {expected}; got {got}"),
                };
                ExecError {
                    pos,
                    at: text,
                    msg,
                    ..Default::default()
                }
            }
        }
    }

    /// The error as Prometheus words it, for the template `name` whose text is `source`.
    pub fn describe(&self, name: &str, source: &str) -> String {
        // Go reports a 0-based byte column; Prometheus prepends 112 bytes of variable
        // definitions to line 1 of every alert template. A library definition is placed
        // in its own file.
        let (file, text, defs_len) = match &self.lib {
            Some((file, text)) => (&**file, &**text, 0),
            None => (name, source, PROMETHEUS_DEFS_LEN),
        };
        let (line, _) = line_col(text, self.pos);
        let col = line_byte_col(text, self.pos) + if line == 1 { defs_len } else { 0 };
        let executing = self.tmpl.as_deref().unwrap_or(name);
        let at = if self.at.is_empty() {
            String::new()
        } else {
            format!(" at <{}>", self.at)
        };
        format!(
            "error executing template {name}: template: {file}:{line}:{col}: executing {executing:?}{at}: {}",
            self.msg
        )
    }
}

/// A function failure: `Call` errors are prefixed "error calling NAME:", `Arg` errors
/// (wrong count or type) are reported as they are.
pub enum FuncError {
    Call(String),
    Arg(String),
    /// Argument `index` has the wrong type (Go reports it at the argument).
    Type {
        index: usize,
        expected: &'static str,
        got: &'static str,
    },
}

/// What every template function returns.
pub type FResult = Result<Value, FuncError>;
