//! Recursive JSON "shape" comparison: keys and value types at every level, plus the
//! Go time and `%e` value formats, with per-object-kind lists of allowed extra and
//! allowed missing keys.

use serde_json::Value;

/// Per object kind (`group`, `alerting`, `recording`, `alert`), the keys allowed to
/// differ.
pub type KeyLists = &'static [(&'static str, &'static [&'static str])];

pub struct Shape {
    /// Keys we may have that the reference lacks.
    pub extras: KeyLists,
    /// Keys the reference may have that we lack.
    pub missing_ok: KeyLists,
    pub diffs: Vec<String>,
    /// `kind.key` of every allowed extra key seen, to prove the walk went deep.
    pub seen_extras: Vec<String>,
}

/// The JSON type of `v`, as the comparison reports it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The object kind at `path`: `group`, `alert`, or for rules their `type` (`alerting`,
/// `recording`), from the name of the array the object sits in.
fn kind_of(path: &str, obj: &serde_json::Map<String, Value>) -> &'static str {
    let last = path.rsplit('.').next().unwrap_or("");
    if last.starts_with("groups[") {
        "group"
    } else if last.starts_with("rules[") {
        match obj.get("type").and_then(Value::as_str) {
            Some("alerting") => "alerting",
            Some("recording") => "recording",
            _ => "rule",
        }
    } else if last.starts_with("alerts[") {
        "alert"
    } else {
        ""
    }
}

fn listed(lists: KeyLists, kind: &str, key: &str) -> bool {
    lists
        .iter()
        .any(|(k, keys)| *k == kind && keys.contains(&key))
}

impl Shape {
    pub fn new(extras: KeyLists, missing_ok: KeyLists) -> Shape {
        Shape {
            extras,
            missing_ok,
            diffs: Vec::new(),
            seen_extras: Vec::new(),
        }
    }

    /// Compares `ours` against the reference `theirs`, recording differences.
    pub fn compare(&mut self, path: &str, theirs: &Value, ours: &Value) {
        match (theirs, ours) {
            (Value::Object(t), Value::Object(o)) => {
                let kind = kind_of(path, o);
                for (k, tv) in t {
                    match o.get(k) {
                        Some(ov) => self.compare(&format!("{path}.{k}"), tv, ov),
                        None if listed(self.missing_ok, kind, k) => {}
                        None => self.diffs.push(format!("{path}.{k}: missing in ours")),
                    }
                }
                for k in o.keys().filter(|k| !t.contains_key(*k)) {
                    if listed(self.extras, kind, k) {
                        self.seen_extras.push(format!("{kind}.{k}"));
                    } else {
                        self.diffs
                            .push(format!("{path}.{k}: extra in ours, not documented"));
                    }
                }
            }
            (Value::Array(t), Value::Array(o)) => {
                if t.len() != o.len() {
                    self.diffs.push(format!(
                        "{path}: {} elements in the reference, {} in ours",
                        t.len(),
                        o.len()
                    ));
                }
                for (i, (tv, ov)) in t.iter().zip(o).enumerate() {
                    self.compare(&format!("{path}[{i}]"), tv, ov);
                }
            }
            (t, o) if type_name(t) != type_name(o) => {
                self.diffs.push(format!(
                    "{path}: {} in the reference, {} in ours",
                    type_name(t),
                    type_name(o)
                ));
            }
            (Value::String(t), Value::String(o)) => {
                let time = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")
                    .expect("regex");
                if time.is_match(t) != time.is_match(o) {
                    self.diffs
                        .push(format!("{path}: time format differs: {t:?} vs {o:?}"));
                }
            }
            _ => {}
        }
    }
}
