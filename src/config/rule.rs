//! Validation of one rule: the checks of Prometheus' rulefmt plus vmalert's rule fields.
//! Every problem is reported; a rule with any problem yields no `Rule`.

use std::sync::Arc;
use std::time::Duration;

use super::LoadOptions;
use super::duration::parse_duration;
use super::error::{ErrorKind, LoadError, RuleRef};
use super::model::{AlertExtensions, AlertingSpec, ForCount, RecordingSpec, Rule, RuleKind};
use super::names::{is_valid_label_name, is_valid_record_name, literal_template};
use super::policy::{Which, check_selectors, flapping, policy};
use super::raw::{RawForCount, RawMap, RawRule, S, pos};
use crate::template::Template;

/// Where errors go, with the file/group context already filled in.
pub(crate) struct Sink<'a> {
    pub file: &'a std::path::Path,
    pub group: Option<String>,
    pub errors: &'a mut Vec<LoadError>,
    /// The interval the group is evaluated at, when known, for checks that compare with
    /// it: its own `interval`, else `-evaluationInterval`.
    pub interval: Option<GroupInterval>,
    /// Templates parsed so far in this file, by (key, text, templated). Rules generated
    /// from one pattern repeat the same annotation texts hundreds of times; one parsed
    /// copy (a `Template` is a shared handle) saves the parsing and the memory of the
    /// others. Only successful parses are kept, so every broken copy is still reported
    /// at its own position.
    pub templates: &'a mut TemplateCache,
    /// Expressions that parsed as PromQL so far in this file: a file generated from one
    /// pattern repeats them too, and a parse costs more than the rest of a rule's checks.
    pub exprs: &'a mut std::collections::HashSet<String>,
}

/// The interval a group is evaluated at, and where it comes from (for error messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupInterval {
    pub every: Duration,
    /// Set by the group's `interval`, not by `-evaluationInterval`.
    pub own: bool,
}

impl std::fmt::Display for GroupInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let every = super::format_duration(self.every);
        if self.own {
            write!(f, "the group's interval ({every})")
        } else {
            write!(
                f,
                "-evaluationInterval ({every}; the group sets no interval)"
            )
        }
    }
}

/// See [`Sink::templates`].
pub(crate) type TemplateCache = std::collections::HashMap<(String, String, bool), Template>;

impl Sink<'_> {
    /// Parses `text` as PromQL, or finds that an identical text of this file did.
    pub fn check_promql(&mut self, text: &str) -> Result<(), String> {
        if !self.exprs.contains(text) {
            promql_parser::parser::parse(text)?;
            self.exprs.insert(text.to_string());
        }
        Ok(())
    }

    pub fn push(&mut self, at: (usize, usize), rule: Option<&RuleRef>, kind: ErrorKind) {
        self.errors.push(LoadError {
            file: Some(self.file.to_path_buf()),
            line: at.0,
            col: at.1,
            group: self.group.clone(),
            rule: rule.cloned(),
            kind,
        });
    }
}

pub(crate) const RULE_FIELDS: &str = "record, alert, expr, for, keep_firing_for, labels, \
                                      annotations, debug, update_entries_limit, recover_expr, \
                                      for_count, no_data, on_error, flapping";

const FOR_COUNT_FIELDS: &str = "n, of";

/// Parses an optional duration field, reporting a bad one; `None` when absent or bad.
pub(crate) fn duration_field(
    sink: &mut Sink<'_>,
    rule: Option<&RuleRef>,
    field: &'static str,
    value: &Option<S<String>>,
) -> Option<Duration> {
    let v = value.as_ref()?;
    match parse_duration(v.value.trim()) {
        Ok(d) => Some(d),
        Err(error) => {
            sink.push(pos(v), rule, ErrorKind::BadDuration { field, error });
            None
        }
    }
}

fn non_empty(v: &Option<S<String>>) -> Option<&S<String>> {
    v.as_ref().filter(|s| !s.value.is_empty())
}

