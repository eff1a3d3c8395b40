//! Who the members are, round after round: resolve `-cluster.peers`, probe every peer's
//! `/-/ready`, and turn the answers into a [`View`]. Pure apart from the loop in
//! `refresh_loop`: [`next_view`] takes the probes and returns the view.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::flags::Mode;
use super::view::{Member, Peer, View};
use super::{Cluster, discover::PeerSource};
use crate::dns::Resolver;

/// The view that follows from one round of probes.
pub fn next_view(mode: &Mode, replication: usize, instance: &str, peers: Vec<Peer>) -> View {
    let mut problems = Vec::new();
    let mut view = match mode {
        Mode::Single => View::single(),
        Mode::Static { count, me } => static_view(*count, *me, replication, &peers, &mut problems),
        Mode::Dynamic => {
            let members: Vec<Member> = peers
                .iter()
                .filter(|p| p.ready)
                .map(|p| Member {
                    name: p.addr.clone(),
                    addr: Some(p.addr.clone()),
                })
                .collect();
            let me = peers
                .iter()
                .find(|p| p.ready && p.identity.as_ref().is_some_and(|i| i.instance == instance))
                .map(|p| p.addr.clone());
            let mut v = View::new(members, me.as_deref(), replication);
            v.converged = peers
                .iter()
                .filter(|p| p.ready)
                .filter_map(|p| p.identity.as_ref())
                .filter(|i| i.instance != instance)
                .all(|i| i.view == v.hash);
            v
        }
    };
    let my_count = mode.count();
    for p in peers.iter().filter(|p| p.ready) {
        let Some(id) = &p.identity else { continue };
        if id.instance != instance {
            problems.extend(disagreements(&p.addr, id, my_count, replication));
        }
    }
    view.problems = problems;
    view.peers = peers;
    view
}

/// How the member at `addr`, which says `theirs`, disagrees with this one (which runs
/// with `-cluster.membersCount=my_count` and `-cluster.replicationFactor=replication`):
/// what the probes and the cluster-wide API's fan-out report.
pub fn disagreements(
    addr: &str,
    theirs: &super::Identity,
    my_count: usize,
    replication: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    if theirs.replication != replication {
        out.push(format!(
            "the member at {addr} runs with -cluster.replicationFactor={}, this one with {replication}: give every member the same -cluster.* flags",
            theirs.replication
        ));
    }
    if theirs.count != my_count {
        out.push(format!(
            "the member at {addr} runs with -cluster.membersCount={}, this one with {my_count}: they compute different assignments; give every member the same -cluster.* flags",
            theirs.count
        ));
    }
    out
}

fn static_view(
    count: usize,
    me: usize,
    replication: usize,
    peers: &[Peer],
    problems: &mut Vec<String>,
) -> View {
    let members = (0..count)
        .map(|i| {
            let name = i.to_string();
            let claims: Vec<&Peer> = peers
                .iter()
                .filter(|p| p.ready && p.identity.as_ref().is_some_and(|id| id.member == name))
                .collect();
            if claims.len() > 1 {
                let addrs: Vec<&str> = claims.iter().map(|p| p.addr.as_str()).collect();
                problems.push(format!(
                    "{} members claim -cluster.memberNum={name} ({}): each member needs its own number",
                    claims.len(),
                    addrs.join(", ")
                ));
            }
            Member {
                name,
                addr: claims.first().map(|p| p.addr.clone()),
            }
        })
        .collect();
    View::new(members, Some(&me.to_string()), replication)
}

/// Resolves and probes every `-cluster.refreshInterval` until cancelled, publishing each
/// new view. A source that cannot be resolved keeps the last addresses (and says so).
pub(super) async fn refresh_loop(
    cluster: Arc<Cluster>,
    source: PeerSource,
    dns: Option<Resolver>,
    cancel: CancellationToken,
) {
    let mut addrs: Vec<String> = Vec::new();
    let mut failing = false;
    loop {
        match source.resolve(dns.as_ref()).await {
            Ok(a) => {
                if failing {
                    tracing::info!(peers = a.len(), "-cluster.peers resolves again");
                }
                failing = false;
                addrs = a;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(
                        kept = addrs.len(),
                        "{e}; keeping the last peer list until -cluster.peers resolves again"
                    );
                }
                failing = true;
                cluster.metrics.resolve_errors.inc();
            }
        }
        let peers = probe_all(&cluster, &addrs).await;
        cluster.publish(next_view(
            &cluster.cfg.mode,
            cluster.cfg.replication,
            &cluster.instance,
            peers,
        ));
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(cluster.cfg.refresh_interval) => {}
        }
    }
}

async fn probe_all(cluster: &Arc<Cluster>, addrs: &[String]) -> Vec<Peer> {
    let Some(client) = cluster.client.clone() else {
        return Vec::new();
    };
    let mut set = JoinSet::new();
    for a in addrs {
        let (c, a) = (client.clone(), a.clone());
        set.spawn(async move { c.probe(&a).await });
    }
    let mut peers: Vec<Peer> = set.join_all().await;
    peers.sort_by(|a, b| a.addr.cmp(&b.addr));
    peers
}

#[cfg(test)]
mod tests {
    use super::super::Identity;
    use super::*;

    fn peer(addr: &str, instance: &str, member: &str, count: usize, view: u64) -> Peer {
        Peer {
            addr: addr.into(),
            ready: true,
            identity: Some(Identity {
                instance: instance.into(),
                member: member.into(),
                count,
                replication: 1,
                view,
            }),
            error: None,
        }
    }

    #[test]
    fn dynamic_members_are_the_ready_peers_and_me_is_found_by_instance() {
        let mut down = peer("c:1", "z", "", 1, 0);
        down.ready = false;
        let v = next_view(
            &Mode::Dynamic,
            1,
            "me",
            vec![
                peer("b:1", "me", "", 1, 0),
                peer("a:1", "x", "", 1, 0),
                down,
            ],
        );
        let names: Vec<&str> = v.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a:1", "b:1"], "not-ready peers are not members");
        assert_eq!(v.me().map(|m| m.name.as_str()), Some("b:1"));
        assert!(!v.converged, "a:1 reported another view");
        let hash = v.hash;
        let v2 = next_view(
            &Mode::Dynamic,
            1,
            "me",
            vec![peer("b:1", "me", "", 1, 0), peer("a:1", "x", "", 1, hash)],
        );
        assert!(v2.converged);
        assert!(v2.problems.is_empty(), "{:?}", v2.problems);
    }

    #[test]
    fn not_listed_means_not_a_member() {
        let v = next_view(&Mode::Dynamic, 1, "me", vec![peer("a:1", "x", "", 1, 0)]);
        assert!(v.me.is_none());
    }

    #[test]
    fn static_disagreements_are_reported() {
        let v = next_view(
            &Mode::Static { count: 3, me: 0 },
            1,
            "me",
            vec![
                peer("a:1", "me", "0", 3, 0),
                peer("b:1", "x", "1", 4, 0),
                peer("c:1", "y", "1", 3, 0),
            ],
        );
        assert_eq!(v.members.len(), 3);
        assert_eq!(v.me, Some(0));
        assert_eq!(v.members[1].addr.as_deref(), Some("b:1"));
        assert_eq!(v.members[2].addr, None, "nobody claims member 2");
        let all = v.problems.join("\n");
        assert!(
            all.contains("-cluster.membersCount=4, this one with 3"),
            "{all}"
        );
        assert!(
            all.contains("2 members claim -cluster.memberNum=1"),
            "{all}"
        );
    }
}
