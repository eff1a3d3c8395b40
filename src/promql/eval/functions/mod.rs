//! Function calls. Functions over a range vector (`rate`, `*_over_time`, …) are in
//! `range.rs`, those over instant vectors and scalars in `instant.rs`, classic
//! histograms in `histogram.rs`; this file dispatches and holds the few that need the
//! unevaluated arguments (`timestamp`, `absent`, `label_replace`, `label_join`).

mod histogram;
mod instant;
mod range;

use promql_parser::parser::{Call, Expr};

use super::{Elem, EvalResult, Evaluator, Val, fail};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::PromqlError;
use crate::promql::store::{MatchKind, anchored_regex};

/// Removes parentheses around an expression.
pub(crate) fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// A string argument.
fn string_arg(e: &Expr) -> Result<&str, PromqlError> {
    match unparen(e) {
        Expr::StringLiteral(s) => Ok(&s.val),
        _ => fail("expected a string literal argument"),
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_call(&self, c: &Call, ts: i64) -> EvalResult {
        let name = c.func.name;
        let args: Vec<&Expr> = c.args.args.iter().map(|a| &**a).collect();
        match name {
            "timestamp" => return self.timestamp(&args, ts),
            "label_replace" => return self.label_replace(&args, ts),
            "label_join" => return self.label_join(&args, ts),
            "absent" => return self.absent(&args, ts),
            "info" => return fail("info() is not supported by tocsin's engine"),
            _ => {}
        }
        if let Some(i) = args
            .iter()
            .position(|a| matches!(unparen(a), Expr::MatrixSelector(_) | Expr::Subquery(_)))
        {
            return self.call_range(name, &args, i, ts);
        }
        self.call_instant(name, &args, ts)
    }

    /// `timestamp(v)`: the samples' own timestamps when `v` is a selector, else the
    /// evaluation time.
    fn timestamp(&self, args: &[&Expr], ts: i64) -> EvalResult {
        let arg = args.first().copied().map(unparen);
        let points: Vec<(Labels, f64, bool)> = match arg {
            Some(Expr::VectorSelector(vs)) => {
                let t = self.selector_time(&vs.at, &vs.offset, ts);
                self.instant_points(vs, t)?
                    .into_iter()
                    .map(|(l, pt, _)| (l, pt as f64 / 1000.0, false))
                    .collect()
            }
            Some(e) => self
                .eval_vector(e, ts)?
                .into_iter()
                .map(|e| (e.labels, ts as f64 / 1000.0, e.drop_name))
                .collect(),
            None => return fail("timestamp() needs an argument"),
        };
        let mut out: Vec<Elem> = points
            .into_iter()
            .map(|(labels, f, drop_name)| Elem {
                labels,
                f,
                drop_name,
            })
            .collect();
        for e in &mut out {
            self.mark_drop(e);
        }
        self.check_unique(&out)?;
        Ok(Val::Vector(out))
    }

    /// `absent(v)`: `1` with the selector's equality labels when `v` is empty.
    fn absent(&self, args: &[&Expr], ts: i64) -> EvalResult {
        let Some(arg) = args.first() else {
            return fail("absent() needs an argument");
        };
        if !self.eval_vector(arg, ts)?.is_empty() {
            return Ok(Val::Vector(Vec::new()));
        }
        Ok(Val::Vector(vec![Elem {
            labels: absent_labels(arg),
            f: 1.0,
            drop_name: false,
        }]))
    }

    fn label_replace(&self, args: &[&Expr], ts: i64) -> EvalResult {
        if args.len() != 5 {
            return fail("label_replace() needs five arguments");
        }
        let dst = string_arg(args[1])?;
        let repl = string_arg(args[2])?;
        let src = string_arg(args[3])?;
        let re_src = string_arg(args[4])?;
        let Ok(re) = anchored_regex(re_src) else {
            return fail(format!(
                "invalid regular expression in label_replace(): {re_src}"
            ));
        };
        if !crate::promql::valid_label_name(dst) {
            return fail(format!(
                "invalid destination label name in label_replace(): {dst}"
            ));
        }
        let mut v = self.eval_vector(args[0], ts)?;
        for e in &mut v {
            let value = e.labels.get(src).unwrap_or("");
            if let Some(caps) = re.captures(value) {
                let mut out = String::new();
                // The regex crate expands `$1`, `${name}` and `$$` as Go's `Expand` does.
                caps.expand(repl, &mut out);
                let mut b = e.labels.to_builder();
                b.set(dst, out);
                e.labels = b.build();
                if dst == METRIC_NAME {
                    e.drop_name = false;
                }
            }
        }
        self.check_all_unique(&v)?;
        Ok(Val::Vector(v))
    }

    fn label_join(&self, args: &[&Expr], ts: i64) -> EvalResult {
        if args.len() < 3 {
            return fail("label_join() needs at least three arguments");
        }
        let dst = string_arg(args[1])?;
        let sep = string_arg(args[2])?;
        let mut srcs = Vec::new();
        for a in &args[3..] {
            let s = string_arg(a)?;
            if !crate::promql::valid_label_name(s) {
                return fail(format!("invalid source label name in label_join(): {s}"));
            }
            srcs.push(s);
        }
        if !crate::promql::valid_label_name(dst) {
            return fail(format!(
                "invalid destination label name in label_join(): {dst}"
            ));
        }
        let mut v = self.eval_vector(args[0], ts)?;
        for e in &mut v {
            let joined: Vec<&str> = srcs.iter().map(|s| e.labels.get(s).unwrap_or("")).collect();
            let mut b = e.labels.to_builder();
            b.set(dst, joined.join(sep));
            e.labels = b.build();
            if dst == METRIC_NAME {
                e.drop_name = false;
            }
        }
        self.check_all_unique(&v)?;
        Ok(Val::Vector(v))
    }

    /// label_replace and label_join refuse duplicate label sets whatever the options.
    fn check_all_unique(&self, v: &[Elem]) -> Result<(), PromqlError> {
        if super::has_duplicates(v.iter().map(|e| &e.labels)) {
            return fail("vector cannot contain metrics with the same labelset");
        }
        Ok(())
    }
}

/// The labels `absent` and `absent_over_time` give their result: the selector's
/// equality matchers, except the metric name and labels matched more than once or
/// otherwise.
pub(crate) fn absent_labels(arg: &Expr) -> Labels {
    let vs = match unparen(arg) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let groups = super::selector::matcher_groups(vs);
    let Some(group) = groups.first() else {
        return Labels::empty();
    };
    let mut b = crate::labels::LabelsBuilder::default();
    let mut has: Vec<&str> = Vec::new();
    for m in group.iter().filter(|m| m.name != METRIC_NAME) {
        match &m.op {
            MatchKind::Equal(v) if !has.contains(&m.name.as_str()) => {
                b.set(m.name.as_str(), v.as_str());
                has.push(&m.name);
            }
            _ => {
                b.del(&m.name);
            }
        }
    }
    b.build()
}
