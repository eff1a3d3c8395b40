//! Prometheus' runner re-evaluates every instant `eval` with `@ <eval time>` set on
//! each selector and subquery that has none, at other evaluation times: the answer must
//! not change. This builds those variants.

use std::time::{Duration, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr};

/// Functions whose result depends on the evaluation time even when their arguments are
/// pinned with `@` (`AtModifierUnsafeFunctions`).
const UNSAFE: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

fn at(ms: i64) -> AtModifier {
    let t = if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    };
    AtModifier::At(t)
}

/// Sets `@ ts` where missing; returns false if the expression uses an unsafe function.
fn pin(e: &mut Expr, ts: i64) -> bool {
    match e {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert_with(|| at(ts));
            true
        }
        Expr::MatrixSelector(ms) => {
            ms.vs.at.get_or_insert_with(|| at(ts));
            true
        }
        Expr::Subquery(sq) => {
            // What is inside a pinned subquery is left alone, functions included.
            sq.at.get_or_insert_with(|| at(ts));
            true
        }
        Expr::Aggregate(a) => {
            let p = a.param.as_mut().is_none_or(|p| pin(p, ts));
            pin(&mut a.expr, ts) && p
        }
        Expr::Unary(u) => pin(&mut u.expr, ts),
        Expr::Binary(b) => {
            let l = pin(&mut b.lhs, ts);
            pin(&mut b.rhs, ts) && l
        }
        Expr::Paren(p) => pin(&mut p.expr, ts),
        Expr::Call(c) => {
            let mut safe = !UNSAFE.contains(&c.func.name);
            for a in &mut c.args.args {
                safe &= pin(a, ts);
            }
            safe
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => true,
    }
}

/// The `(expression, evaluation time)` variants to check besides the original, or none
/// when the expression is not step invariant.
pub fn variants(expr: &Expr, ts: i64) -> Vec<(Expr, i64)> {
    let mut pinned = expr.clone();
    if !pin(&mut pinned, ts) {
        return Vec::new();
    }
    let times = if ts == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * ts, 0, ts / 5, ts, 10 * ts]
    };
    times.into_iter().map(|t| (pinned.clone(), t)).collect()
}
