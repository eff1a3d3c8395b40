//! Tests of the answer decoder: shapes, escapes, special values, malformed answers.

use crate::labels::Str;

use super::*;

const U: &str = "http://ds/api/v1/query";

#[test]
fn vector_with_special_values() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"__name__":"up","job":"a\"b"},"value":[1700000000.5,"1"]},
        {"metric":{},"value":[1700000000,"NaN"]},
        {"metric":{"x":"y"},"value":[1700000000,"+Inf"]},
        {"metric":{"x":"z"},"value":[1700000000,"-Inf"]}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].labels.get("job"), Some("a\"b"));
    assert_eq!(s[0].timestamp_ms, 1_700_000_000_500);
    assert!(s[1].value.is_nan());
    assert_eq!(s[2].value, f64::INFINITY);
    assert_eq!(s[3].value, f64::NEG_INFINITY);
}

#[test]
fn scalar_is_one_unlabelled_sample() {
    let body = br#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"42"]}}"#;
    let s = decode_instant(U, body, 5).unwrap();
    assert_eq!(s.len(), 1);
    assert!(s[0].labels.is_empty());
    assert_eq!(s[0].value, 42.0);
}

#[test]
fn wrong_result_types_are_named() {
    let body = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    let e = decode_instant(U, body, 0).unwrap_err().to_string();
    assert!(
        e.contains("matrix") && e.contains("vector or a scalar"),
        "{e}"
    );
    let body = br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
    assert!(
        decode_instant(U, body, 0)
            .unwrap_err()
            .to_string()
            .contains("string")
    );
}

#[test]
fn html_truncated_and_error_answers_are_precise() {
    let e = decode_instant(U, b"<html><body>502 Bad Gateway</body></html>", 0).unwrap_err();
    assert!(matches!(e, QueryError::NotJson { what: "HTML", .. }), "{e}");
    let e = decode_instant(U, br#"{"status":"success","data":{"resultType":"vec"#, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
    let e = decode_instant(
        U,
        br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        0,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "query failed (bad_data): parse error");
    let e = status_error(
        U,
        422,
        br#"{"status":"error","errorType":"execution","error":"too many samples"}"#,
    )
    .to_string();
    assert_eq!(
        e,
        "http://ds/api/v1/query answered 422: execution: too many samples"
    );
    let e = status_error(U, 500, b"internal").to_string();
    assert!(e.ends_with("answered 500: internal"), "{e}");
}

#[test]
fn escapes_and_unicode_in_labels() {
    let body = r#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"a":"line\nbreak \"q\" back\\slash \u00e9\u4e2d","b":"été 中文 🚨"},"value":[1,"2"]}]}}"#;
    let s = decode_instant(U, body.as_bytes(), 0).unwrap();
    assert_eq!(
        s[0].labels.get("a"),
        Some("line\nbreak \"q\" back\\slash é中")
    );
    assert_eq!(s[0].labels.get("b"), Some("été 中文 🚨"));
}

#[test]
fn values_in_every_spelling() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"v":"a"},"value":[1,"NaN"]},
        {"metric":{"v":"b"},"value":[1,"+Inf"]},
        {"metric":{"v":"c"},"value":[1,"Inf"]},
        {"metric":{"v":"d"},"value":[1,"-Inf"]},
        {"metric":{"v":"e"},"value":[1,"1e-3"]},
        {"metric":{"v":"f"},"value":[1,"-0.5"]},
        {"metric":{"v":"g"},"value":[1,"12345678901234567890"]}]}}"#;
    let v: Vec<f64> = decode_instant(U, body, 0)
        .unwrap()
        .iter()
        .map(|s| s.value)
        .collect();
    assert!(v[0].is_nan());
    assert_eq!(
        v[1..],
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.001,
            -0.5,
            1.2345678901234567e19
        ]
    );
    let bad = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{},"value":[1,"one"]}]}}"#;
    let e = decode_instant(U, bad, 0).unwrap_err().to_string();
    assert!(e.contains("invalid sample value \"one\""), "{e}");
}

