//! `tocsin test rules` against `promtool test rules` 3.5, live: every file of the corpus
//! (tests/ruletest/, and Prometheus' own cmd/promtool/testdata rule tests, read from
//! the Go sources installed with the sid peers) is run by both binaries, and exit code,
//! stdout and stderr must be the same.
//!
//! The exceptions are listed with their reason: files whose only failure is bad input
//! (their messages say the same thing in tocsin's words, with the test file's line and
//! column) must still fail in both, with a position in tocsin's message; Prometheus'
//! `unittest.yml` uses native histograms, which tocsin's engine does not have, so it
//! runs once as is (tocsin must say so) and once without its histogram series and tests
//! (identical output).

mod support;

use support::peers;

use std::path::{Path, PathBuf};
use std::process::Command;

/// How a file's outputs are compared.
#[derive(Clone, Copy, Debug)]
enum Compare {
    /// Exit code, stdout and stderr identical.
    Same,
    /// Both fail before any check runs; the reason the messages differ.
    BadInput(&'static str),
    /// Exit code and stdout identical, stderr too but for the error texts after
    /// `err: `; the reason they differ.
    Wording(&'static str),
}

use Compare::{BadInput, Same, Wording};

const PARSE_MESSAGES: &str = "Go's PromQL parser words its errors differently";
const INPUT_POSITIONS: &str = "tocsin names the test file's line and column instead of promtool's position in its generated load command";
const STRICT_YAML: &str = "tocsin names each unknown field with its position and the valid ones";

/// The corpus written for tocsin: (file, extra flags, comparison).
const OURS: &[(&str, &[&str], Compare)] = &[
    ("alerts_series.yml", &[], Same),
    ("bad_expression.yml", &[], Wording(PARSE_MESSAGES)),
    ("bad_series.yml", &[], BadInput(INPUT_POSITIONS)),
    ("bad_values.yml", &[], BadInput(INPUT_POSITIONS)),
    ("between_evaluations.yml", &[], Same),
    ("external_labels_not_on_alerts.yml", &[], Same),
    ("external_labels_not_on_series.yml", &[], Same),
    ("for_fails_too_early.yml", &[], Same),
    ("for_pending_then_firing.yml", &[], Same),
    ("group_eval_order.yml", &[], Same),
    ("group_eval_order_reads_first.yml", &[], Same),
    ("keep_firing_for.yml", &[], Same),
    ("keep_firing_for_ends.yml", &[], Same),
    ("limit_exceeded.yml", &[], Same),
    ("missing_alertname.yml", &[], Same),
    ("nan_never_equal.yml", &[], Same),
    ("no_fuzzy_compare.yml", &[], Same),
    ("query_in_template.yml", &[], Same),
    ("recording_rules.yml", &[], Same),
    ("recording_wrong_value.yml", &[], Same),
    ("rule_eval_error.yml", &[], Same),
    ("same_alertname_two_groups.yml", &[], Same),
    ("scalar_and_errors.yml", &[], Same),
    ("several_failures.yml", &[], Same),
    ("several_failures.yml", &["--run=^first$"], Same),
    (
        "several_failures.yml",
        &["--run=pass", "--run=nothing"],
        Same,
    ),
    ("stale_and_missing.yml", &[], Same),
    ("templates_value_and_labels.yml", &[], Same),
    ("templates_wrong_annotation.yml", &[], Same),
    ("templates_wrong_annotation.yml", &["--diff"], Same),
    ("several_failures.yml", &["--diff"], Same),
    ("unknown_field.yml", &[], BadInput(STRICT_YAML)),
    ("unknown_function.yml", &[], BadInput(PARSE_MESSAGES)),
];

/// Prometheus' own rule tests, with the flags its Go tests run them with.
const PROMETHEUS: &[(&str, &[&str], Compare)] = &[
    ("at-modifier-test.yml", &[], Same),
    ("bad-input-series.yml", &[], BadInput(INPUT_POSITIONS)),
    ("bad-promql.yml", &[], Same),
    ("bad-rules-error-test.yml", &[], Same),
    ("bad-rules-syntax-test.yml", &[], BadInput(PARSE_MESSAGES)),
    ("failing.yml", &[], Same),
    ("failing.yml", &["--diff"], Same),
    ("long-period.yml", &[], Same),
    ("negative-offset-test.yml", &[], Same),
    ("no-test-group-interval.yml", &[], Same),
    ("rules_run.yml", &[], Same),
    ("rules_run.yml", &["--run=correct", "--run=wrong"], Same),
    ("rules_run.yml", &["--run=correct"], Same),
    ("rules_run.yml", &["--run=wrong"], Same),
    ("rules_run_extrafields.yml", &[], BadInput(STRICT_YAML)),
    (
        "rules_run_extrafields.yml",
        &["--ignore-unknown-fields"],
        Same,
    ),
    ("rules_run_fuzzy.yml", &[], Same),
    ("rules_run_fuzzy.yml", &["--run=correct"], Same),
    ("rules_run_fuzzy.yml", &["--run=wrong"], Same),
    ("rules_run_no_fuzzy.yml", &[], Same),
];

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(bin: &Path, prefix: &[&str], dir: &Path, file: &str, flags: &[&str]) -> Output {
    let out = Command::new(bin)
        .args(prefix)
        .args(flags)
        .arg(file)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: normalize(&String::from_utf8_lossy(&out.stderr)),
    }
}

/// promtool lists the series of a many-to-many match error in map order, which changes
/// from run to run: sort them.
fn normalize(text: &str) -> String {
    let re = regex::Regex::new(r"hand-side of the operation: \[(.*?)\];").unwrap();
    re.replace_all(text, |c: &regex::Captures| {
        let mut items: Vec<&str> = c[1].split("}, {").collect();
        for i in items.iter_mut() {
            *i = i.trim_start_matches('{').trim_end_matches('}');
        }
        items.sort_unstable();
        format!("hand-side of the operation: [{{{}}}];", items.join("}, {"))
    })
    .into_owned()
}

fn tocsin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tocsin"))
}

