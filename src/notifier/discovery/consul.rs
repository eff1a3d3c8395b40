//! `consul_sd_configs`: Alertmanagers registered in Consul, read from its catalog HTTP
//! API (`/v1/catalog/services`, then `/v1/health/service/<name>` per service), labelled
//! with Prometheus' `__meta_consul_*` labels.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::http::{HttpClient, redact_text};
use crate::labels::{Labels, LabelsBuilder};
use crate::notifier::config::ConsulSd;

/// Why Consul could not be asked: names the server (redacted) and the path; never the
/// token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConsulError(String);

/// The parts of a `/v1/health/service/<name>` entry that become labels.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ServiceNode {
    node: Node,
    service: Service,
    checks: Vec<Check>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Node {
    node: String,
    address: String,
    datacenter: String,
    meta: BTreeMap<String, String>,
    tagged_addresses: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Service {
    #[serde(rename = "ID")]
    id: String,
    service: String,
    address: String,
    namespace: String,
    partition: String,
    port: u16,
    tags: Option<Vec<String>>,
    meta: Option<BTreeMap<String, String>>,
    tagged_addresses: Option<BTreeMap<String, TaggedAddress>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TaggedAddress {
    address: String,
    port: u16,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    status: String,
}

/// Consul's aggregated health of a service instance.
fn health(checks: &[Check]) -> &'static str {
    let (mut warning, mut critical, mut maintenance) = (false, false, false);
    for c in checks {
        if c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:") {
            maintenance = true;
            continue;
        }
        match c.status.as_str() {
            "passing" => {}
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return "",
        }
    }
    if maintenance {
        "maintenance"
    } else if critical {
        "critical"
    } else if warning {
        "warning"
    } else {
        // All passing, or no checks at all.
        "passing"
    }
}

/// Label names may only hold `[a-zA-Z0-9_]`; anything else becomes `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn labels_of(sn: &ServiceNode, service: &str, sep: &str, dc: &str) -> Labels {
    let s = &sn.service;
    let host = if s.address.is_empty() {
        &sn.node.address
    } else {
        &s.address
    };
    let mut b = LabelsBuilder::with_capacity(16);
    b.set("__address__", join_host_port(host, s.port));
    b.set("__meta_consul_address", sn.node.address.as_str());
    let dc = if sn.node.datacenter.is_empty() {
        dc
    } else {
        &sn.node.datacenter
    };
    b.set("__meta_consul_dc", dc);
    b.set("__meta_consul_health", health(&sn.checks));
    b.set("__meta_consul_namespace", s.namespace.as_str());
    b.set("__meta_consul_partition", s.partition.as_str());
    b.set("__meta_consul_node", sn.node.node.as_str());
    b.set("__meta_consul_service", service);
    b.set("__meta_consul_service_address", s.address.as_str());
    b.set("__meta_consul_service_id", s.id.as_str());
    b.set("__meta_consul_service_port", s.port.to_string());
    let tags = s.tags.clone().unwrap_or_default();
    // Surrounded by the separator, so a relabel regex need not care where a tag is.
    b.set(
        "__meta_consul_tags",
        format!("{sep}{}{sep}", tags.join(sep)),
    );
    for t in &tags {
        let (k, v) = t.split_once('=').unwrap_or((t, ""));
        b.set(sanitize(&format!("__meta_consul_tag_{k}")), v);
        b.set(sanitize(&format!("__meta_consul_tagpresent_{k}")), "true");
    }
    for (k, v) in &sn.node.meta {
        b.set(sanitize(&format!("__meta_consul_metadata_{k}")), v.as_str());
    }
    for (k, v) in s.meta.iter().flatten() {
        b.set(
            sanitize(&format!("__meta_consul_service_metadata_{k}")),
            v.as_str(),
        );
    }
    for (k, v) in &sn.node.tagged_addresses {
        b.set(
            sanitize(&format!("__meta_consul_tagged_address_{k}")),
            v.as_str(),
        );
    }
    for (k, v) in s.tagged_addresses.iter().flatten() {
        b.set(
            sanitize(&format!("__meta_consul_tagged_address_{k}")),
            join_host_port(&v.address, v.port),
        );
    }
    b.build()
}

