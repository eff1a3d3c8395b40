//! The cluster in the evaluator: built from the `-cluster.*` flags, and the one place
//! that turns a rule set and the current view into the groups the manager runs.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context as _;
use prometheus_client::registry::Registry;

use crate::cli::RunFlags;
use crate::cluster::{Cluster, ClusterMetrics, PeerClient, PeerSource};
use crate::config::RuleSet;
use crate::dns::Resolver;
use crate::manager::restore::Restorer;
use crate::manager::{Applied, Manager};

/// The cluster of the flags (a single member without them), and the DNS resolver its
/// peer list needs, if any.
pub(super) fn build(
    f: &RunFlags,
    registry: &mut Registry,
) -> anyhow::Result<(Arc<Cluster>, Option<Resolver>)> {
    let cfg = f.cluster.config()?;
    let metrics = ClusterMetrics::default();
    if cfg.mode != crate::cluster::Mode::Single {
        metrics.register(registry);
    }
    let client = match &cfg.peers {
        None => None,
        Some(_) => Some(PeerClient {
            client: crate::http::HttpClient::new(
                &crate::http::Origin::flags("cluster"),
                &crate::http::ClientOptions::default(),
                cfg.request_timeout,
            )
            .context("-cluster.*")?,
            scheme: if f.server.tls { "https" } else { "http" },
            prefix: crate::web::normalize_prefix(&f.http_path_prefix),
            timeout: cfg.request_timeout,
        }),
    };
    let dns = match &cfg.peers {
        Some(PeerSource::Srv { .. } | PeerSource::A { .. }) => {
            let r = Resolver::from_setting(f.dns_server, cfg.request_timeout);
            Some(r.context("-cluster.peers (-dns.server)")?)
        }
        _ => None,
    };
    match &cfg.mode {
        crate::cluster::Mode::Single => {}
        mode => tracing::info!(
            ?mode,
            replication = cfg.replication,
            peers = f.cluster.peers,
            "cluster member: evaluating the groups assigned to this member"
        ),
    }
    Ok((Cluster::new(cfg, client, metrics), dns))
}

/// Runs the part of `set` the cluster assigns to this member: groups it owns start (their
/// alerts restored through `restore`), groups that moved to another member are handed
/// over (not resolved), groups gone from the files are removed (resolved). `previous` is
/// the rule set before, to tell groups taken over from groups new in the files.
pub(super) async fn apply_assigned(
    manager: &mut Manager,
    cluster: &Cluster,
    set: &RuleSet,
    previous: Option<&RuleSet>,
    restore: Option<&Arc<Restorer>>,
) -> Applied {
    let view = cluster.view();
    let run = view.to_run(&set.groups, |id| manager.is_running(id));
    let keep: HashSet<u64> = run.iter().map(|g| g.id()).collect();
    let in_files: HashSet<u64> = set.groups.iter().map(|g| g.id()).collect();
    let moved_out: Vec<u64> = manager
        .running_ids()
        .into_iter()
        .filter(|id| in_files.contains(id) && !keep.contains(id))
        .collect();
    let known_before: HashSet<u64> = previous
        .map(|p| p.groups.iter().map(|g| g.id()).collect())
        .unwrap_or_default();
    let moved_in = run
        .iter()
        .filter(|g| !manager.is_running(g.id()) && known_before.contains(&g.id()))
        .count();
    manager.hand_over(&moved_out).await;
    let subset = RuleSet {
        groups: run,
        files: set.files.clone(),
        ..RuleSet::default()
    };
    let applied = manager.apply(&subset, restore).await;
    cluster.applied(view.hash);
    let m = &cluster.metrics;
    m.handed("out", moved_out.len());
    m.handed("in", moved_in);
    m.groups_owned.set(manager.len() as i64);
    if !moved_out.is_empty() || moved_in > 0 {
        tracing::info!(
            taken_over = moved_in,
            handed_over = moved_out.len(),
            running = manager.len(),
            "cluster: groups moved"
        );
    }
    applied
}
