//! Who may call what, as vmalert decides it: `-httpAuth.*` (basic auth) guards every
//! route except the health checks; `/metrics`, `/flags`, `/debug/pprof/*` and
//! `/-/reload` take their own key (`-metricsAuthKey`, …) as `authKey=` in the query or
//! a form body instead, and fall back to basic auth when their key is not set.
//! Credentials are compared in constant time.

use std::sync::Arc;

use base64::Engine as _;
use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

use super::filter::Query;
use crate::secret::Secret;

/// `-httpAuth.username` and `-httpAuth.password`.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    pub username: String,
    /// `None`: the password is empty.
    pub password: Option<Arc<Secret>>,
}

/// The server's credentials; everything `None` means an open server.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub basic: Option<BasicAuth>,
    pub metrics_key: Option<Arc<Secret>>,
    pub flags_key: Option<Arc<Secret>>,
    pub pprof_key: Option<Arc<Secret>>,
    pub reload_key: Option<Arc<Secret>>,
}

/// What protects a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Health checks: always open.
    Open,
    /// Basic auth, when configured.
    Basic,
    /// The route's own key when set, else basic auth.
    Key(KeyFlag),
}

/// The routes with a key of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFlag {
    Metrics,
    Flags,
    Pprof,
    Reload,
}

impl KeyFlag {
    pub fn name(self) -> &'static str {
        match self {
            KeyFlag::Metrics => "metricsAuthKey",
            KeyFlag::Flags => "flagsAuthKey",
            KeyFlag::Pprof => "pprofAuthKey",
            KeyFlag::Reload => "reloadAuthKey",
        }
    }
}

/// Why a request was turned away (always 401, as vmalert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    MissingKey(KeyFlag),
    WrongKey(KeyFlag),
    Basic,
}

impl Denied {
    /// The plain-text body: names the flag, never a value.
    pub fn message(self) -> String {
        match self {
            Denied::MissingKey(k) => format!(
                "authKey is required: -{} is set; pass it as ?authKey=...\n",
                k.name()
            ),
            Denied::WrongKey(k) => {
                format!("the provided authKey doesn't match -{}\n", k.name())
            }
            Denied::Basic => "401 Unauthorized: basic auth required (-httpAuth.*)\n".into(),
        }
    }

    /// The label of the failure counter.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::MissingKey(_) | Denied::WrongKey(_) => "wrong_auth_key",
            Denied::Basic => "wrong_basic_auth",
        }
    }
}

impl Access {
    fn key(&self, k: KeyFlag) -> Option<&Secret> {
        match k {
            KeyFlag::Metrics => self.metrics_key.as_deref(),
            KeyFlag::Flags => self.flags_key.as_deref(),
            KeyFlag::Pprof => self.pprof_key.as_deref(),
            KeyFlag::Reload => self.reload_key.as_deref(),
        }
    }

    /// Whether a request with these headers and query (plus form fields) may pass.
    pub fn check(&self, guard: Guard, headers: &HeaderMap, q: &Query) -> Result<(), Denied> {
        match guard {
            Guard::Open => Ok(()),
            Guard::Basic => self.check_basic(headers),
            Guard::Key(k) => match self.key(k) {
                None => self.check_basic(headers),
                Some(secret) => match q.get("authKey") {
                    None | Some("") => Err(Denied::MissingKey(k)),
                    Some(got) if secret.matches(got.as_bytes()) => Ok(()),
                    Some(_) => Err(Denied::WrongKey(k)),
                },
            },
        }
    }

    fn check_basic(&self, headers: &HeaderMap) -> Result<(), Denied> {
        let Some(want) = &self.basic else {
            return Ok(());
        };
        let Some((user, pass)) = basic_credentials(headers) else {
            return Err(Denied::Basic);
        };
        let user_ok = crate::secret::constant_time_eq(want.username.as_bytes(), user.as_bytes());
        let pass_ok = match &want.password {
            Some(p) => p.matches(pass.as_bytes()),
            None => pass.is_empty(),
        };
        if user_ok & pass_ok {
            Ok(())
        } else {
            Err(Denied::Basic)
        }
    }
}

/// The user name of an `Authorization: Basic …` header (checked or not: call after
/// [`Access::check`]).
pub fn basic_user(headers: &HeaderMap) -> Option<String> {
    basic_credentials(headers)
        .map(|(u, _)| u)
        .filter(|u| !u.is_empty())
}

/// The user and password of an `Authorization: Basic …` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn secret(v: &str) -> Option<Arc<Secret>> {
        Secret::from_flag("k", v).unwrap().map(Arc::new)
    }

    fn with_basic(user: &str, pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {b}")).unwrap(),
        );
        h
    }

    fn access() -> Access {
        Access {
            basic: Some(BasicAuth {
                username: "admin".into(),
                password: secret("pw"),
            }),
            metrics_key: secret("mk"),
            ..Access::default()
        }
    }

    #[test]
    fn basic_auth_guards_and_health_is_open() {
        let a = access();
        let none = HeaderMap::new();
        let q = Query::parse(None);
        assert_eq!(a.check(Guard::Open, &none, &q), Ok(()));
        assert_eq!(a.check(Guard::Basic, &none, &q), Err(Denied::Basic));
        let wrong = with_basic("admin", "nope");
        assert_eq!(a.check(Guard::Basic, &wrong, &q), Err(Denied::Basic));
        let right = with_basic("admin", "pw");
        assert_eq!(a.check(Guard::Basic, &right, &q), Ok(()));
        assert_eq!(Access::default().check(Guard::Basic, &none, &q), Ok(()));
    }

    #[test]
    fn a_key_replaces_basic_auth_and_an_unset_key_falls_back_to_it() {
        let a = access();
        let right_basic = with_basic("admin", "pw");
        let no_key = Query::parse(None);
        let m = Guard::Key(KeyFlag::Metrics);
        assert_eq!(
            a.check(m, &right_basic, &no_key),
            Err(Denied::MissingKey(KeyFlag::Metrics))
        );
        let wrong = Query::parse(Some("authKey=x"));
        assert_eq!(
            a.check(m, &HeaderMap::new(), &wrong),
            Err(Denied::WrongKey(KeyFlag::Metrics))
        );
        let right = Query::parse(Some("authKey=mk"));
        assert_eq!(a.check(m, &HeaderMap::new(), &right), Ok(()));
        let f = Guard::Key(KeyFlag::Flags);
        assert_eq!(a.check(f, &HeaderMap::new(), &right), Err(Denied::Basic));
        assert_eq!(a.check(f, &right_basic, &no_key), Ok(()));
        assert!(
            Denied::WrongKey(KeyFlag::Metrics)
                .message()
                .contains("-metricsAuthKey")
        );
    }

    #[test]
    fn malformed_authorization_headers_are_refused() {
        let a = access();
        let q = Query::parse(None);
        for v in ["Bearer abc", "Basic !!!", "Basic", "Basic YWRtaW4="] {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, HeaderValue::from_static(v));
            assert_eq!(a.check(Guard::Basic, &h, &q), Err(Denied::Basic), "{v}");
        }
    }
}
