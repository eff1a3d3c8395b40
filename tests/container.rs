//! The container files (`Dockerfile`, `integration/docker-compose.yml`) cannot be built
//! on a machine without a Docker engine, so what can drift is checked here instead: the
//! compose file's tocsin command parses with tocsin's own flag parser, every file it
//! mounts exists, the Prometheus and Alertmanager configs it ships pass the real
//! `promtool` and `amtool` checks, and the Dockerfile copies only paths that exist.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use serde_json::Value;
use tocsin::cli::{Cli, normalize_args};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Value {
    let path = repo().join("integration/docker-compose.yml");
    let text = std::fs::read_to_string(&path).expect("integration/docker-compose.yml is readable");
    serde_saphyr::from_str(&text).expect("docker-compose.yml is valid YAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn compose_command_is_accepted_by_tocsins_flag_parser() {
    let c = compose();
    let tocsin = &c["services"]["tocsin"];
    let mut argv = vec!["tocsin".to_owned()];
    argv.extend(strings(&tocsin["command"]));
    let cli = Cli::try_parse_from(normalize_args(argv.clone()))
        .unwrap_or_else(|e| panic!("compose command {argv:?} is rejected: {e}"));
    assert!(
        cli.command.is_none(),
        "the compose service runs live evaluation"
    );
    // The rule glob must point into the mounted rules directory.
    let rule_flag = argv
        .iter()
        .find_map(|a| a.strip_prefix("-rule="))
        .expect("the compose command sets -rule");
    let mounts = strings(&tocsin["volumes"]);
    assert!(
        mounts.iter().any(|m| m
            .split(':')
            .nth(1)
            .is_some_and(|dst| rule_flag.starts_with(dst))),
        "-rule={rule_flag} is not inside any mounted volume {mounts:?}"
    );
    // Every service's peers are reachable by the names it uses.
    for (flag, host) in [
        ("-datasource.url=", "prometheus"),
        ("-notifier.url=", "alertmanager"),
    ] {
        let url = argv.iter().find_map(|a| a.strip_prefix(flag)).unwrap();
        assert!(
            url.contains(host),
            "{flag}{url} should name the {host} service"
        );
        assert!(c["services"][host].is_object(), "no {host} service");
    }
}

#[test]
fn compose_mounts_exist() {
    let c = compose();
    let base = repo().join("integration");
    for (name, svc) in c["services"].as_object().expect("services") {
        let Some(vols) = svc.get("volumes") else {
            continue;
        };
        for v in strings(vols) {
            let src = v.split(':').next().unwrap();
            let path = base.join(src);
            assert!(
                path.exists(),
                "service {name} mounts {src}, missing at {}",
                path.display()
            );
        }
    }
}

fn run_ok(bin: &Path, args: &[&str]) {
    let out = Command::new(bin).args(args).output().expect("run the peer");
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn compose_prometheus_config_passes_promtool() {
    let Some(promtool) = support::peers::peer_or_skip("promtool") else {
        return;
    };
    let cfg = repo().join("integration/compose/prometheus.yml");
    run_ok(&promtool, &["check", "config", cfg.to_str().unwrap()]);
}

#[test]
fn compose_alertmanager_config_passes_amtool() {
    let Some(amtool) = support::peers::peer_or_skip("amtool") else {
        return;
    };
    let cfg = repo().join("integration/compose/alertmanager.yml");
    run_ok(&amtool, &["check-config", cfg.to_str().unwrap()]);
}

#[test]
fn dockerfile_copies_existing_paths_and_runs_the_shipped_rules() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let mut copied = 0;
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        if rest.starts_with("--from=") {
            continue;
        }
        let parts: Vec<&str> = rest.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(
                repo().join(src).exists(),
                "Dockerfile copies {src}, which does not exist"
            );
            copied += 1;
        }
    }
    assert!(copied >= 3, "the Dockerfile copies the sources and rules");
    assert!(text.contains("USER nonroot"), "the image runs as non-root");
    // The rules the image ships are valid.
    let rules: Vec<String> = std::fs::read_dir(repo().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".yml"))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("check")
        .args(&rules)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
