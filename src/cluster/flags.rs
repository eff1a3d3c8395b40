//! The `-cluster.*` flags and what they mean together ([`ClusterConfig`]).

use std::time::Duration;

use clap::Args;

use super::ClusterError;
use super::discover::PeerSource;

/// Sharing the rule groups among several tocsin processes.
#[derive(Debug, Args, Clone)]
pub struct ClusterFlags {
    /// Static sharding: how many members share the rule groups (1 = no sharding). Each
    /// group goes to `-cluster.replicationFactor` of them by rendezvous hashing.
    #[arg(long = "cluster.membersCount", default_value = "1")]
    pub members_count: usize,
    /// Static sharding: this member's number, 0 to `-cluster.membersCount`-1, or a name
    /// ending in it such as a StatefulSet pod name (`tocsin-2`).
    #[arg(long = "cluster.memberNum", default_value = "0")]
    pub member_num: String,
    /// How many members evaluate each group (2 or more for high availability;
    /// Alertmanager de-duplicates their identical alerts).
    #[arg(long = "cluster.replicationFactor", default_value = "1")]
    pub replication_factor: usize,
    /// The other members: `dns+srv://NAME` (SRV records, e.g. a headless Service),
    /// `dns+a://NAME:PORT` (A/AAAA records) or `file://PATH` (one `host:port` per line).
    /// Without `-cluster.membersCount`, the members are the peers whose `/-/ready`
    /// answers (dynamic membership); with it, the peers only serve the cluster-wide API.
    #[arg(long = "cluster.peers", default_value = "")]
    pub peers: String,
    /// How often `-cluster.peers` is resolved again and every peer's `/-/ready` probed.
    /// Keep it below the shortest group interval.
    #[arg(long = "cluster.refreshInterval", default_value = "10s",
          value_parser = crate::cli::parse_go_duration)]
    pub refresh_interval: Duration,
    /// Timeout of a request to a peer (readiness probes and the cluster-wide API).
    #[arg(long = "cluster.requestTimeout", default_value = "3s",
          value_parser = crate::cli::parse_go_duration)]
    pub request_timeout: Duration,
}

impl Default for ClusterFlags {
    fn default() -> Self {
        ClusterFlags {
            members_count: 1,
            member_num: "0".into(),
            replication_factor: 1,
            peers: String::new(),
            refresh_interval: Duration::from_secs(10),
            request_timeout: Duration::from_secs(3),
        }
    }
}

/// How this process takes part in a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Not clustered: every group is evaluated here.
    Single,
    /// `-cluster.membersCount=N`, `-cluster.memberNum=K`.
    Static { count: usize, me: usize },
    /// The members are the ready peers of `-cluster.peers`.
    Dynamic,
}

impl Mode {
    /// `-cluster.membersCount` (1 when not sharded statically), which members compare.
    pub fn count(&self) -> usize {
        match self {
            Mode::Static { count, .. } => *count,
            _ => 1,
        }
    }
}

/// The validated flags.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub mode: Mode,
    pub replication: usize,
    pub peers: Option<PeerSource>,
    pub refresh_interval: Duration,
    pub request_timeout: Duration,
}

