//! Every validation error kind: what a user sees for a broken rule file, including the
//! position, group, rule index and name, and that all errors of a file are reported.

use std::path::Path;

use tocsin::config::{ErrorKind, LoadError, LoadOptions, load_str};

fn errors(text: &str) -> Vec<LoadError> {
    errors_with(text, &LoadOptions::default())
}

fn errors_with(text: &str, opts: &LoadOptions) -> Vec<LoadError> {
    match load_str(Path::new("rules.yml"), text, opts) {
        Ok(groups) => panic!("expected errors, loaded {} groups", groups.len()),
        Err(e) => e,
    }
}

/// The one error of `text`, printed.
fn one(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.len(), 1, "expected one error, got: {e:#?}");
    e[0].to_string()
}

fn rule(body: &str) -> String {
    format!("groups:\n  - name: g\n    rules:\n{body}")
}

#[test]
fn both_record_and_alert() {
    let msg = one(&rule(
        "      - record: a\n        alert: B\n        expr: up\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:5:16: group \"g\", rule 1, \"B\": only one of 'record' and 'alert' must be set; split it into two rules"
    );
}

#[test]
fn neither_record_nor_alert() {
    let msg = one(&rule("      - expr: up\n"));
    assert!(
        msg.starts_with("rules.yml:4:9: group \"g\", rule 1, \"\": one of 'record' or 'alert'"),
        "{msg}"
    );
}

#[test]
fn missing_and_empty_expr() {
    let msg = one(&rule("      - alert: A\n"));
    assert!(
        msg.ends_with("rule 1, \"A\": field 'expr' must be set in rule"),
        "{msg}"
    );
    let msg = one(&rule("      - alert: A\n        expr: '  '\n"));
    assert!(msg.contains("field 'expr' must be set"), "{msg}");
}

#[test]
fn unparsable_expr_points_at_the_expression() {
    let msg = one(&rule("      - record: a\n        expr: sum(\n"));
    assert!(
        msg.starts_with("rules.yml:5:15: group \"g\", rule 1, \"a\": could not parse expression: "),
        "{msg}"
    );
}

#[test]
fn expression_check_can_be_switched_off_for_metricsql() {
    let text = rule("      - record: a\n        expr: sum(rate(x)) keep_metric_names\n");
    assert!(!errors(&text).is_empty());
    let opts = LoadOptions {
        validate_expressions: false,
        ..LoadOptions::default()
    };
    let groups = load_str(Path::new("r.yml"), &text, &opts).expect("loads without PromQL check");
    assert_eq!(&*groups[0].rules[0].expr, "sum(rate(x)) keep_metric_names");
}

#[test]
fn recording_rules_reject_alerting_fields() {
    let e = errors(&rule(
        "      - record: a\n        expr: up\n        for: 5m\n        keep_firing_for: 1m\n        annotations:\n          s: x\n",
    ));
    let kinds: Vec<_> = e.iter().map(|e| e.kind.clone()).collect();
    assert!(kinds.contains(&ErrorKind::RecordingField("for")));
    assert!(kinds.contains(&ErrorKind::RecordingField("keep_firing_for")));
    assert!(kinds.contains(&ErrorKind::RecordingField("annotations")));
    assert_eq!(e.len(), 3);
    // Each error points at its key (not at the rule), so an editor jumps to the line
    // to remove; in file order.
    let shown: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    let key = |at: &str, field: &str| {
        format!(
            "rules.yml:{at}: group \"g\", rule 1, \"a\": invalid field '{field}' in recording rule; only alerting rules take it: remove it, or make this an `alert:` rule"
        )
    };
    assert_eq!(
        shown,
        [
            key("6:9", "for"),
            key("7:9", "keep_firing_for"),
            key("8:9", "annotations"),
        ]
    );
}

#[test]
fn invalid_record_names() {
    for name in ["'foo{a=\"b\"}'", "'x}'", "'{x}'"] {
        let msg = one(&rule(&format!(
            "      - record: {name}\n        expr: up\n"
        )));
        assert!(msg.contains("invalid recording rule name"), "{msg}");
        assert!(msg.contains("put labels under `labels:`"), "{msg}");
    }
}

#[test]
fn names_with_line_breaks_still_print_on_one_line() {
    let msg = one(&rule("      - record: \"a{\\nb}\"\n        expr: up\n"));
    assert!(
        msg.contains("invalid recording rule name: a{\\nb};"),
        "{msg}"
    );
}

/// Prometheus 3's UTF-8 names, as promtool 3.5 and vmalert 1.145 accept them (promtool
/// 2.42 refused them).
#[test]
fn utf8_names_are_accepted() {
    let text = format!(
        "groups:\n  - name: g\n    labels:\n      a-b: x\n    rules:\n{}",
        "      - record: foo-bar.total\n        expr: up\n        labels:\n          0day: y\n\
         \x20     - alert: 'Disk full'\n        expr: up\n        labels:\n          team.name: z\n\
         \x20       annotations:\n          runbook-url: x\n"
    );
    let groups = load_str(Path::new("rules.yml"), &text, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e:#?}"));
    let names: Vec<&str> = groups[0].rules.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["foo-bar.total", "Disk full"]);
}

#[test]
fn invalid_label_names_in_rules_and_groups() {
    let e = errors(&rule(
        "      - alert: A\n        expr: up\n        labels:\n          __name__: x\n          \"\": y\n          ok_1: z\n",
    ));
    let printed: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 2, "{printed:#?}");
    assert!(
        printed[0].starts_with(
            "rules.yml:7:11: group \"g\", rule 1, \"A\": invalid label name: __name__"
        )
    );
    assert!(
        printed[1].starts_with("rules.yml:8:11: group \"g\", rule 1, \"A\": invalid label name: ;")
    );
    let msg = one("groups:\n  - name: g\n    labels:\n      __name__: x\n    rules: []\n");
    assert!(
        msg.starts_with("rules.yml:4:7: group \"g\": invalid label name: __name__"),
        "{msg}"
    );
}

