//! Every function a template may call: Go's builtins, Prometheus' list and vmalert's
//! extras. Argument checking follows Go's messages so errors read the same.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::Regex;

use super::builtins::{eq, eval_args, index, lt, slice};
use super::context::Context;
use super::error::{FResult, FuncError};
use super::escape;
use super::gotime;
use super::humanize;
use super::limits::MAX_QUERIES;
use super::printf;
use super::value::Value;
use crate::labels::Str;

fn want(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() != n {
        return Err(FuncError::Arg(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn wrong(expected: &'static str, got: &Value) -> FuncError {
    FuncError::Type {
        index: usize::MAX,
        expected,
        got: got.type_name(),
    }
}

/// Attaches the argument index to a type error.
fn at(i: usize, e: FuncError) -> FuncError {
    match e {
        FuncError::Type { expected, got, .. } => FuncError::Type {
            index: i,
            expected,
            got,
        },
        other => other,
    }
}

fn str_at(a: &[Value], i: usize) -> Result<&str, FuncError> {
    string(&a[i]).map_err(|e| at(i, e))
}

fn sample_at(a: &[Value], i: usize) -> Result<&crate::sample::Sample, FuncError> {
    sample(&a[i]).map_err(|e| at(i, e))
}

fn string(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong("string", other)),
    }
}

fn sample(v: &Value) -> Result<&crate::sample::Sample, FuncError> {
    match v {
        Value::Sample(s) => Ok(s),
        other => Err(wrong("*template.sample", other)),
    }
}

/// Prometheus' `convertToFloat` (3.x: a `time.Duration` counts as its seconds, so
/// `humanizeDuration ($a.Sub $b)` works; Prometheus 2.42 refused it).
fn float(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Duration(d) => Ok(*d as f64 / 1e9),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(i) => Ok(*i as f64),
        Value::Str(s) => parse_go_float(s).ok_or_else(|| {
            FuncError::Call(format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                printf::go_quote(s)
            ))
        }),
        other => Err(FuncError::Call(format!(
            "can't convert {} to float",
            other.type_name()
        ))),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let clean = s.replace('_', "");
    if clean
        .bytes()
        .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'))
    {
        return None;
    }
    clean.parse().ok()
}

/// Wraps a string result.
fn s(v: impl Into<Str>) -> FResult {
    Ok(Value::Str(v.into()))
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

fn regex(pattern: &str) -> Result<Regex, FuncError> {
    if let Some(r) = REGEX_CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(r);
    }
    let r = Regex::new(pattern)
        .map_err(|e| FuncError::Call(go_regex_error(pattern, &e.to_string())))?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
    });
    Ok(r)
}

/// Words a regex compile error as Go's `regexp.MustCompile` panic does, for the common
/// syntax errors; others keep the regex crate's description.
fn go_regex_error(pattern: &str, rust: &str) -> String {
    let quoted = if pattern.contains('`') {
        printf::go_quote(pattern)
    } else {
        format!("`{pattern}`")
    };
    let detail = if rust.contains("unclosed character class") {
        let from = pattern.rfind('[').map_or(pattern, |i| &pattern[i..]);
        format!("missing closing ]: `{from}`")
    } else if rust.contains("unclosed group") {
        format!("missing closing ): `{pattern}`")
    } else if rust.contains("unopened group") {
        format!("unexpected ): `{pattern}`")
    } else if rust.contains("repetition operator missing expression") {
        let op = pattern
            .chars()
            .find(|c| matches!(c, '*' | '+' | '?'))
            .unwrap_or('*');
        format!("missing argument to repetition operator: `{op}`")
    } else {
        rust.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    format!("regexp: Compile({quoted}): error parsing regexp: {detail}")
}

/// Calls function `name` with evaluated arguments (pipeline value last); `queries`
/// counts the render's `query` calls against [`MAX_QUERIES`].
pub fn call(ctx: &Context<'_>, queries: &mut usize, name: &str, a: &[Value]) -> FResult {
    match name {
        "not" => {
            want(name, a, 1)?;
            Ok(Value::Bool(!a[0].is_true()))
        }
        "len" => {
            want(name, a, 1)?;
            Ok(Value::Int(match &a[0] {
                Value::Str(s) => s.len(),
                Value::Labels(l) => l.len(),
                Value::Map(m) => m.len(),
                Value::List(l) => l.len(),
                other => {
                    return Err(FuncError::Call(format!(
                        "len of type {}",
                        other.type_name()
                    )));
                }
            } as i64))
        }
        "index" => index(a),
        "slice" => slice(a),
        "print" => s(printf::sprint(a)),
        "println" => s(printf::sprintln(a)),
        "printf" => {
            if a.is_empty() {
                return Err(FuncError::Arg(
                    "wrong number of args for printf: want at least 1 got 0".into(),
                ));
            }
            s(printf::sprintf(str_at(a, 0)?, &a[1..]))
        }
        "urlquery" => s(escape::query_escape(&eval_args(a))),
        "html" => s(escape::html_escape(&eval_args(a))),
        "js" => s(escape::js_escape(&eval_args(a))),
        "call" => Err(FuncError::Call(
            "call of non-function: templates here have no function values".into(),
        )),
        "eq" => {
            if a.is_empty() {
                return Err(FuncError::Arg(
                    "wrong number of args for eq: want at least 1 got 0".into(),
                ));
            }
            eq(&a[0], &a[1..]).map(Value::Bool)
        }
        "ne" => {
            want(name, a, 2)?;
            eq(&a[0], &a[1..]).map(|b| Value::Bool(!b))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, a, 2)?;
            let lt = lt(&a[0], &a[1])?;
            let r = match name {
                "lt" => lt,
                "ge" => !lt,
                _ => {
                    let le = lt || eq(&a[0], &a[1..])?;
                    if name == "le" { le } else { !le }
                }
            };
            Ok(Value::Bool(r))
        }
        _ => prometheus(ctx, queries, name, a),
    }
}

