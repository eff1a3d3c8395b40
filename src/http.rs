//! The one way tocsin makes HTTP clients (datasource, remote read, remote write,
//! notifier): reqwest over rustls with keep-alive, built from vmalert-style settings
//! (`-X.basicAuth.*`, `-X.bearerToken*`, `-X.oauth2.*`, `-X.headers`, `-X.tls*`,
//! `-X.idleConnTimeout`), and credentials attached to each request as it is made, so
//! that rotated secret files and renewed OAuth2 tokens are used without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

pub mod oauth2;
pub mod redact;
pub mod secret;
pub mod tls;

pub use oauth2::{OAuth2Options, TokenError, TokenSource};
pub use redact::{redact_text, redact_url};
pub use secret::{ReadError, Secret, SecretSource};
pub use tls::TlsOptions;

/// Where a client's settings come from, to name them in errors the way the user wrote
/// them: `-datasource.bearerTokenFile`, or `static_configs[0].bearer_token_file` in the
/// notifier config (whose errors name the file in front).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Flags `-<prefix>.*`.
    Flags(String),
    /// A section of the notifier config file (`""`: its top level).
    Section(String),
}

impl Origin {
    pub fn flags(prefix: &str) -> Self {
        Origin::Flags(prefix.to_string())
    }

    /// The name of a setting, given as its flag suffix (`basicAuth.passwordFile`).
    pub fn name(&self, flag: &str) -> String {
        match self {
            Origin::Flags(prefix) => format!("-{prefix}.{flag}"),
            Origin::Section(section) if section.is_empty() => yaml_key(flag).to_string(),
            Origin::Section(section) => format!("{section}.{}", yaml_key(flag)),
        }
    }
}

/// The notifier config's key for a flag suffix.
fn yaml_key(flag: &str) -> &str {
    match flag {
        "basicAuth.username" => "basic_auth.username",
        "basicAuth.usernameFile" => "basic_auth.username_file",
        "basicAuth.password" => "basic_auth.password",
        "basicAuth.passwordFile" => "basic_auth.password_file",
        "bearerToken" => "bearer_token",
        "bearerTokenFile" => "bearer_token_file",
        "oauth2.clientID" => "oauth2.client_id",
        "oauth2.clientSecret" => "oauth2.client_secret",
        "oauth2.clientSecretFile" => "oauth2.client_secret_file",
        "oauth2.tokenUrl" => "oauth2.token_url",
        "oauth2.scopes" => "oauth2.scopes",
        "oauth2.endpointParams" => "oauth2.endpoint_params",
        "tlsCAFile" => "tls_config.ca_file",
        "tlsCertFile" => "tls_config.cert_file",
        "tlsKeyFile" => "tls_config.key_file",
        "tlsServerName" => "tls_config.server_name",
        "tlsInsecureSkipVerify" => "tls_config.insecure_skip_verify",
        other => other,
    }
}

/// Settings of one client. Secrets are [`Secret`]s, so `Debug` never shows them.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub basic_auth_username: Option<String>,
    pub basic_auth_username_file: Option<PathBuf>,
    pub basic_auth_password: Option<Secret>,
    pub basic_auth_password_file: Option<PathBuf>,
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<PathBuf>,
    pub oauth2: Option<OAuth2Options>,
    /// Extra headers, already split into name/value pairs.
    pub headers: Vec<(String, String)>,
    pub tls: TlsOptions,
    /// How long an idle keep-alive connection is kept (vmalert's default: 50 s).
    pub idle_conn_timeout: Option<Duration>,
    /// At most this many idle keep-alive connections kept per host (no bound if `None`):
    /// for clients whose requests come in bursts, so that their connections do not stay
    /// open against the server's connection limit between bursts.
    pub max_idle_per_host: Option<usize>,
    /// An HTTP(S) proxy every request goes through (`user:password@` in it is the
    /// proxy's basic auth, hence a [`Secret`]).
    pub proxy_url: Option<Secret>,
}

