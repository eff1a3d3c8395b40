//! `-notifier.config`: vmalert's notifier configuration file. One top-level section with
//! `static_configs`, `dns_sd_configs` and `consul_sd_configs` (where Alertmanagers are),
//! `relabel_configs` (turning discovered targets into URLs), `alert_relabel_configs`
//! (global, and per target group), the HTTP client settings (`basic_auth`,
//! `bearer_token(_file)`, `oauth2`, `tls_config`, `headers`) that a static group may
//! override, `scheme`, `path_prefix` and `timeout`.
//!
//! Unknown keys are errors (vmalert refuses them too); every error is one line naming the
//! file, the position when known, and the entry, and never quotes a secret. Relative
//! file paths inside the config are resolved against the config file's directory, as
//! vmalert does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Spanned;

use crate::http::{ClientOptions, OAuth2Options, Origin, Secret, TlsOptions};
use crate::relabel::{RawRelabel, Relabel};

mod raw;

use raw::{RawConfig, RawConsul, RawDns, RawHttp, RawTls};

/// Why the notifier config cannot be used: one line naming the file and the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("-notifier.config {}{at}: {message}", path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    /// `:line:col` when known.
    pub at: String,
    pub message: String,
}

/// The checked configuration.
#[derive(Debug)]
pub struct NotifierConfig {
    pub path: PathBuf,
    /// Of the file's bytes: an unchanged file is not re-applied.
    pub checksum: u64,
    pub scheme: String,
    pub path_prefix: String,
    pub timeout: Duration,
    pub relabel: Arc<Vec<Relabel>>,
    pub alert_relabel: Arc<Vec<Relabel>>,
    /// The top-level client settings, used for every discovered target.
    pub http: ClientOptions,
    pub statics: Vec<StaticGroup>,
    pub dns: Vec<DnsSd>,
    pub consul: Vec<ConsulSd>,
}

/// A `static_configs` entry.
#[derive(Debug)]
pub struct StaticGroup {
    pub targets: Vec<String>,
    pub http: ClientOptions,
    /// Names this entry's settings in errors.
    pub origin: Origin,
    /// `:line:col` of the entry.
    pub at: String,
    pub alert_relabel: Arc<Vec<Relabel>>,
}

/// The record types `dns_sd_configs` looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsKind {
    A,
    Aaaa,
    Srv,
}

/// A `dns_sd_configs` entry.
#[derive(Debug)]
pub struct DnsSd {
    pub names: Vec<String>,
    pub kind: DnsKind,
    pub port: Option<u16>,
    pub alert_relabel: Arc<Vec<Relabel>>,
}

/// A `consul_sd_configs` entry.
#[derive(Debug)]
pub struct ConsulSd {
    /// `scheme://server`.
    pub server: String,
    pub token: Option<Secret>,
    pub datacenter: Option<String>,
    pub namespace: Option<String>,
    pub partition: Option<String>,
    pub services: Vec<String>,
    pub tags: Vec<String>,
    pub node_meta: BTreeMap<String, String>,
    pub tag_separator: String,
    pub allow_stale: bool,
    pub filter: Option<String>,
    /// How to talk to Consul (`username`/`password`, `tls_config`).
    pub http: ClientOptions,
    pub origin: Origin,
    /// `:line:col` of the entry.
    pub at: String,
    pub alert_relabel: Arc<Vec<Relabel>>,
}

/// Reads and checks the file.
pub fn load(path: &Path) -> Result<NotifierConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.to_path_buf(),
        at: String::new(),
        message: format!("cannot read it: {e}"),
    })?;
    parse(path, &text)
}

