//! `-tls`: HTTPS with rustls. The certificate and key are re-read while serving
//! (cert-manager and friends rotate them in place); a new pair that cannot be used keeps
//! the old one in service, is logged once and counted. The listener never restarts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

use super::metrics::SecurityMetrics;

/// Server TLS settings, from `-tls*`.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// `-tlsMinVersion=TLS13`: refuse TLS 1.2.
    pub tls13_only: bool,
    /// `-tlsCipherSuites`, by Go's names or numeric ids; empty means rustls' defaults.
    pub cipher_suites: Vec<String>,
    /// How often the files are checked for a new pair.
    pub reload_interval: Duration,
}

/// Why the certificate or the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("-tlsCertFile={}: cannot read the file: {source}; check the path and its permissions", path.display())]
    ReadCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("-tlsKeyFile={}: cannot read the file: {source}; check the path and its permissions", path.display())]
    ReadKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("-tlsCertFile={}: no PEM certificate in the file ({reason}); it must hold the certificate chain, server certificate first", path.display())]
    NoCert { path: PathBuf, reason: String },
    #[error("-tlsKeyFile={}: no usable PEM private key in the file ({reason}); it must hold the PKCS#8, PKCS#1 or SEC1 key of -tlsCertFile", path.display())]
    BadKey { path: PathBuf, reason: String },
    #[error("-tlsKeyFile={} does not match the certificate in -tlsCertFile={}; install the key that belongs to the certificate", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("-tlsCipherSuites: unknown cipher suite {name:?}; supported: {supported}")]
    UnknownCipher { name: String, supported: String },
    #[error("-tlsCipherSuites: none of the listed suites is supported; supported: {supported}")]
    NoCipher { supported: String },
    #[error("TLS settings rejected: {0}")]
    Config(#[from] rustls::Error),
}

/// Go names of suites that Go's TLS offers but rustls does not (CBC and static-RSA
/// suites): listed in `-tlsCipherSuites`, they are skipped with a warning.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
];

/// A suite's name as Go spells it (`TLS13_AES_128_GCM_SHA256` → `TLS_AES_128_GCM_SHA256`).
fn go_name(s: &rustls::SupportedCipherSuite) -> String {
    let name = s
        .suite()
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:#06x}", u16::from(s.suite())));
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name,
    }
}

fn matches_suite(s: &rustls::SupportedCipherSuite, wanted: &str) -> bool {
    let id = u16::from(s.suite());
    let by_id = wanted
        .strip_prefix("0x")
        .or_else(|| wanted.strip_prefix("0X"))
        .map(|h| u16::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| wanted.parse::<u16>().ok());
    by_id == Some(id) || go_name(s).eq_ignore_ascii_case(wanted)
}

/// The suites to offer: those listed (TLS 1.3 ones all stay unless some are listed, as
/// Go leaves TLS 1.3 alone), or all of rustls' when none are.
fn cipher_suites(
    all: &[rustls::SupportedCipherSuite],
    names: &[String],
) -> Result<Vec<rustls::SupportedCipherSuite>, TlsError> {
    if names.is_empty() {
        return Ok(all.to_vec());
    }
    let supported = || all.iter().map(go_name).collect::<Vec<_>>().join(", ");
    let mut chosen: Vec<rustls::SupportedCipherSuite> = Vec::new();
    for name in names {
        match all.iter().find(|s| matches_suite(s, name)) {
            Some(s) if !chosen.contains(s) => chosen.push(*s),
            Some(_) => {}
            None if GO_ONLY_SUITES.iter().any(|g| g.eq_ignore_ascii_case(name)) => {
                tracing::warn!(
                    suite = name.as_str(),
                    "-tlsCipherSuites: this suite is not offered by tocsin's TLS (rustls); skipped"
                );
            }
            None => {
                return Err(TlsError::UnknownCipher {
                    name: name.clone(),
                    supported: supported(),
                });
            }
        }
    }
    if !chosen.iter().any(|s| s.tls13().is_some()) {
        chosen.extend(all.iter().filter(|s| s.tls13().is_some()));
    }
    if chosen.is_empty() {
        return Err(TlsError::NoCipher {
            supported: supported(),
        });
    }
    Ok(chosen)
}

