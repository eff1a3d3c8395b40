//! The template tree: what the parser produces and the evaluator walks.

use std::sync::Arc;

use crate::labels::Str;

/// A node of the template tree.
#[derive(Debug, Clone)]
pub enum Node {
    Text(Arc<str>),
    Action(Pipe),
    If(Box<Branch>),
    With(Box<Branch>),
    Range(Box<Branch>),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
/// `if`/`with`/`range`: the pipeline, the body, and the `{{else}}` part.
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
/// A pipeline with its optional declaration (`$x :=`) or assignment (`$x =`).
pub struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
/// One stage of a pipeline: a function call or a single operand.
pub struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
    /// Start offset of each argument, for error positions.
    pub arg_pos: Vec<usize>,
    /// Source text of each argument, as Go names nodes in errors.
    pub arg_text: Vec<String>,
}

impl Cmd {
    /// The command as Go prints it in "executing … at <…>".
    pub fn text(&self) -> String {
        self.arg_text.join(" ")
    }
}

/// An operand.
#[derive(Debug, Clone)]
pub enum Arg {
    Dot,
    Nil,
    Bool(bool),
    Str(Str),
    Int(i64),
    Float(f64),
    /// `.A.B` on dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// `(pipe).A.B`.
    Chain(Box<Arg>, Vec<String>),
    Pipe(Box<Pipe>),
}

/// Go's number constants: integers stay `int`, anything with `.`, `e` or `p` (not hex)
/// becomes `float64`.
pub(crate) fn number(s: &str) -> Option<Arg> {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|c| c.is_ascii_digit()) {
        lower.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Arg::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    Some(Arg::Float(if neg { -f } else { f }))
}