/// Checks the text of the file at `path`.
pub fn parse(path: &Path, text: &str) -> Result<NotifierConfig, ConfigError> {
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_saphyr::from_str_with_options(text, crate::config::yaml_options())
            .map_err(|e| yaml_error(path, &e))?
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Checker { path, base: &base }.config(&raw, xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> ConfigError {
    let (line, col, message) = crate::config::yaml_problem(e, "a notifier config needs 6");
    ConfigError {
        path: path.to_path_buf(),
        at: if line > 0 {
            format!(":{line}:{col}")
        } else {
            String::new()
        },
        message: format!("{message}; see docs/configuration.md#notifier-config for the keys"),
    }
}

fn at<T>(s: &Spanned<T>) -> String {
    format!(":{}:{}", s.referenced.line(), s.referenced.column())
}

/// Turns raw sections into checked ones, naming `path` in errors.
struct Checker<'a> {
    path: &'a Path,
    base: &'a Path,
}

impl Checker<'_> {
    fn error(&self, at: String, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_path_buf(),
            at,
            message: message.into(),
        }
    }

    fn file(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn origin(&self, section: &str) -> Origin {
        Origin::Section(section.to_string())
    }

    fn config(&self, raw: &RawConfig, checksum: u64) -> Result<NotifierConfig, ConfigError> {
        let scheme = match &raw.scheme {
            None => "http".to_string(),
            Some(s) if s.value == "http" || s.value == "https" => s.value.clone(),
            Some(s) => {
                let m = format!("scheme {:?} is neither http nor https", s.value);
                return Err(self.error(at(s), m));
            }
        };
        let timeout = match &raw.timeout {
            None => Duration::ZERO,
            Some(t) => crate::config::parse_duration(&t.value)
                .map_err(|e| self.error(at(t), format!("timeout: {e}")))?,
        };
        let top = raw.http();
        let statics = (raw.static_configs.iter().enumerate())
            .map(|(i, s)| {
                let section = format!("static_configs[{i}]");
                Ok(StaticGroup {
                    targets: s.value.targets.clone(),
                    http: self.http(s.value.http().over(top), &section, at(s))?,
                    origin: self.origin(&section),
                    at: at(s),
                    alert_relabel: self.relabel(
                        &format!("{section}.alert_relabel_configs"),
                        &s.value.alert_relabel_configs,
                    )?,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(NotifierConfig {
            path: self.path.to_path_buf(),
            checksum,
            scheme,
            path_prefix: raw.path_prefix.clone().unwrap_or_default(),
            // vmalert: an unset or zero timeout is 10s.
            timeout: if timeout.is_zero() {
                Duration::from_secs(10)
            } else {
                timeout
            },
            relabel: self.relabel("relabel_configs", &raw.relabel_configs)?,
            alert_relabel: self.relabel("alert_relabel_configs", &raw.alert_relabel_configs)?,
            http: self.http(top, "", String::new())?,
            statics,
            dns: (raw.dns_sd_configs.iter().enumerate())
                .map(|(i, d)| self.dns(i, d))
                .collect::<Result<_, _>>()?,
            consul: (raw.consul_sd_configs.iter().enumerate())
                .map(|(i, c)| self.consul(i, c))
                .collect::<Result<_, _>>()?,
        })
    }

    fn relabel(
        &self,
        section: &str,
        raw: &[Spanned<RawRelabel>],
    ) -> Result<Arc<Vec<Relabel>>, ConfigError> {
        raw.iter()
            .enumerate()
            .map(|(i, r)| {
                (r.value.compile()).map_err(|e| self.error(at(r), format!("{section}[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Arc::new)
    }

    fn tls(&self, raw: Option<&RawTls>) -> TlsOptions {
        let Some(t) = raw else {
            return TlsOptions::default();
        };
        TlsOptions {
            ca_file: t.ca_file.as_deref().map(|p| self.file(p)),
            cert_file: t.cert_file.as_deref().map(|p| self.file(p)),
            key_file: t.key_file.as_deref().map(|p| self.file(p)),
            server_name: t.server_name.clone().filter(|s| !s.is_empty()),
            insecure_skip_verify: t.insecure_skip_verify.unwrap_or(false),
        }
    }

    /// The client settings of a section; `at` is the section's position.
    fn http(
        &self,
        raw: RawHttp<'_>,
        section: &str,
        at: String,
    ) -> Result<ClientOptions, ConfigError> {
        let dot = if section.is_empty() { "" } else { "." };
        let headers = (raw.headers.unwrap_or_default().iter().enumerate())
            .map(|(i, h)| match h.split_once(':') {
                Some((n, v)) if !n.trim().is_empty() => {
                    Ok((n.trim().to_string(), v.trim().to_string()))
                }
                // Never quote the header: it may carry a token.
                _ => Err(self.error(
                    at.clone(),
                    format!("{section}{dot}headers[{i}] has no name before ':'; use 'Name: value'"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ba = raw.basic_auth;
        let text = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned();
        let secret = |v: Option<&String>| text(v).map(Secret::new);
        Ok(ClientOptions {
            basic_auth_username: text(ba.and_then(|b| b.username.as_ref())),
            basic_auth_username_file: (ba.and_then(|b| b.username_file.as_deref()))
                .map(|p| self.file(p)),
            basic_auth_password: secret(ba.and_then(|b| b.password.as_ref())),
            basic_auth_password_file: (ba.and_then(|b| b.password_file.as_deref()))
                .map(|p| self.file(p)),
            bearer_token: raw.bearer_token.filter(|s| !s.is_empty()).map(Secret::new),
            bearer_token_file: raw.bearer_token_file.map(|p| self.file(p)),
            oauth2: raw.oauth2.map(|o| OAuth2Options {
                client_id: o.client_id.clone().unwrap_or_default(),
                client_secret: secret(o.client_secret.as_ref()),
                client_secret_file: o.client_secret_file.as_deref().map(|p| self.file(p)),
                scopes: o.scopes.clone().unwrap_or_default(),
                token_url: o.token_url.clone().unwrap_or_default(),
                endpoint_params: (o.endpoint_params.clone().unwrap_or_default())
                    .into_iter()
                    .collect(),
                tls: self.tls(o.tls_config.as_ref()),
            }),
            headers,
            tls: self.tls(raw.tls_config),
            idle_conn_timeout: None,
            max_idle_per_host: None,
            proxy_url: None,
        })
    }

    fn dns(&self, i: usize, d: &Spanned<RawDns>) -> Result<DnsSd, ConfigError> {
        let section = format!("dns_sd_configs[{i}]");
        let raw: &RawDns = &d.value;
        if raw.names.is_empty() {
            let m = format!("{section}: names is empty; list the DNS names to look up");
            return Err(self.error(at(d), m));
        }
        let written = raw.kind.as_deref().unwrap_or("SRV");
        let kind = match written.to_ascii_uppercase().as_str() {
            "SRV" => DnsKind::Srv,
            "A" => DnsKind::A,
            "AAAA" => DnsKind::Aaaa,
            _ => {
                let m = format!("{section}: type {written:?} is not supported; use SRV, A or AAAA");
                return Err(self.error(at(d), m));
            }
        };
        if kind != DnsKind::Srv && raw.port.is_none() {
            let m = format!("{section}: type {written} needs port (the Alertmanagers' port)");
            return Err(self.error(at(d), m));
        }
        Ok(DnsSd {
            names: raw.names.clone(),
            kind,
            port: raw.port,
            alert_relabel: self.relabel(
                &format!("{section}.alert_relabel_configs"),
                &raw.alert_relabel_configs,
            )?,
        })
    }

    fn consul(&self, i: usize, c: &Spanned<RawConsul>) -> Result<ConsulSd, ConfigError> {
        let section = format!("consul_sd_configs[{i}]");
        let raw: &RawConsul = &c.value;
        let scheme = raw.scheme.clone().unwrap_or_else(|| "http".into());
        let server = raw
            .server
            .clone()
            .unwrap_or_else(|| "localhost:8500".into());
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(ConsulSd {
            server: if server.contains("://") {
                server
            } else {
                format!("{scheme}://{server}")
            },
            token: nonempty(&raw.token).map(Secret::new),
            datacenter: nonempty(&raw.datacenter),
            namespace: nonempty(&raw.namespace),
            partition: nonempty(&raw.partition),
            services: raw.services.clone(),
            tags: raw.tags.clone(),
            node_meta: raw.node_meta.clone(),
            tag_separator: raw.tag_separator.clone().unwrap_or_else(|| ",".into()),
            allow_stale: raw.allow_stale.unwrap_or(true),
            filter: nonempty(&raw.filter),
            http: ClientOptions {
                basic_auth_username: nonempty(&raw.username),
                basic_auth_password: nonempty(&raw.password).map(Secret::new),
                tls: self.tls(raw.tls_config.as_ref()),
                proxy_url: nonempty(&raw.proxy_url).map(Secret::new),
                ..ClientOptions::default()
            },
            origin: self.origin(&section),
            at: at(c),
            alert_relabel: self.relabel(
                &format!("{section}.alert_relabel_configs"),
                &raw.alert_relabel_configs,
            )?,
        })
    }
}

#[cfg(test)]
mod tests;
