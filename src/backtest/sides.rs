//! The two rule sets a backtest compares: files and globs as `-rule` takes them, or
//! `git:REV:PATH`, a file as it was at a git revision (read with `git show`), so that a
//! pull request's check can compare the base branch's rules with its own.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use crate::cli::split_list;
use crate::config::{self, Group, LoadOptions};

/// Which rule set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    Old,
    New,
}

impl SideName {
    pub fn flag(self) -> &'static str {
        match self {
            SideName::Old => "--old",
            SideName::New => "--new",
        }
    }
}

impl std::fmt::Display for SideName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SideName::Old => "old",
            SideName::New => "new",
        })
    }
}

/// A side that could not be loaded: which one and why.
#[derive(Debug, thiserror::Error)]
#[error("the {side} rules ({}) cannot be loaded:\n{message}", side.flag())]
pub struct SideError {
    pub side: SideName,
    pub message: String,
}

/// One loaded side.
#[derive(Debug, Clone)]
pub struct Side {
    pub name: SideName,
    /// The sources as given (files, globs, `git:REV:PATH`).
    pub sources: Vec<String>,
    pub groups: Vec<Arc<Group>>,
}

impl Side {
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }
}

/// Loads a side from its sources; an error names the side, the source and the cause.
pub fn load(name: SideName, sources: &[String], opts: &LoadOptions) -> Result<Side, SideError> {
    let fail = |message: String| SideError {
        side: name,
        message,
    };
    let sources = split_list(sources);
    if sources.is_empty() {
        return Err(fail(format!("{} names no rule files", name.flag())));
    }
    let (git, files): (Vec<&String>, Vec<&String>) =
        sources.iter().partition(|s| s.starts_with("git:"));
    let mut groups = Vec::new();
    if !files.is_empty() {
        let files: Vec<String> = files.into_iter().cloned().collect();
        let set = config::load(&files, opts).map_err(|e| fail(e.to_string()))?;
        groups.extend(set.groups);
    }
    for source in git {
        let text = git_show(source).map_err(&fail)?;
        let loaded = config::load_str(Path::new(source), &text, opts).map_err(|errs| {
            fail(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        groups.extend(loaded);
    }
    Ok(Side {
        name,
        sources,
        groups,
    })
}

/// The text of `git:REV:PATH` (PATH relative to the repository's top, or `./PATH`
/// relative to the current directory, as `git show` takes them).
fn git_show(source: &str) -> Result<String, String> {
    let spec = source.trim_start_matches("git:");
    let Some((rev, path)) = spec.split_once(':') else {
        return Err(format!(
            "{source}: write git:REV:PATH, for example git:origin/main:rules/alerts.yml"
        ));
    };
    if rev.is_empty() || path.is_empty() {
        return Err(format!(
            "{source}: both the revision and the path are needed (git:REV:PATH)"
        ));
    }
    let out = Command::new("git")
        .args(["show", &format!("{rev}:{path}")])
        .output()
        .map_err(|e| format!("{source}: cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{source}: git show {rev}:{path} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{source}: the file is not UTF-8"))
}
