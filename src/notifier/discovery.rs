//! The notifier's targets from `-notifier.config`: static groups, DNS and Consul
//! discovery, refreshed at `-promscrape.dnsSDCheckInterval` and
//! `-promscrape.consulSDCheckInterval`.
//!
//! [`Watch::prepare`] asks every source once and fails if any fails, so that a config
//! whose discovery cannot work stops start-up, or fails a reload while the previous
//! config's targets keep receiving alerts. After that, a source whose look-up fails
//! keeps the targets it found last (logged, and counted in
//! `tocsin_notifier_discovery_errors`): a DNS or Consul outage must not silence alerts.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::relabel::Relabel;

use super::config::{ConfigError, NotifierConfig};
use super::targets::{self, Found};
use super::{Kind, Notifier, TargetSpec};
use crate::dns::{DnsError, Resolver};
use crate::http::{ClientError, ClientOptions, HttpClient, Origin};
use crate::labels::Labels;

pub mod consul;
pub mod dns;

/// How discovery runs (flags).
#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    pub dns_interval: Duration,
    pub consul_interval: Duration,
    /// The resolver of `dns_sd_configs`.
    pub resolver: Resolver,
    /// vmalert's `-notifier.suppressDuplicateTargetErrors`.
    pub quiet_duplicates: bool,
}

/// Why a config's targets cannot be had; one line naming the file and the entry.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("-notifier.config {path}{at}: {source}")]
    Client {
        path: String,
        /// `:line:col` of the entry, if not the top level.
        at: String,
        #[source]
        source: Box<ClientError>,
    },
    #[error("-notifier.config {path}: dns_sd_configs[{index}]: {source}; is the DNS server up?")]
    Dns {
        path: String,
        index: usize,
        #[source]
        source: DnsError,
    },
    #[error("-notifier.config {path}: consul_sd_configs[{index}]: {source}")]
    Consul {
        path: String,
        index: usize,
        #[source]
        source: consul::ConsulError,
    },
}

/// What each discovery entry found last.
#[derive(Default)]
struct Last {
    dns: Vec<Vec<Found>>,
    consul: Vec<Vec<Found>>,
}

/// One config's targets, kept up to date until dropped.
pub struct Watch {
    pub cfg: Arc<NotifierConfig>,
    stop: CancellationToken,
}

impl Watch {
    /// Stops refreshing; the targets stay until the next watch replaces them.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A config whose sources answered once, not yet handed to the notifier: the caller
/// stops the previous config's watch between [`Watch::prepare`] and [`Pending::run`], so
/// that the two never interleave their targets.
pub struct Pending {
    sources: Arc<Sources>,
}

/// The clients and state a watch works with.
struct Sources {
    cfg: Arc<NotifierConfig>,
    opts: DiscoveryOptions,
    statics: Vec<(HttpClient, Vec<Found>)>,
    /// Sends to every discovered target (the top-level client settings).
    discovered: HttpClient,
    consul: Vec<HttpClient>,
    last: Mutex<Last>,
    notifier: Notifier,
    /// Fires when the watch is dropped; a stopped watch changes no targets.
    stop: CancellationToken,
}

impl Watch {
    /// Builds the clients and asks every source once; any failure is an error.
    pub async fn prepare(
        cfg: NotifierConfig,
        opts: DiscoveryOptions,
        notifier: &Notifier,
        cancel: &CancellationToken,
    ) -> Result<Pending, DiscoveryError> {
        let cfg = Arc::new(cfg);
        let s = Sources::new(cfg.clone(), opts, notifier.clone(), cancel.child_token())?;
        let mut last = Last::default();
        for i in 0..cfg.dns.len() {
            last.dns.push(s.dns(i).await?);
        }
        for i in 0..cfg.consul.len() {
            last.consul.push(s.consul(i).await?);
        }
        if let Ok(mut g) = s.last.lock() {
            *g = last;
        }
        Ok(Pending {
            sources: Arc::new(s),
        })
    }
}

impl Pending {
    /// Hands the targets to the notifier and refreshes them in the background until the
    /// watch is dropped.
    pub fn run(self) -> Watch {
        let s = self.sources;
        s.notifier.set_alert_relabel(s.cfg.alert_relabel.clone());
        s.apply();
        let stop = s.stop.clone();
        let cfg = s.cfg.clone();
        tokio::spawn(s.refresh());
        Watch { cfg, stop }
    }
}

fn static_found(targets: &[String], alert_relabel: &Arc<Vec<Relabel>>) -> Vec<Found> {
    targets
        .iter()
        .map(|t| Found {
            labels: Labels::from_pairs([("__address__", t.as_str())]),
            alert_relabel: alert_relabel.clone(),
        })
        .collect()
}

impl Sources {
    fn new(
        cfg: Arc<NotifierConfig>,
        opts: DiscoveryOptions,
        notifier: Notifier,
        stop: CancellationToken,
    ) -> Result<Sources, DiscoveryError> {
        let path = cfg.path.display().to_string();
        let client = |origin: &Origin, at: &str, o: &ClientOptions, timeout: Duration| {
            HttpClient::new(origin, o, timeout).map_err(|source| DiscoveryError::Client {
                path: path.clone(),
                at: at.to_string(),
                source: Box::new(source),
            })
        };
        let top = Origin::Section(String::new());
        let mut statics = Vec::new();
        for g in &cfg.statics {
            let found = static_found(&g.targets, &g.alert_relabel);
            statics.push((client(&g.origin, &g.at, &g.http, cfg.timeout)?, found));
        }
        let consul = (cfg.consul.iter())
            .map(|c| client(&c.origin, &c.at, &c.http, cfg.timeout))
            .collect::<Result<_, _>>()?;
        Ok(Sources {
            discovered: client(&top, "", &cfg.http, cfg.timeout)?,
            statics,
            consul,
            cfg,
            opts,
            last: Mutex::new(Last::default()),
            notifier,
            stop,
        })
    }

