//! Loading: expand `-rule` patterns, read each file, substitute `%{ENV}`, parse YAML into
//! the raw layer, validate, and build the immutable [`RuleSet`]. All-or-nothing: any
//! problem anywhere means an error listing every problem and no rule set.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::context::locate;
use super::env::substitute_env;
use super::error::{ErrorKind, LoadError, LoadErrors, RuleRef};
use super::model::{Group, RuleSet};
use super::raw::RawFile;
use super::remote;
use super::validate::validate_file;

/// Switches that loosen validation, mirroring vmalert's flags.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `-rule.validateExpressions`: parse every `expr` as PromQL. Off for MetricsQL users,
    /// whose expressions the PromQL parser would reject.
    pub validate_expressions: bool,
    /// `-rule.validateTemplates`: reject label and annotation templates that do not
    /// compile. When off, such a template is kept as literal text.
    pub validate_templates: bool,
    /// promtool's `--ignore-unknown-fields`: accept keys tocsin does not know (files
    /// extended with metadata of other tools) instead of rejecting the file.
    pub ignore_unknown_fields: bool,
    /// `-rule.defaultRuleType`: the `type` of groups that set none. tocsin evaluates
    /// `prometheus` only; another default fails the groups that rely on it.
    pub default_rule_type: String,
    /// `-rule.stripFilePath`: show a group's file as `<group id>/<file name>` in logs,
    /// the API and `/metrics` ([`Group::shown_file`]), hiding its directories.
    pub strip_file_path: bool,
    /// How long fetching an `http(s)://` rule source may take.
    pub fetch_timeout: std::time::Duration,
    /// `-evaluationInterval`: the interval of groups that set none, for the checks that
    /// compare a duration with the group's interval (`flapping`'s window). `None`: not
    /// known, and those checks see only a group's own `interval`.
    pub default_interval: Option<std::time::Duration>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            validate_expressions: true,
            validate_templates: true,
            ignore_unknown_fields: false,
            default_rule_type: "prometheus".to_string(),
            strip_file_path: false,
            fetch_timeout: remote::FETCH_TIMEOUT,
            default_interval: None,
        }
    }
}

/// Loads and validates every file the patterns name. Patterns are paths or globs
/// (`*`, `?`, `[..]`, and `**` for any depth), or `http(s)://` URLs fetched now (see
/// [`remote`]); a glob that matches nothing is an error naming it, as is a plain path
/// that does not exist.
pub fn load(patterns: &[String], opts: &LoadOptions) -> Result<RuleSet, LoadErrors> {
    let (files, mut errors) = expand_patterns(patterns);
    let mut groups = Vec::new();
    for f in &files {
        match load_file(f, opts) {
            Ok(g) => groups.extend(g),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(LoadErrors(errors));
    }
    Ok(RuleSet { groups, files })
}

fn has_glob_meta(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Expands patterns to files in order (pattern order, then sorted glob order), without
/// duplicates; returns the files found and one error per pattern that found none.
pub fn expand_patterns(patterns: &[String]) -> (Vec<PathBuf>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    let pattern_error = |kind| LoadError {
        file: None,
        line: 0,
        col: 0,
        group: None,
        rule: None,
        kind,
    };
    for pattern in patterns {
        if !has_glob_meta(pattern) || remote::is_url(pattern) {
            let p = PathBuf::from(pattern);
            if seen.insert(p.clone()) {
                files.push(p);
            }
            continue;
        }
        let paths = match glob::glob(pattern) {
            Ok(p) => p,
            Err(e) => {
                errors.push(pattern_error(ErrorKind::BadPattern {
                    pattern: pattern.clone(),
                    message: e.msg.to_string(),
                }));
                continue;
            }
        };
        let mut matched = 0;
        for entry in paths {
            match entry {
                Ok(p) if p.is_dir() => {}
                Ok(p) => {
                    matched += 1;
                    if seen.insert(p.clone()) {
                        files.push(p);
                    }
                }
                Err(e) => {
                    let path = e.path().to_path_buf();
                    errors.push(LoadError::file(&path, ErrorKind::Io(e.error().to_string())));
                }
            }
        }
        if matched == 0 {
            errors.push(pattern_error(ErrorKind::NoMatch(pattern.clone())));
        }
    }
    (files, errors)
}

/// A fingerprint of what `load(patterns)` would read: the expanded file list and every
/// file's bytes. Reloads compare it with the last successful load's and skip parsing
/// when nothing changed (a no-op reload of 10,000 rules then costs a read and a hash,
/// not a YAML parse). `None` when something cannot be read: the caller then loads for
/// real and reports the error.
pub fn sources_fingerprint(patterns: &[String]) -> Option<u64> {
    let (files, errors) = expand_patterns(patterns);
    if !errors.is_empty() {
        return None;
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for f in &files {
        let bytes = match f.to_str().filter(|p| remote::is_url(p)) {
            Some(url) => remote::fetch_text(url, remote::FETCH_TIMEOUT)
                .ok()?
                .into_bytes(),
            None => std::fs::read(f).ok()?,
        };
        h.update(f.as_os_str().as_encoded_bytes());
        h.update(&[0xff]);
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Some(h.digest())
}

/// Reads and validates one file; every problem in it is returned.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Vec<Arc<Group>>, Vec<LoadError>> {
    if let Some(url) = path.to_str().filter(|p| remote::is_url(p)) {
        let shown = remote::shown_path(path);
        let text = remote::fetch_text(url, opts.fetch_timeout)
            .map_err(|m| vec![LoadError::file(&shown, ErrorKind::Fetch(m))])?;
        return load_str(&shown, &text, opts);
    }
    let bytes = std::fs::read(path).map_err(|e| vec![LoadError::file(path, io_kind(&e))])?;
    let text =
        String::from_utf8(bytes).map_err(|_| vec![LoadError::file(path, ErrorKind::NotUtf8)])?;
    load_str(path, &text, opts)
}

fn io_kind(e: &std::io::Error) -> ErrorKind {
    let msg = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (check the file's owner and mode)".to_string()
        }
        std::io::ErrorKind::IsADirectory => "it is a directory; name files, or use a glob".into(),
        _ => e.to_string(),
    };
    ErrorKind::Io(msg)
}

/// Validates rule-file text as if read from `path` (used by tests and by callers that
/// hold the text already).
pub fn load_str(
    path: &Path,
    text: &str,
    opts: &LoadOptions,
) -> Result<Vec<Arc<Group>>, Vec<LoadError>> {
    let text = substitute_env(text).map_err(|(line, col, name)| {
        vec![LoadError {
            line,
            col,
            ..LoadError::file(path, ErrorKind::MissingEnv(name))
        }]
    })?;
    let raw = parse_yaml(&text).map_err(|e| vec![yaml_error(path, &text, e)])?;
    let mut errors = Vec::new();
    let groups = validate_file(path, raw, opts, &mut errors);
    // File order reads best; the sort is stable, so one line keeps its check order.
    errors.sort_by_key(|e| e.line);
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(errors)
    }
}

pub(crate) fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // Large generated rule files are legitimate; nesting deeper than 64 never is.
    budget.max_events = 100_000_000;
    budget.max_nodes = 50_000_000;
    budget.max_total_scalar_bytes = 512 * 1024 * 1024;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.with_snippet = false;
    o
}