/// Checks one rule; returns it only if it has no problem.
pub(crate) fn validate_rule(
    sink: &mut Sink<'_>,
    index: usize,
    raw: &S<Box<RawRule>>,
    opts: &LoadOptions,
) -> Option<Rule> {
    let rule_pos = pos(raw);
    let r = &raw.value;
    let before = sink.errors.len();
    let (record, alert) = (non_empty(&r.record), non_empty(&r.alert));
    let name = alert
        .or(record)
        .map(|s| s.value.clone())
        .unwrap_or_default();
    let rref = RuleRef { index, name };
    let rr = Some(&rref);

    for key in r.unknown.iter().filter(|_| !opts.ignore_unknown_fields) {
        let kind = ErrorKind::UnknownField {
            field: key.value.clone(),
            context: "rule",
            valid: RULE_FIELDS,
        };
        sink.push(pos(key), rr, kind);
    }
    match (record, alert) {
        (Some(_), Some(a)) => sink.push(pos(a), rr, ErrorKind::BothRecordAndAlert),
        (None, None) => sink.push(rule_pos, rr, ErrorKind::NeitherRecordNorAlert),
        _ => {}
    }
    let expr = checked_expr(sink, rr, rule_pos, r, opts);
    let for_ = duration_field(sink, rr, "for", &r.for_).unwrap_or_default();
    let keep = duration_field(sink, rr, "keep_firing_for", &r.keep_firing_for).unwrap_or_default();
    if let Some(rec) = record.filter(|_| alert.is_none()) {
        alerting_keys_of_recording(sink, rr, r, (for_, keep));
        if !is_valid_record_name(&rec.value) {
            sink.push(pos(rec), rr, ErrorKind::BadRecordName(rec.value.clone()));
        }
    }
    let ext = extensions(sink, rr, r, opts);
    let labels = check_map(sink, rr, &r.labels, "label", alert.is_some(), opts);
    let annotations = check_map(sink, rr, &r.annotations, "annotation", true, opts);
    let update_entries_limit = update_entries_limit(sink, rr, r);
    if sink.errors.len() != before {
        return None;
    }
    let kind = match (alert, record) {
        (Some(a), _) => RuleKind::Alerting(Arc::new(AlertingSpec {
            name: a.value.as_str().into(),
            for_,
            keep_firing_for: keep,
            annotations,
            ext,
        })),
        (None, Some(rec)) => RuleKind::Recording(RecordingSpec {
            name: rec.value.as_str().into(),
        }),
        (None, None) => return None,
    };
    Some(Rule {
        kind,
        expr: expr.unwrap_or_default().into(),
        labels,
        debug: r.debug.as_ref().is_some_and(|d| d.value),
        update_entries_limit,
        index,
        line: rule_pos.0,
    })
}

/// `expr`, trimmed: required, and PromQL unless expressions go unchecked (MetricsQL).
fn checked_expr<'r>(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    rule_pos: (usize, usize),
    r: &'r RawRule,
    opts: &LoadOptions,
) -> Option<&'r str> {
    let expr = r.expr.as_ref().map(|e| (e.value.trim(), pos(e)));
    match expr {
        None | Some(("", _)) => sink.push(rule_pos, rr, ErrorKind::MissingExpr),
        Some((text, at)) if opts.validate_expressions => {
            if let Err(e) = sink.check_promql(text) {
                sink.push(at, rr, ErrorKind::BadExpr(e));
            }
        }
        Some(_) => {}
    }
    expr.map(|(text, _)| text)
}

/// The keys only an alerting rule takes, each an error on a recording rule, at the key.
/// `for: 0` and `keep_firing_for: 0` (`durations`, as parsed) say nothing, and
/// Prometheus accepts them; an empty `annotations` map too.
fn alerting_keys_of_recording(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    r: &RawRule,
    (for_, keep): (Duration, Duration),
) {
    let at = &r.at;
    let given = [
        (
            "annotations",
            &at.annotations,
            r.annotations
                .as_ref()
                .is_some_and(|a| !a.value.0.is_empty()),
        ),
        ("for", &at.for_, r.for_.is_some() && !for_.is_zero()),
        (
            "keep_firing_for",
            &at.keep_firing_for,
            r.keep_firing_for.is_some() && !keep.is_zero(),
        ),
        ("recover_expr", &at.recover_expr, r.recover_expr.is_some()),
        ("for_count", &at.for_count, r.for_count.is_some()),
        ("no_data", &at.no_data, r.no_data.is_some()),
        ("on_error", &at.on_error, r.on_error.is_some()),
        ("flapping", &at.flapping, r.flapping.is_some()),
    ];
    for (field, key, _) in given.into_iter().filter(|(_, _, given)| *given) {
        sink.push(pos(key), rr, ErrorKind::RecordingField(field));
    }
}

/// vmalert's `update_entries_limit`: not negative.
fn update_entries_limit(sink: &mut Sink<'_>, rr: Option<&RuleRef>, r: &RawRule) -> Option<usize> {
    match &r.update_entries_limit {
        Some(v) if v.value < 0 => {
            let kind = ErrorKind::Negative {
                field: "update_entries_limit",
                value: v.value,
            };
            sink.push(pos(v), rr, kind);
            None
        }
        Some(v) => Some(v.value as usize),
        None => None,
    }
}

