//! The datasource: a Prometheus HTTP API client behind an object-safe trait, so that
//! live evaluation, replay and tests can swap where answers come from.

mod decode;
pub mod fake;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::http::{self, ClientError, ClientOptions, Endpoint, HttpClient, Origin};
use crate::labels::Labels;
use crate::sample::Sample;

pub use decode::{
    InstantAnswer, decode_instant, decode_instant_answer, decode_range, decode_series,
};

/// A boxed future, to keep [`Querier`] usable as `Arc<dyn Querier>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One instant query.
#[derive(Debug, Clone, Default)]
pub struct InstantQuery {
    pub expr: String,
    /// Evaluation timestamp, milliseconds since the epoch.
    pub time_ms: i64,
    /// Extra query-string parameters (group `params`).
    pub params: Vec<(String, String)>,
    /// Extra HTTP headers (group `headers`).
    pub headers: Vec<(String, String)>,
}

/// One range query (for replay).
#[derive(Debug, Clone, Default)]
pub struct RangeQuery {
    pub expr: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// A series of a range answer.
pub type RangeSeries = (Labels, Vec<(i64, f64)>);

/// One series lookup (`/api/v1/series`): the series matching `selector` that have
/// samples between `start_ms` and `end_ms`. The datasource reads its index only, no
/// samples, so a long range costs little (unlike a query over it, which loads every
/// sample and may hit `--query.max-samples`).
#[derive(Debug, Clone, Default)]
pub struct SeriesQuery {
    pub selector: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// At most this many series are wanted (`limit`; datasources that do not know the
    /// parameter return them all). 0 = all.
    pub limit: usize,
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// Why a query failed. Messages are what `lastError` shows, so they say precisely what
/// went wrong and where.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueryError {
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("query to {url} timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url} answered {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} answered with {what} instead of JSON: {snippet:?}")]
    NotJson {
        url: String,
        what: &'static str,
        snippet: String,
    },
    #[error(
        "{url}: answer larger than {} (-datasource.maxResponseSize): the query selects too much; narrow it, or raise the limit",
        crate::bytesize::format_size(*limit)
    )]
    TooLarge { url: String, limit: u64 },
    #[error("cannot decode the answer of {url}: {message}")]
    Decode { url: String, message: String },
    #[error("query returned a {got} result; rules need a vector or a scalar")]
    ResultType { got: String },
    #[error("query failed ({error_type}): {error}")]
    Failed { error_type: String, error: String },
    #[error("invalid request: {0}")]
    Request(String),
    #[error("{0}")]
    Auth(String),
}

