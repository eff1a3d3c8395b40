//! Walks the parsed tree against a [`Context`], with Go's scoping and control flow and
//! hard bounds on work (steps, output size, nesting, queries).

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{Arg, Branch, Cmd, Node, Pipe};
use super::context::Context;
use super::data::{ctx_var, describe, label_value};
use super::error::ExecError;
use super::funcs;
use super::library::Library;
use super::limits::{MAX_DEPTH, MAX_OUTPUT, MAX_STEPS};
use super::methods::{self, method_target};
use super::value::{Value, format_go_duration, format_go_time};

/// Go's `%v` of Prometheus' template data: `{map[…] map[…] url value}`.
fn root_struct(c: &Context<'_>, out: &mut String) {
    out.push('{');
    Value::Labels(c.labels.clone()).write_v(out);
    out.push(' ');
    Value::Labels(c.external_labels.clone()).write_v(out);
    out.push(' ');
    out.push_str(c.external_url);
    out.push(' ');
    Value::Float(c.value).write_v(out);
    out.push('}');
}

/// How Go names the type of Prometheus' template data in errors.
const ROOT_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }";

enum Flow {
    Normal,
    Break,
    Continue,
}

type EResult<T> = Result<T, ExecError>;

/// State of one render: output, variable scopes, budgets.
pub struct Env<'a, 'c> {
    pub ctx: &'a Context<'c>,
    pub defines: &'a HashMap<String, Arc<Vec<Node>>>,
    pub library: Option<&'a Library>,
    pub out: String,
    /// `$` of the template being executed.
    root: Value,
    vars: Vec<(String, Value)>,
    steps: u64,
    depth: usize,
    queries: usize,
}

impl<'a, 'c> Env<'a, 'c> {
    /// `cap` pre-sizes the output, usually to the template's length.
    pub fn new(
        ctx: &'a Context<'c>,
        defines: &'a HashMap<String, Arc<Vec<Node>>>,
        library: Option<&'a Library>,
        cap: usize,
    ) -> Self {
        Env {
            ctx,
            defines,
            library,
            out: String::with_capacity(cap),
            root: Value::Root,
            vars: Vec::new(),
            steps: 0,
            depth: 0,
            queries: 0,
        }
    }

    /// Executes the main tree with the alert data as dot.
    pub fn run(&mut self, nodes: &[Node]) -> EResult<()> {
        let dot = Value::Root;
        self.list(&dot, nodes).map(|_| ())
    }

