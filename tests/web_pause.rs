//! `POST /api/v1/rules/pause` and `/resume` over HTTP: the `-reloadAuthKey` guard, clear
//! 4xx answers for what cannot be paused, and the pause shown on the rule and group in
//! `/api/v1/rules` with who, why and until.

mod support;

use std::sync::Arc;

use serde_json::Value;
use support::http::post_form as post;
use support::web::{Fake, fixture, server};
use tocsin::secret::Secret;
use tocsin::web::{Access, BasicAuth, WebOptions};

/// A form's fields.
type Form<'a> = &'a [(&'a str, &'a str)];

async fn rules(url: &str) -> Value {
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The rule `name` of the group `group` in `/api/v1/rules`.
fn rule<'a>(v: &'a Value, group: &str, name: &str) -> &'a Value {
    v["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == group)
        .and_then(|g| {
            g["rules"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
        })
        .unwrap_or_else(|| panic!("no rule {name} in {group}: {v}"))
}

#[tokio::test]
async fn pause_and_resume_a_rule_and_a_group() {
    let srv = server().start().await;
    let pause = srv.url("/api/v1/rules/pause");
    let resume = srv.url("/api/v1/rules/resume");

    let (code, v) = post(
        &pause,
        &[
            ("group", "node"),
            ("rule", "HighLoad"),
            ("reason", "disk swap"),
            ("note", "INC-7"),
            ("by", "alice"),
            ("until", "2h"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["rule"], "HighLoad");
    assert_eq!(v["data"]["file"], "/rules/a.yml");
    assert_eq!(v["data"]["hold"], false);
    let since = humantime::parse_rfc3339_weak(v["data"]["since"].as_str().unwrap()).unwrap();
    let until = humantime::parse_rfc3339_weak(v["data"]["until"].as_str().unwrap()).unwrap();
    assert_eq!(until.duration_since(since).unwrap().as_secs(), 7200);

    let all = rules(&srv.url("/api/v1/rules")).await;
    let p = &rule(&all, "node", "HighLoad")["paused"];
    assert_eq!(
        (&p["by"], &p["reason"], &p["note"]),
        (
            &Value::from("alice"),
            &Value::from("disk swap"),
            &Value::from("INC-7")
        )
    );
    assert!(
        rule(&all, "other", "other:sum").get("paused").is_none(),
        "{all}"
    );

    // A group pause covers every rule of the group; `by` defaults to the caller.
    let (code, v) = post(
        &pause,
        &[
            ("group", "other"),
            ("file", "/rules/b.yml"),
            ("reason", "migration"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["by"], "127.0.0.1");
    assert_eq!(v["data"]["until"], Value::Null);
    let all = rules(&srv.url("/api/v1/rules")).await;
    assert_eq!(
        rule(&all, "other", "other:sum")["paused"]["reason"],
        "migration"
    );
    let other = all["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "other")
        .unwrap();
    assert_eq!(other["paused"]["reason"], "migration");

    let (code, v) = post(&resume, &[("group", "node"), ("rule", "HighLoad")]).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["data"]["reason"], "disk swap", "the pause that ended");
    let (code, v) = post(&resume, &[("group", "node"), ("rule", "HighLoad")]).await;
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("is not paused"),
        "{v}"
    );
    let all = rules(&srv.url("/api/v1/rules")).await;
    assert!(
        rule(&all, "node", "HighLoad").get("paused").is_none(),
        "{all}"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn what_cannot_be_paused_gets_a_clear_4xx() {
    let srv = server().start().await;
    let pause = srv.url("/api/v1/rules/pause");
    let cases: &[(Form, u16, &str)] = &[
        (
            &[("group", "node"), ("rule", "NoSuchRule"), ("reason", "x")],
            404,
            "no rule \"NoSuchRule\" in group \"node\" (/rules/a.yml); its rules: HighLoad, job:load:avg, Broken",
        ),
        (
            &[("group", "nope"), ("reason", "x")],
            404,
            "no group \"nope\"",
        ),
        (
            &[("group", "node"), ("file", "/rules/b.yml"), ("reason", "x")],
            404,
            "no group \"node\" in /rules/b.yml",
        ),
        (
            &[("group_id", "12"), ("reason", "x")],
            404,
            "no group with id 12",
        ),
        (&[("reason", "x")], 400, "name the group"),
        (&[("group", "node")], 400, "reason is required"),
        (
            &[("group", "node"), ("reason", "x"), ("until", "soon")],
            400,
            "until=\"soon\": use a duration from now",
        ),
        (
            &[("group", "node"), ("reason", "x"), ("until", "1700000000")],
            400,
            "is not in the future",
        ),
        (
            &[("group", "node"), ("reason", "x"), ("hold", "yes")],
            400,
            "hold=\"yes\"",
        ),
        (
            &[("group", "node"), ("rule_id", "999"), ("reason", "x")],
            404,
            "no rule with id 999",
        ),
    ];
    for (form, want_code, want) in cases {
        let (code, v) = post(&pause, form).await;
        assert_eq!(code, *want_code, "{form:?}: {v}");
        let e = v["error"].as_str().unwrap_or_default();
        assert!(e.contains(want), "{form:?}: {e:?} lacks {want:?}");
    }
    // Only POST.
    let r = reqwest::get(&pause).await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    srv.shutdown().await;
}

#[tokio::test]
async fn pausing_takes_the_reload_key() {
    let key = |flag: &str, v: &str| Secret::from_flag(flag, v).unwrap().map(Arc::new);
    let srv = server()
        .state(Fake::new(fixture(), true))
        .options(WebOptions {
            access: Access {
                basic: Some(BasicAuth {
                    username: "admin".into(),
                    password: key("httpAuth.password", "pw"),
                }),
                reload_key: key("reloadAuthKey", "k-reload"),
                ..Access::default()
            },
            ..WebOptions::default()
        })
        .start()
        .await;
    let form = [("group", "node"), ("reason", "x")];
    for path in ["/api/v1/rules/pause", "/api/v1/rules/resume"] {
        let (code, v) = post(&srv.url(path), &form).await;
        assert_eq!(code, 401, "{path}: {v}");
        assert!(v.to_string().contains("-reloadAuthKey"), "{v}");
        let mut wrong = form.to_vec();
        wrong.push(("authKey", "nope"));
        assert_eq!(post(&srv.url(path), &wrong).await.0, 401, "{path}");
    }
    let mut right = form.to_vec();
    right.push(("authKey", "k-reload"));
    let (code, v) = post(&srv.url("/api/v1/rules/pause"), &right).await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = post(&srv.url("/api/v1/rules/resume"), &right).await;
    assert_eq!(code, 200, "{v}");
    srv.shutdown().await;
}

/// `data.pauses` of `GET /api/v1/rules/pauses` (or its vmalert alias `path`).
async fn listed(srv: &support::web::Running, path: &str) -> (bool, Vec<Value>) {
    let v = rules(&srv.url(path)).await;
    assert_eq!(v["status"], "success", "{v}");
    let persistent = v["data"]["persistent"].as_bool().expect("persistent");
    (
        persistent,
        v["data"]["pauses"].as_array().expect("pauses").clone(),
    )
}

#[tokio::test]
async fn every_pause_is_listed_also_of_a_group_no_longer_loaded() {
    let fake = Fake::new(fixture(), true);
    let srv = server().state(fake.clone()).start().await;
    let pause = srv.url("/api/v1/rules/pause");
    let (persistent, none) = listed(&srv, "/api/v1/rules/pauses").await;
    assert!(!persistent, "no -rule.pausesFile");
    assert!(none.is_empty(), "{none:?}");

    for form in [
        &[
            ("group", "node"),
            ("rule", "HighLoad"),
            ("reason", "disk swap"),
            ("by", "alice"),
        ][..],
        &[
            ("group", "other"),
            ("reason", "migration"),
            ("note", "INC-9"),
        ][..],
    ] {
        let (code, v) = post(&pause, form).await;
        assert_eq!(code, 200, "{v}");
    }
    // A pause whose `until` has passed applies no more: not listed (pauses only end
    // at their rule's next evaluation, and a rule not loaded has none).
    let mut over = fake.pauses.pauses().iter().next().unwrap().as_ref().clone();
    over.target.group = "gone".into();
    over.until_ms = Some(1);
    fake.board.update_pauses(|p| p.pause(over));
    let (_, all) = listed(&srv, "/vmalert/api/v1/rules/pauses").await;
    let shown: Vec<(&str, &str, u64)> = all
        .iter()
        .map(|p| {
            (
                p["group"].as_str().unwrap(),
                p["reason"].as_str().unwrap(),
                p["covered_rules"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [("node", "disk swap", 1), ("other", "migration", 1)],
        "by file, group and rule: {all:?}"
    );
    assert_eq!(all[0]["rule"], "HighLoad");
    assert_eq!(all[0]["by"], "alice");
    assert!(all[1].get("rule").is_none(), "a group pause: {}", all[1]);
    assert_eq!(all[1]["note"], "INC-9");

    // The group `other` leaves the files: its pause shows nowhere in /api/v1/rules, but
    // is listed here, covering no rule, until resumed by its names.
    let kept: Vec<_> = fixture()
        .into_iter()
        .filter(|g| &*g.name != "other")
        .collect();
    fake.board.replace(kept);
    let all_rules = rules(&srv.url("/api/v1/rules")).await;
    assert!(!all_rules.to_string().contains("migration"), "{all_rules}");
    let (_, all) = listed(&srv, "/api/v1/rules/pauses").await;
    assert_eq!(all[1]["group"], "other");
    assert_eq!(all[1]["covered_rules"], 0, "{}", all[1]);
    let (code, v) = post(
        &srv.url("/api/v1/rules/resume"),
        &[("group", "other"), ("file", "/rules/b.yml")],
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let (_, all) = listed(&srv, "/api/v1/rules/pauses").await;
    assert_eq!(all.len(), 1, "{all:?}");
    // Read-only: GET and HEAD.
    let r = reqwest::Client::new()
        .post(srv.url("/api/v1/rules/pauses"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    srv.shutdown().await;
}