/// The pair in service and what is needed to replace it.
pub struct CertStore {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The bytes of the last pair tried (good or bad) and its error, so that an
    /// unchanged broken pair is reported once, not every second.
    last: Mutex<(Vec<u8>, Vec<u8>, Option<String>)>,
    metrics: Option<SecurityMetrics>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

fn read_pair(cert_file: &Path, key_file: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let cert = std::fs::read(cert_file).map_err(|source| TlsError::ReadCert {
        path: cert_file.into(),
        source,
    })?;
    let key = std::fs::read(key_file).map_err(|source| TlsError::ReadKey {
        path: key_file.into(),
        source,
    })?;
    Ok((cert, key))
}

fn certified_key(
    cert_file: &Path,
    key_file: &Path,
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let no_cert = |reason: String| TlsError::NoCert {
        path: cert_file.into(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| no_cert(e.to_string()))?;
    if chain.is_empty() {
        return Err(no_cert("no CERTIFICATE block".into()));
    }
    let bad_key = |reason: String| TlsError::BadKey {
        path: key_file.into(),
        reason,
    };
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| bad_key(e.to_string()))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad_key(e.to_string()))?;
    let ck = CertifiedKey::new(chain, signing);
    match ck.keys_match() {
        Ok(()) => Ok(ck),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: cert_file.into(),
                key: key_file.into(),
            })
        }
        // The key type cannot tell its public key: nothing to compare.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(ck),
        Err(e) => Err(no_cert(e.to_string())),
    }
}

impl CertStore {
    /// Loads the pair; an error here is fatal at start-up.
    pub fn load(
        opts: &TlsOptions,
        provider: Arc<CryptoProvider>,
        metrics: Option<SecurityMetrics>,
    ) -> Result<CertStore, TlsError> {
        let (c, k) = read_pair(&opts.cert_file, &opts.key_file)?;
        let ck = certified_key(&opts.cert_file, &opts.key_file, &c, &k, &provider)?;
        Ok(CertStore {
            cert_file: opts.cert_file.clone(),
            key_file: opts.key_file.clone(),
            provider,
            current: RwLock::new(Arc::new(ck)),
            last: Mutex::new((c, k, None)),
            metrics,
        })
    }

    /// Re-reads the files; swaps the pair in if they changed and are usable. Returns
    /// whether a new pair went into service.
    pub fn reload(&self) -> bool {
        let attempt = read_pair(&self.cert_file, &self.key_file).and_then(|(c, k)| {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.0 == c && last.1 == k {
                return Ok(None);
            }
            let result = certified_key(&self.cert_file, &self.key_file, &c, &k, &self.provider);
            last.0 = c;
            last.1 = k;
            result.map(Some)
        });
        match attempt {
            Ok(None) => false,
            Ok(Some(ck)) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ck);
                self.last.lock().unwrap_or_else(|p| p.into_inner()).2 = None;
                if let Some(m) = &self.metrics {
                    m.tls_reloaded(true);
                }
                tracing::info!(cert = %self.cert_file.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                let msg = e.to_string();
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                if last.2.as_deref() != Some(msg.as_str()) {
                    if let Some(m) = &self.metrics {
                        m.tls_reloaded(false);
                    }
                    tracing::error!(
                        "TLS certificate reload failed; the previous certificate stays in service: {msg}"
                    );
                    last.2 = Some(msg);
                }
                false
            }
        }
    }
}

/// The rustls server configuration and the store that serves (and reloads) the pair.
pub fn server_config(
    opts: &TlsOptions,
    metrics: Option<SecurityMetrics>,
) -> Result<(Arc<ServerConfig>, Arc<CertStore>), TlsError> {
    let base = rustls::crypto::ring::default_provider();
    let suites = cipher_suites(&base.cipher_suites, &opts.cipher_suites)?;
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..base
    });
    let store = Arc::new(CertStore::load(opts, provider.clone(), metrics)?);
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12, &rustls::version::TLS13]
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(store.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), store))
}

/// Checks the files every `interval` until `cancel` fires.
pub fn watch(store: Arc<CertStore>, interval: Duration, cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let s = store.clone();
            if tokio::task::spawn_blocking(move || s.reload())
                .await
                .is_err()
            {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<rustls::SupportedCipherSuite> {
        rustls::crypto::ring::default_provider().cipher_suites
    }

    #[test]
    fn cipher_suites_by_go_name_and_id() {
        let names = vec![
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string(),
            "0xc02c".to_string(),
        ];
        let got: Vec<String> = cipher_suites(&all(), &names)
            .unwrap()
            .iter()
            .map(go_name)
            .collect();
        assert_eq!(got[0], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(got[1], "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
        assert!(
            got.contains(&"TLS_AES_128_GCM_SHA256".to_string()),
            "{got:?}"
        );
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn go_only_suites_are_skipped_unknown_ones_refused() {
        let names = vec![
            "tls_ecdhe_rsa_with_aes_128_cbc_sha".to_string(),
            "TLS_AES_256_GCM_SHA384".to_string(),
        ];
        let got = cipher_suites(&all(), &names).unwrap();
        assert_eq!(got.len(), 1);
        let e = cipher_suites(&all(), &["TLS_NOPE".to_string()]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("-tlsCipherSuites: unknown cipher suite \"TLS_NOPE\""),
            "{msg}"
        );
        assert!(
            msg.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            "{msg}"
        );
        let only_go = vec!["TLS_RSA_WITH_AES_128_CBC_SHA".to_string()];
        assert_eq!(cipher_suites(&all(), &only_go).unwrap().len(), 3);
    }
}
