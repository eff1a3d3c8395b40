//! The periodic API checks: `/api/v1/alerts`, `/api/v1/rules` and the `ALERTS` series, each
//! compared against every snapshot a case allows at that moment, as upstream does.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cases::{Case, ExpAlert, GI_MS, Labels, Phase};
use super::rules_file::GroupDef;
use super::timebase::{MAX_RTT_MS, Timebase, fmt_ms, parse_rfc3339_ms};

/// An alert as an evaluator's API returns it, times in virtual ms.
#[derive(Clone, Debug)]
pub struct ApiAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub state: String,
    pub value: String,
    pub active_at: Option<i64>,
}

/// A rule of `/api/v1/rules`, durations in virtual ms.
#[derive(Clone, Debug)]
pub struct ApiRule {
    pub name: String,
    pub query: String,
    pub duration_ms: i64,
    pub labels: Labels,
    pub annotations: Labels,
    pub health: String,
    pub kind: String,
    pub state: String,
    pub last_error: String,
    pub last_evaluation: Option<i64>,
    pub alerts: Vec<ApiAlert>,
}

/// A group of `/api/v1/rules`.
#[derive(Clone, Debug)]
pub struct ApiGroup {
    pub name: String,
    pub interval_ms: i64,
    pub last_evaluation: Option<i64>,
    pub rules: Vec<ApiRule>,
}

fn labels_of(v: &Value) -> Labels {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn time_of(v: &Value, key: &str, tb: &Timebase) -> Option<i64> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ms)
        .map(|ms| tb.to_virtual(ms))
}

fn secs_to_virtual_ms(v: Option<&Value>, tb: &Timebase) -> i64 {
    let secs = v.and_then(Value::as_f64).unwrap_or(0.0);
    (secs * 1000.0 / tb.scale).round() as i64
}

fn success_data(body: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("response is not JSON: {e}"))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        return Err(format!("got non success status {:?}", v.get("status")));
    }
    Ok(v.get("data").cloned().unwrap_or(Value::Null))
}

fn parse_alert(v: &Value, tb: &Timebase) -> ApiAlert {
    ApiAlert {
        labels: labels_of(&v["labels"]),
        annotations: labels_of(&v["annotations"]),
        state: str_of(v, "state"),
        value: str_of(v, "value"),
        active_at: time_of(v, "activeAt", tb),
    }
}

/// Parses `/api/v1/alerts`, grouped by the `rulegroup` label.
pub fn parse_alerts(body: &str, tb: &Timebase) -> Result<BTreeMap<String, Vec<ApiAlert>>, String> {
    let data = success_data(body)?;
    let mut out: BTreeMap<String, Vec<ApiAlert>> = BTreeMap::new();
    for a in data["alerts"].as_array().into_iter().flatten() {
        let a = parse_alert(a, tb);
        out.entry(a.labels.get("rulegroup").cloned().unwrap_or_default())
            .or_default()
            .push(a);
    }
    Ok(out)
}

/// Parses `/api/v1/rules`, keyed by group name.
pub fn parse_rules(body: &str, tb: &Timebase) -> Result<BTreeMap<String, ApiGroup>, String> {
    let data = success_data(body)?;
    let mut out = BTreeMap::new();
    for g in data["groups"].as_array().into_iter().flatten() {
        let rules = g["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| ApiRule {
                name: str_of(r, "name"),
                query: str_of(r, "query"),
                duration_ms: secs_to_virtual_ms(r.get("duration"), tb),
                labels: labels_of(&r["labels"]),
                annotations: labels_of(&r["annotations"]),
                health: str_of(r, "health"),
                kind: str_of(r, "type"),
                state: str_of(r, "state"),
                last_error: str_of(r, "lastError"),
                last_evaluation: time_of(r, "lastEvaluation", tb),
                alerts: r["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| parse_alert(a, tb))
                    .collect(),
            })
            .collect();
        let group = ApiGroup {
            name: str_of(g, "name"),
            interval_ms: secs_to_virtual_ms(g.get("interval"), tb),
            last_evaluation: time_of(g, "lastEvaluation", tb),
            rules,
        };
        out.insert(group.name.clone(), group);
    }
    Ok(out)
}

/// One `ALERTS` sample from an instant query: labels, timestamp (s), value.
pub type MetricSample = (Labels, i64, f64);

/// Parses an instant-query vector, grouped by the `rulegroup` label.
pub fn parse_metrics(body: &str) -> Result<BTreeMap<String, Vec<MetricSample>>, String> {
    let data = success_data(body)?;
    let mut out: BTreeMap<String, Vec<MetricSample>> = BTreeMap::new();
    for s in data["result"].as_array().into_iter().flatten() {
        let labels = labels_of(&s["metric"]);
        let ts = s["value"][0].as_f64().unwrap_or(-1.0) as i64;
        let val: f64 = s["value"][1]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        out.entry(labels.get("rulegroup").cloned().unwrap_or_default())
            .or_default()
            .push((labels, ts, val));
    }
    Ok(out)
}

