//! Wiring: turns parsed flags into running parts, and runs the subcommands.

mod cluster;
mod notify;
mod operator;
mod options;
mod run;
mod server;
mod signals;
mod state;
mod templates;

use std::process::ExitCode;

use crate::check::{CheckOptions, check_rules};
use crate::cli::{
    BacktestArgs, CheckArgs, Command, ReplayArgs, RunFlags, TestArgs, TestCommand, items,
};
use crate::config::{self, LoadOptions};

/// Entry point after flag parsing; returns the process exit code.
pub fn main(parsed: crate::flag_sources::Parsed) -> ExitCode {
    let crate::flag_sources::Parsed { cli, set } = parsed;
    let log = match &cli.command {
        Some(Command::Replay(a)) => &a.run,
        Some(Command::Backtest(a)) => &a.run,
        _ => &cli.run,
    };
    crate::logging::init(&crate::logging::LogOptions {
        level: log.logger_level.clone(),
        format: log.logger_format.clone(),
        json_fields: log.logger_json_fields.clone(),
        max_arg_len: log.logger_max_arg_len,
    });
    match cli.command {
        Some(Command::Check(args)) => check(&args),
        Some(Command::Replay(args)) => replay(*args),
        Some(Command::Backtest(args)) => backtest(*args),
        Some(Command::Test(args)) => test(&args),
        None if cli.run.replay.time_from.is_some() => {
            let args = ReplayArgs {
                from: None,
                to: None,
                report: false,
                format: "table".into(),
                run: cli.run,
            };
            replay(args)
        }
        None if cli.run.dry_run => dry_run(&cli.run),
        None => run(cli.run, set),
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let datasource = match lint_datasource(args) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tocsin check: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = CheckOptions {
        load: LoadOptions {
            validate_expressions: args.validate_expressions,
            validate_templates: args.validate_templates,
            default_interval: Some(args.evaluation_interval),
            ..LoadOptions::default()
        },
        lint_duplicates: args.lint == "duplicate-rules",
        lint_extensions: args.lint != "none",
        lint_all: (args.lint == "all").then_some(crate::lint::LintOptions {
            default_interval: args.evaluation_interval,
            datasource,
        }),
        lint_fatal: args.lint_fatal,
    };
    let out = check_rules(&args.files, &opts);
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    ExitCode::from(out.exit_code.clamp(0, 255) as u8)
}

/// `tocsin test rules`: promtool's unit tests, on the in-process PromQL engine.
fn test(args: &TestArgs) -> ExitCode {
    use crate::ruletest::{InProcess, TestOptions, run::Sink, test_rules};
    /// Writes as it goes, so stdout and stderr interleave as promtool's do.
    struct Stdio;
    impl Sink for Stdio {
        fn out(&mut self, text: &str) {
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
        }
        fn err(&mut self, text: &str) {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
        }
    }
    let TestCommand::Rules(r) = &args.command;
    let opts = TestOptions {
        run: r.run.clone(),
        junit: args.junit.is_some(),
        diff: r.diff,
        debug: r.debug,
        ignore_unknown_fields: r.ignore_unknown_fields,
    };
    let summary = test_rules(&r.files, &opts, &InProcess::default(), &mut Stdio);
    if let (Some(path), Some(xml)) = (&args.junit, &summary.junit)
        && let Err(e) = std::fs::write(path, xml)
    {
        eprintln!("failed to write JUnit XML to {path}: {e}");
    }
    ExitCode::from(summary.exit_code.clamp(0, 255) as u8)
}

/// The datasource of `tocsin check --lint --datasource.url=…`, if any.
fn lint_datasource(args: &CheckArgs) -> Result<Option<crate::lint::DatasourceLint>, String> {
    use crate::datasource::{DatasourceMetrics, DatasourceOptions, PromClient};
    let Some(url) = &args.datasource_url else {
        return Ok(None);
    };
    if args.lint != "all" {
        return Err(
            "--datasource.url needs --lint (the series and cost checks are lint checks)".into(),
        );
    }
    let opts = DatasourceOptions {
        url: url.clone(),
        query_step: std::time::Duration::ZERO,
        ..DatasourceOptions::default()
    };
    let client = PromClient::new(opts, DatasourceMetrics::new(None))
        .map_err(|e| format!("invalid --datasource.url: {e}"))?;
    Ok(Some(crate::lint::DatasourceLint {
        querier: std::sync::Arc::new(client),
        lookback: args.lookback,
        limits: crate::lint::cost::CostLimits {
            max_series: args.lint_max_series,
            max_samples: args.lint_max_samples,
        },
    }))
}

/// What the rule loader takes from the flags.
pub(super) fn load_options(flags: &RunFlags) -> LoadOptions {
    LoadOptions {
        validate_expressions: flags.validate_expressions,
        validate_templates: flags.validate_templates,
        ignore_unknown_fields: false,
        default_rule_type: flags.rule_default_rule_type.clone(),
        strip_file_path: flags.rule_strip_file_path,
        default_interval: Some(flags.evaluation_interval),
        ..LoadOptions::default()
    }
}

/// `-dryRun`: load and validate everything, report, exit — vmalert's behaviour. The
/// `-cluster.*` flags are checked together too (a StatefulSet's pod name as
/// `-cluster.memberNum`, the peer list's form), without asking any peer.
fn dry_run(flags: &RunFlags) -> ExitCode {
    let patterns = items(&flags.rule);
    if patterns.is_empty() {
        eprintln!("-dryRun needs at least one -rule flag naming the rule files to check");
        return ExitCode::from(1);
    }
    match flags.cluster.config() {
        Ok(c) => {
            if let Some(line) = c.describe() {
                println!("{line}");
            }
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    }
    // As vmalert's -dryRun, the templates too.
    let templates = items(&flags.rule_templates);
    if !templates.is_empty()
        && let Err(e) = crate::template::Library::load(&templates)
    {
        eprintln!("-rule.templates: {e}");
        return ExitCode::from(1);
    }
    match config::load(&patterns, &load_options(flags)) {
        Ok(set) => {
            println!(
                "{} files, {} groups, {} rules: all valid",
                set.files.len(),
                set.groups.len(),
                set.rule_count()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::from(1)
        }
    }
}

/// The multi-threaded runtime both long-running modes use.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::from(1)
        })
}