impl ClusterFlags {
    /// Checks the flags together.
    pub fn config(&self) -> Result<ClusterConfig, ClusterError> {
        if self.members_count == 0 {
            return Err(ClusterError::Flag(
                "-cluster.membersCount must be at least 1".into(),
            ));
        }
        if self.replication_factor == 0 {
            return Err(ClusterError::Flag(
                "-cluster.replicationFactor must be at least 1 (1 = each group on one member)"
                    .into(),
            ));
        }
        let peers = match self.peers.trim() {
            "" => None,
            p => Some(PeerSource::parse(p)?),
        };
        let mode = if self.members_count > 1 {
            let me = parse_member_num(&self.member_num)?;
            if me >= self.members_count {
                return Err(ClusterError::Flag(format!(
                    "-cluster.memberNum={} is member {me}, but -cluster.membersCount={} numbers members 0 to {}",
                    self.member_num,
                    self.members_count,
                    self.members_count - 1
                )));
            }
            Mode::Static {
                count: self.members_count,
                me,
            }
        } else if peers.is_some() {
            Mode::Dynamic
        } else {
            if parse_member_num(&self.member_num)? != 0 {
                return Err(ClusterError::Flag(format!(
                    "-cluster.memberNum={} needs -cluster.membersCount (the number of members)",
                    self.member_num
                )));
            }
            Mode::Single
        };
        if self.refresh_interval.is_zero() {
            return Err(ClusterError::Flag(
                "-cluster.refreshInterval must be positive".into(),
            ));
        }
        Ok(ClusterConfig {
            mode,
            replication: self.replication_factor,
            peers,
            refresh_interval: self.refresh_interval,
            request_timeout: self.request_timeout,
        })
    }
}

impl ClusterConfig {
    /// One line for `-dryRun`: this member's part, as the flags give it (nothing when
    /// not clustered).
    pub fn describe(&self) -> Option<String> {
        let each = match self.replication {
            1 => "each group on 1 member".to_string(),
            r => format!("each group on {r} members"),
        };
        let peers = match &self.peers {
            None => String::new(),
            Some(p) => format!("; peers from {p}"),
        };
        Some(match &self.mode {
            Mode::Single => return None,
            Mode::Static { count, me } => {
                format!("cluster: member {me} of {count} (static), {each}{peers}")
            }
            Mode::Dynamic => format!("cluster: dynamic membership, {each}{peers}"),
        })
    }
}

/// `-cluster.memberNum`: a number, or a name ending in `-NUMBER` (a StatefulSet pod name),
/// as vmagent's `-promscrape.cluster.memberNum`.
pub fn parse_member_num(s: &str) -> Result<usize, ClusterError> {
    let s = s.trim();
    let digits = match s.rsplit_once('-') {
        Some((prefix, n)) if !prefix.is_empty() && s.parse::<usize>().is_err() => n,
        _ => s,
    };
    digits.parse().map_err(|_| {
        ClusterError::Flag(format!(
            "-cluster.memberNum={s:?}: give the member's number (0, 1, …) or a StatefulSet pod name ending in it (tocsin-2)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_num_takes_numbers_and_pod_names() {
        assert_eq!(parse_member_num("0").ok(), Some(0));
        assert_eq!(parse_member_num("tocsin-2").ok(), Some(2));
        assert_eq!(parse_member_num("my-tocsin-sts-11").ok(), Some(11));
        let e = parse_member_num("tocsin").unwrap_err().to_string();
        assert!(e.contains("StatefulSet pod name"), "{e}");
        assert!(parse_member_num("tocsin-x").is_err());
        assert!(parse_member_num("-1").is_err());
    }

    #[test]
    fn modes() {
        let f = |count, num: &str, peers: &str| ClusterFlags {
            members_count: count,
            member_num: num.into(),
            peers: peers.into(),
            ..ClusterFlags::default()
        };
        assert_eq!(
            f(1, "0", "").config().map(|c| c.mode).ok(),
            Some(Mode::Single)
        );
        assert_eq!(
            f(3, "tocsin-2", "").config().map(|c| c.mode).ok(),
            Some(Mode::Static { count: 3, me: 2 })
        );
        assert_eq!(
            f(1, "0", "file:///etc/peers").config().map(|c| c.mode).ok(),
            Some(Mode::Dynamic)
        );
        let e = f(3, "tocsin-3", "").config().unwrap_err().to_string();
        assert!(e.contains("numbers members 0 to 2"), "{e}");
        let e = f(1, "tocsin-1", "").config().unwrap_err().to_string();
        assert!(e.contains("needs -cluster.membersCount"), "{e}");
        let zero_r = ClusterFlags {
            replication_factor: 0,
            ..ClusterFlags::default()
        };
        assert!(zero_r.config().is_err());
    }
}
