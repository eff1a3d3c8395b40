//! The exact text and exit code of `tocsin check`, which scripts written for
//! `promtool check rules` read.

use std::fs;
use std::path::Path;

use tocsin::check::{CheckOptions, check_rules};
use tocsin::config::LoadOptions;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn success_and_failure_per_file_like_promtool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good.yml",
        "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n      - alert: B\n        expr: up == 0\n",
    );
    let empty = write(dir.path(), "empty.yml", "");
    let bad = write(
        dir.path(),
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n      - record: x{y}\n        expr: up\n",
    );
    let out = check_rules(
        &[good.clone(), bad.clone(), empty.clone()],
        &CheckOptions::default(),
    );
    assert_eq!(
        out.stdout,
        format!(
            "Checking {good}\n  SUCCESS: 2 rules found\n\nChecking {bad}\n\nChecking {empty}\n  SUCCESS: 0 rules found\n\n"
        )
    );
    assert_eq!(
        out.stderr,
        format!(
            "  FAILED:\n{bad}:4:9: group \"g\", rule 1, \"A\": field 'expr' must be set in rule\n{bad}:5:17: group \"g\", rule 2, \"x{{y}}\": invalid recording rule name: x{{y}}; a series name is any non-empty text without braces (put labels under `labels:`, selectors in `expr`)\n"
        )
    );
    assert_eq!(out.exit_code, 1);

    let out = check_rules(&[good.clone(), empty], &CheckOptions::default());
    assert_eq!(out.exit_code, 0);
    assert!(out.stderr.is_empty());
    // Only broken expressions: skipped when expression checks are off (MetricsQL).
    let metricsql = write(
        dir.path(),
        "mql.yml",
        "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: sum(x) keep_metric_names\n",
    );
    let lax = CheckOptions {
        load: LoadOptions {
            validate_expressions: false,
            ..LoadOptions::default()
        },
        ..CheckOptions::default()
    };
    assert_eq!(
        check_rules(std::slice::from_ref(&metricsql), &CheckOptions::default()).exit_code,
        1
    );
    assert_eq!(check_rules(&[metricsql, good], &lax).exit_code, 0);
}

#[test]
fn missing_files_and_empty_globs_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = format!("{}/missing.yml", dir.path().display());
    let glob = format!("{}/*.rules", dir.path().display());
    let out = check_rules(&[missing.clone(), glob.clone()], &CheckOptions::default());
    assert_eq!(out.exit_code, 1);
    assert_eq!(
        out.stdout,
        format!("Checking {missing}\n\nChecking {glob}\n\n")
    );
    assert!(
        out.stderr
            .contains(&format!("{missing}: cannot read the file: no such file\n"))
    );
    assert!(
        out.stderr
            .contains(&format!("no file matches the pattern {glob:?}"))
    );
}

#[test]
fn duplicate_rules_are_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule =
        "      - alert: A\n        expr: up == 0\n        labels:\n          severity: page\n";
    let dup = write(
        dir.path(),
        "dup.yml",
        &format!(
            "groups:\n  - name: g\n    rules:\n{rule}{rule}      - alert: A\n        expr: up == 0\n"
        ),
    );
    let out = check_rules(std::slice::from_ref(&dup), &CheckOptions::default());
    assert_eq!(out.exit_code, 0);
    assert!(out.stdout.contains("SUCCESS: 3 rules found"));
    assert!(
        out.stderr
            .starts_with("  WARNING: 1 duplicate rule(s) found"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "{dup}:8: group \"g\", rule 2, \"A\": duplicate rule"
        )),
        "{}",
        out.stderr
    );
    let quiet = CheckOptions {
        lint_duplicates: false,
        lint_all: None,
        ..CheckOptions::default()
    };
    assert!(
        check_rules(std::slice::from_ref(&dup), &quiet)
            .stderr
            .is_empty()
    );
    let fatal = CheckOptions {
        lint_fatal: true,
        ..CheckOptions::default()
    };
    assert_eq!(check_rules(&[dup], &fatal).exit_code, 3);
}

#[test]
fn extensions_are_a_lint_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ext = write(
        dir.path(),
        "ext.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n      - alert: High\n        expr: cpu > 90\n        recover_expr: cpu < 70\n        for_count: {n: 2, of: 3}\n",
    );
    let out = check_rules(std::slice::from_ref(&ext), &CheckOptions::default());
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("SUCCESS: 2 rules found"));
    assert_eq!(
        out.stderr,
        format!(
            "  WARNING: 1 rule(s) use tocsin extensions: this file loads in tocsin only, not in Prometheus or vmalert (see docs/rules.md)\n{ext}:6: group \"g\", rule 2, \"High\": uses recover_expr, for_count\n"
        )
    );
    let fatal = CheckOptions {
        lint_fatal: true,
        ..CheckOptions::default()
    };
    assert_eq!(check_rules(std::slice::from_ref(&ext), &fatal).exit_code, 3);
    let quiet = CheckOptions {
        lint_extensions: false,
        ..CheckOptions::default()
    };
    assert!(check_rules(&[ext], &quiet).stderr.is_empty());
}
