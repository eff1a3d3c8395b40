//! Hot reload, restarts and shutdown with real files on disk and real servers: what runs
//! and what state each alert keeps, seen through the HTTP API and Alertmanager.

mod support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::http::{alerts_named, has_alert, poll_alertmanager, poll_json, post_reload};
use support::peers::ChildGuard;
use support::servers::Servers;

fn group(name: &str, rules: &[&str]) -> String {
    let mut s = format!("  - name: {name}\n    interval: 1s\n    rules:\n");
    for r in rules {
        s.push_str(&format!("      - alert: {r}\n        expr: vector(1)\n"));
    }
    s
}

fn file(groups: &[String]) -> String {
    format!("groups:\n{}", groups.concat())
}

/// Rule names per group, as `/api/v1/rules` lists them.
fn names(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for g in v["data"]["groups"].as_array().into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            out.push(format!(
                "{}/{}",
                g["name"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            ));
        }
    }
    out.sort();
    out
}

async fn wait_rules(url: &str, want: &[&str], t: &ChildGuard, what: &str) -> Value {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    let started = Instant::now();
    let v = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(30),
        |v| names(v) == want,
    )
    .await
    .unwrap_or_else(|| panic!("{what}: rules never became {want:?}\n{}", t.log_tail(30)));
    eprintln!("{what}: visible after {:?}", started.elapsed());
    v
}

