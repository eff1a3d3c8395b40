//! Where flag values come from besides the command line, and which ones are secret.
//!
//! As VictoriaMetrics' `lib/envflag`: `%{ENV_VAR}` in an argument is replaced by the
//! variable's value; with `-envflag.enable` every flag not given on the command line is
//! also read from the environment variable named after it (dots become underscores,
//! `-envflag.prefix` in front: `-datasource.url` → `${PREFIX}datasource_url`); the
//! command line wins. List flags take comma-separated values there.
//!
//! Secret flags (names containing `pass`, `key`, `secret` or `token`, whatever the
//! case, the clients' `-X.headers` and `-pushmetrics.header`, which carry tokens as
//! often as not and vmalert masks too, `-pushmetrics.url` (vmalert's secret, for the
//! credentials it may carry), and those named by `-secret.flags`) show as `secret` wherever tocsin
//! prints its flags: `/flags` and the start-up log.

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::{Cli, normalize_args, split_list};

/// Where a flag's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    /// The environment variable's name.
    Env(String),
}

/// A flag set on the command line or in the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFlag {
    pub name: String,
    pub values: Vec<String>,
    pub origin: Origin,
}

/// The parsed flags and those that were set.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    pub set: Vec<SetFlag>,
}

/// Parses `args` (the program name first) with `env` as the environment.
pub fn parse<I, T>(args: I, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut argv = expand_placeholders(normalize_args(args), env)?;
    let cmd = Cli::command();
    let matches = cmd.clone().try_get_matches_from(&argv)?;
    let (run_cmd, run_matches) = run_flags(&cmd, &matches);
    let mut from_env: Vec<(String, String)> = Vec::new();
    if let Some((run_cmd, m)) = run_cmd.zip(run_matches)
        && m.get_one::<bool>("envflag_enable")
            .copied()
            .unwrap_or(false)
    {
        let prefix = m
            .get_one::<String>("envflag_prefix")
            .cloned()
            .unwrap_or_default();
        let at = argv.iter().position(|a| a == "--").unwrap_or(argv.len());
        let mut extra = Vec::new();
        for arg in run_cmd.get_arguments() {
            let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
                continue;
            };
            if m.value_source(id) == Some(ValueSource::CommandLine) || long.starts_with("envflag.")
            {
                continue;
            }
            let var = format!("{prefix}{}", long.replace('.', "_"));
            let Some(value) = env(&var) else { continue };
            let values = if matches!(arg.get_action(), ArgAction::Append) {
                crate::cli::split_array(&value)
            } else {
                vec![value]
            };
            for v in values {
                extra.push(OsString::from(format!("--{long}={v}")));
            }
            from_env.push((long.to_string(), var));
        }
        argv.splice(at..at, expand_placeholders(extra, env)?);
    }
    let matches = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| name_env_var(e, &from_env))?;
    let cli = Cli::from_arg_matches(&matches)?;
    let (run_cmd, run_matches) = run_flags(&cmd, &matches);
    let set = match run_cmd.zip(run_matches) {
        Some((c, m)) => set_flags(c, m, &from_env),
        None => Vec::new(),
    };
    Ok(Parsed { cli, set })
}

/// The command whose flags are the evaluator's (top level or `replay`), and its matches.
fn run_flags<'a>(
    cmd: &'a clap::Command,
    m: &'a ArgMatches,
) -> (Option<&'a clap::Command>, Option<&'a ArgMatches>) {
    match m.subcommand() {
        None => (Some(cmd), Some(m)),
        Some(("replay", sub)) => (cmd.find_subcommand("replay"), Some(sub)),
        Some(_) => (None, None),
    }
}

/// Adds which environment variable a rejected value came from.
fn name_env_var(e: clap::Error, from_env: &[(String, String)]) -> clap::Error {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return e;
    };
    let Some((long, var)) = from_env.iter().find(|(long, _)| {
        arg.strip_prefix("--")
            .is_some_and(|a| a.split([' ', '=']).next() == Some(long))
    }) else {
        return e;
    };
    let mut out = clap::Error::raw(
        e.kind(),
        format!(
            "-{long} read from the environment variable {var}: {}",
            e.render().to_string().trim_start_matches("error: ")
        ),
    );
    out = out.with_cmd(&Cli::command());
    out
}

