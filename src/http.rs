//! The one way tocsin makes HTTP clients: reqwest with keep-alive, built once per
//! endpoint from vmalert-style auth and TLS options.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

pub mod redact;

pub use redact::{redact_text, redact_url};

/// Authentication and TLS settings of one endpoint (vmalert's `-X.basicAuth.*`,
/// `-X.bearerToken*`, `-X.headers`, `-X.tls*` flags).
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    pub basic_auth_username: Option<String>,
    pub basic_auth_password: Option<String>,
    pub basic_auth_password_file: Option<PathBuf>,
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    /// Extra headers, already split into name/value pairs.
    pub headers: Vec<(String, String)>,
    pub tls_ca_file: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub tls_insecure_skip_verify: bool,
}

/// Why a client could not be built; names the flag's file or header.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid header {0:?}: use 'Name: value'")]
    Header(String),
    #[error("invalid TLS material in {path}: {message}")]
    Tls { path: PathBuf, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("basic auth needs a user name: set -{0}.basicAuth.username")]
    MissingUser(String),
    #[error(
        "-{prefix}.url carries credentials (user:password@) and -{prefix}.{flag} is set too: keep one, either remove the credentials from -{prefix}.url or drop -{prefix}.{flag}"
    )]
    UrlCredentials { prefix: String, flag: &'static str },
}

impl AuthOptions {
    /// The authentication flags that are set (without their `-prefix.`).
    pub fn methods(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                out.push(name);
            }
        };
        add(self.basic_auth_username.is_some(), "basicAuth.username");
        add(self.basic_auth_password.is_some(), "basicAuth.password");
        add(
            self.basic_auth_password_file.is_some(),
            "basicAuth.passwordFile",
        );
        add(self.bearer_token.is_some(), "bearerToken");
        add(self.bearer_token_file.is_some(), "bearerTokenFile");
        out
    }
}

/// A URL requests go to, and the form in which it is shown (logs, errors, the API,
/// metric labels). `Debug` and `Display` print the shown form only.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub shown: String,
}

