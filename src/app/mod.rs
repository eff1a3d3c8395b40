//! Wiring: turns parsed flags into running parts, and runs the subcommands.

mod options;
mod run;

use std::process::ExitCode;

use crate::check::{CheckOptions, check_rules};
use crate::cli::{CheckArgs, Cli, Command, RunFlags, split_list};
use crate::config::{self, LoadOptions};

/// Entry point after flag parsing; returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    crate::logging::init(&cli.run.logger_level, &cli.run.logger_format);
    match cli.command {
        Some(Command::Check(args)) => check(&args),
        None if cli.run.dry_run => dry_run(&cli.run),
        None => run(cli.run),
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let opts = CheckOptions {
        load: LoadOptions {
            validate_expressions: args.validate_expressions,
            validate_templates: args.validate_templates,
        },
        lint_duplicates: args.lint != "none",
        lint_fatal: args.lint_fatal,
    };
    let out = check_rules(&args.files, &opts);
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    ExitCode::from(out.exit_code.clamp(0, 255) as u8)
}

fn load_options(flags: &RunFlags) -> LoadOptions {
    LoadOptions {
        validate_expressions: flags.validate_expressions,
        validate_templates: flags.validate_templates,
    }
}

/// `-dryRun`: load and validate everything, report, exit — vmalert's behaviour.
fn dry_run(flags: &RunFlags) -> ExitCode {
    let patterns = split_list(&flags.rule);
    if patterns.is_empty() {
        eprintln!("-dryRun needs at least one -rule flag naming the rule files to check");
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

fn run(flags: RunFlags) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run::run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("tocsin: {e:#}");
            ExitCode::from(1)
        }
    }
}
