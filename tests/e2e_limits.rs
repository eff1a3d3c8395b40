//! `-datasource.maxResponseSize`: an oversized answer fails the query before it is held
//! in memory, whether the datasource announces its length or streams it chunked; and,
//! through the tocsin binary, the rule shows `err` with "answer larger than …" and
//! writes nothing. `-datasource.maxConcurrentQueries`: the restores of `-remoteRead.url`
//! wait for the same slots as the rules' queries.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::fake_http::{Canned, fake_http};
use support::http::poll_json;
use support::servers::start_tocsin;
use tocsin::datasource::{
    DatasourceMetrics, DatasourceOptions, InstantQuery, PromClient, Querier, QueryError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: u64 = 1 << 20;

/// A vector answer of `n` series, about 100 bytes each.
fn answer(n: usize) -> String {
    let series: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"metric":{{"__name__":"up","instance":"host-{i:08}:9100","job":"node"}},"value":[1700000000,"1"]}}"#))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        series.join(",")
    )
}

fn client(url: &str, limit: u64) -> PromClient {
    prom_client(DatasourceOptions {
        url: url.to_string(),
        max_response_size: limit,
        ..DatasourceOptions::default()
    })
}

fn prom_client(opts: DatasourceOptions) -> PromClient {
    PromClient::new(opts, DatasourceMetrics::new(None)).unwrap()
}

async fn query(c: &PromClient) -> Result<usize, QueryError> {
    let q = InstantQuery {
        expr: "up".into(),
        time_ms: 1_700_000_000_000,
        ..InstantQuery::default()
    };
    c.instant(&q).await.map(|s| s.len())
}

/// Answers every request with `body` in 64 KiB chunks, without a `Content-Length`.
async fn chunked_server(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for part in body.as_bytes().chunks(64 << 10) {
                    let mut chunk = format!("{:x}\r\n", part.len()).into_bytes();
                    chunk.extend_from_slice(part);
                    chunk.extend_from_slice(b"\r\n");
                    if s.write_all(&chunk).await.is_err() {
                        return; // the client stopped reading
                    }
                }
                let _ = s.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    url
}

#[tokio::test]
async fn an_oversized_answer_fails_whether_announced_or_streamed() {
    let big = answer(40_000); // ≈ 4 MiB
    assert!(big.len() as u64 > 3 * MIB);
    let announced = fake_http(vec![Canned::ok(&big)]).await;
    let e = query(&client(&announced.url, MIB)).await.unwrap_err();
    assert!(matches!(e, QueryError::TooLarge { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("answer larger than 1 MiB (-datasource.maxResponseSize)"),
        "{e}"
    );

    let streamed = chunked_server(big.clone()).await;
    let e = query(&client(&streamed, MIB)).await.unwrap_err();
    assert!(e.to_string().contains("answer larger than 1 MiB"), "{e}");

    // The same answers within the limit, and with no limit, decode.
    assert_eq!(query(&client(&streamed, 8 * MIB)).await.unwrap(), 40_000);
    assert_eq!(query(&client(&announced.url, 0)).await.unwrap(), 40_000);
    let small = chunked_server(answer(3)).await;
    assert_eq!(query(&client(&small, MIB)).await.unwrap(), 3);
}

#[tokio::test]
async fn the_rule_fails_with_the_limit_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        "groups:\n- name: big\n  interval: 1s\n  rules:\n  - record: job:up\n    expr: up\n",
    )
    .unwrap();
    let ds = fake_http(vec![Canned::ok(&answer(40_000))]).await;
    let rw = fake_http(vec![Canned::status(204)]).await;
    let args = vec![
        format!("-rule={}/r.yml", dir.path().display()),
        format!("-datasource.url={}", ds.url),
        format!("-remoteWrite.url={}", rw.url),
        "-remoteWrite.flushInterval=100ms".to_string(),
        "-datasource.maxResponseSize=1MiB".to_string(),
    ];
    let (g, url) = start_tocsin(&args, dir.path(), "tocsin").await.unwrap();
    let rules = poll_json(
        &format!("{url}/api/v1/rules"),
        Duration::from_secs(30),
        |v| v["data"]["groups"][0]["rules"][0]["health"] == "err",
    )
    .await
    .unwrap_or_else(|| panic!("the rule never failed\n{}", g.log_tail(20)));
    let rule = &rules["data"]["groups"][0]["rules"][0];
    let err = rule["lastError"].as_str().unwrap();
    assert!(
        err.contains("answer larger than 1 MiB (-datasource.maxResponseSize)"),
        "{err}"
    );
    // Wait for a few more evaluations (each fails the same way), then: nothing written.
    let evaluated = |n: u64| {
        let url = url.clone();
        async move {
            let text = reqwest::get(format!("{url}/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines()
                .filter(|l| l.starts_with("tocsin_rule_errors_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
                >= n as f64
        }
    };
    let mut enough = false;
    for _ in 0..150 {
        if evaluated(3).await {
            enough = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(enough, "three failed evaluations\n{}", g.log_tail(20));
    let written: usize = rw.bodies.lock().unwrap().iter().map(|b| b.len()).sum();
    assert_eq!(written, 0, "a failed evaluation writes nothing");
}

/// A datasource that holds every query until `release` is sent, then answers with an
/// empty vector; counts the queries it received.
async fn held_server() -> (String, Arc<AtomicUsize>, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let (release, released) = tokio::sync::watch::channel(false);
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (h, mut released) = (h.clone(), released.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                if s.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                h.fetch_add(1, Ordering::SeqCst);
                let _ = released.wait_for(|r| *r).await;
                let body = answer(0);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
        }
    });
    (url, hits, release)
}

fn limited(url: &str, slots: usize) -> PromClient {
    prom_client(DatasourceOptions {
        url: url.to_string(),
        max_concurrent: slots,
        ..DatasourceOptions::default()
    })
}

#[tokio::test]
async fn restores_wait_for_the_slots_of_the_rules_queries() {
    let (ds_url, ds_hits, ds_release) = held_server().await;
    let (rr_url, rr_hits, rr_release) = held_server().await;
    let datasource = Arc::new(limited(&ds_url, 1));
    let restores = Arc::new(limited(&rr_url, 1).sharing_slots(&datasource));
    // A client of its own slots, for comparison: not held back.
    let (own_url, own_hits, own_release) = held_server().await;
    let own = Arc::new(limited(&own_url, 1));

    let d = datasource.clone();
    let rule = tokio::spawn(async move { query(&d).await });
    assert!(
        support::eventually(Duration::from_secs(10), || ds_hits.load(Ordering::SeqCst)
            == 1)
        .await
    );
    let r = restores.clone();
    let restore = tokio::spawn(async move { query(&r).await });
    let o = own.clone();
    let other = tokio::spawn(async move { query(&o).await });
    assert!(
        support::eventually(Duration::from_secs(10), || own_hits.load(Ordering::SeqCst)
            == 1)
        .await,
        "a client with its own slots queries at once"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rr_hits.load(Ordering::SeqCst),
        0,
        "the restore did not wait for the rule's query to free the one slot"
    );
    ds_release.send(true).unwrap();
    assert_eq!(rule.await.unwrap().unwrap(), 0);
    assert!(
        support::eventually(Duration::from_secs(10), || rr_hits.load(Ordering::SeqCst)
            == 1)
        .await,
        "the restore ran once the slot was free"
    );
    rr_release.send(true).unwrap();
    own_release.send(true).unwrap();
    assert_eq!(restore.await.unwrap().unwrap(), 0);
    assert_eq!(other.await.unwrap().unwrap(), 0);
}
