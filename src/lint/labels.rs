//! Which labels an expression's output series can carry, found from the AST alone.
//!
//! The answer is an over-approximation: [`Possible::Only`] lists every label name that
//! *may* appear (some series may lack some of them), [`Possible::Any`] means the
//! expression passes through labels the analysis cannot know (a plain selector reads
//! whatever the datasource has). A label outside `Only` is *proven* absent, which is all
//! the `alerts/template-label` check reports: it never guesses.
//!
//! The rules follow Prometheus' evaluator: aggregations keep their `by` labels (or drop
//! their `without` labels); one-to-one vector matching keeps the `on` labels (or drops
//! the `ignoring` ones) of the left side; `group_left`/`group_right` keep the "many"
//! side and copy the listed labels from the other; `and`/`unless` keep the left side,
//! `or` both; `label_replace`/`label_join` add their destination; `absent` has the
//! labels of its selector's equality matchers; `vector`, `scalar` and numbers have none.

use std::collections::BTreeSet;

use promql_parser::label::MatchOp;
use promql_parser::parser::{
    AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, VectorMatchCardinality, VectorSelector,
};

/// The label names an expression's output may carry (never `__name__`, which the
/// checks do not need).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Possible {
    /// Only these names can appear.
    Only(BTreeSet<String>),
    /// Any name can appear, except those listed (proven removed).
    Any { except: BTreeSet<String> },
}

impl Possible {
    fn none() -> Possible {
        Possible::Only(BTreeSet::new())
    }

    fn any() -> Possible {
        Possible::Any {
            except: BTreeSet::new(),
        }
    }

    /// Whether `name` can appear on some output series.
    pub fn may_have(&self, name: &str) -> bool {
        match self {
            Possible::Only(s) => s.contains(name),
            Possible::Any { except } => !except.contains(name),
        }
    }

    fn keep(&self, names: &[String]) -> Possible {
        Possible::Only(names.iter().filter(|n| self.may_have(n)).cloned().collect())
    }

    fn drop(&self, names: &[String]) -> Possible {
        match self {
            Possible::Only(s) => {
                Possible::Only(s.iter().filter(|n| !names.contains(n)).cloned().collect())
            }
            Possible::Any { except } => Possible::Any {
                except: except
                    .iter()
                    .cloned()
                    .chain(names.iter().cloned())
                    .collect(),
            },
        }
    }

    pub fn with(&self, names: &[String]) -> Possible {
        match self {
            Possible::Only(s) => {
                Possible::Only(s.iter().cloned().chain(names.iter().cloned()).collect())
            }
            Possible::Any { except } => Possible::Any {
                except: except
                    .iter()
                    .filter(|n| !names.contains(n))
                    .cloned()
                    .collect(),
            },
        }
    }

    pub fn union(&self, other: &Possible) -> Possible {
        match (self, other) {
            (Possible::Only(a), Possible::Only(b)) => Possible::Only(a.union(b).cloned().collect()),
            (Possible::Only(o), Possible::Any { except })
            | (Possible::Any { except }, Possible::Only(o)) => Possible::Any {
                except: except.difference(o).cloned().collect(),
            },
            (Possible::Any { except: a }, Possible::Any { except: b }) => Possible::Any {
                except: a.intersection(b).cloned().collect(),
            },
        }
    }
}

/// What a selector of a given metric name reads, for callers that know more than "any"
/// (e.g. the series a recording rule of the same files writes). `None`: any labels.
pub type SelectorLabels<'a> = &'a dyn Fn(&VectorSelector) -> Option<Possible>;

/// The labels `e`'s output may carry; `selector` says what a selector reads.
pub fn possible(e: &Expr, selector: SelectorLabels<'_>) -> Possible {
    match e {
        Expr::Aggregate(a) => aggregate(a, selector),
        Expr::Unary(u) => possible(&u.expr, selector),
        Expr::Binary(b) => binary(b, selector),
        Expr::Paren(p) => possible(&p.expr, selector),
        Expr::Subquery(s) => possible(&s.expr, selector),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Possible::none(),
        Expr::VectorSelector(vs) => selector(vs).unwrap_or_else(Possible::any),
        Expr::MatrixSelector(ms) => selector(&ms.vs).unwrap_or_else(Possible::any),
        Expr::Call(c) => call(c, selector),
        Expr::Extension(_) => Possible::any(),
    }
}

fn names(l: &promql_parser::label::Labels) -> Vec<String> {
    l.labels.clone()
}

fn aggregate(a: &AggregateExpr, selector: SelectorLabels<'_>) -> Possible {
    let inner = possible(&a.expr, selector);
    let op = a.op.to_string();
    // These select or limit series, keeping each one's labels whatever the grouping.
    if matches!(op.as_str(), "topk" | "bottomk" | "limitk" | "limit_ratio") {
        return inner;
    }
    let grouped = match &a.modifier {
        None => Possible::none(),
        Some(LabelModifier::Include(l)) => inner.keep(&names(l)),
        Some(LabelModifier::Exclude(l)) => inner.drop(&names(l)),
    };
    if op == "count_values" {
        if let Some(Expr::StringLiteral(s)) = a.param.as_deref() {
            return grouped.with(std::slice::from_ref(&s.val));
        }
        return Possible::any();
    }
    grouped
}

