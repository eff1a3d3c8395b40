//! The route table: every endpoint, the paths that reach it, the methods it takes and
//! what guards it. [`routes`] lists every endpoint with a path that reaches it, so tests
//! can walk the whole server.

use hyper::Method;

use super::auth::{Guard, KeyFlag};
use super::ui;

/// Declares [`Endpoint`] and [`Endpoint::ALL`] from one list, so that no endpoint can
/// be left out of `ALL` (and so out of the tests that walk every route).
macro_rules! endpoints {
    ($($v:ident),* $(,)?) => {
        /// Every endpoint; vmalert's `/vmalert/api/...` aliases map to the same ones.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum Endpoint {
            $($v,)*
        }

        impl Endpoint {
            /// Every endpoint, in declaration order.
            pub const ALL: &'static [Endpoint] = &[$(Endpoint::$v,)*];
        }
    };
}

endpoints!(
    Index,
    Static,
    Notifiers,
    Rules,
    Alerts,
    Rule,
    Alert,
    Group,
    Status,
    RuntimeInfo,
    Metrics,
    Healthy,
    Ready,
    Reload,
    Flags,
    PprofIndex,
    PprofProfile,
    Pause,
    Resume,
    Pauses,
);

impl Endpoint {
    pub fn route(path: &str) -> Option<Endpoint> {
        if ui::is_static_path(path) {
            return Some(Endpoint::Static);
        }
        if let Some(rest) = path.strip_prefix("/debug/pprof/") {
            return Some(match rest {
                "profile" => Endpoint::PprofProfile,
                // The index answers 404 for profiles it does not have, as Go's does.
                _ => Endpoint::PprofIndex,
            });
        }
        // vmalert's `/vmalert/api/…` and VictoriaMetrics' `/prometheus/api/…` (which its
        // `-vmalert.proxyURL` forwards unchanged) are the same API.
        let api = ["/vmalert", "/prometheus"]
            .iter()
            .find_map(|p| path.strip_prefix(p).filter(|p| p.starts_with("/api/")))
            .unwrap_or(path);
        Some(match api {
            "/" | "/vmalert" | "/vmalert/" => Endpoint::Index,
            "/api/v1/rules" => Endpoint::Rules,
            "/api/v1/rules/pause" => Endpoint::Pause,
            "/api/v1/rules/resume" => Endpoint::Resume,
            "/api/v1/rules/pauses" => Endpoint::Pauses,
            "/api/v1/alerts" => Endpoint::Alerts,
            "/api/v1/notifiers" => Endpoint::Notifiers,
            "/api/v1/rule" => Endpoint::Rule,
            "/api/v1/alert" => Endpoint::Alert,
            "/api/v1/group" => Endpoint::Group,
            "/api/v1/status" => Endpoint::Status,
            "/api/v1/status/runtimeinfo" => Endpoint::RuntimeInfo,
            "/metrics" => Endpoint::Metrics,
            "/-/healthy" | "/health" => Endpoint::Healthy,
            "/-/ready" => Endpoint::Ready,
            "/-/reload" => Endpoint::Reload,
            "/flags" => Endpoint::Flags,
            "/debug/pprof" => Endpoint::PprofIndex,
            _ => return None,
        })
    }

