use super::*;

fn flags(prefix: &str) -> Origin {
    Origin::flags(prefix)
}

/// The `Authorization` header the client would send now.
async fn authorization(c: &HttpClient) -> Option<String> {
    let req = c
        .post(&Endpoint::new("http://x/"))
        .await
        .unwrap()
        .build()
        .unwrap();
    req.headers()
        .get(AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_string())
}

fn client(o: &ClientOptions) -> Result<HttpClient, ClientError> {
    HttpClient::new(&flags("datasource"), o, Duration::from_secs(5))
}

#[test]
fn headers_in_vmalert_format() {
    let h = parse_headers("-x.headers", "X-Scope-OrgID: 1^^Accept: application/json").unwrap();
    assert_eq!(
        h,
        [
            ("X-Scope-OrgID".to_string(), "1".to_string()),
            ("Accept".to_string(), "application/json".to_string())
        ]
    );
    let e = parse_headers("-x.headers", "A: 1^^Authorization Bearer s3cret")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "-x.headers: header 2 has no name before ':'; use 'Name: value'"
    );
    let e = header_map(&[("X".into(), "bad\nvalue s3cret".into())])
        .unwrap_err()
        .to_string();
    assert!(!e.contains("s3cret"), "{e}");
}

#[tokio::test]
async fn basic_auth_from_values_and_files() {
    let o = ClientOptions {
        basic_auth_username: Some("Aladdin".into()),
        basic_auth_password: Some(Secret::new("open sesame")),
        ..ClientOptions::default()
    };
    assert_eq!(
        authorization(&client(&o).unwrap()).await.as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    let dir = tempfile::tempdir().unwrap();
    let (u, p) = (dir.path().join("user"), dir.path().join("pw"));
    std::fs::write(&u, "Aladdin\n").unwrap();
    std::fs::write(&p, "open sesame").unwrap();
    let o = ClientOptions {
        basic_auth_username_file: Some(u),
        basic_auth_password_file: Some(p.clone()),
        ..ClientOptions::default()
    };
    let c = client(&o).unwrap();
    assert_eq!(
        authorization(&c).await.as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    let tmp = dir.path().join("pw.new");
    std::fs::write(&tmp, "rotated").unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    assert_eq!(
        authorization(&c).await.as_deref(),
        Some("Basic QWxhZGRpbjpyb3RhdGVk")
    );
    std::fs::remove_file(&p).unwrap();
    let e = c
        .post(&Endpoint::new("http://x/"))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("cannot read -datasource.basicAuth.passwordFile")
            && e.ends_with("the request was not sent"),
        "{e}"
    );
}

#[tokio::test]
async fn bearer_token_file_is_reread() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("token");
    std::fs::write(&f, "t0k\n").unwrap();
    let o = ClientOptions {
        bearer_token_file: Some(f.clone()),
        ..ClientOptions::default()
    };
    let c = client(&o).unwrap();
    assert_eq!(authorization(&c).await.as_deref(), Some("Bearer t0k"));
    std::fs::write(&f, "t1k-longer").unwrap();
    assert_eq!(
        authorization(&c).await.as_deref(),
        Some("Bearer t1k-longer")
    );
}

#[test]
fn bad_settings_name_the_flags() {
    let cases: Vec<(ClientOptions, &str)> = vec![
        (
            ClientOptions {
                basic_auth_password: Some(Secret::new("x")),
                ..ClientOptions::default()
            },
            "-datasource.basicAuth.password: basic auth needs a user name: set -datasource.basicAuth.username or -datasource.basicAuth.usernameFile",
        ),
        (
            ClientOptions {
                basic_auth_username: Some("u".into()),
                bearer_token: Some(Secret::new("t0k")),
                ..ClientOptions::default()
            },
            "-datasource.basicAuth.username, -datasource.bearerToken: only one way to authenticate can be used",
        ),
        (
            ClientOptions {
                bearer_token: Some(Secret::new("t0k")),
                bearer_token_file: Some("/x".into()),
                ..ClientOptions::default()
            },
            "-datasource.bearerToken and -datasource.bearerTokenFile: both are set; keep one",
        ),
        (
            ClientOptions {
                bearer_token_file: Some("/nonexistent/token".into()),
                ..ClientOptions::default()
            },
            "cannot read -datasource.bearerTokenFile /nonexistent/token: ",
        ),
        (
            ClientOptions {
                oauth2: Some(OAuth2Options {
                    client_id: "id".into(),
                    token_url: "http://t".into(),
                    ..OAuth2Options::default()
                }),
                ..ClientOptions::default()
            },
            "-datasource.oauth2.clientSecret: OAuth2 needs a client secret",
        ),
        (
            ClientOptions {
                tls: TlsOptions {
                    ca_file: Some("/nonexistent/ca.pem".into()),
                    ..TlsOptions::default()
                },
                ..ClientOptions::default()
            },
            "-datasource.tlsCAFile /nonexistent/ca.pem: ",
        ),
        (
            ClientOptions {
                tls: TlsOptions {
                    cert_file: Some("/c.pem".into()),
                    ..TlsOptions::default()
                },
                ..ClientOptions::default()
            },
            "-datasource.tlsCertFile and -datasource.tlsKeyFile: a client certificate needs both",
        ),
    ];
    for (o, want) in cases {
        let e = client(&o).err().unwrap().to_string();
        assert!(e.starts_with(want), "{e}\nwanted: {want}");
        assert!(!e.contains("t0k"), "{e}");
    }
}

#[test]
fn config_file_settings_are_named_by_their_keys() {
    let o = Origin::Section("static_configs[1]".into());
    assert_eq!(
        o.name("bearerTokenFile"),
        "static_configs[1].bearer_token_file"
    );
    assert_eq!(o.name("tlsCAFile"), "static_configs[1].tls_config.ca_file");
    assert_eq!(
        Origin::Section(String::new()).name("basicAuth.password"),
        "basic_auth.password"
    );
}

#[test]
fn paths_go_before_the_query() {
    assert_eq!(
        join_path("http://h/p/?authKey=k", "/api/v1/query"),
        "http://h/p/api/v1/query?authKey=k"
    );
    assert_eq!(
        join_path("http://h", "/api/v1/write"),
        "http://h/api/v1/write"
    );
    assert_eq!(
        join_path("http://h/api/v2/alerts", "/api/v2/alerts"),
        "http://h/api/v2/alerts"
    );
}

#[tokio::test]
async fn url_credentials_move_into_basic_auth_or_are_refused_beside_a_flag() {
    let mut auth = ClientOptions::default();
    let url = url_credentials("datasource", "http://u:p%40ss@h:1/x?q=1", &mut auth).unwrap();
    assert_eq!(url, "http://h:1/x?q=1");
    assert_eq!(
        authorization(&client(&auth).unwrap()).await.as_deref(),
        Some("Basic dTpwQHNz")
    );
    let mut auth = ClientOptions {
        bearer_token: Some(Secret::new("t")),
        ..ClientOptions::default()
    };
    let e = url_credentials("remoteWrite", "http://u:s3cret@h", &mut auth)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("-remoteWrite.url") && e.contains("-remoteWrite.bearerToken"),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
}

#[test]
fn debug_output_has_no_secret() {
    let o = ClientOptions {
        basic_auth_username: Some("u".into()),
        basic_auth_password: Some(Secret::new("s3cret")),
        oauth2: Some(OAuth2Options {
            client_secret: Some(Secret::new("s3cret")),
            ..OAuth2Options::default()
        }),
        ..ClientOptions::default()
    };
    assert!(!format!("{o:?}").contains("s3cret"));
}