impl QueryError {
    /// Whether the datasource itself is in trouble (unreachable, too slow, overloaded or
    /// failing) rather than refusing this query: asking again later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            QueryError::Unreachable { .. } | QueryError::Timeout { .. } => true,
            QueryError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Where rules get their answers from.
pub trait Querier: Send + Sync {
    fn instant<'a>(&'a self, q: &'a InstantQuery)
    -> BoxFuture<'a, Result<Vec<Sample>, QueryError>>;
    /// [`Querier::instant`] with the series the datasource reports having fetched; a
    /// querier that cannot tell reports `None` (the default).
    fn instant_answer<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<InstantAnswer, QueryError>> {
        Box::pin(async move {
            Ok(InstantAnswer {
                samples: self.instant(q).await?,
                series_fetched: None,
                samples_queried: None,
                is_partial: false,
            })
        })
    }
    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>>;
    /// The series a [`SeriesQuery`] matches; a querier without a series index refuses.
    fn series<'a>(&'a self, q: &'a SeriesQuery) -> BoxFuture<'a, Result<Vec<Labels>, QueryError>> {
        Box::pin(async move {
            Err(QueryError::Request(format!(
                "this datasource has no series lookup (asked for {})",
                q.selector
            )))
        })
    }
}

/// `-datasource.*` settings.
#[derive(Debug, Clone)]
pub struct DatasourceOptions {
    /// Base URL; `/api/v1/query` is appended (a path prefix is kept).
    pub url: String,
    pub auth: ClientOptions,
    /// Names the settings in errors (`-datasource.*` or `-remoteRead.*`).
    pub origin: Origin,
    pub query_timeout: Duration,
    /// vmalert `-datasource.lookback`: query at `time - lookback`.
    pub lookback: Duration,
    /// vmalert `-datasource.queryStep`: sent as `step` (VictoriaMetrics uses it).
    pub query_step: Duration,
    /// `-datasource.disableStepParam`: instant queries carry no `step`, for
    /// datasources that refuse it.
    pub disable_step: bool,
    /// `-datasource.roundDigits`: sent as `round_digits` with every query (a
    /// VictoriaMetrics parameter; Prometheus ignores it). 0 = not sent.
    pub round_digits: usize,
    /// `-datasource.appendTypePrefix`: query under `<url>/prometheus/api/v1/…`, as
    /// vmselect serves each query language under its own prefix.
    pub type_prefix: bool,
    /// `-datasource.maxResponseSize`: a larger answer fails the query before it is
    /// held in memory; 0 = no limit.
    pub max_response_size: u64,
    /// `-datasource.maxConcurrentQueries`: queries in flight at once (others wait for
    /// a slot); 0 = no limit.
    pub max_concurrent: usize,
}

impl Default for DatasourceOptions {
    fn default() -> Self {
        DatasourceOptions {
            url: String::new(),
            auth: ClientOptions::default(),
            origin: Origin::flags("datasource"),
            query_timeout: Duration::from_secs(30),
            lookback: Duration::ZERO,
            query_step: Duration::from_secs(300),
            disable_step: false,
            round_digits: 0,
            type_prefix: false,
            max_response_size: 64 << 20,
            max_concurrent: 100,
        }
    }
}

/// Request counters of a datasource client.
#[derive(Clone)]
pub struct DatasourceMetrics {
    pub requests: Counter,
    pub errors: Counter,
    pub duration: Histogram,
}

impl DatasourceMetrics {
    /// Creates the metrics and registers them (when a registry is given).
    pub fn new(registry: Option<&mut Registry>) -> Self {
        let m = DatasourceMetrics {
            requests: Counter::default(),
            errors: Counter::default(),
            duration: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        };
        if let Some(r) = registry {
            r.register(
                "tocsin_datasource_requests",
                "Queries sent to the datasource",
                m.requests.clone(),
            );
            r.register(
                "tocsin_datasource_errors",
                "Queries that failed (network, HTTP status, decoding or query errors)",
                m.errors.clone(),
            );
            r.register(
                "tocsin_datasource_request_duration_seconds",
                "Time from sending a query to decoding its answer",
                m.duration.clone(),
            );
        }
        m
    }
}

/// The Prometheus HTTP API client.
///
/// Requests go over reqwest's kept-alive connections. What every request repeats is
/// prepared once (the endpoints, the `step` parameter) and a request's form body is
/// written straight into one buffer, so a query costs the request itself and little
/// else.
pub struct PromClient {
    client: HttpClient,
    query: Endpoint,
    range: Endpoint,
    series: Endpoint,
    /// `step=…` for instant queries (none with `-datasource.queryStep=0` or
    /// `-datasource.disableStepParam`), and `round_digits=…` if set.
    step: String,
    opts: DatasourceOptions,
    metrics: DatasourceMetrics,
    /// Slots for queries in flight (`max_concurrent`), if limited; shared with the
    /// clients built by [`PromClient::sharing_slots`].
    slots: Option<Arc<tokio::sync::Semaphore>>,
}

/// What `application/x-www-form-urlencoded` leaves as it is.
const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `name=value` (value form-encoded) to a form body.
fn push_param(body: &mut String, name: &str, value: &str) {
    if !body.is_empty() {
        body.push('&');
    }
    body.push_str(name);
    body.push('=');
    body.extend(percent_encoding::utf8_percent_encode(value, FORM));
}

impl PromClient {
    pub fn new(opts: DatasourceOptions, metrics: DatasourceMetrics) -> Result<Self, ClientError> {
        let client = HttpClient::new(&opts.origin, &opts.auth, opts.query_timeout)?;
        let base = if opts.type_prefix {
            http::join_path(&opts.url, "/prometheus")
        } else {
            opts.url.clone()
        };
        let base = &base;
        // What every instant query repeats: `step` and `round_digits`.
        let mut step = String::new();
        if !opts.query_step.is_zero() && !opts.disable_step {
            push_param(
                &mut step,
                "step",
                &format!("{}s", opts.query_step.as_secs()),
            );
        }
        if opts.round_digits > 0 {
            push_param(&mut step, "round_digits", &opts.round_digits.to_string());
        }
        Ok(PromClient {
            client,
            query: Endpoint::new(http::join_path(base, "/api/v1/query")),
            range: Endpoint::new(http::join_path(base, "/api/v1/query_range")),
            series: Endpoint::new(http::join_path(base, "/api/v1/series")),
            slots: (opts.max_concurrent > 0)
                .then(|| Arc::new(tokio::sync::Semaphore::new(opts.max_concurrent))),
            step,
            opts,
            metrics,
        })
    }

