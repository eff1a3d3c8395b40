//! Which parts of the alert data a template's output can depend on, found once at parse
//! time, so that callers may reuse a rendering while those inputs are unchanged.
//!
//! The analysis is conservative: anything it cannot see through (the whole data passed as
//! `.`, a `-rule.templates` definition, `query`, `now`, `$activeAt`) marks the template
//! as volatile, i.e. to be rendered every time.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{Arg, Node, Pipe};

/// What, besides the alert's labels and the rule's constants (expression, `for`,
/// external labels and URL, group ID), a template's output can depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Reads the sample value (`$value`, `.Value`).
    pub value: bool,
    /// Reads something that changes on its own (the clock, the datasource, the
    /// evaluation time) or that the analysis cannot see through: render every time.
    pub volatile: bool,
}

impl Inputs {
    /// Both sets of inputs together.
    pub fn union(self, other: Inputs) -> Inputs {
        Inputs {
            value: self.value || other.value,
            volatile: self.volatile || other.volatile,
        }
    }
}

/// The inputs of a template tree whose `{{define}}`s are `defines`.
pub(crate) fn of(root: &[Node], defines: &HashMap<String, Arc<Vec<Node>>>) -> Inputs {
    let mut w = Walker {
        defines,
        visiting: Vec::new(),
        found: Inputs::default(),
    };
    w.nodes(root);
    w.found
}

struct Walker<'a> {
    defines: &'a HashMap<String, Arc<Vec<Node>>>,
    /// Definitions being walked, so that recursive templates end.
    visiting: Vec<&'a str>,
    found: Inputs,
}

impl<'a> Walker<'a> {
    fn nodes(&mut self, nodes: &'a [Node]) {
        for n in nodes {
            match n {
                Node::Text(_) | Node::Break | Node::Continue => {}
                Node::Action(p) => self.pipe(p),
                Node::If(b) | Node::With(b) | Node::Range(b) => {
                    self.pipe(&b.pipe);
                    self.nodes(&b.list);
                    if let Some(e) = &b.else_list {
                        self.nodes(e);
                    }
                }
                Node::Template { name, pipe, .. } => {
                    if let Some(p) = pipe {
                        self.pipe(p);
                    }
                    match self.defines.get(name) {
                        Some(body) if !self.visiting.contains(&name.as_str()) => {
                            self.visiting.push(name);
                            self.nodes(body);
                            self.visiting.pop();
                        }
                        Some(_) => {}
                        // A `-rule.templates` definition: not visible here.
                        None => self.found.volatile = true,
                    }
                }
            }
        }
    }

    fn pipe(&mut self, p: &'a Pipe) {
        for c in &p.cmds {
            for a in &c.args {
                self.arg(a);
            }
        }
    }

    fn arg(&mut self, a: &'a Arg) {
        match a {
            Arg::Nil | Arg::Bool(_) | Arg::Str(_) | Arg::Int(_) | Arg::Float(_) => {}
            // The whole data (printed, or handed to a function or template).
            Arg::Dot => {
                self.found.value = true;
                self.found.volatile = true;
            }
            Arg::Field(f) => self.root_field(f.first().map(String::as_str)),
            Arg::Var(name, f) => match name.as_str() {
                "$value" => self.found.value = true,
                "$activeAt" | "$isPartial" => self.found.volatile = true,
                "$" => self.root_field(f.first().map(String::as_str)),
                _ => {}
            },
            Arg::Func(name) => {
                if matches!(name.as_str(), "query" | "now") {
                    self.found.volatile = true;
                }
            }
            Arg::Chain(inner, _) => self.arg(inner),
            Arg::Pipe(p) => self.pipe(p),
        }
    }

    /// `.X` or `$.X` on the data (or, inside `range`/`with`, on another dot: flagging
    /// those too only costs a cache miss).
    fn root_field(&mut self, first: Option<&str>) {
        match first {
            Some("Value") => self.found.value = true,
            Some("ActiveAt" | "IsPartial") | None => {
                self.found.value |= first.is_none();
                self.found.volatile = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Inputs;
    use crate::template::Template;

    fn inputs(text: &str) -> Inputs {
        Template::parse("t", text).expect("parses").inputs()
    }

    const LABELS_ONLY: Inputs = Inputs {
        value: false,
        volatile: false,
    };
    const VALUE: Inputs = Inputs {
        value: true,
        volatile: false,
    };

    #[test]
    fn labels_and_constants_only() {
        assert_eq!(inputs("static"), LABELS_ONLY);
        assert_eq!(
            inputs("{{ $labels.instance }} of {{ .Labels.job }}"),
            LABELS_ONLY
        );
        assert_eq!(
            inputs("{{ $externalURL }} {{ $expr }} {{ $alertID }}"),
            LABELS_ONLY
        );
        assert_eq!(
            inputs("{{ range $k, $v := $labels }}{{ $k }}={{ $v }}{{ end }}"),
            LABELS_ONLY
        );
    }

    #[test]
    fn value_readers() {
        assert_eq!(inputs("{{ $value | humanize }}"), VALUE);
        assert_eq!(inputs("{{ printf \"%.2f\" .Value }}"), VALUE);
        assert_eq!(inputs("{{ if gt $.Value 1.0 }}high{{ end }}"), VALUE);
        assert_eq!(
            inputs("{{ define \"v\" }}{{ .Value }}{{ end }}{{ template \"v\" }}"),
            VALUE
        );
    }

    #[test]
    fn volatile_inputs() {
        for t in [
            "{{ now }}",
            "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
            "{{ $activeAt }}",
            "{{ .ActiveAt }}",
            "{{ . }}",
            "{{ template \"from_library\" . }}",
        ] {
            assert!(inputs(t).volatile, "{t}");
        }
    }
}
