//! OAuth2 client credentials against a loopback token server that counts token
//! requests: one token per expiry window however many evaluations query at once, the
//! token renewed shortly before it expires, and a token endpoint that fails (500, HTML)
//! failing the query with a clear error while nothing reaches the datasource without
//! credentials.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::fake_http::serve_fn;
use tocsin::datasource::{DatasourceMetrics, DatasourceOptions, InstantQuery, PromClient, Querier};
use tocsin::http::{ClientOptions, OAuth2Options, Secret};

/// What the token server answers.
#[derive(Clone, Copy, PartialEq)]
enum TokenMode {
    Tokens,
    Fail500,
    Html,
}

struct Server {
    url: String,
    hits: Arc<AtomicUsize>,
    /// `authorization|body` of every request received.
    seen: Arc<Mutex<Vec<String>>>,
}

/// Serves `answer(hit_number, authorization, body)` on a loopback port.
async fn serve(
    answer: impl Fn(usize, &str, &str) -> (u16, &'static str, String) + Send + Sync + 'static,
) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let (url, hits) = serve_fn(move |n, req| {
        s.lock()
            .unwrap()
            .push(format!("{}|{}", req.authorization, req.body));
        Some(answer(n, req.authorization, req.body))
    })
    .await;
    Server { url, hits, seen }
}

const VECTOR: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"j"},"value":[1700000000,"1"]}]}}"#;

/// A token server whose tokens live `lifetime` seconds; `mode` can be switched.
async fn token_server(lifetime: u64, mode: Arc<Mutex<TokenMode>>) -> Server {
    serve(move |n, auth, body| {
        // Client credentials arrive as basic auth (RFC 6749 §2.3.1).
        assert_eq!(auth, "Basic dG9jc2luOnMzY3JldCUyRiUyQg==", "{auth}");
        assert!(body.contains("grant_type=client_credentials"), "{body}");
        match *mode.lock().unwrap() {
            TokenMode::Tokens => (
                200,
                "application/json",
                format!(
                    r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":{lifetime}}}"#
                ),
            ),
            TokenMode::Fail500 => (500, "text/plain", "token service broken".into()),
            TokenMode::Html => (200, "text/html", "<html><body>Sign in</body></html>".into()),
        }
    })
    .await
}

fn client(datasource: &str, token_url: &str) -> PromClient {
    let opts = DatasourceOptions {
        url: datasource.to_string(),
        auth: ClientOptions {
            oauth2: Some(OAuth2Options {
                client_id: "tocsin".into(),
                // '/' and '+' are form-encoded before basic auth, as RFC 6749 says.
                client_secret: Some(Secret::new("s3cret/+")),
                scopes: vec!["read".into(), "write".into()],
                token_url: format!("{token_url}/oauth/token"),
                ..OAuth2Options::default()
            }),
            ..ClientOptions::default()
        },
        ..DatasourceOptions::default()
    };
    PromClient::new(opts, DatasourceMetrics::new(None)).unwrap()
}

/// Runs `n` instant queries at once; returns the errors.
async fn evaluate_at_once(c: &Arc<PromClient>, n: usize) -> Vec<String> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let c = c.clone();
        set.spawn(async move {
            let q = InstantQuery {
                expr: format!("up{{i=\"{i}\"}}"),
                time_ms: 1_700_000_000_000,
                ..InstantQuery::default()
            };
            c.instant(&q).await.map(|_| ()).map_err(|e| e.to_string())
        });
    }
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Err(e) = r.unwrap() {
            errors.push(e);
        }
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_per_expiry_window_under_100_concurrent_evaluations() {
    let mode = Arc::new(Mutex::new(TokenMode::Tokens));
    let tokens = token_server(2, mode.clone()).await;
    let ds = serve(|_, auth, _| {
        if auth.starts_with("Bearer tok-") {
            (200, "application/json", VECTOR.into())
        } else {
            (401, "text/plain", "no token".into())
        }
    })
    .await;
    let c = Arc::new(client(&ds.url, &tokens.url));

    assert!(evaluate_at_once(&c, 100).await.is_empty());
    assert_eq!(
        tokens.hits.load(Ordering::SeqCst),
        1,
        "one token for 100 evaluations"
    );
    let form = tokens.seen.lock().unwrap()[0].clone();
    assert!(form.contains("scope=read+write"), "{form}");
    assert!(evaluate_at_once(&c, 100).await.is_empty());
    assert_eq!(tokens.hits.load(Ordering::SeqCst), 1, "the token is reused");

    // A 2 s token is renewed after 1 s (half its life, since that is under 10 s).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(evaluate_at_once(&c, 100).await.is_empty());
    assert_eq!(
        tokens.hits.load(Ordering::SeqCst),
        2,
        "one renewal for the next window"
    );
    let used: Vec<String> = ds
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.split('|').next().unwrap().to_string())
        .collect();
    assert_eq!(used.len(), 300);
    assert!(
        used[..200].iter().all(|a| a == "Bearer tok-1"),
        "{:?}",
        &used[..3]
    );
    assert!(used[200..].iter().all(|a| a == "Bearer tok-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_fails_the_query_and_sends_nothing() {
    for (bad, want) in [
        (
            TokenMode::Fail500,
            "answered 500: token service broken; check -datasource.oauth2.tokenUrl",
        ),
        (TokenMode::Html, "answered HTML instead of a token"),
    ] {
        let mode = Arc::new(Mutex::new(bad));
        let tokens = token_server(60, mode).await;
        let ds = serve(|_, _, _| (200, "application/json", VECTOR.into())).await;
        let c = Arc::new(client(&ds.url, &tokens.url));
        let errors = evaluate_at_once(&c, 100).await;
        assert_eq!(errors.len(), 100);
        let e = &errors[0];
        assert!(
            e.contains(want) && e.contains("the request was not sent"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
        assert_eq!(
            ds.hits.load(Ordering::SeqCst),
            0,
            "nothing sent without a token"
        );
        // A failure is remembered for a second: 100 waiting evaluations do not each ask
        // the broken endpoint again.
        assert_eq!(tokens.hits.load(Ordering::SeqCst), 1);
    }
}