    /// This client, its queries taking their slots from `other`'s: one
    /// `-datasource.maxConcurrentQueries` for every query a process sends to its TSDB
    /// (the restores of `-remoteRead.url` wait for the same slots as the rules).
    pub fn sharing_slots(mut self, other: &PromClient) -> PromClient {
        self.slots = other.slots.clone();
        self
    }

    async fn post(
        &self,
        url: &Endpoint,
        form: String,
        headers: &[(String, String)],
    ) -> Result<bytes::Bytes, QueryError> {
        // Wait for a slot before the clock starts: the duration is the datasource's.
        let _slot = match &self.slots {
            Some(s) => s.acquire().await.ok(),
            None => None,
        };
        let started = Instant::now();
        self.metrics.requests.inc();
        let r = self.post_inner(url, form, headers).await;
        self.metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        if r.is_err() {
            self.metrics.errors.inc();
        }
        r
    }

    async fn post_inner(
        &self,
        to: &Endpoint,
        form: String,
        headers: &[(String, String)],
    ) -> Result<bytes::Bytes, QueryError> {
        let url = &to.shown;
        let mut req = self
            .client
            .post(to)
            .await
            .map_err(|e| QueryError::Auth(e.to_string()))?;
        if !headers.is_empty() {
            let extra =
                http::header_map(headers).map_err(|e| QueryError::Request(e.to_string()))?;
            req = req.headers(extra);
        }
        let resp = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = resp.status();
        let body = self.read_body(url, resp).await?;
        if !status.is_success() {
            return Err(decode::status_error(url, status.as_u16(), &body));
        }
        Ok(body)
    }

    /// Reads the answer, failing as soon as it is known to exceed
    /// `max_response_size` (from `Content-Length`, or while reading), so an oversized
    /// answer is never held whole.
    async fn read_body(
        &self,
        url: &str,
        mut resp: reqwest::Response,
    ) -> Result<bytes::Bytes, QueryError> {
        let limit = self.opts.max_response_size;
        let too_large = || QueryError::TooLarge {
            url: url.to_string(),
            limit,
        };
        if limit == 0 {
            return resp.bytes().await.map_err(|e| self.transport_error(url, e));
        }
        let announced = resp.content_length().unwrap_or(0);
        if announced > limit {
            return Err(too_large());
        }
        let first = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let Some(first) = first else {
            return Ok(bytes::Bytes::new());
        };
        // Most answers come in one chunk: hand it on without copying.
        let Some(second) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, e))?
        else {
            return if first.len() as u64 > limit {
                Err(too_large())
            } else {
                Ok(first)
            };
        };
        let mut body =
            bytes::BytesMut::with_capacity(announced.max(2 * first.len() as u64) as usize);
        body.extend_from_slice(&first);
        let mut next = Some(second);
        while let Some(chunk) = next {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
            next = resp
                .chunk()
                .await
                .map_err(|e| self.transport_error(url, e))?;
        }
        Ok(body.freeze())
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> QueryError {
        if e.is_timeout() {
            QueryError::Timeout {
                url: url.to_string(),
                timeout: self.opts.query_timeout,
            }
        } else {
            QueryError::Unreachable {
                url: url.to_string(),
                message: crate::http::error_chain(&e),
            }
        }
    }
}