/// Why a client could not be built: names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{setting}: {message}")]
    Setting { setting: String, message: String },
    #[error("{setting} {path}: {message}")]
    Tls {
        setting: String,
        path: PathBuf,
        message: String,
    },
    #[error("cannot set up TLS: {0}")]
    TlsSetup(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error(
        "-{prefix}.url carries credentials (user:password@) and -{prefix}.{flag} is set too: keep one, either remove the credentials from -{prefix}.url or drop -{prefix}.{flag}"
    )]
    UrlCredentials { prefix: String, flag: &'static str },
}

/// Why a request was not sent: its credentials could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("{0}; the request was not sent")]
    Secret(#[from] ReadError),
    #[error("{0}; the request was not sent")]
    Token(#[from] TokenError),
}

impl ClientOptions {
    /// The authentication settings that are set, as flag suffixes.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, name| {
            if set {
                out.push(name);
            }
        };
        add(self.basic_auth_username.is_some(), "basicAuth.username");
        add(
            self.basic_auth_username_file.is_some(),
            "basicAuth.usernameFile",
        );
        add(self.basic_auth_password.is_some(), "basicAuth.password");
        add(
            self.basic_auth_password_file.is_some(),
            "basicAuth.passwordFile",
        );
        add(self.bearer_token.is_some(), "bearerToken");
        add(self.bearer_token_file.is_some(), "bearerTokenFile");
        add(self.oauth2.is_some(), "oauth2.clientID");
        out
    }
}

