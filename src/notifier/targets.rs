//! From a found target (a static `targets` entry, or a label set service discovery
//! returned) to the URL alerts are POSTed to, as vmalert does it: the address may carry
//! a scheme and a path (`https://am:9093/prefix`), the labels `__address__`,
//! `__scheme__` and `__alerts_path__` go through `relabel_configs`, `__meta_*` labels
//! are dropped afterwards, and a missing port is the scheme's.

use std::sync::Arc;

use super::config::NotifierConfig;
use super::{Kind, TargetSpec};
use crate::http::HttpClient;
use crate::labels::{Labels, LabelsBuilder};
use crate::relabel::{self, Relabel};

const ALERTS_PATH: &str = "/api/v2/alerts";

/// A target as a source found it, before relabelling.
#[derive(Debug, Clone)]
pub struct Found {
    /// `__address__` and the source's `__meta_*` labels.
    pub labels: Labels,
    pub alert_relabel: Arc<Vec<Relabel>>,
}

/// `/`, `prefix` and `rest` joined with single slashes (Go's `path.Join("/", …)`).
fn join(prefix: &str, rest: &str) -> String {
    let parts: Vec<&str> = prefix
        .split('/')
        .chain(rest.split('/'))
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// The labels relabelling starts from: the address split into scheme, host and path,
/// then the source's labels (which may override `__scheme__` and `__alerts_path__`).
fn initial(cfg: &NotifierConfig, found: &Labels) -> Labels {
    let target = found.get("__address__").unwrap_or_default();
    let mut scheme = cfg.scheme.as_str();
    let mut address = target;
    for s in ["http", "https"] {
        if let Some(rest) = target.strip_prefix(s).and_then(|r| r.strip_prefix("://")) {
            scheme = s;
            address = rest;
        }
    }
    let mut path = join(&cfg.path_prefix, ALERTS_PATH);
    if let Some(n) = address.find('/') {
        path = address[n..].to_string();
        address = &address[..n];
    }
    let mut b = LabelsBuilder::with_capacity(found.len() + 3);
    b.set("__scheme__", scheme);
    b.set("__alerts_path__", path);
    for l in found.iter() {
        b.set(l.name.clone(), l.value.clone());
    }
    b.set("__address__", address);
    b.build()
}

/// The URL and the labels shown for a found target; `None` when relabelling drops it
/// or leaves no address.
pub fn url_of(cfg: &NotifierConfig, found: &Labels) -> Option<(String, Labels)> {
    let labels = relabel::apply(&cfg.relabel, &initial(cfg, found))?;
    let mut b = LabelsBuilder::with_capacity(labels.len());
    for l in labels.iter().filter(|l| !l.name.starts_with("__meta_")) {
        b.set(l.name.clone(), l.value.clone());
    }
    let labels = b.build();
    let scheme = labels.get("__scheme__").filter(|s| !s.is_empty());
    let scheme = scheme.unwrap_or("http");
    let address = labels.get("__address__").filter(|a| !a.is_empty())?;
    let path = labels.get("__alerts_path__").unwrap_or_default();
    let slash = if path.starts_with('/') { "" } else { "/" };
    let port = if address.contains(':') {
        ""
    } else if scheme == "https" {
        ":443"
    } else {
        ":80"
    };
    let url = format!("{scheme}://{address}{port}{slash}{path}");
    reqwest::Url::parse(&url).ok()?;
    Some((url, labels))
}

/// Specs for the found targets of one kind, sent through `client`; a URL already in
/// `seen` is skipped and named in a log line (unless `quiet`, vmalert's
/// `-notifier.suppressDuplicateTargetErrors`).
pub fn specs(
    cfg: &NotifierConfig,
    kind: Kind,
    client: &HttpClient,
    found: &[Found],
    seen: &mut std::collections::HashSet<String>,
    quiet: bool,
) -> Vec<TargetSpec> {
    let mut out = Vec::new();
    for f in found {
        let Some((url, labels)) = url_of(cfg, &f.labels) else {
            continue;
        };
        if !seen.insert(url.clone()) {
            if !quiet {
                tracing::error!(
                    target = %crate::http::redact_url(&url),
                    kind = kind.name(),
                    "skipping a duplicate notifier target with the same URL; check service discovery and relabel_configs"
                );
            }
            continue;
        }
        out.push(TargetSpec {
            url,
            kind,
            labels,
            client: Some(client.clone()),
            alert_relabel: f.alert_relabel.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::notifier::config;

    fn cfg(text: &str) -> NotifierConfig {
        config::parse(Path::new("n.yml"), text).unwrap()
    }

    fn url(c: &NotifierConfig, address: &str) -> Option<String> {
        url_of(c, &Labels::from_pairs([("__address__", address)])).map(|(u, _)| u)
    }

    #[test]
    fn addresses_become_urls_as_in_vmalert() {
        let c = cfg("path_prefix: /am/\n");
        assert_eq!(
            url(&c, "h:9093").as_deref(),
            Some("http://h:9093/am/api/v2/alerts")
        );
        assert_eq!(
            url(&c, "h").as_deref(),
            Some("http://h:80/am/api/v2/alerts")
        );
        assert_eq!(
            url(&c, "https://h/custom").as_deref(),
            Some("https://h:443/custom")
        );
        let https = cfg("scheme: https\n");
        assert_eq!(
            url(&https, "h:9093").as_deref(),
            Some("https://h:9093/api/v2/alerts")
        );
        assert_eq!(url(&c, ""), None);
    }

    #[test]
    fn relabel_configs_rewrite_drop_and_lose_meta_labels() {
        let c = cfg(r#"
relabel_configs:
  - source_labels: [__meta_dns_name]
    regex: skip\..*
    action: drop
  - source_labels: [__meta_dns_name]
    target_label: source
  - target_label: __alerts_path__
    replacement: /v2/x
"#);
        let found = |name: &str| {
            Labels::from_pairs([("__address__", "10.0.0.1:9093"), ("__meta_dns_name", name)])
        };
        let (u, labels) = url_of(&c, &found("am.test")).unwrap();
        assert_eq!(u, "http://10.0.0.1:9093/v2/x");
        assert_eq!(labels.get("source"), Some("am.test"));
        assert_eq!(labels.get("__meta_dns_name"), None);
        assert!(url_of(&c, &found("skip.test")).is_none());
    }
}
