//! `tocsin check FILE...`: promtool's `check rules`, as a library function so the CLI
//! only prints what it returns and tests can assert on the exact text.
//!
//! Output follows promtool's shape so scripts that read it keep working: `Checking F` on
//! stdout, then `  SUCCESS: N rules found` (stdout) or `  FAILED:` and one line per
//! problem (stderr), then an empty line. The exit code is 0 when every file is valid and
//! 1 otherwise; with `lint_fatal`, 3 when files are valid but the lint found something
//! (promtool's `--lint-fatal`). Unlike promtool, every argument may also be a glob.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{self, Group, LoadOptions, RuleKind};
use crate::lint::{self, CHECKS, LintFile, LintOptions};

/// What `tocsin check` prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// How `tocsin check` checks, mirroring promtool's `check rules` flags.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Expression and template checks (vmalert's `-rule.validate*` flags).
    pub load: LoadOptions,
    /// promtool `--lint=duplicate-rules` (its default): warn about repeated rules.
    pub lint_duplicates: bool,
    /// Warn (unless `--lint=none`): warn about tocsin's rule-file extensions, which neither
    /// Prometheus nor vmalert loads (with `lint_all`, its check `rule/extensions` does).
    pub lint_extensions: bool,
    /// `--lint` (`--lint=all`): every check of [`crate::lint`], over all files at once.
    pub lint_all: Option<LintOptions>,
    /// promtool `--lint-fatal`: lint findings make the exit code 3.
    pub lint_fatal: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            load: LoadOptions::default(),
            lint_duplicates: true,
            lint_extensions: true,
            lint_all: None,
            lint_fatal: false,
        }
    }
}

/// Exit code when the only problems are lint findings and `lint_fatal` is set.
pub const LINT_EXIT_CODE: i32 = 3;

/// Checks each file (or glob) independently and reports per file, as promtool does.
pub fn check_rules(args: &[String], opts: &CheckOptions) -> CheckOutput {
    let mut out = CheckOutput {
        stdout: String::new(),
        stderr: String::new(),
        exit_code: 0,
    };
    let mut lint_found = false;
    let mut loaded = Vec::new();
    for arg in args {
        let (files, errors) = config::expand_patterns(std::slice::from_ref(arg));
        if !errors.is_empty() {
            let shown = crate::http::redact_url(arg);
            let _ = writeln!(out.stdout, "Checking {shown}");
            out.stderr.push_str("  FAILED:\n");
            for e in errors {
                let _ = writeln!(out.stderr, "{e}");
            }
            out.stdout.push('\n');
            out.exit_code = 1;
        }
        for file in files {
            let (found, groups) = check_file(&file, opts, &mut out);
            lint_found |= found;
            loaded.extend(groups.map(|g| (config::remote::shown_path(&file), g)));
        }
    }
    if let Some(lint_opts) = &opts.lint_all {
        lint_found |= lint_all(loaded, lint_opts, &mut out);
    }
    if lint_found && opts.lint_fatal && out.exit_code == 0 {
        out.exit_code = LINT_EXIT_CODE;
    }
    out
}