/// Parses vmalert's header list format, `'Name: value^^Name2: value2'`. Errors never
/// quote a value (headers carry tokens).
pub fn parse_headers(setting: &str, s: &str) -> Result<Vec<(String, String)>, ClientError> {
    s.split("^^")
        .filter(|h| !h.trim().is_empty())
        .enumerate()
        .map(|(i, h)| match h.split_once(':') {
            Some((n, v)) if !n.trim().is_empty() => {
                Ok((n.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(ClientError::Setting {
                setting: setting.to_string(),
                message: format!("header {} has no name before ':'; use 'Name: value'", i + 1),
            }),
        })
        .collect()
}

/// Why a header cannot be sent; names the header, never its value.
#[derive(Debug, Clone, thiserror::Error)]
#[error("header {name:?} cannot be sent: {why}")]
pub struct HeaderError {
    pub name: String,
    pub why: &'static str,
}

/// Builds a header map from name/value pairs, rejecting invalid names or values.
pub fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, HeaderError> {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        let name = HeaderName::from_bytes(n.as_bytes()).map_err(|_| HeaderError {
            name: n.clone(),
            why: "invalid name",
        })?;
        let mut value = HeaderValue::from_str(v).map_err(|_| HeaderError {
            name: n.clone(),
            why: "its value has characters headers cannot carry",
        })?;
        value.set_sensitive(name == AUTHORIZATION);
        m.append(name, value);
    }
    Ok(m)
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

/// A URL requests go to, and the form in which it is shown (logs, errors, the API,
/// metric labels). `Debug` and `Display` print the shown form only.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub shown: String,
    /// `url` parsed once, so that a request does not parse it again (`None` if it does
    /// not parse: the request then fails with reqwest's error, as before).
    parsed: Option<reqwest::Url>,
}

impl Endpoint {
    /// An endpoint shown redacted ([`redact_url`]).
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        Self::shown_as(redact_url(&url), url)
    }

    /// An endpoint shown as it is (vmalert's `-notifier.showURL`). Credentials taken out
    /// of the URL by [`url_credentials`] are not part of it.
    pub fn unredacted(url: impl Into<String>) -> Self {
        let url = url.into();
        Self::shown_as(url.clone(), url)
    }

    /// An endpoint shown as `shown`.
    pub fn shown_as(shown: String, url: String) -> Self {
        Endpoint {
            parsed: reqwest::Url::parse(&url).ok(),
            url,
            shown,
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

/// Takes the credentials out of `url` (`http://user:password@host`) and into `auth` as
/// basic auth, so that they travel in a header and the URL can be shown. A URL with
/// credentials beside an auth flag of the same client is refused: which one should win
/// is the operator's call, not a silent precedence rule.
pub fn url_credentials(
    prefix: &str,
    url: &str,
    auth: &mut ClientOptions,
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
    auth.basic_auth_password = Some(Secret::new(password)).filter(|p| !p.expose().is_empty());
    Ok(clean)
}

/// How requests are authenticated.
enum Auth {
    None,
    Basic {
        user: SecretSource,
        password: Option<SecretSource>,
    },
    Bearer(SecretSource),
    OAuth2(Box<TokenSource>),
}

/// A value or a file, refusing both.
fn one_of(
    origin: &Origin,
    (value_flag, value): (&str, &Option<Secret>),
    (file_flag, file): (&str, &Option<PathBuf>),
) -> Result<Option<SecretSource>, ClientError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ClientError::Setting {
            setting: format!("{} and {}", origin.name(value_flag), origin.name(file_flag)),
            message: "both are set; keep one".into(),
        }),
        (Some(v), None) => Ok(Some(SecretSource::Value(v.clone()))),
        (None, Some(f)) => Ok(Some(SecretSource::file(origin.name(file_flag), f)?)),
        (None, None) => Ok(None),
    }
}

/// Turns the settings into one way of authenticating; more than one is an error that
/// names them (vmalert refuses the same combinations).
fn auth(origin: &Origin, o: &ClientOptions, timeout: Duration) -> Result<Auth, ClientError> {
    let methods = o.methods();
    let kinds = [
        methods.iter().any(|m| m.starts_with("basicAuth")),
        o.bearer_token.is_some() || o.bearer_token_file.is_some(),
        o.oauth2.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() > 1 {
        let names: Vec<String> = methods.iter().map(|m| origin.name(m)).collect();
        return Err(ClientError::Setting {
            setting: names.join(", "),
            message: "only one way to authenticate can be used: basic auth, a bearer token or OAuth2; keep one".into(),
        });
    }
    let user = one_of(
        origin,
        (
            "basicAuth.username",
            &o.basic_auth_username.clone().map(Secret::new),
        ),
        ("basicAuth.usernameFile", &o.basic_auth_username_file),
    )?;
    let password = one_of(
        origin,
        ("basicAuth.password", &o.basic_auth_password),
        ("basicAuth.passwordFile", &o.basic_auth_password_file),
    )?;
    let bearer = one_of(
        origin,
        ("bearerToken", &o.bearer_token),
        ("bearerTokenFile", &o.bearer_token_file),
    )?;
    if let Some(o2) = &o.oauth2 {
        return Ok(Auth::OAuth2(Box::new(token_source(origin, o2, timeout)?)));
    }
    Ok(match (user, password, bearer) {
        (_, _, Some(b)) => Auth::Bearer(b),
        (Some(user), password, None) => Auth::Basic { user, password },
        (None, Some(_), None) => {
            return Err(ClientError::Setting {
                setting: origin.name("basicAuth.password"),
                message: format!(
                    "basic auth needs a user name: set {} or {}",
                    origin.name("basicAuth.username"),
                    origin.name("basicAuth.usernameFile")
                ),
            });
        }
        (None, None, None) => Auth::None,
    })
}

fn token_source(
    origin: &Origin,
    o: &OAuth2Options,
    timeout: Duration,
) -> Result<TokenSource, ClientError> {
    let missing = |flag: &str, what: &str| ClientError::Setting {
        setting: origin.name(flag),
        message: format!("OAuth2 needs {what}"),
    };
    if o.client_id.is_empty() {
        return Err(missing("oauth2.clientID", "a client ID"));
    }
    if o.token_url.is_empty() {
        return Err(missing("oauth2.tokenUrl", "the token endpoint's URL"));
    }
    let secret = one_of(
        origin,
        ("oauth2.clientSecret", &o.client_secret),
        ("oauth2.clientSecretFile", &o.client_secret_file),
    )?
    .ok_or_else(|| {
        missing(
            "oauth2.clientSecret",
            "a client secret (or a file holding it)",
        )
    })?;
    let http = builder(&o.tls, timeout, None, &|f| {
        origin.name(&format!("oauth2.{f}"))
    })?
    .build()
    .map_err(ClientError::Build)?;
    Ok(TokenSource::new(
        o,
        secret,
        origin.name("oauth2.tokenUrl"),
        http,
    ))
}

/// A reqwest builder with tocsin's TLS, timeouts and user agent.
fn builder(
    tls: &TlsOptions,
    timeout: Duration,
    idle: Option<Duration>,
    name: &dyn Fn(&str) -> String,
) -> Result<reqwest::ClientBuilder, ClientError> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls::client_config(tls, name)?)
        .timeout(timeout)
        .pool_idle_timeout(idle.unwrap_or(Duration::from_secs(50)))
        .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION"))))
}

