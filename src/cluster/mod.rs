//! Sharing the rule groups among several tocsin processes, on what users already run:
//! the membership comes from flags, DNS (a Kubernetes headless Service) or a file; every
//! member computes the same assignment from the same member set by rendezvous hashing
//! ([`assign`]); alert state travels through the TSDB (`ALERTS_FOR_STATE`, as across a
//! restart); Alertmanager de-duplicates the alerts of replicated groups. No consensus of
//! our own: members never vote, they only look at the same facts.
//!
//! The app asks the [`Cluster`] for the current [`View`] and runs the groups
//! [`View::to_run`] names; the web server reads it as a
//! [`ClusterSource`](crate::status::ClusterSource) for the cluster-wide API.

pub mod assign;
pub mod discover;
pub mod flags;
pub mod membership;
mod metrics;
pub mod probe;
pub mod simulate;
mod source;
pub mod view;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use assign::{SHARD_KEY_LABEL, ShardKey};
pub use discover::PeerSource;
pub use flags::{ClusterConfig, ClusterFlags, Mode};
pub use metrics::ClusterMetrics;
pub use probe::{Identity, PeerClient};
pub use view::{Member, Peer, View};

use crate::config::Group;
use crate::status::GroupStatus;

/// Why the cluster cannot start or a peer list cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Flag(String),
    #[error("cannot read the peer list {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: {text:?} is not host:port; the peer list has one member address per line"
    )]
    PeerFile {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error(transparent)]
    Dns(#[from] crate::dns::DnsError),
}

/// This member's part in the cluster.
pub struct Cluster {
    cfg: ClusterConfig,
    /// Random per process, so that a member recognizes itself among the peers.
    instance: String,
    view: watch::Sender<Arc<View>>,
    /// The hash of the view whose assignment the manager has applied: what `/-/ready`
    /// advertises, so that a member that hands a group over waits until its successor
    /// actually runs it.
    applied: std::sync::atomic::AtomicU64,
    client: Option<PeerClient>,
    pub metrics: ClusterMetrics,
    /// The loaded groups: never-evaluated snapshots (for groups whose owners do not
    /// answer) and their shard keys, in file order.
    groups: RwLock<Arc<[Loaded]>>,
    /// Disagreements the cluster-wide API's fan-out found.
    reported: source::Reported,
}

#[derive(Clone)]
struct Loaded {
    status: Arc<GroupStatus>,
    key: ShardKey,
}

impl Cluster {
    /// A cluster member; nothing runs until [`Cluster::start`]. `client` reaches the
    /// peers (needed when `-cluster.peers` is set).
    pub fn new(
        cfg: ClusterConfig,
        client: Option<PeerClient>,
        metrics: ClusterMetrics,
    ) -> Arc<Cluster> {
        let first = match &cfg.mode {
            // Static sharding is known from the flags; peers only add addresses.
            Mode::Static { .. } | Mode::Single => {
                membership::next_view(&cfg.mode, cfg.replication, "", Vec::new())
            }
            // Nobody is a member until the first round of probes says so.
            Mode::Dynamic => View::new(Vec::new(), None, cfg.replication),
        };
        metrics.members.set(first.members.len() as i64);
        let first_hash = first.hash;
        let (tx, _) = watch::channel(Arc::new(first));
        Arc::new(Cluster {
            instance: instance_id(),
            cfg,
            applied: std::sync::atomic::AtomicU64::new(first_hash),
            view: tx,
            client,
            metrics,
            groups: RwLock::new(Arc::from(Vec::new())),
            reported: source::Reported::default(),
        })
    }

    /// Starts re-resolving and probing `-cluster.peers`, if set.
    pub fn start(self: &Arc<Self>, dns: Option<crate::dns::Resolver>, cancel: CancellationToken) {
        if let Some(source) = self.cfg.peers.clone() {
            tokio::spawn(membership::refresh_loop(self.clone(), source, dns, cancel));
        }
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// Whether groups are shared with other members at all.
    pub fn is_clustered(&self) -> bool {
        self.cfg.mode != Mode::Single
    }

    /// The current view.
    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// Changes of the view.
    pub fn subscribe(&self) -> watch::Receiver<Arc<View>> {
        self.view.subscribe()
    }

    /// What `/-/ready` says about this member.
    pub fn identity(&self) -> Identity {
        Identity {
            instance: self.instance.clone(),
            member: match &self.cfg.mode {
                Mode::Static { me, .. } => me.to_string(),
                _ => String::new(),
            },
            count: self.cfg.mode.count(),
            replication: self.cfg.replication,
            view: self.applied.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Records that the manager runs what the view with `hash` assigns.
    pub fn applied(&self, hash: u64) {
        self.applied
            .store(hash, std::sync::atomic::Ordering::Relaxed);
    }

    /// Publishes a view; the version moves when the assignment may have changed.
    fn publish(&self, mut next: View) {
        let prev = self.view();
        let same = prev.hash == next.hash && prev.me == next.me && prev.converged == next.converged;
        next.version = if same { prev.version } else { prev.version + 1 };
        let new_problems: Vec<&String> = next
            .problems
            .iter()
            .filter(|p| !prev.problems.contains(p))
            .collect();
        for p in new_problems {
            tracing::warn!("cluster: {p}");
        }
        if !same {
            let names: Vec<&str> = next.members.iter().map(|m| m.name.as_str()).collect();
            tracing::info!(
                members = ?names,
                me = next.me().map(|m| m.name.as_str()),
                converged = next.converged,
                "cluster membership changed"
            );
            if next.me.is_none() {
                tracing::warn!(
                    "this process is not a member yet (not among the ready peers of -cluster.peers): it evaluates no groups"
                );
            }
        }
        self.metrics.members.set(next.members.len() as i64);
        let problems = self.problems(&next.problems).len();
        self.metrics.problems.set(problems as i64);
        self.view.send_replace(Arc::new(next));
    }

    /// The problems of the last round of probes (`known`) and those the fan-out found.
    fn problems(&self, known: &[String]) -> Vec<String> {
        self.reported.with(known)
    }

    /// Records the loaded groups (after every successful load), for the API's view of
    /// groups owned elsewhere.
    pub fn set_groups(&self, groups: &[Arc<Group>], settings: &crate::rule::RuleSettings) {
        if !self.is_clustered() {
            // Read by the cluster-wide API only, which a single evaluator has not: no
            // second snapshot of every group (with 100,000 groups, tens of MiB and a
            // good part of the start-up).
            return;
        }
        let loaded: Vec<Loaded> = groups
            .iter()
            .map(|g| Loaded {
                status: Arc::new(GroupStatus::from_config(g, settings)),
                key: ShardKey::of(g),
            })
            .collect();
        *self.groups.write().unwrap_or_else(|p| p.into_inner()) = loaded.into();
    }

    fn loaded(&self) -> Arc<[Loaded]> {
        self.groups
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A random-enough identifier for this process.
fn instance_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let local = 0u8;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&(std::ptr::addr_of!(local) as usize).to_le_bytes());
    format!("{:016x}", h.digest())
}
