//! The watchdog (`-rule.watchdog=NAME`): an alert whose condition is "tocsin's whole
//! pipeline works", for a dead man's switch at Alertmanager.
//!
//! At every watchdog tick the engine asks the datasource a trivial query and looks at
//! the notifier's targets; [`verdict`] decides from those facts and explicit times
//! whether the pipeline is healthy, and [`Watchdog::step`] turns the verdict into the
//! notification to send. Nothing here reads the clock or does I/O.
//!
//! Why the watchdog is sent *resolved* while the pipeline is broken instead of not at
//! all: the notifier learns that an Alertmanager is back only by sending to it, and when
//! no other alert fires the watchdog is the only thing sent. The resolved watchdog is
//! that probe; it also ends the watchdog at once at every Alertmanager that still
//! listens. When tocsin itself is gone, nothing is sent, and Alertmanager expires the
//! watchdog at its `endsAt`.

use std::sync::Arc;
use std::time::Duration;

use super::alert::{Annotations, Notification};
use crate::labels::Labels;

/// How many watchdog intervals a firing watchdog stays valid at Alertmanager without
/// being sent again (Prometheus' factor for `endsAt`).
pub const VALID_INTERVALS: i64 = 4;

/// Whether the pipeline works, and if not, which part failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// No datasource answer within the last interval (`last_answer_ms`: the most recent
    /// one, if any).
    DatasourceSilent {
        last_answer_ms: Option<i64>,
    },
    /// A notifier target's most recent send failed (or there is no target at all).
    NotifierFailing {
        target: String,
        error: String,
    },
}

impl Verdict {
    pub fn is_healthy(&self) -> bool {
        *self == Verdict::Healthy
    }

    /// The failing part, as the `reason` label of `tocsin_watchdog_unhealthy_checks`.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Verdict::Healthy => None,
            Verdict::DatasourceSilent { .. } => Some("datasource"),
            Verdict::NotifierFailing { .. } => Some("notifier"),
        }
    }

    /// Why the pipeline is unhealthy, for the API's `lastError`.
    pub fn explain(&self, now_ms: i64) -> Option<String> {
        match self {
            Verdict::Healthy => None,
            Verdict::DatasourceSilent {
                last_answer_ms: None,
            } => Some("the datasource has not answered yet".into()),
            Verdict::DatasourceSilent {
                last_answer_ms: Some(t),
            } => Some(format!(
                "the datasource last answered {:.1}s ago",
                (now_ms - t) as f64 / 1000.0
            )),
            Verdict::NotifierFailing { target, error } => Some(format!(
                "the last send to the notifier {target} failed: {error}"
            )),
        }
    }
}

/// The notifier targets' state, as the verdict needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifierState {
    /// Every target's most recent send succeeded (or none was tried yet).
    Reachable,
    /// No target to send to: nothing could reach Alertmanager.
    NoTargets,
    /// The first target whose most recent send failed, and why.
    Failing { target: String, error: String },
}

/// Whether the pipeline is healthy at `now_ms`: the datasource answered within the
/// last `window_ms` (one watchdog interval: one failed probe is tolerated, two are not)
/// and the notifier is reachable.
pub fn verdict(
    now_ms: i64,
    window_ms: i64,
    datasource_answer_ms: Option<i64>,
    notifier: &NotifierState,
) -> Verdict {
    match datasource_answer_ms {
        Some(t) if now_ms - t <= window_ms => {}
        last_answer_ms => return Verdict::DatasourceSilent { last_answer_ms },
    }
    match notifier {
        NotifierState::Reachable => Verdict::Healthy,
        NotifierState::NoTargets => Verdict::NotifierFailing {
            target: "(none)".into(),
            error: "no Alertmanager target".into(),
        },
        NotifierState::Failing { target, error } => Verdict::NotifierFailing {
            target: target.clone(),
            error: error.clone(),
        },
    }
}

/// The watchdog alert's state: since when it has been firing.
#[derive(Debug, Clone)]
pub struct Watchdog {
    labels: Labels,
    annotations: Annotations,
    generator_url: Arc<str>,
    interval_ms: i64,
    /// The first healthy tick of the current healthy run.
    firing_since_ms: Option<i64>,
}