#[test]
fn invalid_annotation_name() {
    let msg = one(&rule(
        "      - alert: A\n        expr: up\n        annotations:\n          \"\": x\n",
    ));
    assert!(
        msg.contains("rule 1, \"A\": invalid annotation name: ;"),
        "{msg}"
    );
}

#[test]
fn group_names_empty_missing_and_repeated() {
    let msg = one("groups:\n  - name: ''\n    rules: []\n");
    assert!(msg.contains("group name must not be empty"), "{msg}");
    let msg = one("groups:\n  - rules: []\n");
    assert!(msg.contains("group name must not be empty"), "{msg}");
    let msg = one("groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n");
    assert_eq!(
        msg,
        "rules.yml:4:11: groupname: \"a\" is repeated in the same file (first at line 2); group names must be unique per file"
    );
}

#[test]
fn unknown_fields_at_every_level_are_all_reported() {
    let e = errors(
        "groups:\n  - name: g\n    evaluation_interval: 1m\n    rules:\n      - alert: A\n        expr: up\n        severity: page\n        sev2: x\nrule_files: []\n",
    );
    let printed: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 4, "{printed:#?}");
    assert!(printed[0].starts_with("rules.yml:3:5: group \"g\": unknown field \"evaluation_interval\" in group; valid fields are: name, interval"));
    assert!(printed[1].starts_with(
        "rules.yml:7:9: group \"g\", rule 1, \"A\": unknown field \"severity\" in rule"
    ));
    assert!(printed[2].contains("\"sev2\""));
    assert!(printed[3].starts_with("rules.yml:9:1: unknown field \"rule_files\""));
}

#[test]
fn bad_durations_say_how_to_write_one() {
    for (field, value) in [
        ("for", "1.5m"),
        ("for", "300"),
        ("for", "-1m"),
        ("keep_firing_for", "1m1h"),
        ("for", "5min"),
        ("for", "294y"),
    ] {
        let msg = one(&rule(&format!(
            "      - alert: A\n        expr: up\n        {field}: {value}\n"
        )));
        assert!(msg.starts_with("rules.yml:6:"), "{msg}");
        assert!(msg.contains(&format!("invalid `{field}`")), "{msg}");
        assert!(msg.contains("write e.g. 30s, 5m or 1h30m"), "{msg}");
    }
    for field in ["interval", "query_offset", "eval_offset", "eval_delay"] {
        let msg = one(&format!(
            "groups:\n  - name: g\n    {field}: 1.5h\n    rules: []\n"
        ));
        assert!(
            msg.starts_with(&format!(
                "rules.yml:3:{}: group \"g\": invalid `{field}`",
                field.len() + 7
            )),
            "{msg}"
        );
    }
}

