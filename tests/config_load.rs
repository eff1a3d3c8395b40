//! Loading semantics: what the model holds after a successful load, patterns and globs,
//! `%{ENV}` substitution, all-or-nothing, and the group checksum the reload diff uses.

use std::fs;
use std::path::Path;
use std::time::Duration;

use tocsin::config::{DatasourceType, ErrorKind, LoadOptions, RuleKind, load, load_file, load_str};
use tocsin::template::Context;

const EVERY_FIELD: &str = include_str!("data/rules/tocsin/valid/every_field.yml");

fn write(dir: &Path, rel: &str, text: &str) -> String {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
    fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn every_field_reaches_the_model() {
    let groups =
        load_str(Path::new("every.yml"), EVERY_FIELD, &LoadOptions::default()).expect("valid");
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(g.name, "everything");
    assert_eq!(g.line, 3);
    assert_eq!(g.interval, Some(Duration::from_secs(60)));
    assert_eq!(g.query_offset, Some(Duration::from_secs(30)));
    assert_eq!(g.limit, 50);
    assert_eq!(g.labels.get("env"), Some("prod"));
    assert_eq!(g.eval_offset, Some(Duration::from_secs(10)));
    assert_eq!(g.eval_delay, None);
    assert_eq!(g.eval_alignment, Some(false));
    assert_eq!(g.concurrency, 2);
    assert_eq!(g.datasource_type, DatasourceType::Prometheus);
    assert_eq!(g.params, vec![("nocache".to_string(), "1".to_string())]);
    assert_eq!(
        g.headers,
        vec![("X-Scope-OrgID".to_string(), "team-a".to_string())]
    );
    assert_eq!(
        g.notifier_headers,
        vec![("Authorization".to_string(), "Bearer abc:def".to_string())]
    );
    assert!(g.debug);
    assert_eq!(g.rules.len(), 2);
    let a = &g.rules[0];
    assert_eq!((a.index, a.line, a.name()), (0, 21, "Everything"));
    assert_eq!(&*a.expr, "up == 0");
    assert!(a.debug);
    assert_eq!(a.update_entries_limit, Some(40));
    assert_eq!(a.labels[0].0, "severity");
    assert_eq!(a.labels[0].1.source(), "page");
    match &a.kind {
        RuleKind::Alerting(s) => {
            assert_eq!(s.for_, Duration::from_secs(300));
            assert_eq!(s.keep_firing_for, Duration::from_secs(600));
            assert_eq!(s.annotations[0].0, "summary");
            assert_eq!(s.annotations[0].1.source(), "{{ $labels.instance }} down");
        }
        other => panic!("expected alerting rule, got {other:?}"),
    }
    assert!(matches!(&g.rules[1].kind, RuleKind::Recording(r) if &*r.name == "everything:up:sum"));
    assert_eq!(groups[1].eval_delay, Some(Duration::from_secs(30)));
    assert_eq!(groups[1].concurrency, 1, "default concurrency");
    assert_eq!(groups[1].interval, None, "no interval means the global one");
}

#[test]
fn defaults_and_lenient_prometheus_values() {
    let text = "groups:\n  - name: g\n    interval: 0s\n    limit: -1\n    concurrency: 0\n    rules:\n      - record: r\n        expr: '  up  '\n        labels:\n          n: 1\n          empty:\n";
    let g = &load_str(Path::new("x.yml"), text, &LoadOptions::default()).expect("valid")[0];
    assert_eq!(g.interval, None, "interval 0 means the default");
    assert_eq!(
        g.limit, 0,
        "negative limit means no limit, as in Prometheus"
    );
    assert_eq!(g.concurrency, 1, "vmalert reads 0 as 1");
    assert_eq!(&*g.rules[0].expr, "up", "expression trimmed");
    let labels: Vec<(&str, &str)> = g.rules[0]
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.source()))
        .collect();
    assert_eq!(labels, vec![("n", "1"), ("empty", "")]);
}

#[test]
fn globs_including_double_star_expand_in_sorted_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = |n: &str| {
        format!("groups:\n  - name: {n}\n    rules:\n      - record: {n}\n        expr: up\n")
    };
    write(dir.path(), "b.yml", &rule("b"));
    write(dir.path(), "a.yml", &rule("a"));
    write(dir.path(), "deep/er/c.yml", &rule("c"));
    write(dir.path(), "deep/notes.txt", "not a rule file");
    let base = dir.path().display();
    let set = load(&[format!("{base}/**/*.yml")], &LoadOptions::default()).expect("loads");
    let names: Vec<&str> = set.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(set.files.len(), 3);
    assert_eq!(set.rule_count(), 3);
    // The same file named twice is loaded once.
    let set = load(
        &[format!("{base}/a.yml"), format!("{base}/*.yml")],
        &LoadOptions::default(),
    )
    .expect("loads");
    assert_eq!(set.files.len(), 2);
}

