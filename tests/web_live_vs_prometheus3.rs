//! tocsin against a live Prometheus 3.5 (Debian sid) loaded with the same two rule files,
//! tocsin querying and writing to that Prometheus: `/api/v1/rules` and `/api/v1/alerts`
//! agree key by key (tocsin adds only vmalert's documented fields), and every filter
//! and the pagination of Prometheus 3.5 select the same groups, rules and alerts, with
//! the same error for the same bad parameter. Where tocsin accepts what Prometheus
//! refuses (as vmalert accepts it) is asserted as such; docs/api.md lists it. `web_shape_live_vs_prometheus.rs` keeps the same comparison with 2.42.

mod support;

use serde_json::Value;
use support::http::get_json;
use support::live_api::{alert_list, rules, selection, settle_both, token_pages, write_rule_files};
use support::peers::sid_peer_or_skip;
use support::servers::{args_like_prometheus, start_prometheus_with, start_tocsin};
use support::shape::Shape;
use support::shape_reference::{NONE, VM_EXTRAS_3};

/// Filters whose answers must be the same, in selection and (for errors) in wording.
const SAME: &[&str] = &[
    "",
    "type=alert",
    "type=RECORD",
    "rule_name[]=Always&rule_name[]=x",
    "rule_group[]=a2",
    "rule_group[]=a1&rule_group[]=b1&type=record",
    "rule_name[]=nope",
    "exclude_alerts=true",
    "exclude_alerts=FALSE",
    "match[]={severity=\"page\"}",
    "match[]={\"team\"=\"g\"}",
    "match[]={team=~\"g|a\"}&match[]={severity=\"page\"}",
    "match[]={team!=\"g\"}&type=alert",
    "type=foo",
    "group_limit=0",
    "group_limit=-1",
    "group_limit=abc",
    "group_limit=99999999999",
    "group_next_token=abc",
    "group_limit=1&group_next_token=nope",
    "exclude_alerts=maybe",
    "match[]={team=\"\"}",
];

/// Refused by both, in different words (two different PromQL parsers).
const BOTH_REFUSE: &[&str] = &["match[]=up+1", "match[]=sum(up)"];

/// Refused by Prometheus 3.5, accepted by tocsin as vmalert 1.145 accepts them.
const WE_ACCEPT: &[&str] = &["exclude_alerts=yes"];

fn encode(q: &str) -> String {
    q.replace('{', "%7B")
        .replace('}', "%7D")
        .replace('"', "%22")
        .replace('|', "%7C")
        .replace('+', "%2B")
        .replace('~', "%7E")
}

#[tokio::test]
async fn tocsin_answers_like_prometheus_3_on_the_same_rules() {
    let Some(prom_bin) = sid_peer_or_skip("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = write_rule_files(dir.path(), "    query_offset: 1s\n");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [{:?}, {:?}]\n",
            a.display().to_string(),
            b.display().to_string()
        ),
    )
    .unwrap();
    let (prom_guard, prom) = start_prometheus_with(&prom_bin, dir.path(), &config, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let args = args_like_prometheus(&[&a, &b], &prom);
    let (tocsin_guard, tocsin) = start_tocsin(&args, dir.path(), "tocsin")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (theirs, ours) = settle_both((&prom, &prom_guard), (&tocsin, &tocsin_guard)).await;

    // Key by key.
    let mut shape = Shape::new(VM_EXTRAS_3, NONE);
    shape.compare("rules", &theirs, &ours);
    let (_, their_alerts) = get_json(&format!("{prom}/api/v1/alerts")).await;
    let (_, our_alerts) = get_json(&format!("{tocsin}/api/v1/alerts")).await;
    shape.compare("alerts", &their_alerts, &our_alerts);
    assert!(shape.diffs.is_empty(), "shape:\n{}", shape.diffs.join("\n"));
    for k in ["group.states", "recording.labels", "alert.rule_id"] {
        assert!(
            shape.seen_extras.iter().any(|e| e == k),
            "did not reach {k}"
        );
    }
    let same = |v: &Value| v.clone();
    assert_eq!(
        alert_list(&their_alerts, same),
        alert_list(&our_alerts, same)
    );
    assert_eq!(
        alert_list(&our_alerts, same).len(),
        2,
        "one firing, one pending"
    );

    for q in SAME {
        let q = encode(q);
        let ((ts, tv), (os, ov)) = (rules(&prom, &q).await, rules(&tocsin, &q).await);
        assert_eq!(selection(ts, &tv), selection(os, &ov), "?{q}");
        if ts != 200 {
            assert_eq!(tv["error"], ov["error"], "error for ?{q}");
            assert_eq!(tv["errorType"], ov["errorType"], "errorType for ?{q}");
        }
    }
    for q in BOTH_REFUSE {
        let q = encode(q);
        let ((ts, _), (os, ov)) = (rules(&prom, &q).await, rules(&tocsin, &q).await);
        assert_eq!((ts, os), (400, 400), "?{q}: {ov}");
    }
    for q in WE_ACCEPT {
        let q = encode(q);
        let ((ts, _), (os, ov)) = (rules(&prom, &q).await, rules(&tocsin, &q).await);
        assert_eq!((ts, os), (400, 200), "?{q}: {ov}");
    }
    for limit in [
        "group_limit=1",
        "group_limit=2",
        "group_limit=1&type=record",
    ] {
        let (theirs, ours) = (
            token_pages(&prom, limit).await,
            token_pages(&tocsin, limit).await,
        );
        assert_eq!(theirs, ours, "pages of ?{limit}");
        assert!(ours.len() > 1, "?{limit} pages: {ours:?}");
    }
    drop(tocsin_guard);
}