#[test]
fn vmalert_group_checks() {
    let msg = one("groups:\n  - name: g\n    eval_offset: 1m\n    eval_delay: 1m\n    rules: []\n");
    assert!(
        msg.contains("`eval_offset` cannot be used with `eval_delay`"),
        "{msg}"
    );
    let msg = one("groups:\n  - name: g\n    interval: 1m\n    eval_offset: 90s\n    rules: []\n");
    assert!(
        msg.contains("`eval_offset` (1m30s) must not be larger than `interval` (1m)"),
        "{msg}"
    );
    for t in ["graphite", "vlogs"] {
        let msg = one(&format!(
            "groups:\n  - name: g\n    type: {t}\n    rules: []\n"
        ));
        assert!(
            msg.contains("tocsin speaks the Prometheus query API only"),
            "{msg}"
        );
    }
    let msg = one("groups:\n  - name: g\n    headers: [NoColon]\n    rules: []\n");
    assert!(
        msg.contains("invalid `headers` entry \"NoColon\": expected \"Name: value\""),
        "{msg}"
    );
    let msg = one("groups:\n  - name: g\n    notifier_headers: [': v']\n    rules: []\n");
    assert!(msg.contains("invalid `notifier_headers` entry"), "{msg}");
    let msg = one("groups:\n  - name: g\n    concurrency: -1\n    rules: []\n");
    assert!(msg.contains("`concurrency` must not be negative"), "{msg}");
    let msg = one(&rule(
        "      - alert: A\n        expr: up\n        update_entries_limit: -3\n",
    ));
    assert!(
        msg.contains("`update_entries_limit` must not be negative (got -3)"),
        "{msg}"
    );
}

#[test]
fn all_errors_of_a_file_are_reported_in_file_order() {
    let text = "groups:\n  - name: first\n    rules:\n      - record: bad{name}\n        expr: sum(\n        for: 5m\n      - alert: NoExpr\n        labels:\n          __name__: x\n  - name: first\n    rules:\n      - alert: X\n        expr: up\n        unknown: 1\n";
    let e = errors(text);
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(
        e.len(),
        7,
        "{:#?}",
        e.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    let second = e
        .iter()
        .find(|e| e.kind == ErrorKind::MissingExpr)
        .expect("missing expr");
    assert_eq!(
        second.rule.as_ref().map(|r| (r.index, r.name.as_str())),
        Some((1, "NoExpr"))
    );
}

#[test]
fn template_errors_name_the_label_or_annotation() {
    // A broken template must be reported with the key's name and the value's position,
    // and must stop the load.
    let text = rule(
        "      - alert: A\n        expr: up\n        annotations:\n          summary: \"{{ if }}\"\n",
    );
    {
        let e = load_str(Path::new("rules.yml"), &text, &LoadOptions::default())
            .expect_err("`{{ if }}` has no condition and must be rejected");
        let msg = e[0].to_string();
        assert!(msg.starts_with("rules.yml:7:20: group \"g\", rule 1, \"A\": annotation \"summary\": template error at"), "{msg}");
        let lax = LoadOptions {
            validate_templates: false,
            ..LoadOptions::default()
        };
        assert!(load_str(Path::new("rules.yml"), &text, &lax).is_ok());
    }
}

#[test]
fn yaml_type_errors_name_their_group_and_rule() {
    let text = "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n      - alert: Why\n        expr: up\n        labels: [1]\n    interval: [5]\n";
    let msg = one(text);
    assert_eq!(
        msg,
        "rules.yml:8:17: group \"a\", rule 2, \"Why\": not a valid rule file: expected a mapping (key: value) here"
    );
    let msg = one("groups:\n  - name: a\n    rules: []\n    interval: [5]\n");
    assert_eq!(
        msg,
        "rules.yml:4:15: group \"a\": not a valid rule file: expected a string here"
    );
}

#[test]
fn extension_keys_are_checked_where_they_are_written() {
    // `recover_expr` and `for_count` belong to alerting rules.
    let e = errors(&rule(
        "      - record: a\n        expr: up\n        recover_expr: up > 0\n        for_count: {n: 1, of: 2}\n",
    ));
    let shown: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        shown,
        [
            "rules.yml:6:9: group \"g\", rule 1, \"a\": invalid field 'recover_expr' in recording rule; only alerting rules take it: remove it, or make this an `alert:` rule",
            "rules.yml:7:9: group \"g\", rule 1, \"a\": invalid field 'for_count' in recording rule; only alerting rules take it: remove it, or make this an `alert:` rule",
        ]
    );
    // N > M points at `n`; a count window wider than 64 at `of`.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        for_count: {n: 3, of: 2}\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:6:24: group \"g\", rule 1, \"A\": invalid `for_count`: n: 3, of: 2; it needs 1 <= n <= of <= 64 (n of the last `of` evaluations; n consecutive is {n: N, of: N})"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        for_count:\n          n: 3\n          of: 100\n",
    ));
    assert!(msg.starts_with("rules.yml:8:15: "), "{msg}");
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        for_count: {n: 0, of: 2}\n",
    ));
    assert!(msg.contains("1 <= n"), "{msg}");
    // Missing and unknown keys inside `for_count`.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        for_count: {n: 3}\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:6:9: group \"g\", rule 1, \"A\": `for_count` needs `of`: write `for_count: {n: N, of: M}` (fire when the series was returned in N of the last M evaluations)"
    );
    // Also when the mapping starts on the next line: the key, not its first field.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        for_count:\n          of: 3\n",
    ));
    assert!(
        msg.starts_with("rules.yml:6:9: group \"g\", rule 1, \"A\": `for_count` needs `n`"),
        "{msg}"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        for_count: {n: 1, of: 2, out_of: 3}\n",
    ));
    assert!(
        msg.starts_with("rules.yml:6:34: group \"g\", rule 1, \"A\": unknown field \"out_of\" in for_count; valid fields are: n, of"),
        "{msg}"
    );
    // A misspelt key gets a suggestion; a bad `recover_expr` points at itself.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        recovery_expr: up == 1\n",
    ));
    assert!(msg.contains("did you mean \"recover_expr\"?"), "{msg}");
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        recover_expr: up ==\n",
    ));
    assert!(msg.starts_with("rules.yml:6:23: "), "{msg}");
    assert!(msg.contains("could not parse `recover_expr`"), "{msg}");
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        recover_expr: ''\n",
    ));
    assert!(msg.contains("`recover_expr` must not be empty"), "{msg}");
}

