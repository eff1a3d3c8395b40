//! Which earlier rules of a group a rule reads, so the group can run independent rules
//! concurrently and still let a rule see what an earlier rule wrote in the same cycle.
//!
//! A rule depends on an earlier rule when its expression (or `recover_expr`) selects
//! that rule's output: a recording rule's name, or `ALERTS` / `ALERTS_FOR_STATE` for an
//! alerting rule. A selector whose metric name is unknown (`{job="x"}`, `{__name__=~"a.*"}`) might read
//! anything, so it depends on every earlier rule. An expression that does not parse
//! (MetricsQL with `-rule.validateExpressions=false`) is treated the same way: safe,
//! if slower.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, VectorSelector};

use crate::config::{Rule, RuleKind};

/// The metric names an expression reads; `None` means "cannot tell, maybe any".
pub fn selected_names(expr: &str) -> Option<BTreeSet<String>> {
    let ast = parser::parse(expr).ok()?;
    let mut names = BTreeSet::new();
    walk(&ast, &mut names).then_some(names)
}

/// Adds the names `e` selects; returns false when some selector has no fixed name.
fn walk(e: &Expr, names: &mut BTreeSet<String>) -> bool {
    match e {
        Expr::Aggregate(a) => {
            walk(&a.expr, names) && a.param.as_deref().is_none_or(|p| walk(p, names))
        }
        Expr::Unary(u) => walk(&u.expr, names),
        Expr::Binary(b) => walk(&b.lhs, names) & walk(&b.rhs, names),
        Expr::Paren(p) => walk(&p.expr, names),
        Expr::Subquery(s) => walk(&s.expr, names),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
        Expr::VectorSelector(vs) => selector(vs, names),
        Expr::MatrixSelector(ms) => selector(&ms.vs, names),
        Expr::Call(c) => c.args.args.iter().all(|a| walk(a, names)),
        Expr::Extension(_) => false,
    }
}

fn selector(vs: &VectorSelector, names: &mut BTreeSet<String>) -> bool {
    if let Some(n) = &vs.name {
        names.insert(n.clone());
        return true;
    }
    let by_matcher = vs
        .matchers
        .matchers
        .iter()
        .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal));
    match by_matcher {
        Some(m) if vs.matchers.or_matchers.is_empty() => {
            names.insert(m.value.clone());
            true
        }
        _ => false,
    }
}

/// The metric names a rule writes.
fn written_names(r: &Rule) -> Vec<&str> {
    match &r.kind {
        RuleKind::Recording(rec) => vec![&*rec.name],
        RuleKind::Alerting(_) => vec!["ALERTS", "ALERTS_FOR_STATE"],
    }
}

/// The metric names a rule's queries read: `expr`, and `recover_expr` when set.
fn reads(r: &Rule) -> Option<BTreeSet<String>> {
    let mut names = selected_names(&r.expr)?;
    if let RuleKind::Alerting(a) = &r.kind
        && let Some(recover) = &a.ext.recover_expr
    {
        names.extend(selected_names(recover)?);
    }
    Some(names)
}

/// For each rule, the indices of the earlier rules of the same group it must wait for.
pub fn dependencies<R: Borrow<Rule>>(rules: &[R]) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().map(Borrow::borrow).enumerate() {
        if i == 0 {
            // Nothing earlier to wait for: no need to parse (a group of one rule, the
            // common case at scale, costs no PromQL parse at all).
            out.push(Vec::new());
            continue;
        }
        let deps = match reads(r) {
            None => (0..i).collect(),
            Some(names) => (0..i)
                .filter(|&j| {
                    written_names(rules[j].borrow())
                        .iter()
                        .any(|w| names.contains(*w))
                })
                .collect(),
        };
        out.push(deps);
    }
    out
}

/// True when some later rule reads what rule `i` writes (its writes must be visible
/// before that rule queries).
pub fn is_read_later(deps: &[Vec<usize>], i: usize) -> bool {
    deps.iter().skip(i + 1).any(|d| d.contains(&i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load_str};

    fn rules(body: &str) -> Vec<std::sync::Arc<Rule>> {
        let text = format!("groups:\n- name: g\n  rules:\n{body}");
        let gs = load_str(
            std::path::Path::new("r.yml"),
            &text,
            &LoadOptions::default(),
        )
        .expect("valid rules");
        gs[0].rules.clone()
    }

    #[test]
    fn names_of_selectors() {
        let n = selected_names("sum(rate(a[5m])) / on() group_left b + scalar(c)").unwrap();
        assert_eq!(n.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        let n = selected_names(r#"{__name__="x", job="j"}"#).unwrap();
        assert_eq!(n.into_iter().collect::<Vec<_>>(), ["x"]);
        assert!(selected_names(r#"{job="j"}"#).is_none());
        assert!(selected_names(r#"{__name__=~"x.*"}"#).is_none());
        assert!(selected_names("vector(1)").unwrap().is_empty());
    }

    #[test]
    fn chained_rules_wait_only_for_what_they_read() {
        let r = rules(concat!(
            "  - record: a:sum\n    expr: sum(up)\n",
            "  - record: b:sum\n    expr: sum(node_load1)\n",
            "  - alert: A\n    expr: a:sum > 1\n",
            "  - alert: B\n    expr: ALERTS{alertname=\"A\"}\n",
            "  - record: c\n    expr: '{job=\"x\"}'\n",
        ));
        let d = dependencies(&r);
        assert_eq!(d, vec![vec![], vec![], vec![0], vec![2], vec![0, 1, 2, 3]]);
        assert!(is_read_later(&d, 0));
        assert!(is_read_later(&d, 1));
        assert!(is_read_later(&d, 3));
        assert!(!is_read_later(&d, 4));
    }

    #[test]
    fn recover_expr_is_read_too() {
        let r = rules(concat!(
            "  - record: cpu:avg
    expr: avg(cpu)
",
            "  - alert: High
    expr: cpu > 90
    recover_expr: cpu:avg < 70
",
        ));
        assert_eq!(dependencies(&r), vec![vec![], vec![0]]);
    }
}