/// The error and its causes, `: `-separated, leaving out a cause that the message
/// before it already quotes (typed errors name their cause in their own message; with
/// anyhow's `{:#}` it would show twice).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if out.contains(&c) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c);
    }
    out
}

fn run(flags: RunFlags, set: Vec<crate::flag_sources::SetFlag>) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = match rt.block_on(run::run(flags, set)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let e = error_chain(&e);
            tracing::error!("{e}");
            eprintln!("tocsin: {e}");
            ExitCode::from(1)
        }
    };
    // A rule load abandoned by a signal may still be running on a blocking thread:
    // do not wait for it.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

/// `tocsin replay` and vmalert's `-replay.timeFrom` mode.
fn replay(args: ReplayArgs) -> ExitCode {
    use crate::replay::launch::{self, Launch, ReportFormat};
    let f = &args.run;
    let Some(from) = args.from.clone().or_else(|| f.replay.time_from.clone()) else {
        eprintln!("replay needs --from (or -replay.timeFrom)");
        return ExitCode::from(2);
    };
    let build = || -> Result<Launch, crate::http::ClientError> {
        Ok(Launch {
            patterns: items(&f.rule),
            load: load_options(f),
            rule_templates: f.rule_templates.clone(),
            from,
            to: args.to.clone().or_else(|| f.replay.time_to.clone()),
            datasource: match f.datasource_url.as_deref().filter(|u| !u.is_empty()) {
                Some(u) => Some(options::datasource(f, u)?),
                None => None,
            },
            remote_write: match f.remote_write_url.as_deref().filter(|u| !u.is_empty()) {
                Some(u) => Some(options::remote_write(f, u)?),
                None => None,
            },
            settings: options::rule_settings(f, Default::default()),
            flags: f.replay.clone(),
            report: args.report.then_some(if args.format == "json" {
                ReportFormat::Json
            } else {
                ReportFormat::Table
            }),
            interrupt: tokio_util::sync::CancellationToken::new(),
        })
    };
    let l = match build() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tocsin replay: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    // SIGTERM/SIGINT stop the replay at the next window's edge; a second exits at once.
    let outcome = rt.block_on(async {
        let mut l = l;
        l.interrupt = signals::watch().map_err(|e| launch::LaunchError::Setup {
            what: "signal handlers",
            message: e.to_string(),
        })?;
        launch::run(l).await
    });
    // A rule load abandoned by a signal may still be running on a blocking thread.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e @ launch::LaunchError::Interrupted) => {
            eprintln!("tocsin replay: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("tocsin replay: {e}");
            ExitCode::from(2)
        }
    }
}

/// `tocsin backtest`.
fn backtest(args: BacktestArgs) -> ExitCode {
    use crate::backtest::launch::{self, EXIT_NO_REPORT, Format, Launch};
    let f = &args.run;
    let datasource = match f.datasource_url.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => match options::datasource(f, u) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("tocsin backtest: {e}");
                return ExitCode::from(EXIT_NO_REPORT);
            }
        },
        None => None,
    };
    let l = Launch {
        old: args.old.clone(),
        new: args.new.clone(),
        load: load_options(f),
        rule_templates: f.rule_templates.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        datasource,
        settings: options::rule_settings(f, Default::default()),
        flags: f.replay.clone(),
        format: match args.format.as_str() {
            "json" => Format::Json,
            "markdown" => Format::Markdown,
            _ => Format::Table,
        },
        fail_on: args.fail_on.clone(),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(launch::run(l)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("tocsin backtest: {e}");
            ExitCode::from(EXIT_NO_REPORT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on :80: {source}")]
    struct Bind {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn error_chain_says_each_cause_once() {
        let io = || std::io::Error::other("address in use");
        let e = anyhow::Error::new(Bind { source: io() });
        assert_eq!(error_chain(&e), "cannot listen on :80: address in use");
        let e = anyhow::Error::new(io()).context("-httpListenAddr");
        assert_eq!(error_chain(&e), "-httpListenAddr: address in use");
        let e = anyhow::Error::new(Bind { source: io() }).context("web");
        assert_eq!(error_chain(&e), "web: cannot listen on :80: address in use");
    }
}