#[test]
fn no_data_and_on_error_are_checked_where_they_are_written() {
    // A misspelt state gets a suggestion and points at the value.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        no_data: {after: 5m, state: alertng}\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:6:37: group \"g\", rule 1, \"A\": invalid `no_data` state \"alertng\"; did you mean \"alerting\"? valid states are: ok, alerting, keep"
    );
    // `ok` is not a state of `on_error`.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        on_error: {state: ok}\n",
    ));
    assert!(msg.starts_with("rules.yml:6:27: "), "{msg}");
    assert!(msg.contains("valid states are: keep, alerting"), "{msg}");
    // Missing state, bad duration, unknown key.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        no_data: {after: 5m}\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:6:9: group \"g\", rule 1, \"A\": `no_data` needs `state`: write `no_data: {after: 5m, state: STATE}` (STATE is ok (the alerts resolve), alerting (a no-data alert fires) or keep (the alerts stay))"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        on_error:\n          after: 5m\n",
    ));
    assert!(
        msg.starts_with("rules.yml:6:9: group \"g\", rule 1, \"A\": `on_error` needs `state`"),
        "{msg}"
    );
    // The group's own, at its key.
    let msg = one(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n    on_error:\n      after: 1m\n",
    );
    assert!(
        msg.starts_with("rules.yml:6:5: group \"g\": `on_error` needs `state`"),
        "{msg}"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        no_data: {after: 5 minutes, state: ok}\n",
    ));
    assert!(msg.starts_with("rules.yml:6:26: "), "{msg}");
    assert!(msg.contains("invalid `after`"), "{msg}");
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        on_error: {state: keep, for: 5m}\n",
    ));
    assert!(
        msg.contains("unknown field \"for\" in on_error; valid fields are: after, state"),
        "{msg}"
    );
    // Misspelt key of the rule and of the group.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        nodata: {state: ok}\n",
    ));
    assert!(msg.contains("did you mean \"no_data\"?"), "{msg}");
    let msg = one(
        "groups:\n  - name: g\n    on_eror: {state: keep}\n    rules:\n      - alert: A\n        expr: up\n",
    );
    assert!(msg.starts_with("rules.yml:3:5: group \"g\": unknown field \"on_eror\" in group; did you mean \"on_error\"?"), "{msg}");
    // Recording rules take neither.
    let e = errors(&rule(
        "      - record: a\n        expr: up\n        no_data: {state: ok}\n        on_error: {state: keep}\n",
    ));
    let at: Vec<(usize, usize)> = e.iter().map(|e| (e.line, e.col)).collect();
    let kinds: Vec<_> = e.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::RecordingField("no_data"),
            ErrorKind::RecordingField("on_error")
        ]
    );
    assert_eq!(at, [(6, 9), (7, 9)], "each at its key");
    // An expression without selectors never lacks data: on the rule, the error points
    // at its `no_data`; inherited from the group, at the group's.
    let msg = one(&rule(
        "      - alert: A\n        expr: vector(1) > 0\n        no_data: {state: alerting}\n",
    ));
    assert!(
        msg.starts_with(
            "rules.yml:6:9: group \"g\", rule 1, \"A\": `no_data` needs a selector in `expr`"
        ),
        "{msg}"
    );
    let msg = one(
        "groups:\n  - name: g\n    no_data: {state: ok}\n    rules:\n      - alert: A\n        expr: up\n      - alert: B\n        expr: vector(time()) > 0\n",
    );
    assert!(
        msg.starts_with("rules.yml:3:5: group \"g\", rule 2, \"B\": `no_data` needs a selector"),
        "{msg}"
    );
}

