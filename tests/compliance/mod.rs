//! A Rust re-implementation of the Prometheus Alert Generator Compliance test suite
//! (prometheus/compliance, `alert_generator/`), runnable as a cargo integration test
//! against any evaluator that takes a rule file, a datasource and a notifier URL.
//!
//! See docs/compliance.md for how it maps the official suite and how time is scaled.

pub mod cases;
pub mod checks;
pub mod receiver;
pub mod remote_write;
pub mod report;
pub mod rules_file;
pub mod stalls;
pub mod timebase;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::support::peers::{PeerSet, free_port};
use crate::support::servers::{spawn_ready, start_prometheus};
use cases::{Case, GI_MS};
use report::{Check, Failure, Health, Report};
use timebase::{RESEND_DELAY_MS, Timebase, now_real_ms};

/// What the evaluator under test needs to know; the argv builder turns it into flags.
#[derive(Clone, Debug)]
pub struct EvaluatorSetup {
    /// The scaled copy of the upstream rules file.
    pub rules_file: PathBuf,
    /// Prometheus base URL: datasource, remote-write and remote-read target.
    pub datasource_url: String,
    /// Base URL of the harness' alert receiver (alerts arrive at `/api/v2/alerts`).
    pub notifier_url: String,
    /// Port the evaluator must serve `/api/v1/rules` and `/api/v1/alerts` on (127.0.0.1).
    pub listen_port: u16,
    /// The suite's 1 m resend delay, scaled.
    pub resend_delay: Duration,
    /// The suite's 30 s group interval, scaled (every group sets it explicitly anyway).
    pub evaluation_interval: Duration,
}

/// Builds the evaluator's argv (program first) for a setup.
pub type ArgvBuilder<'a> = &'a dyn Fn(&EvaluatorSetup) -> Vec<String>;

/// A run either happened or could not (a peer or the evaluator binary is missing).
pub enum Outcome {
    Skipped(String),
    Ran(Report),
}

