//! Validation of a parsed file: group-level checks (Prometheus' and vmalert's), then
//! every rule. All problems of a file are collected; groups are only produced when the
//! whole file is clean, so callers never see half a file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::LoadOptions;
use super::checksum::group_checksum;
use super::duration::format_duration;
use super::error::{ErrorKind, LoadError};
use super::model::{DatasourceType, Group, Rule};
use super::names::is_valid_label_name;
use super::policy::{Which, apply_defaults, policy};
use super::raw::{RawFile, RawGroup, S, pos};
use super::rule::{GroupInterval, Sink, TemplateCache, duration_field, validate_rule};
use crate::labels::Labels;

const GROUP_FIELDS: &str = "name, interval, query_offset, limit, labels, rules, eval_offset, \
                            eval_delay, eval_alignment, concurrency, type, params, headers, \
                            notifier_headers, debug, no_data, on_error";

/// Validates one file; pushes every problem to `errors` and returns the groups (only
/// meaningful when no error was pushed).
pub(crate) fn validate_file(
    file: &Path,
    raw: RawFile,
    opts: &LoadOptions,
    errors: &mut Vec<LoadError>,
) -> Vec<Arc<Group>> {
    let unknown: &[S<String>] = if opts.ignore_unknown_fields {
        &[]
    } else {
        &raw.unknown
    };
    for key in unknown {
        let (line, col) = pos(key);
        errors.push(LoadError {
            line,
            col,
            ..LoadError::file(
                file,
                ErrorKind::UnknownField {
                    field: key.value.clone(),
                    context: "the file (top level)",
                    valid: "groups",
                },
            )
        });
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut templates = TemplateCache::new();
    let mut exprs = std::collections::HashSet::new();
    let mut groups = Vec::new();
    for g in raw.groups.unwrap_or_default() {
        let name = g
            .value
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_default();
        let name_pos = g.value.name.as_ref().map(pos).unwrap_or_else(|| pos(&g));
        let mut sink = Sink {
            interval: None,
            file,
            group: Some(name.clone()),
            errors,
            templates: &mut templates,
            exprs: &mut exprs,
        };
        if name.is_empty() {
            sink.group = None;
            sink.push(pos(&g), None, ErrorKind::EmptyGroupName);
            sink.group = Some(name.clone());
        } else if let Some(first_line) = seen.get(&name) {
            let kind = ErrorKind::DuplicateGroup {
                name: name.clone(),
                first_line: *first_line,
            };
            sink.group = None;
            sink.push(name_pos, None, kind);
            sink.group = Some(name.clone());
        } else {
            seen.insert(name.clone(), name_pos.0);
        }
        if let Some(group) = validate_group(&mut sink, name, name_pos.0, &g, opts) {
            groups.push(Arc::new(group));
        }
    }
    groups
}

/// Checks one group and its rules; returns it only if none of them has a problem.
fn validate_group(
    sink: &mut Sink<'_>,
    name: String,
    line: usize,
    raw: &S<Box<RawGroup>>,
    opts: &LoadOptions,
) -> Option<Group> {
    let g = &raw.value;
    let before = sink.errors.len();
    for key in g.unknown.iter().filter(|_| !opts.ignore_unknown_fields) {
        let kind = ErrorKind::UnknownField {
            field: key.value.clone(),
            context: "group",
            valid: GROUP_FIELDS,
        };
        sink.push(pos(key), None, kind);
    }
    let timing = timing(sink, g);
    // Rules compare durations with the interval the group runs at (`flapping`): its
    // own, else `-evaluationInterval`, which a group without one runs at.
    sink.interval = match (timing.interval, opts.default_interval) {
        (Some(every), _) => Some(GroupInterval { every, own: true }),
        (None, Some(every)) => Some(GroupInterval { every, own: false }),
        (None, None) => None,
    };
    // Prometheus treats a negative limit as "no limit"; keep that reading.
    let limit = g.limit.as_ref().map_or(0, |l| l.value.max(0) as usize);
    let concurrency = concurrency(sink, g);
    let datasource_type = datasource_type(sink, raw, opts);
    let labels = group_labels(sink, g);
    let headers = headers_of(sink, "headers", &g.headers);
    let notifier_headers = headers_of(sink, "notifier_headers", &g.notifier_headers);
    let params = g.params.as_ref().map_or_else(Vec::new, |p| {
        p.value
            .0
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.value.clone(), v.clone())))
            .collect()
    });
    let rules = rules(sink, g, opts);
    if sink.errors.len() != before {
        return None;
    }
    let mut group = Group {
        file: sink.file.to_path_buf(),
        shown_file: sink.file.display().to_string(),
        name,
        line,
        interval: timing.interval,
        query_offset: timing.query_offset,
        limit,
        labels,
        eval_offset: timing.eval_offset,
        eval_delay: timing.eval_delay,
        eval_alignment: g.eval_alignment.as_ref().map(|b| b.value),
        concurrency,
        datasource_type,
        params,
        headers,
        notifier_headers,
        debug: g.debug.as_ref().is_some_and(|d| d.value),
        rules,
        checksum: 0,
        identity: 0,
    };
    group.checksum = group_checksum(&group);
    group.identity = super::model::group_id(&sink.file.to_string_lossy(), &group.name);
    if opts.strip_file_path {
        // As vmalert: the group's ID is taken from the full path first.
        let name = sink.file.file_name().unwrap_or_default().to_string_lossy();
        group.shown_file = format!("{}/{name}", group.id());
    }
    Some(group)
}

