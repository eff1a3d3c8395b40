//! tocsin against a live vmalert 1.145 (Debian sid), both evaluating the same two rule
//! files against one VictoriaMetrics 1.145: `/api/v1/rules`, `/api/v1/alerts`,
//! `/api/v1/group`, `/api/v1/rule`, `/api/v1/alert` and `/api/v1/notifiers` have every
//! vmalert key with the same JSON type (except the differences docs/api.md lists), and
//! vmalert's filters (`search`, `state` with Grafana's aliases, `extended_states`,
//! `datasource_type`, `type`, `rule_name[]`, `rule_group[]`, `file[]`, `match[]`,
//! `exclude_alerts`) and its numbered pages select the same groups, rules and alerts.
//! Where tocsin answers differently on purpose (Prometheus' spelling wins, or tocsin
//! finds what vmalert cannot) the difference is asserted as such.
//! `web_shape_fixture_vs_vmalert.rs` keeps the comparison with vmalert 1.79.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::http::get_json;
use support::live_api::{alert_list, rules, selection, settle_both, write_rule_files};
use support::peers::{free_port, sid_peer_or_skip};
use support::servers::{spawn_ready, start_tocsin, start_victoria_metrics};
use support::shape::Shape;

/// vmalert 1.145 keys tocsin leaves out: Prometheus omits an empty `lastError`, and
/// recording rules have no `state`, `duration` or `keep_firing_for`.
const MISSING_OK: &[(&str, &[&str])] = &[
    ("alerting", &["lastError"]),
    (
        "recording",
        &["lastError", "state", "duration", "keep_firing_for"],
    ),
];

/// Keys tocsin adds: Prometheus' fields, and objects vmalert omits when empty.
const EXTRAS: &[(&str, &[&str])] = &[
    ("group", &["limit", "evaluationTime"]),
    (
        "alerting",
        &["keepFiringFor", "labels", "annotations", "alerts"],
    ),
    ("recording", &["labels"]),
    ("alert", &["keepFiringSince"]),
];

/// Filters whose answers must select the same.
const SAME: &[&str] = &[
    "",
    "type=alert",
    "type=record",
    "rule_name[]=Always&rule_name[]=x",
    "rule_group[]=a2",
    "search=WAIT",
    "search=b1",
    "search=here",
    "state=firing",
    "state=pending,firing",
    "state=inactive",
    "state=normal",
    "state=recovering",
    "extended_states=true",
    "state=ok&extended_states=true",
    "state=unhealthy&extended_states=true",
    "state=error&extended_states=true",
    "state=nomatch&extended_states=true",
    "state=noData&extended_states=true",
    "state=inactive&extended_states=true",
    "datasource_type=prometheus",
    "datasource_type=graphite",
    "exclude_alerts=true",
    "match[]={severity=\"page\"}",
    "match[]={\"team\"=\"g\"}",
    "match[]={team=~\"g|a\"}&type=record",
    "state=bogus",
    "datasource_type=sql",
    "group_limit=0",
    "page_num=1",
    "group_limit=1&page_num=0",
    "group_limit=1&page_num=4",
];

fn encode(q: &str) -> String {
    q.replace('{', "%7B")
        .replace('}', "%7D")
        .replace('"', "%22")
        .replace('|', "%7C")
        .replace('~', "%7E")
}

/// [`selection`] with vmalert's omissions evened out: no `alerts` key when a rule has
/// none.
fn picked(status: u16, v: &Value) -> Value {
    let mut s = selection(status, v);
    for g in s["groups"].as_array_mut().into_iter().flatten() {
        for r in g["rules"].as_array_mut().into_iter().flatten() {
            if r["alerts"] == json!(0) {
                r["alerts"] = Value::Null;
            }
        }
    }
    s
}

/// vmalert's page counters of an answer.
fn counters(v: &Value) -> Value {
    json!([
        v["page"],
        v["total_pages"],
        v["total_groups"],
        v["total_rules"]
    ])
}