/// The time scale: `TOCSIN_COMPLIANCE_SCALE` (0 < s ≤ 1), default 0.1 (about 4 minutes).
pub fn scale_from_env() -> f64 {
    std::env::var("TOCSIN_COMPLIANCE_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && *s <= 1.0)
        .unwrap_or(0.1)
}

/// Turns a skip into a failure under `CI=true`, as the project's peer tests do.
pub fn skip_or_fail(reason: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("compliance harness cannot run under CI=true: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

struct Running {
    tb: Timebase,
    client: reqwest::Client,
    eval_url: String,
    prom_url: String,
    failures: Vec<Failure>,
    failed: BTreeSet<(String, Check)>,
    health: Health,
}

impl Running {
    fn fail(&mut self, case: &str, check: Check, at: i64, detail: String) {
        if self.failed.insert((case.to_string(), check)) {
            let at = checks::at(&self.tb, at);
            self.failures.push(Failure {
                case: case.to_string(),
                check,
                at,
                detail,
            });
        }
    }

    async fn get(&mut self, url: &str) -> Option<String> {
        self.health.polls += 1;
        let r = self
            .client
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => r.text().await.ok(),
            _ => {
                self.health.failed_polls += 1;
                None
            }
        }
    }

    /// One round of the three periodic checks, as upstream's three loops do it.
    async fn poll(&mut self, cases: &[Case], defs: &BTreeMap<String, rules_file::GroupDef>) {
        let tb = self.tb;
        let live = |now: i64| -> Vec<&Case> {
            cases
                .iter()
                .filter(|c| tb.rel(now) <= c.test_until)
                .collect()
        };

        let now = tb.now();
        if let Some(body) = self.get(&format!("{}/api/v1/alerts", self.eval_url)).await {
            match checks::parse_alerts(&body, &tb) {
                Ok(by_group) => {
                    for c in live(now) {
                        let got = by_group.get(c.group).map(Vec::as_slice).unwrap_or(&[]);
                        if let Err(e) = checks::check_alerts(c, now, got, &tb) {
                            self.fail(c.group, Check::AlertsApi, now, e);
                        }
                    }
                }
                Err(_) => self.health.failed_polls += 1,
            }
        }

        let now = tb.now();
        if let Some(body) = self.get(&format!("{}/api/v1/rules", self.eval_url)).await {
            if let Ok(by_group) = checks::parse_rules(&body, &tb) {
                for c in live(now) {
                    let Some(def) = defs.get(c.group) else {
                        continue;
                    };
                    if let Err(e) = checks::check_rules(c, def, now, by_group.get(c.group), &tb) {
                        self.fail(c.group, Check::RulesApi, now, e);
                    }
                }
            } else {
                self.health.failed_polls += 1;
            }
        }

        let now = tb.now();
        let query_s = tb.to_real(now) / 1000;
        let url = format!("{}/api/v1/query?query=ALERTS&time={query_s}", self.prom_url);
        if let Some(body) = self.get(&url).await {
            if let Ok(by_group) = checks::parse_metrics(&body) {
                for c in live(now) {
                    let got = by_group.get(c.group).map(Vec::as_slice).unwrap_or(&[]);
                    if let Err(e) = checks::check_metrics(c, now, query_s, got, &tb) {
                        self.fail(c.group, Check::AlertsSeries, now, e);
                    }
                }
            } else {
                self.health.failed_polls += 1;
            }
        }
    }
}

/// Runs all four cases together against the evaluator `argv` builds, the way the official
/// suite does, and reports every check that failed.
pub async fn run(evaluator: &str, argv: ArgvBuilder<'_>) -> Result<Outcome, String> {
    let started = Instant::now();
    let scale = scale_from_env();
    let Some(prom_bin) = PeerSet::Stable.find("prometheus") else {
        return Ok(Outcome::Skipped(format!(
            "prometheus not found in {}",
            PeerSet::Stable.dir().display()
        )));
    };
    let stalls = stalls::Stalls::watch();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_prom, prom_url) = start_prometheus(&prom_bin, dir.path(), scale).await?;

    let receiver = receiver::Receiver::default();
    let am_port = receiver
        .start()
        .await
        .map_err(|e| format!("alert receiver: {e}"))?;

    let rules_path = dir.path().join("rules.yaml");
    std::fs::write(&rules_path, rules_file::scaled_text(scale)?).map_err(|e| e.to_string())?;
    let setup = EvaluatorSetup {
        rules_file: rules_path,
        datasource_url: prom_url.clone(),
        notifier_url: format!("http://127.0.0.1:{am_port}"),
        listen_port: free_port(),
        resend_delay: Duration::from_millis((RESEND_DELAY_MS as f64 * scale).round() as u64),
        evaluation_interval: Duration::from_millis((GI_MS as f64 * scale).round() as u64),
    };
    let args = argv(&setup);
    match args.first() {
        Some(p) if PathBuf::from(p).is_file() => {}
        other => {
            return Ok(Outcome::Skipped(format!(
                "evaluator binary {other:?} not found"
            )));
        }
    }
    let eval_url = format!("http://127.0.0.1:{}", setup.listen_port);
    let mut eval = spawn_ready(
        evaluator,
        &args,
        dir.path(),
        &eval_url,
        "/api/v1/rules",
        Duration::from_secs(30),
    )
    .await?;

    let cases = cases::all();
    for c in &cases {
        println!("case {}: {}", c.group, c.description);
    }
    let defs: BTreeMap<String, rules_file::GroupDef> = rules_file::upstream_groups()?
        .into_iter()
        .map(|g| (g.name.clone(), g))
        .collect();
    let stats = remote_write::WriteStats {
        total: remote_write::count(&cases),
        late: stalls.clone(),
        ..Default::default()
    };
    let (tb, writer) = remote_write::start(
        format!("{prom_url}/api/v1/write"),
        &cases,
        scale,
        stats.clone(),
    )
    .await;
    let run_end = remote_write::end_of(&cases);
    let expected = cases
        .iter()
        .flat_map(|c| {
            c.expected_notifications(tb.zero_real_ms, tb.resolved_retention_ms(), run_end)
        })
        .collect();
    receiver.arm(tb, expected);

    let mut run = Running {
        tb,
        client: reqwest::Client::new(),
        eval_url,
        prom_url,
        failures: Vec::new(),
        failed: BTreeSet::new(),
        health: Health {
            samples_total: stats.total,
            ..Default::default()
        },
    };
    let end = cases.iter().map(|c| c.test_until).max().unwrap_or(0);
    // Upstream waits half a sample interval, then checks once per group interval.
    let mut k = 1;
    loop {
        let at = tb.zero_real_ms + 7_500 + k * GI_MS;
        if tb.rel(at) > end {
            break;
        }
        let wait = tb.to_real(at) - now_real_ms();
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
        run.poll(&cases, &defs).await;
        receiver.cleanup();
        if let Some(status) = eval.exited() {
            run.health.evaluator_exit = Some(status);
            break;
        }
        k += 1;
    }
    // The last samples are due at the very end, after the last check: give the writer
    // until then plus a 10 s delivery margin.
    let last_due = tb.to_real(tb.zero_real_ms + end) - now_real_ms();
    let grace = Duration::from_millis(last_due.max(0) as u64) + Duration::from_secs(10);
    if tokio::time::timeout(grace, writer).await.is_err() {
        run.health
            .last_write_error
            .get_or_insert("writer still running at the end".into());
    }

    let receiver::Finished {
        errors,
        never_received,
        received,
        bad_requests,
    } = receiver.finish();
    collect_reception(&mut run, errors, never_received);
    run.health.samples_written = stats.written.load(Ordering::SeqCst);
    run.health.failed_writes = stats.failed_requests.load(Ordering::SeqCst);
    if let Ok(e) = stats.last_error.lock()
        && e.is_some()
    {
        run.health.last_write_error = e.clone();
    }
    run.health.alerts_received = received.len();
    run.health.bad_alert_posts = bad_requests;
    run.health.evaluator_log_tail = eval.log_tail(30);
    run.health.stalls = stalls
        .finish()
        .into_iter()
        .map(|s| (checks::at(&tb, tb.to_virtual(s.at_real_ms)), s))
        .collect();
    Ok(Outcome::Ran(Report {
        evaluator: evaluator.to_string(),
        scale,
        real_seconds: started.elapsed().as_secs_f64(),
        health: run.health,
        failures: run.failures,
    }))
}

fn collect_reception(
    run: &mut Running,
    errors: BTreeMap<String, receiver::GroupErrors>,
    never: Vec<cases::ExpectedNotification>,
) {
    let tb = run.tb;
    let state = |resolved: bool| if resolved { "resolved" } else { "firing" };
    let mut push = |case: &str, check: Check, at: i64, detail: String| {
        run.failures.push(Failure {
            case: case.to_string(),
            check,
            at: checks::at(&tb, at),
            detail,
        });
    };
    let mut facing = BTreeSet::new();
    for (group, e) in errors {
        if e.missed.is_empty() && e.unexpected.is_empty() && e.mismatched.is_empty() {
            continue;
        }
        facing.insert(group.clone());
        for m in e.missed {
            let detail = format!(
                "expected a {} notification for {:?} (resend: {}), annotations {:?}",
                state(m.resolved),
                m.labels,
                m.resend,
                m.annotations
            );
            push(&group, Check::ReceptionMissed, m.ts, detail);
        }
        for (t, ex, a, why) in e.mismatched {
            push(
                &group,
                Check::ReceptionMismatch,
                t,
                format!("expected {} for {:?}: {why}", state(ex.resolved), a.labels),
            );
        }
        for (t, a) in e.unexpected {
            let detail = format!(
                "{:?} startsAt={:?} endsAt={:?} annotations={:?}",
                a.labels, a.starts_at, a.ends_at, a.annotations
            );
            push(&group, Check::ReceptionUnexpected, t, detail);
        }
    }
    for n in never {
        let group = n.labels.get("rulegroup").cloned().unwrap_or_default();
        if facing.contains(&group) {
            continue;
        }
        let detail = format!(
            "{} notification for {:?} was never received",
            state(n.resolved),
            n.labels
        );
        push(&group, Check::ReceptionNeverReceived, n.ts, detail);
    }
}
