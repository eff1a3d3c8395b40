//! Binary operators: arithmetic, comparisons (filtering or `bool`), `atan2`, and the set
//! operators, between scalars and vectors, with `on`/`ignoring` and
//! `group_left`/`group_right` vector matching.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::{Elem, EvalResult, Evaluator, Val, fail, signature};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::PromqlError;

/// How two vectors are matched.
struct Matching<'m> {
    card: &'m VectorMatchCardinality,
    on: bool,
    labels: Vec<String>,
    return_bool: bool,
}

fn matching(m: Option<&BinModifier>, set_op: bool) -> Matching<'_> {
    static ONE: VectorMatchCardinality = VectorMatchCardinality::OneToOne;
    static MANY: VectorMatchCardinality = VectorMatchCardinality::ManyToMany;
    let (on, labels) = match m.and_then(|m| m.matching.as_ref()) {
        Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
        None => (false, Vec::new()),
    };
    let card = match m {
        Some(m) if !(set_op && m.card == VectorMatchCardinality::OneToOne) => &m.card,
        _ if set_op => &MANY,
        _ => &ONE,
    };
    Matching {
        card,
        on,
        labels,
        return_bool: m.is_some_and(|m| m.return_bool),
    }
}

fn is_comparison(op: TokenId) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_GTR | token::T_LSS | token::T_GTE | token::T_LTE
    )
}

/// Applies an arithmetic or comparison operator to two floats: the value and, for
/// comparisons, whether the pair is kept.
fn apply(op: TokenId, l: f64, r: f64) -> (f64, bool) {
    match op {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        token::T_POW => (l.powf(r), true),
        token::T_MOD => (l % r, true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&self, b: &BinaryExpr, ts: i64) -> EvalResult {
        let op = b.op.id();
        let set_op = matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS);
        let m = matching(b.modifier.as_ref(), set_op);
        let lhs = self.eval(&b.lhs, ts)?;
        let rhs = self.eval(&b.rhs, ts)?;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let (v, keep) = apply(op, l, r);
                Ok(Val::Scalar(if is_comparison(op) {
                    if keep { 1.0 } else { 0.0 }
                } else {
                    v
                }))
            }
            (Val::Vector(l), Val::Scalar(r)) => self.vector_scalar(op, l, r, false, m.return_bool),
            (Val::Scalar(l), Val::Vector(r)) => self.vector_scalar(op, r, l, true, m.return_bool),
            (Val::Vector(l), Val::Vector(r)) => match op {
                token::T_LAND => Ok(Val::Vector(set_and(l, r, &m, false))),
                token::T_LUNLESS => Ok(Val::Vector(set_and(l, r, &m, true))),
                token::T_LOR => Ok(Val::Vector(set_or(l, r, &m))),
                _ => self.vector_vector(op, l, r, &m).map(Val::Vector),
            },
            (l, r) => fail(format!(
                "binary expression must contain only scalar and instant vector types, got {} and {}",
                l.type_name(),
                r.type_name()
            )),
        }
    }

    fn vector_scalar(
        &self,
        op: TokenId,
        v: Vec<Elem>,
        s: f64,
        swap: bool,
        return_bool: bool,
    ) -> EvalResult {
        let mut out = Vec::with_capacity(v.len());
        for mut e in v {
            let (l, r) = if swap { (s, e.f) } else { (e.f, s) };
            let (mut value, mut keep) = apply(op, l, r);
            if is_comparison(op) && swap {
                value = r;
            }
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            if keep {
                e.f = value;
                if !is_comparison(op) || return_bool {
                    self.mark_drop(&mut e);
                }
                out.push(e);
            }
        }
        self.check_unique(&out)?;
        Ok(Val::Vector(out))
    }

    fn vector_vector(
        &self,
        op: TokenId,
        lhs: Vec<Elem>,
        rhs: Vec<Elem>,
        m: &Matching<'_>,
    ) -> Result<Vec<Elem>, PromqlError> {
        if lhs.is_empty() || rhs.is_empty() {
            return Ok(Vec::new());
        }
        let one_to_many = matches!(m.card, VectorMatchCardinality::OneToMany(_));
        let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
        let one_side = index_one_side(&one, m, one_to_many)?;
        let mut out = Vec::new();
        let mut matched: HashMap<Vec<u8>, HashSet<Labels>> = HashMap::new();
        for e in &many {
            let sig = signature(&e.labels, m.on, &m.labels);
            let Some(&ri) = one_side.get(&sig) else {
                continue;
            };
            let r = &one[ri];
            let (fl, fr) = if one_to_many { (r.f, e.f) } else { (e.f, r.f) };
            let (mut value, keep) = apply(op, fl, fr);
            if m.return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let labels = result_labels(&e.labels, &r.labels, op, m);
            let seen = matched.entry(sig).or_default();
            if matches!(m.card, VectorMatchCardinality::OneToOne) {
                if !seen.is_empty() {
                    return fail(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    );
                }
            } else if seen.contains(&labels) {
                return fail(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                );
            }
            seen.insert(labels.clone());
            let mut el = Elem {
                labels,
                f: value,
                drop_name: false,
            };
            if m.return_bool {
                self.mark_drop(&mut el);
            }
            out.push(el);
        }
        Ok(out)
    }
}

