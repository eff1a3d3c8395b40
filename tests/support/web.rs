//! The web server under test, in-process: a [`Fake`] state source over a status board,
//! the [`fixture`] snapshot most API tests read, and [`server`], which builds and starts
//! the server on a free port (cancelled when the [`Running`] guard drops, also on panic).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use prometheus_client::registry::Registry;
use tocsin::labels::Labels;
use tocsin::rule::{MaybeMs, epoch_ms};
use tocsin::status::{
    AlertState, AlertStatus, AlertingStatus, Annotations, BoxFuture, GroupStatus, Health,
    ReloadStatus, RuleKindStatus, RuleStatus, Snapshot, StateSource, StateUpdate, StatusBoard,
};
use tocsin::web::{Server, WebOptions};
use tokio_util::sync::CancellationToken;

/// 2023-11-14T22:13:20.5Z
pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
}

/// A StateSource over a StatusBoard whose reload succeeds unless `fail` is set.
pub struct Fake {
    pub board: Arc<StatusBoard>,
    /// Pauses, kept in memory only.
    pub pauses: tocsin::status::PauseBook,
    pub fail: AtomicBool,
    pub reloads: AtomicUsize,
}

impl Fake {
    pub fn new(groups: Vec<Arc<GroupStatus>>, loaded: bool) -> Arc<Fake> {
        let board = Arc::new(StatusBoard::new());
        board.replace(groups);
        if loaded {
            board.record_reload(t0(), Ok(()));
        }
        Arc::new(Fake {
            pauses: tocsin::status::PauseBook::new(board.clone(), None),
            board,
            fail: AtomicBool::new(false),
            reloads: AtomicUsize::new(0),
        })
    }
}

impl StateSource for Fake {
    fn groups(&self) -> Snapshot {
        self.board.snapshot()
    }

    fn version(&self) -> u64 {
        self.board.version()
    }

    fn reload_status(&self) -> ReloadStatus {
        self.board.reload_status()
    }

    fn pause_book(&self) -> Option<&tocsin::status::PauseBook> {
        Some(&self.pauses)
    }

    fn reload(&self) -> BoxFuture<Result<(), String>> {
        self.reloads.fetch_add(1, Ordering::SeqCst);
        let result = if self.fail.load(Ordering::SeqCst) {
            Err("rules/bad.yml:3:5: group \"x\": unknown field \"exp\"".to_string())
        } else {
            Ok(())
        };
        self.board.record_reload(SystemTime::now(), result.clone());
        Box::pin(async move { result })
    }
}