    /// The canonical path, for metrics labels; it also reaches the endpoint.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Index => "/",
            Endpoint::Static => "/static/",
            Endpoint::Notifiers => "/api/v1/notifiers",
            Endpoint::Rules => "/api/v1/rules",
            Endpoint::Alerts => "/api/v1/alerts",
            Endpoint::Rule => "/api/v1/rule",
            Endpoint::Alert => "/api/v1/alert",
            Endpoint::Group => "/api/v1/group",
            Endpoint::Status => "/api/v1/status",
            Endpoint::RuntimeInfo => "/api/v1/status/runtimeinfo",
            Endpoint::Metrics => "/metrics",
            Endpoint::Healthy => "/-/healthy",
            Endpoint::Ready => "/-/ready",
            Endpoint::Reload => "/-/reload",
            Endpoint::Flags => "/flags",
            Endpoint::PprofIndex => "/debug/pprof/",
            Endpoint::PprofProfile => "/debug/pprof/profile",
            Endpoint::Pause => "/api/v1/rules/pause",
            Endpoint::Resume => "/api/v1/rules/resume",
            Endpoint::Pauses => "/api/v1/rules/pauses",
        }
    }

    /// The `Allow` header value; reading endpoints take GET and HEAD, `/-/reload`
    /// takes GET (vmalert) and POST/PUT (Prometheus).
    pub fn allow(self) -> &'static str {
        match self {
            Endpoint::Reload => "GET, POST, PUT",
            Endpoint::PprofProfile => "GET",
            Endpoint::Pause | Endpoint::Resume => "POST",
            _ => "GET, HEAD",
        }
    }

    /// Whether answering costs in proportion to the number of rules, alerts or series:
    /// such requests are rendered on a blocking thread, at most
    /// `-http.maxConcurrentRequests` at once, so API load cannot starve evaluation or
    /// the health checks.
    pub fn is_expensive(self) -> bool {
        matches!(self, Endpoint::Rules | Endpoint::Alerts | Endpoint::Metrics)
    }

    pub fn allows(self, m: &Method) -> bool {
        match self {
            Endpoint::Reload => m == Method::GET || m == Method::POST || m == Method::PUT,
            Endpoint::PprofProfile => m == Method::GET,
            Endpoint::Pause | Endpoint::Resume => m == Method::POST,
            _ => m == Method::GET || m == Method::HEAD,
        }
    }

    /// What protects the endpoint (vmalert's rules; see `auth`).
    pub fn guard(self) -> Guard {
        match self {
            Endpoint::Healthy | Endpoint::Ready => Guard::Open,
            Endpoint::Metrics => Guard::Key(KeyFlag::Metrics),
            Endpoint::Flags => Guard::Key(KeyFlag::Flags),
            Endpoint::PprofIndex | Endpoint::PprofProfile => Guard::Key(KeyFlag::Pprof),
            // Pausing changes what is evaluated, as a reload does: the same key.
            Endpoint::Reload | Endpoint::Pause | Endpoint::Resume => Guard::Key(KeyFlag::Reload),
            _ => Guard::Basic,
        }
    }

    /// Whether the request may carry its parameters (and `authKey`) in a form body.
    pub fn takes_form(self) -> bool {
        matches!(self, Endpoint::Reload | Endpoint::Pause | Endpoint::Resume)
    }

    /// Whether answers carry CORS headers (the JSON API, as Prometheus').
    pub fn is_api(self) -> bool {
        matches!(
            self,
            Endpoint::Notifiers
                | Endpoint::Rules
                | Endpoint::Alerts
                | Endpoint::Rule
                | Endpoint::Alert
                | Endpoint::Group
                | Endpoint::Status
                | Endpoint::RuntimeInfo
                | Endpoint::Pause
                | Endpoint::Resume
                | Endpoint::Pauses
        )
    }
}

/// One endpoint as the route table describes it, for tests that walk every route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// A path (without `-http.pathPrefix`) that reaches the endpoint.
    pub path: &'static str,
    /// A method it accepts (GET for all but pause and resume, which take POST only).
    pub method: &'static str,
    /// `None`: open; `Some("")`: basic auth; `Some(flag)`: that key, else basic auth.
    pub key_flag: Option<&'static str>,
}

/// Every route of the server.
pub fn routes() -> Vec<RouteInfo> {
    Endpoint::ALL
        .iter()
        .map(|e| RouteInfo {
            path: match e {
                Endpoint::Static => "/static/app.js",
                e => e.name(),
            },
            method: if e.allows(&Method::GET) {
                "GET"
            } else {
                "POST"
            },
            key_flag: match e.guard() {
                Guard::Open => None,
                Guard::Basic => Some(""),
                Guard::Key(k) => Some(k.name()),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_routes_back() {
        for r in routes() {
            let e = Endpoint::route(r.path).unwrap_or_else(|| panic!("{} routes nowhere", r.path));
            assert_eq!(
                Endpoint::route(e.name()).map(Endpoint::name),
                Some(e.name())
            );
        }
    }

    #[test]
    fn routes_and_aliases() {
        assert_eq!(
            Endpoint::route("/vmalert/api/v1/rules"),
            Some(Endpoint::Rules)
        );
        assert_eq!(Endpoint::route("/api/v1/rules"), Some(Endpoint::Rules));
        assert_eq!(Endpoint::route("/vmalert"), Some(Endpoint::Index));
        assert_eq!(Endpoint::route("/vmalert/"), Some(Endpoint::Index));
        assert_eq!(Endpoint::route("/static/app.js"), Some(Endpoint::Static));
        assert_eq!(
            Endpoint::route("/vmalert/static/app.js"),
            Some(Endpoint::Static)
        );
        assert_eq!(
            Endpoint::route("/vmalert/api/v1/notifiers"),
            Some(Endpoint::Notifiers)
        );
        assert_eq!(Endpoint::route("/vmalert/metrics"), None);
        assert_eq!(
            Endpoint::route("/prometheus/api/v1/alerts"),
            Some(Endpoint::Alerts)
        );
        assert_eq!(Endpoint::route("/api/v1/rules/"), None);
        assert_eq!(
            Endpoint::route("/debug/pprof/heap"),
            Some(Endpoint::PprofIndex)
        );
        assert!(Endpoint::Reload.allows(&Method::POST));
        assert!(!Endpoint::Rules.allows(&Method::POST));
        assert_eq!(Endpoint::Healthy.guard(), Guard::Open);
    }
}
