//! Parity of `tocsin check` with the real checkers: every file of the corpus under
//! tests/data/rules/ must be accepted or rejected by us exactly as promtool 2.42 and
//! 3.5 (valid/, invalid/) or vmalert 1.79.5 and 1.145 `-dryRun` (vmalert/) decide, and
//! the folder name must agree with all of them. utf8/ holds Prometheus 3's UTF-8 names,
//! which promtool 3.5 and vmalert accept and promtool 2.42 refused: 3.5 wins, and the
//! disagreement is asserted. Files using fields newer than those peers (tocsin/) are
//! checked against their folder only.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::peers::{peer_or_skip, sid_peer_or_skip};
use tocsin::check::{CheckOptions, check_rules};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rules")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("corpus folder {} missing: {e}", root.display()))
        .map(|e| e.expect("readable corpus folder").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus folder {dir}");
    files
}

fn ours_accepts(file: &Path) -> bool {
    let opts = CheckOptions {
        lint_duplicates: false,
        lint_all: None,
        ..CheckOptions::default()
    };
    let out = check_rules(&[file.display().to_string()], &opts);
    out.exit_code == 0
}

fn assert_parity(files: &[PathBuf], expect_valid: bool, theirs: impl Fn(&Path) -> bool) {
    let mut problems = Vec::new();
    for f in files {
        let (ours, peer) = (ours_accepts(f), theirs(f));
        if ours != expect_valid || peer != expect_valid {
            problems.push(format!(
                "{}: expected {}, tocsin {}, peer {}",
                f.display(),
                verdict(expect_valid),
                verdict(ours),
                verdict(peer)
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "valid" } else { "invalid" }
}

fn promtool_accepts(promtool: &Path, file: &Path) -> bool {
    Command::new(promtool)
        .args(["check", "rules"])
        .arg(file)
        .output()
        .expect("promtool runs")
        .status
        .success()
}

fn vmalert_accepts(vmalert: &Path, file: &Path) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    Command::new(vmalert)
        .arg("-dryRun")
        .arg(format!("-rule={}", file.display()))
        .current_dir(dir.path())
        .output()
        .expect("vmalert runs")
        .status
        .success()
}

#[test]
fn promtool_and_tocsin_agree_on_valid_files() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    assert_parity(&corpus("valid"), true, |f| promtool_accepts(&promtool, f));
}

#[test]
fn promtool_and_tocsin_agree_on_invalid_files() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    assert_parity(&corpus("invalid"), false, |f| {
        promtool_accepts(&promtool, f)
    });
}

#[test]
fn promtool_3_and_tocsin_agree_on_valid_and_invalid_files() {
    let Some(promtool) = sid_peer_or_skip("promtool") else {
        return;
    };
    assert_parity(&corpus("valid"), true, |f| promtool_accepts(&promtool, f));
    assert_parity(&corpus("invalid"), false, |f| {
        promtool_accepts(&promtool, f)
    });
    assert_parity(&corpus("templates_invalid"), false, |f| {
        promtool_accepts(&promtool, f)
    });
}

/// UTF-8 names: valid for promtool 3.5, vmalert 1.145 and tocsin; promtool 2.42 refused
/// every one of them (docs/rules.md says so).
#[test]
fn utf8_names_follow_promtool_3() {
    let (Some(promtool3), Some(vmalert)) =
        (sid_peer_or_skip("promtool"), sid_peer_or_skip("vmalert"))
    else {
        return;
    };
    let files = corpus("utf8");
    assert_parity(&files, true, |f| promtool_accepts(&promtool3, f));
    assert_parity(&files, true, |f| vmalert_accepts(&vmalert, f));
    let Some(promtool2) = peer_or_skip("promtool") else {
        return;
    };
    let accepted_by_2: Vec<_> = files
        .iter()
        .filter(|f| promtool_accepts(&promtool2, f))
        .collect();
    assert!(
        accepted_by_2.is_empty(),
        "promtool 2.42 accepts {accepted_by_2:?}: move them to valid/"
    );
}

fn vmalert_corpus_parity(vmalert: Option<PathBuf>) {
    let Some(vmalert) = vmalert else { return };
    assert_parity(&corpus("vmalert/valid"), true, |f| {
        vmalert_accepts(&vmalert, f)
    });
    assert_parity(&corpus("vmalert/invalid"), false, |f| {
        vmalert_accepts(&vmalert, f)
    });
}

#[test]
fn vmalert_1_145_and_tocsin_agree_on_vmalert_files() {
    vmalert_corpus_parity(sid_peer_or_skip("vmalert"));
}

#[test]
fn vmalert_and_tocsin_agree_on_vmalert_files() {
    vmalert_corpus_parity(peer_or_skip("vmalert"));
}

#[test]
fn newer_fields_follow_their_folder() {
    for f in corpus("tocsin/valid") {
        assert!(ours_accepts(&f), "{} should be valid", f.display());
    }
    for f in corpus("tocsin/invalid") {
        assert!(!ours_accepts(&f), "{} should be invalid", f.display());
    }
}

/// promtool rejects these broken templates at load time, and so must tocsin.
#[test]
fn promtool_and_tocsin_agree_on_broken_templates() {
    let Some(promtool) = peer_or_skip("promtool") else {
        return;
    };
    assert_parity(&corpus("templates_invalid"), false, |f| {
        promtool_accepts(&promtool, f)
    });
}

#[test]
fn corpus_is_large_enough() {
    let n = ["valid", "invalid", "vmalert/valid", "vmalert/invalid"]
        .iter()
        .map(|d| corpus(d).len())
        .sum::<usize>();
    assert!(n >= 40, "only {n} parity files");
}