#[tokio::test]
async fn tocsin_answers_like_vmalert_1_145_on_the_same_rules() {
    let (Some(vm_bin), Some(vmalert_bin)) = (
        sid_peer_or_skip("victoria-metrics"),
        sid_peer_or_skip("vmalert"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = write_rule_files(dir.path(), "");
    let (_vm, vm) = start_victoria_metrics(&vm_bin, dir.path(), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Nothing listens there: sending fails, which both report the same way.
    let notifier = format!("http://127.0.0.1:{}", free_port());
    let common = [
        format!("-rule={}", a.display()),
        format!("-rule={}", b.display()),
        format!("-datasource.url={vm}"),
        format!("-remoteWrite.url={vm}"),
        format!("-notifier.url={notifier}"),
        "-evaluationInterval=1s".to_string(),
    ];
    let port = free_port();
    let theirs_base = format!("http://127.0.0.1:{port}");
    let mut argv = vec![vmalert_bin.display().to_string()];
    argv.extend(common.iter().cloned());
    argv.push(format!("-httpListenAddr=127.0.0.1:{port}"));
    let vmalert = spawn_ready(
        "vmalert",
        &argv,
        dir.path(),
        &theirs_base,
        "/health",
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (tocsin_guard, ours_base) = start_tocsin(&common, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (theirs, ours) = settle_both((&theirs_base, &vmalert), (&ours_base, &tocsin_guard)).await;

    let mut shape = Shape::new(EXTRAS, MISSING_OK);
    shape.compare("rules", &theirs, &ours);
    let (_, their_alerts) = get_json(&format!("{theirs_base}/api/v1/alerts")).await;
    let (_, our_alerts) = get_json(&format!("{ours_base}/api/v1/alerts")).await;
    let by_name = |v: &Value| {
        let mut a = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
        a.sort_by_key(|x| x["name"].as_str().unwrap_or("").to_string());
        json!({"status": v["status"], "data": {"alerts": a}})
    };
    shape.compare("alerts", &by_name(&their_alerts), &by_name(&our_alerts));
    single_objects(&mut shape, &theirs_base, &theirs, &ours_base, &ours).await;
    let (_, their_n) = get_json(&format!("{theirs_base}/api/v1/notifiers")).await;
    let (_, our_n) = get_json(&format!("{ours_base}/api/v1/notifiers")).await;
    let mut notifiers = Shape::new(&[("", &["sent", "errors", "dropped", "queued"])], &[]);
    notifiers.compare("notifiers", &their_n, &our_n);
    shape.diffs.extend(notifiers.diffs);
    assert!(shape.diffs.is_empty(), "shape:\n{}", shape.diffs.join("\n"));
    for k in ["group.limit", "alerting.keepFiringFor"] {
        assert!(
            shape.seen_extras.iter().any(|e| e == k),
            "did not reach {k}"
        );
    }
    // Values: vmalert prints `%f` (`1`), tocsin Prometheus' `%e` (`1e+00`).
    let number = |v: &Value| json!(v.as_str().and_then(|s| s.parse::<f64>().ok()));
    assert_eq!(
        alert_list(&their_alerts, number),
        alert_list(&our_alerts, number)
    );
    assert_eq!(alert_list(&our_alerts, number).len(), 2);

    for q in SAME {
        let q = encode(q);
        let ((ts, tv), (os, ov)) = (rules(&theirs_base, &q).await, rules(&ours_base, &q).await);
        assert_eq!(picked(ts, &tv), picked(os, &ov), "?{q}");
    }
    // The comparisons above are not of empty lists: these select what they name.
    for (q, want) in [
        ("state=nomatch&extended_states=true", "nothing:here"),
        ("state=unhealthy&extended_states=true", "Broken"),
        ("search=WAIT", "Waiting"),
        ("state=normal", "Broken"),
    ] {
        let (_, v) = rules(&ours_base, &encode(q)).await;
        let names: Vec<&Value> = v["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .map(|r| &r["name"])
            .collect();
        assert_eq!(names, [want], "?{q}");
    }
    for page in 1..=3 {
        let q = format!("group_limit=1&page_num={page}");
        let ((ts, tv), (os, ov)) = (rules(&theirs_base, &q).await, rules(&ours_base, &q).await);
        assert_eq!(picked(ts, &tv), picked(os, &ov), "?{q}");
        assert_eq!(counters(&tv), counters(&ov), "?{q}");
    }
    let (_, tv) = rules(&theirs_base, "group_limit=2").await;
    let (_, ov) = rules(&ours_base, "group_limit=2").await;
    assert_eq!(counters(&tv), counters(&ov), "first page without page_num");
    let (_, tv) = rules(
        &theirs_base,
        "search=a2&state=unhealthy&extended_states=true",
    )
    .await;
    let (_, ov) = rules(&ours_base, "search=a2&state=unhealthy&extended_states=true").await;
    assert_eq!(
        tv["data"]["groups"][0]["states"],
        ov["data"]["groups"][0]["states"]
    );
    assert_eq!(ov["data"]["groups"][0]["states"], json!({"unhealthy": 1}));

    differences_on_purpose(&theirs_base, &ours_base).await;
    alerts_filters(&theirs_base, &ours_base, &number).await;
    drop(tocsin_guard);
}

/// Where tocsin answers differently from vmalert 1.145, on purpose (docs/api.md).
async fn differences_on_purpose(theirs: &str, ours: &str) {
    // Prometheus' case-insensitive `type` (vmalert refuses `ALERT`).
    assert_eq!(rules(theirs, "type=ALERT").await.0, 400);
    assert_eq!(
        picked(200, &rules(ours, "type=ALERT").await.1),
        picked(200, &rules(ours, "type=alert").await.1)
    );
    // Prometheus' strict booleans (vmalert takes any word but "no" as true) and its
    // refusal of a selector that matches everything.
    for q in ["exclude_alerts=maybe", "match[]=%7Bteam%3D%22%22%7D"] {
        assert_eq!(
            (rules(theirs, q).await.0, rules(ours, q).await.0),
            (200, 400),
            "?{q}"
        );
    }
    // `ok`, `unhealthy` and `nomatch` find rules without `extended_states` too.
    let (_, tv) = rules(theirs, "state=unhealthy").await;
    let (_, ov) = rules(ours, "state=unhealthy").await;
    assert_eq!(picked(200, &tv)["groups"], json!([]));
    assert_eq!(ov["data"]["groups"][0]["rules"][0]["name"], "Broken");
}

/// `/api/v1/alerts` with vmalert's filters.
async fn alerts_filters(theirs: &str, ours: &str, number: &impl Fn(&Value) -> Value) {
    for q in [
        "rule_group[]=a1",
        "rule_group[]=a2",
        "match[]=%7Bseverity%3D%22page%22%7D",
        "datasource_type=graphite",
    ] {
        let (_, tv) = get_json(&format!("{theirs}/api/v1/alerts?{q}")).await;
        let (_, ov) = get_json(&format!("{ours}/api/v1/alerts?{q}")).await;
        assert_eq!(
            alert_list(&tv, number),
            alert_list(&ov, number),
            "alerts?{q}"
        );
    }
}

/// `/api/v1/group`, `/api/v1/rule` (with `updates`) and `/api/v1/alert`, each server
/// asked with its own IDs, compared key by key.
async fn single_objects(shape: &mut Shape, tb: &str, theirs: &Value, ob: &str, ours: &Value) {
    let ids = |v: &Value| {
        let g = &v["data"]["groups"][0];
        let r = &g["rules"][1];
        (
            g["id"].as_str().unwrap().to_string(),
            r["id"].as_str().unwrap().to_string(),
            r["alerts"][0]["id"].as_str().unwrap().to_string(),
        )
    };
    let ((tg, tr, ta), (og, or, oa)) = (ids(theirs), ids(ours));
    for (path, t, o) in [
        ("group", format!("group_id={tg}"), format!("group_id={og}")),
        (
            "rule",
            format!("group_id={tg}&rule_id={tr}"),
            format!("group_id={og}&rule_id={or}"),
        ),
        (
            "alert",
            format!("group_id={tg}&alert_id={ta}"),
            format!("group_id={og}&alert_id={oa}"),
        ),
    ] {
        let (ts, tv) = get_json(&format!("{tb}/api/v1/{path}?{t}")).await;
        let (os, ov) = get_json(&format!("{ob}/api/v1/{path}?{o}")).await;
        assert_eq!((ts, os), (200, 200), "{path}: {tv} / {ov}");
        // Wrap so that the shape walk knows each object's kind.
        let wrap = |v: Value| match path {
            "group" => json!({"groups": [v]}),
            "rule" => json!({"rules": [v]}),
            _ => json!({"alerts": [v]}),
        };
        let (mut tv, mut ov) = (tv, ov);
        if path == "group" {
            // tocsin counts the rules' states here too; vmalert 1.145 leaves the map
            // empty on this endpoint (docs/api.md).
            assert_eq!(tv["states"], json!({}), "vmalert's group states");
            assert_eq!(ov["states"], json!({"": 1, "firing": 1, "pending": 1}));
            ov["states"] = json!({});
        }
        if path == "rule" {
            // `updates`: the same keys; `error` is Go's error interface in vmalert (`{}`
            // when set), a string in tocsin; compare one entry each.
            let (tu, ou) = (tv["updates"][0].take(), ov["updates"][0].take());
            shape.compare("rule.updates[0]", &tu, &ou);
            tv.as_object_mut().unwrap().remove("updates");
            ov.as_object_mut().unwrap().remove("updates");
        }
        shape.compare(path, &wrap(tv), &wrap(ov));
    }
    for bad in [
        "group?group_id=x",
        "rule?group_id=1&rule_id=2",
        "alert?group_id=1",
    ] {
        let (ts, _) = get_json(&format!("{tb}/api/v1/{bad}")).await;
        let (os, _) = get_json(&format!("{ob}/api/v1/{bad}")).await;
        assert_eq!(ts, os, "status of /api/v1/{bad}");
    }
}