#[test]
fn a_glob_matching_nothing_and_a_missing_file_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().display();
    let err = load(
        &[format!("{base}/*.rules"), format!("{base}/missing.yml")],
        &LoadOptions::default(),
    )
    .expect_err("nothing to load");
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains(&format!("no file matches the pattern \"{base}/*.rules\"")));
    assert_eq!(
        lines[1],
        format!("{base}/missing.yml: cannot read the file: no such file")
    );
}

#[test]
fn loading_is_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "good.yml",
        "groups:\n  - name: g\n    rules: []\n",
    );
    let bad = write(
        dir.path(),
        "bad.yml",
        "groups:\n  - name: g\n    rules: [{alert: A}]\n",
    );
    let err = load(&[good, bad.clone()], &LoadOptions::default()).expect_err("one bad file");
    assert_eq!(err.len(), 1);
    assert_eq!(err.0[0].file.as_deref(), Some(Path::new(&bad)));
}

#[test]
fn env_references_are_substituted_before_parsing() {
    // set_var is unsafe in edition 2024 (and the crate forbids unsafe), so use a name
    // nobody sets for the missing case and one cargo always sets for the present case.
    let name = "TOCSIN_TEST_THRESHOLD_7F3A";
    let text = format!(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up > %{{{name}}}\n"
    );
    let err = load_str(Path::new("e.yml"), &text, &LoadOptions::default()).expect_err("unset");
    assert_eq!(err[0].kind, ErrorKind::MissingEnv(name.to_string()));
    assert_eq!((err[0].line, err[0].col), (5, 20));
    // CARGO_PKG_NAME is always set for integration tests run by cargo.
    let text = "groups:\n  - name: '%{CARGO_PKG_NAME}-rules'\n    rules: []\n";
    let g = load_str(Path::new("e.yml"), text, &LoadOptions::default()).expect("set");
    assert_eq!(g[0].name, "tocsin-rules");
}

#[test]
fn checksum_is_stable_and_tracks_every_behavioural_field() {
    let load_one = |text: &str, file: &str| {
        load_str(Path::new(file), text, &LoadOptions::default()).expect("valid")[0].checksum
    };
    let base = load_one(EVERY_FIELD, "a.yml");
    assert_eq!(
        base,
        load_one(EVERY_FIELD, "a.yml"),
        "same input, same checksum"
    );
    // Comments and layout do not matter; the file path does.
    let relaid = EVERY_FIELD.replace("# Every field", "\n\n# Every field");
    assert_eq!(base, load_one(&relaid, "a.yml"));
    assert_ne!(base, load_one(EVERY_FIELD, "b.yml"));
    for (from, to) in [
        ("interval: 1m", "interval: 2m"),
        ("query_offset: 30s", "query_offset: 31s"),
        ("limit: 50", "limit: 51"),
        ("env: prod", "env: dev"),
        ("eval_offset: 10s", "eval_offset: 11s"),
        ("eval_alignment: false", "eval_alignment: true"),
        ("concurrency: 2", "concurrency: 3"),
        ("nocache: [\"1\"]", "nocache: [\"0\"]"),
        ("team-a", "team-b"),
        ("Bearer abc:def", "Bearer x"),
        ("    debug: true\n    rules", "    debug: false\n    rules"),
        ("expr: up == 0", "expr: up == 1"),
        ("for: 5m", "for: 6m"),
        ("keep_firing_for: 10m", "keep_firing_for: 11m"),
        ("severity: page", "severity: info"),
        ("down\"", "gone\""),
        ("update_entries_limit: 40", "update_entries_limit: 41"),
        ("record: everything:up:sum", "record: everything:up:total"),
    ] {
        assert!(EVERY_FIELD.contains(from), "fixture lacks {from}");
        let changed = EVERY_FIELD.replacen(from, to, 1);
        assert_ne!(
            base,
            load_one(&changed, "a.yml"),
            "changing {from:?} must change it"
        );
    }
}

#[test]
fn reading_a_file_from_disk_matches_reading_its_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = write(dir.path(), "every.yml", EVERY_FIELD);
    let from_disk = load_file(Path::new(&p), &LoadOptions::default()).expect("valid");
    let from_text = load_str(Path::new(&p), EVERY_FIELD, &LoadOptions::default()).expect("valid");
    assert_eq!(from_disk[0].checksum, from_text[0].checksum);
    assert_eq!(from_disk[0].file, Path::new(&p));
}

