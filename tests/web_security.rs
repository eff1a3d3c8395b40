//! tocsin's own server at its edges: every route × credentials over TLS, real TLS
//! handshakes, certificate rotation while serving, the PROXY protocol, bad input.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use support::certs;
use support::web::{Fake, fixture};
use tocsin::secret::Secret;
use tocsin::web::metrics::SecurityMetrics;
use tocsin::web::{Access, BasicAuth, ResponseHeaders, Server, TlsOptions, WebOptions, routes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const USER: &str = "admin";
const PASS: &str = "b4sic-pw";

fn key(flag: &str, v: &str) -> Option<Arc<Secret>> {
    Secret::from_flag(flag, v).unwrap().map(Arc::new)
}

/// Basic auth and every key set, each to its own value.
fn locked() -> Access {
    Access {
        basic: Some(BasicAuth {
            username: USER.into(),
            password: key("httpAuth.password", PASS),
        }),
        metrics_key: key("metricsAuthKey", "k-metricsAuthKey"),
        flags_key: key("flagsAuthKey", "k-flagsAuthKey"),
        pprof_key: key("pprofAuthKey", "k-pprofAuthKey"),
        reload_key: key("reloadAuthKey", "k-reloadAuthKey"),
    }
}

struct Running {
    base: String,
    cancel: CancellationToken,
    registry: Arc<Registry>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn serve(opts: WebOptions) -> Running {
    let mut registry = Registry::default();
    let security = SecurityMetrics::register(&mut registry);
    let registry = Arc::new(registry);
    let opts = WebOptions {
        listen_addr: "127.0.0.1:0".into(),
        security_metrics: Some(security),
        ..opts
    };
    let server = Server::bind(opts, Fake::new(fixture(), true), registry.clone())
        .await
        .expect("bind");
    let base = format!("{}://{}", server.scheme(), server.local_addr().unwrap());
    let cancel = CancellationToken::new();
    tokio::spawn(server.run(cancel.clone()));
    Running {
        base,
        cancel,
        registry,
    }
}

fn tls(dir: &std::path::Path, leaf: &certs::Leaf) -> TlsOptions {
    let (cert_file, key_file) = leaf.write(dir);
    TlsOptions {
        cert_file,
        key_file,
        tls13_only: false,
        cipher_suites: vec![],
        reload_interval: Duration::from_millis(100),
    }
}

/// The value of an unlabelled series in the registry's text.
fn value(registry: &Registry, name: &str) -> f64 {
    let text = tocsin::web::metrics::encode(registry, true).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in\n{text}"))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cred {
    None,
    Wrong,
    Right,
}

async fn status(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    key_flag: Option<&str>,
    cred: Cred,
) -> u16 {
    let mut url = format!("{base}{path}");
    let mut req;
    let sep = |u: &str| if u.contains('?') { '&' } else { '?' };
    if path.ends_with("/profile") {
        url.push_str("?seconds=1");
    }
    match (cred, key_flag) {
        (Cred::None, _) => req = c.get(&url),
        (Cred::Wrong, _) => {
            url.push(sep(&url));
            url.push_str("authKey=wrong");
            req = c.get(&url).basic_auth(USER, Some("wrong"));
        }
        (Cred::Right, Some(flag)) if !flag.is_empty() => {
            url.push(sep(&url));
            url.push_str(&format!("authKey=k-{flag}"));
            req = c.get(&url);
        }
        (Cred::Right, _) => req = c.get(&url).basic_auth(USER, Some(PASS)),
    }
    req = req.timeout(Duration::from_secs(30));
    req.send().await.expect("request").status().as_u16()
}

/// Every route the router has, with no, wrong and right credentials, over TLS: open
/// routes answer as on an open server, every other one refuses 401 until the right
/// credentials come, then answers exactly as the open server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_credential_matrix_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new();
    let locked_srv = serve(WebOptions {
        access: locked(),
        tls: Some(tls(dir.path(), &ca.leaf("matrix"))),
        ..WebOptions::default()
    })
    .await;
    let open_srv = serve(WebOptions::default()).await;
    let c = certs::client(&ca.pem, false);
    let plain = reqwest::Client::new();
    let all = routes();
    assert!(all.len() >= 17, "{all:?}");
    for r in &all {
        let open = status(&plain, &open_srv.base, r.path, None, Cred::None).await;
        assert_ne!(open, 401, "{}: the open server refuses", r.path);
        assert!(open < 500, "{}: {open} on the open server", r.path);
        for cred in [Cred::None, Cred::Wrong, Cred::Right] {
            let got = status(&c, &locked_srv.base, r.path, r.key_flag, cred).await;
            let want = if r.key_flag.is_none() || cred == Cred::Right {
                open
            } else {
                401
            };
            assert_eq!(got, want, "{} with {cred:?} credentials", r.path);
        }
        if let Some(flag) = r.key_flag.filter(|f| !f.is_empty()) {
            let got = status(&c, &locked_srv.base, r.path, Some(""), Cred::Right).await;
            assert_eq!(got, 401, "{}: basic auth does not replace -{flag}", r.path);
        }
    }
    let metrics = format!("{}/metrics?authKey=k-metricsAuthKey", locked_srv.base);
    let text = c.get(metrics).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains("tocsin_http_auth_failures_total{reason=\"wrong_basic_auth\"}"),
        "{text}"
    );
    assert!(
        text.contains("tocsin_http_auth_failures_total{reason=\"wrong_auth_key\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn headers_cors_and_preflight() {
    let srv = serve(WebOptions {
        access: locked(),
        headers: ResponseHeaders::new("max-age=31536000", "DENY", "default-src 'self'", false)
            .unwrap(),
        ..WebOptions::default()
    })
    .await;
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{}/api/v1/rules", srv.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"tocsin\"");
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["content-security-policy"], "default-src 'self'");
    let r = c
        .get(format!("{}/api/v1/rules", srv.base))
        .basic_auth(USER, Some(PASS))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let pre = c
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/rules", srv.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204, "preflights carry no credentials");
    assert_eq!(pre.headers()["access-control-allow-methods"], "*");

    let no_cors = serve(WebOptions {
        headers: ResponseHeaders::new("", "", "", true).unwrap(),
        ..WebOptions::default()
    })
    .await;
    let r = c
        .get(format!("{}/api/v1/rules", no_cors.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(r.headers().get("x-frame-options").is_none());
    let pre = c
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/rules", no_cors.base),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    assert!(
        ResponseHeaders::new("a\nb", "", "", false)
            .unwrap_err()
            .to_string()
            .contains("-http.header.hsts")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_only_refuses_tls12() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new();
    let mut t = tls(dir.path(), &ca.leaf("tls13"));
    t.tls13_only = true;
    let srv = serve(WebOptions {
        tls: Some(t),
        ..WebOptions::default()
    })
    .await;
    let url = format!("{}/-/healthy", srv.base);
    let ok = certs::client(&ca.pem, false)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let e = certs::client(&ca.pem, true).get(&url).send().await;
    assert!(e.is_err(), "a TLS 1.2 client is refused");
    // A client that does not trust the CA is refused too: the handshake is real.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}

/// Waits until new connections to `url` are served with the certificate `der`.
async fn wait_served(ca_pem: &str, url: &str, der: &[u8], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = certs::client(ca_pem, false).get(url).send().await.unwrap();
        if certs::peer_cert(&r) == der {
            return;
        }
        assert!(Instant::now() < deadline, "{what} never went into service");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// cert-manager rewrites the files in place: new connections get the new pair, the
/// listener and open connections stay; a broken pair keeps the old one and is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new();
    let first = ca.leaf("first");
    let srv = serve(WebOptions {
        tls: Some(tls(dir.path(), &first)),
        ..WebOptions::default()
    })
    .await;
    let url = format!("{}/-/healthy", srv.base);
    let kept = certs::client(&ca.pem, false);
    let r = kept.get(&url).send().await.unwrap();
    assert_eq!(certs::peer_cert(&r), first.der);

    let second = ca.leaf("second");
    second.write(dir.path());
    wait_served(&ca.pem, &url, &second.der, "the new pair").await;
    assert_eq!(
        kept.get(&url).send().await.unwrap().status(),
        200,
        "open connections live on"
    );

    // A certificate with somebody else's key: the second pair stays in service. Only the
    // key changes, in one rename, so that the watcher can see no other broken pair on the
    // way (two writes, or a truncated file, would be two distinct broken pairs, each
    // rightly counted).
    let metric = |name: &str| value(&srv.registry, name);
    let errors_before = metric("tocsin_tls_certificate_reload_errors_total");
    let replace = |name: &str, bytes: &[u8]| {
        let tmp = dir.path().join(format!("{name}.tmp"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, dir.path().join(name)).unwrap();
    };
    replace("tls.key", first.key_pem.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric("tocsin_tls_certificate_reload_errors_total") < errors_before + 1.0 {
        assert!(
            Instant::now() < deadline,
            "the broken pair was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric("tocsin_tls_certificate_last_reload_successful"), 0.0);
    let r = certs::client(&ca.pem, false)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        certs::peer_cert(&r),
        second.der,
        "the broken pair is not served"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        metric("tocsin_tls_certificate_reload_errors_total"),
        errors_before + 1.0,
        "an unchanged broken pair is counted once"
    );
    // A new certificate and its key arrive: the third pair goes into service.
    let third = ca.leaf("third");
    replace("tls.crt", third.cert_pem.as_bytes());
    replace("tls.key", third.key_pem.as_bytes());
    wait_served(&ca.pem, &url, &third.der, "the fixed pair").await;
    assert_eq!(metric("tocsin_tls_certificate_last_reload_successful"), 1.0);
    assert!(metric("tocsin_tls_certificate_reloads_total") >= 2.0);
}

#[tokio::test]
async fn bad_pairs_fail_at_start_with_the_flag_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certs::Ca::new();
    let a = ca.leaf("a");
    let b = ca.leaf("b");
    let bind = |t: TlsOptions| async move {
        let opts = WebOptions {
            listen_addr: "127.0.0.1:0".into(),
            tls: Some(t),
            ..WebOptions::default()
        };
        match Server::bind(
            opts,
            Fake::new(fixture(), true),
            Arc::new(Registry::default()),
        )
        .await
        {
            Ok(_) => panic!("bound with a bad pair"),
            Err(e) => e.to_string(),
        }
    };
    let mut t = tls(dir.path(), &a);
    t.cert_file = dir.path().join("missing.crt");
    let e = bind(t).await;
    assert!(
        e.starts_with(&format!(
            "-tlsCertFile={}: cannot read the file",
            dir.path().join("missing.crt").display()
        )),
        "{e}"
    );

    let t = tls(dir.path(), &a);
    std::fs::write(&t.key_file, &b.key_pem).unwrap();
    let e = bind(t.clone()).await;
    assert!(
        e.contains("does not match the certificate in -tlsCertFile="),
        "{e}"
    );

    std::fs::write(&t.key_file, "not a key").unwrap();
    let e = bind(t.clone()).await;
    assert!(e.starts_with("-tlsKeyFile="), "{e}");
    std::fs::write(&t.cert_file, "garbage").unwrap();
    let e = bind(t).await;
    assert!(e.contains("no PEM certificate"), "{e}");
}

async fn raw_request(addr: &str, prefix: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(prefix).await.unwrap();
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out)).await;
    out
}

#[tokio::test]
async fn proxy_protocol_v1_v2_and_missing_header() {
    let srv = serve(WebOptions {
        proxy_protocol: true,
        ..WebOptions::default()
    })
    .await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    let v1 = raw_request(&addr, b"PROXY TCP4 203.0.113.9 10.0.0.1 40000 8880\r\n").await;
    assert!(v1.starts_with("HTTP/1.1 200"), "{v1}");
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend_from_slice(&[203, 0, 113, 9, 10, 0, 0, 1, 0x9c, 0x40, 0x22, 0xb0]);
    let r = raw_request(&addr, &v2).await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let none = raw_request(&addr, b"").await;
    assert!(
        none.is_empty(),
        "a connection without a header is dropped: {none}"
    );
    let bad = raw_request(&addr, b"PROXY TCP4 999.1.1.1 10.0.0.1 1 2\r\n").await;
    assert!(bad.is_empty(), "{bad}");
    assert_eq!(
        value(&srv.registry, "tocsin_http_proxy_protocol_errors_total"),
        2.0
    );
}
