//! Parsing whole command lines: Go and GNU forms, defaults, subcommands.

use std::ffi::OsString;
use std::time::Duration;

use super::*;

/// Parses a command line as `main` does (without the program name).
pub(crate) fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    let mut v = vec!["tocsin"];
    v.extend_from_slice(args);
    Cli::try_parse_from(normalize_args(v))
}

#[test]
fn accepts_go_and_gnu_styles() {
    let c = parse(&[
        "-rule=a.yml",
        "-rule",
        "b.yml",
        "--rule=c.yml",
        "-dryRun",
        "-evaluationInterval=30s",
        "-external.label=cluster=eu",
        "-external.label",
        "replica=a",
    ])
    .unwrap();
    assert_eq!(c.run.rule, ["a.yml", "b.yml", "c.yml"]);
    assert!(c.run.dry_run);
    assert_eq!(c.run.evaluation_interval, Duration::from_secs(30));
    assert_eq!(
        c.run.external_label,
        [
            ("cluster".into(), "eu".into()),
            ("replica".into(), "a".into())
        ]
    );
}

#[test]
fn defaults_match_vmalert() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.run.evaluation_interval, Duration::from_secs(60));
    assert_eq!(c.run.http_listen_addr, ":8880");
    assert!(!c.run.dry_run);
    assert!(c.run.validate_expressions);
}

#[test]
fn bool_flags_take_explicit_values() {
    let c = parse(&["-dryRun=false", "-rule.validateExpressions=false"]).unwrap();
    assert!(!c.run.dry_run);
    assert!(!c.run.validate_expressions);
}

#[test]
fn unknown_flag_suggests_the_closest() {
    let e = parse(&["-evalutionInterval=1m"]).unwrap_err().to_string();
    assert!(e.contains("evaluationInterval"), "{e}");
}

#[test]
fn check_subcommand() {
    let c = parse(&["check", "a.yml", "b.yml"]).unwrap();
    match c.command {
        Some(Command::Check(a)) => assert_eq!(a.files, ["a.yml", "b.yml"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_rules_subcommand_takes_promtool_flags_in_both_places() {
    for args in [
        &[
            "test",
            "--junit=out.xml",
            "rules",
            "-run",
            "a",
            "--run=b",
            "--diff",
            "x.yml",
        ][..],
        &[
            "test", "rules", "x.yml", "--junit", "out.xml", "--run", "a", "--run", "b", "--diff",
        ],
    ] {
        let c = parse(args).unwrap();
        let Some(Command::Test(t)) = c.command else {
            panic!("{args:?}")
        };
        assert_eq!(t.junit.as_deref(), Some("out.xml"));
        let TestCommand::Rules(r) = t.command;
        assert_eq!(r.files, ["x.yml"]);
        assert_eq!(r.run, ["a", "b"]);
        assert!(r.diff && !r.debug && !r.ignore_unknown_fields);
    }
    assert!(parse(&["test", "rules"]).is_err());
}

#[test]
fn replay_subcommand_takes_relative_times_and_run_flags() {
    let c = parse(&[
        "replay",
        "--from",
        "-7d",
        "--to=-1h",
        "-rule=a.yml",
        "-datasource.url=http://ds",
        "--report",
        "--format=json",
    ])
    .unwrap();
    match c.command {
        Some(Command::Replay(a)) => {
            assert_eq!(a.from.as_deref(), Some("-7d"));
            assert_eq!(a.to.as_deref(), Some("-1h"));
            assert!(a.report);
            assert_eq!(a.format, "json");
            assert_eq!(a.run.rule, ["a.yml"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn backtest_takes_several_rule_sources_per_flag() {
    let c = parse(&[
        "backtest",
        "--old",
        "a.yml",
        "b.yml",
        "--new=c.yml,d.yml",
        "--from",
        "-7d",
    ])
    .unwrap();
    let Some(Command::Backtest(b)) = c.command else {
        panic!("not backtest")
    };
    assert_eq!(b.old, ["a.yml", "b.yml"]);
    assert_eq!(split_list(&b.new), ["c.yml", "d.yml"]);
}

#[test]
fn vmalert_replay_flags() {
    let c = parse(&[
        "-replay.timeFrom=2026-11-01T00:00:00Z",
        "-replay.maxDatapointsPerQuery=500",
        "-replay.disableProgressBar",
    ])
    .unwrap();
    assert_eq!(
        c.run.replay.time_from.as_deref(),
        Some("2026-11-01T00:00:00Z")
    );
    assert_eq!(c.run.replay.max_datapoints_per_query, 500);
    assert!(c.run.replay.disable_progress_bar);
    assert_eq!(c.run.replay.rules_delay, Duration::from_secs(1));
    assert_eq!(c.run.replay.rule_retry_attempts, 5);
}

#[test]
fn lists_split_on_commas_outside_braces() {
    let v = split_list(&["a.yml,rules/{x,y}.yml".into(), " b.yml ,".into()]);
    assert_eq!(v, ["a.yml", "rules/{x,y}.yml", "b.yml"]);
}

#[test]
fn negative_looking_values_are_not_flags() {
    let n = normalize_args(["tocsin", "-replay.timeFrom", "-7d", "-h"]);
    assert_eq!(
        n,
        ["tocsin", "--replay.timeFrom", "-7d", "-h"].map(OsString::from)
    );
}

#[test]
fn client_flags_given_lists_the_set_ones_in_order() {
    let c = parse(&[
        "-notifier.url=http://a",
        "-notifier.url=http://b",
        "-notifier.tlsCAFile=",
        "-notifier.tlsCAFile=/ca.pem",
        // Empty values are unset, as templated command lines pass them.
        "-notifier.bearerToken=",
        "-notifier.basicAuth.password=p",
        "-datasource.headers=X: y",
    ])
    .unwrap();
    assert_eq!(
        c.run.notifier_auth.given(),
        ["basicAuth.password", "tlsCAFile"]
    );
    assert_eq!(c.run.notifier_auth.value("tlsCAFile", 0), None);
    assert_eq!(
        c.run.notifier_auth.value("tlsCAFile", 1).as_deref(),
        Some("/ca.pem")
    );
    assert_eq!(c.run.datasource_auth.given(), ["headers"]);
    let c = parse(&["-remoteWrite.tlsInsecureSkipVerify"]).unwrap();
    assert_eq!(c.run.remote_write_auth.given(), ["tlsInsecureSkipVerify"]);
    assert!(parse(&[]).unwrap().run.notifier_auth.given().is_empty());
}