/// Alerting rule with a firing and a pending alert (plus an inactive one that must not
/// show), a recording rule, and an alerting rule that errors; a second group in
/// another file with one recording rule.
pub fn fixture() -> Vec<Arc<GroupStatus>> {
    let mut firing = AlertStatus::new(
        Labels::from_pairs([
            ("alertname", "HighLoad"),
            ("instance", "a"),
            ("severity", "page"),
        ]),
        AlertState::Firing,
        t0(),
        1.0,
    );
    firing.annotations = Annotations::from_pairs([("summary", "load is 1")]);
    firing.keep_firing_since_ms = MaybeMs::at(epoch_ms(t0() + Duration::from_secs(90)));
    let mut pending = AlertStatus::new(
        Labels::from_pairs([
            ("alertname", "HighLoad"),
            ("instance", "b"),
            ("severity", "page"),
        ]),
        AlertState::Pending,
        t0() + Duration::from_secs(30),
        0.25,
    );
    pending.annotations = Annotations::from_pairs([("summary", "load is 0.25")]);
    let inactive = AlertStatus::new(
        Labels::from_pairs([
            ("alertname", "HighLoad"),
            ("instance", "c"),
            ("severity", "page"),
        ]),
        AlertState::Inactive,
        t0(),
        3.0,
    );
    let mut high = RuleStatus::new(
        11,
        "HighLoad",
        "load > 0.2",
        RuleKindStatus::Alerting(AlertingStatus {
            spec: Arc::new(tocsin::config::AlertingSpec {
                for_: Duration::from_secs(60),
                keep_firing_for: Duration::from_secs(90),
                annotations: vec![(
                    "summary".into(),
                    tocsin::template::Template::parse("summary", "load is {{ $value }}")
                        .expect("parses"),
                )],
                ..Default::default()
            }),
            alerts: vec![firing, pending, inactive],
        }),
    );
    high.labels = Labels::from_pairs([("severity", "page")]);
    high.health = Health::Ok;
    high.evaluation_time = Duration::from_micros(1500);
    high.last_evaluation = Some(t0() + Duration::from_secs(60));
    high.last_samples = 3;
    let update = StateUpdate::new(
        t0() + Duration::from_secs(60),
        t0() + Duration::from_secs(60),
        Duration::from_micros(1500),
    )
    .with_counts(3, Some(3));
    high.updates = vec![update];

    let mut rec = RuleStatus::new(
        12,
        "job:load:avg",
        "avg by (job) (load)",
        RuleKindStatus::Recording,
    );
    rec.health = Health::Ok;
    rec.last_evaluation = Some(t0() + Duration::from_secs(60));
    rec.last_samples = 2;

    let mut broken = RuleStatus::new(
        13,
        "Broken",
        "a + on() b",
        RuleKindStatus::Alerting(AlertingStatus::default()),
    );
    broken.health = Health::Err;
    broken.last_error = Some("many-to-many matching not allowed".into());
    broken.last_evaluation = Some(t0() + Duration::from_secs(60));

    let mut g1 = GroupStatus::new("/rules/a.yml", "node", Duration::from_secs(30));
    g1.limit = 10;
    g1.evaluation_time = Duration::from_millis(3);
    g1.last_evaluation = Some(t0() + Duration::from_secs(60));
    g1.rules = vec![Arc::new(high), Arc::new(rec), Arc::new(broken)];

    let mut g2 = GroupStatus::new("/rules/b.yml", "other", Duration::from_millis(1500));
    g2.rules = vec![Arc::new(RuleStatus::new(
        21,
        "other:sum",
        "sum(x)",
        RuleKindStatus::Recording,
    ))];
    vec![Arc::new(g1), Arc::new(g2)]
}

/// What [`server`] starts: a state source, a metrics registry and the web options.
pub struct ServerBuilder {
    state: Arc<dyn StateSource>,
    registry: Registry,
    options: WebOptions,
}

/// A server over the [`fixture`] (reloaded once), an empty registry and default
/// options; change any of them before [`ServerBuilder::start`].
pub fn server() -> ServerBuilder {
    ServerBuilder {
        state: Fake::new(fixture(), true),
        registry: Registry::default(),
        options: WebOptions::default(),
    }
}

impl ServerBuilder {
    /// Serve `state` instead of the fixture.
    pub fn state(mut self, state: Arc<dyn StateSource>) -> Self {
        self.state = state;
        self
    }

    /// Serve these groups (reloaded once) instead of the fixture.
    pub fn groups(self, groups: Vec<Arc<GroupStatus>>) -> Self {
        self.state(Fake::new(groups, true))
    }

    /// Expose `registry` on `/metrics`.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Use `options` (the listen address is always a free port on 127.0.0.1).
    pub fn options(mut self, options: WebOptions) -> Self {
        self.options = options;
        self
    }

    /// Binds 127.0.0.1 on a free port and serves until the guard is dropped or shut down.
    pub async fn start(self) -> Running {
        let options = WebOptions {
            listen_addr: "127.0.0.1:0".into(),
            ..self.options
        };
        let server = Server::bind(options, self.state, Arc::new(self.registry))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = server.local_addr().expect("local addr");
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(server.run(cancel.clone()));
        Running {
            base: format!("http://{addr}"),
            cancel,
            handle: Some(handle),
        }
    }
}

/// A running server; cancelled on drop.
pub struct Running {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    cancel: CancellationToken,
    pub handle: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Cancels and waits for the server to stop.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), h)
                .await
                .expect("server stops after cancel")
                .expect("server task did not panic");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
