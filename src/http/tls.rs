//! The clients' TLS: rustls with Mozilla's roots, or only the CA file when one is given
//! (as Go's `tls.Config.RootCAs`), a client certificate, `tlsServerName` (the name the
//! server's certificate is verified against, instead of the URL's host) and
//! `tlsInsecureSkipVerify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::ClientError;

/// `-X.tls*` settings of one client.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(setting: &str, path: &Path, message: impl std::fmt::Display) -> ClientError {
    ClientError::Tls {
        setting: setting.to_string(),
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn roots(o: &TlsOptions, name: &dyn Fn(&str) -> String) -> Result<RootCertStore, ClientError> {
    let mut store = RootCertStore::empty();
    let Some(ca) = &o.ca_file else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let setting = name("tlsCAFile");
    let pem = std::fs::read(ca).map_err(|e| tls_error(&setting, ca, e))?;
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| tls_error(&setting, ca, e))?;
        store.add(cert).map_err(|e| tls_error(&setting, ca, e))?;
        n += 1;
    }
    if n == 0 {
        return Err(tls_error(&setting, ca, "no PEM certificate in it"));
    }
    Ok(store)
}

/// The rustls configuration of one client; `name` turns a flag suffix (`tlsCAFile`) into
/// the setting's name as the user wrote it (`-datasource.tlsCAFile`).
pub fn client_config(
    o: &TlsOptions,
    name: &dyn Fn(&str) -> String,
) -> Result<rustls::ClientConfig, ClientError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::TlsSetup(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = if o.insecure_skip_verify {
        Arc::new(AcceptAny(provider.signature_verification_algorithms))
    } else {
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots(o, name)?), provider)
                .build()
                .map_err(|e| ClientError::TlsSetup(e.to_string()))?;
        match &o.server_name {
            None => webpki as Arc<dyn ServerCertVerifier>,
            Some(n) => {
                let server_name =
                    ServerName::try_from(n.clone()).map_err(|_| ClientError::Setting {
                        setting: name("tlsServerName"),
                        message: format!("{n:?} is not a DNS name or an IP address"),
                    })?;
                Arc::new(NamedVerifier {
                    inner: webpki,
                    name: server_name,
                })
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&o.cert_file, &o.key_file) {
        (Some(cert), Some(key)) => {
            let cert_setting = name("tlsCertFile");
            let key_setting = name("tlsKeyFile");
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| tls_error(&cert_setting, cert, e))?
                .collect::<Result<_, _>>()
                .map_err(|e| tls_error(&cert_setting, cert, e))?;
            if chain.is_empty() {
                return Err(tls_error(&cert_setting, cert, "no PEM certificate in it"));
            }
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error(&key_setting, key, e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                tls_error(&cert_setting, cert, format!("{e} (does it match the key?)"))
            })?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ClientError::Setting {
                setting: format!("{} and {}", name("tlsCertFile"), name("tlsKeyFile")),
                message: "a client certificate needs both: set both or neither".into(),
            });
        }
        (None, None) => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Verifies the server's certificate against a configured name instead of the URL's
/// host (Go's `tls.Config.ServerName`; the SNI sent is still the URL's host).
#[derive(Debug)]
struct NamedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `tlsInsecureSkipVerify`: any certificate is accepted (the handshake's signatures are
/// still checked, so the connection is encrypted to whoever holds the key).
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
