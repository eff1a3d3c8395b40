//! `--diff`: expected and got alerts as one JSON document with the differences
//! coloured, in the layout promtool prints (its `jsondiff` console output): changed
//! values in yellow as `old => new`, what only the expected side has in red, what only
//! the got side has in green; objects with sorted keys, four-space indents.

use super::format::{AlertView, quote};

const ADDED: (&str, &str) = ("\x1b[0;32m", "\x1b[0m");
const REMOVED: (&str, &str) = ("\x1b[0;31m", "\x1b[0m");
const CHANGED: (&str, &str) = ("\x1b[0;33m", "\x1b[0m");
const NORMAL: (&str, &str) = ("", "");
const INDENT: &str = "    ";

/// The JSON values alert lists are made of.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Str(String),
    /// Keys sorted.
    Obj(Vec<(String, Json)>),
    Arr(Vec<Json>),
}

fn object(pairs: &[(String, String)]) -> Json {
    let mut v: Vec<(String, Json)> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Json::Str(v.clone())))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Json::Obj(v)
}

/// An alert list as promtool marshals it; an empty list becomes one empty alert.
fn alerts_json(alerts: &[AlertView]) -> Json {
    if alerts.is_empty() {
        return alerts_json(&[AlertView::new(Vec::new(), Vec::new())]);
    }
    Json::Arr(
        alerts
            .iter()
            .map(|a| {
                Json::Obj(vec![
                    ("Annotations".into(), object(&a.annotations)),
                    ("Labels".into(), object(&a.labels)),
                ])
            })
            .collect(),
    )
}

/// The coloured difference of two alert lists, or `None` when the documents are equal
/// (promtool then reports nothing).
pub fn alerts(exp: &[AlertView], got: &[AlertView]) -> Option<String> {
    let (a, b) = (alerts_json(exp), alerts_json(got));
    if a == b {
        return None;
    }
    let mut w = Writer {
        buf: String::new(),
        level: 0,
        tag: None,
    };
    w.diff(&a, &b);
    if let Some(t) = w.tag {
        w.buf.push_str(t.1);
    }
    Some(w.buf)
}

struct Writer {
    buf: String,
    level: usize,
    tag: Option<(&'static str, &'static str)>,
}

impl Writer {
    /// Ends the line with `s`; a colour in effect is closed before the line break and
    /// reopened after the indent.
    fn newline(&mut self, s: &str) {
        self.buf.push_str(s);
        if let Some(t) = self.tag {
            self.buf.push_str(t.1);
        }
        self.buf.push('\n');
        for _ in 0..self.level {
            self.buf.push_str(INDENT);
        }
        if let Some(t) = self.tag {
            self.buf.push_str(t.0);
        }
    }

    fn set_tag(&mut self, t: (&'static str, &'static str)) {
        if self.tag == Some(t) {
            return;
        }
        if let Some(old) = self.tag {
            self.buf.push_str(old.1);
        }
        self.buf.push_str(t.0);
        self.tag = Some(t);
    }

    fn key(&mut self, k: &str) {
        self.buf.push_str(&quote(k));
        self.buf.push_str(": ");
    }

    /// A value in full (`full`) or abbreviated (`[]`, `{}`), as in a mismatch.
    fn value(&mut self, v: &Json, full: bool) {
        match v {
            Json::Str(s) => self.buf.push_str(&quote(s)),
            Json::Arr(items) if full => {
                let n = items.len();
                self.open("[", n);
                for (i, x) in items.iter().enumerate() {
                    self.value(x, true);
                    self.close_item(i, n);
                }
                self.buf.push(']');
            }
            Json::Obj(pairs) if full => {
                let n = pairs.len();
                self.open("{", n);
                for (i, (k, x)) in pairs.iter().enumerate() {
                    self.key(k);
                    self.value(x, true);
                    self.close_item(i, n);
                }
                self.buf.push('}');
            }
            Json::Arr(_) => self.buf.push_str("[]"),
            Json::Obj(_) => self.buf.push_str("{}"),
        }
    }