fn active_at(v: &Value, alert: &str) -> Option<String> {
    v["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == alert)
        .map(|a| a["activeAt"].as_str().unwrap_or("").to_string())
}

/// Writes `text` to `path` the way editors do: a temporary file renamed over it.
fn rename_save(path: &Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reload_trigger_and_bad_input() {
    let Some(s) = Servers::prometheus().await else {
        return;
    };
    let dir = s.path();
    let rules_dir = dir.join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    let a = rules_dir.join("a.yml");
    std::fs::write(&a, file(&[group("g1", &["A1"])])).unwrap();

    // ConfigMap layout: cm/..data -> ..v1, cm/c.yml -> ..data/c.yml
    let cm = dir.join("cm");
    std::fs::create_dir_all(cm.join("..v1")).unwrap();
    std::fs::write(cm.join("..v1/c.yml"), file(&[group("cm", &["C1"])])).unwrap();
    std::os::unix::fs::symlink("..v1", cm.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/c.yml", cm.join("c.yml")).unwrap();

    let (t, url) = s
        .tocsin(
            "tocsin",
            &[
                format!("-rule={}/*.yml", rules_dir.display()),
                format!("-rule={}", cm.join("c.yml").display()),
                "-reloadAuthKey=s3cret".into(),
            ],
        )
        .await;
    wait_rules(&url, &["cm/C1", "g1/A1"], &t, "start").await;
    let first = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(30),
        |v| active_at(v, "A1").is_some(),
    )
    .await
    .expect("A1 becomes active");
    let a1_since = active_at(&first, "A1").unwrap();

    // 1. An in-place edit adds a rule; A1 keeps its state (same identity).
    std::fs::write(&a, file(&[group("g1", &["A1", "A2"])])).unwrap();
    wait_rules(&url, &["cm/C1", "g1/A1", "g1/A2"], &t, "edit").await;
    let v = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(30),
        |v| active_at(v, "A2").is_some(),
    )
    .await
    .unwrap();
    assert_eq!(
        active_at(&v, "A1").unwrap(),
        a1_since,
        "A1 kept its activeAt"
    );

    // 2. An editor's rename-save.
    rename_save(&a, &file(&[group("g1", &["A1", "A3"])]));
    wait_rules(&url, &["cm/C1", "g1/A1", "g1/A3"], &t, "rename-save").await;

    // 3. A ConfigMap update: a new ..vN directory and an atomic ..data swap.
    std::fs::create_dir_all(cm.join("..v2")).unwrap();
    std::fs::write(cm.join("..v2/c.yml"), file(&[group("cm", &["C2"])])).unwrap();
    std::os::unix::fs::symlink("..v2", cm.join("..data_tmp")).unwrap();
    std::fs::rename(cm.join("..data_tmp"), cm.join("..data")).unwrap();
    wait_rules(&url, &["cm/C2", "g1/A1", "g1/A3"], &t, "configmap swap").await;

    // 4. A new file matching the glob joins; 5. a deleted one leaves.
    let b = rules_dir.join("b.yml");
    std::fs::write(&b, file(&[group("g2", &["B1"])])).unwrap();
    wait_rules(&url, &["cm/C2", "g1/A1", "g1/A3", "g2/B1"], &t, "new file").await;
    std::fs::remove_file(&b).unwrap();
    wait_rules(&url, &["cm/C2", "g1/A1", "g1/A3"], &t, "deleted file").await;

    // 6. An invalid file: nothing changes, the error is reported everywhere.
    std::fs::write(
        &a,
        "groups:\n  - name: g1\n    rules:\n      - alert: Broken\n        expr: sum(\n",
    )
    .unwrap();
    let status = poll_json(
        &format!("{url}/api/v1/status"),
        Duration::from_secs(30),
        |v| v.to_string().contains("a.yml"),
    )
    .await
    .unwrap_or_else(|| panic!("reload error never shown:\n{}", t.log_tail(30)));
    let text = status.to_string();
    assert!(
        text.contains("Broken") && text.contains("5:"),
        "error names file, line, rule: {text}"
    );
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "tocsin_config_last_reload_successful 0"),
        "reload gauge dropped to 0"
    );
    wait_rules(
        &url,
        &["cm/C2", "g1/A1", "g1/A3"],
        &t,
        "invalid file keeps old rules",
    )
    .await;
    // A half-written file caught mid-save must not do harm either: an empty file is valid
    // (no groups) and is a real change, so write the good content back directly.
    std::fs::write(&a, file(&[group("g1", &["A1", "A3"])])).unwrap();
    let ok = poll_json(
        &format!("{url}/api/v1/status"),
        Duration::from_secs(30),
        |v| !v.to_string().contains("Broken"),
    )
    .await;
    assert!(ok.is_some(), "a fixed file clears the error");

    // 7. /-/reload is guarded by -reloadAuthKey.
    let c = reqwest::Client::new();
    let r = c.post(format!("{url}/-/reload")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{url}/-/reload?authKey=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(format!("{url}/-/reload?authKey=s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_groups_resolve_their_alerts_at_once() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let am_url = &s.am_url;
    let rules = s.write(
        "r.yml",
        &file(&[group("keep", &["Kept"]), group("gone", &["Removed"])]),
    );
    let (t, _url) = s
        .tocsin(
            "tocsin",
            &[
                format!("-rule={}", rules.display()),
                "-rule.resendDelay=1h".into(),
            ],
        )
        .await;
    poll_alertmanager(am_url, Duration::from_secs(15), |v| {
        has_alert(v, "Kept") && has_alert(v, "Removed")
    })
    .await
    .unwrap_or_else(|| panic!("alerts never arrived:\n{}", t.log_tail(30)));
    std::fs::write(&rules, file(&[group("keep", &["Kept"])])).unwrap();
    // With resendDelay=1h, endsAt lies 4h ahead: only an explicit resolution removes it.
    poll_alertmanager(am_url, Duration::from_secs(10), |v| {
        has_alert(v, "Kept") && !has_alert(v, "Removed")
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the removed group's alert stayed active:\n{}",
            t.log_tail(30)
        )
    });
}

fn secs_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn parse_rfc3339(s: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis() as f64 / 1000.0)
        .unwrap_or(0.0)
}