/// Runs every check of [`crate::lint`] over the files that loaded; prints the findings
/// and, once per check found, its explanation. Returns whether it found something.
fn lint_all(
    loaded: Vec<(PathBuf, Vec<Arc<Group>>)>,
    opts: &LintOptions,
    out: &mut CheckOutput,
) -> bool {
    let files: Vec<LintFile> = loaded
        .into_iter()
        .map(|(path, groups)| {
            // Read again for positions and comments; a file that vanished meanwhile
            // is still checked, only without them.
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            LintFile::new(path, &text, groups)
        })
        .collect();
    let mut findings = lint::lint(&files, opts);
    if let Some(ds) = &opts.datasource {
        match series_findings(&files, ds) {
            Ok(more) => {
                findings.extend(more.findings);
                lint::sort(&files, &mut findings);
                if let Some(s) = more.stopped {
                    let _ = writeln!(
                        out.stderr,
                        "  FAILED: the datasource checks stopped: {} after {} failed queries in a row; the rules from {} on were not checked against it (the findings below stand)",
                        s.error,
                        lint::series::DOWN_AFTER,
                        s.at
                    );
                    out.exit_code = 1;
                }
            }
            Err(e) => {
                let _ = writeln!(out.stderr, "  FAILED: the datasource checks: {e}");
                out.exit_code = 1;
            }
        }
    }
    let unknown = lint::unknown_directives(&files);
    for u in &unknown {
        let _ = writeln!(out.stderr, "{u}");
    }
    if findings.is_empty() {
        return !unknown.is_empty();
    }
    let errors = findings
        .iter()
        .filter(|f| f.check.severity == lint::Severity::Error)
        .count();
    let _ = writeln!(
        out.stderr,
        "Lint: {} finding(s), {errors} error(s) and {} warning(s)",
        findings.len(),
        findings.len() - errors
    );
    for f in &findings {
        let _ = writeln!(out.stderr, "{f}");
    }
    out.stderr.push_str("\nAbout these checks (silence one for a rule with a comment `# tocsin disable ID` in or above it):\n");
    for c in CHECKS
        .iter()
        .filter(|c| findings.iter().any(|f| f.check.id == c.id))
    {
        let _ = writeln!(out.stderr, "  {} ({}): {}", c.id, c.severity, c.explanation);
    }
    true
}

/// The datasource checks, on a runtime of their own (`tocsin check` is synchronous).
fn series_findings(
    files: &[LintFile],
    ds: &lint::DatasourceLint,
) -> Result<lint::DatasourceFindings, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let now_ms = crate::clock::Clock::System.now_ms();
    Ok(rt.block_on(lint::datasource_checks(files, ds, now_ms)))
}

/// Checks one file; returns whether the lint found something, and the groups when the
/// file is valid.
fn check_file(
    file: &Path,
    opts: &CheckOptions,
    out: &mut CheckOutput,
) -> (bool, Option<Vec<Arc<Group>>>) {
    let shown = config::remote::shown_path(file);
    let _ = writeln!(out.stdout, "Checking {}", shown.display());
    let mut lint_found = false;
    let mut loaded = None;
    match config::load_file(file, &opts.load) {
        Ok(groups) => {
            let n: usize = groups.iter().map(|g| g.rules.len()).sum();
            let _ = writeln!(out.stdout, "  SUCCESS: {n} rules found");
            if opts.lint_duplicates {
                let dups = duplicates(&groups);
                lint_found = !dups.is_empty();
                if lint_found {
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
                            shown.display(),
                            r.line,
                            g.name,
                            r.index + 1,
                            r.name()
                        );
                    }
                }
            }
            // With `--lint`, the check `rule/extensions` reports them, per rule and
            // silenceable like every check.
            if opts.lint_extensions && opts.lint_all.is_none() {
                lint_found |= extensions(&shown, &groups, out);
            }
            loaded = Some(groups);
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
    (lint_found, loaded)
}

/// Warns about each rule that uses tocsin's extensions; returns whether any does.
fn extensions(file: &Path, groups: &[Arc<Group>], out: &mut CheckOutput) -> bool {
    let mut found = Vec::new();
    for g in groups {
        for r in &g.rules {
            if let RuleKind::Alerting(a) = &r.kind
                && !a.ext.keys().is_empty()
            {
                found.push((g, r, a.ext.keys()));
            }
        }
    }
    if found.is_empty() {
        return false;
    }
    let _ = writeln!(
        out.stderr,
        "  WARNING: {} rule(s) use tocsin extensions: this file loads in tocsin only, not in \
         Prometheus or vmalert (see docs/rules.md)",
        found.len()
    );
    for (g, r, keys) in found {
        let _ = writeln!(
            out.stderr,
            "{}:{}: group {:?}, rule {}, {:?}: uses {}",
            file.display(),
            r.line,
            g.name,
            r.index + 1,
            r.name(),
            keys.join(", ")
        );
    }
    true
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
            if !seen.insert((is_alert, r.name(), r.sorted_labels())) {
                dups.push((&**g, &**r));
            }
        }
    }
    dups
}