/// Replaces `%{NAME}` in every argument by the environment variable `NAME`; a variable
/// that is not set is an error naming it.
fn expand_placeholders(
    args: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, clap::Error> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let Some(s) = a.to_str().filter(|s| s.contains("%{")) else {
            out.push(a);
            continue;
        };
        let mut res = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("%{") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + 2 + len];
            let Some(v) = env(name) else {
                let flag = s.split('=').next().unwrap_or(s).trim_start_matches('-');
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!(
                        "-{flag}: %{{{name}}} names an environment variable that is not set; set it or remove the placeholder\n"
                    ),
                ));
            };
            res.push_str(&rest[..start]);
            res.push_str(&v);
            rest = &rest[start + 3 + len..];
        }
        res.push_str(rest);
        out.push(OsString::from(res));
    }
    Ok(out)
}

fn set_flags(cmd: &clap::Command, m: &ArgMatches, from_env: &[(String, String)]) -> Vec<SetFlag> {
    let mut out: Vec<SetFlag> = Vec::new();
    for arg in cmd.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        if m.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let values = m
            .get_raw(id)
            .map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let origin = match from_env.iter().find(|(l, _)| l == long) {
            Some((_, var)) => Origin::Env(var.clone()),
            None => Origin::CommandLine,
        };
        out.push(SetFlag {
            name: long.to_string(),
            values,
            origin,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Which flags are secret.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    named: BTreeSet<String>,
}

impl Secrets {
    /// The defaults plus the names in `-secret.flags` (comma-separated, dashes allowed).
    pub fn new(secret_flags: &[String]) -> Secrets {
        let named = split_list(secret_flags)
            .into_iter()
            .map(|n| n.trim_start_matches('-').to_ascii_lowercase())
            .collect();
        Secrets { named }
    }

    pub fn is_secret(&self, flag: &str) -> bool {
        let l = flag.to_ascii_lowercase();
        ["pass", "key", "secret", "token"]
            .iter()
            .any(|w| l.contains(w))
            || l.ends_with(".headers")
            || ["pushmetrics.header", "pushmetrics.url"].contains(&l.as_str())
            || self.named.contains(&l)
    }

    /// `secret` for a secret flag; else the value with the credentials of any URL in
    /// it masked ([`crate::http::redact_text`], as everywhere tocsin prints a URL).
    pub fn show(&self, flag: &str, value: &str) -> String {
        if self.is_secret(flag) {
            "secret".to_string()
        } else {
            crate::http::redact_text(value)
        }
    }
}

/// The `/flags` page, as vmalert's: `-name="value"` for every flag that was set, one per
/// line and value, secret values as `secret`.
pub fn flags_page(set: &[SetFlag], secrets: &Secrets) -> String {
    let mut out = String::new();
    for f in set {
        for v in &f.values {
            let shown = secrets.show(&f.name, v);
            out.push_str(&format!("-{}={}\n", f.name, serde_json::Value::from(shown)));
        }
    }
    out
}

/// Logs the flags that were set, as VictoriaMetrics does at start-up.
pub fn log_flags(set: &[SetFlag], secrets: &Secrets) {
    for f in set {
        let value = f
            .values
            .iter()
            .map(|v| secrets.show(&f.name, v))
            .collect::<Vec<_>>()
            .join(",");
        match &f.origin {
            Origin::CommandLine => tracing::info!(flag = f.name.as_str(), value, "flag"),
            Origin::Env(var) => {
                tracing::info!(flag = f.name.as_str(), value, env = var.as_str(), "flag")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> Result<Parsed, clap::Error> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut argv = vec!["tocsin"];
        argv.extend_from_slice(args);
        parse(argv, &|k| env.get(k).cloned())
    }

    #[test]
    fn environment_is_read_only_when_enabled_and_the_command_line_wins() {
        let env = [
            ("datasource_url", "http://env:8428"),
            ("evaluationInterval", "15s"),
            ("rule", "a.yml,b.yml"),
        ];
        let p = parse_with(&["-datasource.url=http://cli"], &env).unwrap();
        assert_eq!(p.cli.run.evaluation_interval.as_secs(), 60);
        let p = parse_with(&["-envflag.enable", "-datasource.url=http://cli"], &env).unwrap();
        assert_eq!(p.cli.run.datasource_url.as_deref(), Some("http://cli"));
        assert_eq!(p.cli.run.evaluation_interval.as_secs(), 15);
        assert_eq!(p.cli.run.rule, ["a.yml", "b.yml"]);
        let ei = p
            .set
            .iter()
            .find(|f| f.name == "evaluationInterval")
            .unwrap();
        assert_eq!(ei.origin, Origin::Env("evaluationInterval".into()));
        let ds = p.set.iter().find(|f| f.name == "datasource.url").unwrap();
        assert_eq!(ds.origin, Origin::CommandLine);
    }

    #[test]
    fn prefix_and_bools_and_replay() {
        let env = [
            ("VM_dryRun", "true"),
            ("VM_httpAuth_password", "pw"),
            ("dryRun", "false"),
        ];
        let p = parse_with(&["-envflag.enable", "-envflag.prefix=VM_"], &env).unwrap();
        assert!(p.cli.run.dry_run);
        assert_eq!(p.cli.run.server.http_auth_password, "pw");
        let p = parse_with(
            &[
                "replay",
                "--from=-1h",
                "-envflag.enable",
                "-envflag.prefix=VM_",
            ],
            &env,
        )
        .unwrap();
        match p.cli.command {
            Some(crate::cli::Command::Replay(r)) => assert!(r.run.dry_run),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let e = parse_with(&["-envflag.enable"], &[("evaluationInterval", "soon")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("evaluationInterval"), "{e}");
        assert!(e.contains("environment variable evaluationInterval"), "{e}");
    }

    #[test]
    fn placeholders_expand_and_a_missing_one_is_named() {
        let p = parse_with(&["-httpAuth.password=%{PW}x"], &[("PW", "s3")]).unwrap();
        assert_eq!(p.cli.run.server.http_auth_password, "s3x");
        let e = parse_with(&["-httpAuth.password=%{NOPE}"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-httpAuth.password: %{NOPE} names an environment variable"),
            "{e}"
        );
    }

    #[test]
    fn flags_page_masks_secrets() {
        let p = parse_with(
            &[
                "-httpAuth.password=hunter2",
                "-datasource.url=http://ds",
                "-external.label=a=b",
                "-secret.flags=external.label",
                "-datasource.bearerToken=tok",
                "-notifier.url=http://am:9093",
                "-notifier.url=http://u:p@am2",
                "-remoteWrite.url=http://vm/?authKey=k",
            ],
            &[],
        )
        .unwrap();
        let s = Secrets::new(&p.cli.run.sources.secret_flags);
        let page = flags_page(&p.set, &s);
        assert_eq!(
            page,
            "-datasource.bearerToken=\"secret\"\n-datasource.url=\"http://ds\"\n-external.label=\"secret\"\n-httpAuth.password=\"secret\"\n-notifier.url=\"http://am:9093\"\n-notifier.url=\"http://u:xxxxx@am2\"\n-remoteWrite.url=\"http://vm/?authKey=xxxxx\"\n-secret.flags=\"secret\"\n"
        );
        assert!(s.is_secret("reloadAuthKey") && s.is_secret("notifier.oauth2.clientSecret"));
        assert!(!s.is_secret("rule"));
        assert!(s.is_secret("datasource.headers") && s.is_secret("notifier.headers"));
        assert!(!s.is_secret("http.header.csp"));
        assert!(s.is_secret("pushmetrics.header") && s.is_secret("pushmetrics.url"));
    }
}
