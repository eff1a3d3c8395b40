//! The notifier the flags ask for: the `-notifier.url` targets, the `-notifier.config`
//! file (its discovery running, the file reloaded with the rule files), the blackhole,
//! or none.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use super::options;
use crate::cli::{RunFlags, items};
use crate::dns::Resolver;
use crate::http::Origin;
use crate::notifier::config;
use crate::notifier::discovery::{DiscoveryOptions, Watch};
use crate::notifier::{Notifier, NotifierMetrics, NotifierOptions};

/// How long one DNS look-up of `dns_sd_configs` may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// `-notifier.sendTimeout`'s default.
const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The running notifier and, with `-notifier.config`, what keeps its targets current.
pub(super) struct Notify {
    pub(super) notifier: Option<Notifier>,
    config: Option<ConfigSource>,
}

struct ConfigSource {
    path: PathBuf,
    opts: DiscoveryOptions,
    watch: Watch,
    cancel: CancellationToken,
}

/// Starts the notifier; a config file that is invalid, or whose discovery fails its
/// first round, stops start-up.
pub(super) async fn start(
    f: &RunFlags,
    registry: &mut Registry,
    cancel: &CancellationToken,
) -> anyhow::Result<Notify> {
    let urls = items(&f.notifier_url);
    let file = f.notifier_config.clone().filter(|p| !p.is_empty());
    let given = [!urls.is_empty(), file.is_some(), f.notifier_blackhole];
    if given.iter().filter(|g| **g).count() > 1 {
        bail!(
            "-notifier.url, -notifier.config and -notifier.blackhole exclude each other: keep one"
        );
    }
    let m = NotifierMetrics::default();
    if f.notifier_blackhole {
        m.register(registry);
        tracing::info!("-notifier.blackhole: alerts are evaluated and sent nowhere");
        let notifier = Some(Notifier::blackhole(m, cancel.clone()));
        return Ok(Notify {
            notifier,
            config: None,
        });
    }
    if let Some(file) = file {
        refuse_flag_settings(f)?;
        m.register(registry);
        return start_config(f, PathBuf::from(file), m, cancel).await;
    }
    if urls.is_empty() {
        tracing::warn!("no -notifier.url: alerts are evaluated but not sent anywhere");
        return Ok(Notify {
            notifier: None,
            config: None,
        });
    }
    m.register(registry);
    let notifier =
        Notifier::start(options::notifier(f, &urls)?, m, cancel.clone()).context("-notifier.*")?;
    Ok(Notify {
        notifier: Some(notifier),
        config: None,
    })
}

/// The `-notifier.*` client flags configure `-notifier.url` only: beside
/// `-notifier.config` they would do nothing (vmalert ignores them silently), and
/// alerts would go out without the auth or TLS the operator asked for. So they are
/// refused, naming the config key each belongs in. `-notifier.sendTimeout`, which
/// secures nothing, is only warned about.
fn refuse_flag_settings(f: &RunFlags) -> anyhow::Result<()> {
    if f.notifier_send_timeout != DEFAULT_SEND_TIMEOUT {
        tracing::warn!(
            "-notifier.sendTimeout applies to -notifier.url only; with -notifier.config set timeout in the file"
        );
    }
    let given = f.notifier_auth.given();
    if given.is_empty() {
        return Ok(());
    }
    let top = Origin::Section(String::new());
    let flags: Vec<String> = given.iter().map(|k| format!("-notifier.{k}")).collect();
    let keys: Vec<String> = given.iter().map(|k| top.name(k)).collect();
    bail!(
        "{} configure{} -notifier.url only and would be ignored with -notifier.config: \
         put the notifier's auth and TLS in the config file instead ({}, at its top level \
         or in a static_configs entry) and remove the flag{}",
        flags.join(", "),
        if flags.len() == 1 { "s" } else { "" },
        keys.join(", "),
        if flags.len() == 1 { "" } else { "s" },
    )
}

async fn start_config(
    f: &RunFlags,
    path: PathBuf,
    m: NotifierMetrics,
    cancel: &CancellationToken,
) -> anyhow::Result<Notify> {
    let resolver = Resolver::from_setting(f.dns_server, DNS_TIMEOUT).context("-dns.server")?;
    let opts = DiscoveryOptions {
        dns_interval: f.dns_sd_check_interval,
        consul_interval: f.consul_sd_check_interval,
        resolver,
        quiet_duplicates: f.notifier_suppress_duplicate_target_errors,
    };
    let nopts = NotifierOptions {
        show_url: f.notifier_show_url,
        ..NotifierOptions::default()
    };
    let notifier = Notifier::new(nopts, m, cancel.clone());
    let cfg = config::load(&path)?;
    let watch = Watch::prepare(cfg, opts.clone(), &notifier, cancel)
        .await?
        .run();
    tracing::info!(
        file = %path.display(),
        targets = notifier.status().len(),
        "notifier config loaded"
    );
    Ok(Notify {
        notifier: Some(notifier),
        config: Some(ConfigSource {
            path,
            opts,
            watch,
            cancel: cancel.clone(),
        }),
    })
}

impl Notify {
    /// Re-reads `-notifier.config` if it changed; a file that is invalid, or whose
    /// discovery fails, keeps the previous targets and is an error.
    pub(super) async fn reload(&mut self, trigger: &str) -> Result<(), String> {
        let (Some(src), Some(notifier)) = (&mut self.config, &self.notifier) else {
            return Ok(());
        };
        let path = src.path.clone();
        let cfg = tokio::task::spawn_blocking(move || config::load(&path))
            .await
            .map_err(|e| format!("reading -notifier.config failed: {e}"))?;
        let failed = |e: String| {
            tracing::error!(
                trigger,
                "notifier config reload failed; the previous targets keep receiving alerts: {e}"
            );
            e
        };
        let cfg = cfg.map_err(|e| failed(e.to_string()))?;
        if cfg.checksum == src.watch.cfg.checksum {
            return Ok(());
        }
        let pending = Watch::prepare(cfg, src.opts.clone(), notifier, &src.cancel)
            .await
            .map_err(|e| failed(e.to_string()))?;
        // The old watch stops before the new one hands over its targets.
        src.watch.stop();
        src.watch = pending.run();
        tracing::info!(
            trigger,
            targets = notifier.status().len(),
            "notifier config reloaded"
        );
        Ok(())
    }
}
