//! The subcommands' arguments: check, replay, backtest, test.

use super::*;

/// `tocsin backtest`: the old and new rule sets compared over the past.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The rules before the change: files, globs, comma-separated lists of them, or
    /// `git:REV:PATH` (the file as it is at a git revision, read with `git show`).
    #[arg(long = "old", required = true, num_args = 1.., value_name = "RULES")]
    pub old: Vec<String>,
    /// The rules after the change (the same forms as `--old`).
    #[arg(long = "new", required = true, num_args = 1.., value_name = "RULES")]
    pub new: Vec<String>,
    /// Start of the range: RFC 3339, unix seconds, or relative to now (`-7d`).
    #[arg(
        long = "from",
        required = true,
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub from: String,
    /// End of the range (same forms as `--from`); defaults to now.
    #[arg(long = "to", allow_hyphen_values = true, value_name = "TIME")]
    pub to: Option<String>,
    /// Output: a text table, JSON, or Markdown for a pull-request comment.
    #[arg(long = "format", default_value = "table", value_parser = ["table", "json", "markdown"])]
    pub format: String,
    /// Fail (exit code 10 + the threshold's position) when a rule crosses this
    /// threshold, as `METRIC OP NUMBER`: `'new_pages_per_day > 5'`. Repeatable.
    #[arg(long = "fail-on", value_name = "THRESHOLD")]
    pub fail_on: Vec<String>,
    #[command(flatten)]
    pub run: RunFlags,
}

/// `tocsin test`: promtool's `test` command.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Also write the results as JUnit XML to this file (promtool's `--junit`).
    #[arg(long = "junit", value_name = "FILE", global = true)]
    pub junit: Option<String>,
    #[command(subcommand)]
    pub command: TestCommand,
}

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run rule unit tests written for `promtool test rules` (or vmalert-tool's
    /// `unittest`) on tocsin's own rule evaluation and in-process PromQL engine: exit 0
    /// when every test passes, 1 if not.
    Rules(TestRulesArgs),
}

/// `tocsin test rules FILE...`, with promtool's flags.
#[derive(Debug, Args)]
pub struct TestRulesArgs {
    /// Unit-test files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Only run test groups whose `name` matches this regular expression.
    #[arg(long = "run", value_name = "REGEX")]
    pub run: Vec<String>,
    /// Print failed alert checks as a coloured JSON difference of expected and got.
    #[arg(long = "diff", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub diff: bool,
    /// Print when each test group starts and ends, and every series stored at its end.
    #[arg(long = "debug", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub debug: bool,
    /// Accept unknown fields in the rule files (the test files stay strict).
    #[arg(long = "ignore-unknown-fields", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub ignore_unknown_fields: bool,
}

/// `tocsin replay`: a friendlier spelling of vmalert's `-replay.timeFrom` mode.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Start of the range: RFC 3339, unix seconds, or relative to now (`-7d`). Defaults
    /// to `-replay.timeFrom`.
    #[arg(long = "from", allow_hyphen_values = true, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the range (same forms as `--from`); defaults to `-replay.timeTo`, else now.
    #[arg(long = "to", allow_hyphen_values = true, value_name = "TIME")]
    pub to: Option<String>,
    /// Write nothing: print, per alerting rule, when each alert was pending and firing.
    #[arg(long = "report", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub report: bool,
    /// Format of the `--report` output.
    #[arg(long = "format", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    #[command(flatten)]
    pub run: RunFlags,
}

/// vmalert's `-replay.*` flags: with `-replay.timeFrom` set, tocsin replays instead of
/// running live.
#[derive(Debug, Args, Clone)]
pub struct ReplayFlags {
    /// Replay rules from this time (RFC 3339, unix seconds or `-7d`) instead of running
    /// live, then exit.
    #[arg(
        long = "replay.timeFrom",
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub time_from: Option<String>,
    /// End of the replay range (default: now).
    #[arg(
        long = "replay.timeTo",
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub time_to: Option<String>,
    /// Evaluation timestamps fetched by one range query (window size).
    #[arg(long = "replay.maxDatapointsPerQuery", default_value = "1000", value_parser = parse_count)]
    pub max_datapoints_per_query: usize,
    /// Pause before a rule queries series that earlier rules of its group just wrote,
    /// for storages that make writes searchable with a delay.
    #[arg(long = "replay.rulesDelay", default_value = "1s", value_parser = parse_go_duration)]
    pub rules_delay: Duration,
    /// Attempts per range query and per remote-write batch before giving up on a window.
    #[arg(long = "replay.ruleRetryAttempts", default_value = "5", value_parser = parse_count)]
    pub rule_retry_attempts: usize,
    /// Hide the progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long = "replay.disableProgressBar", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_progress_bar: bool,
    /// Query windows evaluated at once, across rules and groups; as many more are
    /// fetched ahead.
    #[arg(long = "replay.ruleEvaluationConcurrency", default_value = "1", value_parser = parse_count)]
    pub rule_evaluation_concurrency: usize,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files to check (globs are expanded by the shell).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Validate `expr` as PromQL (set to false for MetricsQL rules).
    #[arg(long = "rule.validateExpressions", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub validate_expressions: bool,
    /// Validate label and annotation templates.
    #[arg(long = "rule.validateTemplates", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub validate_templates: bool,
    /// Lint: `--lint` (or `--lint=all`) runs every check of docs/lint.md over all the
    /// files together; `duplicate-rules` (promtool's default) only warns about rules
    /// repeated in a file; `none` turns it off. Rules using tocsin's extensions are
    /// warned about unless `none`.
    #[arg(long = "lint", default_value = "duplicate-rules", value_parser = ["all", "duplicate-rules", "none"],
          num_args = 0..=1, default_missing_value = "all", require_equals = true)]
    pub lint: String,
    /// The interval of groups without `interval`, for the checks that compare with it
    /// (`flapping`'s window, the lint's interval checks).
    #[arg(long = "evaluationInterval", default_value = "1m", value_parser = parse_go_duration)]
    pub evaluation_interval: Duration,
    /// With `--lint`: also check the rules' selectors against this Prometheus-compatible
    /// query API (series that do not exist, labels they never carry, what each rule
    /// costs).
    #[arg(long = "datasource.url", value_name = "URL")]
    pub datasource_url: Option<String>,
    /// How far back the datasource checks look for series (Prometheus duration: 7d, 12h).
    #[arg(long = "lookback", default_value = "7d", value_parser = parse_prom_duration)]
    pub lookback: Duration,
    /// With `--datasource.url`: report a rule that reads more series than this at one
    /// evaluation (check `rule/cost`; 0 reports every rule that reads any, with its cost).
    #[arg(long = "lint.maxSeries", default_value = "10000")]
    pub lint_max_series: u64,
    /// With `--datasource.url`: report a rule that loads more samples than this at one
    /// evaluation, by the datasource's query statistics (Prometheus gives them).
    #[arg(long = "lint.maxSamples", default_value = "1000000")]
    pub lint_max_samples: u64,
    /// Make lint findings fatal (exit code 3), as promtool's `--lint-fatal`.
    #[arg(long = "lint-fatal", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub lint_fatal: bool,
}
