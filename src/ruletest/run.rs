//! Running test files: read and validate each, find its rule files, load them with the
//! production loader, run every test group (those `--run` selects) on a fresh store,
//! and print promtool's output.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::driver::{Backend, GroupRun, InputData};
use super::file::{self, TestFile, TestGroup};
use super::{format, junit};
use crate::config::{self, LoadOptions};

/// The engine a run uses: a fresh store per test group, and the series notation.
pub trait Engine {
    /// An empty store; subqueries without a step use `evaluation_interval`, as in
    /// promtool.
    fn new_backend(&self, evaluation_interval: Duration) -> Box<dyn Backend>;
    /// Expands one `input_series` entry (`series` and `values` in promtool's notation)
    /// with samples `interval` apart from time 0.
    fn parse_input(
        &self,
        series: &str,
        values: &str,
        interval: Duration,
    ) -> Result<InputData, InputError>;
    /// Input samples one test group may hold in all.
    fn max_input_samples(&self) -> usize;
}

/// A mistake in an `input_series` entry, at a column of its `series` or `values` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// In `values` (else in `series`).
    pub in_values: bool,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

/// promtool's `test rules` flags.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// `--run`: only test groups whose name matches one of these regular expressions.
    pub run: Vec<String>,
    /// `--junit`: also render a JUnit XML report.
    pub junit: bool,
    /// `--diff`: alert differences as a coloured JSON difference.
    pub diff: bool,
    /// `--debug`: say when each test group starts and ends, and dump its series.
    pub debug: bool,
    /// `--ignore-unknown-fields`: accept unknown fields in rule files.
    pub ignore_unknown_fields: bool,
}

/// Where the output goes, in the order promtool writes it (stdout and stderr
/// interleave, so a terminal shows them as promtool's would).
pub trait Sink {
    fn out(&mut self, text: &str);
    fn err(&mut self, text: &str);
}

/// The output kept in memory (for tests and callers that print it themselves).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    /// The JUnit XML report, when asked for.
    pub junit: Option<String>,
}

impl Sink for TestOutput {
    fn out(&mut self, text: &str) {
        self.stdout.push_str(text);
    }

    fn err(&mut self, text: &str) {
        self.stderr.push_str(text);
    }
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// 0 when every file passed, 1 otherwise (promtool's codes).
    pub exit_code: i32,
    /// The JUnit XML report, when asked for.
    pub junit: Option<String>,
}

/// Runs every file, writing promtool's output to `sink`.
pub fn test_rules(
    files: &[String],
    opts: &TestOptions,
    engine: &dyn Engine,
    sink: &mut dyn Sink,
) -> Summary {
    let mut summary = Summary::default();
    let run = match run_filter(&opts.run) {
        Ok(r) => r,
        Err(e) => {
            sink.err(&format!("invalid --run expression: {e}\n"));
            summary.exit_code = 1;
            return summary;
        }
    };
    let ctx = Ctx {
        opts,
        run: run.as_ref(),
        engine,
    };
    let mut suites = Vec::new();
    for f in files {
        let mut suite = junit::Suite::new(f);
        let errors = ctx.test_file(Path::new(f), &mut suite, sink);
        if errors.is_empty() {
            sink.out("  SUCCESS\n");
        } else {
            sink.err("  FAILED:\n");
            for e in &errors {
                sink.err(&format!("{e}\n"));
                sink.out("\n");
            }
            summary.exit_code = 1;
        }
        sink.out("\n");
        suites.push(suite);
    }
    if opts.junit {
        summary.junit = Some(junit::render(&suites));
    }
    summary
}

/// [`test_rules`] with the output kept in memory.
pub fn test_rules_captured(
    files: &[String],
    opts: &TestOptions,
    engine: &dyn Engine,
) -> TestOutput {
    let mut out = TestOutput::default();
    let s = test_rules(files, opts, engine, &mut out);
    out.exit_code = s.exit_code;
    out.junit = s.junit;
    out
}

/// What every file of a run shares.
struct Ctx<'a> {
    opts: &'a TestOptions,
    run: Option<&'a regex::Regex>,
    engine: &'a dyn Engine,
}

/// promtool joins the `--run` expressions with `|`.
fn run_filter(run: &[String]) -> Result<Option<regex::Regex>, regex::Error> {
    if run.is_empty() {
        return Ok(None);
    }
    regex::Regex::new(&run.join("|")).map(Some)
}

impl Ctx<'_> {
    /// Runs one file; returns its failure messages.
    fn test_file(&self, path: &Path, suite: &mut junit::Suite, sink: &mut dyn Sink) -> Vec<String> {
        suite.timestamp = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        let tf = match file::read(path) {
            Ok(f) => f,
            Err(errors) => {
                let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                suite.abort(&msgs.join("\n"));
                return msgs;
            }
        };
        let rules = match RuleFiles::load(&tf, self.opts.ignore_unknown_fields) {
            Ok(r) => r,
            Err(msgs) => {
                suite.abort(&msgs.join("\n"));
                return msgs;
            }
        };
        let mut errors = Vec::new();
        for (i, tg) in tf.tests.iter().enumerate() {
            if self.run.is_some_and(|r| !r.is_match(&tg.name)) {
                continue;
            }
            let case = if tg.name.is_empty() {
                format!("unnamed#{i}")
            } else {
                tg.name.clone()
            };
            let started = std::time::Instant::now();
            if self.opts.debug {
                sink.out(&format!("DEBUG: Starting test {case}\n"));
            }
            suite.case(case.clone());
            for e in self.test_group(&tf, tg, &rules, sink) {
                suite.fail(&e);
                errors.push(e);
            }
            if self.opts.debug {
                let took = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
                let took = crate::template::format_go_duration(took);
                sink.out(&format!("DEBUG: Test {case} finished, took {took}\n"));
            }
        }
        errors
    }
}

