//! Endpoint handlers. Each takes the parsed query and returns a [`Reply`]; routing,
//! methods and the path prefix live in `server.rs`.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::StatusCode;
use prometheus_client::registry::Registry;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::filter::{self, AlertsFilter, ParamError, Query, RulesFilter};
use super::format::GoTime;
use super::json::{AlertJson, AlertsData, ApiError, Ctx, GroupJson, RuleJson, RulesReply, Success};
use super::listing;
use crate::status::{GroupStatus, StateSource};

/// A finished response: status, content type, body, and an optional `Allow` header.
/// Cloning shares the body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    pub allow: Option<&'static str>,
    /// Set on the UI's files: an `ETag`, which also makes the reply revalidate
    /// (`Cache-Control: no-cache`) instead of expiring.
    pub etag: Option<String>,
}

impl Reply {
    pub fn text(status: StatusCode, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from(body.into()),
            allow: None,
            etag: None,
        }
    }

    /// A reply tagged with its `ETag`, for the UI's files.
    fn cached(content_type: &'static str, body: Bytes) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type,
            etag: Some(super::ui::etag(&body)),
            body,
            allow: None,
        }
    }

    /// Serializes `v`; a serializer failure (which our types cannot produce) becomes
    /// a Prometheus `internal` error rather than a panic.
    pub fn json<T: Serialize>(status: StatusCode, v: &T) -> Reply {
        let mut buf = Vec::with_capacity(4096);
        match serde_json::to_writer(&mut buf, v) {
            Ok(()) => Reply {
                status,
                content_type: "application/json",
                body: Bytes::from(buf),
                allow: None,
                etag: None,
            },
            Err(e) => Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &e.to_string(),
            ),
        }
    }

    /// Prometheus' error envelope with the given HTTP status and `errorType`.
    pub fn error(status: StatusCode, error_type: &str, error: &str) -> Reply {
        let body = serde_json::to_vec(&ApiError { error_type, error }).unwrap_or_default();
        Reply {
            status,
            content_type: "application/json",
            body: Bytes::from(body),
            allow: None,
            etag: None,
        }
    }

    pub(super) fn bad_data(e: &ParamError) -> Reply {
        Reply::error(StatusCode::BAD_REQUEST, "bad_data", &e.to_string())
    }
}

/// Everything the handlers share.
pub struct Api {
    pub state: Arc<dyn StateSource>,
    pub registry: Arc<Registry>,
    pub external_url: String,
    pub access: super::auth::Access,
    pub headers: super::dispatch::ResponseHeaders,
    /// The `/flags` page, rendered (secrets masked) at start-up.
    pub flags_page: Arc<str>,
    pub http_metrics: Option<super::metrics::HttpMetrics>,
    pub security_metrics: Option<super::metrics::SecurityMetrics>,
    /// Normalized `-http.pathPrefix` (`""` or `/x`), for links in HTML.
    pub path_prefix: String,
    /// `-metrics.exposeMetadata`.
    pub expose_metadata: bool,
    pub started: SystemTime,
    /// Slots for expensive requests (`-http.maxConcurrentRequests`) and their number.
    pub expensive: Option<(Arc<tokio::sync::Semaphore>, usize)>,
    /// Rendered rules and alerts answers of the current status version.
    pub answers: super::cache::RenderCache,
}

