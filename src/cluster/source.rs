//! The cluster as the web server reads it: ownership, membership and the fan-out to the
//! other members for the cluster-wide API.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::flags::Mode;
use super::{Cluster, Identity};
use crate::status::{
    BoxFuture, ClusterSource, ClusterStatus, GroupStatus, MemberStatus, PeerAnswer, PeerStatus,
};

impl ClusterSource for Cluster {
    fn identity_header(&self) -> String {
        self.identity().render()
    }

    fn status(&self) -> ClusterStatus {
        let v = self.view();
        ClusterStatus {
            mode: match self.cfg.mode {
                Mode::Single => "single",
                Mode::Static { .. } => "static",
                Mode::Dynamic => "dynamic",
            },
            members: v
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| MemberStatus {
                    name: m.name.clone(),
                    addr: m.addr.clone(),
                    me: v.me == Some(i),
                })
                .collect(),
            replication: v.replication,
            converged: v.converged,
            groups_owned: self.metrics.groups_owned.get().max(0) as usize,
            groups_total: self.loaded().len(),
            peers: v
                .peers
                .iter()
                .map(|p| PeerStatus {
                    addr: p.addr.clone(),
                    ready: p.ready,
                    member: p
                        .identity
                        .as_ref()
                        .map(|i| i.member.clone())
                        .filter(|m| !m.is_empty()),
                    error: p.error.clone(),
                })
                .collect(),
            problems: self.problems(&v.problems),
        }
    }

    fn owners(&self, id: u64) -> Vec<String> {
        let v = self.view();
        self.loaded()
            .iter()
            .find(|l| l.status.id == id)
            .map(|l| {
                v.owners(l.key)
                    .into_iter()
                    .map(|m| m.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn all_groups(&self) -> Vec<Arc<GroupStatus>> {
        self.loaded().iter().map(|l| l.status.clone()).collect()
    }

    fn fan_out(
        &self,
        path_and_query: String,
        authorization: Option<String>,
    ) -> BoxFuture<Vec<PeerAnswer>> {
        let v = self.view();
        let client = self.client.clone();
        let errors = self.metrics.fanout_errors.clone();
        let others: Vec<(String, Option<String>)> = v
            .members
            .iter()
            .enumerate()
            .filter(|&(i, _)| v.me != Some(i))
            .map(|(_, m)| (m.name.clone(), m.addr.clone()))
            .collect();
        let (reported, gauge) = (self.reported.clone(), self.metrics.problems.clone());
        let (count, replication, known) =
            (self.cfg.mode.count(), v.replication, v.problems.clone());
        Box::pin(async move {
            let mut set = JoinSet::new();
            for (member, addr) in others {
                let client = client.clone();
                let (pq, auth) = (path_and_query.clone(), authorization.clone());
                set.spawn(async move {
                    let answer = match (&client, &addr) {
                        (Some(c), Some(a)) => ask(c, a, &pq, auth.as_deref()).await,
                        (None, _) => Err("no -cluster.peers to reach it through".to_string()),
                        (_, None) => Err(
                            "its address is not known (no peer claims this member number)"
                                .to_string(),
                        ),
                    };
                    let (body, identity) = match answer {
                        Ok((b, id)) => (Ok(b), id),
                        Err(e) => (Err(e), None),
                    };
                    let problems = match (&identity, &addr) {
                        (Some(id), Some(a)) => {
                            super::membership::disagreements(a, id, count, replication)
                        }
                        _ => Vec::new(),
                    };
                    PeerAnswer {
                        member,
                        addr,
                        body,
                        problems,
                    }
                });
            }
            let mut answers: Vec<PeerAnswer> = set.join_all().await;
            answers.sort_by(|a, b| a.member.cmp(&b.member));
            let failed = answers.iter().filter(|a| a.body.is_err()).count();
            errors.inc_by(failed as u64);
            reported.record(&answers, &known);
            gauge.set(reported.with(&known).len() as i64);
            answers
        })
    }
}

/// Disagreements that the fan-out of the cluster-wide API found, by member: a member's
/// stay until it answers without them, or leaves. Shown with the probes' own in
/// `/api/v1/status` and counted in `tocsin_cluster_problems`.
#[derive(Clone, Default)]
pub(super) struct Reported(Arc<Mutex<BTreeMap<String, Vec<String>>>>);

impl Reported {
    /// Takes one fan-out's answers (every other member's); logs what neither the probes
    /// (`known`) nor an earlier fan-out found.
    fn record(&self, answers: &[PeerAnswer], known: &[String]) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let asked: HashSet<&str> = answers.iter().map(|a| a.member.as_str()).collect();
        map.retain(|m, _| asked.contains(m.as_str()));
        for a in answers.iter().filter(|a| a.body.is_ok()) {
            let before = map.remove(&a.member).unwrap_or_default();
            for p in &a.problems {
                if !before.contains(p) && !known.contains(p) {
                    tracing::warn!("cluster: {p}");
                }
            }
            if !a.problems.is_empty() {
                map.insert(a.member.clone(), a.problems.clone());
            }
        }
    }

    /// `known` (the probes' problems) and the fan-out's, each once.
    pub(super) fn with(&self, known: &[String]) -> Vec<String> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = known.to_vec();
        for p in map.values().flatten() {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        all
    }
}

/// The answer of the member at `addr`, and who it says it is.
async fn ask(
    c: &super::PeerClient,
    addr: &str,
    path_and_query: &str,
    auth: Option<&str>,
) -> Result<(bytes::Bytes, Option<Identity>), String> {
    let mut req = c
        .client
        .get(&c.url(addr, path_and_query))
        .await
        .map_err(|e| e.to_string())?
        .timeout(c.timeout);
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    let resp = req.send().await.map_err(|e| crate::http::error_chain(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("answered {status}"));
    }
    let identity = Identity::of_headers(resp.headers());
    let body = resp.bytes().await;
    Ok((body.map_err(|e| crate::http::error_chain(&e))?, identity))
}
