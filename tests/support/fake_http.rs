//! A fake HTTP server in-process that answers from a script: the datasource,
//! Alertmanager or remote-write endpoint a test needs to misbehave in a precise way.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One canned answer: status, content type, body, delay before answering.
#[derive(Clone)]
pub struct Canned(pub u16, pub &'static str, pub String, pub Duration);

/// Serves the canned answers in order (the last one repeats); counts requests and keeps
/// the bodies received.
pub struct FakeHttp {
    pub url: String,
    pub hits: Arc<AtomicUsize>,
    pub bodies: Arc<Mutex<Vec<Bytes>>>,
}

pub async fn fake_http(answers: Vec<Canned>) -> FakeHttp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let queue = Arc::new(Mutex::new(VecDeque::from(answers)));
    let hits = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (h, b) = (hits.clone(), bodies.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (queue, hits, bodies) = (queue.clone(), h.clone(), b.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (queue, hits, bodies) = (queue.clone(), hits.clone(), bodies.clone());
                    async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        let body = req.into_body().collect().await.map(|c| c.to_bytes());
                        bodies.lock().unwrap().push(body.unwrap_or_default());
                        let Canned(status, ctype, text, delay) = {
                            let mut q = queue.lock().unwrap();
                            if q.len() > 1 {
                                q.pop_front().unwrap()
                            } else {
                                q.front().cloned().unwrap()
                            }
                        };
                        tokio::time::sleep(delay).await;
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .header("Content-Type", ctype)
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    FakeHttp { url, hits, bodies }
}

impl Canned {
    /// `status` at once, with a short plain-text body.
    pub fn status(status: u16) -> Canned {
        Canned(status, "text/plain", String::new(), Duration::ZERO)
    }

    /// 200 with the JSON `body`, at once.
    pub fn ok(body: &str) -> Canned {
        Canned(200, "application/json", body.to_string(), Duration::ZERO)
    }
}

/// What [`serve_fn`] passes to its handler about each request.
pub struct Seen<'a> {
    pub path: &'a str,
    /// The query string, or "".
    pub query: &'a str,
    pub headers: &'a hyper::HeaderMap,
    /// The `Authorization` header, or "".
    pub authorization: &'a str,
    pub body: &'a str,
    pub method: &'a str,
    /// The body as it came (`body` is it read as UTF-8, lossily).
    pub raw: &'a [u8],
}

/// A fake answering each request from `answer` (`None` drops the connection unanswered);
/// returns its base URL and the number of requests so far.
pub async fn serve_fn(
    answer: impl Fn(usize, &Seen<'_>) -> Option<(u16, &'static str, String)> + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (h, answer) = (h.clone(), answer.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (h, answer) = (h.clone(), answer.clone());
                    async move {
                        let n = h.fetch_add(1, Ordering::SeqCst) + 1;
                        let method = req.method().to_string();
                        let path = req.uri().path().to_string();
                        let query = req.uri().query().unwrap_or("").to_string();
                        let headers = req.headers().clone();
                        let authorization = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let raw = req.into_body().collect().await.map(|c| c.to_bytes());
                        let raw = raw.unwrap_or_default();
                        let body = String::from_utf8_lossy(&raw).to_string();
                        let seen = Seen {
                            method: &method,
                            raw: &raw,
                            path: &path,
                            query: &query,
                            headers: &headers,
                            authorization: &authorization,
                            body: &body,
                        };
                        let (status, ctype, text) =
                            answer(n, &seen).ok_or("dropping the connection")?;
                        Ok::<_, &str>(
                            Response::builder()
                                .status(status)
                                .header("Content-Type", ctype)
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, hits)
}

/// A Consul catalog stand-in (see [`fake_consul`]).
pub struct FakeConsul {
    pub url: String,
    /// While it holds, every request is answered 500 (Consul down).
    pub down: Arc<std::sync::atomic::AtomicBool>,
    /// The `X-Consul-Token` and `Authorization` of every request.
    pub seen: Arc<Mutex<Vec<(String, String)>>>,
}

/// A Consul catalog stand-in: `/v1/catalog/services` lists `alertmanager` (tags `prod`,
/// `scheme=http`) and `consul`; `/v1/health/service/alertmanager` has one instance at
/// 127.0.0.1:`am_port` in datacenter `dc1`, its check passing; other services have none.
pub async fn fake_consul(am_port: u16) -> FakeConsul {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (d, s) = (down.clone(), seen.clone());
    let (url, _) = serve_fn(move |_, req| {
        let token = req.headers.get("x-consul-token").and_then(|v| v.to_str().ok());
        (s.lock().unwrap()).push((token.unwrap_or("").into(), req.authorization.into()));
        if d.load(Ordering::SeqCst) {
            return Some((500, "text/plain", "consul is sad".into()));
        }
        let body = match req.path {
            "/v1/catalog/services" => {
                r#"{"alertmanager":["prod","scheme=http"],"consul":[]}"#.to_string()
            }
            "/v1/health/service/alertmanager" => format!(
                r#"[{{"Node":{{"Node":"n1","Address":"127.0.0.1","Datacenter":"dc1"}},
                     "Service":{{"ID":"am-1","Service":"alertmanager","Address":"","Port":{am_port},"Tags":["prod"]}},
                     "Checks":[{{"CheckID":"serfHealth","Status":"passing"}}]}}]"#
            ),
            _ => "[]".to_string(),
        };
        Some((200, "application/json", body))
    })
    .await;
    FakeConsul { url, down, seen }
}

/// A datasource answering every query with one series, `metric` (a JSON object of its
/// labels, `__name__` included), at `value`, stamped now; returns its base URL.
pub async fn datasource_answering(metric: &'static str, value: &'static str) -> String {
    answering_with(metric, value, "").await
}

/// [`datasource_answering`], each answer marked `"isPartial": true`, as a VictoriaMetrics
/// cluster marks an answer with a storage node missing.
pub async fn partial_datasource_answering(metric: &'static str, value: &'static str) -> String {
    answering_with(metric, value, r#""isPartial":true,"#).await
}

/// The answer of both: `extra` is placed before `data` (top-level fields, with a comma).
async fn answering_with(metric: &'static str, value: &'static str, extra: &'static str) -> String {
    let (url, _) = serve_fn(move |_, _| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let body = format!(
            r#"{{"status":"success",{extra}"data":{{"resultType":"vector","result":[{{"metric":{metric},"value":[{now},"{value}"]}}]}}}}"#
        );
        Some((200, "application/json", body))
    })
    .await;
    url
}