    async fn dns(&self, index: usize) -> Result<Vec<Found>, DiscoveryError> {
        let d = &self.cfg.dns[index];
        let labels = dns::discover(&self.opts.resolver, d)
            .await
            .map_err(|source| DiscoveryError::Dns {
                path: self.cfg.path.display().to_string(),
                index,
                source,
            })?;
        Ok(found(labels, &d.alert_relabel))
    }

    async fn consul(&self, index: usize) -> Result<Vec<Found>, DiscoveryError> {
        let c = &self.cfg.consul[index];
        let labels = consul::discover(&self.consul[index], c)
            .await
            .map_err(|source| DiscoveryError::Consul {
                path: self.cfg.path.display().to_string(),
                index,
                source,
            })?;
        Ok(found(labels, &c.alert_relabel))
    }

    /// Hands the union of what every source found last to the notifier.
    fn apply(&self) {
        let Ok(last) = self.last.lock() else { return };
        let quiet = self.opts.quiet_duplicates;
        let mut seen = HashSet::new();
        let mut all: Vec<TargetSpec> = Vec::new();
        for (client, found) in &self.statics {
            all.extend(targets::specs(
                &self.cfg,
                Kind::Static,
                client,
                found,
                &mut seen,
                quiet,
            ));
        }
        for (kind, lists) in [(Kind::Dns, &last.dns), (Kind::Consul, &last.consul)] {
            let found: Vec<Found> = lists.iter().flatten().cloned().collect();
            all.extend(targets::specs(
                &self.cfg,
                kind,
                &self.discovered,
                &found,
                &mut seen,
                quiet,
            ));
        }
        self.notifier
            .replace_targets(self.cfg.checksum, all, Some(&self.stop));
    }

    /// Refreshes the DNS and Consul targets at their intervals until `cancel`.
    async fn refresh(self: Arc<Self>) {
        let cancel = self.stop.clone();
        let every = |d: Duration| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        };
        let mut dns_tick = every(self.opts.dns_interval);
        let mut consul_tick = every(self.opts.consul_interval);
        let (has_dns, has_consul) = (!self.cfg.dns.is_empty(), !self.cfg.consul.is_empty());
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = dns_tick.tick(), if has_dns => self.refresh_dns().await,
                _ = consul_tick.tick(), if has_consul => self.refresh_consul().await,
            }
            if cancel.is_cancelled() {
                return;
            }
            self.apply();
        }
    }

    async fn refresh_dns(&self) {
        for i in 0..self.cfg.dns.len() {
            let got = self.dns(i).await;
            self.keep(Kind::Dns, i, got);
        }
    }

    async fn refresh_consul(&self) {
        for i in 0..self.cfg.consul.len() {
            let got = self.consul(i).await;
            self.keep(Kind::Consul, i, got);
        }
    }

    /// Stores a source's new targets, or keeps its last ones when it failed.
    fn keep(&self, kind: Kind, i: usize, got: Result<Vec<Found>, DiscoveryError>) {
        match got {
            Ok(found) => {
                if let Ok(mut last) = self.last.lock() {
                    let list = if kind == Kind::Dns {
                        &mut last.dns
                    } else {
                        &mut last.consul
                    };
                    list[i] = found;
                }
            }
            Err(e) => {
                self.notifier.metrics.discovery_error(kind.name());
                tracing::error!("{e}; keeping the targets found last");
            }
        }
    }
}

fn found(labels: Vec<Labels>, alert_relabel: &Arc<Vec<Relabel>>) -> Vec<Found> {
    labels
        .into_iter()
        .map(|labels| Found {
            labels,
            alert_relabel: alert_relabel.clone(),
        })
        .collect()
}
