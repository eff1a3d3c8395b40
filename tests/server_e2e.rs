//! The tocsin binary at its edges: secrets given on the command line, in files and in
//! the environment never show in its logs, API, UI, `/metrics` or `/flags`; real TLS
//! handshakes with `openssl s_client`; bad TLS and secret flags stop it at start-up with
//! one line naming the flag.

mod support;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::certs;
use support::peers::{ChildGuard, free_port};

const RULES: &str = "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Up\n        expr: vector(1)\n";

/// Starts the binary with `args` and `env` (added to the inherited environment).
fn spawn(dir: &Path, name: &str, args: &[String], env: &[(&str, &str)]) -> ChildGuard {
    let log = dir.join(format!("{name}.log"));
    let out = File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start tocsin");
    ChildGuard {
        name: name.into(),
        child,
        log,
    }
}

/// Waits until `/-/ready` answers 200 through `client`.
async fn wait_ready(client: &reqwest::Client, base: &str, t: &mut ChildGuard) {
    let start = Instant::now();
    loop {
        if let Some(s) = t.exited() {
            panic!("tocsin exited ({s}):\n{}", t.log_tail(30));
        }
        if let Ok(r) = client.get(format!("{base}/-/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            t.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(req: reqwest::RequestBuilder) -> (u16, String) {
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("r.yml"), RULES).unwrap();
    let key_file = d.join("reload.key");
    std::fs::write(&key_file, "FILE-RELOAD-KEY-2\n").unwrap();
    let (cli_pass, file_key, env_key, placeholder_key, pprof_key, listed) = (
        "CLI-BASIC-PASS-1",
        "FILE-RELOAD-KEY-2",
        "ENV-METRICS-KEY-3",
        "PLACEHOLDER-FLAGS-KEY-4",
        "PPROF-KEY-5",
        "SECRET-ORG-6",
    );
    let port = free_port();
    let dead = free_port();
    let args: Vec<String> = [
        format!("-rule={}", d.join("r.yml").display()),
        format!("-datasource.url=http://127.0.0.1:{dead}"),
        format!("-notifier.url=http://127.0.0.1:{dead}"),
        format!("-httpListenAddr=127.0.0.1:{port}"),
        "-httpAuth.username=admin".into(),
        format!("-httpAuth.password={cli_pass}"),
        format!("-reloadAuthKey=file://{}", key_file.display()),
        "-flagsAuthKey=%{FLAGS_KEY}".into(),
        format!("-pprofAuthKey={pprof_key}"),
        "-envflag.enable".into(),
        "-envflag.prefix=T_".into(),
        "-secret.flags=datasource.headers,loggerFormat".into(),
        format!("-datasource.headers=X-Scope-OrgID: {listed}"),
        "-loggerLevel=DEBUG".into(),
    ]
    .to_vec();
    let mut t = spawn(
        d,
        "tocsin",
        &args,
        &[
            ("T_metricsAuthKey", env_key),
            ("FLAGS_KEY", placeholder_key),
            ("T_loggerFormat", "default"),
            ("T_rule_resendDelay", "5s"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    wait_ready(&c, &base, &mut t).await;
    tokio::time::sleep(Duration::from_millis(2500)).await; // a few failed evaluations

    let mut seen = Vec::new();
    let basic = |p: &str| {
        c.get(format!("{base}{p}"))
            .basic_auth("admin", Some(cli_pass))
    };
    for p in [
        "/",
        "/vmalert/",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/notifiers",
        "/api/v1/status",
        "/api/v1/status/runtimeinfo",
    ] {
        let (code, body) = text(basic(p)).await;
        assert_eq!(code, 200, "{p}: {body}");
        seen.push((p.to_string(), body));
    }
    let (code, metrics) = text(c.get(format!("{base}/metrics?authKey={env_key}"))).await;
    assert_eq!(code, 200, "the key from the environment opens /metrics");
    assert!(
        metrics.contains("tocsin_datasource_errors_total"),
        "{metrics}"
    );
    let (code, flags) = text(c.get(format!("{base}/flags?authKey={placeholder_key}"))).await;
    assert_eq!(code, 200, "the key from %{{FLAGS_KEY}} opens /flags");
    for want in [
        "-httpAuth.password=\"secret\"",
        "-metricsAuthKey=\"secret\"",
        "-flagsAuthKey=\"secret\"",
        "-reloadAuthKey=\"secret\"",
        "-loggerFormat=\"secret\"",
        "-rule.resendDelay=\"5s\"",
        "-httpAuth.username=\"admin\"",
    ] {
        assert!(flags.contains(want), "{want} not in /flags:\n{flags}");
    }
    let (code, pprof) = text(c.get(format!("{base}/debug/pprof/?authKey={pprof_key}"))).await;
    assert_eq!(code, 200);
    assert!(pprof.contains("/debug/pprof/profile"), "{pprof}");
    let (code, refused) = text(c.get(format!("{base}/metrics?authKey={cli_pass}"))).await;
    assert_eq!(code, 401);
    let (code, _) = text(c.post(format!("{base}/-/reload?authKey={file_key}"))).await;
    assert_eq!(code, 200, "the key from the file opens /-/reload");
    // The key file is rotated: the new key works, the old one no longer does.
    std::fs::write(&key_file, "ROTATED-RELOAD-KEY-7").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (code, _) = text(c.post(format!("{base}/-/reload?authKey=ROTATED-RELOAD-KEY-7"))).await;
    assert_eq!(code, 200, "a rotated key file is re-read");
    let (code, _) = text(c.post(format!("{base}/-/reload?authKey={file_key}"))).await;
    assert_eq!(code, 401);
    seen.push(("/metrics".into(), metrics));
    seen.push(("/flags".into(), flags));
    seen.push(("/debug/pprof/".into(), pprof));
    seen.push(("401 body".into(), refused));

    t.terminate(Duration::from_secs(10));
    let log = std::fs::read_to_string(&t.log).unwrap();
    assert!(
        log.contains("flag=\"metricsAuthKey\" value=\"secret\" env=\"T_metricsAuthKey\""),
        "{log}"
    );
    assert!(
        log.contains("Connection refused") || log.contains("connect"),
        "the peers were down:\n{log}"
    );
    seen.push(("log".into(), log));
    for (what, body) in &seen {
        for s in [
            cli_pass,
            file_key,
            "ROTATED-RELOAD-KEY-7",
            env_key,
            placeholder_key,
            pprof_key,
        ] {
            assert!(!body.contains(s), "{s} shows in {what}:\n{body}");
        }
    }
    for (what, body) in seen.iter().filter(|(w, _)| w == "/flags" || w == "log") {
        assert!(!body.contains(listed), "{listed} shows in {what}");
    }
}

/// The start-up error of `args` (tocsin must exit 1 without serving).
fn startup_error(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .output()
        .expect("run tocsin");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_tls_and_secret_flags_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("r.yml"), RULES).unwrap();
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![
            format!("-rule={}", d.join("r.yml").display()),
            "-datasource.url=http://127.0.0.1:1".into(),
            format!("-httpListenAddr=127.0.0.1:{}", free_port()),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let e = startup_error(&base(&[
        "-tls",
        "-tlsCertFile=/nonexistent/tls.crt",
        "-tlsKeyFile=/nonexistent/tls.key",
    ]));
    assert!(
        e.contains("tocsin: -tlsCertFile=/nonexistent/tls.crt: cannot read the file"),
        "{e}"
    );
    let e = startup_error(&base(&["-tls"]));
    assert!(e.contains("-tls is set but -tlsCertFile is empty"), "{e}");
    let ca = certs::Ca::new();
    let (a, b) = (ca.leaf("a"), ca.leaf("b"));
    let (cert, _) = a.write(d);
    let other_key = d.join("other.key");
    std::fs::write(&other_key, &b.key_pem).unwrap();
    let e = startup_error(&base(&[
        "-tls",
        &format!("-tlsCertFile={}", cert.display()),
        &format!("-tlsKeyFile={}", other_key.display()),
    ]));
    assert!(e.contains("does not match the certificate"), "{e}");
    let e = startup_error(&base(&[
        "-httpAuth.username=u",
        "-httpAuth.password=file:///nonexistent/pw",
    ]));
    assert!(
        e.contains("tocsin: -httpAuth.password: cannot read /nonexistent/pw"),
        "{e}"
    );
    let e = startup_error(&base(&[
        "-tls",
        &format!("-tlsCertFile={}", cert.display()),
        &format!("-tlsKeyFile={}", d.join("tls.key").display()),
        "-tlsCipherSuites=TLS_FOO",
    ]));
    assert!(
        e.contains("-tlsCipherSuites: unknown cipher suite \"TLS_FOO\""),
        "{e}"
    );
}

/// `openssl s_client`, a TLS stack that is not ours, against the binary.
fn s_client(port: u16, ca: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .args([
            "-CAfile",
            &ca.display().to_string(),
            "-verify_return_error",
            "-brief",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        ),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("openssl not found (CI=true): {e}");
            }
            eprintln!("SKIP: openssl not found: {e}");
            (false, String::new())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_handshakes_and_tls13_only() {
    if Command::new("openssl").arg("version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "openssl not found (CI=true)"
        );
        eprintln!("SKIP: openssl not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("r.yml"), RULES).unwrap();
    let ca = certs::Ca::new();
    let ca_file = ca.write(d);
    let (cert, key) = ca.leaf("server").write(d);
    for (min, tls12_ok) in [("TLS12", true), ("TLS13", false)] {
        let port = free_port();
        let args: Vec<String> = vec![
            format!("-rule={}", d.join("r.yml").display()),
            "-datasource.url=http://127.0.0.1:1".into(),
            format!("-httpListenAddr=127.0.0.1:{port}"),
            "-tls".into(),
            format!("-tlsCertFile={}", cert.display()),
            format!("-tlsKeyFile={}", key.display()),
            format!("-tlsMinVersion={min}"),
        ];
        let mut t = spawn(d, &format!("tocsin-{min}"), &args, &[]);
        let c = certs::client(&ca.pem, false);
        wait_ready(&c, &format!("https://127.0.0.1:{port}"), &mut t).await;
        let (ok, out) = s_client(port, &ca_file, &[]);
        assert!(ok, "{min}: {out}");
        assert!(out.contains("Verification: OK"), "{out}");
        let (ok12, out12) = s_client(port, &ca_file, &["-tls1_2"]);
        assert_eq!(
            ok12, tls12_ok,
            "-tlsMinVersion={min}, TLS 1.2 client: {out12}"
        );
        if tls12_ok {
            assert!(out12.contains("Protocol version: TLSv1.2"), "{out12}");
        }
        let plain = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .await;
        assert!(
            plain.map(|r| r.status() != 200).unwrap_or(true),
            "plain HTTP is not served"
        );
        t.terminate(Duration::from_secs(10));
    }
}
