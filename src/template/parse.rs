//! Parses tokens into the tree the evaluator walks, checking at load time everything
//! Go checks at parse time: syntax, known functions, declared variables, `break`
//! placement, `define` nesting.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{Arg, Branch, Cmd, Node, Pipe, number};
use super::error::{SyntaxError, TemplateError, syntax};
use super::lex::{self, Tok, TokKind};
use super::limits::MAX_NESTING;
use super::names::is_function;

type PResult<T> = Result<T, SyntaxError>;

/// The parsed main tree plus the `{{define}}`d (and `{{block}}`) templates.
pub struct Parsed {
    pub root: Vec<Node>,
    pub defines: HashMap<String, Arc<Vec<Node>>>,
    pub uses_query: bool,
}

/// Why a list ended.
enum End {
    Eof,
    Close,
    Else(usize),
}

struct Parser<'a> {
    toks: &'a [Tok],
    i: usize,
    src: &'a str,
    src_len: usize,
    /// Current nesting of blocks and parentheses, bounded so that hostile input cannot
    /// exhaust the stack of the parser or the evaluator.
    depth: usize,
    /// Error position of the operand just parsed, when it is not its first token.
    node_pos: Option<usize>,
    vars: Vec<String>,
    range_depth: usize,
    defines: HashMap<String, Arc<Vec<Node>>>,
    uses_query: bool,
}

/// Compiles text into a tree plus its `define`s, with the variables `predeclared`;
/// shared by templates and the library.
pub fn compile(text: &str, predeclared: &[&str]) -> Result<Parsed, TemplateError> {
    let toks = lex::lex(text).map_err(|e| TemplateError::at(text, e.pos, e.msg))?;
    parse(&toks, text, predeclared).map_err(|e| TemplateError::at(text, e.pos, e.msg))
}

