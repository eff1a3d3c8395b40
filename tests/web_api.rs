//! The HTTP API as a client sees it, against a fake StateSource.

mod support;

use std::sync::atomic::Ordering;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use support::http::get_json;
use support::web::{Fake, fixture, server};
use tocsin::web::WebOptions;

fn is_go_time(s: &str) -> bool {
    regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")
        .unwrap()
        .is_match(s)
}

fn rule(v: &Value, group: usize, idx: usize) -> &Value {
    &v["data"]["groups"][group]["rules"][idx]
}

#[tokio::test]
async fn rules_have_prometheus_fields_types_and_formats() {
    let srv = server().start().await;
    let (status, v) = get_json(&format!("{}/api/v1/rules", srv.base)).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "success");
    let groups = v["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(g["name"], "node");
    assert_eq!(g["file"], "/rules/a.yml");
    assert_eq!(g["interval"].as_f64(), Some(30.0));
    assert_eq!(groups[1]["interval"].as_f64(), Some(1.5));
    assert_eq!(g["limit"], 10);
    assert_eq!(g["evaluationTime"].as_f64(), Some(0.003));
    assert_eq!(g["lastEvaluation"], "2023-11-14T22:14:20.5Z");
    assert!(v["data"].get("groupNextToken").is_none());

    let high = rule(&v, 0, 0);
    assert_eq!(high["type"], "alerting");
    assert_eq!(high["state"], "firing");
    assert_eq!(high["name"], "HighLoad");
    assert_eq!(high["query"], "load > 0.2");
    assert_eq!(high["duration"].as_f64(), Some(60.0));
    assert_eq!(high["keepFiringFor"].as_f64(), Some(90.0));
    assert_eq!(high["labels"]["severity"], "page");
    assert_eq!(high["annotations"]["summary"], "load is {{ $value }}");
    assert_eq!(high["health"], "ok");
    assert!(
        high.get("lastError").is_none(),
        "lastError is omitted when empty"
    );
    assert_eq!(high["evaluationTime"].as_f64(), Some(0.0015));
    assert!(is_go_time(high["lastEvaluation"].as_str().unwrap()));

    let alerts = high["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "inactive alerts are not listed");
    assert_eq!(alerts[0]["state"], "firing");
    assert_eq!(alerts[0]["value"], "1e+00");
    assert_eq!(alerts[0]["activeAt"], "2023-11-14T22:13:20.5Z");
    assert_eq!(alerts[0]["labels"]["instance"], "a");
    assert_eq!(alerts[0]["annotations"]["summary"], "load is 1");
    assert_eq!(alerts[0]["keepFiringSince"], "2023-11-14T22:14:50.5Z");
    assert_eq!(alerts[0]["stabilizing"], true);
    assert!(alerts[1].get("keepFiringSince").is_none());
    assert_eq!(alerts[1]["stabilizing"], false);
    assert_eq!(alerts[1]["state"], "pending");
    assert_eq!(alerts[1]["value"], "2.5e-01");

    let rec = rule(&v, 0, 1);
    assert_eq!(rec["type"], "recording");
    assert!(rec.get("state").is_none() && rec.get("alerts").is_none());
    assert_eq!(rec["labels"], serde_json::json!({}));

    let broken = rule(&v, 0, 2);
    assert_eq!(broken["health"], "err");
    assert_eq!(broken["lastError"], "many-to-many matching not allowed");
    assert_eq!(broken["state"], "inactive");
    assert_eq!(broken["alerts"], serde_json::json!([]));

    let never = rule(&v, 1, 0);
    assert_eq!(never["health"], "unknown");
    assert_eq!(never["lastEvaluation"], "0001-01-01T00:00:00Z");

    // vmalert's extra fields.
    assert!(g["id"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(g["type"], "prometheus");
    assert_eq!(high["id"], "11");
    assert_eq!(high["group_id"], g["id"]);
    assert_eq!(high["lastSamples"], 3);
    assert_eq!(alerts[0]["rule_id"], "11");
    assert_eq!(alerts[0]["name"], "HighLoad");
    srv.shutdown().await;
}

async fn names(base: &str, query: &str) -> Vec<String> {
    let (status, v) = get_json(&format!("{base}/api/v1/rules?{query}")).await;
    assert_eq!(status, 200, "{query}: {v}");
    v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn rule_filters() {
    let srv = server().start().await;
    let b = &srv.base;
    assert_eq!(names(b, "type=alert").await, ["HighLoad", "Broken"]);
    assert_eq!(names(b, "type=record").await, ["job:load:avg", "other:sum"]);
    assert_eq!(names(b, "rule_group[]=other").await, ["other:sum"]);
    assert_eq!(
        names(b, "file%5B%5D=%2Frules%2Fa.yml&type=record").await,
        ["job:load:avg"]
    );
    assert_eq!(
        names(b, "rule_name[]=Broken&rule_name[]=other:sum").await,
        ["Broken", "other:sum"]
    );
    assert_eq!(names(b, "state=firing").await, ["HighLoad"]);
    assert_eq!(names(b, "state=unhealthy").await, ["Broken"]);
    assert_eq!(names(b, "match[]={severity=\"page\"}").await, ["HighLoad"]);

    let (_, v) = get_json(&format!("{b}/api/v1/rules?exclude_alerts=true")).await;
    assert_eq!(rule(&v, 0, 0)["alerts"], Value::Null);

    // Pagination: one group per page, following the token.
    let (_, p1) = get_json(&format!("{b}/api/v1/rules?group_limit=1")).await;
    assert_eq!(p1["data"]["groups"].as_array().unwrap().len(), 1);
    assert_eq!(p1["data"]["groups"][0]["name"], "node");
    let token = p1["data"]["groupNextToken"].as_str().unwrap();
    let (_, p2) = get_json(&format!(
        "{b}/api/v1/rules?group_limit=1&group_next_token={token}"
    ))
    .await;
    assert_eq!(p2["data"]["groups"][0]["name"], "other");
    assert!(p2["data"].get("groupNextToken").is_none());

    // vmalert 1.145's filters: `search` (group name or file, else rule name), states
    // (Grafana's aliases too), extended states, datasource types.
    assert_eq!(names(b, "search=LOAD").await, ["HighLoad", "job:load:avg"]);
    assert_eq!(names(b, "search=b.yml").await, ["other:sum"]);
    assert_eq!(names(b, "state=error").await, ["Broken"]);
    assert_eq!(names(b, "state=pending,normal").await, ["Broken"]);
    assert_eq!(
        names(b, "state=inactive&extended_states=true").await,
        Vec::<String>::new(),
        "extended, the broken rule is unhealthy, not inactive"
    );
    assert_eq!(names(b, "state=recovering").await, Vec::<String>::new());
    assert_eq!(
        names(b, "datasource_type=graphite").await,
        Vec::<String>::new()
    );
    assert_eq!(names(b, "datasource_type=prometheus").await.len(), 4);
    let (_, v) = get_json(&format!("{b}/api/v1/rules?extended_states=true")).await;
    assert_eq!(rule(&v, 0, 1)["state"], "ok", "recording rules get a state");
    assert_eq!(rule(&v, 0, 2)["state"], "unhealthy");
    assert_eq!(
        v["data"]["groups"][0]["states"],
        serde_json::json!({"firing": 1, "ok": 1, "unhealthy": 1})
    );
    let (_, v) = get_json(&format!("{b}/api/v1/rules?exclude_alerts=yes")).await;
    assert_eq!(rule(&v, 0, 0)["alerts"], Value::Null, "vmalert's yes");

    // vmalert's pagination: numbered pages with totals.
    let (_, v) = get_json(&format!("{b}/api/v1/rules?group_limit=1&page_num=2")).await;
    assert_eq!(v["data"]["groups"][0]["name"], "other");
    assert_eq!(
        (
            &v["page"],
            &v["total_pages"],
            &v["total_groups"],
            &v["total_rules"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(4))
    );
    let (status, v) = get_json(&format!("{b}/api/v1/rules?group_limit=1&page_num=3")).await;
    assert_eq!(status, 400, "{v}");

    for bad in [
        "type=foo",
        "group_limit=0",
        "group_next_token=zz",
        "exclude_alerts=maybe",
        "state=bogus",
        "datasource_type=sql",
        "page_num=1",
    ] {
        let (status, v) = get_json(&format!("{b}/api/v1/rules?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid parameter"),
            "{v}"
        );
    }
    let (status, v) = get_json(&format!(
        "{b}/api/v1/rules?group_limit=1&group_next_token=beef"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("group_next_token"));
    srv.shutdown().await;
}

#[tokio::test]
async fn alerts_and_vmalert_paths() {
    let srv = server()
        .options(WebOptions {
            external_url: "http://tocsin.example:8880/".into(),
            ..WebOptions::default()
        })
        .start()
        .await;
    let b = &srv.base;
    let (status, v) = get_json(&format!("{b}/api/v1/alerts")).await;
    assert_eq!(status, 200);
    let alerts = v["data"]["alerts"].as_array().unwrap();
    let states: Vec<_> = alerts
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["firing", "pending"]);
    assert_eq!(
        alerts[0]["source"],
        "http://tocsin.example:8880/graph?g0.expr=load+%3E+0.2&g0.tab=1"
    );
    let (_, vm) = get_json(&format!("{b}/vmalert/api/v1/alerts")).await;
    assert_eq!(vm, v);
    let (_, only_b) = get_json(&format!("{b}/api/v1/alerts?match[]={{instance=\"b\"}}")).await;
    assert_eq!(only_b["data"]["alerts"].as_array().unwrap().len(), 1);
    let (_, none) = get_json(&format!("{b}/api/v1/alerts?rule_group[]=other")).await;
    assert_eq!(none["data"]["alerts"], serde_json::json!([]));

    let (_, rules) = get_json(&format!("{b}/api/v1/rules")).await;
    let (_, vm_rules) = get_json(&format!("{b}/vmalert/api/v1/rules")).await;
    assert_eq!(rules, vm_rules);

    let gid = rules["data"]["groups"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, r) = get_json(&format!("{b}/api/v1/rule?group_id={gid}&rule_id=11")).await;
    assert_eq!(status, 200);
    assert_eq!(r["name"], "HighLoad");
    assert_eq!(r["updates"][0]["samples"], 3);
    assert_eq!(r["updates"][0]["series_fetched"], 3);

    let aid = alerts[0]["id"].as_str().unwrap();
    let (status, a) = get_json(&format!("{b}/api/v1/alert?group_id={gid}&alert_id={aid}")).await;
    assert_eq!(status, 200);
    assert_eq!(a["labels"]["instance"], "a");

    let (status, g) = get_json(&format!("{b}/vmalert/api/v1/group?group_id={gid}")).await;
    assert_eq!(status, 200);
    assert_eq!(g["rules"].as_array().unwrap().len(), 3);

    let (status, e) = get_json(&format!("{b}/api/v1/rule?group_id={gid}&rule_id=999")).await;
    assert_eq!((status, e["errorType"].as_str()), (404, Some("not_found")));
    let (status, e) = get_json(&format!("{b}/api/v1/rule?group_id=abc&rule_id=11")).await;
    assert_eq!((status, e["errorType"].as_str()), (400, Some("bad_data")));
    srv.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let srv = server().start().await;
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{}/api/v1/nope", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.unwrap().contains("not found"));
    let r = c
        .post(format!("{}/api/v1/rules", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    let r = c
        .delete(format!("{}/-/reload", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = c
        .head(format!("{}/api/v1/rules", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "", "HEAD has no body");
    let r = c
        .get(format!("{}/-/healthy", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "OK");
    // The status UI: a page that loads its script and stylesheet from /static/ (the
    // browser tests in integration/browser/ check what it shows).
    for (path, assets) in [("/", "/static/"), ("/vmalert/", "/vmalert/static/")] {
        let r = c.get(format!("{}{path}", srv.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("\"{assets}app.js\"")), "{html}");
        assert!(html.contains(&format!("\"{assets}app.css\"")), "{html}");
    }
    let r = c
        .get(format!("{}/static/app.js", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let tag = r.headers()["etag"].clone();
    let r = c
        .get(format!("{}/vmalert/static/app.js", srv.base))
        .header("If-None-Match", tag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304, "unchanged asset revalidates");
    assert_eq!(r.headers()["etag"], tag);
    let r = c
        .get(format!("{}/static/app.css", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    let r = c
        .get(format!("{}/static/nope.js", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // No notifier behind this fake: an empty list, in vmalert's envelope.
    let (status, v) = get_json(&format!("{}/api/v1/notifiers", srv.base)).await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        serde_json::json!({"status": "success", "data": {"notifiers": []}})
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn reload_auth_readiness_and_status() {
    let fake = Fake::new(fixture(), false);
    let srv = server()
        .state(fake.clone())
        .options(WebOptions {
            access: tocsin::web::Access {
                reload_key: tocsin::secret::Secret::from_flag("reloadAuthKey", "s3cret")
                    .unwrap()
                    .map(std::sync::Arc::new),
                ..Default::default()
            },
            ..WebOptions::default()
        })
        .start()
        .await;
    let c = reqwest::Client::new();
    let b = &srv.base;
    let ready = || async {
        c.get(format!("{b}/-/ready"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 503);
    let (_, st) = get_json(&format!("{b}/api/v1/status")).await;
    assert_eq!(st["data"]["ready"], false);
    assert_eq!(st["data"]["lastReloadSuccess"], Value::Null);

    let r = c.post(format!("{b}/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("authKey"));
    let r = c
        .post(format!("{b}/-/reload?authKey=wrong"))
        .send()
        .await
        .unwrap();
    // vmalert answers a wrong key with 401 too.
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        fake.reloads.load(Ordering::SeqCst),
        0,
        "rejected requests do not reload"
    );
    assert_eq!(ready().await, 503);

    let r = c
        .post(format!("{b}/-/reload?authKey=s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(fake.reloads.load(Ordering::SeqCst), 1);
    assert_eq!(ready().await, 200);

    // vmalert reads authKey with Go's FormValue, so a form body works too.
    let r = c
        .post(format!("{b}/-/reload"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("authKey=s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(fake.reloads.load(Ordering::SeqCst), 2);

    fake.fail.store(true, Ordering::SeqCst);
    let r = c
        .get(format!("{b}/-/reload?authKey=s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    assert!(r.text().await.unwrap().contains("unknown field \"exp\""));
    let (_, st) = get_json(&format!("{b}/api/v1/status")).await;
    assert_eq!(st["data"]["reloadSuccess"], false);
    assert_eq!(
        st["data"]["ready"], true,
        "a failed reload keeps the old rules"
    );
    assert!(
        st["data"]["lastError"]
            .as_str()
            .unwrap()
            .contains("bad.yml")
    );
    assert!(is_go_time(
        st["data"]["lastReloadSuccess"].as_str().unwrap()
    ));
    let (_, rt) = get_json(&format!("{b}/api/v1/status/runtimeinfo")).await;
    assert_eq!(rt["data"]["reloadConfigSuccess"], false);
    srv.shutdown().await;
}

#[tokio::test]
async fn metrics_text_includes_registry_and_process() {
    let mut reg = Registry::default();
    let c: Counter = Counter::default();
    c.inc_by(7);
    reg.register("tocsin_test_events", "Events for the test.", c);
    let http = tocsin::web::metrics::HttpMetrics::register(&mut reg);
    let srv = server()
        .registry(reg)
        .options(WebOptions {
            http_metrics: Some(http),
            ..WebOptions::default()
        })
        .start()
        .await;
    reqwest::get(format!("{}/api/v1/rules", srv.base))
        .await
        .unwrap();
    reqwest::get(format!("{}/nope", srv.base)).await.unwrap();
    let r = reqwest::get(format!("{}/metrics", srv.base)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = r.text().await.unwrap();
    assert!(text.contains("tocsin_test_events_total 7"), "{text}");
    assert!(
        text.contains(r#"tocsin_http_requests_total{path="/api/v1/rules",code="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tocsin_http_requests_total{path="other",code="404"} 1"#),
        "{text}"
    );
    if std::path::Path::new("/proc/self/stat").exists() {
        let rss = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .expect("rss line");
        assert!(rss.parse::<f64>().unwrap() > 0.0);
        assert!(text.contains("process_cpu_seconds_total "));
    }
    assert!(text.ends_with("# EOF\n"));
    srv.shutdown().await;
}

#[tokio::test]
async fn path_prefix_moves_every_endpoint() {
    let srv = server()
        .options(WebOptions {
            path_prefix: "/alerting/".into(),
            ..WebOptions::default()
        })
        .start()
        .await;
    let (status, v) = get_json(&format!("{}/alerting/api/v1/rules", srv.base)).await;
    assert_eq!(status, 200);
    assert_eq!(v["data"]["groups"].as_array().unwrap().len(), 2);
    let r = reqwest::get(format!("{}/api/v1/rules", srv.base))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = reqwest::get(format!("{}/alerting", srv.base))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("\"/alerting/static/app.js\"") && html.contains("data-base=\"/alerting\""),
        "the UI's URLs carry the prefix: {html}"
    );
    let r = reqwest::get(format!("{}/alerting/static/app.js", srv.base))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_with_open_keepalive_connection() {
    let srv = server().start().await;
    let c = reqwest::Client::new();
    // Leaves an idle keep-alive connection in the client's pool.
    assert_eq!(
        c.get(format!("{}/-/healthy", srv.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let base = srv.base.clone();
    srv.shutdown().await;
    assert!(
        reqwest::get(format!("{base}/-/healthy")).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn gzip_when_accepted() {
    use std::io::Read as _;
    let srv = server().start().await;
    let url = format!("{}/api/v1/rules", srv.base);
    let plain = reqwest::get(&url).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Value = serde_json::from_str(&plain.text().await.unwrap()).unwrap();
    let r = reqwest::Client::new()
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let z = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&z[..])
        .read_to_string(&mut text)
        .expect("valid gzip");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), plain);
    srv.shutdown().await;
}