/// The rule files of a test file, loaded once and shared by its test groups. A rule
/// file that does not load fails every test group, as in promtool (which loads them
/// for each group).
struct RuleFiles {
    groups: Result<Vec<Arc<config::Group>>, Vec<String>>,
}

impl RuleFiles {
    /// Resolves `rule_files` against the test file's directory and expands globs. An
    /// entry that matches nothing is an error here (promtool only warns and runs the
    /// tests without those rules, which hides a typo behind failing or, worse, passing
    /// tests).
    fn load(tf: &TestFile, ignore_unknown_fields: bool) -> Result<RuleFiles, Vec<String>> {
        let dir = tf.path.parent().unwrap_or(Path::new(""));
        let mut paths: Vec<PathBuf> = Vec::new();
        let mut missing = Vec::new();
        for rf in &tf.rule_files {
            let p = if rf.value.is_empty() || Path::new(&rf.value).is_absolute() {
                PathBuf::from(&rf.value)
            } else {
                dir.join(&rf.value)
            };
            let pattern = p.to_string_lossy().to_string();
            let (found, _) = config::expand_patterns(std::slice::from_ref(&pattern));
            let found: Vec<PathBuf> = found.into_iter().filter(|f| f.is_file()).collect();
            if found.is_empty() {
                missing.push(format!(
                    "{}:{}:{}: rule_files: no file matches {:?} (looked for {pattern:?}); \
                     paths are relative to the test file's directory",
                    tf.path.display(),
                    rf.line,
                    rf.col,
                    rf.value
                ));
            }
            paths.extend(found);
        }
        if !missing.is_empty() {
            return Err(missing);
        }
        let mut groups = Vec::new();
        let mut errors = Vec::new();
        for p in &paths {
            let opts = LoadOptions {
                ignore_unknown_fields,
                ..LoadOptions::default()
            };
            match config::load_file(p, &opts) {
                Ok(g) => groups.extend(g),
                Err(es) => errors.extend(es.iter().map(|e| e.to_string())),
            }
        }
        let groups = if errors.is_empty() {
            Ok(ordered(groups, &tf.group_eval_order))
        } else {
            Err(errors)
        };
        Ok(RuleFiles { groups })
    }
}

/// Groups in `group_eval_order`: listed groups by their position, the others (in file
/// order) where promtool puts them, with the first listed one.
fn ordered(mut groups: Vec<Arc<config::Group>>, order: &[String]) -> Vec<Arc<config::Group>> {
    groups.sort_by_key(|g| order.iter().position(|n| *n == g.name).unwrap_or(0));
    groups
}

impl Ctx<'_> {
    /// Runs one test group on a fresh store; returns its failure messages.
    fn test_group(
        &self,
        tf: &TestFile,
        tg: &TestGroup,
        rules: &RuleFiles,
        sink: &mut dyn Sink,
    ) -> Vec<String> {
        if let Some(p) = &tg.problem {
            return vec![p.clone()];
        }
        let groups = match &rules.groups {
            Ok(g) => g,
            Err(errors) => return errors.clone(),
        };
        let input = match input_data(tf, tg, self.engine) {
            Ok(i) => i,
            Err(e) => return vec![e],
        };
        let mut backend = self.engine.new_backend(tf.evaluation_interval);
        let run = GroupRun {
            test: tg,
            flavour: tf.flavour,
            evaluation_interval: tf.evaluation_interval,
            groups,
            fuzzy_compare: tf.fuzzy_compare,
            diff: self.opts.diff,
        };
        let outcome = run.run(backend.as_mut(), input);
        if self.opts.debug && outcome.completed {
            sink.out(&debug_dump(backend.as_ref(), run.max_eval_time()));
        }
        outcome.errors
    }
}

/// promtool's `--debug` dump: every series stored, with its samples up to the largest
/// `eval_time` (rounded up to the next second).
fn debug_dump(backend: &dyn Backend, max_eval_ms: i64) -> String {
    let t = (max_eval_ms + 1000) / 1000 * 1000;
    let range = format::go_duration(t);
    match backend.dump(t) {
        Ok(series) => format!(
            "DEBUG: Dump of all data (input_series and rules) at {range}:\n{}\n",
            format::matrix(&series)
        ),
        Err(e) => format!(
            "DEBUG: Failed querying, expr: {}, err: {e}\n",
            format::quote(&format!("{{__name__=~\".+\"}}[{range}]"))
        ),
    }
}

/// Expands the group's input series; the first mistake, with the file, line and column
/// it is at, or a group whose input would not fit the limit, is an error.
fn input_data(
    tf: &TestFile,
    tg: &TestGroup,
    engine: &dyn Engine,
) -> Result<Vec<InputData>, String> {
    let mut input = Vec::with_capacity(tg.input_series.len());
    let mut total = 0usize;
    for s in &tg.input_series {
        let d = engine
            .parse_input(&s.series.value, &s.values.value, tg.interval)
            .map_err(|e| {
                let (field, at) = if e.in_values {
                    ("values", &s.values)
                } else {
                    ("series", &s.series)
                };
                format!(
                    "{}:{}:{}: input_series {field} {}, column {}: {}",
                    tf.path.display(),
                    at.line,
                    at.col,
                    format::quote(&at.value),
                    e.column,
                    e.message
                )
            })?;
        total = total.saturating_add(d.samples.len());
        if total > engine.max_input_samples() {
            return Err(format!(
                "{}:{}:{}: input_series: the test group's series expand to more than {} \
                 samples; use fewer or shorter series (or a longer interval)",
                tf.path.display(),
                s.values.line,
                s.values.col,
                engine.max_input_samples()
            ));
        }
        input.push(d);
    }
    Ok(input)
}
