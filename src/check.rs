//! `tocsin check FILE...`: promtool's `check rules`, as a library function so the CLI
//! only prints what it returns and tests can assert on the exact text.
//!
//! Output follows promtool's shape so scripts that read it keep working: `Checking F` on
//! stdout, then `  SUCCESS: N rules found` (stdout) or `  FAILED:` and one line per
//! problem (stderr), then an empty line. The exit code is 0 when every file is valid and
//! 1 otherwise. Unlike promtool, every argument may also be a glob.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::config::{self, Group, LoadOptions, RuleKind};

/// What `tocsin check` prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// Checks each file (or glob) independently and reports per file, as promtool does.
/// `lint_duplicates` enables promtool's duplicate-rules lint: a warning, not a failure.
pub fn check_rules(args: &[String], opts: &LoadOptions, lint_duplicates: bool) -> CheckOutput {
    let mut out = CheckOutput {
        stdout: String::new(),
        stderr: String::new(),
        exit_code: 0,
    };
    for arg in args {
        let (files, errors) = config::expand_patterns(std::slice::from_ref(arg));
        if !errors.is_empty() {
            let _ = writeln!(out.stdout, "Checking {arg}");
            out.stderr.push_str("  FAILED:\n");
            for e in errors {
                let _ = writeln!(out.stderr, "{e}");
            }
            out.stdout.push('\n');
            out.exit_code = 1;
        }
        for file in files {
            check_file(&file, opts, lint_duplicates, &mut out);
        }
    }
    out
}

fn check_file(file: &Path, opts: &LoadOptions, lint: bool, out: &mut CheckOutput) {
    let _ = writeln!(out.stdout, "Checking {}", file.display());
    match config::load_file(file, opts) {
        Ok(groups) => {
            let n: usize = groups.iter().map(|g| g.rules.len()).sum();
            let _ = writeln!(out.stdout, "  SUCCESS: {n} rules found");
            if lint {
                let dups = duplicates(&groups);
                if !dups.is_empty() {
                    let _ = writeln!(
                        out.stderr,
                        "  WARNING: {} duplicate rule(s) found: same name and labels, so they \
                         write the same series or alerts; remove or relabel one of each pair",
                        dups.len()
                    );
                    for (g, r) in dups {
                        let _ = writeln!(
                            out.stderr,
                            "{}:{}: group {:?}, rule {}, {:?}: duplicate rule",
                            file.display(),
                            r.line,
                            g.name,
                            r.index + 1,
                            r.name()
                        );
                    }
                }
            }
        }
        Err(errors) => {
            out.stderr.push_str("  FAILED:\n");
            for e in errors {
                let _ = writeln!(out.stderr, "{e}");
            }
            out.exit_code = 1;
        }
    }
    out.stdout.push('\n');
}

/// What makes two rules duplicates: kind (alerting?), name and sorted labels.
type RuleIdentity<'a> = (bool, &'a str, Vec<(&'a str, &'a str)>);

/// Rules of the file that repeat an earlier rule's kind, name and labels.
fn duplicates(groups: &[Arc<Group>]) -> Vec<(&Group, &config::Rule)> {
    let mut seen: HashSet<RuleIdentity<'_>> = HashSet::new();
    let mut dups = Vec::new();
    for g in groups {
        for r in &g.rules {
            let is_alert = matches!(r.kind, RuleKind::Alerting(_));
            let mut labels: Vec<(&str, &str)> = r
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.source()))
                .collect();
            labels.sort_unstable();
            if !seen.insert((is_alert, r.name(), labels)) {
                dups.push((&**g, r));
            }
        }
    }
    dups
}
