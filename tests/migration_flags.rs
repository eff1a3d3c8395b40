//! docs/migration.md promises, flag by flag, what tocsin does with each flag of vmalert
//! 1.79.5 (Debian stable) and 1.145 (Debian sid). These tests hold the promise to the
//! real `vmalert -help` of both and to tocsin's parser: every flag of either vmalert is
//! in the table; every flag, given a value vmalert accepts, parses unless the table says
//! "refused"; a "same" flag has vmalert 1.145's default.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use support::peers::PeerSet;
use tocsin::cli::{Cli, normalize_args, parse_go_duration};

/// The rows of the table: flag name (without dash) → status.
fn table() -> BTreeMap<String, String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/migration.md"))
        .expect("docs/migration.md");
    let (_, rest) = doc
        .split_once("<!-- BEGIN VMALERT FLAGS -->")
        .expect("BEGIN marker");
    let (body, _) = rest
        .split_once("<!-- END VMALERT FLAGS -->")
        .expect("END marker");
    body.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let flag = cells.get(1)?.strip_prefix("`-")?.strip_suffix('`')?;
            Some((flag.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

/// One flag as `vmalert -help` describes it.
#[derive(Debug, Clone)]
struct VmFlag {
    name: String,
    /// Go's type word: `bool` (none printed), `int`, `duration`, `string`, `array`, …
    kind: String,
    /// `(default …)`, unquoted.
    default: Option<String>,
    /// An array of booleans ("Empty values are set to false").
    bool_array: bool,
}

/// Every flag of the `vmalert` binary at `bin`, from its `-help`.
fn vmalert_flags(bin: &Path) -> Vec<VmFlag> {
    let out = std::process::Command::new(bin)
        .arg("-help")
        .output()
        .expect("run vmalert -help");
    let help = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let mut flags: Vec<(VmFlag, String)> = Vec::new();
    for line in help.lines() {
        if let Some(rest) = line.strip_prefix("  -") {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_owned();
            let kind = words.next().unwrap_or("bool").to_owned();
            let flag = VmFlag {
                name,
                kind,
                default: None,
                bool_array: false,
            };
            flags.push((flag, String::new()));
        } else if let Some((_, text)) = flags.last_mut() {
            text.push_str(line.trim());
            text.push(' ');
        }
    }
    flags
        .into_iter()
        .map(|(mut f, text)| {
            f.default = text.rfind("(default ").map(|i| {
                let d = &text[i + "(default ".len()..];
                let d = &d[..d.find(')').unwrap_or(d.len())];
                d.trim_matches('"').to_owned()
            });
            f.bool_array = text.contains("Empty values are set to false");
            f
        })
        .collect()
}

/// A value vmalert accepts for the flag, so that only tocsin's parser is on trial:
/// vmalert's default where it has one, else one of the flag's type (or, where the flag
/// expects a format, one in that format). `None` means the bare flag (a boolean).
fn valid_value(f: &VmFlag) -> Option<String> {
    let special = match f.name.as_str() {
        "external.label" => Some("dc=eu"),
        "pushmetrics.extraLabel" => Some(r#"instance="foo""#),
        "pushmetrics.header" => Some("Authorization: Basic Zm9vOmJhcg=="),
        "tlsMinVersion" => Some("TLS13"),
        "loggerJSONFields" => Some("ts:timestamp,msg:message"),
        "httpListenAddr" => Some(":8880"),
        n if n.ends_with(".headers") => Some("X-Scope-OrgID: 1^^X-Team: a"),
        n if n.ends_with("oauth2.endpointParams") => Some(r#"{"audience":"x"}"#),
        n if n.ends_with(".url") || n.ends_with("tokenUrl") => Some("http://127.0.0.1:9/"),
        _ => None,
    };
    if let Some(v) = special {
        return Some(v.to_owned());
    }
    if f.kind == "bool" {
        return None;
    }
    if f.bool_array {
        return Some("true".into());
    }
    if let Some(d) = f.default.as_ref().filter(|d| !d.is_empty()) {
        return Some(d.clone());
    }
    Some(
        match f.kind.as_str() {
            "int" => "10",
            "duration" => "30s",
            "float" => "1.5",
            "size" => "1MiB",
            _ => "x",
        }
        .to_owned(),
    )
}

/// Parses `-flag=value`, and `-flag value` for flags that take a separate value.
fn parses(f: &VmFlag) -> Result<(), String> {
    let forms: Vec<Vec<String>> = match valid_value(f) {
        None => vec![vec![format!("-{}", f.name)]],
        Some(v) if f.bool_array => vec![vec![format!("-{}={v}", f.name)]],
        Some(v) => vec![
            vec![format!("-{}={v}", f.name)],
            vec![format!("-{}", f.name), v],
        ],
    };
    for args in forms {
        let argv = std::iter::once("tocsin".to_owned()).chain(args.iter().cloned());
        match Cli::try_parse_from(normalize_args(argv)) {
            Ok(_) => {}
            // `-version` prints and exits, which clap reports as an "error" kind.
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {}
            Err(e) => return Err(format!("{args:?}: {}", tocsin::cli::one_line(&e))),
        }
    }
    Ok(())
}

/// Both vmalerts' flags by name; 1.145's description wins where both have the flag.
fn both_vmalerts() -> Option<BTreeMap<String, VmFlag>> {
    let old = PeerSet::Stable.require("vmalert")?;
    let new = PeerSet::Sid.require("vmalert")?;
    let mut all = BTreeMap::new();
    for f in vmalert_flags(&old).into_iter().chain(vmalert_flags(&new)) {
        all.insert(f.name.clone(), f);
    }
    Some(all)
}

#[test]
fn table_lists_every_flag_of_both_vmalerts() {
    let rows = table();
    for set in [PeerSet::Stable, PeerSet::Sid] {
        let Some(bin) = set.require("vmalert") else {
            return;
        };
        let flags = vmalert_flags(&bin);
        assert!(flags.len() > 100, "{bin:?} -help listed {}", flags.len());
        let missing: Vec<&str> = flags
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| !rows.contains_key(*n))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/migration.md lacks flags of {bin:?}: {missing:?}"
        );
    }
    let vm145 = PeerSet::Sid.require("vmalert").map(|b| vmalert_flags(&b));
    assert_eq!(
        vm145.map(|f| f.len()),
        Some(188),
        "vmalert 1.145 has 188 flags"
    );
}

/// The check of the issue: every flag of vmalert's `-help`, with a valid value, through
/// tocsin's parser; a refusal fails unless docs/migration.md lists the flag as refused,
/// and a flag listed as refused must be refused.
#[test]
fn every_vmalert_flag_parses_unless_the_table_says_refused() {
    let Some(flags) = both_vmalerts() else {
        return;
    };
    let rows = table();
    let mut wrong = Vec::new();
    for (name, f) in &flags {
        let status = rows.get(name).map(String::as_str).unwrap_or("missing");
        match (status, parses(f)) {
            ("same" | "differs" | "inert", Err(e)) => {
                wrong.push(format!("-{name} is {status} but refused: {e}"))
            }
            ("refused", Ok(())) => wrong.push(format!("-{name} is listed as refused but parses")),
            ("same" | "differs" | "inert" | "refused", _) => {}
            (other, _) => wrong.push(format!("-{name}: status {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let refused: Vec<&String> = rows
        .iter()
        .filter(|(_, s)| *s == "refused")
        .map(|(n, _)| n)
        .collect();
    eprintln!("refused, as docs/migration.md says: {refused:?}");
}

/// tocsin's default of `-name`, as the parser has it.
fn tocsin_default(name: &str) -> Option<String> {
    let cmd = Cli::command();
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(name))?;
    let d: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    Some(d.join(","))
}

fn same_default(kind: &str, vm: Option<&str>, ours: &str) -> bool {
    let vm = vm.unwrap_or_default();
    match kind {
        "duration" | "array" if parse_go_duration(vm).is_ok() || vm.is_empty() => {
            let d = |s: &str| parse_go_duration(s).unwrap_or(Duration::ZERO);
            d(vm) == d(ours)
        }
        "bool" => (vm == "true") == (ours == "true"),
        "int" | "float" | "size" => {
            let n = |s: &str| s.parse::<f64>().unwrap_or(0.0);
            n(vm) == n(ours)
        }
        _ => vm == ours,
    }
}

/// "same" promises vmalert 1.145's default too.
#[test]
fn same_flags_have_vmalert_1_145s_defaults() {
    let Some(bin) = PeerSet::Sid.require("vmalert") else {
        return;
    };
    let rows = table();
    let mut wrong = Vec::new();
    for f in vmalert_flags(&bin) {
        if rows.get(&f.name).map(String::as_str) != Some("same") {
            continue;
        }
        let Some(ours) = tocsin_default(&f.name) else {
            continue;
        };
        if !same_default(&f.kind, f.default.as_deref(), &ours) {
            wrong.push(format!(
                "-{}: vmalert 1.145's default {:?}, tocsin's {ours:?}",
                f.name, f.default
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "listed as same, but the defaults differ (fix the default or say \"differs\"):\n{}",
        wrong.join("\n")
    );
}
