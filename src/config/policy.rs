//! `no_data` and `on_error` (docs/rules.md), on a rule or as its group's default: what a
//! rule's alerts do when its selectors return nothing, or when its queries fail.

use super::LoadOptions;
use super::error::{ErrorKind, RuleRef};
use super::model::{Policy, PolicyState, Rule, RuleKind};
use super::raw::{RawPolicy, S, pos};
use super::rule::{Sink, duration_field};
use crate::promql::selectors::presence_query;

const POLICY_FIELDS: &str = "after, state";

/// Which policy, with the states it takes and what they mean (for messages).
#[derive(Clone, Copy)]
pub(crate) enum Which {
    NoData,
    OnError,
}

impl Which {
    fn field(self) -> &'static str {
        match self {
            Which::NoData => "no_data",
            Which::OnError => "on_error",
        }
    }

    fn valid(self) -> &'static str {
        match self {
            Which::NoData => "ok, alerting, keep",
            Which::OnError => "keep, alerting",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Which::NoData => {
                "STATE is ok (the alerts resolve), alerting (a no-data alert fires) or keep (the alerts stay)"
            }
            Which::OnError => {
                "STATE is keep (the alerts stay and are re-sent) or alerting (an error alert fires)"
            }
        }
    }
}

/// Checks one `no_data` or `on_error` mapping; `None` when absent or broken.
pub(crate) fn policy(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    which: Which,
    raw: &Option<S<RawPolicy>>,
) -> Option<Policy> {
    let raw = raw.as_ref()?;
    let p = &raw.value;
    let field = which.field();
    for key in &p.unknown {
        let kind = ErrorKind::UnknownField {
            field: key.value.clone(),
            context: field,
            valid: POLICY_FIELDS,
        };
        sink.push(pos(key), rr, kind);
    }
    let after = duration_field(sink, rr, "after", &p.after);
    let state = match &p.state {
        None => {
            sink.push(
                pos(raw),
                rr,
                ErrorKind::MissingPolicyState(field, which.hint()),
            );
            None
        }
        Some(s) => match (which, s.value.trim()) {
            (Which::NoData, "ok") => Some(PolicyState::Ok),
            (_, "alerting") => Some(PolicyState::Alerting),
            (_, "keep") => Some(PolicyState::Keep),
            _ => {
                let kind = ErrorKind::BadPolicyState {
                    field,
                    got: s.value.clone(),
                    valid: which.valid(),
                };
                sink.push(pos(s), rr, kind);
                None
            }
        },
    };
    if !p.unknown.is_empty() || (p.after.is_some() && after.is_none()) {
        return None;
    }
    Some(Policy {
        after: after.unwrap_or_default(),
        state: state?,
    })
}

/// Gives the group's `no_data` and `on_error` to its alerting rules that set none.
/// `at` is where the group's `no_data` is written: a rule that inherits it but has no
/// selector to ask about is reported there.
pub(crate) fn apply_defaults(
    sink: &mut Sink<'_>,
    rules: &mut [Rule],
    defaults: (Option<Policy>, Option<Policy>),
    at: (usize, usize),
    opts: &LoadOptions,
) {
    for r in rules {
        let RuleKind::Alerting(a) = &mut r.kind else {
            continue;
        };
        if a.ext.no_data.is_none() && defaults.0.is_some() {
            let rr = RuleRef {
                index: r.index,
                name: a.name.clone(),
            };
            if check_selectors(sink, Some(&rr), &r.expr, at, opts) {
                a.ext.no_data = defaults.0;
            }
        }
        a.ext.on_error = a.ext.on_error.or(defaults.1);
    }
}

/// Whether `expr` has a selector for `no_data` to ask about; reports it at `at` if not.
pub(crate) fn check_selectors(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    expr: &str,
    at: (usize, usize),
    opts: &LoadOptions,
) -> bool {
    if !opts.validate_expressions || presence_query(expr).is_some() {
        return true;
    }
    sink.push(at, rr, ErrorKind::NoDataWithoutSelectors(expr.to_string()));
    false
}