/// A restart reads each alert's `activeAt` back from the `ALERTS_FOR_STATE` series it
/// wrote to a real Prometheus: a pending alert keeps its `for` clock, a firing one its
/// `startsAt` at Alertmanager. That the restored alert then fires when `for` has elapsed
/// since it first went pending (not since the restart) is checked on paused time, over
/// a whole hour of `for`, in `engine_paused_time.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_the_for_clock_and_the_start_time() {
    let Some(s) = Servers::with_alertmanager().await else {
        return;
    };
    let (prom_url, am_url) = (&s.prom_url, &s.am_url);
    let rules = s.write(
        "r.yml",
        "groups:\n  - name: restart\n    interval: 1s\n    rules:\n      - alert: Slow\n        expr: vector(1)\n        for: 1h\n      - alert: Fast\n        expr: vector(1)\n",
    );
    let args = vec![
        format!("-rule={}", rules.display()),
        format!("-remoteWrite.url={prom_url}"),
        format!("-remoteRead.url={prom_url}"),
        "-remoteWrite.flushInterval=200ms".into(),
    ];
    let (mut t, url) = s.tocsin("tocsin-1", &args).await;
    let v = poll_json(
        &format!("{url}/api/v1/alerts"),
        Duration::from_secs(30),
        |v| active_at(v, "Slow").is_some(),
    )
    .await
    .unwrap();
    let slow_since = parse_rfc3339(&active_at(&v, "Slow").unwrap());
    let am = poll_alertmanager(am_url, Duration::from_secs(10), |v| has_alert(v, "Fast"))
        .await
        .unwrap();
    let fast_starts = parse_rfc3339(alerts_named(&am, "Fast")[0]["startsAt"].as_str().unwrap());

    // Restart once Prometheus holds Slow's ALERTS_FOR_STATE, and at least 2 s after Slow
    // went pending, so that a reset `for` clock would show in its activeAt.
    let query = format!("{prom_url}/api/v1/query?query=ALERTS_FOR_STATE{{alertname=\"Slow\"}}");
    poll_json(&query, Duration::from_secs(10), |v| {
        v["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "ALERTS_FOR_STATE never reached Prometheus:\n{}",
            t.log_tail(30)
        )
    });
    let wait = slow_since + 2.0 - secs_now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    let status = t
        .terminate(Duration::from_secs(15))
        .expect("stops on SIGTERM");
    assert!(status.success());
    drop(t);
    let restarted_at = secs_now();
    let (t2, url2) = s.tocsin("tocsin-2", &args).await;

    let v = poll_json(
        &format!("{url2}/api/v1/alerts"),
        Duration::from_secs(15),
        |v| active_at(v, "Slow").is_some(),
    )
    .await
    .unwrap_or_else(|| panic!("Slow missing after the restart:\n{}", t2.log_tail(30)));
    let restored = parse_rfc3339(&active_at(&v, "Slow").unwrap());
    assert!(
        restarted_at - slow_since >= 2.0,
        "the restart came {:.1}s after Slow went pending: too soon to tell a reset clock",
        restarted_at - slow_since
    );
    assert!(
        (restored - slow_since).abs() < 1.01,
        "activeAt survived the restart (a reset for clock starts it again): {slow_since} vs {restored}"
    );
    let am = poll_alertmanager(am_url, Duration::from_secs(5), |_| true)
        .await
        .unwrap_or_default();
    let fast_after = alerts_named(&am, "Fast")
        .first()
        .map(|x| parse_rfc3339(x["startsAt"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("Fast missing at Alertmanager: {am}"));
    assert!(
        (fast_after - fast_starts).abs() < 1.01,
        "Fast kept its startsAt across the restart: {fast_starts} vs {fast_after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_file_changes_keep_the_old_rules_running() {
    let Some(s) = Servers::prometheus().await else {
        return;
    };
    let dir = s.path();
    let rules_dir = dir.join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    let a = rules_dir.join("a.yml");
    std::fs::write(&a, file(&[group("g", &["Keep"])])).unwrap();
    let (t, url) = s
        .tocsin(
            "tocsin",
            &[
                format!("-rule={}", a.display()),
                // A datasource that is down during restore must not stop the start-up.
                "-remoteRead.url=http://127.0.0.1:9".into(),
            ],
        )
        .await;
    wait_rules(&url, &["g/Keep"], &t, "start").await;
    let failed = |what: &'static str| {
        let url = url.clone();
        async move {
            poll_json(
                &format!("{url}/api/v1/status"),
                Duration::from_secs(30),
                |v| v.to_string().contains("a.yml") && !v.to_string().contains("\"success\":true"),
            )
            .await
            .unwrap_or_else(|| panic!("{what}: the failed reload was not reported"))
        }
    };

    // The file replaced by a directory.
    std::fs::remove_file(&a).unwrap();
    std::fs::create_dir(&a).unwrap();
    failed("directory").await;
    wait_rules(&url, &["g/Keep"], &t, "directory keeps old rules").await;

    // A symlink loop.
    std::fs::remove_dir(&a).unwrap();
    std::os::unix::fs::symlink(&a, &a).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{url}/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500, "a reload that fails says so");
    let body = r.text().await.unwrap();
    assert!(body.contains("a.yml"), "{body}");
    wait_rules(&url, &["g/Keep"], &t, "symlink loop keeps old rules").await;

    // Thousands of change events in a second: one reload, the right content.
    std::fs::remove_file(&a).unwrap();
    for i in 0..2000 {
        let names: Vec<String> = vec![format!("Storm{}", i % 7)];
        let n: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        std::fs::write(&a, file(&[group("g", &n)])).unwrap();
    }
    std::fs::write(&a, file(&[group("g", &["Final"])])).unwrap();
    wait_rules(&url, &["g/Final"], &t, "event storm").await;
}

