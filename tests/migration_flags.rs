//! docs/migration.md promises, flag by flag, what tocsin does with each vmalert flag.
//! These tests hold the promise to the parser and to the real `vmalert -help`.

mod support;

use std::collections::BTreeMap;

use clap::Parser;
use tocsin::cli::{Cli, normalize_args};

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

/// A value that the flag's parser accepts, so that only the flag's name is on trial.
fn sample_value(flag: &str) -> Option<&'static str> {
    let bools = [
        "dryRun",
        "disableAlertgroupLabel",
        "remoteWrite.disablePathAppend",
        "remoteRead.disablePathAppend",
        "replay.disableProgressBar",
        "rule.validateExpressions",
        "rule.validateTemplates",
        "version",
        "tls",
        "envflag.enable",
        "http.disableCORS",
        "httpListenAddr.useProxyProtocol",
        "notifier.blackhole",
        "notifier.showURL",
        "notifier.suppressDuplicateTargetErrors",
    ];
    if bools.contains(&flag) || flag.ends_with("tlsInsecureSkipVerify") {
        return None;
    }
    Some(match flag {
        f if f.contains("Interval")
            || f.contains("Delay")
            || f.contains("lookback")
            || f.contains("Step")
            || f.contains("Duration")
            || f.ends_with("Timeout") =>
        {
            "30s"
        }
        f if f.contains("maxQueueSize")
            || f.contains("maxBatchSize")
            || f.contains("concurrency")
            || f.contains("Attempts")
            || f.contains("maxDatapoints")
            || f.contains("Limit")
            || f.contains("Percent")
            || f.contains("Bytes") =>
        {
            "10"
        }
        "external.label" => "a=b",
        "loggerLevel" => "INFO",
        "loggerFormat" => "json",
        "tlsMinVersion" => "TLS13",
        f if f.starts_with("replay.time") => "2024-01-01T00:00:00Z",
        _ => "x",
    })
}

fn parses(flag: &str) -> Result<(), String> {
    let arg = match sample_value(flag) {
        Some(v) => format!("-{flag}={v}"),
        None => format!("-{flag}"),
    };
    let argv = ["tocsin".to_owned(), arg];
    Cli::try_parse_from(normalize_args(argv))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn table_matches_tocsins_parser() {
    let rows = table();
    assert!(
        rows.len() > 100,
        "the table lists vmalert's flags ({})",
        rows.len()
    );
    for (flag, status) in &rows {
        let got = parses(flag);
        match status.as_str() {
            "same" | "differs" | "inert" => {
                // `-version` prints and exits, which clap reports as an "error" kind.
                if flag == "version" {
                    continue;
                }
                if let Err(e) = got {
                    panic!("-{flag} is listed as {status} but rejected: {e}");
                }
            }
            "refused" => {
                assert!(got.is_err(), "-{flag} is listed as refused but accepted")
            }
            other => panic!("-{flag}: unknown status {other:?}"),
        }
    }
}

#[test]
fn table_lists_every_flag_of_real_vmalert() {
    let Some(vmalert) = support::peers::peer_or_skip("vmalert") else {
        return;
    };
    let out = std::process::Command::new(vmalert)
        .arg("-help")
        .output()
        .expect("run vmalert -help");
    let help = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let rows = table();
    let mut missing = Vec::new();
    let mut seen = 0;
    for line in help.lines() {
        let Some(rest) = line.strip_prefix("  -") else {
            continue;
        };
        let flag = rest.split_whitespace().next().unwrap_or_default();
        seen += 1;
        if !rows.contains_key(flag) {
            missing.push(flag.to_owned());
        }
    }
    assert!(seen > 100, "vmalert -help listed {seen} flags");
    assert!(
        missing.is_empty(),
        "docs/migration.md lacks vmalert flags: {missing:?}"
    );
}
