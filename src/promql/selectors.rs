//! The selectors of an expression, found by walking its syntax tree: the series checks
//! of `tocsin check --lint` ask about them, and a rule with `no_data` asks whether any
//! of them returns data (see [`presence_query`]).

use promql_parser::parser::{self, Expr, VectorSelector};

/// A selector of an expression, with whether it sits inside `absent()` or
/// `absent_over_time()` and, for a range selector, its range as written.
pub struct Selector<'a> {
    pub vs: &'a VectorSelector,
    pub in_absent: bool,
    /// `Some` for a range selector (`x[5m]`): the whole selector as PromQL.
    pub range: Option<String>,
}

/// The selectors of `e`, in the order they appear.
pub fn selectors(e: &Expr) -> Vec<Selector<'_>> {
    let mut out = Vec::new();
    collect(e, false, &mut out);
    out
}

fn collect<'a>(e: &'a Expr, in_absent: bool, out: &mut Vec<Selector<'a>>) {
    match e {
        Expr::VectorSelector(vs) => out.push(Selector {
            vs,
            in_absent,
            range: None,
        }),
        Expr::MatrixSelector(ms) => out.push(Selector {
            vs: &ms.vs,
            in_absent,
            range: Some(ms.to_string()),
        }),
        Expr::Aggregate(a) => {
            collect(&a.expr, in_absent, out);
            if let Some(p) = &a.param {
                collect(p, in_absent, out);
            }
        }
        Expr::Unary(u) => collect(&u.expr, in_absent, out),
        Expr::Binary(b) => {
            collect(&b.lhs, in_absent, out);
            collect(&b.rhs, in_absent, out);
        }
        Expr::Paren(p) => collect(&p.expr, in_absent, out),
        Expr::Subquery(s) => collect(&s.expr, in_absent, out),
        Expr::Call(c) => {
            let absent = in_absent || matches!(c.func.name, "absent" | "absent_over_time");
            c.args.args.iter().for_each(|a| collect(a, absent, out));
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// One query whose result is non-empty exactly when some selector of `expr` returns a
/// series at the evaluation time: `count(s1) or count(last_over_time(s2[5m])) or …`,
/// each selector as `expr` reads it (offset and `@` kept), each one once. `None` when
/// `expr` does not parse or selects nothing (`vector(1)`): such an expression never
/// lacks data.
///
/// Asked when `expr` returned nothing, it tells "no data" (no selector returned
/// anything) from "the condition is false" (data, none of it matching).
pub fn presence_query(expr: &str) -> Option<String> {
    let ast = parser::parse(expr).ok()?;
    let mut parts: Vec<String> = Vec::new();
    for s in selectors(&ast) {
        let part = match &s.range {
            Some(range) => format!("count(last_over_time({range}))"),
            None => format!("count({})", s.vs),
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    (!parts.is_empty()).then(|| parts.join(" or "))
}

#[cfg(test)]
mod tests {
    use super::presence_query;

    #[test]
    fn asks_for_every_selector_once_as_the_expression_reads_it() {
        assert_eq!(
            presence_query("rate(errors{job=\"api\"}[5m]) / rate(requests[5m] offset 1m) > 0.1 and errors{job=\"api\"}").as_deref(),
            Some("count(last_over_time(errors{job=\"api\"}[5m])) or count(last_over_time(requests[5m] offset 1m)) or count(errors{job=\"api\"})")
        );
        assert_eq!(presence_query("up == 0").as_deref(), Some("count(up)"));
        assert_eq!(
            presence_query("up == 0 and up == 0").as_deref(),
            Some("count(up)")
        );
    }

    #[test]
    fn an_expression_without_selectors_has_none() {
        assert_eq!(presence_query("vector(1) > 2"), None);
        assert_eq!(presence_query("not promql ("), None);
    }

    #[test]
    fn the_query_parses() {
        let q = presence_query("max_over_time(rate(x{a=~\"b|c\"}[1m])[10m:1m]) > absent(y @ 100)")
            .unwrap();
        promql_parser::parser::parse(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}