fn fmt_labels(l: &Labels) -> String {
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn fmt_alert(a: &ApiAlert, tb: &Timebase) -> String {
    format!(
        "{} state={} value={} activeAt={} annotations={}",
        fmt_labels(&a.labels),
        a.state,
        a.value,
        a.active_at
            .map(|t| tb.label(t))
            .unwrap_or_else(|| "missing".into()),
        fmt_labels(&a.annotations)
    )
}

fn fmt_exp(e: &ExpAlert, tb: &Timebase) -> String {
    format!(
        "{} state={} value={} activeAt={} annotations={}",
        fmt_labels(&e.labels),
        e.state,
        e.value,
        tb.label(tb.zero_real_ms + e.active_at),
        fmt_labels(&e.annotations)
    )
}

/// Upstream `areAlertsEqual`: same set (labels, annotations, state, value), then each
/// `activeAt` within `[expected, expected + interval + 2·MaxRTT]`.
fn alerts_equal(exp: &[ExpAlert], act: &[ApiAlert], tb: &Timebase) -> Result<(), String> {
    if exp.len() != act.len() {
        let e: Vec<String> = exp.iter().map(|a| fmt_exp(a, tb)).collect();
        let a: Vec<String> = act.iter().map(|a| fmt_alert(a, tb)).collect();
        return Err(format!(
            "expected {} alerts {e:?}, got {} {a:?}",
            exp.len(),
            act.len()
        ));
    }
    let mut exp = exp.to_vec();
    let mut act = act.to_vec();
    exp.sort_by(|a, b| a.labels.cmp(&b.labels));
    act.sort_by(|a, b| a.labels.cmp(&b.labels));
    for (e, a) in exp.iter().zip(&act) {
        let av: Option<f64> = a.value.parse().ok();
        let field = if e.labels != a.labels {
            Some("labels")
        } else if e.annotations != a.annotations {
            Some("annotations")
        } else if e.state != a.state {
            Some("state")
        } else if av != Some(e.value) {
            Some("value")
        } else {
            None
        };
        if let Some(field) = field {
            return Err(format!(
                "{field} mismatch: expected {}, got {}",
                fmt_exp(e, tb),
                fmt_alert(a, tb)
            ));
        }
    }
    for (e, a) in exp.iter().zip(&act) {
        let lo = tb.zero_real_ms + e.active_at;
        let hi = lo + GI_MS + 2 * MAX_RTT_MS;
        match a.active_at {
            None => return Err(format!("activeAt missing: {}", fmt_alert(a, tb))),
            Some(t) if t < lo || t > hi => {
                return Err(format!(
                    "activeAt mismatch for {}: expected in [{}, {}], got {}",
                    fmt_labels(&a.labels),
                    tb.label(lo),
                    tb.label(hi),
                    tb.label(t)
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn combine(kind: &str, phases: &[&Phase], errs: Vec<String>) -> String {
    if errs.len() == 1 {
        return format!(
            "{kind} (expected snapshot '{}'): {}",
            phases[0].name, errs[0]
        );
    }
    let mut s = format!(
        "{kind}: none of the {} possible snapshots matched:",
        errs.len()
    );
    for (p, e) in phases.iter().zip(errs) {
        s.push_str(&format!("\n      ('{}') {e}", p.name));
    }
    s
}

fn candidates(case: &Case, rel: i64) -> Vec<&Phase> {
    case.phases.iter().filter(|p| p.possible_at(rel)).collect()
}

/// Upstream `CheckAlerts`.
pub fn check_alerts(case: &Case, now: i64, act: &[ApiAlert], tb: &Timebase) -> Result<(), String> {
    let phases = candidates(case, tb.rel(now));
    let mut errs = Vec::new();
    for p in &phases {
        match alerts_equal(&p.alerts, act, tb) {
            Ok(()) => return Ok(()),
            Err(e) => errs.push(e),
        }
    }
    Err(combine("alerts", &phases, errs))
}

/// Upstream `CheckMetrics`: the `ALERTS` series of the snapshot, value 1, at query time.
pub fn check_metrics(
    case: &Case,
    now: i64,
    query_s: i64,
    act: &[MetricSample],
    tb: &Timebase,
) -> Result<(), String> {
    let phases = candidates(case, tb.rel(now));
    let mut got: Vec<&MetricSample> = act.iter().collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut errs = Vec::new();
    for p in &phases {
        let mut want: Vec<Labels> = p
            .alerts
            .iter()
            .map(|a| {
                let mut l = a.labels.clone();
                l.insert("__name__".into(), "ALERTS".into());
                l.insert("alertstate".into(), a.state.into());
                l
            })
            .collect();
        want.sort();
        let ok = want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, g)| *w == g.0 && g.1 == query_s && g.2 == 1.0);
        if ok {
            return Ok(());
        }
        let w: Vec<String> = want
            .iter()
            .map(|l| format!("{} 1 @{query_s}", fmt_labels(l)))
            .collect();
        let g: Vec<String> = got
            .iter()
            .map(|s| format!("{} {} @{}", fmt_labels(&s.0), s.2, s.1))
            .collect();
        errs.push(format!("expected {w:?}, got {g:?}"));
    }
    Err(combine("ALERTS series", &phases, errs))
}

fn normalize_query(q: &str) -> String {
    promql_parser::parser::parse(q)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| format!("<unparsable> {q}"))
}

/// Upstream `CheckRuleGroup`: group fields, each rule's static fields and derived state,
/// evaluation freshness, then the alerts of all rules together.
pub fn check_rules(
    case: &Case,
    def: &GroupDef,
    now: i64,
    act: Option<&ApiGroup>,
    tb: &Timebase,
) -> Result<(), String> {
    if tb.rel(now) < 2 * GI_MS {
        return Ok(());
    }
    let act = act.ok_or("no rule group found")?;
    let cutoff = now - MAX_RTT_MS - GI_MS;
    let want_interval = super::timebase::parse_duration_ms(&def.interval).unwrap_or(0);
    if act.name != def.name {
        return Err(format!(
            "wrong group name, expected {:?}, got {:?}",
            def.name, act.name
        ));
    }
    if act.interval_ms != want_interval {
        return Err(format!(
            "wrong group interval, expected {}ms, got {}ms (virtual)",
            want_interval, act.interval_ms
        ));
    }
    match act.last_evaluation {
        Some(t) if t >= cutoff => {}
        other => {
            return Err(format!(
                "expected a group evaluation after {}, last evaluation was {}",
                tb.label(cutoff),
                other
                    .map(|t| tb.label(t))
                    .unwrap_or_else(|| "missing".into())
            ));
        }
    }
    if act.rules.len() != def.rules.len() {
        return Err(format!(
            "different number of rules, expected {}, got {}",
            def.rules.len(),
            act.rules.len()
        ));
    }
    let mut act_rules: Vec<&super::checks::ApiRule> = act.rules.iter().collect();
    act_rules.sort_by(|a, b| a.name.cmp(&b.name).then(a.labels.cmp(&b.labels)));
    let mut defs: Vec<_> = def.rules.iter().collect();
    defs.sort_by(|a, b| a.alert.cmp(&b.alert).then(a.labels.cmp(&b.labels)));
    let act_alerts: Vec<ApiAlert> = act
        .rules
        .iter()
        .flat_map(|r| r.alerts.iter().cloned())
        .collect();

    let phases = candidates(case, tb.rel(now));
    let mut errs = Vec::new();
    'phase: for p in &phases {
        for (d, a) in defs.iter().zip(&act_rules) {
            let mine: Vec<&ExpAlert> = p
                .alerts
                .iter()
                .filter(|x| x.labels.get("alertname") == Some(&d.alert))
                .collect();
            let state = if mine.iter().any(|x| x.state == "firing") {
                "firing"
            } else if mine.is_empty() {
                "inactive"
            } else {
                "pending"
            };
            let mismatch = if state != a.state {
                Some(("state", state.to_string(), a.state.clone()))
            } else if d.alert != a.name {
                Some(("name", d.alert.clone(), a.name.clone()))
            } else if normalize_query(&d.expr) != normalize_query(&a.query) {
                Some(("query", d.expr.clone(), a.query.clone()))
            } else if d.for_ms() != a.duration_ms {
                Some((
                    "duration",
                    format!("{}ms", d.for_ms()),
                    format!("{}ms (virtual)", a.duration_ms),
                ))
            } else if d.labels != a.labels {
                Some(("labels", fmt_labels(&d.labels), fmt_labels(&a.labels)))
            } else if d.annotations != a.annotations {
                Some((
                    "annotations",
                    fmt_labels(&d.annotations),
                    fmt_labels(&a.annotations),
                ))
            } else if a.health != "ok" {
                Some(("health", "ok".into(), a.health.clone()))
            } else if a.kind != "alerting" {
                Some(("type", "alerting".into(), a.kind.clone()))
            } else if !a.last_error.is_empty() {
                Some(("lastError", String::new(), a.last_error.clone()))
            } else {
                None
            };
            if let Some((field, want, got)) = mismatch {
                errs.push(format!(
                    "rule {:?}: {field} expected {want:?}, got {got:?}",
                    d.alert
                ));
                continue 'phase;
            }
            match a.last_evaluation {
                Some(t) if t >= cutoff => {}
                other => {
                    errs.push(format!(
                        "rule {:?}: expected an evaluation after {}, last was {}",
                        a.name,
                        tb.label(cutoff),
                        other
                            .map(|t| tb.label(t))
                            .unwrap_or_else(|| "missing".into())
                    ));
                    continue 'phase;
                }
            }
        }
        match alerts_equal(&p.alerts, &act_alerts, tb) {
            Ok(()) => return Ok(()),
            Err(e) => errs.push(format!("alerts of the rules: {e}")),
        }
    }
    Err(combine("rules", &phases, errs))
}

/// Human-readable virtual + real time of a check.
pub fn at(tb: &Timebase, virtual_ms: i64) -> String {
    format!(
        "{} (wall {})",
        tb.label(virtual_ms),
        fmt_ms(tb.to_real(virtual_ms))
    )
}