/// tocsin's extension keys of a rule (see [`AlertExtensions`]), checked.
fn extensions(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    r: &RawRule,
    opts: &LoadOptions,
) -> AlertExtensions {
    let recover_expr = r.recover_expr.as_ref().and_then(|e| {
        let text = e.value.trim();
        if text.is_empty() {
            sink.push(pos(e), rr, ErrorKind::EmptyRecoverExpr);
            return None;
        }
        if opts.validate_expressions
            && let Err(err) = sink.check_promql(text)
        {
            sink.push(pos(e), rr, ErrorKind::BadRecoverExpr(err));
            return None;
        }
        Some(text.to_string())
    });
    let at = &r.at;
    let for_count = r
        .for_count
        .as_ref()
        .and_then(|fc| for_count(sink, rr, fc, pos(&at.for_count)));
    let no_data = policy(sink, rr, Which::NoData, &r.no_data, pos(&at.no_data)).filter(|_| {
        r.expr
            .as_ref()
            .is_none_or(|e| check_selectors(sink, rr, e.value.trim(), pos(&at.no_data), opts))
    });
    AlertExtensions {
        recover_expr,
        for_count,
        no_data,
        on_error: policy(sink, rr, Which::OnError, &r.on_error, pos(&at.on_error)),
        flapping: flapping(sink, rr, &r.flapping, pos(&at.flapping)),
    }
}

/// `for_count: {n: N, of: M}` (its key written at `key`), checked: both given,
/// `1 <= N <= M <= 64`.
fn for_count(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    raw: &S<RawForCount>,
    key: (usize, usize),
) -> Option<ForCount> {
    let fc = &raw.value;
    for key in &fc.unknown {
        let kind = ErrorKind::UnknownField {
            field: key.value.clone(),
            context: "for_count",
            valid: FOR_COUNT_FIELDS,
        };
        sink.push(pos(key), rr, kind);
    }
    let (Some(n), Some(of)) = (&fc.n, &fc.of) else {
        let missing = if fc.n.is_none() { "n" } else { "of" };
        sink.push(key, rr, ErrorKind::MissingForCountField(missing));
        return None;
    };
    let max = i64::from(ForCount::MAX_OF);
    if n.value < 1 || of.value < n.value || of.value > max {
        let at = if n.value < 1 || n.value > of.value {
            pos(n)
        } else {
            pos(of)
        };
        let kind = ErrorKind::BadForCount {
            n: n.value,
            of: of.value,
        };
        sink.push(at, rr, kind);
        return None;
    }
    if !fc.unknown.is_empty() {
        return None;
    }
    Some(ForCount {
        n: n.value as u32,
        of: of.value as u32,
    })
}

/// Checks names (and, when `templated`, template syntax) of labels or annotations and
/// compiles the values.
fn check_map(
    sink: &mut Sink<'_>,
    rr: Option<&RuleRef>,
    map: &Option<S<RawMap>>,
    what: &'static str,
    templated: bool,
    opts: &LoadOptions,
) -> Vec<(String, Template)> {
    let Some(map) = map else { return Vec::new() };
    let mut out = Vec::with_capacity(map.value.0.len());
    for (k, v) in &map.value.0 {
        let name_ok = is_valid_label_name(&k.value) && (what != "label" || k.value != "__name__");
        if !name_ok {
            let kind = match what {
                "label" => ErrorKind::BadLabelName(k.value.clone()),
                _ => ErrorKind::BadAnnotationName(k.value.clone()),
            };
            sink.push(pos(k), rr, kind);
            continue;
        }
        let key = (k.value.clone(), v.value.clone(), templated);
        let compiled = if let Some(t) = sink.templates.get(&key) {
            Ok(t.clone())
        } else if templated {
            match Template::parse(&k.value, &v.value) {
                Ok(t) => Ok(t),
                Err(e) if opts.validate_templates => Err(e),
                Err(_) => literal_template(&k.value, &v.value),
            }
        } else {
            literal_template(&k.value, &v.value)
        };
        if let Ok(t) = &compiled {
            sink.templates.entry(key).or_insert_with(|| t.clone());
        }
        match compiled {
            Ok(t) => out.push((k.value.clone(), t)),
            Err(e) => {
                let kind = ErrorKind::BadTemplate {
                    what,
                    name: k.value.clone(),
                    line: e.line,
                    col: e.col,
                    message: e.message,
                };
                sink.push(pos(v), rr, kind);
            }
        }
    }
    out
}
