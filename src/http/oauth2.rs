//! OAuth2 client credentials (RFC 6749 §4.4), as vmalert's `-X.oauth2.*` flags and the
//! notifier config's `oauth2` section configure them.
//!
//! One token serves every request of a client until shortly before it expires; then the
//! first request to need a new one fetches it while the others wait for that same fetch
//! (one token request per expiry window, however many evaluations run at once). A failed
//! fetch is remembered for a second, so a broken token endpoint is not hammered by every
//! waiting request, and the request fails: nothing is sent without its credentials.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::secret::{ReadError, Secret, SecretSource};
use super::{Endpoint, error_chain, redact_text};

/// `-X.oauth2.*` settings.
#[derive(Debug, Clone, Default)]
pub struct OAuth2Options {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<std::path::PathBuf>,
    /// Sent space-separated as `scope` (vmalert's flag separates them with `;`).
    pub scopes: Vec<String>,
    pub token_url: String,
    /// Extra form parameters of the token request (`-X.oauth2.endpointParams`, JSON).
    pub endpoint_params: Vec<(String, String)>,
    /// How to reach the token endpoint (the notifier config's `oauth2.tls_config`).
    pub tls: super::TlsOptions,
}

/// Why no token could be had. Each message names the token endpoint (redacted) and the
/// setting to look at; none contains a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Secret(#[from] ReadError),
    #[error("cannot reach the OAuth2 token endpoint {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the OAuth2 token endpoint {url} answered {status}: {body}; check {setting}")]
    Status {
        url: String,
        status: u16,
        body: String,
        setting: String,
    },
    #[error(
        "the OAuth2 token endpoint {url} answered {what} instead of a token ({snippet:?}); check {setting}"
    )]
    NotAToken {
        url: String,
        what: &'static str,
        snippet: String,
        setting: String,
    },
}

/// How long a failed fetch is remembered.
const FAILURE_HOLD: Duration = Duration::from_secs(1);
/// A token is renewed this long before it expires (Go's oauth2 uses 10 s), or at half its
/// lifetime if that is shorter.
const EARLY: Duration = Duration::from_secs(10);

struct Token {
    header: HeaderValue,
    renew_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    failure: Option<(Instant, TokenError)>,
}

/// Where the client credentials go: Go's oauth2 tries the `Authorization` header first
/// and falls back to the form body, remembering what worked.
const STYLE_UNKNOWN: u8 = 0;
const STYLE_HEADER: u8 = 1;
const STYLE_BODY: u8 = 2;

/// Tokens of one client.
pub struct TokenSource {
    client_id: String,
    secret: SecretSource,
    scopes: String,
    params: Vec<(String, String)>,
    url: Endpoint,
    /// Names the token URL setting in errors (`-datasource.oauth2.tokenUrl`).
    setting: String,
    http: reqwest::Client,
    style: AtomicU8,
    state: Mutex<State>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSource({})", self.url)
    }
}

impl TokenSource {
    pub fn new(
        o: &OAuth2Options,
        secret: SecretSource,
        setting: String,
        http: reqwest::Client,
    ) -> Self {
        TokenSource {
            client_id: o.client_id.clone(),
            secret,
            scopes: o
                .scopes
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            params: o.endpoint_params.clone(),
            url: Endpoint::new(o.token_url.clone()),
            setting,
            http,
            style: AtomicU8::new(STYLE_UNKNOWN),
            state: Mutex::new(State::default()),
        }
    }