/// The "one" side indexed by signature; a repeated signature is an error.
fn index_one_side(
    one: &[Elem],
    m: &Matching<'_>,
    one_to_many: bool,
) -> Result<HashMap<Vec<u8>, usize>, PromqlError> {
    let mut idx: HashMap<Vec<u8>, usize> = HashMap::with_capacity(one.len());
    for (i, e) in one.iter().enumerate() {
        let sig = signature(&e.labels, m.on, &m.labels);
        if let Some(&j) = idx.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let group = match_labels(&e.labels, m.on, &m.labels);
            return fail(format!(
                "found duplicate series for the match group {group} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                e.labels, one[j].labels
            ));
        }
        idx.insert(sig, i);
    }
    Ok(idx)
}

/// The labels a signature is made of, for error messages.
fn match_labels(l: &Labels, on: bool, names: &[String]) -> Labels {
    let mut b = l.to_builder();
    for p in l.iter() {
        let listed = names.iter().any(|n| **n == *p.name);
        if (on && !listed) || (!on && (listed || &*p.name == METRIC_NAME)) {
            b.del(&p.name);
        }
    }
    b.build()
}

/// The labels of a result element: the "many" side's, less the matching labels for
/// one-to-one matching, plus the labels `group_x` names taken from the "one" side.
fn result_labels(many: &Labels, one: &Labels, op: TokenId, m: &Matching<'_>) -> Labels {
    let mut b = many.to_builder();
    if !is_comparison(op) {
        b.del(METRIC_NAME).del("__type__").del("__unit__");
    }
    match m.card {
        VectorMatchCardinality::OneToOne => {
            for p in many.iter() {
                let listed = m.labels.iter().any(|n| **n == *p.name);
                if listed != m.on {
                    b.del(&p.name);
                }
            }
        }
        VectorMatchCardinality::ManyToOne(include) | VectorMatchCardinality::OneToMany(include) => {
            for name in &include.labels {
                match one.get(name) {
                    Some(v) => b.set(name.as_str(), v),
                    None => b.del(name),
                };
            }
        }
        VectorMatchCardinality::ManyToMany => {}
    }
    b.build()
}

fn set_and(lhs: Vec<Elem>, rhs: Vec<Elem>, m: &Matching<'_>, unless: bool) -> Vec<Elem> {
    if rhs.is_empty() {
        return if unless { lhs } else { Vec::new() };
    }
    let right: HashSet<Vec<u8>> = rhs
        .iter()
        .map(|e| signature(&e.labels, m.on, &m.labels))
        .collect();
    lhs.into_iter()
        .filter(|e| right.contains(&signature(&e.labels, m.on, &m.labels)) != unless)
        .collect()
}

fn set_or(lhs: Vec<Elem>, rhs: Vec<Elem>, m: &Matching<'_>) -> Vec<Elem> {
    let left: HashSet<Vec<u8>> = lhs
        .iter()
        .map(|e| signature(&e.labels, m.on, &m.labels))
        .collect();
    let mut out = lhs;
    out.extend(
        rhs.into_iter()
            .filter(|e| !left.contains(&signature(&e.labels, m.on, &m.labels))),
    );
    out
}