fn query_args(c: &ConsulSd) -> Vec<(String, String)> {
    let mut q = Vec::new();
    if let Some(dc) = &c.datacenter {
        q.push(("dc".into(), dc.clone()));
    }
    if c.allow_stale {
        q.push(("stale".into(), String::new()));
    }
    if let Some(ns) = &c.namespace {
        q.push(("ns".into(), ns.clone()));
    }
    if let Some(p) = &c.partition {
        q.push(("partition".into(), p.clone()));
    }
    for (k, v) in &c.node_meta {
        q.push(("node-meta".into(), format!("{k}:{v}")));
    }
    q
}

/// GETs a Consul API path and decodes its JSON; errors name the server and the path.
async fn get<T: serde::de::DeserializeOwned>(
    client: &HttpClient,
    c: &ConsulSd,
    path: &str,
    query: &[(String, String)],
) -> Result<T, ConsulError> {
    let url = format!("{}{path}", c.server.trim_end_matches('/'));
    let shown = crate::http::redact_url(&url);
    let err = ConsulError;
    let mut req = (client.get(&url).await)
        .map_err(|e| err(e.to_string()))?
        .query(query);
    if let Some(t) = &c.token {
        req = req.header("X-Consul-Token", t.expose());
    }
    let resp = req.send().await.map_err(|e| {
        err(format!(
            "cannot reach Consul at {shown}: {}",
            crate::http::error_chain(&e)
        ))
    })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| {
        err(format!(
            "cannot read Consul's answer from {shown}: {}",
            crate::http::error_chain(&e)
        ))
    })?;
    let snippet = || {
        redact_text(
            &String::from_utf8_lossy(&body)
                .chars()
                .take(120)
                .collect::<String>(),
        )
    };
    if !status.is_success() {
        return Err(err(format!(
            "Consul answered {status} for {shown}: {:?}",
            snippet()
        )));
    }
    serde_json::from_slice(&body).map_err(|e| {
        err(format!(
            "Consul's answer for {shown} is not what its API returns ({e}): {:?}",
            snippet()
        ))
    })
}

/// The targets Consul knows now, as label sets.
pub async fn discover(client: &HttpClient, c: &ConsulSd) -> Result<Vec<Labels>, ConsulError> {
    let base = query_args(c);
    let mut names_q = base.clone();
    if let Some(f) = &c.filter {
        names_q.push(("filter".into(), f.clone()));
    }
    let services: BTreeMap<String, Option<Vec<String>>> =
        get(client, c, "/v1/catalog/services", &names_q).await?;
    let mut out = Vec::new();
    for (name, tags) in services {
        let wanted =
            c.services.is_empty() || c.services.iter().any(|s| s.eq_ignore_ascii_case(&name));
        let tags = tags.unwrap_or_default();
        if !wanted || !c.tags.iter().all(|t| tags.contains(t)) {
            continue;
        }
        let mut q = base.clone();
        q.extend(c.tags.iter().map(|t| ("tag".to_string(), t.clone())));
        let path = format!(
            "/v1/health/service/{}",
            percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
        );
        let nodes: Vec<ServiceNode> = get(client, c, &path, &q).await?;
        let dc = c.datacenter.as_deref().unwrap_or("");
        out.extend(
            nodes
                .iter()
                .map(|sn| labels_of(sn, &name, &c.tag_separator, dc)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_nodes_become_prometheus_meta_labels() {
        let sn: ServiceNode = serde_json::from_str(
            r#"{"Node":{"Node":"n1","Address":"10.0.0.1","Datacenter":"dc1","Meta":{"rack":"r-1"}},
                "Service":{"ID":"am-1","Service":"alertmanager","Address":"","Port":9093,
                           "Tags":["prod","scheme=https"],"Meta":{"team":"sre"}},
                "Checks":[{"CheckID":"serfHealth","Status":"passing"},{"CheckID":"am","Status":"warning"}]}"#,
        )
        .unwrap();
        let l = labels_of(&sn, "alertmanager", ",", "");
        let get = |n: &str| l.get(n).unwrap_or("").to_string();
        assert_eq!(get("__address__"), "10.0.0.1:9093");
        assert_eq!(get("__meta_consul_dc"), "dc1");
        assert_eq!(get("__meta_consul_health"), "warning");
        assert_eq!(get("__meta_consul_tags"), ",prod,scheme=https,");
        assert_eq!(get("__meta_consul_tag_scheme"), "https");
        assert_eq!(get("__meta_consul_tagpresent_prod"), "true");
        assert_eq!(get("__meta_consul_metadata_rack"), "r-1");
        assert_eq!(get("__meta_consul_service_metadata_team"), "sre");
        assert_eq!(get("__meta_consul_service_id"), "am-1");
    }
}