#[test]
fn empty_results_and_empty_label_values() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    assert!(decode_instant(U, body, 0).unwrap().is_empty());
    let body = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    assert!(decode_range(U, body).unwrap().is_empty());
    // An empty value is an absent label, as in Prometheus.
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"a":"","b":"1"},"value":[1,"1"]}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    assert_eq!(s[0].labels, Labels::from_pairs([("b", "1")]));
}

#[test]
fn unsorted_and_repeated_labels_build_the_same_set() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"job":"x","__name__":"up","instance":"i1"},"value":[1,"1"]},
        {"metric":{"__name__":"up","instance":"i2","job":"x"},"value":[1,"1"]},
        {"metric":{"__name__":"up","instance":"i3","job":"y","job":"x"},"value":[1,"1"]}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    for (i, sample) in s.iter().enumerate() {
        let want = Labels::from_pairs([
            ("__name__", "up"),
            ("instance", &*format!("i{}", i + 1)),
            ("job", "x"),
        ]);
        assert_eq!(sample.labels, want);
        assert_eq!(sample.labels.fingerprint(), want.fingerprint());
    }
}

#[test]
fn warnings_infos_and_unknown_fields_are_ignored() {
    let body = br#"{"status":"success","warnings":["result truncated"],"infos":["x"],
        "data":{"resultType":"vector","stats":{"a":[1,{"b":2}]},"result":[
        {"metric":{"a":"1"},"value":[1,"3"],"histogram":null}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    assert_eq!(s[0].value, 3.0);
}

#[test]
fn result_before_result_type_still_decodes() {
    let body = br#"{"data":{"result":[{"value":[1,"4"],"metric":{"a":"1"}}],
        "resultType":"vector"},"status":"success"}"#;
    let s = decode_instant(U, body, 0).unwrap();
    assert_eq!(s[0].value, 4.0);
    assert_eq!(s[0].labels.get("a"), Some("1"));
    let body = br#"{"status":"success","data":{"result":[1,"x"],"resultType":"string"}}"#;
    let e = decode_instant(U, body, 0).unwrap_err().to_string();
    assert!(e.contains("string"), "{e}");
}

#[test]
fn malformed_answers_are_errors_not_panics() {
    for body in [
        &br#"{"status":"success","data":{"resultType":"vector"}}"#[..],
        br#"{"status":"success","data":{"result":[]}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":{}}}"#,
        br#"{"status":"success"}"#,
        b"",
        b"\xff\xfe",
    ] {
        assert!(decode_instant(U, body, 0).is_err(), "{body:?}");
    }
}

#[test]
fn repeated_strings_are_shared_between_series() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"__name__":"up","job":"api","pod":"a"},"value":[1,"1"]},
        {"metric":{"__name__":"up","job":"api","pod":"b"},"value":[1,"1"]}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    let (a, b) = (s[0].labels.as_slice(), s[1].labels.as_slice());
    assert!(Str::ptr_eq(&a[1].value, &b[1].value), "job value shared");
    assert!(Str::ptr_eq(&a[2].name, &b[2].name), "pod name shared");
    assert_eq!(b[2].value.as_ref(), "b");
    // Decoding the answer again hands out the same label sets: no allocation.
    let again = decode_instant(U, body, 0).unwrap();
    assert!(std::ptr::eq(again[1].labels.as_slice(), b));
}

#[test]
fn unsorted_or_empty_labels_follow_the_builder_rules() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"job":"api","empty":"","__name__":"up","job":"web"},"value":[1,"1"]},
        {"metric":{"job":"api","gone":"x","__name__":"up","gone":"","job":"web"},"value":[1,"1"]},
        {"metric":{"a":"","a":"kept","z":"1","b":"2"},"value":[1,"1"]}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    let want = Labels::from_pairs([("__name__", "up"), ("job", "web")]);
    assert_eq!(s[0].labels, want);
    assert_eq!(s[0].labels.fingerprint(), want.fingerprint());
    assert_eq!(s[1].labels, want);
    let want = Labels::from_pairs([("a", "kept"), ("b", "2"), ("z", "1")]);
    assert_eq!(s[2].labels, want);
    assert_eq!(s[2].labels.fingerprint(), want.fingerprint());
}

