//! Asking a peer whether it is ready, and who it is: `/-/ready` answers 200 on a ready
//! member and carries a `Tocsin-Cluster` header with the member's identity and its view
//! of the cluster, so that members learn who is who and whether they agree without any
//! protocol of their own.

use std::time::Duration;

use super::view::Peer;

use crate::status::CLUSTER_HEADER as HEADER;

/// What a member says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Random per process: tells a member its own address among the peers.
    pub instance: String,
    /// Its member number under static sharding; empty under dynamic membership.
    pub member: String,
    /// `-cluster.membersCount` (1 under dynamic membership).
    pub count: usize,
    /// `-cluster.replicationFactor`.
    pub replication: usize,
    /// The hash of the member set it currently sees.
    pub view: u64,
}

impl Identity {
    /// The header value.
    pub fn render(&self) -> String {
        format!(
            "instance={}; member={}; count={}; replication={}; view={:016x}",
            self.instance, self.member, self.count, self.replication, self.view
        )
    }

    /// What the `Tocsin-Cluster` header of an answer says, if it has one.
    pub fn of_headers(headers: &reqwest::header::HeaderMap) -> Option<Identity> {
        let v = headers.get(HEADER)?.to_str().ok()?;
        Identity::parse(v)
    }

    /// Reads a header value; `None` if it is not one of ours.
    pub fn parse(s: &str) -> Option<Identity> {
        let mut id = Identity {
            instance: String::new(),
            member: String::new(),
            count: 0,
            replication: 0,
            view: 0,
        };
        for part in s.split(';') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "instance" => id.instance = v.to_string(),
                "member" => id.member = v.to_string(),
                "count" => id.count = v.parse().ok()?,
                "replication" => id.replication = v.parse().ok()?,
                "view" => id.view = u64::from_str_radix(v, 16).ok()?,
                _ => {}
            }
        }
        (!id.instance.is_empty()).then_some(id)
    }
}

/// How to reach the peers' HTTP API.
#[derive(Clone)]
pub struct PeerClient {
    pub client: crate::http::HttpClient,
    /// `http` or `https` (as this member serves).
    pub scheme: &'static str,
    /// `-http.pathPrefix`, normalized (`""` or `/x`).
    pub prefix: String,
    pub timeout: Duration,
}

impl PeerClient {
    /// The URL of `path_and_query` (starting with `/`) on the peer at `addr`.
    pub fn url(&self, addr: &str, path_and_query: &str) -> String {
        format!("{}://{addr}{}{path_and_query}", self.scheme, self.prefix)
    }

    /// Probes `/-/ready` of `addr`.
    pub async fn probe(&self, addr: &str) -> Peer {
        let url = self.url(addr, "/-/ready");
        let res = match self.client.get(&url).await {
            Ok(req) => req
                .timeout(self.timeout)
                .send()
                .await
                .map_err(|e| crate::http::error_chain(&e)),
            Err(e) => Err(e.to_string()),
        };
        match res {
            Ok(r) => {
                let identity = Identity::of_headers(r.headers());
                let ready = r.status().is_success();
                Peer {
                    addr: addr.to_string(),
                    ready,
                    identity,
                    error: (!ready).then(|| format!("/-/ready answered {}", r.status())),
                }
            }
            Err(e) => Peer {
                addr: addr.to_string(),
                ready: false,
                identity: None,
                error: Some(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips() {
        let id = Identity {
            instance: "4f2a".into(),
            member: "2".into(),
            count: 3,
            replication: 2,
            view: 0xdead_beef,
        };
        assert_eq!(Identity::parse(&id.render()), Some(id));
        assert_eq!(Identity::parse("garbage"), None);
        assert_eq!(Identity::parse("member=1"), None, "no instance");
    }
}
