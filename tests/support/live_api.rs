//! What the live API tests against today's peers share: two rule files that Prometheus
//! 3.5, vmalert 1.145 and tocsin all load, and the comparison of what a
//! `/api/v1/rules` query selected (groups, rules, states, alerts), following either
//! pagination.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{get_json, poll_json};
use super::peers::ChildGuard;

/// `a.yml`: group labels, a recording rule, a firing and a pending alert (group `a1`);
/// an alert whose query fails in every datasource and a recording rule whose selector
/// matches no series (group `a2`). `a2_extra` is appended to `a2`'s header (Prometheus
/// 3's `query_offset`, which vmalert does not know).
fn file_a(a2_extra: &str) -> String {
    format!(
        r#"groups:
  - name: a1
    labels: {{team: g}}
    rules:
      - record: job:one
        expr: vector(1)
        labels: {{team: a}}
      - alert: Always
        expr: vector(1)
        labels: {{severity: page}}
        annotations: {{summary: "value {{{{ $value }}}}"}}
      - alert: Waiting
        expr: vector(2)
        for: 1h
  - name: a2
{a2_extra}    rules:
      - alert: Broken
        expr: label_replace(vector(1), "a", "$1", "b", "(")
      - record: nothing:here
        expr: absent_metric_xyz_never_written
"#
    )
}

/// `b.yml`: one group, one recording rule without labels.
const FILE_B: &str = r#"groups:
  - name: b1
    rules:
      - record: x
        expr: vector(3)
"#;

/// Writes `a.yml` and `b.yml` into `dir` (file order, Prometheus 3's file-then-name
/// order and vmalert's name order all agree on them); returns their paths.
pub fn write_rule_files(dir: &Path, a2_extra: &str) -> (PathBuf, PathBuf) {
    let (a, b) = (dir.join("a.yml"), dir.join("b.yml"));
    std::fs::write(&a, file_a(a2_extra)).unwrap();
    std::fs::write(&b, FILE_B).unwrap();
    (a, b)
}

/// Whether every rule of [`write_rule_files`] has been evaluated with its expected
/// outcome (in any server's answer; vmalert says `ok` before the first evaluation, so
/// every rule must also have one).
pub fn settled(v: &Value) -> bool {
    let rule = |g: usize, r: usize| &v["data"]["groups"][g]["rules"][r];
    let evaluated = v["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .all(|r| {
            r["lastEvaluation"]
                .as_str()
                .is_some_and(|t| !t.starts_with("0001-"))
        });
    evaluated
        && rule(0, 0)["health"] == "ok"
        && rule(0, 1)["state"] == "firing"
        && rule(0, 2)["state"] == "pending"
        && rule(1, 0)["health"] == "err"
        && rule(1, 1)["health"] == "ok"
        && rule(2, 0)["health"] == "ok"
}

/// What a `/api/v1/rules` answer selected: per group its name and rules (name, type,
/// state, health, labels, annotations, number of alerts or `null`; a missing `labels`
/// or `annotations` counts as empty, as servers omit them differently); for an error,
/// only its status.
pub fn selection(status: u16, v: &Value) -> Value {
    if status != 200 {
        return json!({"status": status});
    }
    let groups: Vec<Value> = v["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            let rules: Vec<Value> = g["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    json!({
                        "name": r["name"],
                        "type": r["type"],
                        "state": r.get("state").filter(|s| *s != "").cloned().unwrap_or(Value::Null),
                        "health": r["health"],
                        "labels": r.get("labels").cloned().unwrap_or(json!({})),
                        "annotations": r.get("annotations").cloned().unwrap_or(json!({})),
                        "alerts": r["alerts"].as_array().map(|a| json!(a.len())).unwrap_or(Value::Null),
                    })
                })
                .collect();
            json!({"name": g["name"], "rules": rules})
        })
        .collect();
    json!({"status": status, "groups": groups})
}

/// `GET base/api/v1/rules?query`.
pub async fn rules(base: &str, query: &str) -> (u16, Value) {
    get_json(&format!("{base}/api/v1/rules?{query}")).await
}

/// Every page of `query` (which sets `group_limit`), following Prometheus'
/// `groupNextToken`; the [`selection`] of each.
pub async fn token_pages(base: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let q = match &next {
            Some(t) => format!("{query}&group_next_token={t}"),
            None => query.to_string(),
        };
        let (status, v) = rules(base, &q).await;
        out.push(selection(status, &v));
        next = v["data"]["groupNextToken"].as_str().map(str::to_string);
        if next.is_none() || out.len() > 10 {
            return out;
        }
    }
}

/// The alerts of an `/api/v1/alerts` answer as labels, state and value, sorted by
/// labels.
pub fn alert_list(v: &Value, value_key: impl Fn(&Value) -> Value) -> Vec<Value> {
    let mut a: Vec<Value> = v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| json!({"labels": a["labels"], "state": a["state"], "value": value_key(&a["value"])}))
        .collect();
    a.sort_by_key(|x| x["labels"].to_string());
    a
}

/// Waits (up to a minute) until both servers' `/api/v1/rules` are [`settled`]; returns
/// their answers, or panics with the log of the one that did not settle.
pub async fn settle_both(theirs: (&str, &ChildGuard), ours: (&str, &ChildGuard)) -> (Value, Value) {
    let wait = Duration::from_secs(60);
    let mut out = Vec::new();
    for (name, (base, guard)) in [("peer", theirs), ("tocsin", ours)] {
        let v = poll_json(&format!("{base}/api/v1/rules"), wait, settled)
            .await
            .unwrap_or_else(|| panic!("{name} did not settle:\n{}", guard.log_tail(30)));
        out.push(v);
    }
    let ours = out.pop().unwrap();
    (out.pop().unwrap(), ours)
}
