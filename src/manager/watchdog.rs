//! The watchdog's task (`-rule.watchdog`): every interval, ask the datasource a trivial
//! query, look at the notifier's targets, let the rule core's [`verdict`] decide and
//! send what [`Watchdog::step`] returns. The watchdog shows in the API and UI as the
//! one rule of a group named after it, in the file `-rule.watchdog`, and in
//! `/metrics` as `tocsin_watchdog_healthy` and `tocsin_watchdog_unhealthy_checks`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::config::AlertingSpec;
use crate::datasource::InstantQuery;
use crate::labels::Str;
use crate::rule::watchdog::{NotifierState, Verdict, Watchdog, verdict};
use crate::rule::{AlertState, Health, system_time};
use crate::status::{AlertStatus, AlertingStatus, GroupStatus, RuleKindStatus, RuleStatus};
use crate::template::Template;

/// The file the watchdog's group shows in the API.
pub const WATCHDOG_FILE: &str = "-rule.watchdog";

/// What the watchdog asks the datasource: any answer will do.
pub const PROBE: &str = "vector(1)";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The watchdog's metrics.
#[derive(Clone, Default)]
pub struct WatchdogMetrics {
    healthy: Gauge,
    unhealthy: Family<ReasonLabel, Counter>,
}

impl WatchdogMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "tocsin_watchdog_healthy",
            "1 while the watchdog fires (datasource answering, notifier reachable), 0 otherwise",
            self.healthy.clone(),
        );
        r.register(
            "tocsin_watchdog_unhealthy_checks",
            "Watchdog checks that found the pipeline broken, by the part that failed",
            self.unhealthy.clone(),
        );
        // Both reasons exist at 0 from the start, so that the first failure is an increase.
        for reason in ["datasource", "notifier"] {
            let _ = self.unhealthy.get_or_create(&ReasonLabel { reason });
        }
    }
}

/// The watchdog as the API shows a rule's definition: its annotations as written are
/// the text it sends.
fn written(name: &str, core: &Watchdog) -> AlertingSpec {
    let annotations = core.annotations().iter().map(|(k, v)| {
        // The watchdog's own constant text, without template actions: it parses.
        let t = Template::parse(k, v).expect("the watchdog's annotations are plain text");
        (k.to_string(), t)
    });
    AlertingSpec {
        name: name.into(),
        annotations: annotations.collect(),
        ..Default::default()
    }
}

/// The running watchdog.
pub struct WatchdogTask {
    engine: Arc<Engine>,
    core: Watchdog,
    interval: Duration,
    last_answer_ms: Option<i64>,
    metrics: WatchdogMetrics,
    status: GroupStatus,
}

impl WatchdogTask {
    pub fn new(
        engine: Arc<Engine>,
        name: &str,
        interval: Duration,
        metrics: WatchdogMetrics,
    ) -> Self {
        let s = &engine.settings;
        let core = Watchdog::new(name, &s.external_labels, &s.external_url, interval);
        let mut status = GroupStatus::new(WATCHDOG_FILE, name, interval);
        let rule = RuleStatus::new(
            crate::config::group_id(WATCHDOG_FILE, name),
            name,
            PROBE,
            RuleKindStatus::Alerting(AlertingStatus::new(Arc::new(written(name, &core)))),
        );
        status.rules = vec![Arc::new(rule)];
        WatchdogTask {
            engine,
            core,
            interval,
            last_answer_ms: None,
            metrics,
            status,
        }
    }

