//! A malformed flag value, of each of vmalert's flag types, stops tocsin at start-up
//! with one line naming the flag and what it expects, and exit code 2 — and vmalert 1.145
//! refuses the same command line, so nothing vmalert runs with is refused here.

mod support;

use std::process::Command;

use support::peers::PeerSet;

/// (the malformed flag, what the one line must say after `tocsin: `)
const CASES: &[(&str, &str)] = &[
    // Go durations
    (
        "-evaluationInterval=10",
        r#"-evaluationInterval: invalid duration "10": use a number with a unit"#,
    ),
    (
        "-http.shutdownDelay=5",
        r#"-http.shutdownDelay: invalid duration "5""#,
    ),
    // Go integers
    (
        "-remoteWrite.maxQueueSize=lots",
        r#"-remoteWrite.maxQueueSize: invalid number "lots": use a whole number"#,
    ),
    (
        "-replay.maxDatapointsPerQuery=1.5",
        r#"-replay.maxDatapointsPerQuery: invalid number "1.5""#,
    ),
    // floats and sizes
    (
        "-memory.allowedPercent=half",
        r#"-memory.allowedPercent: invalid number "half""#,
    ),
    (
        "-memory.allowedBytes=1XB",
        r#"-memory.allowedBytes: invalid size "1XB": use a number of bytes, optionally with KB, MB"#,
    ),
    // booleans
    (
        "-dryRun=maybe",
        r#"-dryRun: invalid value "maybe": use one of true, false"#,
    ),
    (
        "-fs.disableMmap=yes",
        r#"-fs.disableMmap: invalid value "yes": use true or false"#,
    ),
    // arrays: each item is checked
    (
        "-external.label=dc=eu,novalue",
        r#"-external.label: invalid label "novalue": use name=value"#,
    ),
    // `^^` header lists
    (
        "-datasource.headers=X-A 1",
        "-datasource.headers: header 1 has no name before ':'; use 'Name: value', several separated by ^^",
    ),
    (
        "-notifier.headers=X-A: 1^^broken",
        "-notifier.headers: header 2 has no name before ':'",
    ),
    // values from a fixed set
    (
        "-loggerFormat=xml",
        r#"-loggerFormat: invalid value "xml": use one of default, json"#,
    ),
    (
        "-loggerJSONFields=time:t",
        r#"-loggerJSONFields: unknown field "time": use ts, level, caller or msg"#,
    ),
    (
        "-rule.defaultRuleType=sql",
        r#"-rule.defaultRuleType: invalid value "sql": use one of prometheus, graphite, vlogs"#,
    ),
];

/// A command line that starts both evaluators but for the malformed flag.
fn args(dir: &std::path::Path, bad: &str) -> Vec<String> {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n",
    )
    .unwrap();
    vec![
        format!("-rule={}", rules.display()),
        "-datasource.url=http://127.0.0.1:9".into(),
        "-notifier.url=http://127.0.0.1:9".into(),
        "-httpListenAddr=127.0.0.1:0".into(),
        bad.into(),
    ]
}

#[test]
fn malformed_values_stop_tocsin_with_one_line_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, want) in CASES {
        let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(args(dir.path(), bad))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{bad}: one line, got {stderr:?}");
        let line = stderr.trim_end();
        assert!(
            line.starts_with(&format!("tocsin: {want}")),
            "{bad}: {line:?} does not start with {want:?}"
        );
    }
}

#[test]
fn vmalert_1_145_refuses_the_same_values() {
    let Some(vmalert) = PeerSet::Sid.require("vmalert") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (bad, _) in CASES {
        let out = Command::new(&vmalert)
            .args(args(dir.path(), bad))
            .output()
            .unwrap();
        assert!(
            !out.status.success() && out.status.code().is_some(),
            "vmalert 1.145 accepts {bad}: tocsin must not refuse it"
        );
    }
    // And the well-formed command line starts vmalert (so what fails is the flag).
    let mut good = args(dir.path(), "-evaluationInterval=10s");
    good.push("-dryRun".into());
    let out = Command::new(&vmalert).args(&good).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
