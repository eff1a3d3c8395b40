use std::path::Path;
use std::time::Duration;

use super::*;

fn parse_ok(text: &str) -> NotifierConfig {
    parse(Path::new("/etc/tocsin/n.yml"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_err(text: &str) -> String {
    match parse(Path::new("/etc/tocsin/n.yml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_full_config_in_vmalerts_format_is_read() {
    let c = parse_ok(
        r#"
scheme: https
path_prefix: /am
timeout: 5s
basic_auth:
  username: top
  password: top-secret
tls_config:
  ca_file: ca.pem
static_configs:
  - targets: [am1:9093, am2:9093]
  - targets: [am3:9093]
    bearer_token_file: /run/token
    alert_relabel_configs:
      - target_label: team
        replacement: sre
dns_sd_configs:
  - names: [_am._tcp.example]
  - names: [am.example]
    type: A
    port: 9093
consul_sd_configs:
  - server: consul:8500
    services: [alertmanager]
    token: consul-secret
relabel_configs:
  - source_labels: [__meta_consul_tags]
    regex: .*,prod,.*
    action: keep
alert_relabel_configs:
  - action: labeldrop
    regex: internal_.*
"#,
    );
    assert_eq!(c.scheme, "https");
    assert_eq!(c.path_prefix, "/am");
    assert_eq!(c.timeout, Duration::from_secs(5));
    assert_eq!(c.statics.len(), 2);
    // The first group inherits the top-level settings, the second overrides auth only.
    assert_eq!(
        c.statics[0].http.basic_auth_username.as_deref(),
        Some("top")
    );
    assert_eq!(
        c.statics[0].http.tls.ca_file.as_deref(),
        Some(Path::new("/etc/tocsin/ca.pem"))
    );
    assert_eq!(
        c.statics[1].http.basic_auth_username.as_deref(),
        Some("top")
    );
    assert_eq!(
        c.statics[1].http.bearer_token_file.as_deref(),
        Some(Path::new("/run/token"))
    );
    assert_eq!(c.statics[1].alert_relabel.len(), 1);
    assert_eq!(c.dns[0].kind, DnsKind::Srv);
    assert_eq!((c.dns[1].kind, c.dns[1].port), (DnsKind::A, Some(9093)));
    assert_eq!(c.consul[0].server, "http://consul:8500");
    assert_eq!(
        c.consul[0].token.as_ref().map(|t| t.expose()),
        Some("consul-secret")
    );
    assert_eq!((c.relabel.len(), c.alert_relabel.len()), (1, 1));
    // Secrets never show in Debug.
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("top-secret") && !debug.contains("consul-secret"),
        "{debug}"
    );
}

#[test]
fn defaults_are_vmalerts() {
    let c = parse_ok("static_configs:\n  - targets: [am:9093]\n");
    assert_eq!(c.scheme, "http");
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.path_prefix, "");
    let empty = parse_ok("");
    assert!(empty.statics.is_empty() && empty.dns.is_empty());
}

#[test]
fn errors_name_the_file_the_position_and_what_to_do() {
    let e = parse_err("static_configs:\n  - targets: [a]\n    tagets: [b]\n");
    assert!(
        e.starts_with("-notifier.config /etc/tocsin/n.yml:3:"),
        "{e}"
    );
    assert!(e.contains("tagets"), "{e}");

    let e = parse_err("relabel_configs:\n  - regex: '('\n");
    assert!(
        e.starts_with("-notifier.config /etc/tocsin/n.yml:2:5: relabel_configs[0]: invalid regex"),
        "{e}"
    );

    let e = parse_err(
        "static_configs:\n  - targets: [a]\n    alert_relabel_configs:\n      - action: bogus\n",
    );
    assert!(
        e.contains(":4:9: static_configs[0].alert_relabel_configs[0]: unknown action"),
        "{e}"
    );

    let e = parse_err("dns_sd_configs:\n  - names: [x]\n    type: A\n");
    assert!(
        e.contains(":2:5: dns_sd_configs[0]: type A needs port"),
        "{e}"
    );

    let e = parse_err("dns_sd_configs:\n  - names: [x]\n    type: MX\n");
    assert!(
        e.contains("type \"MX\" is not supported; use SRV, A or AAAA"),
        "{e}"
    );

    let e = parse_err("scheme: ftp\n");
    assert!(
        e.contains(":1:9: scheme \"ftp\" is neither http nor https"),
        "{e}"
    );

    let e = parse_err("timeout: soon\n");
    assert!(e.contains(":1:10: timeout:"), "{e}");
}

#[test]
fn header_errors_never_quote_the_value() {
    let e = parse_err("headers: ['token-abc123']\nstatic_configs:\n  - targets: [a]\n");
    assert!(e.contains("headers[0] has no name before ':'"), "{e}");
    assert!(!e.contains("abc123"), "{e}");
}
