//! Prometheus Alert Generator Compliance, re-implemented as a cargo test (issue 4).
//!
//! `vmalert_reference` proves the harness against vmalert 1.79 (informative: vmalert is not
//! fully compliant); `tocsin_is_compliant` requires every check to pass for tocsin.
//! Run: `cargo test --test compliance -- --include-ignored --nocapture`
//! (`TOCSIN_COMPLIANCE_SCALE=0.1` is the default time scale; 1.0 is the official timing).

#[path = "compliance/mod.rs"]
mod harness;
mod support;

use harness::{EvaluatorSetup, Outcome, timebase::go_duration};
use support::peers::PeerSet;

/// The flags every vmalert-compatible evaluator takes, with every duration scaled.
fn core_argv(program: String, s: &EvaluatorSetup) -> Vec<String> {
    vec![
        program,
        format!("-rule={}", s.rules_file.display()),
        format!("-datasource.url={}", s.datasource_url),
        format!("-remoteWrite.url={}", s.datasource_url),
        format!("-remoteRead.url={}", s.datasource_url),
        format!("-notifier.url={}", s.notifier_url),
        format!("-httpListenAddr=127.0.0.1:{}", s.listen_port),
        format!("-external.url=http://127.0.0.1:{}", s.listen_port),
        format!("-evaluationInterval={}", go_duration(s.evaluation_interval)),
        format!("-rule.resendDelay={}", go_duration(s.resend_delay)),
    ]
}

/// vmalert as the official suite's test-vm-vmalert.yaml runs it: the core flags plus the
/// three that switch vmalert's non-Prometheus defaults off.
fn vmalert_argv(program: String, s: &EvaluatorSetup) -> Vec<String> {
    let mut argv = core_argv(program, s);
    argv.extend([
        "-datasource.queryTimeAlignment=false".to_string(),
        "-disableAlertgroupLabel=true".to_string(),
        "-remoteWrite.maxBatchSize=1".to_string(),
    ]);
    argv
}

async fn run_or_skip(
    name: &str,
    argv: harness::ArgvBuilder<'_>,
) -> Option<harness::report::Report> {
    match harness::run(name, argv).await {
        Ok(Outcome::Ran(report)) => {
            println!("{report}");
            Some(report)
        }
        Ok(Outcome::Skipped(reason)) => {
            harness::skip_or_fail(&reason);
            None
        }
        Err(e) => panic!("compliance harness could not run against {name}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "informative reference run (about 4 minutes); run with --include-ignored"]
async fn vmalert_reference() {
    let Some(bin) = PeerSet::Stable.find("vmalert") else {
        harness::skip_or_fail(&format!(
            "vmalert not found in {}",
            PeerSet::Stable.dir().display()
        ));
        return;
    };
    let argv = move |s: &EvaluatorSetup| vmalert_argv(bin.display().to_string(), s);
    let Some(report) = run_or_skip("vmalert", &argv).await else {
        return;
    };
    // Informative: vmalert may fail checks, but the harness itself must have worked.
    let problems = report.health.problems();
    assert!(
        problems.is_empty(),
        "the harness did not work against vmalert: {problems:?}"
    );
    println!(
        "vmalert failed checks in cases: {:?}",
        report.failed_cases()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tocsin_is_compliant() {
    // The core flags plus -disableAlertgroupLabel: tocsin adds vmalert's `alertgroup`
    // label by default (drop-in compatibility), and the specification compares exact
    // label sets, so it is switched off as the official suite's vmalert config does.
    let argv = |s: &EvaluatorSetup| {
        let mut v = core_argv(env!("CARGO_BIN_EXE_tocsin").to_string(), s);
        v.push("-disableAlertgroupLabel=true".to_string());
        v
    };
    let Some(mut report) = run_or_skip("tocsin", &argv).await else {
        return;
    };
    // At time scale 0.1 a real half-second is half the slack of every timing check: a
    // run that failed while the machine itself stalled that long (measured, see
    // `harness::stalls`) is run once more, and that run must pass.
    if !report.failures.is_empty()
        && let Some((at, worst)) = report.stalled()
    {
        println!(
            "the run failed while the machine stalled {} ms at {at} ({}): running it once more",
            worst.late_ms, worst.what
        );
        let Some(again) = run_or_skip("tocsin", &argv).await else {
            return;
        };
        report = again;
    }
    let problems = report.health.problems();
    assert!(
        problems.is_empty(),
        "the harness did not work against tocsin: {problems:?}"
    );
    assert!(
        report.failures.is_empty(),
        "tocsin is not compliant:\n{report}"
    );
}
