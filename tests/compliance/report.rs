//! The outcome of a run: harness health (did the harness itself work?) and the compliance
//! failures, printed per case with the field, expected vs got, and the (virtual) time.

use std::fmt;

use super::stalls::{NOTED_MS, Stall};
use super::timebase::MAX_RTT_MS;

/// Which check found a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    AlertsApi,
    RulesApi,
    AlertsSeries,
    ReceptionMissed,
    ReceptionMismatch,
    ReceptionUnexpected,
    ReceptionNeverReceived,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Check::AlertsApi => "GET /api/v1/alerts",
            Check::RulesApi => "GET /api/v1/rules",
            Check::AlertsSeries => "ALERTS series",
            Check::ReceptionMissed => "alert reception: missed",
            Check::ReceptionMismatch => "alert reception: mismatch",
            Check::ReceptionUnexpected => "alert reception: unexpected",
            Check::ReceptionNeverReceived => "alert reception: still expected at the end",
        })
    }
}

/// One compliance failure.
#[derive(Clone, Debug)]
pub struct Failure {
    pub case: String,
    pub check: Check,
    /// Virtual time since the start, and wall time.
    pub at: String,
    pub detail: String,
}

/// Counters that show whether the harness itself did its job.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub samples_total: usize,
    pub samples_written: usize,
    pub failed_writes: usize,
    pub last_write_error: Option<String>,
    pub alerts_received: usize,
    pub bad_alert_posts: usize,
    pub polls: usize,
    pub failed_polls: usize,
    pub evaluator_exit: Option<String>,
    pub evaluator_log_tail: String,
    /// The machine's stalls during the run, with their time as failures show it.
    pub stalls: Vec<(String, Stall)>,
}

impl Health {
    /// Problems with the harness (not with the evaluator's compliance).
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.samples_written != self.samples_total {
            p.push(format!(
                "wrote {} of {} samples ({} failed requests, last error {:?})",
                self.samples_written, self.samples_total, self.failed_writes, self.last_write_error
            ));
        }
        if self.alerts_received == 0 {
            p.push("no alert was received".into());
        }
        if self.polls == 0 || self.failed_polls * 2 > self.polls {
            p.push(format!(
                "{} of {} API polls failed",
                self.failed_polls, self.polls
            ));
        }
        if let Some(e) = &self.evaluator_exit {
            p.push(format!(
                "evaluator exited early ({e}); log tail:\n{}",
                self.evaluator_log_tail
            ));
        }
        p
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Report {
    pub evaluator: String,
    pub scale: f64,
    pub real_seconds: f64,
    pub health: Health,
    pub failures: Vec<Failure>,
}

impl Report {
    /// The worst stall of the machine if it ate a whole `MaxRTT` of real time at this
    /// scale (half the slack the checks give a late evaluator): timing failures of such
    /// a run may be the machine's, not the evaluator's.
    pub fn stalled(&self) -> Option<&(String, Stall)> {
        let slack_ms = (MAX_RTT_MS as f64 * self.scale).round() as i64;
        self.health
            .stalls
            .iter()
            .filter(|(_, s)| s.late_ms >= slack_ms)
            .max_by_key(|(_, s)| s.late_ms)
    }

    /// Names of the cases with at least one failure.
    pub fn failed_cases(&self) -> Vec<String> {
        let mut v: Vec<String> = self.failures.iter().map(|f| f.case.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "=== Alert generator compliance: {} (time scale {}, {:.0}s) ===",
            self.evaluator, self.scale, self.real_seconds
        )?;
        let h = &self.health;
        writeln!(
            f,
            "harness: {}/{} samples written, {} alerts received, {} API polls ({} failed)",
            h.samples_written, h.samples_total, h.alerts_received, h.polls, h.failed_polls
        )?;
        for p in h.problems() {
            writeln!(f, "HARNESS PROBLEM: {p}")?;
        }
        if let Some((at, worst)) = h.stalls.iter().max_by_key(|(_, s)| s.late_ms) {
            writeln!(
                f,
                "machine: {} stalls of {NOTED_MS} ms or more; the worst {} ms late at {}: {}",
                h.stalls.len(),
                worst.late_ms,
                at,
                worst.what
            )?;
        }
        if self.failures.is_empty() {
            return writeln!(f, "all checks passed");
        }
        let mut sorted = self.failures.clone();
        sorted.sort_by(|a, b| a.case.cmp(&b.case).then(a.check.cmp(&b.check)));
        let mut last = String::new();
        let mut i = 0;
        while i < sorted.len() {
            let x = &sorted[i];
            // Identical findings (typically a train of missed resends) print once, counted.
            let same = sorted[i..]
                .iter()
                .take_while(|y| y.case == x.case && y.check == x.check && y.detail == x.detail)
                .count();
            if x.case != last {
                writeln!(f, "\n--- case {} ---", x.case)?;
                last = x.case.clone();
            }
            let times = if same > 1 {
                format!(
                    " (and {} more times, last at {})",
                    same - 1,
                    sorted[i + same - 1].at
                )
            } else {
                String::new()
            };
            writeln!(f, "  [{}] at {}: {}{times}", x.check, x.at, x.detail)?;
            i += same;
        }
        writeln!(
            f,
            "\n{} failures in {} of 4 cases",
            self.failures.len(),
            self.failed_cases().len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::stalls::Stalls;
    use super::*;

    fn report(scale: f64, stalls: &Stalls) -> Report {
        Report {
            evaluator: "e".into(),
            scale,
            real_seconds: 0.0,
            health: Health {
                stalls: stalls
                    .finish()
                    .into_iter()
                    .map(|s| (format!("t={}", s.at_real_ms), s))
                    .collect(),
                ..Health::default()
            },
            failures: Vec::new(),
        }
    }

    #[test]
    fn a_stall_counts_when_it_eats_a_real_max_rtt() {
        let s = Stalls::default();
        s.note("short", 1, NOTED_MS - 1);
        assert!(
            report(0.1, &s).health.stalls.is_empty(),
            "under 100 ms: not noted"
        );
        s.note("write", 2, 300);
        s.note("machine", 3, 499);
        assert_eq!(report(0.1, &s).health.stalls.len(), 2);
        assert!(
            report(0.1, &s).stalled().is_none(),
            "below 0.5 s at scale 0.1"
        );
        s.note("machine", 4, 500);
        let r = report(0.1, &s);
        let (at, worst) = r.stalled().expect("0.5 s at scale 0.1");
        assert_eq!((at.as_str(), worst.late_ms), ("t=4", 500));
        assert!(
            report(1.0, &s).stalled().is_none(),
            "at scale 1 the slack is 5 s"
        );
        assert!(
            r.to_string()
                .contains("3 stalls of 100 ms or more; the worst 500 ms late")
        );
    }
}
