//! The self-monitoring promise of docs/operations.md: every `tocsin_*` metric that the
//! shipped rule file `rules/tocsin-self.yml` and the metrics table name is exposed by a
//! running tocsin wired to real Prometheus and Alertmanager, the table names every
//! `tocsin_*` metric exposed, and vmalert's inert flags are named in a start-up warning.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

fn tocsin_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("tocsin_") {
        let start = i + pos;
        let prev_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if prev_ok && end > start + "tocsin_".len() {
            out.insert(text[start..end].to_owned());
        }
        i = end;
    }
    out
}

/// Metric family names as exposed in `# TYPE` lines (counters without `_total`).
fn families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_and_alerted_on_metrics_exist() {
    let (Some(prom), Some(am)) = (
        support::peers::peer_or_skip("prometheus"),
        support::peers::peer_or_skip("prometheus-alertmanager"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_p, prom_url) = support::servers::start_plain_prometheus(&prom, dir.path())
        .await
        .unwrap();
    let (_a, am_url) = support::servers::start_alertmanager(&am, dir.path())
        .await
        .unwrap();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/tocsin-self.yml");
    let rule_text = std::fs::read_to_string(shipped).unwrap();
    // The shipped file, evaluated every second so that the per-rule series appear soon.
    let fast = rule_text.replace("interval: 30s", "interval: 1s");
    assert_ne!(fast, rule_text, "the shipped file sets a 30s interval");
    let rules = dir.path().join("tocsin-self.yml");
    std::fs::write(&rules, fast).unwrap();
    let rules = rules.display();
    // A rule with `flapping`: its per-rule metrics exist only for such rules.
    let flapping = dir.path().join("flapping.yml");
    std::fs::write(
        &flapping,
        "groups:\n  - name: flapping\n    interval: 1s\n    rules:\n      - alert: Flaps\n        expr: vector(1)\n        flapping: {changes: 3, within: 1m}\n",
    )
    .unwrap();
    // A cluster of one (itself, from a peer file), so that the cluster's metrics exist.
    let port = support::peers::free_port();
    let peers = dir.path().join("peers");
    std::fs::write(&peers, format!("127.0.0.1:{port}\n")).unwrap();
    let args: Vec<String> = vec![
        format!("-cluster.peers=file://{}", peers.display()),
        "-cluster.refreshInterval=500ms".into(),
        format!("-rule={rules}"),
        format!("-rule={}", flapping.display()),
        format!("-datasource.url={prom_url}"),
        format!("-notifier.url={am_url}"),
        format!("-remoteWrite.url={prom_url}"),
        format!("-remoteRead.url={prom_url}"),
        "-fs.disableMmap".into(),
        "-memory.allowedPercent=60".into(),
        "-rule.watchdog=TocsinWatchdog".into(),
        "-rule.watchdog.interval=1s".into(),
    ];
    let (mut t, url) = support::servers::start_tocsin_at(&args, dir.path(), "tocsin", port)
        .await
        .unwrap();

    // Per-rule and per-group series exist once each group has been evaluated.
    let mut exposition = String::new();
    for _ in 0..100 {
        exposition = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Per-rule series appear as each rule is evaluated, the group's once the whole
        // group has been: wait for both, the group's last.
        if exposition.contains("tocsin_rule_errors_total{")
            && exposition.contains("tocsin_alerts_flapping{")
            && exposition.contains("tocsin_group_iterations_total{")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let have = families(&exposition);
    let exposed = |name: &str| {
        have.contains(name)
            || name
                .strip_suffix("_total")
                .is_some_and(|n| have.contains(n))
    };

    let ops = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md"))
        .unwrap();
    let wanted: BTreeSet<String> = tocsin_names(&rule_text)
        .into_iter()
        .chain(tocsin_names(&ops))
        .collect();
    assert!(wanted.len() >= 10, "names found: {wanted:?}");
    let missing: Vec<&String> = wanted.iter().filter(|n| !exposed(n)).collect();
    assert!(
        missing.is_empty(),
        "named in rules/tocsin-self.yml or docs/operations.md but not exposed: {missing:?}\nexposed: {have:?}"
    );
    // And the other way round: the metrics table names every `tocsin_*` metric exposed.
    let documented = tocsin_names(&ops);
    let undocumented: Vec<&String> = have
        .iter()
        .filter(|f| f.starts_with("tocsin_"))
        .filter(|f| !documented.contains(*f) && !documented.contains(&format!("{f}_total")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "exposed but missing from the table in docs/operations.md: {undocumented:?}"
    );

    // The inert flags were named at start-up.
    let warned = |log: &str, flag: &str| {
        log.lines()
            .any(|l| l.contains("has no effect") && l.contains(flag))
    };
    support::eventually(Duration::from_secs(5), || {
        let log = t.log_tail(200);
        ["fs.disableMmap", "memory.allowedPercent"]
            .iter()
            .all(|f| warned(&log, f))
    })
    .await;
    let log = t.log_tail(200);
    for flag in ["fs.disableMmap", "memory.allowedPercent"] {
        assert!(
            warned(&log, flag),
            "no start-up warning naming -{flag}:\n{log}"
        );
    }
    t.terminate(Duration::from_secs(10));
}

/// The shipped self-alerts on the watchdog and the cluster fire after their `for` and
/// not before, in `promtool test rules` (so the file also loads in Prometheus, where it
/// is meant to run) and in `tocsin test`.
#[test]
fn the_shipped_self_alerts_pass_their_unit_tests_in_promtool_and_tocsin() {
    let Some(promtool) = support::peers::peer_or_skip("promtool") else {
        return;
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/self-monitoring");
    let file = "tocsin-self.test.yml";
    for (what, mut cmd) in [
        ("promtool", std::process::Command::new(promtool)),
        (
            "tocsin",
            std::process::Command::new(env!("CARGO_BIN_EXE_tocsin")),
        ),
    ] {
        let out = cmd
            .args(["test", "rules", file])
            .current_dir(dir)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{what} test rules {file}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