/// Prometheus' template functions over query results: `query` and what reads its answer.
fn prometheus(ctx: &Context<'_>, queries: &mut usize, name: &str, a: &[Value]) -> FResult {
    match name {
        "query" => {
            want(name, a, 1)?;
            let q = str_at(a, 0)?;
            let Some(querier) = ctx.querier else {
                return Err(FuncError::Call(
                    "query is not available: no datasource for templates".into(),
                ));
            };
            *queries += 1;
            if *queries > MAX_QUERIES {
                return Err(FuncError::Call(format!(
                    "more than {MAX_QUERIES} queries in one template"
                )));
            }
            let res = querier.query(q).map_err(FuncError::Call)?;
            Ok(Value::List(Arc::new(
                res.into_iter()
                    .map(|s| Value::Sample(Arc::new(s)))
                    .collect(),
            )))
        }
        "first" => {
            want(name, a, 1)?;
            match &a[0] {
                Value::List(l) => l.first().cloned().ok_or_else(|| {
                    FuncError::Call("first() called on vector with no elements".into())
                }),
                other => Err(at(0, wrong("template.queryResult", other))),
            }
        }
        "label" => {
            want(name, a, 2)?;
            let l = str_at(a, 0)?;
            s(sample_at(a, 1)?.labels.get(l).unwrap_or(""))
        }
        "value" => {
            want(name, a, 1)?;
            Ok(Value::Float(sample_at(a, 0)?.value))
        }
        "strvalue" => {
            want(name, a, 1)?;
            s(sample_at(a, 0)?.labels.get("__value__").unwrap_or(""))
        }
        "args" => {
            let m: BTreeMap<String, Value> = a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v.clone()))
                .collect();
            Ok(Value::Map(Arc::new(m)))
        }
        "sortByLabel" => {
            want(name, a, 2)?;
            let l = str_at(a, 0)?;
            let Value::List(list) = &a[1] else {
                return Err(at(1, wrong("template.queryResult", &a[1])));
            };
            let mut v: Vec<Value> = list.to_vec();
            let key = |x: &Value| match x {
                Value::Sample(s) => s.labels.get(l).unwrap_or("").to_string(),
                _ => String::new(),
            };
            v.sort_by_key(key);
            Ok(Value::List(Arc::new(v)))
        }
        _ => text(ctx, name, a),
    }
}

