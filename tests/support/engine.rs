//! The engine in-process on paused time: the same manager, group tasks and schedule that
//! `tocsin` runs, over a datasource the test provides, on a [`Clock`] that moves with
//! tokio's. In a `#[tokio::test(start_paused = true)]`, [`PausedEngine::until`] jumps
//! from one evaluation to the next, so hours of evaluation take milliseconds and every
//! timestamp is exact. No notifier and no remote writer: what the engine decided is read
//! from its status board, its metrics, and the queries the datasource received.

use std::sync::Arc;

use tocsin::clock::Clock;
use tocsin::config::{LoadOptions, RuleSet, load_str};
use tocsin::datasource::Querier;
use tocsin::manager::restore::Restorer;
use tocsin::manager::{Engine, Manager};
use tocsin::rule::RuleSettings;
use tocsin::status::{AlertState, RuleStatus};
use tokio_util::sync::CancellationToken;

/// 2023-11-14T22:13:20Z, where test clocks start: 20 s past a minute.
pub const T0: i64 = 1_700_000_000_000;
pub const SEC: i64 = 1000;
pub const MIN: i64 = 60 * SEC;
pub const HOUR: i64 = 60 * MIN;

/// A running engine; stop it with [`PausedEngine::stop`].
pub struct PausedEngine {
    manager: Manager,
    pub engine: Arc<Engine>,
    cancel: CancellationToken,
}

impl PausedEngine {
    /// Loads `rules` (rule-file YAML, as `rules.yml`) and starts its groups over
    /// `querier` on `clock`, restoring alert state through `restore` when given. Rules
    /// evaluate with vmalert's `alertgroup` label off, as Prometheus does.
    pub async fn start(
        rules: &str,
        querier: Arc<dyn Querier>,
        clock: Clock,
        restore: Option<Arc<Restorer>>,
    ) -> Self {
        let engine = Arc::new(Engine {
            settings: RuleSettings {
                disable_alertgroup_label: true,
                ..RuleSettings::default()
            },
            ..Engine::querying(querier, clock)
        });
        let cancel = CancellationToken::new();
        let mut manager = Manager::new(engine.clone(), cancel.clone());
        manager.apply(&rule_set(rules), restore.as_ref()).await;
        PausedEngine {
            manager,
            engine,
            cancel,
        }
    }

    /// Applies `rules` as a reload does: unchanged rules keep their state, changed ones
    /// are updated or replaced, removed groups stop.
    pub async fn reload(&mut self, rules: &str) {
        self.manager.apply(&rule_set(rules), None).await;
    }

    /// Sleeps (on paused time: jumps) until the engine's clock reads `T0 + ms`.
    pub async fn until(&self, ms: i64) {
        self.engine.clock.sleep_until_ms(T0 + ms).await;
    }

    /// The status of the rule `name` (in any group).
    pub fn rule(&self, name: &str) -> Arc<RuleStatus> {
        let groups = self.engine.board.snapshot();
        let found = groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .find(|r| &*r.name == name);
        found
            .cloned()
            .unwrap_or_else(|| panic!("no rule {name} on the board"))
    }

    /// `(state, activeAt ms)` of each pending or firing alert of rule `name`.
    pub fn alerts(&self, name: &str) -> Vec<(AlertState, i64)> {
        self.rule(name)
            .active_alerts()
            .map(|a| (a.state, a.active_at_ms))
            .collect()
    }

    /// The engine's metrics in the text exposition format.
    pub fn metrics(&self) -> String {
        let mut r = prometheus_client::registry::Registry::default();
        self.engine.metrics.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode_registry(&mut text, &r).unwrap();
        text
    }

    /// Cancels the groups and waits for their tasks to end.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.manager.wait().await;
    }
}

/// `rules` (rule-file YAML) loaded as the file `rules.yml`.
fn rule_set(rules: &str) -> RuleSet {
    let groups = load_str("rules.yml".as_ref(), rules, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("test rules do not load: {e:?}"));
    RuleSet {
        groups,
        ..RuleSet::default()
    }
}