    fn open(&mut self, bracket: &str, n: usize) {
        if n == 0 {
            self.buf.push_str(bracket);
        } else {
            self.level += 1;
            self.newline(bracket);
        }
    }

    fn close_item(&mut self, i: usize, n: usize) {
        if i + 1 != n {
            self.newline(",");
        } else {
            self.level -= 1;
            self.newline("");
        }
    }

    fn mismatch(&mut self, a: &Json, b: &Json) {
        self.set_tag(CHANGED);
        self.value(a, false);
        self.buf.push_str(" => ");
        self.value(b, false);
    }

    fn diff(&mut self, a: &Json, b: &Json) {
        match (a, b) {
            (Json::Arr(xa), Json::Arr(xb)) => {
                let n = xa.len().max(xb.len());
                self.set_tag(NORMAL);
                self.open("[", n);
                for i in 0..n {
                    match (xa.get(i), xb.get(i)) {
                        (Some(x), Some(y)) => self.diff(x, y),
                        (Some(x), None) => self.whole(REMOVED, None, x),
                        (None, Some(y)) => self.whole(ADDED, None, y),
                        (None, None) => {}
                    }
                    self.set_tag(NORMAL);
                    self.close_item(i, n);
                }
                self.buf.push(']');
            }
            (Json::Obj(pa), Json::Obj(pb)) => {
                let mut keys: Vec<&str> = pa.iter().chain(pb).map(|(k, _)| k.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                let get = |p: &'_ [(String, Json)], k: &str| {
                    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
                };
                let n = keys.len();
                self.set_tag(NORMAL);
                self.open("{", n);
                for (i, k) in keys.into_iter().enumerate() {
                    match (get(pa, k), get(pb, k)) {
                        (Some(x), Some(y)) => {
                            self.key(k);
                            self.diff(&x, &y);
                        }
                        (Some(x), None) => self.whole(REMOVED, Some(k), &x),
                        (None, Some(y)) => self.whole(ADDED, Some(k), &y),
                        (None, None) => {}
                    }
                    self.set_tag(NORMAL);
                    self.close_item(i, n);
                }
                self.buf.push('}');
            }
            (Json::Str(x), Json::Str(y)) if x == y => {
                self.set_tag(NORMAL);
                self.value(a, true);
            }
            _ => self.mismatch(a, b),
        }
    }

    /// A value only one side has, in its colour.
    fn whole(&mut self, tag: (&'static str, &'static str), key: Option<&str>, v: &Json) {
        self.set_tag(tag);
        if let Some(k) = key {
            self.key(k);
        }
        self.value(v, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> AlertView {
        let own = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        AlertView::new(own(labels), own(annotations))
    }

    #[test]
    fn changed_values_as_promtool_prints_them() {
        let exp = [alert(&[("alertname", "A")], &[("summary", "x")])];
        let got = [alert(&[("alertname", "A")], &[("summary", "y")])];
        assert_eq!(
            alerts(&exp, &got).unwrap(),
            "[\n    {\n        \"Annotations\": {\n            \"summary\": \x1b[0;33m\"x\" => \"y\"\x1b[0m\n        },\n        \"Labels\": {\n            \"alertname\": \"A\"\n        }\n    }\n]"
        );
        assert_eq!(alerts(&exp, &exp), None);
    }

    #[test]
    fn extra_and_missing_parts_are_coloured_whole() {
        let exp = [alert(&[("alertname", "A"), ("job", "a")], &[])];
        let got = [
            alert(&[("alertname", "A"), ("team", "t")], &[]),
            alert(&[("alertname", "A")], &[]),
        ];
        let d = alerts(&exp, &got).unwrap();
        assert!(d.contains("\x1b[0;31m\"job\": \"a\"\x1b[0m,"), "{d}");
        assert!(d.contains("\x1b[0;32m\"team\": \"t\"\x1b[0m\n"), "{d}");
        assert!(d.contains("\x1b[0;32m{\x1b[0m\n"), "{d}");
        // An empty side compares as one empty alert.
        let d = alerts(&[], &exp).unwrap();
        assert!(
            d.contains("\x1b[0;32m\"alertname\": \"A\"\x1b[0m,"),
            "{d:?}"
        );
    }
}