/// Runs the table on the files of `dir`; returns a description of every mismatch.
fn compare_all(promtool: &Path, dir: &Path, table: &[(&str, &[&str], Compare)]) -> Vec<String> {
    let mut problems = Vec::new();
    let positioned = regex::Regex::new(r"\.yml:\d+:\d+: ").unwrap();
    for &(file, flags, how) in table {
        let theirs = run(promtool, &["test", "rules"], dir, file, flags);
        let ours = run(&tocsin(), &["test", "rules"], dir, file, flags);
        let what = format!("{file} {flags:?}");
        match how {
            Same => {
                if theirs.code != ours.code
                    || theirs.stdout != ours.stdout
                    || theirs.stderr != ours.stderr
                {
                    problems.push(format!(
                        "{what}: promtool exit {:?}, tocsin exit {:?}\n--- promtool stderr\n{}--- tocsin stderr\n{}--- promtool stdout\n{:?}\n--- tocsin stdout\n{:?}",
                        theirs.code, ours.code, theirs.stderr, ours.stderr, theirs.stdout, ours.stdout
                    ));
                }
            }
            Wording(reason) => {
                let cut = |s: &str| {
                    s.lines()
                        .map(|l| l.split_once(", err: ").map_or(l, |(head, _)| head))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let errs = |s: &str| s.matches(", err: ").count();
                if theirs.code != ours.code
                    || theirs.stdout != ours.stdout
                    || cut(&theirs.stderr) != cut(&ours.stderr)
                    || errs(&ours.stderr) == 0
                {
                    problems.push(format!(
                        "{what} ({reason}): the same but for the error texts; promtool exit {:?}, tocsin exit {:?}\n--- promtool stderr\n{}--- tocsin stderr\n{}",
                        theirs.code, ours.code, theirs.stderr, ours.stderr
                    ));
                }
            }
            BadInput(reason) => {
                let ok = theirs.code == Some(1)
                    && ours.code == Some(1)
                    && ours.stderr.starts_with("  FAILED:\n")
                    && positioned.is_match(&ours.stderr);
                if !ok {
                    problems.push(format!(
                        "{what} ({reason}): both must fail, tocsin naming file:line:col; promtool exit {:?}, tocsin exit {:?}\n--- promtool stderr\n{}--- tocsin stderr\n{}",
                        theirs.code, ours.code, theirs.stderr, ours.stderr
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn our_corpus_matches_promtool() {
    let Some(promtool) = peers::sid_peer_or_skip("promtool") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ruletest");
    // Every test file of the folder is in the table, so none is forgotten.
    let mut listed: Vec<&str> = OURS.iter().map(|e| e.0).collect();
    listed.sort_unstable();
    listed.dedup();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/ruletest exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    present.sort_unstable();
    assert_eq!(
        listed, present,
        "tests/ruletest/*.yml and the OURS table differ"
    );
    assert!(listed.len() >= 20, "the corpus has at least twenty files");
    let problems = compare_all(&promtool, &dir, OURS);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn promtool_testdata() -> Option<(PathBuf, PathBuf)> {
    let promtool = peers::sid_peer_or_skip("promtool")?;
    let src = peers::prometheus_sources_or_skip()?;
    Some((promtool, src.join("cmd/promtool/testdata")))
}

#[test]
fn prometheus_rule_tests_match_promtool() {
    let Some((promtool, dir)) = promtool_testdata() else {
        return;
    };
    let problems = compare_all(&promtool, &dir, PROMETHEUS);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// `unittest.yml` without its native-histogram series and tests: everything else in it
/// must give promtool's output; as is, tocsin must name the histogram it cannot load.
#[test]
fn prometheus_unittest_without_native_histograms_matches_promtool() {
    let Some((promtool, dir)) = promtool_testdata() else {
        return;
    };
    let text = std::fs::read_to_string(dir.join("unittest.yml")).expect("unittest.yml");
    let stripped = without_histograms(&text).replace(
        "  - rules.yml",
        &format!("  - {}", dir.join("rules.yml").display()),
    );
    assert!(stripped.len() < text.len() && !stripped.contains("{{"));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("unittest.yml"), stripped).unwrap();
    let table: &[(&str, &[&str], Compare)] = &[("unittest.yml", &[], Same)];
    let problems = compare_all(&promtool, tmp.path(), table);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));

    let ours = run(&tocsin(), &["test", "rules"], &dir, "unittest.yml", &[]);
    assert_eq!(ours.code, Some(1));
    assert!(
        ours.stderr
            .contains("unittest.yml:20:17: input_series values")
            && ours.stderr.contains("native histogram"),
        "{}",
        ours.stderr
    );
}

/// Drops the YAML list items (series and expression tests) that mention a histogram:
/// an item starts at a `- ` line and runs to the next line as little indented.
fn without_histograms(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.trim_start().starts_with("- ") {
            let start = indent(l);
            let mut end = i + 1;
            while end < lines.len()
                && (lines[end].trim().is_empty() || indent(lines[end]) > start)
                && !(indent(lines[end]) == start && lines[end].trim_start().starts_with("- "))
            {
                end += 1;
            }
            let item = &lines[i..end];
            if !item.iter().any(|x| x.contains("histogram")) {
                out.extend_from_slice(item);
            }
            i = end;
        } else {
            out.push(l);
            i += 1;
        }
    }
    out.join("\n") + "\n"
}

#[test]
fn junit_reports_match_promtool_but_for_the_time() {
    let Some((promtool, dir)) = promtool_testdata() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut xml = Vec::new();
    let re = regex::Regex::new(r#"timestamp="[^"]*""#).unwrap();
    for (name, bin) in [("promtool", promtool), ("tocsin", tocsin())] {
        let path = tmp.path().join(format!("{name}.xml"));
        let status = Command::new(bin)
            .arg("test")
            .arg(format!("--junit={}", path.display()))
            .args([
                "rules",
                "failing.yml",
                "rules_run.yml",
                "no-test-group-interval.yml",
            ])
            .current_dir(&dir)
            .output()
            .unwrap()
            .status;
        assert_eq!(status.code(), Some(1), "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        xml.push(re.replace_all(&text, "timestamp=\"T\"").into_owned());
    }
    assert!(xml[0].contains("<failure>"), "{}", xml[0]);
    assert_eq!(xml[0], xml[1]);
}
