use super::*;

fn steps(yaml: &str) -> Vec<Relabel> {
    let raw: Vec<RawRelabel> = serde_saphyr::from_str(yaml).unwrap();
    compile_all(&raw).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn run(yaml: &str, input: &[(&str, &str)]) -> Option<String> {
    apply(&steps(yaml), &labels(input)).map(|l| l.to_string())
}

#[test]
fn replace_with_defaults_copies_and_templates_targets() {
    assert_eq!(
        run(
            "[{source_labels: [a, b], target_label: ab}]",
            &[("a", "x"), ("b", "y")]
        )
        .as_deref(),
        Some(r#"{a="x", ab="x;y", b="y"}"#)
    );
    // Target names and replacements take $1 / ${name} references.
    assert_eq!(
        run(
            "[{source_labels: [k], regex: '(?P<n>[a-z]+)-(\\d+)', target_label: 'tag_${n}', replacement: 'v$2'}]",
            &[("k", "zone-42")]
        )
        .as_deref(),
        Some(r#"{k="zone-42", tag_zone="v42"}"#)
    );
    // No match: nothing changes; an empty result deletes the target.
    assert_eq!(
        run(
            "[{source_labels: [a], regex: 'z+', target_label: b}]",
            &[("a", "x"), ("b", "1")]
        )
        .as_deref(),
        Some(r#"{a="x", b="1"}"#)
    );
    assert_eq!(
        run(
            "[{source_labels: [missing], target_label: b}]",
            &[("a", "x"), ("b", "1")]
        )
        .as_deref(),
        Some(r#"{a="x"}"#)
    );
    // The regex is anchored and `.` matches newlines.
    assert_eq!(
        run(
            "[{source_labels: [a], regex: 'o', target_label: b}]",
            &[("a", "foo")]
        )
        .as_deref(),
        Some(r#"{a="foo"}"#)
    );
    assert_eq!(
        run(
            "[{source_labels: [a], regex: '(f.o)', target_label: b}]",
            &[("a", "f\no")]
        )
        .as_deref(),
        Some("{a=\"f\\no\", b=\"f\\no\"}")
    );
}

#[test]
fn keep_and_drop() {
    let keep = "[{source_labels: [env], regex: prod|staging, action: keep}]";
    assert!(run(keep, &[("env", "prod")]).is_some());
    assert!(run(keep, &[("env", "dev")]).is_none());
    let drop = "[{source_labels: [env], regex: dev, action: drop}]";
    assert!(run(drop, &[("env", "dev")]).is_none());
    assert!(run(drop, &[("env", "prod")]).is_some());
    let keepequal = "[{source_labels: [a], target_label: b, action: keepequal}]";
    assert!(run(keepequal, &[("a", "1"), ("b", "1")]).is_some());
    assert!(run(keepequal, &[("a", "1"), ("b", "2")]).is_none());
    let dropequal = "[{source_labels: [a], target_label: b, action: dropequal}]";
    assert!(run(dropequal, &[("a", "1"), ("b", "1")]).is_none());
    assert!(run(dropequal, &[("a", "1"), ("b", "2")]).is_some());
}

#[test]
fn hashmod_matches_prometheus() {
    // md5("baz"), last 8 bytes big-endian, mod 1000 = 976 (also Prometheus' test value).
    assert_eq!(
        run(
            "[{source_labels: [c], target_label: d, modulus: 1000, action: hashmod}]",
            &[("c", "baz")]
        )
        .as_deref(),
        Some(r#"{c="baz", d="976"}"#)
    );
}

#[test]
fn label_name_actions() {
    assert_eq!(
        run(
            "[{regex: '__meta_consul_service_metadata_(.+)', action: labelmap}]",
            &[("__meta_consul_service_metadata_team", "db"), ("x", "1")]
        )
        .as_deref(),
        Some(r#"{__meta_consul_service_metadata_team="db", team="db", x="1"}"#)
    );
    assert_eq!(
        run(
            "[{regex: '__.*', action: labeldrop}]",
            &[("__a", "1"), ("b", "2")]
        )
        .as_deref(),
        Some(r#"{b="2"}"#)
    );
    assert_eq!(
        run(
            "[{regex: 'a|b', action: labelkeep}]",
            &[("a", "1"), ("b", "2"), ("c", "3")]
        )
        .as_deref(),
        Some(r#"{a="1", b="2"}"#)
    );
    assert!(run("[{regex: '.*', action: labeldrop}]", &[("a", "1")]).is_none());
}

#[test]
fn case_actions() {
    assert_eq!(
        run(
            "[{source_labels: [a], target_label: lo, action: lowercase}, {source_labels: [a], target_label: up, action: uppercase}]",
            &[("a", "MiXed")]
        )
        .as_deref(),
        Some(r#"{a="MiXed", lo="mixed", up="MIXED"}"#)
    );
}

#[test]
fn invalid_configs_say_what_is_wrong() {
    let err = |yaml: &str| {
        let raw: Vec<RawRelabel> = serde_saphyr::from_str(yaml).unwrap();
        compile_all(&raw).unwrap_err()
    };
    let (i, e) = err("[{action: keep}, {action: explode}]");
    assert_eq!(i, 1);
    assert!(
        e.to_string()
            .starts_with("unknown action \"explode\"; use one of replace, keep")
    );
    let (_, e) = err("[{source_labels: [a], regex: '(unclosed', action: keep}]");
    assert!(
        e.to_string().starts_with("invalid regex \"(unclosed\":"),
        "{e}"
    );
    assert_eq!(
        err("[{source_labels: [a]}]").1,
        RelabelError::MissingTarget { action: "replace" }
    );
    assert_eq!(
        err("[{target_label: b, action: hashmod}]").1,
        RelabelError::Modulus
    );
    assert_eq!(
        err("[{regex: a, source_labels: [x], action: labeldrop}]")
            .1
            .to_string(),
        "action labeldrop takes only regex; remove source_labels"
    );
    assert!(serde_saphyr::from_str::<Vec<RawRelabel>>("[{sourcelabels: [a]}]").is_err());
}

#[test]
fn replace_fast_path_sets_a_constant() {
    // No source labels, default regex, no `$`: the replacement is set as it is.
    assert_eq!(
        run("[{target_label: env, replacement: prod}]", &[("a", "1")]).as_deref(),
        Some(r#"{a="1", env="prod"}"#)
    );
    // A `$` in the replacement takes the general path: `(.*)` matches the empty value.
    assert_eq!(
        run(
            "[{target_label: env, replacement: 'x${1}y'}]",
            &[("a", "1")]
        )
        .as_deref(),
        Some(r#"{a="1", env="xy"}"#)
    );
}

#[test]
fn fields_at_their_defaults_are_not_extra() {
    // Prometheus compares with the defaults, so spelling a default out is allowed.
    assert!(
        run(
            "[{regex: 'tmp_.*', separator: ';', replacement: '$1', action: labeldrop}]",
            &[("tmp_a", "1"), ("b", "2")]
        )
        .as_deref()
            == Some(r#"{b="2"}"#)
    );
    let raw: Vec<RawRelabel> = serde_saphyr::from_str(
        "[{source_labels: [a], target_label: b, regex: x, action: keepequal}]",
    )
    .unwrap();
    assert_eq!(
        compile_all(&raw).unwrap_err().1.to_string(),
        "action keepequal takes only source_labels and target_label; remove regex"
    );
    let raw: Vec<RawRelabel> = serde_saphyr::from_str(
        "[{source_labels: [a], target_label: b, replacement: x, action: lowercase}]",
    )
    .unwrap();
    assert_eq!(
        compile_all(&raw).unwrap_err().1.to_string(),
        "action lowercase takes only source_labels, separator, regex and target_label; remove replacement"
    );
}

#[test]
fn action_names_are_case_insensitive_and_regex_errors_are_one_line() {
    assert!(
        run(
            "[{source_labels: [a], regex: x, action: Keep}]",
            &[("a", "x")]
        )
        .is_some()
    );
    let raw: Vec<RawRelabel> =
        serde_saphyr::from_str("[{regex: 'a(b', action: labeldrop}]").unwrap();
    let e = compile_all(&raw).unwrap_err().1.to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.starts_with("invalid regex \"a(b\": "), "{e}");
}
