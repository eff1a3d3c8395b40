//! Flag errors in one line: which flag, what was wrong, what it expects. clap's own
//! rendering spans several lines with a usage block; a vmalert command line that fails
//! at start-up in a container log should say it in one.

use std::error::Error as _;

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// `--evaluationInterval <EVALUATION_INTERVAL>` → `-evaluationInterval` (vmalert's
/// spelling of the flag).
fn flag_name(arg: &str) -> String {
    let end = arg.find([' ', '=', '[', '<']).unwrap_or(arg.len());
    let name = arg[..end].trim_start_matches('-');
    format!("-{name}")
}

fn context_str(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        _ => None,
    }
}

/// The error as one line, without the `error:` prefix or the usage block.
pub fn one_line(e: &clap::Error) -> String {
    let flag = context_str(e, ContextKind::InvalidArg).map(|a| flag_name(&a));
    let value = context_str(e, ContextKind::InvalidValue);
    match (e.kind(), flag) {
        (ErrorKind::ValueValidation, Some(flag)) => match e.source() {
            Some(why) => format!("{flag}: {why}"),
            None => format!("{flag}: invalid value {:?}", value.unwrap_or_default()),
        },
        (ErrorKind::InvalidValue, Some(flag)) => {
            let value = value.unwrap_or_default();
            match context_str(e, ContextKind::ValidValue) {
                Some(valid) if value.is_empty() => format!("{flag} needs a value: one of {valid}"),
                Some(valid) => format!("{flag}: invalid value {value:?}: use one of {valid}"),
                None => format!("{flag} needs a value"),
            }
        }
        (ErrorKind::UnknownArgument, Some(flag)) => {
            let hint = match context_str(e, ContextKind::SuggestedArg) {
                Some(s) => format!("; did you mean {}?", flag_name(&s)),
                None => String::new(),
            };
            format!("unknown flag {flag}{hint} (`tocsin -help` lists every flag)")
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_string()
        }
    }
}

/// Exits on a flag error: help and version are printed as clap prints them; any other
/// error as one line on stderr, with exit code 2 (as vmalert's Go flag parser).
pub fn exit_on_error(e: clap::Error) -> ! {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            eprintln!("tocsin: {}", one_line(&e));
            std::process::exit(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, normalize_args};

    fn err(args: &[&str]) -> String {
        let mut argv = vec!["tocsin"];
        argv.extend_from_slice(args);
        let e = Cli::try_parse_from(normalize_args(argv)).unwrap_err();
        one_line(&e)
    }

    #[test]
    fn every_error_names_the_flag_in_one_line() {
        for (args, want) in [
            (
                &["-evaluationInterval=10"][..],
                r#"-evaluationInterval: invalid duration "10": use a number with a unit"#,
            ),
            (
                &["-loggerFormat=xml"],
                r#"-loggerFormat: invalid value "xml": use one of default, json"#,
            ),
            (
                &["-dryRun=maybe"],
                r#"-dryRun: invalid value "maybe": use one of true, false"#,
            ),
            (
                &["-evalutionInterval=1m"],
                "unknown flag -evalutionInterval; did you mean -evaluationInterval?",
            ),
            (
                &["-external.label=novalue"],
                "-external.label: invalid label",
            ),
        ] {
            let got = err(args);
            assert!(got.starts_with(want), "{args:?}: {got}");
            assert!(!got.contains('\n'), "{args:?}: {got}");
        }
    }
}