/// A copy that truncates the file first (`cp`, `cat >`, most uploads) and stalls before
/// writing: the reload that reads the empty file is refused, the old rules keep running
/// and alerting, and the content, once written, is loaded. An empty list written on
/// purpose (`groups: []`) does remove the rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_emptied_by_a_copy_in_progress_keeps_the_old_rules() {
    let Some(s) = Servers::prometheus().await else {
        return;
    };
    let dir = s.path().join("rules");
    std::fs::create_dir(&dir).unwrap();
    let (a, b) = (dir.join("a.yml"), dir.join("b.yml"));
    std::fs::write(&a, file(&[group("ga", &["A1"])])).unwrap();
    std::fs::write(&b, file(&[group("gb", &["B1"])])).unwrap();
    let (t, url) = s
        .tocsin("tocsin", &[format!("-rule={}/*.yml", dir.display())])
        .await;
    wait_rules(&url, &["ga/A1", "gb/B1"], &t, "start").await;

    // Step one of a copy: the file truncated, nothing written yet (a comment left over
    // is no content either).
    std::fs::write(&a, "# being copied\n").unwrap();
    let status = poll_json(
        &format!("{url}/api/v1/status"),
        Duration::from_secs(60),
        |v| v.to_string().contains("no `groups:` list"),
    )
    .await
    .unwrap_or_else(|| panic!("the emptied file was not refused\n{}", t.log_tail(30)));
    let said = status.to_string();
    assert!(said.contains("a.yml: held 1 group"), "{said}");
    assert!(said.contains("write `groups: []`"), "{said}");
    assert!(
        !said.contains("b.yml"),
        "only the emptied file is named: {said}"
    );
    let v = wait_rules(&url, &["ga/A1", "gb/B1"], &t, "emptied file").await;
    assert_eq!(names(&v).len(), 2, "both groups still run");
    assert!(
        t.log_tail(50).contains("the previous rules keep running"),
        "logged"
    );
    // /-/reload says the same while the file stays empty.
    let (status, body) = post_reload(&url).await;
    assert_eq!(status, 500);
    assert!(body.contains("no `groups:` list"), "{body}");

    // Step two: the copy finishes.
    std::fs::write(&a, file(&[group("ga", &["A2"])])).unwrap();
    wait_rules(&url, &["ga/A2", "gb/B1"], &t, "copy finished").await;

    // On purpose: an explicit empty list removes the file's groups.
    std::fs::write(&a, "groups: []\n").unwrap();
    wait_rules(&url, &["gb/B1"], &t, "groups: []").await;
    // A file that held no groups may stay empty: nothing to refuse.
    std::fs::write(&a, "").unwrap();
    std::fs::write(&b, file(&[group("gb", &["B2"])])).unwrap();
    wait_rules(&url, &["gb/B2"], &t, "empty file that held nothing").await;
}