#[test]
fn flapping_is_checked_where_it_is_written() {
    // A window shorter than the group's interval never sees two changes.
    let msg = one(
        "groups:\n  - name: g\n    interval: 1m\n    rules:\n      - alert: A\n        expr: up == 0\n        flapping: {changes: 3, within: 30s}\n",
    );
    assert_eq!(
        msg,
        "rules.yml:7:40: group \"g\", rule 1, \"A\": `flapping` window 30s is too short: it must be non-zero and at least the group's interval (1m), else it never sees two changes; make `within` several intervals long"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        flapping: {changes: 0, within: 10m}\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:6:29: group \"g\", rule 1, \"A\": invalid `flapping`: changes: 0; it needs at least 1"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        flapping: {changes: 2}\n",
    ));
    assert_eq!(
        msg,
        "rules.yml:6:9: group \"g\", rule 1, \"A\": `flapping` needs `within`: write `flapping: {changes: K, within: DURATION}` (an alert that fires or resolves more than K times within DURATION is flapping)"
    );
    // Misspelt keys, inside `flapping` and for `flapping` itself.
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        flapping: {changes: 2, within: 10m, hodl: true}\n",
    ));
    assert!(
        msg.contains("unknown field \"hodl\" in flapping; did you mean \"hold\"? valid fields are: changes, within, hold"),
        "{msg}"
    );
    let msg = one(&rule(
        "      - alert: A\n        expr: up == 0\n        flaping: {changes: 2, within: 10m}\n",
    ));
    assert!(
        msg.starts_with("rules.yml:6:9: group \"g\", rule 1, \"A\": unknown field \"flaping\"")
            && msg.contains("did you mean \"flapping\"?"),
        "{msg}"
    );
    let msg = one(&rule(
        "      - record: a\n        expr: up\n        flapping: {changes: 2, within: 10m}\n",
    ));
    assert!(
        msg.starts_with(
            "rules.yml:6:9: group \"g\", rule 1, \"a\": invalid field 'flapping' in recording rule"
        ),
        "{msg}"
    );
}

#[test]
fn a_flapping_window_is_compared_with_evaluation_interval_when_the_group_sets_none() {
    // The group runs at `-evaluationInterval` (5m): a 2m window holds one evaluation.
    let text = rule(
        "      - alert: A\n        expr: up == 0\n        flapping: {changes: 3, within: 2m}\n",
    );
    let opts = LoadOptions {
        default_interval: Some(std::time::Duration::from_secs(300)),
        ..LoadOptions::default()
    };
    let e = errors_with(&text, &opts);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        e[0].to_string(),
        "rules.yml:6:40: group \"g\", rule 1, \"A\": `flapping` window 2m is too short: it must be non-zero and at least -evaluationInterval (5m; the group sets no interval), else it never sees two changes; make `within` several intervals long"
    );
    // The group's own interval is the one it runs at.
    let own = "groups:\n  - name: g\n    interval: 1m\n    rules:\n      - alert: A\n        expr: up == 0\n        flapping: {changes: 3, within: 2m}\n";
    assert!(load_str(Path::new("rules.yml"), own, &opts).is_ok());
    // Where the flag is not known (a library caller), only the group's is compared.
    assert!(load_str(Path::new("rules.yml"), &text, &LoadOptions::default()).is_ok());
}
