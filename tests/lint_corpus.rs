//! `tocsin check --lint`: a corpus of rule files under tests/data/lint/ whose comments
//! `# expect CHECK` say which finding each line must get; every other line (the
//! look-alikes) must get none. The example rules of `rules/` must be clean.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use tocsin::config::{self, LoadOptions};
use tocsin::lint::{self, CHECKS, LintFile, LintOptions};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lint");

/// (file name, line, check id), with multiplicity.
type Found = Vec<(String, usize, String)>;

fn lint_files(paths: &[PathBuf]) -> Found {
    let files: Vec<LintFile> = paths
        .iter()
        .map(|p| {
            let groups = config::load_file(p, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{} loads: {e:?}", p.display()));
            let text = std::fs::read_to_string(p).expect("readable");
            LintFile::new(p.clone(), &text, groups)
        })
        .collect();
    let mut found: Found = lint::lint(&files, &LintOptions::default())
        .into_iter()
        .map(|f| (name(&f.file), f.line, f.check.id.to_string()))
        .collect();
    found.sort();
    found
}

fn expected(paths: &[PathBuf]) -> Found {
    let mut want = Found::new();
    for p in paths {
        let text = std::fs::read_to_string(p).expect("readable");
        for (i, l) in text.lines().enumerate() {
            if let Some((_, ids)) = l.split_once("# expect ") {
                for id in ids.split(',') {
                    want.push((name(p), i + 1, id.trim().to_string()));
                }
            }
        }
    }
    want.sort();
    want
}

fn name(p: &Path) -> String {
    p.strip_prefix(CORPUS).unwrap_or(p).display().to_string()
}

fn yml_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_file_of_the_corpus_gets_exactly_its_expected_findings() {
    let mut covered = BTreeSet::new();
    let mut sets: Vec<Vec<PathBuf>> = yml_in(Path::new(CORPUS))
        .into_iter()
        .map(|p| vec![p])
        .collect();
    sets.push(yml_in(&Path::new(CORPUS).join("cross")));
    for set in sets {
        let want = expected(&set);
        assert_eq!(lint_files(&set), want, "findings of {set:?}");
        covered.extend(want.into_iter().map(|(_, _, id)| id));
    }
    let all: BTreeSet<String> = CHECKS
        .iter()
        .filter(|c| !c.needs_datasource)
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(
        covered, all,
        "every static check has true positives in the corpus"
    );
}

#[test]
fn the_example_rules_are_clean() {
    let rules = yml_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"));
    assert!(!rules.is_empty());
    assert_eq!(lint_files(&rules), Found::new());
}

fn tocsin_check(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("check")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_prints_findings_with_position_group_and_rule_and_lint_fatal_fails() {
    let file = format!("{CORPUS}/keep-firing-for.yml");
    let (code, stdout, stderr) = tocsin_check(&["--lint", &file]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("SUCCESS: 3 rules found"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "{file}:7:9: group \"keep-firing-for\", rule 1, \"NoFor\": warning [alerts/keep-firing-for]: `keep_firing_for: 10m` without `for`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("alerts/keep-firing-for (warning): `keep_firing_for` without `for`"),
        "{stderr}"
    );
    let (code, _, _) = tocsin_check(&["--lint", "--lint-fatal", &file]);
    assert_eq!(code, 3);
    // promtool's default lint (duplicates in a file) does not run these checks.
    let (code, _, stderr) = tocsin_check(&["--lint-fatal", &file]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    // The interval of groups without one comes from --evaluationInterval.
    let (_, _, stderr) = tocsin_check(&[
        "--lint",
        "--evaluationInterval=5m",
        &format!("{CORPUS}/for.yml"),
    ]);
    assert!(
        stderr.contains("`for: 2m` is shorter than the group interval 5m"),
        "{stderr}"
    );
}

#[test]
fn a_flapping_window_shorter_than_evaluation_interval_fails_the_check() {
    // No `interval` in the group: it runs at -evaluationInterval, which `tocsin check`
    // takes as the server does.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("r.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        flapping: {changes: 3, within: 2m}\n",
    )
    .expect("write");
    let file = file.display().to_string();
    let (code, _, stderr) = tocsin_check(&["--evaluationInterval=5m", &file]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}:6:40: group \"g\", rule 1, \"A\": `flapping` window 2m is too short: it must be non-zero and at least -evaluationInterval (5m; the group sets no interval)"
        )),
        "{stderr}"
    );
    // At the default 1m, two minutes hold two evaluations.
    let (code, _, stderr) = tocsin_check(&[&file]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_misspelt_check_in_a_silencing_comment_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("r.yml");
    std::fs::write(
        &file,
        "groups:\n  - name: g\n    rules:\n      - alert: A # tocsin disable alerts/keep-firing, alerts\n        expr: up == 0\n        keep_firing_for: 5m\n",
    )
    .expect("write");
    let file = file.display().to_string();
    let (code, _, stderr) = tocsin_check(&["--lint", "--lint-fatal", &file]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}:4:18: unknown check \"alerts/keep-firing\" in a `# tocsin disable` comment"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("[alerts/"),
        "the family `alerts` still silences: {stderr}"
    );
}

#[test]
fn docs_list_every_check_with_its_severity() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/lint.md"))
        .expect("docs/lint.md");
    for c in CHECKS {
        let row = format!("| `{}` | {} |", c.id, c.severity);
        assert!(
            doc.contains(&row),
            "docs/lint.md lacks the row starting {row:?}"
        );
    }
}

#[test]
fn with_lint_the_extensions_warning_is_a_check_per_rule() {
    let file = format!("{CORPUS}/extensions.yml");
    let (code, _, stderr) = tocsin_check(&["--lint", &file]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{file}:8:9: group \"extensions\", rule 1, \"Hysteresis\": warning [rule/extensions]: uses tocsin's extensions recover_expr, no_data: this file loads in tocsin only, not in Prometheus or vmalert"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("rule/extensions (warning): The rule uses tocsin's rule-file extensions"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("\"Silenced\""),
        "silenced by its comment: {stderr}"
    );
    // Without --lint, one warning for the file, as before.
    let (code, _, stderr) = tocsin_check(&[&file]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("WARNING: 4 rule(s) use tocsin extensions")
            && !stderr.contains("[rule/extensions]"),
        "{stderr}"
    );
    let (code, _, _) = tocsin_check(&["--lint", "--lint-fatal", &file]);
    assert_eq!(code, 3);
}