impl Endpoint {
    /// An endpoint shown redacted ([`redact_url`]).
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        Endpoint {
            shown: redact_url(&url),
            url,
        }
    }

    /// An endpoint shown as it is (vmalert's `-notifier.showURL`). Credentials taken out
    /// of the URL by [`url_credentials`] are not part of it.
    pub fn unredacted(url: impl Into<String>) -> Self {
        let url = url.into();
        Endpoint {
            shown: url.clone(),
            url,
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// `base` with `path` appended to its path (unless it already ends with it), its query
/// string kept: `http://h/p?authKey=k` + `/api/v1/query` → `http://h/p/api/v1/query?authKey=k`.
pub fn join_path(base: &str, path: &str) -> String {
    let split = base.find(['?', '#']).unwrap_or(base.len());
    let (head, query) = base.split_at(split);
    let head = head.trim_end_matches('/');
    if head.ends_with(path) {
        format!("{head}{query}")
    } else {
        format!("{head}{path}{query}")
    }
}

/// Takes the credentials out of `url` (`http://user:password@host`) and into `auth` as
/// basic auth, so that they travel in a header and the URL can be shown. A URL with
/// credentials beside an auth flag of the same client is refused: which one should win
/// is the operator's call, not a silent precedence rule.
pub fn url_credentials(
    prefix: &str,
    url: &str,
    auth: &mut AuthOptions,
) -> Result<String, ClientError> {
    let Some((clean, user, password)) = redact::split_userinfo(url) else {
        return Ok(url.to_string());
    };
    if let Some(flag) = auth.methods().first() {
        return Err(ClientError::UrlCredentials {
            prefix: prefix.to_string(),
            flag,
        });
    }
    auth.basic_auth_username = Some(user);
    auth.basic_auth_password = Some(password).filter(|p| !p.is_empty());
    Ok(clean)
}

/// Parses vmalert's header list format: `'Name: value^^Name2: value2'`.
pub fn parse_headers(s: &str) -> Result<Vec<(String, String)>, ClientError> {
    s.split("^^")
        .filter(|h| !h.trim().is_empty())
        .map(|h| match h.split_once(':') {
            Some((n, v)) if !n.trim().is_empty() => {
                Ok((n.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ClientError::Header(h.to_string())),
        })
        .collect()
}

/// Builds header maps from name/value pairs, rejecting invalid names or values.
pub fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, ClientError> {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        let name = HeaderName::from_bytes(n.as_bytes())
            .map_err(|_| ClientError::Header(format!("{n}: {v}")))?;
        let value =
            HeaderValue::from_str(v).map_err(|_| ClientError::Header(format!("{n}: {v}")))?;
        m.append(name, value);
    }
    Ok(m)
}

fn read(path: &PathBuf) -> Result<String, ClientError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| ClientError::Read {
            path: path.clone(),
            source,
        })
}

/// The `Authorization` header value for these options, if any. Password and token files
/// are read at build time; restart or reload to pick up rotated secrets.
fn authorization(prefix: &str, o: &AuthOptions) -> Result<Option<HeaderValue>, ClientError> {
    let token = match (&o.bearer_token, &o.bearer_token_file) {
        (Some(t), _) if !t.is_empty() => Some(t.clone()),
        (_, Some(f)) => Some(read(f)?),
        _ => None,
    };
    if let Some(t) = token {
        return HeaderValue::from_str(&format!("Bearer {t}"))
            .map(Some)
            .map_err(|_| ClientError::Header("Authorization: Bearer …".into()));
    }
    let password = match (&o.basic_auth_password, &o.basic_auth_password_file) {
        (Some(p), _) if !p.is_empty() => Some(p.clone()),
        (_, Some(f)) => Some(read(f)?),
        _ => None,
    };
    let user = o.basic_auth_username.clone().filter(|u| !u.is_empty());
    match (user, password) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ClientError::MissingUser(prefix.to_string())),
        (Some(u), p) => {
            use std::io::Write as _;
            let mut raw = Vec::new();
            let _ = write!(raw, "{u}:{}", p.unwrap_or_default());
            let v = format!("Basic {}", base64(&raw));
            HeaderValue::from_str(&v)
                .map(Some)
                .map_err(|_| ClientError::Header("Authorization: Basic …".into()))
        }
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Builds a keep-alive client for one endpoint. `prefix` (e.g. `datasource`) names the
/// flags in error messages.
pub fn client(
    prefix: &str,
    o: &AuthOptions,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut headers = header_map(&o.headers)?;
    if let Some(a) = authorization(prefix, o)? {
        headers.insert(AUTHORIZATION, a);
    }
    let mut b = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")));
    if o.tls_insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(ca) = &o.tls_ca_file {
        let pem = std::fs::read(ca).map_err(|source| ClientError::Read {
            path: ca.clone(),
            source,
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| ClientError::Tls {
            path: ca.clone(),
            message: e.to_string(),
        })?;
        b = b.add_root_certificate(cert);
    }
    if let (Some(cert), Some(key)) = (&o.tls_cert_file, &o.tls_key_file) {
        let mut pem = std::fs::read(cert).map_err(|source| ClientError::Read {
            path: cert.clone(),
            source,
        })?;
        pem.push(b'\n');
        pem.extend(std::fs::read(key).map_err(|source| ClientError::Read {
            path: key.clone(),
            source,
        })?);
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| ClientError::Tls {
            path: cert.clone(),
            message: e.to_string(),
        })?;
        b = b.identity(id);
    }
    if let Some(name) = &o.tls_server_name {
        tracing::warn!(
            server_name = %name,
            "-{prefix}.tlsServerName is not supported yet; the URL's host is verified"
        );
    }
    b.build().map_err(ClientError::Build)
}

/// A transport error with its causes (`error sending request for url (…): client error
/// (Connect): tcp connect error: Connection refused`): reqwest's own message names only
/// the request, which tells an operator nothing. URLs in it are redacted.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message = format!("{message}: {s}");
        src = s.source();
    }
    redact_text(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_vmalert_format() {
        let h = parse_headers("X-Scope-OrgID: 1^^Accept: application/json").unwrap();
        assert_eq!(
            h,
            [
                ("X-Scope-OrgID".to_string(), "1".to_string()),
                ("Accept".to_string(), "application/json".to_string())
            ]
        );
        assert!(parse_headers("no colon").is_err());
    }

    #[test]
    fn paths_go_before_the_query() {
        assert_eq!(
            join_path("http://h/p/?authKey=k", "/api/v1/query"),
            "http://h/p/api/v1/query?authKey=k"
        );
        assert_eq!(
            join_path("http://h", "/api/v1/write"),
            "http://h/api/v1/write"
        );
        assert_eq!(
            join_path("http://h/api/v2/alerts", "/api/v2/alerts"),
            "http://h/api/v2/alerts"
        );
    }

    #[test]
    fn url_credentials_move_into_basic_auth_or_are_refused_beside_a_flag() {
        let mut auth = AuthOptions::default();
        let url = url_credentials("datasource", "http://u:p%40ss@h:1/x?q=1", &mut auth).unwrap();
        assert_eq!(url, "http://h:1/x?q=1");
        assert_eq!(
            authorization("datasource", &auth).unwrap().unwrap(),
            "Basic dTpwQHNz"
        );
        let mut auth = AuthOptions {
            bearer_token: Some("t".into()),
            ..AuthOptions::default()
        };
        let e = url_credentials("remoteWrite", "http://u:s3cret@h", &mut auth)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-remoteWrite.url") && e.contains("-remoteWrite.bearerToken"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn basic_auth_header() {
        let o = AuthOptions {
            basic_auth_username: Some("Aladdin".into()),
            basic_auth_password: Some("open sesame".into()),
            ..AuthOptions::default()
        };
        let v = authorization("datasource", &o).unwrap().unwrap();
        assert_eq!(v, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        let o = AuthOptions {
            basic_auth_password: Some("x".into()),
            ..AuthOptions::default()
        };
        assert!(
            authorization("notifier", &o)
                .unwrap_err()
                .to_string()
                .contains("-notifier.basicAuth.username")
        );
    }

    #[test]
    fn bearer_token_wins() {
        let o = AuthOptions {
            basic_auth_username: Some("u".into()),
            bearer_token: Some("t0k".into()),
            ..AuthOptions::default()
        };
        assert_eq!(authorization("x", &o).unwrap().unwrap(), "Bearer t0k");
    }
}