/// String functions: regular expressions, case, escaping and links.
fn text(ctx: &Context<'_>, name: &str, a: &[Value]) -> FResult {
    match name {
        "reReplaceAll" => {
            want(name, a, 3)?;
            let re = regex(str_at(a, 0)?)?;
            s(re.replace_all(str_at(a, 2)?, str_at(a, 1)?).into_owned())
        }
        "match" => {
            want(name, a, 2)?;
            let re = regex(str_at(a, 0)?)?;
            Ok(Value::Bool(re.is_match(str_at(a, 1)?)))
        }
        "title" => one_str(name, a, escape::title),
        "toUpper" => one_str(name, a, escape::to_upper),
        "toLower" => one_str(name, a, escape::to_lower),
        "stripPort" => one_str(name, a, escape::strip_port),
        "stripDomain" => one_str(name, a, escape::strip_domain),
        "safeHtml" => one_str(name, a, str::to_string),
        "urlQueryEscape" | "queryEscape" => one_str(name, a, escape::query_escape),
        "pathEscape" => one_str(name, a, escape::path_escape),
        "htmlEscape" => one_str(name, a, escape::vm_html_escape),
        "jsonEscape" => one_str(name, a, escape::json_escape),
        "quotesEscape" => one_str(name, a, escape::quotes_escape),
        "crlfEscape" => one_str(name, a, |x| x.replace('\n', "\\n").replace('\r', "\\r")),
        "graphLink" => one_str(name, a, |e| {
            format!("/graph?g0.expr={}&g0.tab=0", escape::query_escape(e))
        }),
        "tableLink" => one_str(name, a, |e| {
            format!("/graph?g0.expr={}&g0.tab=1", escape::query_escape(e))
        }),
        "pathPrefix" => {
            want(name, a, 0)?;
            s(url_path(ctx.external_url))
        }
        "externalURL" => {
            want(name, a, 0)?;
            s(ctx.external_url)
        }
        _ => time(ctx, name, a),
    }
}

/// Durations, times and the humanizing family; the end of the chain.
fn time(ctx: &Context<'_>, name: &str, a: &[Value]) -> FResult {
    match name {
        "parseDuration" => {
            want(name, a, 1)?;
            let ms = humanize::parse_prom_duration(str_at(a, 0)?).map_err(FuncError::Call)?;
            Ok(Value::Float(ms as f64 / 1000.0))
        }
        "parseDurationTime" => {
            want(name, a, 1)?;
            let ns = humanize::parse_vm_duration(str_at(a, 0)?).map_err(FuncError::Call)?;
            Ok(Value::Duration(ns))
        }
        "toTime" => {
            want(name, a, 1)?;
            let v = float(&a[0])?;
            match humanize::float_to_time(v).map_err(FuncError::Call)? {
                Some(ns) => Ok(Value::Time(ns)),
                None => Err(FuncError::Call("value is NaN or Inf".into())),
            }
        }
        "toDuration" => {
            want(name, a, 1)?;
            let v = float(&a[0])?;
            Ok(Value::Duration(humanize::go_f64_to_i64(v * 1e9)))
        }
        "now" => {
            // vmalert's (Prometheus has none): whole seconds, as a float64.
            want(name, a, 0)?;
            let t = ctx.eval_time.unwrap_or_else(std::time::SystemTime::now);
            let secs = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_secs() as f64,
                Err(e) => -(e.duration().as_secs_f64().ceil()),
            };
            Ok(Value::Float(secs))
        }
        "formatTime" => {
            // vmalert: `formatTime layout seconds`, the time truncated to milliseconds.
            want(name, a, 2)?;
            let layout = str_at(a, 0)?;
            let v = float(&a[1]).map_err(|e| match e {
                FuncError::Call(m) => FuncError::Call(format!("formatTime: {m}")),
                other => other,
            })?;
            if !v.is_finite() {
                return Err(FuncError::Call(format!(
                    "formatTime: cannot convert {} to time",
                    super::gofmt::format_v(v)
                )));
            }
            let ms = humanize::go_f64_to_i64(v * 1e3);
            s(gotime::format(i128::from(ms) * 1_000_000, layout))
        }
        "humanize" => one_float(name, a, |v| Ok(humanize::humanize(v))),
        "humanize1024" => one_float(name, a, |v| Ok(humanize::humanize1024(v))),
        "humanizeDuration" => one_float(name, a, |v| Ok(humanize::humanize_duration(v))),
        "humanizePercentage" => one_float(name, a, |v| Ok(humanize::humanize_percentage(v))),
        "humanizeTimestamp" => one_float(name, a, humanize::humanize_timestamp),
        _ => Err(FuncError::Arg(format!("function {name:?} not defined"))),
    }
}

fn one_str(name: &str, a: &[Value], f: impl Fn(&str) -> String) -> FResult {
    want(name, a, 1)?;
    s(f(str_at(a, 0)?))
}

fn one_float(name: &str, a: &[Value], f: impl Fn(f64) -> Result<String, String>) -> FResult {
    want(name, a, 1)?;
    let v = float(&a[0])?;
    s(f(v).map_err(FuncError::Call)?)
}

/// The path of a URL (`http://host:9090/prom/` → `/prom/`).
fn url_path(u: &str) -> &str {
    let rest = match u.find("://") {
        Some(i) => &u[i + 3..],
        None => return u,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    match rest.find('/') {
        Some(i) => &rest[i..],
        None => "",
    }
}