impl Api {
    /// One slot for an expensive request (`None` when they are not limited), or the
    /// limit when every slot is taken.
    pub fn admit(&self) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, usize> {
        match &self.expensive {
            None => Ok(None),
            Some((slots, limit)) => slots
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| *limit),
        }
    }

    fn ctx(&self, exclude_alerts: bool) -> Ctx<'_> {
        Ctx {
            external_url: &self.external_url,
            exclude_alerts,
            extended_states: false,
        }
    }

    /// `GET /api/v1/rules`: Prometheus' and vmalert's filters and paginations (see
    /// `listing`).
    pub fn rules(&self, q: &Query) -> Reply {
        self.rules_of(&self.state.groups(), q)
    }

    /// `/api/v1/rules` over `groups`.
    pub fn rules_of(&self, groups: &[Arc<GroupStatus>], q: &Query) -> Reply {
        let f = match RulesFilter::parse(q) {
            Ok(f) => f,
            Err(e) => return Reply::bad_data(&e),
        };
        let ctx = Ctx {
            extended_states: f.extended_states,
            ..self.ctx(f.exclude_alerts)
        };
        match listing::list(groups, &f, ctx) {
            Ok(l) => Reply::json(StatusCode::OK, &RulesReply(l)),
            Err(e) => Reply::bad_data(&e),
        }
    }

    /// `GET /api/v1/alerts`: every pending and firing alert of this member's groups.
    pub fn alerts(&self, q: &Query) -> Reply {
        self.alerts_of(&self.state.groups(), q)
    }

    /// `/api/v1/alerts` over `groups`.
    pub fn alerts_of(&self, groups: &[Arc<GroupStatus>], q: &Query) -> Reply {
        let f = match AlertsFilter::parse(q) {
            Ok(f) => f,
            Err(e) => return Reply::bad_data(&e),
        };
        let ctx = self.ctx(false);
        let mut alerts = Vec::new();
        for g in groups.iter().filter(|g| f.groups.matches(g)) {
            for r in &g.rules {
                for a in r.active_alerts().filter(|a| f.matches_alert(&a.labels)) {
                    alerts.push(AlertJson { g, r, a, ctx });
                }
            }
        }
        Reply::json(StatusCode::OK, &Success(AlertsData { alerts }))
    }

    fn find_group<'a>(
        groups: &'a [Arc<GroupStatus>],
        q: &Query,
    ) -> Result<&'a Arc<GroupStatus>, Reply> {
        let id = filter::parse_id(q, "group_id").map_err(|e| Reply::bad_data(&e))?;
        groups.iter().find(|g| g.id == id).ok_or_else(|| {
            Reply::error(
                StatusCode::NOT_FOUND,
                "not_found",
                &format!("can't find group with id {id}"),
            )
        })
    }

    /// vmalert's `GET /api/v1/group?group_id=`: one group, not enveloped.
    pub fn group(&self, q: &Query) -> Reply {
        let groups = self.state.groups();
        let g = match Self::find_group(&groups, q) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let rules = g.rules.iter().map(|r| &**r).collect();
        Reply::json(StatusCode::OK, &GroupJson::new(g, rules, self.ctx(false)))
    }

    /// vmalert's `GET /api/v1/rule?group_id=&rule_id=`: one rule with its `updates`.
    /// Both IDs are checked before either is looked up, as vmalert does.
    pub fn rule(&self, q: &Query) -> Reply {
        let id = match filter::parse_id(q, "group_id").and(filter::parse_id(q, "rule_id")) {
            Ok(id) => id,
            Err(e) => return Reply::bad_data(&e),
        };
        let groups = self.state.groups();
        let g = match Self::find_group(&groups, q) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let Some(r) = g.rules.iter().find(|r| r.id == id) else {
            let msg = format!("can't find rule with id {id} in group {:?}", &*g.name);
            return Reply::error(StatusCode::NOT_FOUND, "not_found", &msg);
        };
        Reply::json(
            StatusCode::OK,
            &RuleJson {
                g,
                r,
                ctx: self.ctx(false),
                with_updates: true,
            },
        )
    }

    /// vmalert's `GET /api/v1/alert?group_id=&alert_id=`: one active alert.
    pub fn alert(&self, q: &Query) -> Reply {
        let id = match filter::parse_id(q, "group_id").and(filter::parse_id(q, "alert_id")) {
            Ok(id) => id,
            Err(e) => return Reply::bad_data(&e),
        };
        let groups = self.state.groups();
        let g = match Self::find_group(&groups, q) {
            Ok(g) => g,
            Err(r) => return r,
        };
        for r in &g.rules {
            if let Some(a) = r.active_alerts().find(|a| a.id() == id) {
                let ctx = self.ctx(false);
                return Reply::json(StatusCode::OK, &AlertJson { g, r, a, ctx });
            }
        }
        let msg = format!("can't find alert with id {id} in group {:?}", &*g.name);
        Reply::error(StatusCode::NOT_FOUND, "not_found", &msg)
    }

    /// `GET /api/v1/status`: the outcome of the last rule (re)load.
    pub fn status(&self) -> Reply {
        let s = self.state.reload_status();
        let ready = self.state.ready();
        let cluster = self.state.cluster().map(|c| c.status());
        Reply::json(
            StatusCode::OK,
            &Success(ReloadJson {
                s: &s,
                ready,
                cluster: cluster.as_ref(),
            }),
        )
    }

    /// `GET /api/v1/status/runtimeinfo`: the subset of Prometheus' runtime info that
    /// means something here.
    pub fn runtime_info(&self) -> Reply {
        let s = self.state.reload_status();
        let cwd = std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Reply::json(
            StatusCode::OK,
            &Success(RuntimeJson {
                start: self.started,
                cwd,
                reload_ok: s.success,
                last_config: s.last_success,
            }),
        )
    }

    /// `GET /metrics`.
    pub fn metrics(&self) -> Reply {
        match super::metrics::encode(&self.registry, self.expose_metadata) {
            Ok(text) => Reply {
                status: StatusCode::OK,
                content_type: super::metrics::CONTENT_TYPE,
                body: Bytes::from(text),
                allow: None,
                etag: None,
            },
            Err(e) => Reply::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding metrics: {e}\n"),
            ),
        }
    }

    /// `/-/ready`: 200 once rules were loaded, 503 before.
    pub fn ready(&self) -> Reply {
        if self.state.ready() {
            Reply::text(StatusCode::OK, "OK")
        } else {
            Reply::text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: rules not loaded yet\n",
            )
        }
    }

    /// `/-/reload`, after the auth check.
    pub async fn reload(&self) -> Reply {
        match self.state.reload().await {
            Ok(()) => Reply::text(StatusCode::OK, "OK\n"),
            Err(e) => Reply::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload rules: {e}\n"),
            ),
        }
    }

    /// `/` and `/vmalert/`: the status UI's page. `local_path` is the request path
    /// after the prefix.
    pub fn index(&self, local_path: &str) -> Reply {
        Reply::cached(
            "text/html; charset=utf-8",
            Bytes::from(super::ui::index_html(&self.path_prefix, local_path)),
        )
    }

    /// `/static/<file>`: the UI's script, stylesheet and icon.
    pub fn asset(&self, path: &str) -> Reply {
        match super::ui::asset_for_path(path) {
            Some(a) => Reply::cached(a.content_type, Bytes::from_static(a.body)),
            None => Reply::text(StatusCode::NOT_FOUND, format!("no such file: {path}\n")),
        }
    }

    /// `GET /api/v1/notifiers`: vmalert's list of notifiers and their targets, with
    /// tocsin's delivery counters on each target.
    pub fn notifiers(&self) -> Reply {
        let targets = self.state.notifiers();
        Reply::json(StatusCode::OK, &Success(NotifiersJson(&targets)))
    }
}

