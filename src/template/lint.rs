//! Load-time warnings for mistakes Go only reports when a template runs: wrong argument
//! counts for fixed-arity functions and constants of the wrong type. Prometheus accepts
//! such templates when loading rules (the error appears in the alert text later), so
//! tocsin accepts them too — rejecting them would break drop-in compatibility — and
//! offers these warnings for the loader to log.

use super::ast::{Arg, Cmd, Node, Pipe};

/// A problem found in a template that will fail if the code runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateWarning {
    /// Byte offset in the template text (converted to line/col by the caller).
    pub pos: usize,
    pub message: String,
}

/// Parameter kinds of fixed-arity functions: `s` string, `a` any.
fn signature(name: &str) -> Option<&'static str> {
    Some(match name {
        "pathPrefix" | "externalURL" | "now" => "",
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
        | "humanizeTimestamp" | "toTime" | "toDuration" | "first" | "value" | "strvalue"
        | "not" | "len" => "a",
        "query" | "title" | "toUpper" | "toLower" | "stripPort" | "stripDomain" | "safeHtml"
        | "urlQueryEscape" | "graphLink" | "tableLink" | "parseDuration" | "parseDurationTime"
        | "jsonEscape" | "quotesEscape" | "htmlEscape" | "pathEscape" | "queryEscape"
        | "crlfEscape" => "s",
        "label" | "sortByLabel" | "formatTime" => "sa",
        "match" => "ss",
        "ne" | "lt" | "le" | "gt" | "ge" => "aa",
        "reReplaceAll" => "sss",
        _ => return None,
    })
}

/// Collects warnings for a tree.
pub fn lint(nodes: &[Node], out: &mut Vec<TemplateWarning>) {
    for n in nodes {
        match n {
            Node::Text(_) | Node::Break | Node::Continue => {}
            Node::Action(p) => pipe(p, out),
            Node::If(b) | Node::With(b) | Node::Range(b) => {
                pipe(&b.pipe, out);
                lint(&b.list, out);
                if let Some(e) = &b.else_list {
                    lint(e, out);
                }
            }
            Node::Template { pipe: p, .. } => {
                if let Some(p) = p {
                    pipe(p, out);
                }
            }
        }
    }
}

fn pipe(p: &Pipe, out: &mut Vec<TemplateWarning>) {
    for (stage, c) in p.cmds.iter().enumerate() {
        command(c, stage > 0, out);
    }
}

fn command(c: &Cmd, piped: bool, out: &mut Vec<TemplateWarning>) {
    for a in &c.args {
        arg(a, out);
    }
    let Some(Arg::Func(name)) = c.args.first() else {
        return;
    };
    let Some(sig) = signature(name) else { return };
    let given = c.args.len() - 1 + usize::from(piped);
    if given != sig.len() {
        out.push(TemplateWarning {
            pos: c.pos,
            message: format!(
                "wrong number of args for {name}: want {} got {given}",
                sig.len()
            ),
        });
        return;
    }
    for (i, (kind, a)) in sig.bytes().zip(c.args.iter().skip(1)).enumerate() {
        let literal_non_string = matches!(a, Arg::Int(_) | Arg::Float(_) | Arg::Bool(_));
        if kind == b's' && literal_non_string {
            out.push(TemplateWarning {
                pos: c.arg_pos[i + 1],
                message: format!("{name}: expected string; found {}", c.arg_text[i + 1]),
            });
        }
    }
}

fn arg(a: &Arg, out: &mut Vec<TemplateWarning>) {
    match a {
        Arg::Pipe(p) => pipe(p, out),
        Arg::Chain(inner, _) => arg(inner, out),
        _ => {}
    }
}