/// Parses a token stream.
fn parse(toks: &[Tok], src: &str, predeclared: &[&str]) -> PResult<Parsed> {
    let mut p = Parser {
        toks,
        i: 0,
        src,
        src_len: src.len(),
        node_pos: None,
        depth: 0,
        vars: std::iter::once("$")
            .chain(predeclared.iter().copied())
            .map(String::from)
            .collect(),
        range_depth: 0,
        defines: HashMap::new(),
        uses_query: false,
    };
    let (root, end) = p.list(true)?;
    match end {
        End::Eof => {}
        End::Close => return syntax(p.last_pos(), "unexpected {{end}}"),
        End::Else(pos) => return syntax(pos, "unexpected {{else}}"),
    }
    Ok(Parsed {
        root,
        defines: p.defines,
        uses_query: p.uses_query,
    })
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn last_pos(&self) -> usize {
        self.toks
            .get(self.i.saturating_sub(1))
            .map_or(self.src_len, |t| t.pos)
    }

    fn next(&mut self) -> PResult<Tok> {
        match self.toks.get(self.i) {
            Some(t) => {
                self.i += 1;
                Ok(t.clone())
            }
            None => syntax(self.src_len, "unexpected EOF"),
        }
    }

    fn expect_close(&mut self, ctx: &str) -> PResult<()> {
        let t = self.next()?;
        if t.kind != TokKind::Close {
            return syntax(t.pos, format!("unexpected {} in {ctx}", describe(&t.kind)));
        }
        Ok(())
    }

    /// Parses nodes until EOF, `{{end}}` or `{{else}}` (the latter two consumed up to
    /// the keyword; `{{end}}`'s closing delimiter is consumed too).
    fn list(&mut self, top: bool) -> PResult<(Vec<Node>, End)> {
        let mut nodes = Vec::new();
        while let Some(t) = self.peek().cloned() {
            self.i += 1;
            match t.kind {
                TokKind::Text(s) => nodes.push(Node::Text(s)),
                TokKind::Open => {
                    let kw = match self.peek() {
                        Some(Tok {
                            kind: TokKind::Ident(s),
                            ..
                        }) => s.clone(),
                        _ => String::new(),
                    };
                    let kpos = self.peek().map_or(t.pos, |k| k.pos);
                    match kw.as_str() {
                        "end" => {
                            self.i += 1;
                            self.expect_close("end")?;
                            return Ok((nodes, End::Close));
                        }
                        "else" => {
                            self.i += 1;
                            return Ok((nodes, End::Else(kpos)));
                        }
                        "if" | "with" | "range" => {
                            self.i += 1;
                            nodes.push(self.control(&kw)?);
                        }
                        "define" => {
                            self.i += 1;
                            if !top {
                                return syntax(kpos, "unexpected <define> in command");
                            }
                            self.define(kpos)?;
                        }
                        "block" => {
                            self.i += 1;
                            nodes.push(self.block(kpos)?);
                        }
                        "template" => {
                            self.i += 1;
                            nodes.push(self.template_call(kpos)?);
                        }
                        "break" | "continue" => {
                            self.i += 1;
                            if self.range_depth == 0 {
                                return syntax(kpos, format!("{{{{{kw}}}}} outside {{{{range}}}}"));
                            }
                            self.expect_close(&kw)?;
                            nodes.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        _ => {
                            let pipe = self.pipeline("command", false)?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                other => return syntax(t.pos, format!("unexpected {}", describe(&other))),
            }
        }
        Ok((nodes, End::Eof))
    }

    fn control(&mut self, kw: &str) -> PResult<Node> {
        self.enter()?;
        let r = self.control_inner(kw);
        self.depth -= 1;
        r
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return syntax(
                self.peek().map_or(self.src_len, |t| t.pos),
                format!("nesting deeper than {MAX_NESTING} levels"),
            );
        }
        Ok(())
    }

    fn control_inner(&mut self, kw: &str) -> PResult<Node> {
        let mark = self.vars.len();
        let pipe = self.pipeline(kw, kw == "range")?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list(false)?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            End::Eof => return syntax(self.src_len, "unexpected EOF".to_string()),
            End::Close => None,
            End::Else(_) => {
                // `{{else if …}}` / `{{else with …}}` chain into a nested node sharing our {{end}}.
                let chained = match self.peek() {
                    Some(Tok {
                        kind: TokKind::Ident(s),
                        ..
                    }) if (s == "if" && kw == "if") || (s == "with" && kw == "with") => {
                        Some(s.clone())
                    }
                    _ => None,
                };
                self.vars.truncate(mark);
                if let Some(k) = chained {
                    self.i += 1;
                    Some(vec![self.control(&k)?])
                } else {
                    self.expect_close("else")?;
                    let (el, end2) = self.list(false)?;
                    match end2 {
                        End::Close => {}
                        End::Else(p) => return syntax(p, "expected end; found {{else}}"),
                        End::Eof => return syntax(self.src_len, "unexpected EOF"),
                    }
                    Some(el)
                }
            }
        };
        self.vars.truncate(mark);
        let b = Box::new(Branch {
            pipe,
            list,
            else_list,
        });
        Ok(match kw {
            "if" => Node::If(b),
            "with" => Node::With(b),
            _ => Node::Range(b),
        })
    }

    fn template_name(&mut self, ctx: &str) -> PResult<String> {
        let t = self.next()?;
        match t.kind {
            TokKind::Str(s) => Ok(s.to_string()),
            other => syntax(
                t.pos,
                format!("unexpected {} in {ctx} clause", describe(&other)),
            ),
        }
    }

    fn define(&mut self, pos: usize) -> PResult<()> {
        let name = self.template_name("define")?;
        self.expect_close("define")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (body, end) = self.list(false)?;
        self.vars = saved;
        self.range_depth = saved_range;
        match end {
            End::Close => {}
            _ => return syntax(self.src_len, "unexpected EOF"),
        }
        self.add_define(pos, name, body)
    }

    fn add_define(&mut self, pos: usize, name: String, body: Vec<Node>) -> PResult<()> {
        if let Some(old) = self.defines.get(&name) {
            // Go allows redefinition only when one side is empty.
            if !old.is_empty()
                && !body
                    .iter()
                    .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
            {
                return syntax(
                    pos,
                    format!("template: multiple definition of template {name:?}"),
                );
            }
        }
        self.defines.insert(name, Arc::new(body));
        Ok(())
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        self.enter()?;
        let r = self.block_inner(pos);
        self.depth -= 1;
        r
    }

    fn block_inner(&mut self, pos: usize) -> PResult<Node> {
        let name = self.template_name("block")?;
        let pipe = self.pipeline("block", false)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (body, end) = self.list(false)?;
        self.vars = saved;
        self.range_depth = saved_range;
        if !matches!(end, End::Close) {
            return syntax(self.src_len, "unexpected EOF");
        }
        self.add_define(pos, name.clone(), body)?;
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_call(&mut self, _kw_pos: usize) -> PResult<Node> {
        let pos = self.peek().map_or(self.src_len, |t| t.pos);
        let name = self.template_name("template")?;
        let pipe = if matches!(self.peek().map(|t| &t.kind), Some(TokKind::Close)) {
            self.i += 1;
            None
        } else {
            Some(self.pipeline("template", false)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    /// Parses a pipeline up to and including the closing delimiter (or `)` when nested).
    fn pipeline(&mut self, ctx: &str, multi_decl: bool) -> PResult<Pipe> {
        let pos = self.peek().map_or(self.src_len, |t| t.pos);
        let (decl, is_assign) = self.declarations(ctx, multi_decl, pos)?;
        if matches!(
            self.peek().map(|t| &t.kind),
            Some(TokKind::Close) | Some(TokKind::RParen) | None
        ) {
            let p = self.peek().map_or(self.src_len, |t| t.pos);
            return syntax(p, format!("missing value for {ctx}"));
        }
        let cmds = self.commands(ctx)?;
        // A declared variable is in scope after its pipeline (an assigned one already was).
        if !is_assign {
            for d in &decl {
                self.vars.push(d.clone());
            }
        }
        Ok(Pipe {
            pos,
            decl,
            is_assign,
            cmds,
        })
    }

    /// The variables a pipeline starts by declaring (`$x :=`, `$i, $v :=` in `range`)
    /// or assigning (`$x =`), and whether it assigns; none (and nothing consumed) when
    /// it starts with a variable that is only read.
    fn declarations(
        &mut self,
        ctx: &str,
        multi_decl: bool,
        pos: usize,
    ) -> PResult<(Vec<String>, bool)> {
        if !matches!(self.peek().map(|t| &t.kind), Some(TokKind::Var(_))) {
            return Ok((Vec::new(), false));
        }
        let save = self.i;
        let mut names = Vec::new();
        while let Some(TokKind::Var(v)) = self.peek().map(|t| t.kind.clone()) {
            self.i += 1;
            names.push(v);
            match self.peek().map(|t| t.kind.clone()) {
                Some(TokKind::Comma) if multi_decl && names.len() < 2 => {
                    self.i += 1;
                }
                Some(TokKind::Declare) => {
                    self.i += 1;
                    return Ok((names, false));
                }
                Some(TokKind::Assign) if names.len() == 1 => {
                    self.i += 1;
                    if !self.vars.contains(&names[0]) {
                        // Go accepts this at parse time and fails when executing it.
                        self.vars.push(names[0].clone());
                    }
                    return Ok((names, true));
                }
                Some(TokKind::Comma) => {
                    let p = self.peek().map_or(pos, |t| t.pos);
                    return syntax(p, format!("too many declarations in {ctx}"));
                }
                _ => break,
            }
        }
        self.i = save;
        Ok((Vec::new(), false))
    }

    /// The commands of a pipeline, separated by `|`, up to and including the closing
    /// delimiter (or `)`); only the first may be a plain value.
    fn commands(&mut self, ctx: &str) -> PResult<Vec<Cmd>> {
        let mut cmds = Vec::new();
        loop {
            let c = self.command()?;
            if !cmds.is_empty()
                && let Some(first) = c.args.first()
                && matches!(
                    first,
                    Arg::Bool(_)
                        | Arg::Dot
                        | Arg::Nil
                        | Arg::Int(_)
                        | Arg::Float(_)
                        | Arg::Pipe(_)
                        | Arg::Str(_)
                )
            {
                return syntax(
                    c.pos,
                    format!(
                        "non executable command in pipeline stage {}",
                        cmds.len() + 1
                    ),
                );
            }
            cmds.push(c);
            let t = self.next()?;
            match t.kind {
                TokKind::Close | TokKind::RParen => return Ok(cmds),
                // Go accepts a trailing `|` before the closing delimiter.
                TokKind::Pipe
                    if matches!(
                        self.peek().map(|t| &t.kind),
                        Some(TokKind::Close) | Some(TokKind::RParen)
                    ) =>
                {
                    self.i += 1;
                    return Ok(cmds);
                }
                TokKind::Pipe => {}
                other => return syntax(t.pos, format!("unexpected {} in {ctx}", describe(&other))),
            }
        }
    }

    fn command(&mut self) -> PResult<Cmd> {
        let pos = self.peek().map_or(self.src_len, |t| t.pos);
        let mut args = Vec::new();
        let mut arg_pos = Vec::new();
        let mut arg_text = Vec::new();
        loop {
            match self.peek().map(|t| &t.kind) {
                None => return syntax(self.src_len, "unclosed action"),
                Some(TokKind::Pipe) if args.is_empty() => {
                    return syntax(pos, "unexpected \"|\" in command");
                }
                Some(TokKind::Close) | Some(TokKind::RParen) | Some(TokKind::Pipe) => break,
                _ => {}
            }
            if !args.is_empty() && !self.peek().is_some_and(|t| t.spaced) {
                let t = self.next()?;
                return syntax(t.pos, format!("missing space before {}", describe(&t.kind)));
            }
            let start = self.peek().map_or(self.src_len, |t| t.pos);
            args.push(self.operand()?);
            let end = self.peek().map_or(self.src_len, |t| t.pos);
            arg_pos.push(self.node_pos.unwrap_or(start));
            arg_text.push(
                self.src
                    .get(start..end)
                    .unwrap_or("")
                    .trim_end()
                    .to_string(),
            );
        }
        if args.is_empty() {
            return syntax(pos, "empty command");
        }
        Ok(Cmd {
            pos,
            args,
            arg_pos,
            arg_text,
        })
    }

    fn fields(&mut self) -> Vec<String> {
        let mut f = Vec::new();
        while let Some(Tok {
            kind: TokKind::Field(name),
            spaced: false,
            ..
        }) = self.peek()
        {
            f.push(name.clone());
            self.i += 1;
        }
        f
    }

    fn operand(&mut self) -> PResult<Arg> {
        self.node_pos = None;
        let t = self.next()?;
        let arg = match t.kind {
            TokKind::Dot => Arg::Dot,
            TokKind::Field(name) => {
                let mut f = vec![name];
                f.extend(self.fields());
                return Ok(Arg::Field(f));
            }
            TokKind::Var(name) => {
                if !self.vars.contains(&name) {
                    return syntax(t.pos, format!("undefined variable {name:?}"));
                }
                // Go positions a variable with fields at its first field.
                self.node_pos = self
                    .peek()
                    .filter(|n| !n.spaced && matches!(n.kind, TokKind::Field(_)))
                    .map(|n| n.pos);
                let f = self.fields();
                return Ok(Arg::Var(name, f));
            }
            TokKind::Str(s) => Arg::Str(s.into()),
            TokKind::Char(c) => Arg::Int(c as i64),
            TokKind::Num(s) => number(&s).ok_or_else(|| SyntaxError {
                pos: t.pos,
                msg: format!("illegal number syntax: {s:?}"),
            })?,
            TokKind::LParen => {
                self.enter()?;
                let p = self.pipeline("parenthesized pipeline", false);
                self.depth -= 1;
                let p = p?;
                Arg::Pipe(Box::new(p))
            }
            TokKind::Ident(name) => match name.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                | "break" | "continue" => {
                    return syntax(t.pos, format!("unexpected <{name}> in command"));
                }
                _ => {
                    if !is_function(&name) {
                        return syntax(t.pos, format!("function {name:?} not defined"));
                    }
                    if name == "query" {
                        self.uses_query = true;
                    }
                    Arg::Func(name)
                }
            },
            other => return syntax(t.pos, format!("unexpected {} in operand", describe(&other))),
        };
        self.node_pos = self
            .peek()
            .filter(|n| !n.spaced && matches!(n.kind, TokKind::Field(_)))
            .map(|n| n.pos);
        let f = self.fields();
        if f.is_empty() {
            Ok(arg)
        } else {
            if matches!(
                arg,
                Arg::Bool(_) | Arg::Nil | Arg::Int(_) | Arg::Float(_) | Arg::Str(_)
            ) {
                return syntax(t.pos, "unexpected . after term");
            }
            Ok(Arg::Chain(Box::new(arg), f))
        }
    }
}

fn describe(k: &TokKind) -> String {
    match k {
        TokKind::Text(_) => "text".into(),
        TokKind::Open => "\"{{\"".into(),
        TokKind::Close => "\"}}\"".into(),
        TokKind::Ident(s) => format!("<{s}>"),
        TokKind::Field(s) => format!("<.{s}>"),
        TokKind::Dot => "<.>".into(),
        TokKind::Var(s) => format!("<{s}>"),
        TokKind::Str(s) => format!("{s:?}"),
        TokKind::Num(s) => format!("<{s}>"),
        TokKind::Char(c) => format!("{c:?}"),
        TokKind::LParen => "\"(\"".into(),
        TokKind::RParen => "\")\"".into(),
        TokKind::Pipe => "\"|\"".into(),
        TokKind::Declare => "\":=\"".into(),
        TokKind::Assign => "\"=\"".into(),
        TokKind::Comma => "\",\"".into(),
    }
}