    fn step(&mut self, pos: usize) -> EResult<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(ExecError {
                pos,
                at: String::new(),
                msg: format!("template evaluation exceeded {MAX_STEPS} steps"),
                ..Default::default()
            });
        }
        if self.out.len() > MAX_OUTPUT {
            return Err(ExecError {
                pos,
                at: String::new(),
                msg: format!("template output exceeded {MAX_OUTPUT} bytes"),
                ..Default::default()
            });
        }
        Ok(())
    }

    fn list(&mut self, dot: &Value, nodes: &[Node]) -> EResult<Flow> {
        for n in nodes {
            match self.node(dot, n)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, dot: &Value, n: &Node) -> EResult<Flow> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                self.step(p.pos)?;
                let v = self.pipe(dot, p, true)?;
                if p.decl.is_empty() {
                    match v {
                        Value::Missing => self.out.push_str("<no value>"),
                        Value::Root => self.write_root(),
                        v => v.write_v(&mut self.out),
                    }
                }
            }
            Node::If(b) => return self.branch(dot, b, false),
            Node::With(b) => return self.branch(dot, b, true),
            Node::Range(b) => return self.range(dot, b),
            Node::Template { pos, name, pipe } => {
                self.step(*pos)?;
                let d = match pipe {
                    Some(p) => self.pipe(dot, p, true)?,
                    None => Value::Missing,
                };
                let (body, lib) = match self.defines.get(name) {
                    Some(b) => (b.clone(), None),
                    None => match self.library.and_then(|l| l.get(name)) {
                        Some(d) => (d.body.clone(), Some((d.file.clone(), d.text.clone()))),
                        None => {
                            return Err(ExecError {
                                pos: *pos,
                                at: format!("{{{{template {name:?}}}}}"),
                                msg: format!("template {name:?} not defined"),
                                ..Default::default()
                            });
                        }
                    },
                };
                if self.depth >= MAX_DEPTH {
                    return Err(ExecError {
                        pos: *pos,
                        at: format!("{{{{template {name:?}}}}}"),
                        msg: format!("exceeded maximum template depth ({MAX_DEPTH})"),
                        ..Default::default()
                    });
                }
                self.depth += 1;
                let saved = std::mem::take(&mut self.vars);
                let saved_root = std::mem::replace(&mut self.root, d.clone());
                let r = self.list(&d, &body);
                self.vars = saved;
                self.root = saved_root;
                self.depth -= 1;
                // The innermost template names the error, as in Go.
                r.map_err(|mut e| {
                    if e.tmpl.is_none() {
                        e.tmpl = Some(name.clone());
                        e.lib = lib;
                    }
                    e
                })?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    /// Prints the data struct as Go's `%v` does: `{map[…] map[…] url value}`.
    fn write_root(&mut self) {
        let mut out = std::mem::take(&mut self.out);
        root_struct(self.ctx, &mut out);
        self.out = out;
    }

    fn branch(&mut self, dot: &Value, b: &Branch, with: bool) -> EResult<Flow> {
        self.step(b.pipe.pos)?;
        let mark = self.vars.len();
        let v = self.pipe(dot, &b.pipe, true)?;
        let r = if v.is_true() {
            if with {
                self.list(&v, &b.list)
            } else {
                self.list(dot, &b.list)
            }
        } else if let Some(el) = &b.else_list {
            self.vars.truncate(mark);
            self.list(dot, el)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn range(&mut self, dot: &Value, b: &Branch) -> EResult<Flow> {
        self.step(b.pipe.pos)?;
        let mark = self.vars.len();
        let v = self.pipe(dot, &b.pipe, false)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Labels(l) => l
                .iter()
                .map(|p| (Value::Str(p.name.clone()), Value::Str(p.value.clone())))
                .collect(),
            Value::Map(m) => m.iter().map(|(k, e)| (Value::str(k), e.clone())).collect(),
            Value::Missing => Vec::new(),
            other => {
                return Err(ExecError {
                    pos: b.pipe.pos,
                    at: "range".into(),
                    msg: format!("range can't iterate over {}", other.to_v()),
                    ..Default::default()
                });
            }
        };
        let mut result = Ok(Flow::Normal);
        if items.is_empty() {
            if let Some(el) = &b.else_list {
                result = self.list(dot, el).map(|_| Flow::Normal);
            }
        } else {
            for (k, e) in items {
                self.step(b.pipe.pos)?;
                self.vars.truncate(mark);
                match b.pipe.decl.len() {
                    0 => {}
                    1 => self.vars.push((b.pipe.decl[0].clone(), e.clone())),
                    _ => {
                        self.vars.push((b.pipe.decl[0].clone(), k));
                        self.vars.push((b.pipe.decl[1].clone(), e.clone()));
                    }
                }
                match self.list(&e, &b.list) {
                    Ok(Flow::Break) => break,
                    Ok(_) => {}
                    Err(er) => {
                        result = Err(er);
                        break;
                    }
                }
            }
        }
        self.vars.truncate(mark);
        result
    }

    fn pipe(&mut self, dot: &Value, p: &Pipe, declare: bool) -> EResult<Value> {
        let mut last: Option<Value> = None;
        for c in &p.cmds {
            last = Some(self.cmd(dot, c, last)?);
        }
        let v = last.unwrap_or(Value::Missing);
        if declare {
            for name in &p.decl {
                if p.is_assign {
                    self.assign(p, name, v.clone())?;
                } else {
                    self.vars.push((name.clone(), v.clone()));
                }
            }
        }
        Ok(v)
    }

    fn assign(&mut self, p: &Pipe, name: &str, v: Value) -> EResult<()> {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        } else if ctx_var(self.ctx, name).is_none() {
            // Go reports this at the pipeline's last command.
            let (pos, at) = p
                .cmds
                .last()
                .map_or((p.pos, String::new()), |c| (c.pos, c.text()));
            return Err(ExecError {
                pos,
                at,
                msg: format!("undefined variable: {name}"),
                ..Default::default()
            });
        } else {
            // A predefined variable being reassigned: it lives in the outermost scope.
            self.vars.insert(0, (name.to_string(), v));
        }
        Ok(())
    }

    fn var(&self, name: &str) -> Option<Value> {
        if name == "$" {
            return Some(self.root.clone());
        }
        if let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        ctx_var(self.ctx, name)
    }

    /// `$labels.x` / `$externalLabels.x` straight from the context, without building
    /// intermediate values: the most common action in alert templates.
    fn label_var(&self, name: &str, fields: &[String]) -> Option<Value> {
        let [field] = fields else { return None };
        let labels = match name {
            "$labels" => self.ctx.labels,
            "$externalLabels" => self.ctx.external_labels,
            _ => return None,
        };
        if self.vars.iter().any(|(n, _)| n == name) {
            return None;
        }
        Some(label_value(labels, field))
    }

    fn root_field(&self, name: &str) -> Option<Value> {
        let var = match name {
            "Labels" => "$labels",
            "Value" => "$value",
            "ExternalLabels" => "$externalLabels",
            "ExternalURL" => "$externalURL",
            "Expr" => "$expr",
            "ActiveAt" => "$activeAt",
            "For" => "$for",
            "AlertID" => "$alertID",
            "GroupID" => "$groupID",
            "Type" => "$type",
            "IsPartial" => "$isPartial",
            _ => return None,
        };
        ctx_var(self.ctx, var)
    }

    fn field(&self, v: Value, name: &str, pos: usize, at: &str) -> EResult<Value> {
        let bad = |msg: String| ExecError {
            pos,
            at: at.to_string(),
            msg,
            ..Default::default()
        };
        match v {
            Value::Root => self
                .root_field(name)
                .ok_or_else(|| bad(format!("can't evaluate field {name} in type {ROOT_TYPE}"))),
            Value::Labels(l) => Ok(label_value(&l, name)),
            Value::Map(m) => Ok(m.get(name).cloned().unwrap_or(Value::Missing)),
            Value::Sample(s) => match name {
                "Labels" => Ok(Value::Labels(s.labels.clone())),
                "Value" => Ok(Value::Float(s.value)),
                _ => Err(bad(format!(
                    "can't evaluate field {name} in type template.sample"
                ))),
            },
            Value::Time(ns) => match name {
                "Unix" => Ok(Value::Int(ns.div_euclid(1_000_000_000) as i64)),
                "UnixMilli" => Ok(Value::Int(ns.div_euclid(1_000_000) as i64)),
                "UnixNano" => Ok(Value::Int(ns as i64)),
                "UTC" => Ok(Value::Time(ns)),
                "String" => Ok(Value::string(format_go_time(ns))),
                _ => Err(bad(format!(
                    "can't evaluate field {name} in type *time.Time"
                ))),
            },
            Value::Duration(d) => match name {
                "Seconds" => Ok(Value::Float(d as f64 / 1e9)),
                "Minutes" => Ok(Value::Float(d as f64 / 6e10)),
                "Hours" => Ok(Value::Float(d as f64 / 3.6e12)),
                "Milliseconds" => Ok(Value::Int(d / 1_000_000)),
                "String" => Ok(Value::string(format_go_duration(d))),
                _ => Err(bad(format!(
                    "can't evaluate field {name} in type time.Duration"
                ))),
            },
            Value::Missing => Err(bad(format!("nil pointer evaluating interface {{}}.{name}"))),
            other => Err(bad(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            ))),
        }
    }

    fn fields(&self, mut v: Value, names: &[String], pos: usize, at: &str) -> EResult<Value> {
        for n in names {
            v = self.field(v, n, pos, at)?;
        }
        Ok(v)
    }

    fn cmd(&mut self, dot: &Value, c: &Cmd, last: Option<Value>) -> EResult<Value> {
        let first = &c.args[0];
        if let Arg::Func(name) = first {
            return self.call(dot, name, c, last);
        }
        if c.args.len() > 1 || last.is_some() {
            if let Some((recv, method)) = method_target(first) {
                return self.method(dot, c, &recv, method, last);
            }
            let at = describe(first);
            return Err(ExecError {
                pos: c.pos,
                msg: format!("can't give argument to non-function {at}"),
                at,
                ..Default::default()
            });
        }
        self.arg(dot, first, c.arg_pos[0])
    }

    /// `recv.Method arg…`: a Go method that takes arguments (see [`methods`]).
    fn method(
        &mut self,
        dot: &Value,
        c: &Cmd,
        recv: &Arg,
        name: &str,
        last: Option<Value>,
    ) -> EResult<Value> {
        let at = describe(&c.args[0]);
        let err = |msg: String| ExecError {
            pos: c.pos,
            at: at.clone(),
            msg,
            ..Default::default()
        };
        let target = self.arg(dot, recv, c.arg_pos[0])?;
        if !methods::has_method(&target, name) {
            return Err(err(format!("can't give argument to non-function {at}")));
        }
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args[1..] {
            args.push(self.arg(dot, a, c.pos)?);
        }
        args.extend(last);
        methods::call(&target, name, &args).map_err(err)
    }

    fn arg(&mut self, dot: &Value, a: &Arg, pos: usize) -> EResult<Value> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Nil => {
                return Err(ExecError {
                    pos,
                    at: "nil".into(),
                    msg: "nil is not a command".into(),
                    ..Default::default()
                });
            }
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Field(f) => self.fields(dot.clone(), f, pos, &describe(a))?,
            Arg::Var(name, f) => {
                if let Some(v) = self.label_var(name, f) {
                    return Ok(v);
                }
                let v = self.var(name).ok_or_else(|| ExecError {
                    pos,
                    at: name.clone(),
                    msg: format!("undefined variable: {name}"),
                    ..Default::default()
                })?;
                self.fields(v, f, pos, &describe(a))?
            }
            Arg::Chain(inner, f) => {
                let v = self.arg(dot, inner, pos)?;
                self.fields(v, f, pos, &describe(a))?
            }
            Arg::Pipe(p) => {
                let mark = self.vars.len();
                let v = self.pipe(dot, p, true)?;
                self.vars.truncate(mark);
                v
            }
            Arg::Func(name) => {
                let c = Cmd {
                    pos,
                    args: vec![a.clone()],
                    arg_pos: vec![pos],
                    arg_text: vec![name.clone()],
                };
                return self.call(dot, name, &c, None);
            }
        })
    }

    fn call(&mut self, dot: &Value, name: &str, c: &Cmd, last: Option<Value>) -> EResult<Value> {
        self.step(c.pos)?;
        if name == "and" || name == "or" {
            return self.and_or(dot, name, c, last);
        }
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args[1..] {
            if matches!(a, Arg::Nil) {
                args.push(Value::Missing);
                continue;
            }
            args.push(self.arg(dot, a, c.pos)?);
        }
        if let Some(l) = last {
            args.push(l);
        }
        // The fmt family prints the data struct itself; nothing else can use it.
        if matches!(
            name,
            "print" | "printf" | "println" | "html" | "js" | "urlquery"
        ) {
            for a in args.iter_mut().filter(|a| matches!(a, Value::Root)) {
                let mut s = String::new();
                root_struct(self.ctx, &mut s);
                *a = Value::string(s);
            }
        }
        funcs::call(self.ctx, &mut self.queries, name, &args)
            .map_err(|e| ExecError::of_call(name, c, e))
    }

    /// `and` / `or` evaluate their arguments lazily, as Go does since 1.18: the first
    /// that decides the answer is returned and the rest are never evaluated.
    fn and_or(&mut self, dot: &Value, name: &str, c: &Cmd, last: Option<Value>) -> EResult<Value> {
        let n = c.args.len() - 1 + usize::from(last.is_some());
        if n == 0 {
            return Err(ExecError::at_cmd(
                c,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut v = Value::Missing;
        for a in &c.args[1..] {
            v = self.arg(dot, a, c.pos)?;
            if v.is_true() != (name == "and") {
                return Ok(v);
            }
        }
        if let Some(l) = last {
            v = l;
        }
        Ok(v)
    }
}
