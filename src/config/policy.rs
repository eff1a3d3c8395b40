//! `no_data` and `on_error` (docs/rules.md), on a rule or as its group's default: what a
//! rule's alerts do when its selectors return nothing, or when its queries fail; and
//! `flapping`, which also says how an alert's notifications go out.

use super::LoadOptions;
use super::error::{ErrorKind, RuleRef};
use std::time::Duration;

use super::duration::format_duration;
use super::model::{Flapping, Policy, PolicyState, Rule, RuleKind};
use super::raw::{RawFlapping, RawPolicy, S, pos};
use super::rule::{Sink, duration_field};
use crate::promql::selectors::presence_query;

const POLICY_FIELDS: &str = "after, state";
const FLAPPING_FIELDS: &str = "changes, within, hold";

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

/// Checks one `no_data` or `on_error` mapping (its key written at `key`); `None` when
/// absent or broken.
pub(crate) fn policy(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    which: Which,
    raw: &Option<S<RawPolicy>>,
    key: (usize, usize),
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
            sink.push(key, rr, ErrorKind::MissingPolicyState(field, which.hint()));
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
/// `at` is where the group's `no_data` key is written: a rule that inherits it but has
/// no selector to ask about is reported there.
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
        // Still the loader's only copy: no clone.
        let a = std::sync::Arc::make_mut(a);
        if a.ext.no_data.is_none() && defaults.0.is_some() {
            let rr = RuleRef {
                index: r.index,
                name: a.name.to_string(),
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

/// `flapping: {changes: K, within: DURATION, hold: BOOL}` (its key written at `key`),
/// checked: `changes` at least 1, and `within` no shorter than the interval the group
/// runs at (its own, else `-evaluationInterval` when known; never zero).
pub(crate) fn flapping(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    raw: &Option<S<RawFlapping>>,
    key: (usize, usize),
) -> Option<Flapping> {
    let raw = raw.as_ref()?;
    let f = &raw.value;
    for key in &f.unknown {
        let kind = ErrorKind::UnknownField {
            field: key.value.clone(),
            context: "flapping",
            valid: FLAPPING_FIELDS,
        };
        sink.push(pos(key), rr, kind);
    }
    let (Some(changes), Some(within_raw)) = (&f.changes, &f.within) else {
        let missing = if f.changes.is_none() {
            "changes"
        } else {
            "within"
        };
        sink.push(key, rr, ErrorKind::MissingFlappingField(missing));
        return None;
    };
    let within = duration_field(sink, rr, "within", &f.within);
    if changes.value < 1 {
        sink.push(
            pos(changes),
            rr,
            ErrorKind::BadFlappingChanges(changes.value),
        );
        return None;
    }
    // A window shorter than the interval the group runs at holds at most one
    // evaluation, so it never sees two changes.
    let interval = sink.interval.map_or(Duration::ZERO, |i| i.every);
    if let Some(w) = within.filter(|w| w.is_zero() || *w < interval) {
        let kind = ErrorKind::FlappingWindowTooShort {
            within: format_duration(w),
            interval: sink
                .interval
                .map_or("the group's interval (not set)".to_string(), |i| {
                    i.to_string()
                }),
        };
        sink.push(pos(within_raw), rr, kind);
        return None;
    }
    if !f.unknown.is_empty() {
        return None;
    }
    Some(Flapping {
        changes: u32::try_from(changes.value).unwrap_or(u32::MAX),
        within: within?,
        hold: f.hold.as_ref().is_some_and(|h| h.value),
    })
}
