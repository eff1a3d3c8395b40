//! The hand-written matrix reader against the serde decoder: what it takes it decodes to
//! the same series, and it takes nothing the serde decoder rejects.

use super::super::{decode_range, decode_range_serde};
use super::decode;
use crate::datasource::RangeSeries;

const U: &str = "http://ds/api/v1/query_range";

/// Equal series, values compared bit for bit (so that NaN equals NaN).
fn same(a: &[RangeSeries], b: &[RangeSeries]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((la, pa), (lb, pb))| {
            la == lb
                && pa.len() == pb.len()
                && pa
                    .iter()
                    .zip(pb)
                    .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
        })
}

/// The fast reader takes `body` and agrees with the serde decoder.
fn taken(body: &str) -> Vec<RangeSeries> {
    let fast = decode(body).unwrap_or_else(|| panic!("declined: {body}"));
    let slow = decode_range_serde(U, body.as_bytes()).expect("the serde decoder reads it");
    assert!(same(&fast, &slow), "{body}\n{fast:?}\n{slow:?}");
    fast
}

/// Whatever the fast reader says of `body`, `decode_range` answers as the serde decoder.
fn agrees(body: &[u8]) {
    let slow = decode_range_serde(U, body);
    if let Some(fast) = std::str::from_utf8(body).ok().and_then(decode) {
        match &slow {
            Ok(s) => assert!(same(&fast, s), "{}", String::from_utf8_lossy(body)),
            Err(e) => panic!("taken, but {e}: {}", String::from_utf8_lossy(body)),
        }
    }
    match (decode_range(U, body), slow) {
        (Ok(a), Ok(b)) => assert!(same(&a, &b)),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("{a:?} / {b:?}: {}", String::from_utf8_lossy(body)),
    }
}

const VARIED: &str = r#"{"status":"success","isPartial":false,"data":{"resultType":"matrix","result":[
    {"metric":{"__name__":"up","job":"a\"b\\c\u00e9\n","zone":"ü"},"values":[[1700000000,"1"],[1700000060.5,"NaN"],[1700000120,"+Inf"],[1700000180,"-Inf"],[1.7e9,"1e3"],[-5,"-0.25"],[0,"Inf"],[1,"1."],[2,".5"],[3,"-0"],[4,"0.30000000000000004"],[5,"007"]]},
    {"metric":{},"values":[]},
    {"values":[[ 1700000000 , "3" ]],"metric":{"b":"2","a":"1","a":"3","c":""},"values":[[1700000000.001,"2"]]}
  ],"stats":{"samples":{"totalQueryableSamples":7}},"extra":[null,true,{"x":[1,2.5e-3,"]"]}]},
  "stats":{"seriesFetched":"3","executionTimeMsec":1},
  "warnings":["a warning, with a \"quote\""],"infos":[],"error":null,"errorType":null}"#;

#[test]
fn varied_answers_are_read_as_the_serde_decoder_reads_them() {
    let s = taken(VARIED);
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].0.get("job"), Some("a\"b\\cé\n"));
    assert_eq!(s[0].1[1].0, 1_700_000_060_500);
    assert!(s[0].1[1].1.is_nan());
    assert_eq!(s[0].1[4], (1_700_000_000_000, 1000.0));
    assert_eq!(s[0].1[5], (-5000, -0.25));
    // Of repeated fields and labels the last counts; empty labels are absent.
    assert_eq!(s[2].1, vec![(1_700_000_000_001, 2.0)]);
    assert_eq!(s[2].0.get("a"), Some("3"));
    assert_eq!(s[2].0.get("c"), None);
    let spaced = "\r\n { \"status\" :\t\"success\" , \"data\" : { \"resultType\" : \"matrix\" , \
                  \"result\" : [ { \"metric\" : { \"a\" : \"b\" } , \"values\" : [ [ 1 , \"2\" ] ] } ] } } \n";
    assert_eq!(taken(spaced)[0].1, vec![(1000, 2.0)]);
    let escaped_keys = r#"{"st\u0061tus":"succ\u0065ss","data":{"result\u0054ype":"matrix","res\u0075lt":[{"m\u0065tric":{},"v\u0061lues":[[1,"1"]]}]}}"#;
    assert_eq!(taken(escaped_keys)[0].1, vec![(1000, 1.0)]);
    let empty = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    assert!(taken(empty).is_empty());
}

#[test]
fn other_answers_are_left_to_the_serde_decoder() {
    for body in [
        // `result` before `resultType`: valid, but the serde decoder's to read.
        r#"{"status":"success","data":{"result":[{"metric":{},"values":[[1,"1"]]}],"resultType":"matrix"}}"#,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        r#"{"status":"success","status":"success","data":{"resultType":"matrix","result":[]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]},"isPartial":"no"}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]},"stats":"x"}"#,
        r#"{"status":"success","data":null}"#,
        r#"{"data":{"resultType":"matrix","result":[]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[01,"1"]]}]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1",2]]}]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":1},"values":[]}]}}"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]}} x"#,
        r#"{"status":"success","data":{"resultType":"matrix","result":[],}}"#,
    ] {
        assert!(decode(body).is_none(), "{body}");
        agrees(body.as_bytes());
    }
}

/// Every prefix of a varied answer, and the answer with each byte replaced by each of a
/// set of troublemakers: the fast reader never takes what the serde decoder rejects, and
/// `decode_range` answers exactly as the serde decoder (errors and all).
#[test]
fn damaged_answers_are_answered_as_the_serde_decoder_answers_them() {
    let body = VARIED.as_bytes();
    for end in 0..body.len() {
        agrees(&body[..end]);
    }
    let mut copy = body.to_vec();
    for at in 0..body.len() {
        for b in *b"\"\\,:[]{}0.-e \n\x01\xffxn" {
            copy[at] = b;
            agrees(&copy);
        }
        copy[at] = body[at];
        let mut shorter = body.to_vec();
        shorter.remove(at);
        agrees(&shorter);
    }
}

/// Value strings read by `Cursor::decimal` and by `str::parse` give the same bits:
/// every split of pseudo-random mantissas of 1 to 19 digits, signs, and the forms that are
/// not plain decimals.
#[test]
fn values_are_parsed_bit_for_bit_as_str_parse_does() {
    let mut forms: Vec<String> = [
        "0", "-0", "1.", ".5", "-.5", ".", "-", "", "1e5", "0x1", "1_0",
    ]
    .map(String::from)
    .to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let digits = (x >> 59) as usize % 19 + 1;
        let m = (x >> 3) % 10_u64.pow(digits as u32);
        let text = format!("{m:0digits$}");
        let point = (x as usize >> 20) % (digits + 1);
        let sign = if x & 1 == 0 { "" } else { "-" };
        forms.push(format!("{sign}{}.{}", &text[..point], &text[point..]));
    }
    for form in forms {
        let quoted = format!("\"{form}\"");
        let mut c = super::Cursor {
            text: &quoted,
            bytes: quoted.as_bytes(),
            at: 0,
        };
        let read = c.value();
        let parsed = super::parse_value(&form);
        assert_eq!(read.map(f64::to_bits), parsed.map(f64::to_bits), "{form}");
        if read.is_some() {
            assert_eq!(c.at, quoted.len(), "{form}");
        }
    }
}
