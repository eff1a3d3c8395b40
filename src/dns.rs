//! The one DNS resolver (hickory): A, AAAA and SRV look-ups for service discovery (the
//! notifier's `dns_sd_configs`, cluster peers), through the system's `/etc/resolv.conf`
//! or one given server (`-dns.server`, which tests point at a loopback server).
//!
//! Answers are not cached here: discovery asks again at its own interval and wants what
//! the server says now. A look-up either answers (records, or pseudo-authoritatively
//! none: NXDOMAIN, or the name exists without records of that type) or fails (timeout,
//! SERVFAIL, REFUSED, an answer that cannot be decoded); [`DnsError::is_no_records`]
//! tells the two apart, because discovery must drop the targets of a name that has none
//! but keep them when it cannot know (as Prometheus' DNS discovery does).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

/// A failed look-up, naming what was looked up.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("cannot read the system's DNS configuration: {0}")]
    System(#[source] Box<NetError>),
    #[error("cannot resolve {kind} records of {name:?}: {source}")]
    Lookup {
        kind: &'static str,
        name: String,
        #[source]
        source: Box<NetError>,
    },
    #[error("{name:?} has no {kind} records")]
    Empty { kind: &'static str, name: String },
}

impl DnsError {
    /// Whether the server said the name has no such records (NXDOMAIN, or no records of
    /// the type), as opposed to a failure after which nothing is known.
    pub fn is_no_records(&self) -> bool {
        match self {
            DnsError::Empty { .. } => true,
            DnsError::Lookup { source, .. } => source.is_no_records_found(),
            DnsError::System(_) => false,
        }
    }
}

/// One SRV record's target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SrvTarget {
    /// The target host, without the trailing dot.
    pub host: String,
    pub port: u16,
}

/// Which address records [`Resolver::addresses`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A records.
    V4,
    /// AAAA records.
    V6,
}

/// Resolves names; cheap to clone.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

fn options(timeout: Duration) -> ResolverOpts {
    let mut o = ResolverOpts::default();
    o.timeout = timeout;
    o.attempts = 1;
    o.cache_size = 0;
    o
}

impl Resolver {
    /// Through the servers of `/etc/resolv.conf` (and `/etc/hosts`).
    pub fn system(timeout: Duration) -> Result<Resolver, DnsError> {
        let mut b = TokioResolver::builder_tokio().map_err(|e| DnsError::System(Box::new(e)))?;
        let o = b.options_mut();
        o.timeout = timeout;
        o.attempts = 1;
        o.cache_size = 0;
        let inner = b.build().map_err(|e| DnsError::System(Box::new(e)))?;
        Ok(Resolver { inner })
    }

    /// Through the one server at `addr` (UDP, then TCP).
    pub fn with_server(addr: SocketAddr, timeout: Duration) -> Result<Resolver, DnsError> {
        let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut ns.connections {
            c.port = addr.port();
        }
        let cfg = ResolverConfig::from_name_servers(vec![ns]);
        let inner = TokioResolver::builder_with_config(cfg, TokioRuntimeProvider::default())
            .with_options(options(timeout))
            .build()
            .map_err(|e| DnsError::System(Box::new(e)))?;
        Ok(Resolver { inner })
    }

    /// `-dns.server` when given (`host:port`), else the system's configuration.
    pub fn from_setting(server: Option<SocketAddr>, timeout: Duration) -> Result<Self, DnsError> {
        match server {
            Some(addr) => Resolver::with_server(addr, timeout),
            None => Resolver::system(timeout),
        }
    }

    /// The addresses (A and AAAA) of `name`, sorted.
    pub async fn ips(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let err = |source| DnsError::Lookup {
            kind: "A/AAAA",
            name: name.to_string(),
            source: Box::new(source),
        };
        let found = self.inner.lookup_ip(name).await.map_err(err)?;
        let mut ips: Vec<IpAddr> = found.iter().collect();
        ips.sort();
        ips.dedup();
        if ips.is_empty() {
            return Err(DnsError::Empty {
                kind: "A/AAAA",
                name: name.into(),
            });
        }
        Ok(ips)
    }

    /// The addresses of one family (A or AAAA records) of `name`, sorted.
    pub async fn addresses(&self, name: &str, family: Family) -> Result<Vec<IpAddr>, DnsError> {
        let kind = match family {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        };
        let found = match family {
            Family::V4 => self.inner.ipv4_lookup(name).await,
            Family::V6 => self.inner.ipv6_lookup(name).await,
        }
        .map_err(|source| DnsError::Lookup {
            kind,
            name: name.to_string(),
            source: Box::new(source),
        })?;
        let mut ips: Vec<IpAddr> = found
            .answers()
            .iter()
            .filter_map(|r| match (&r.data, family) {
                (RData::A(a), Family::V4) => Some(IpAddr::V4(a.0)),
                (RData::AAAA(a), Family::V6) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .collect();
        ips.sort();
        ips.dedup();
        if ips.is_empty() {
            return Err(DnsError::Empty {
                kind,
                name: name.into(),
            });
        }
        Ok(ips)
    }

    /// The targets of the SRV records of `name`, sorted.
    pub async fn srv(&self, name: &str) -> Result<Vec<SrvTarget>, DnsError> {
        let found = self
            .inner
            .srv_lookup(name)
            .await
            .map_err(|source| DnsError::Lookup {
                kind: "SRV",
                name: name.to_string(),
                source: Box::new(source),
            })?;
        let mut out: Vec<SrvTarget> = found
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some(SrvTarget {
                    host: s.target.to_utf8().trim_end_matches('.').to_string(),
                    port: s.port,
                }),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(DnsError::Empty {
                kind: "SRV",
                name: name.into(),
            });
        }
        Ok(out)
    }
}