/// The checksum must not change between runs, builds or machines (no random seed, no
/// HashMap order). A deliberate encoding change must bump the "tocsin-group-v1" tag in
/// src/config/checksum.rs and this value.
#[test]
fn checksum_is_the_same_in_every_process() {
    let text =
        "groups:\n  - name: g\n    interval: 1m\n    rules:\n      - record: a\n        expr: up\n";
    let g = &load_str(Path::new("rules/a.yml"), text, &LoadOptions::default()).expect("valid")[0];
    assert_eq!(
        g.checksum, GOLDEN,
        "checksum encoding changed: {:#x}",
        g.checksum
    );
}
const GOLDEN: u64 = 0xdfdb_6b56_2ac4_952e;

/// Parsed templates are shared between rules with the same text; a broken text repeated
/// is still reported at every place it occurs, and equal texts under other keys or in
/// recording rules keep their own meaning.
#[test]
fn repeated_templates_each_report_their_errors() {
    let text = concat!(
        "groups:\n  - name: g\n    rules:\n",
        "      - alert: A\n        expr: up == 0\n        annotations: {s: '{{ $labels.x }} down', b: '{{ .Broken'}\n",
        "      - alert: B\n        expr: up == 0\n        annotations: {s: '{{ $labels.x }} down', b: '{{ .Broken'}\n",
    );
    let errs = load_str(Path::new("t.yml"), text, &LoadOptions::default()).unwrap_err();
    let lines: Vec<usize> = errs
        .iter()
        .filter(|e| matches!(e.kind, ErrorKind::BadTemplate { .. }))
        .map(|e| e.line)
        .collect();
    assert_eq!(lines, [6, 9], "one error per broken copy: {errs:?}");

    let ok = concat!(
        "groups:\n  - name: g\n    rules:\n",
        "      - alert: A\n        expr: up == 0\n        labels: {s: '{{ 1 }}'}\n",
        "      - record: r\n        expr: up\n        labels: {s: '{{ 1 }}'}\n",
    );
    let groups = load_str(Path::new("t.yml"), ok, &LoadOptions::default()).expect("valid");
    let rules = &groups[0].rules;
    assert_eq!(rules.len(), 2);
    assert!(matches!(rules[1].kind, RuleKind::Recording(_)));
    let empty = tocsin::labels::Labels::empty();
    let render = |i: usize| rules[i].labels[0].1.render(&Context::new(&empty, 0.0));
    assert_eq!(render(0), "1", "an alerting rule's label is a template");
    assert_eq!(
        render(1),
        "{{ 1 }}",
        "a recording rule's label is literal text"
    );
}

/// `-rule.evalDelay` is the delay of groups that set none: a group's own `eval_delay`
/// wins, and groups pinned by `eval_offset` or shifted by `query_offset` are not delayed.
#[test]
fn the_default_eval_delay_applies_to_groups_without_their_own_timing() {
    let text = "groups:
- {name: plain, rules: [{record: a, expr: up}]}
- {name: own, eval_delay: 10s, rules: [{record: a, expr: up}]}
- {name: pinned, interval: 1m, eval_offset: 10s, rules: [{record: a, expr: up}]}
- {name: prom, query_offset: 5s, rules: [{record: a, expr: up}]}
";
    let groups = load_str(Path::new("r.yml"), text, &LoadOptions::default()).unwrap();
    let d = Duration::from_secs(30);
    let got: Vec<_> = groups.iter().map(|g| g.eval_delay_or(d)).collect();
    let s = |n| Some(Duration::from_secs(n));
    assert_eq!(got, [s(30), s(10), None, None]);
    assert_eq!(groups[0].eval_delay_or(Duration::ZERO), None);
}

/// `-rule.stripFilePath`: the file is shown as `<group id>/<file name>`; the group's ID
/// is still its real file's.
#[test]
fn stripped_file_paths_keep_the_group_id() {
    let text = "groups:\n- {name: g, rules: [{record: a, expr: up}]}\n";
    let path = Path::new("/srv/tenant-7/rules.yml");
    let plain = load_str(path, text, &LoadOptions::default()).unwrap();
    let strip = LoadOptions {
        strip_file_path: true,
        ..LoadOptions::default()
    };
    let stripped = load_str(path, text, &strip).unwrap();
    assert_eq!(plain[0].shown_file, "/srv/tenant-7/rules.yml");
    assert_eq!(stripped[0].id(), plain[0].id());
    assert_eq!(
        stripped[0].shown_file,
        format!("{}/rules.yml", plain[0].id())
    );
}
