//! Reading the template data: the predefined variables from the [`Context`], label
//! lookups without copying, and how Go names a node in error messages.

use super::ast::Arg;
use super::context::Context;
use super::value::Value;
use crate::labels::Str;

/// A label's value as a shared string (missing labels are `""`, as Go's zero value).
pub(crate) fn label_value(l: &crate::labels::Labels, name: &str) -> Value {
    static EMPTY: std::sync::OnceLock<Str> = std::sync::OnceLock::new();
    match l.iter().find(|p| &*p.name == name) {
        Some(p) => Value::Str(p.value.clone()),
        None => Value::Str(EMPTY.get_or_init(Str::default).clone()),
    }
}

/// Variables every alert template may use without declaring them: the ones
/// [`ctx_var`] knows.
pub(crate) const PREDEFINED: &[&str] = &[
    "$labels",
    "$value",
    "$externalLabels",
    "$externalURL",
    "$expr",
    "$activeAt",
    "$for",
    "$alertID",
    "$groupID",
    "$type",
    "$isPartial",
];

/// A predefined variable's value, straight from the context.
pub(crate) fn ctx_var(c: &Context<'_>, name: &str) -> Option<Value> {
    Some(match name {
        "$labels" => Value::Labels(c.labels.clone()),
        "$value" => Value::Float(c.value),
        "$externalLabels" => Value::Labels(c.external_labels.clone()),
        "$externalURL" => Value::str(c.external_url),
        "$expr" => Value::str(c.expr),
        "$activeAt" => time_value(c.active_at),
        "$for" => Value::Duration(c.for_.as_nanos().min(i64::MAX as u128) as i64),
        "$alertID" => Value::Uint(c.alert_id),
        "$groupID" => Value::Uint(c.group_id),
        "$type" => Value::str(c.rule_type),
        "$isPartial" => Value::Bool(c.is_partial),
        _ => return None,
    })
}

fn time_value(t: Option<std::time::SystemTime>) -> Value {
    match t {
        Some(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Value::Time(d.as_nanos() as i128),
            Err(e) => Value::Time(-(e.duration().as_nanos() as i128)),
        },
        // Go's zero time.Time.
        None => Value::Time(-62_135_596_800_000_000_000),
    }
}

/// How Go names a node in "executing … at <…>".
pub(crate) fn describe(a: &Arg) -> String {
    match a {
        Arg::Dot => ".".into(),
        Arg::Nil => "nil".into(),
        Arg::Bool(b) => b.to_string(),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.to_string(),
        Arg::Field(f) => f.iter().map(|x| format!(".{x}")).collect(),
        Arg::Var(n, f) => format!(
            "{n}{}",
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        ),
        Arg::Func(n) => n.clone(),
        Arg::Chain(inner, f) => format!(
            "{}{}",
            describe(inner),
            f.iter().map(|x| format!(".{x}")).collect::<String>()
        ),
        Arg::Pipe(_) => "(…)".into(),
    }
}