fn binary(b: &BinaryExpr, selector: SelectorLabels<'_>) -> Possible {
    let (l, r) = (possible(&b.lhs, selector), possible(&b.rhs, selector));
    let scalar_l = is_scalar(&b.lhs);
    let scalar_r = is_scalar(&b.rhs);
    if scalar_l && scalar_r {
        return Possible::none();
    }
    if scalar_l {
        return r;
    }
    if scalar_r {
        return l;
    }
    let op = b.op.to_string();
    match op.as_str() {
        "and" | "unless" => return l,
        "or" => return l.union(&r),
        _ => {}
    }
    let Some(m) = &b.modifier else { return l };
    match &m.card {
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => {
            match &m.matching {
                Some(LabelModifier::Include(on)) => l.keep(&names(on)),
                Some(LabelModifier::Exclude(ign)) => l.drop(&names(ign)),
                None => l,
            }
        }
        // group_left: the left side is the "many" side; the listed labels come from
        // the right (and are removed when the right lacks them).
        VectorMatchCardinality::ManyToOne(extra) => l.with(&names(extra)),
        VectorMatchCardinality::OneToMany(extra) => r.with(&names(extra)),
    }
}

/// True when `e` evaluates to a scalar (numbers, `scalar()`, `time()`, …).
fn is_scalar(e: &Expr) -> bool {
    matches!(
        e.value_type(),
        promql_parser::parser::value::ValueType::Scalar
    )
}

fn call(c: &Call, selector: SelectorLabels<'_>) -> Possible {
    let args = &c.args.args;
    let arg = |i: usize| args.get(i).map(|a| possible(a, selector));
    let string_arg = |i: usize| match args.get(i).map(|a| unparen(a)) {
        Some(Expr::StringLiteral(s)) => Some(s.val.clone()),
        _ => None,
    };
    match c.func.name {
        "label_replace" | "label_join" => match (arg(0), string_arg(1)) {
            (Some(inner), Some(dst)) => inner.with(&[dst]),
            _ => Possible::any(),
        },
        "absent" | "absent_over_time" => args.first().map_or_else(Possible::none, |a| absent(a)),
        "vector" | "scalar" | "time" | "pi" => Possible::none(),
        "histogram_quantile" | "histogram_fraction" => arg(args.len().saturating_sub(1))
            .map_or_else(Possible::any, |p| p.drop(&["le".to_string()])),
        // `info` adds labels from series the expression does not name.
        "info" => Possible::any(),
        _ => {
            // Other functions keep the labels of their (one) vector argument.
            let vectors: Vec<Possible> = args
                .iter()
                .filter(|a| !is_scalar(a) && !matches!(unparen(a), Expr::StringLiteral(_)))
                .map(|a| possible(a, selector))
                .collect();
            vectors
                .into_iter()
                .reduce(|a, b| a.union(&b))
                .unwrap_or_else(Possible::none)
        }
    }
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        _ => e,
    }
}

/// `absent(x)` returns one series whose labels are the equality matchers of `x` when `x`
/// is a plain selector, and no labels otherwise.
fn absent(arg: &Expr) -> Possible {
    let vs = match unparen(arg) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Possible::none(),
    };
    let mut out = BTreeSet::new();
    for m in &vs.matchers.matchers {
        if matches!(m.op, MatchOp::Equal) && m.name != "__name__" {
            out.insert(m.name.clone());
        }
    }
    Possible::Only(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(q: &str) -> Possible {
        let e = promql_parser::parser::parse(q).expect("parses");
        possible(&e, &|_| None)
    }

    fn only(names: &[&str]) -> Possible {
        Possible::Only(names.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn aggregations_keep_by_and_drop_without() {
        assert_eq!(of("sum by (job) (rate(x[5m]))"), only(&["job"]));
        assert_eq!(of("sum(x)"), only(&[]));
        let w = of("sum without (instance) (x)");
        assert!(!w.may_have("instance") && w.may_have("job"));
        assert_eq!(of("topk by (job) (3, x)"), Possible::any());
        assert_eq!(of("count_values by (job) (\"v\", x)"), only(&["job", "v"]));
        assert_eq!(of("max by (a) (sum by (b) (x))"), only(&[]));
    }

    #[test]
    fn binary_operators_follow_vector_matching() {
        assert_eq!(
            of("sum by (job) (x) / sum by (job, instance) (y)"),
            only(&["job"])
        );
        assert_eq!(of("x / on (job) y"), only(&["job"]));
        assert!(!of("x / ignoring (mode) y").may_have("mode"));
        assert_eq!(
            of("sum by (job) (x) * on (job) group_left (team) y"),
            only(&["job", "team"])
        );
        assert_eq!(
            of("sum by (a) (x) * on () group_right (b) sum by (c) (y)"),
            only(&["b", "c"])
        );
        assert_eq!(of("sum by (a) (x) or sum by (b) (y)"), only(&["a", "b"]));
        assert_eq!(of("sum by (a) (x) unless y"), only(&["a"]));
        assert_eq!(of("2 * sum by (a) (x) > 1"), only(&["a"]));
    }

    #[test]
    fn functions() {
        assert_eq!(of(r#"absent(up{job="a", env=~"p.*"})"#), only(&["job"]));
        assert_eq!(of("absent(sum(up))"), only(&[]));
        assert_eq!(of("vector(1)"), only(&[]));
        assert_eq!(
            of(r#"label_replace(sum by (a) (x), "b", "$1", "a", "(.*)")"#),
            only(&["a", "b"])
        );
        assert_eq!(
            of("histogram_quantile(0.9, sum by (le, job) (rate(x[5m])))"),
            only(&["job"])
        );
        assert_eq!(of("clamp_min(sum by (a) (x), 0)"), only(&["a"]));
        assert_eq!(of("round(sum by (a) (x))"), only(&["a"]));
        assert_eq!(of("rate(x[5m])"), Possible::any());
    }
}
