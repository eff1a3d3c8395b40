//! The values a template computes with, and how Go prints and compares them.
//!
//! Go's text/template works on reflected Go values; this enum covers exactly the types
//! that Prometheus' and vmalert's template data and functions produce, so every Go rule
//! that matters (printing, truthiness, comparison kinds) can be applied by match.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use crate::labels::{Labels, Str};
use crate::sample::Sample;

use super::gofmt;

/// A template value; cheap to clone (strings and collections are shared).
#[derive(Clone, Debug)]
pub enum Value {
    /// An absent value (missing map key of interface type, untyped `nil`).
    Missing,
    Bool(bool),
    Int(i64),
    /// `uint64` (vmalert's `$alertID`, `$groupID`).
    Uint(u64),
    Float(f64),
    Str(Str),
    /// `map[string]string`: `$labels`, `$externalLabels`, a query sample's labels.
    Labels(Labels),
    /// `map[string]interface{}`: what `args` returns.
    Map(Arc<BTreeMap<String, Value>>),
    /// A query result (`[]*sample`) or a list of values.
    List(Arc<Vec<Value>>),
    /// One query result element, with `.Labels` and `.Value`.
    Sample(Arc<Sample>),
    /// `*time.Time`, as nanoseconds since the epoch (UTC).
    Time(i128),
    /// `time.Duration`, in nanoseconds.
    Duration(i64),
    /// The template's dot: the alert data struct.
    Root,
}

/// Go's comparison kinds (`basicKind` in text/template).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
}

impl Value {
    /// A string value (copies `s` into a shared string).
    pub fn str(s: &str) -> Value {
        Value::Str(Str::from(s))
    }

    /// A string value from an owned string.
    pub fn string(s: String) -> Value {
        Value::Str(Str::from(s))
    }

    /// The Go type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Missing => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Labels(_) => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::List(_) => "template.queryResult",
            Value::Sample(_) => "*template.sample",
            Value::Time(_) => "*time.Time",
            Value::Duration(_) => "time.Duration",
            Value::Root => "*template.tmplData",
        }
    }

    /// The comparison kind (`time.Duration` compares as an integer, as in Go).
    pub fn kind(&self) -> Kind {
        match self {
            Value::Missing => Kind::Invalid,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) | Value::Duration(_) => Kind::Int,
            Value::Uint(_) => Kind::Uint,
            Value::Float(_) => Kind::Float,
            Value::Str(_) => Kind::Str,
            _ => Kind::Other,
        }
    }

    /// Go's truth: false, 0, empty string/collection and nil are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Missing => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint(i) => *i != 0,
            Value::Duration(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Labels(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Sample(_) | Value::Time(_) | Value::Root => true,
        }
    }

    /// Appends the value as Go's `fmt.Sprint` (%v) prints it.
    pub fn write_v(&self, out: &mut String) {
        match self {
            Value::Missing => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Uint(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&gofmt::format_v(*f)),
            Value::Str(s) => out.push_str(s),
            Value::Labels(l) => write_labels_map(out, l),
            Value::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_v(out);
                }
                out.push(']');
            }
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_v(out);
                }
                out.push(']');
            }
            Value::Sample(s) => {
                out.push('{');
                write_labels_map(out, &s.labels);
                out.push(' ');
                out.push_str(&gofmt::format_v(s.value));
                out.push('}');
            }
            Value::Time(ns) => out.push_str(&format_go_time(*ns)),
            Value::Duration(d) => out.push_str(&format_go_duration(*d)),
            Value::Root => out.push_str("{...}"),
        }
    }

    /// The value as `fmt.Sprint` would return it.
    pub fn to_v(&self) -> String {
        if let Value::Str(s) = self {
            return s.to_string();
        }
        let mut s = String::new();
        self.write_v(&mut s);
        s
    }
}

fn write_labels_map(out: &mut String, l: &Labels) {
    out.push_str("map[");
    for (i, p) in l.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&p.name);
        out.push(':');
        out.push_str(&p.value);
    }
    out.push(']');
}

/// A time value (nanoseconds since the epoch) as a UTC date, or the text printed for
/// one out of range.
pub fn utc_date(ns: i128) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, frac))
        .ok_or_else(|| format!("<time out of range: {ns}ns>"))
}

/// Go's `time.Time.String()` for a UTC time: `2015-06-23 13:19:44.128 +0000 UTC`.
pub fn format_go_time(ns: i128) -> String {
    let dt = match utc_date(ns) {
        Ok(dt) => dt,
        Err(text) => return text,
    };
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    let mut s = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    if frac != 0 {
        let f = format!(".{frac:09}");
        s.push_str(f.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

/// Go's `time.Duration.String()`: `1h0m0s`, `1.5s`, `300ms`, `0s`.
pub fn format_go_duration(d: i64) -> String {
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut s = String::new();
    if u < 1_000_000_000 {
        // Sub-second: one unit with a fraction.
        let (unit, div) = match u {
            0 => return "0s".into(),
            1..=999 => ("ns", 1u64),
            1_000..=999_999 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        s.push_str(&frac_str(u, div));
        s.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let m = (u / 60_000_000_000) % 60;
        let rem = u % 60_000_000_000;
        if h > 0 {
            let _ = write!(s, "{h}h");
        }
        if h > 0 || m > 0 {
            let _ = write!(s, "{m}m");
        }
        s.push_str(&frac_str(rem, 1_000_000_000));
        s.push('s');
    }
    if neg {
        s.insert(0, '-');
    }
    s
}

fn frac_str(v: u64, div: u64) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(300_000_000), "300ms");
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(-90_000_000_000), "-1m30s");
    }

    #[test]
    fn times_print_like_go() {
        assert_eq!(
            format_go_time(1_435_065_584_128_000_000),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(format_go_time(0), "1970-01-01 00:00:00 +0000 UTC");
    }
}