impl Watchdog {
    /// The watchdog alert `alertname=name` plus the external labels, checked every
    /// `interval`.
    pub fn new(
        name: &str,
        external_labels: &Labels,
        external_url: &str,
        interval: Duration,
    ) -> Self {
        let mut b = external_labels.to_builder();
        b.set(super::shared::alertname(), name);
        Watchdog {
            labels: b.build(),
            annotations: Annotations::from_pairs([(
                "summary",
                "tocsin's pipeline works: the datasource answers and Alertmanager is reachable. \
                 This alert always fires; route it to a dead man's switch.",
            )]),
            generator_url: Arc::from(external_url),
            interval_ms: interval.as_millis() as i64,
            firing_since_ms: None,
        }
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    pub fn annotations(&self) -> &Annotations {
        &self.annotations
    }

    /// Since when the watchdog fires (`None` while the pipeline is broken).
    pub fn firing_since_ms(&self) -> Option<i64> {
        self.firing_since_ms
    }

    /// The tick at `now_ms` with its verdict: the watchdog to send. Firing while
    /// healthy, valid for [`VALID_INTERVALS`] intervals (so Alertmanager expires it when
    /// tocsin stops sending); resolved at `now_ms` while unhealthy (see the module
    /// documentation for why it is sent at all then).
    pub fn step(&mut self, now_ms: i64, v: &Verdict) -> Notification {
        let (starts_at_ms, ends_at_ms) = if v.is_healthy() {
            let since = *self.firing_since_ms.get_or_insert(now_ms);
            (since, now_ms + VALID_INTERVALS * self.interval_ms)
        } else {
            (self.firing_since_ms.take().unwrap_or(now_ms), now_ms)
        };
        Notification {
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            starts_at_ms,
            ends_at_ms,
            generator_url: self.generator_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1000;
    const T0: i64 = 1_700_000_000_000;

    fn fails() -> NotifierState {
        NotifierState::Failing {
            target: "http://am:9093/api/v2/alerts".into(),
            error: "connection refused".into(),
        }
    }

    #[test]
    fn healthy_only_with_a_recent_answer_and_a_reachable_notifier() {
        let ok = NotifierState::Reachable;
        assert_eq!(
            verdict(T0, 60 * S, Some(T0 - 60 * S), &ok),
            Verdict::Healthy
        );
        assert_eq!(verdict(T0, 60 * S, Some(T0 + 5), &ok), Verdict::Healthy);
        assert_eq!(
            verdict(T0, 60 * S, Some(T0 - 60 * S - 1), &ok),
            Verdict::DatasourceSilent {
                last_answer_ms: Some(T0 - 60 * S - 1)
            }
        );
        assert_eq!(
            verdict(T0, 60 * S, None, &ok),
            Verdict::DatasourceSilent {
                last_answer_ms: None
            }
        );
        let v = verdict(T0, 60 * S, Some(T0), &fails());
        assert_eq!(v.reason(), Some("notifier"));
        assert_eq!(
            v.explain(T0).unwrap(),
            "the last send to the notifier http://am:9093/api/v2/alerts failed: connection refused"
        );
        let none = verdict(T0, 60 * S, Some(T0), &NotifierState::NoTargets);
        assert_eq!(none.reason(), Some("notifier"));
        // A silent datasource is named first: it is why nothing useful is sent.
        assert_eq!(
            verdict(T0, 60 * S, None, &fails()).reason(),
            Some("datasource")
        );
        assert_eq!(
            verdict(T0, 60 * S, Some(T0 - 90 * S), &fails())
                .explain(T0)
                .unwrap(),
            "the datasource last answered 90.0s ago"
        );
    }

    #[test]
    fn fires_while_healthy_and_resolves_when_broken() {
        let ext = Labels::from_pairs([("cluster", "eu")]);
        let mut w = Watchdog::new("Watchdog", &ext, "http://tocsin", Duration::from_secs(10));
        assert_eq!(w.labels().get("alertname"), Some("Watchdog"));
        assert_eq!(w.labels().get("cluster"), Some("eu"));

        let n = w.step(T0, &Verdict::Healthy);
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (T0, T0 + 40 * S));
        // Each healthy tick extends endsAt; startsAt stays.
        let n = w.step(T0 + 10 * S, &Verdict::Healthy);
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (T0, T0 + 50 * S));
        assert_eq!(w.firing_since_ms(), Some(T0));

        // Broken: resolved now (endsAt = the tick), keeping startsAt.
        let broken = Verdict::DatasourceSilent {
            last_answer_ms: Some(T0 + 5 * S),
        };
        let n = w.step(T0 + 20 * S, &broken);
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (T0, T0 + 20 * S));
        assert_eq!(w.firing_since_ms(), None);
        let n = w.step(T0 + 30 * S, &broken);
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (T0 + 30 * S, T0 + 30 * S));

        // Healthy again: a new firing run starts.
        let n = w.step(T0 + 40 * S, &Verdict::Healthy);
        assert_eq!((n.starts_at_ms, n.ends_at_ms), (T0 + 40 * S, T0 + 80 * S));
    }
}