struct ReloadJson<'a> {
    s: &'a crate::status::ReloadStatus,
    ready: bool,
    cluster: Option<&'a crate::status::ClusterStatus>,
}

impl Serialize for ReloadJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let s = self.s;
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("reloadSuccess", &s.success)?;
        m.serialize_entry(
            "lastReloadAttempt",
            &s.last_attempt.map(|t| GoTime(Some(t))),
        )?;
        m.serialize_entry(
            "lastReloadSuccess",
            &s.last_success.map(|t| GoTime(Some(t))),
        )?;
        if let Some(e) = &s.error {
            m.serialize_entry("lastError", e)?;
        }
        m.serialize_entry("ready", &self.ready)?;
        if let Some(c) = self.cluster {
            m.serialize_entry("cluster", &super::json::ClusterJson(c))?;
        }
        m.end()
    }
}

struct RuntimeJson {
    start: SystemTime,
    cwd: String,
    reload_ok: bool,
    last_config: Option<SystemTime>,
}

impl Serialize for RuntimeJson {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(4))?;
        m.serialize_entry("startTime", &GoTime(Some(self.start)))?;
        m.serialize_entry("CWD", &self.cwd)?;
        m.serialize_entry("reloadConfigSuccess", &self.reload_ok)?;
        m.serialize_entry("lastConfigTime", &GoTime(self.last_config))?;
        m.end()
    }
}

/// `data` of `/api/v1/notifiers`: vmalert's `{"notifiers":[{"kind","targets"}]}`, one
/// entry per kind (`static`, `DNSSD`, `consulSD`, `blackhole`); the targets arrive sorted
/// by kind.
struct NotifiersJson<'a>(&'a [crate::status::NotifierStatus]);

impl Serialize for NotifiersJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(1))?;
        let kinds: Vec<NotifierKind<'_>> = self
            .0
            .chunk_by(|a, b| a.kind == b.kind)
            .map(NotifierKind)
            .collect();
        m.serialize_entry("notifiers", &kinds)?;
        m.end()
    }
}

struct NotifierKind<'a>(&'a [crate::status::NotifierStatus]);

impl Serialize for NotifierKind<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(2))?;
        m.serialize_entry("kind", self.0[0].kind.name())?;
        let targets: Vec<TargetJson<'_>> = self.0.iter().map(TargetJson).collect();
        m.serialize_entry("targets", &targets)?;
        m.end()
    }
}

struct TargetJson<'a>(&'a crate::status::NotifierStatus);

impl Serialize for TargetJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("address", &t.url)?;
        m.serialize_entry("labels", &t.labels)?;
        m.serialize_entry("lastError", t.last_error.as_deref().unwrap_or(""))?;
        // tocsin's counters.
        m.serialize_entry("sent", &t.sent)?;
        m.serialize_entry("errors", &t.errors)?;
        m.serialize_entry("dropped", &t.dropped)?;
        m.serialize_entry("queued", &t.queued)?;
        m.end()
    }
}
