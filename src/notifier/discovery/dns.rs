//! `dns_sd_configs`: Alertmanagers behind DNS names (SRV, or A/AAAA with a port),
//! labelled as Prometheus' DNS discovery labels them.

use std::net::SocketAddr;

use crate::dns::{DnsError, Family, Resolver};
use crate::labels::{Labels, LabelsBuilder};
use crate::notifier::config::{DnsKind, DnsSd};

/// The targets behind every name of the entry. A name the server says has no records
/// contributes none (its Alertmanagers are gone); a look-up that fails fails the entry,
/// so that its last targets are kept.
pub async fn discover(resolver: &Resolver, d: &DnsSd) -> Result<Vec<Labels>, DnsError> {
    let mut out = Vec::new();
    for name in &d.names {
        match lookup(resolver, d, name).await {
            Ok(found) => out.extend(found),
            Err(e) if e.is_no_records() => {
                tracing::debug!(name, "dns_sd_configs: {e}; no targets from it");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

async fn lookup(resolver: &Resolver, d: &DnsSd, name: &str) -> Result<Vec<Labels>, DnsError> {
    let labels = |address: String| {
        let mut b = LabelsBuilder::with_capacity(4);
        b.set("__address__", address);
        b.set("__meta_dns_name", name);
        b
    };
    let family = match d.kind {
        DnsKind::Srv => {
            let found = resolver.srv(name).await?;
            return Ok(found
                .into_iter()
                .map(|t| {
                    let mut b = labels(format!("{}:{}", t.host, t.port));
                    b.set("__meta_dns_srv_record_target", t.host.as_str());
                    b.set("__meta_dns_srv_record_port", t.port.to_string());
                    b.build()
                })
                .collect());
        }
        DnsKind::A => Family::V4,
        DnsKind::Aaaa => Family::V6,
    };
    let port = d.port.unwrap_or_default();
    let ips = resolver.addresses(name, family).await?;
    Ok(ips
        .into_iter()
        .map(|ip| labels(SocketAddr::new(ip, port).to_string()).build())
        .collect())
}