/// Seconds with millisecond precision, as the `time` parameter wants.
pub fn format_ts(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

impl Querier for PromClient {
    fn instant<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<Vec<Sample>, QueryError>> {
        Box::pin(async move { self.instant_answer(q).await.map(|a| a.samples) })
    }

    fn instant_answer<'a>(
        &'a self,
        q: &'a InstantQuery,
    ) -> BoxFuture<'a, Result<InstantAnswer, QueryError>> {
        Box::pin(async move {
            let t = q.time_ms - self.opts.lookback.as_millis() as i64;
            let mut form = String::with_capacity(q.expr.len() * 3 / 2 + 48 + self.step.len());
            push_param(&mut form, "query", &q.expr);
            push_param(&mut form, "time", &format_ts(t));
            if !self.step.is_empty() {
                form.push('&');
                form.push_str(&self.step);
            }
            for (k, v) in &q.params {
                push_param(&mut form, k, v);
            }
            let body = self.post(&self.query, form, &q.headers).await?;
            decode_instant_answer(&self.query.shown, &body, q.time_ms)
        })
    }

    fn range<'a>(
        &'a self,
        q: &'a RangeQuery,
    ) -> BoxFuture<'a, Result<Vec<RangeSeries>, QueryError>> {
        Box::pin(async move {
            let mut form = String::with_capacity(q.expr.len() * 3 / 2 + 96);
            push_param(&mut form, "query", &q.expr);
            push_param(&mut form, "start", &format_ts(q.start_ms));
            push_param(&mut form, "end", &format_ts(q.end_ms));
            push_param(&mut form, "step", &format!("{}ms", q.step_ms));
            if self.opts.round_digits > 0 {
                push_param(
                    &mut form,
                    "round_digits",
                    &self.opts.round_digits.to_string(),
                );
            }
            for (k, v) in &q.params {
                push_param(&mut form, k, v);
            }
            let body = self.post(&self.range, form, &q.headers).await?;
            decode_range(&self.range.shown, &body)
        })
    }

    fn series<'a>(&'a self, q: &'a SeriesQuery) -> BoxFuture<'a, Result<Vec<Labels>, QueryError>> {
        Box::pin(async move {
            let mut form = String::with_capacity(q.selector.len() * 3 / 2 + 64);
            push_param(&mut form, "match[]", &q.selector);
            push_param(&mut form, "start", &format_ts(q.start_ms));
            push_param(&mut form, "end", &format_ts(q.end_ms));
            if q.limit > 0 {
                push_param(&mut form, "limit", &q.limit.to_string());
            }
            for (k, v) in &q.params {
                push_param(&mut form, k, v);
            }
            let body = self.post(&self.series, form, &q.headers).await?;
            decode_series(&self.series.shown, &body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_url_encoded() {
        let mut form = String::new();
        push_param(
            &mut form,
            "query",
            r#"sum by (job) (rate(x{a="b c"}[5m])) > 0.5 & 1"#,
        );
        push_param(&mut form, "time", "1700000000.123");
        assert_eq!(
            form,
            "query=sum%20by%20%28job%29%20%28rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%29%20%3E%200.5%20%26%201\
             &time=1700000000.123"
        );
    }

    #[test]
    fn timestamps_have_millisecond_precision() {
        assert_eq!(format_ts(1_700_000_000_123), "1700000000.123");
        assert_eq!(format_ts(5), "0.005");
    }
}