/// When a group evaluates and what time it queries.
struct Timing {
    interval: Option<Duration>,
    query_offset: Option<Duration>,
    eval_offset: Option<Duration>,
    eval_delay: Option<Duration>,
}

/// `interval`, `query_offset`, `eval_offset` and `eval_delay`, checked: vmalert takes
/// either an offset into the interval or a delay, and an offset within the interval.
fn timing(sink: &mut Sink<'_>, g: &RawGroup) -> Timing {
    // Zero means "the default interval", as in Prometheus and vmalert.
    let interval = duration_field(sink, None, "interval", &g.interval).filter(|d| !d.is_zero());
    let query_offset = duration_field(sink, None, "query_offset", &g.query_offset);
    let eval_offset = duration_field(sink, None, "eval_offset", &g.eval_offset);
    let eval_delay = duration_field(sink, None, "eval_delay", &g.eval_delay);
    if let (Some(o), Some(_)) = (&g.eval_offset, &g.eval_delay) {
        sink.push(pos(o), None, ErrorKind::EvalOffsetWithDelay);
    }
    if let (Some(off), Some(iv)) = (eval_offset, interval)
        && off > iv
    {
        let kind = ErrorKind::EvalOffsetTooLarge {
            offset: format_duration(off),
            interval: format_duration(iv),
        };
        let at = g.eval_offset.as_ref().map(pos).unwrap_or_default();
        sink.push(at, None, kind);
    }
    Timing {
        interval,
        query_offset,
        eval_offset,
        eval_delay,
    }
}

/// vmalert's `concurrency`: 0 and absent read as 1, a negative one is an error.
fn concurrency(sink: &mut Sink<'_>, g: &RawGroup) -> usize {
    match &g.concurrency {
        Some(c) if c.value < 0 => {
            let kind = ErrorKind::Negative {
                field: "concurrency",
                value: c.value,
            };
            sink.push(pos(c), None, kind);
            1
        }
        // vmalert reads 0 as the default, 1.
        Some(c) => (c.value as usize).max(1),
        None => 1,
    }
}

/// vmalert's `type`: tocsin evaluates `prometheus` only, also as the default.
fn datasource_type(
    sink: &mut Sink<'_>,
    raw: &S<Box<RawGroup>>,
    opts: &LoadOptions,
) -> DatasourceType {
    match &raw.value.type_ {
        Some(t) if !t.value.is_empty() && t.value != "prometheus" => {
            sink.push(pos(t), None, ErrorKind::UnsupportedType(t.value.clone()));
        }
        Some(t) if !t.value.is_empty() => {}
        // vmalert gives a group without `type` the -rule.defaultRuleType.
        _ if opts.default_rule_type != "prometheus" => {
            let kind = ErrorKind::UnsupportedDefaultType(opts.default_rule_type.clone());
            sink.push(pos(raw), None, kind);
        }
        _ => {}
    }
    DatasourceType::Prometheus
}

/// The group's `labels`, names checked.
fn group_labels(sink: &mut Sink<'_>, g: &RawGroup) -> Labels {
    let mut labels = Vec::new();
    for (k, v) in g.labels.iter().flat_map(|m| &m.value.0) {
        if !is_valid_label_name(&k.value) || k.value == "__name__" {
            sink.push(pos(k), None, ErrorKind::BadLabelName(k.value.clone()));
        } else {
            labels.push((k.value.clone(), v.value.clone()));
        }
    }
    Labels::from_pairs(labels)
}

/// The group's rules, each checked, with the group's `no_data`/`on_error` given to the
/// alerting rules that set none.
fn rules(sink: &mut Sink<'_>, g: &RawGroup, opts: &LoadOptions) -> Vec<Arc<Rule>> {
    // Sized up front: a group holds its rules for its whole life, and a pushed-to `Vec`
    // keeps room for 4 (1 KiB per group of one rule, 100 MiB with 100,000 groups).
    let mut rules = Vec::with_capacity(g.rules.iter().flatten().count());
    for (i, r) in g.rules.iter().flatten().enumerate() {
        if let Some(rule) = validate_rule(sink, i, r, opts) {
            rules.push(rule);
        }
    }
    let defaults = (
        policy(sink, None, Which::NoData, &g.no_data, pos(&g.no_data_at)),
        policy(sink, None, Which::OnError, &g.on_error, pos(&g.on_error_at)),
    );
    apply_defaults(sink, &mut rules, defaults, pos(&g.no_data_at), opts);
    // Not `collect()`ed from `into_iter()`: that reuses the rules' own allocation, 280
    // bytes a rule, for the 8-byte pointers, and keeps it as long as the group lives.
    let mut shared = Vec::with_capacity(rules.len());
    shared.extend(rules.into_iter().map(Arc::new));
    shared
}

/// `"Name: value"` strings into pairs; a missing colon or empty name is an error.
fn headers_of(
    sink: &mut Sink<'_>,
    field: &'static str,
    raw: &Option<S<Vec<S<String>>>>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for h in raw.iter().flat_map(|l| l.value.iter()) {
        match h.value.split_once(':') {
            Some((n, v)) if !n.trim().is_empty() => {
                out.push((n.trim().to_string(), v.trim().to_string()));
            }
            _ => {
                let kind = ErrorKind::BadHeader {
                    field,
                    value: h.value.clone(),
                };
                sink.push(pos(h), None, kind);
            }
        }
    }
    out
}
