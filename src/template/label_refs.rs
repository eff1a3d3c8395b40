//! Which alert labels a template reads by name (`$labels.job`, `.Labels.job`,
//! `index $labels "job"`), for the linter that proves a label cannot exist.
//!
//! Only certain reads are reported: a `.Labels` inside `with`/`range` (another dot),
//! a template that reassigns `$labels`, or labels read through `{{template}}` calls are
//! left out, so that a finding built on this list is never a guess.

use std::collections::BTreeSet;

use super::ast::{Arg, Node, Pipe};

/// The label names the tree reads by name.
pub(crate) fn of(root: &[Node]) -> BTreeSet<String> {
    let mut w = Walker::default();
    w.nodes(root, true);
    if w.reassigned {
        return BTreeSet::new();
    }
    w.found
}

#[derive(Default)]
struct Walker {
    found: BTreeSet<String>,
    reassigned: bool,
}

impl Walker {
    fn nodes(&mut self, nodes: &[Node], root_dot: bool) {
        for n in nodes {
            match n {
                Node::Text(_) | Node::Break | Node::Continue => {}
                Node::Action(p) => self.pipe(p, root_dot),
                Node::If(b) => {
                    self.pipe(&b.pipe, root_dot);
                    self.nodes(&b.list, root_dot);
                    if let Some(e) = &b.else_list {
                        self.nodes(e, root_dot);
                    }
                }
                Node::With(b) | Node::Range(b) => {
                    self.pipe(&b.pipe, root_dot);
                    self.nodes(&b.list, false);
                    if let Some(e) = &b.else_list {
                        self.nodes(e, root_dot);
                    }
                }
                Node::Template { pipe, .. } => {
                    if let Some(p) = pipe {
                        self.pipe(p, root_dot);
                    }
                }
            }
        }
    }

    fn pipe(&mut self, p: &Pipe, root_dot: bool) {
        if p.decl.iter().any(|d| d == "$labels") {
            self.reassigned = true;
        }
        for c in &p.cmds {
            // `index $labels "name"`
            if let [Arg::Func(f), Arg::Var(v, fields), Arg::Str(name)] = c.args.as_slice()
                && f == "index"
                && v == "$labels"
                && fields.is_empty()
            {
                self.found.insert(name.to_string());
            }
            for a in &c.args {
                self.arg(a, root_dot);
            }
        }
    }

    fn arg(&mut self, a: &Arg, root_dot: bool) {
        match a {
            Arg::Var(v, fields) if v == "$labels" => {
                if let Some(name) = fields.first() {
                    self.found.insert(name.clone());
                }
            }
            Arg::Var(v, fields) if v == "$" => self.labels_field(fields),
            Arg::Field(fields) if root_dot => self.labels_field(fields),
            Arg::Chain(inner, _) => self.arg(inner, root_dot),
            Arg::Pipe(p) => self.pipe(p, root_dot),
            _ => {}
        }
    }

    fn labels_field(&mut self, fields: &[String]) {
        if let [first, name, ..] = fields
            && first == "Labels"
        {
            self.found.insert(name.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::template::Template;

    fn refs(text: &str) -> Vec<String> {
        Template::parse("t", text)
            .expect("parses")
            .label_refs()
            .into_iter()
            .collect()
    }

    #[test]
    fn finds_every_spelling() {
        assert_eq!(
            refs(r#"{{ $labels.a }} {{ .Labels.b }} {{ index $labels "c" }} {{ $.Labels.d }}"#),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            refs("{{ if $labels.a }}{{ $labels.b | toUpper }}{{ end }}"),
            ["a", "b"]
        );
    }

    #[test]
    fn leaves_out_what_it_cannot_be_sure_of() {
        assert!(refs("{{ with query \"x\" }}{{ .Labels.a }}{{ end }}").is_empty());
        assert!(refs("{{ $labels := .Value }}{{ $labels.x }}").is_empty());
        assert!(refs("{{ $value }} {{ .ExternalLabels.a }}").is_empty());
    }
}