/// Parses every YAML document of the file (vmalert allows several) into one raw file.
fn parse_yaml(text: &str) -> Result<RawFile, serde_saphyr::Error> {
    let docs: Vec<Option<RawFile>> =
        serde_saphyr::from_str_multiple_with_options(text, yaml_options())?;
    let mut out = RawFile::default();
    for doc in docs.into_iter().flatten() {
        out.unknown.extend(doc.unknown);
        if let Some(g) = doc.groups {
            out.groups.get_or_insert_with(Vec::new).extend(g);
        }
    }
    Ok(out)
}

fn yaml_error(path: &Path, text: &str, e: serde_saphyr::Error) -> LoadError {
    let (line, col, msg) = yaml_problem(&e, "a rule file needs 6");
    let msg = match msg.as_str() {
        "expected a mapping (key: value) here" if line == 1 && col == 1 => {
            "the top level must be a mapping with a `groups:` list".to_string()
        }
        _ => msg,
    };
    let ctx = (line > 0).then(|| locate(text, line)).flatten();
    LoadError {
        line,
        col,
        group: ctx.as_ref().map(|c| c.group.clone()),
        rule: ctx
            .and_then(|c| c.rule)
            .map(|(index, name)| RuleRef { index, name }),
        ..LoadError::file(path, ErrorKind::Yaml(msg))
    }
}

/// A YAML error's position and a one-line message that says what was expected, without
/// the library's own copy of the position. `depth_note` says how deep a valid file of
/// this kind nests (for the "nested too deeply" message).
pub(crate) fn yaml_problem(e: &serde_saphyr::Error, depth_note: &str) -> (usize, usize, String) {
    let (line, col) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((0, 0));
    let full = e.without_snippet().to_string();
    let first = full.lines().next().unwrap_or_default();
    let msg = first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_string();
    let msg = match msg.as_str() {
        "expected sequence start" => "expected a list here".to_string(),
        "expected mapping start" => "expected a mapping (key: value) here".to_string(),
        "expected string scalar" => "expected a string here".to_string(),
        m if m.starts_with("budget breached: Depth") || m.contains("recursion limit") => {
            format!("nested too deeply (over 64 levels; {depth_note})")
        }
        m if m.starts_with("budget breached") => format!("file too large or complex: {m}"),
        m if m.starts_with("duplicate mapping key") => {
            let key = m.split(": ").nth(1).unwrap_or_default();
            let key = key.split(',').next().unwrap_or_default();
            format!("key {key:?} appears twice in the same mapping; keep one")
        }
        _ => msg,
    };
    (line, col, msg)
}