    /// Checks at once, then every interval, until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        let clock = self.engine.clock;
        let step = self.interval.as_millis().max(1) as i64;
        let mut next = clock.now_ms();
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = clock.sleep_until_ms(next) => {}
            }
            self.tick().await;
            let now = clock.now_ms();
            next += step;
            if next <= now {
                next += (now - next) / step * step + step;
            }
        }
    }

    /// One check: probe, decide, send, publish.
    pub async fn tick(&mut self) -> Verdict {
        let clock = self.engine.clock;
        let now = clock.now_ms();
        let probe = InstantQuery {
            expr: PROBE.to_string(),
            time_ms: now,
            params: Vec::new(),
            headers: Vec::new(),
        };
        let probed = self.engine.querier.instant(&probe).await;
        match &probed {
            Ok(_) => self.last_answer_ms = Some(clock.now_ms()),
            Err(e) => tracing::warn!("watchdog: the datasource did not answer: {e}"),
        }
        let v = verdict(
            now,
            self.interval.as_millis() as i64,
            self.last_answer_ms,
            &self.notifier_state(),
        );
        let n = self.core.step(now, &v);
        if let Some(notifier) = &self.engine.notifier {
            notifier.send(&[n], &[]);
        }
        self.metrics.healthy.set(i64::from(v.is_healthy()));
        if let Some(reason) = v.reason() {
            self.metrics
                .unhealthy
                .get_or_create(&ReasonLabel { reason })
                .inc();
        }
        self.publish(now, &v);
        v
    }

    fn notifier_state(&self) -> NotifierState {
        let Some(n) = &self.engine.notifier else {
            return NotifierState::NoTargets;
        };
        let targets = n.status();
        if targets.is_empty() {
            return NotifierState::NoTargets;
        }
        match targets.into_iter().find(|t| t.last_error.is_some()) {
            None => NotifierState::Reachable,
            Some(t) => NotifierState::Failing {
                error: t.last_error.unwrap_or_default(),
                target: t.url,
            },
        }
    }

    fn publish(&mut self, now: i64, v: &Verdict) {
        let at = system_time(now);
        let Some(prev) = self.status.rules.first() else {
            return;
        };
        let mut rule = (**prev).clone();
        rule.health = if v.is_healthy() {
            Health::Ok
        } else {
            Health::Err
        };
        rule.last_error = v.explain(now).map(Str::from);
        rule.last_evaluation = Some(at);
        if let RuleKindStatus::Alerting(a) = &mut rule.kind {
            a.alerts = self
                .core
                .firing_since_ms()
                .map(|since| {
                    let mut alert = AlertStatus::new(
                        self.core.labels().clone(),
                        AlertState::Firing,
                        system_time(since),
                        1.0,
                    );
                    alert.annotations = self.core.annotations().clone();
                    alert
                })
                .into_iter()
                .collect();
        }
        self.status.rules = vec![Arc::new(rule)];
        self.status.last_evaluation = Some(at);
        self.engine.board.publish(Arc::new(self.status.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::datasource::QueryError;
    use crate::datasource::fake::FakeQuerier;
    use crate::notifier::{Notifier, NotifierMetrics};

    const T0: i64 = 1_700_000_000_000;

    fn engine(q: Arc<FakeQuerier>, notifier: Option<Notifier>) -> Arc<Engine> {
        Arc::new(Engine {
            notifier,
            ..Engine::querying(q, Clock::tokio_at(T0))
        })
    }

    fn down() -> Result<Vec<crate::sample::Sample>, QueryError> {
        Err(QueryError::Unreachable {
            url: "http://prom".into(),
            message: "connection refused".into(),
        })
    }

    /// The watchdog's rule as the API shows it.
    fn shown(e: &Engine) -> Arc<RuleStatus> {
        let snap = e.board.snapshot();
        assert_eq!(&*snap[0].file, WATCHDOG_FILE);
        snap[0].rules[0].clone()
    }

    #[tokio::test(start_paused = true)]
    async fn one_failed_probe_is_tolerated_two_are_not() {
        let q = Arc::new(FakeQuerier::new());
        let cancel = CancellationToken::new();
        let n = Notifier::blackhole(NotifierMetrics::default(), cancel.clone());
        let e = engine(q.clone(), Some(n));
        let mut w = WatchdogTask::new(
            e.clone(),
            "Watchdog",
            Duration::from_secs(10),
            WatchdogMetrics::default(),
        );

        assert_eq!(w.tick().await, Verdict::Healthy);
        assert_eq!(q.queries()[0].expr, PROBE);
        assert_eq!(q.queries()[0].time_ms, T0);
        let r = shown(&e);
        assert_eq!(r.health, Health::Ok);
        let firing: Vec<_> = r.active_alerts().collect();
        assert_eq!(firing.len(), 1);
        assert_eq!(firing[0].labels.get("alertname"), Some("Watchdog"));
        assert_eq!(firing[0].active_at_ms, T0);

        q.set(PROBE, down());
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            w.tick().await,
            Verdict::Healthy,
            "the answer at T0 is within 10s"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        let v = w.tick().await;
        assert_eq!(
            v,
            Verdict::DatasourceSilent {
                last_answer_ms: Some(T0)
            }
        );
        let r = shown(&e);
        assert_eq!(r.health, Health::Err);
        assert_eq!(
            r.last_error.as_deref(),
            Some("the datasource last answered 20.0s ago")
        );
        assert_eq!(r.active_alerts().count(), 0);
        assert_eq!(w.metrics.healthy.get(), 0);

        // Back: firing again, from the new tick.
        q.set(PROBE, Ok(Vec::new()));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(w.tick().await, Verdict::Healthy);
        let r = shown(&e);
        assert_eq!(
            r.active_alerts().next().unwrap().active_at(),
            system_time(T0 + 30_000)
        );
        assert_eq!(w.metrics.healthy.get(), 1);
        cancel.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn no_notifier_is_not_a_working_pipeline() {
        let e = engine(Arc::new(FakeQuerier::new()), None);
        let mut w = WatchdogTask::new(
            e.clone(),
            "Watchdog",
            Duration::from_secs(10),
            WatchdogMetrics::default(),
        );
        assert_eq!(w.tick().await.reason(), Some("notifier"));
        assert_eq!(shown(&e).active_alerts().count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn runs_every_interval_until_cancelled() {
        let q = Arc::new(FakeQuerier::new());
        let e = engine(q.clone(), None);
        let w = WatchdogTask::new(
            e,
            "Watchdog",
            Duration::from_secs(10),
            WatchdogMetrics::default(),
        );
        let cancel = CancellationToken::new();
        let task = tokio::spawn(w.run(cancel.clone()));
        tokio::time::sleep(Duration::from_secs(35)).await;
        cancel.cancel();
        task.await.unwrap();
        let times: Vec<i64> = q.queries().iter().map(|q| q.time_ms - T0).collect();
        assert_eq!(times, [0, 10_000, 20_000, 30_000]);
    }
}