#[test]
fn unsorted_series_seen_before_share_one_label_set() {
    // A server that keeps `__name__` first (as the benchmark's mock does) still hands
    // out the interned set: the same one, whatever the order of the pairs.
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"__name__":"up","job":"api","instance":"unsorted-1"},"value":[1,"1"]},
        {"metric":{"instance":"unsorted-1","job":"api","__name__":"up"},"value":[1,"1"]}]}}"#;
    let s = decode_instant(U, body, 0).unwrap();
    assert!(std::ptr::eq(s[0].labels.as_slice(), s[1].labels.as_slice()));
    let again = decode_instant(U, body, 0).unwrap();
    assert!(std::ptr::eq(
        again[0].labels.as_slice(),
        s[0].labels.as_slice()
    ));
}

#[test]
fn matrix_for_range_queries() {
    let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"a":"1"},"values":[[1,"1"],[2,"2.5"]]}]}}"#;
    let r = decode_range(U, body).unwrap();
    assert_eq!(r[0].1, vec![(1000, 1.0), (2000, 2.5)]);
}

#[test]
fn victoria_metrics_series_fetched_is_read_from_stats() {
    let vm = br#"{"status":"success","data":{"resultType":"vector","result":[]},"stats":{"seriesFetched": "0","executionTimeMsec":3}}"#;
    let a = decode_instant_answer(U, vm, 0).unwrap();
    assert_eq!((a.samples.len(), a.series_fetched), (0, Some(0)));
    let number = br#"{"status":"success","data":{"resultType":"vector","result":[]},"stats":{"seriesFetched":12}}"#;
    assert_eq!(
        decode_instant_answer(U, number, 0).unwrap().series_fetched,
        Some(12)
    );
    // Prometheus reports nothing (its own `stats` has other fields when asked for).
    let prom = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    assert_eq!(
        decode_instant_answer(U, prom, 0).unwrap().series_fetched,
        None
    );
    let prom_stats = br#"{"status":"success","data":{"resultType":"vector","result":[]},"stats":{"timings":{}}}"#;
    assert_eq!(
        decode_instant_answer(U, prom_stats, 0)
            .unwrap()
            .series_fetched,
        None
    );
}

#[test]
fn victoria_metrics_partial_answers_are_told() {
    let partial = br#"{"status":"success","isPartial":true,"data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"1"]}]}}"#;
    let a = decode_instant_answer(U, partial, 0).unwrap();
    assert_eq!((a.samples.len(), a.is_partial), (1, true));
    let whole =
        br#"{"status":"success","isPartial":false,"data":{"resultType":"vector","result":[]}}"#;
    assert!(!decode_instant_answer(U, whole, 0).unwrap().is_partial);
    // Prometheus never says.
    let prom = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    assert!(!decode_instant_answer(U, prom, 0).unwrap().is_partial);
}

#[test]
fn prometheus_samples_queried_are_read_from_data_stats() {
    let prom = br#"{"status":"success","data":{"resultType":"vector","result":[],"stats":{"timings":{"evalTotalTime":0.1},"samples":{"totalQueryableSamples":78,"peakSamples":41}}}}"#;
    let a = decode_instant_answer(U, prom, 0).unwrap();
    assert_eq!((a.samples_queried, a.series_fetched), (Some(78), None));
    let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"],"stats":{"samples":{"totalQueryableSamples":1}}}}"#;
    assert_eq!(
        decode_instant_answer(U, scalar, 0).unwrap().samples_queried,
        Some(1)
    );
    // Without stats, or stats of another shape: not known, and the answer still decodes.
    for body in [
        &br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#[..],
        br#"{"status":"success","data":{"resultType":"vector","result":[],"stats":{"samples":7}}}"#,
        br#"{"status":"success","data":{"resultType":"vector","result":[]},"stats":{"seriesFetched":"3"}}"#,
    ] {
        assert_eq!(decode_instant_answer(U, body, 0).unwrap().samples_queried, None);
    }
}

#[test]
fn strings_without_escapes_are_borrowed_from_the_body() {
    let Text(plain) = serde_json::from_str(r#""10.1.0.1:9100""#).unwrap();
    assert!(matches!(plain, std::borrow::Cow::Borrowed("10.1.0.1:9100")));
    let Text(escaped) = serde_json::from_str(r#""a\"b""#).unwrap();
    assert!(matches!(escaped, std::borrow::Cow::Owned(ref s) if s == "a\"b"));
}
