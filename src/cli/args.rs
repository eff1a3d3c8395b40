//! From a vmalert command line to what clap parses: Go's flag forms, vmalert's array
//! syntax and Go's boolean spellings are handled here, once, for every flag.

use std::collections::HashMap;
use std::ffi::OsString;

use clap::{ArgAction, CommandFactory};

use super::Cli;
use super::values::{parse_go_bool, split_array};

/// How a flag's value is rewritten before clap sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A vmalert array (a repeatable flag): one occurrence per item.
    Array,
    /// A boolean: Go's spellings (`1`, `t`, `FALSE`, …) become `true` or `false`.
    Bool,
}

/// The kind of every long flag of the evaluator and its subcommands.
fn kinds() -> HashMap<String, Kind> {
    let cmd = Cli::command();
    let mut out = HashMap::new();
    for c in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
        for arg in c.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            // A flag taking several values per occurrence (`backtest --old a.yml b.yml`)
            // is left to clap and splits its own values.
            let multi = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
            let kind = if matches!(arg.get_action(), ArgAction::Append) && !multi {
                Kind::Array
            } else if arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>() {
                Kind::Bool
            } else {
                continue;
            };
            out.insert(long.to_string(), kind);
        }
    }
    out
}

/// Rewrites a vmalert command line into clap's form.
///
/// - Go-style long flags get a second dash: `-rule=x` → `--rule=x`, `-dryRun` →
///   `--dryRun`. A token is rewritten when it starts with a single dash followed by a
///   letter and is longer than two characters; short flags (`-h`, `-V`) and values that
///   look negative (`-7d`, `-1`) stay as they are.
/// - Array flags are split into one occurrence per item, as vmalert splits them
///   ([`split_array`]): `-rule=a.yml,b.yml` → `--rule=a.yml --rule=b.yml`; an array
///   flag without `=` takes the next argument as its value, as in Go.
/// - Boolean values in Go's spellings become `true`/`false`: `-dryRun=1` →
///   `--dryRun=true`.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let kinds = kinds();
    let mut out = Vec::new();
    let mut rest_is_positional = false;
    let mut args = args.into_iter().map(Into::into).enumerate();
    while let Some((i, a)) = args.next() {
        let a: OsString = a;
        if i == 0 || rest_is_positional {
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            rest_is_positional = true;
            out.push(a);
            continue;
        }
        let b = s.as_bytes();
        let go_long = b.len() > 2 && b[0] == b'-' && b[1].is_ascii_alphabetic();
        let long = if go_long {
            format!("-{s}")
        } else {
            s.to_string()
        };
        let Some(flag) = long.strip_prefix("--").filter(|f| !f.is_empty()) else {
            out.push(a);
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        match (kinds.get(name), value) {
            (Some(Kind::Array), Some(v)) => push_items(&mut out, name, &v),
            (Some(Kind::Array), None) => match args.next() {
                Some((_, v)) => match v.to_str() {
                    Some(v) => push_items(&mut out, name, v),
                    None => out.extend([OsString::from(&long), v]),
                },
                None => out.push(OsString::from(long)),
            },
            (Some(Kind::Bool), Some(v)) => match parse_go_bool(&v) {
                Some(b) => out.push(OsString::from(format!("--{name}={b}"))),
                None => out.push(OsString::from(long)),
            },
            _ => out.push(OsString::from(long)),
        }
    }
    out
}

fn push_items(out: &mut Vec<OsString>, name: &str, value: &str) {
    for item in split_array(value) {
        out.push(OsString::from(format!("--{name}={item}")));
    }
}

/// Splits raw vmalert array values (`-rule=a.yml,b/*.yml`, or an environment variable's
/// value) into their items, trimmed, without empty ones. Values that went through
/// [`normalize_args`] are split already: read them with [`items`].
pub fn split_list(values: &[String]) -> Vec<String> {
    let split: Vec<String> = values.iter().flat_map(|v| split_array(v)).collect();
    items(&split)
}

/// The items of a parsed array flag, trimmed, without empty ones.
pub fn items(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        let mut argv = vec!["tocsin"];
        argv.extend_from_slice(args);
        normalize_args(argv)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn arrays_become_one_occurrence_per_item() {
        assert_eq!(
            norm(&["-rule=a.yml,{b,c}.yml", "-rule", "d.yml,'e,f.yml'"]),
            [
                "--rule=a.yml",
                "--rule={b,c}.yml",
                "--rule=d.yml",
                "--rule=e,f.yml"
            ]
        );
        assert_eq!(
            norm(&["-external.label=a=b,c=d"]),
            ["--external.label=a=b", "--external.label=c=d"]
        );
    }

    #[test]
    fn go_booleans_become_clap_booleans() {
        assert_eq!(
            norm(&["-dryRun=1", "-rule.validateTemplates=F", "-dryRun"]),
            [
                "--dryRun=true",
                "--rule.validateTemplates=false",
                "--dryRun"
            ]
        );
        assert_eq!(norm(&["-dryRun=maybe"]), ["--dryRun=maybe"]);
    }

    #[test]
    fn positional_arguments_stay() {
        assert_eq!(
            norm(&["check", "a,b.yml", "--", "-rule=x,y"]),
            ["check", "a,b.yml", "--", "-rule=x,y"]
        );
    }
}
