//! Renders the flag reference in `docs/configuration.md` from the clap definition, so
//! the documentation cannot drift from the parser (a test compares the two).

use clap::CommandFactory;

use crate::cli::Cli;

/// Markers around the generated part of `docs/configuration.md`.
pub const BEGIN: &str = "<!-- BEGIN GENERATED FLAGS: edit src/cli.rs, then run `TOCSIN_REGEN_DOCS=1 cargo test --test docs` -->";
pub const END: &str = "<!-- END GENERATED FLAGS -->";

/// One markdown table of every flag of the evaluator, then one per subcommand.
pub fn flags_markdown() -> String {
    let cmd = Cli::command();
    let mut out = String::new();
    out.push_str("| flag | default | description |\n|---|---|---|\n");
    table_rows(&cmd, &mut out);
    for sub in cmd.get_subcommands() {
        subcommand_tables(sub, "tocsin", &mut out);
    }
    out
}

/// A table for a subcommand with flags of its own, then one for each of its
/// subcommands (`tocsin test rules`).
fn subcommand_tables(cmd: &clap::Command, parent: &str, out: &mut String) {
    let path = format!("{parent} {}", cmd.get_name());
    let own = cmd
        .get_arguments()
        .any(|a| !matches!(a.get_id().as_str(), "help" | "version"));
    if own || !cmd.has_subcommands() {
        out.push_str(&format!(
            "\n### `{path}`\n\n{}\n\n| flag / argument | default | description |\n|---|---|---|\n",
            cmd.get_about().map(|s| s.to_string()).unwrap_or_default()
        ));
        table_rows(cmd, out);
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() != "help" {
            subcommand_tables(sub, &path, out);
        }
    }
}

fn table_rows(cmd: &clap::Command, out: &mut String) {
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let name = match arg.get_long() {
            Some(l) => format!("`-{l}`"),
            None => format!("`{}`", id.to_uppercase()),
        };
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if default.is_empty() {
            String::new()
        } else {
            format!("`{}`", default.join(","))
        };
        let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        if matches!(arg.get_action(), clap::ArgAction::Append) {
            help.push_str(" (repeatable)");
        }
        out.push_str(&format!(
            "| {name} | {default} | {} |\n",
            help.replace('|', "\\|")
        ));
    }
}