    /// The `Authorization` header value to send now.
    pub async fn authorization(&self) -> Result<HeaderValue, TokenError> {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        if let Some(t) = &st.token
            && t.renew_at.is_none_or(|at| now < at)
        {
            return Ok(t.header.clone());
        }
        if let Some((at, e)) = &st.failure
            && now < *at + FAILURE_HOLD
        {
            return Err(e.clone());
        }
        match self.fetch().await {
            Ok(t) => {
                let h = t.header.clone();
                st.token = Some(t);
                st.failure = None;
                Ok(h)
            }
            Err(e) => {
                st.failure = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Token, TokenError> {
        let secret = self.secret.get()?;
        match self.style.load(Ordering::Relaxed) {
            STYLE_UNKNOWN => match self.request(&secret, false).await {
                Err(TokenError::Status { status, .. }) if (400..500).contains(&status) => {
                    let t = self.request(&secret, true).await?;
                    self.style.store(STYLE_BODY, Ordering::Relaxed);
                    Ok(t)
                }
                Ok(t) => {
                    self.style.store(STYLE_HEADER, Ordering::Relaxed);
                    Ok(t)
                }
                Err(e) => Err(e),
            },
            s => self.request(&secret, s == STYLE_BODY).await,
        }
    }

    async fn request(&self, secret: &Secret, in_body: bool) -> Result<Token, TokenError> {
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        if !self.scopes.is_empty() {
            form.push(("scope", &self.scopes));
        }
        form.extend(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut req = self.http.post(&self.url.url);
        if in_body {
            form.push(("client_id", &self.client_id));
            form.push(("client_secret", secret.expose()));
        } else {
            // RFC 6749 §2.3.1: both form-encoded, then basic auth.
            req = req.basic_auth(
                url_encode(&self.client_id),
                Some(url_encode(secret.expose())),
            );
        }
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unreachable {
                url: self.url.shown.clone(),
                message: error_chain(&e),
            })?;
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = resp.bytes().await.map_err(|e| TokenError::Unreachable {
            url: self.url.shown.clone(),
            message: error_chain(&e),
        })?;
        if !status.is_success() {
            return Err(TokenError::Status {
                url: self.url.shown.clone(),
                status: status.as_u16(),
                body: snippet(&body),
                setting: self.setting.clone(),
            });
        }
        parse_token(&ctype, &body).map_err(|what| TokenError::NotAToken {
            url: self.url.shown.clone(),
            what,
            snippet: snippet(&body),
            setting: self.setting.clone(),
        })
    }
}

/// Go's `url.QueryEscape` of one value (as Go's clientcredentials escapes the id and secret).
fn url_encode(s: &str) -> String {
    crate::template::query_escape(s)
}

/// The start of an answer, for error messages; URLs in it are redacted, and a body that
/// carries an `access_token` is not quoted at all.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.contains("access_token") {
        return "(not shown: it mentions an access_token)".into();
    }
    redact_text(&text.chars().take(120).collect::<String>())
}

/// Go's oauth2 `Token.Type()`: the `token_type` with the usual capitalisation.
fn token_type(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "" | "bearer" => "Bearer".into(),
        "mac" => "MAC".into(),
        "basic" => "Basic".into(),
        _ => t.to_string(),
    }
}

/// A token answer: JSON (RFC 6749 §5.1), or form-encoded as some old servers (GitHub)
/// answer. `Err` says what it was instead.
fn parse_token(ctype: &str, body: &[u8]) -> Result<Token, &'static str> {
    let (access, kind, expires_in) = if ctype.starts_with("application/x-www-form-urlencoded")
        || ctype.starts_with("text/plain")
    {
        let mut access = String::new();
        let (mut kind, mut expires) = (String::new(), None);
        for (k, v) in form_urlencoded_pairs(body) {
            match k.as_str() {
                "access_token" => access = v,
                "token_type" => kind = v,
                "expires_in" => expires = v.parse::<f64>().ok(),
                _ => {}
            }
        }
        (access, kind, expires)
    } else {
        let v: serde_json::Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) if ctype.contains("html") || body.trim_ascii_start().starts_with(b"<") => {
                return Err("HTML");
            }
            Err(_) => return Err("something other than JSON"),
        };
        let expires = match &v["expires_in"] {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.parse::<f64>().ok(),
            _ => None,
        };
        (
            v["access_token"].as_str().unwrap_or_default().to_string(),
            v["token_type"].as_str().unwrap_or_default().to_string(),
            expires,
        )
    };
    if access.is_empty() {
        return Err("an answer without an access_token");
    }
    let mut header = HeaderValue::from_str(&format!("{} {access}", token_type(&kind)))
        .map_err(|_| "an access_token that cannot go into a header")?;
    header.set_sensitive(true);
    let renew_at = expires_in.filter(|s| *s > 0.0).map(|s| {
        let life = Duration::from_secs_f64(s.min(1e9));
        Instant::now() + life - EARLY.min(life / 2)
    });
    Ok(Token { header, renew_at })
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_answers() {
        let t = parse_token(
            "application/json",
            br#"{"access_token":"abc","token_type":"bearer","expires_in":"3600"}"#,
        )
        .unwrap();
        assert_eq!(t.header, "Bearer abc");
        assert!(t.header.is_sensitive());
        assert!(t.renew_at.is_some());
        let t = parse_token(
            "application/x-www-form-urlencoded; charset=utf-8",
            b"access_token=a%2Bb&token_type=mac",
        )
        .unwrap();
        assert_eq!(t.header, "MAC a+b");
        assert!(
            t.renew_at.is_none(),
            "no expires_in: the token does not expire"
        );
    }

    #[test]
    fn answers_that_are_not_tokens() {
        assert_eq!(
            parse_token("text/html", b"<html>login</html>").err(),
            Some("HTML")
        );
        assert_eq!(
            parse_token("application/json", b"{\"token_type\":\"bearer\"}").err(),
            Some("an answer without an access_token")
        );
        assert_eq!(
            parse_token("application/octet-stream", b"\x00\x01").err(),
            Some("something other than JSON")
        );
        assert!(snippet(br#"{"access_token":"leak"}"#).contains("not shown"));
    }

    #[test]
    fn client_credentials_are_form_encoded() {
        assert_eq!(url_encode("a b&c/d~*"), "a+b%26c%2Fd~%2A");
    }
}