/// The proxy at `url`; the error never quotes it (it may carry a password).
fn proxy(url: &Secret, origin: &Origin) -> Result<reqwest::Proxy, ClientError> {
    let bad = |why: &str| ClientError::Setting {
        setting: origin.name("proxy_url"),
        message: format!("{why}; use http://host:port or https://host:port"),
    };
    let u = reqwest::Url::parse(url.expose()).map_err(|_| bad("not a URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("only http and https proxies are supported"));
    }
    reqwest::Proxy::all(u).map_err(|_| bad("not a proxy URL"))
}

/// A keep-alive client for one endpoint, cheap to clone. Credentials are attached to
/// each request by [`HttpClient::post`].
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    auth: Arc<Auth>,
}

impl HttpClient {
    /// Builds the client; secret files are read now, so a missing one stops start-up.
    pub fn new(origin: &Origin, o: &ClientOptions, timeout: Duration) -> Result<Self, ClientError> {
        let headers = header_map(&o.headers).map_err(|e| ClientError::Setting {
            setting: origin.name("headers"),
            message: e.to_string(),
        })?;
        let auth = auth(origin, o, timeout)?;
        let mut b = builder(&o.tls, timeout, o.idle_conn_timeout, &|f| origin.name(f))?;
        if let Some(n) = o.max_idle_per_host {
            b = b.pool_max_idle_per_host(n);
        }
        if let Some(p) = &o.proxy_url {
            b = b.proxy(proxy(p, origin)?);
        }
        let inner = (b.default_headers(headers).build()).map_err(ClientError::Build)?;
        Ok(HttpClient {
            inner,
            auth: Arc::new(auth),
        })
    }

    /// A POST to `to` carrying the client's current credentials.
    pub async fn post(&self, to: &Endpoint) -> Result<reqwest::RequestBuilder, AuthError> {
        let req = match &to.parsed {
            Some(url) => self.inner.post(url.clone()),
            None => self.inner.post(&to.url),
        };
        self.authorize(req).await
    }

    /// A GET of `url` carrying the client's current credentials.
    pub async fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, AuthError> {
        self.authorize(self.inner.get(url)).await
    }

    async fn authorize(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, AuthError> {
        Ok(match &*self.auth {
            Auth::None => req,
            Auth::Basic { user, password } => {
                let password = match password {
                    Some(p) => Some(p.get()?.expose().to_string()),
                    None => None,
                };
                req.basic_auth(user.get()?.expose(), password)
            }
            Auth::Bearer(token) => req.bearer_auth(token.get()?.expose()),
            Auth::OAuth2(tokens) => req.header(AUTHORIZATION, tokens.authorization().await?),
        })
    }
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
mod tests;
