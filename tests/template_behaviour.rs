//! Load-time validation, bounded execution and the `-rule.templates` library: what a
//! rule author sees when a template is wrong or abusive.

use std::sync::atomic::{AtomicUsize, Ordering};

use tocsin::labels::Labels;
use tocsin::sample::Sample;
use tocsin::template::{Context, Library, Template, TemplateQuerier, render_errors};

fn render(text: &str) -> String {
    let labels = Labels::from_pairs([("job", "node"), ("instance", "a:9100")]);
    Template::parse("t", text)
        .expect("parses")
        .render(&Context::new(&labels, 2.0))
}

fn parse_err(text: &str) -> (usize, usize, String) {
    let e = Template::parse("t", text).expect_err("must not parse");
    (e.line, e.col, e.message)
}

#[test]
fn parse_errors_carry_line_and_column() {
    let (l, c, m) = parse_err("ok\n  {{ nosuchfunc 1 }}");
    assert_eq!((l, c), (2, 6));
    assert_eq!(m, "function \"nosuchfunc\" not defined");

    let (l, c, m) = parse_err("{{ $labels.job }} {{ $nope }}");
    assert_eq!((l, c), (1, 22));
    assert_eq!(m, "undefined variable \"$nope\"");

    let (_, _, m) = parse_err("value {{ $value");
    assert!(m.contains("unclosed action"), "{m}");

    let (_, _, m) = parse_err("{{ if true }}x");
    assert!(m.contains("unexpected EOF"), "{m}");

    let (_, _, m) = parse_err("{{ end }}");
    assert!(m.contains("unexpected {{end}}"), "{m}");

    let (_, _, m) = parse_err("{{ break }}");
    assert!(m.contains("outside {{range}}"), "{m}");

    let (_, _, m) = parse_err("{{ 1 | 2 }}");
    assert!(m.contains("non executable command"), "{m}");

    let (_, _, m) = parse_err("{{ \"abc }}");
    assert!(m.contains("unterminated quoted string"), "{m}");

    let (_, _, m) = parse_err("{{/* open");
    assert!(m.contains("unclosed comment"), "{m}");

    // As in Go, assigning an undeclared variable fails only when executed.
    assert!(render("{{ $x = 1 }}").contains("undefined variable: $x"));

    let (_, _, m) = parse_err("{{ (1 }}");
    assert!(m.contains("paren"), "{m}");

    // A variable declared inside a block is out of scope after {{end}}.
    let (_, _, m) = parse_err("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}");
    assert!(m.contains("undefined variable \"$x\""), "{m}");
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_stack_overflow() {
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(parse_err(&parens).2.contains("nesting deeper"));
    let ifs = format!(
        "{}x{}",
        "{{ if true }}".repeat(100_000),
        "{{ end }}".repeat(100_000)
    );
    assert!(parse_err(&ifs).2.contains("nesting deeper"));
    // Reasonable nesting still works.
    assert_eq!(
        render(&format!(
            "{}x{}",
            "{{ if true }}".repeat(50),
            "{{ end }}".repeat(50)
        )),
        "x"
    );
}

#[test]
fn extreme_printf_widths_and_precisions_are_bounded() {
    for verb in ["e", "f", "g", "d"] {
        let t = format!("{{{{ printf \"%*.*{verb}\" 99999999 99999999 1.5 }}}}");
        let out = render(&t);
        assert!(out.len() <= 3_000_100, "{verb}: {} bytes", out.len());
    }
    // Precisions beyond what Rust's formatter accepts (u16::MAX) still work.
    let out = render("{{ printf \"%.70000f|%.70000e\" 1.5 2.5 }}");
    assert!(
        out.starts_with("1.5000") && out.contains("|2.5000") && out.ends_with("e+00"),
        "{}",
        &out[..40]
    );
    assert_eq!(out.len(), 2 + 70000 + 1 + 2 + 70000 + 4);
    // Output beyond the per-render limit is an error, not unbounded memory.
    let out = render(
        "{{ range $i, $e := args 1 2 3 4 5 6 7 8 9 10 }}{{ printf \"%999999d\" 1 }}{{ end }}",
    );
    assert!(
        out.contains("template output exceeded"),
        "{}",
        &out[..out.len().min(200)]
    );
}

#[test]
fn multibyte_text_positions_count_characters() {
    let (l, c, _) = parse_err("héé {{ bad }}");
    assert_eq!((l, c), (1, 8));
}

#[test]
fn run_time_mistakes_are_accepted_but_reported_as_warnings() {
    // Prometheus loads these (they fail only when executed), so parsing succeeds...
    let t = Template::parse(
        "t",
        "{{ humanize }}\n{{ $value | humanize 1 }} {{ toUpper 5 }} {{ if false }}{{ reReplaceAll \"a\" \"b\" }}{{ end }}",
    )
    .expect("accepted like Prometheus");
    // ...and the loader can log what will fail.
    let w: Vec<String> = t.warnings().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        w,
        vec![
            "1:4: wrong number of args for humanize: want 1 got 0",
            "2:13: wrong number of args for humanize: want 1 got 2",
            "2:38: toUpper: expected string; found 5",
            "2:60: wrong number of args for reReplaceAll: want 3 got 2",
        ]
    );
    // The first one fails at run time with Go's message.
    assert!(render("{{ humanize }}").contains("wrong number of args for humanize: want 1 got 0"));
    // Correct templates have no warnings.
    let ok = Template::parse("t", "{{ $value | humanize }} {{ reReplaceAll \"a\" \"b\" $labels.job }} {{ printf \"%d\" 1 2 }}").unwrap();
    assert!(ok.warnings().is_empty(), "{:?}", ok.warnings());
}

#[test]
fn static_and_query_flags() {
    let t = Template::parse("t", "no actions here").unwrap();
    assert!(t.is_static());
    assert!(!t.uses_query());
    assert_eq!(
        t.render(&Context::new(&Labels::empty(), 0.0)),
        "no actions here"
    );

    let t = Template::parse("t", "{{ $value }}").unwrap();
    assert!(!t.is_static());

    // Static means the output is the source verbatim; comments and trimming are not.
    for text in [
        "{{/* note */}}",
        "a {{- /* c */ -}} b",
        "{{ define \"x\" }}y{{ end }}",
    ] {
        let t = Template::parse("t", text).unwrap();
        assert!(!t.is_static(), "{text}");
        assert_ne!(t.render(&Context::new(&Labels::empty(), 0.0)), text);
    }
    let t = Template::parse("t", "").unwrap();
    assert!(t.is_static());
    assert!(!t.uses_query());

    // Only a call of the function counts, not the word in text.
    let t = Template::parse("t", "query: {{ \"query\" }}").unwrap();
    assert!(!t.uses_query());
    let t = Template::parse("t", "{{ with query \"up\" }}{{ . | len }}{{ end }}").unwrap();
    assert!(t.uses_query());
}

#[test]
fn execution_errors_render_prometheus_error_text_and_count() {
    let before = render_errors();
    let out = render("{{ humanize \"abc\" }}");
    assert!(
        out.starts_with(
            "<error expanding template: error executing template t: template: t:1:115:"
        ),
        "{out}"
    );
    assert!(
        out.ends_with(
            "error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax>"
        ),
        "{out}"
    );
    assert!(render_errors() > before);
}

#[test]
fn query_without_datasource_is_an_error_not_a_panic() {
    let out = render("{{ query \"up\" }}");
    assert!(out.contains("query is not available"), "{out}");
}

#[test]
fn template_recursion_is_bounded() {
    let out = render("{{ define \"a\" }}x{{ template \"a\" . }}{{ end }}{{ template \"a\" . }}");
    assert!(out.starts_with("<error expanding template:"), "{out}");
    assert!(out.contains("exceeded maximum template depth"), "{out}");
}

/// A datasource that returns many series and counts how often it is asked.
struct Big {
    n: usize,
    calls: AtomicUsize,
}

impl TemplateQuerier for Big {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok((0..self.n)
            .map(|i| Sample {
                labels: Labels::from_pairs([("i", i.to_string())]),
                value: i as f64,
                timestamp_ms: 0,
            })
            .collect())
    }
}

#[test]
fn huge_range_over_query_results_is_bounded() {
    let big = Big {
        n: 2000,
        calls: AtomicUsize::new(0),
    };
    let labels = Labels::empty();
    let ctx = Context {
        querier: Some(&big),
        ..Context::new(&labels, 0.0)
    };
    // 2000 × 2000 iterations exceed the step budget.
    let t = Template::parse(
        "t",
        "{{ range query \"a\" }}{{ range query \"b\" }}.{{ end }}{{ end }}",
    )
    .unwrap();
    let out = t.render(&ctx);
    assert!(
        out.starts_with("<error expanding template:"),
        "{}",
        &out[..out.len().min(200)]
    );
    assert!(
        out.contains("more than 100 queries") || out.contains("steps"),
        "{}",
        &out[..out.len().min(300)]
    );
    assert!(big.calls.load(Ordering::Relaxed) <= 101);

    // A single pass over the same result is fine.
    let t = Template::parse("t", "{{ len (query \"a\") }}").unwrap();
    assert_eq!(t.render(&ctx), "2000");
}

#[test]
fn library_defines_are_callable_from_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.tmpl"),
        "{{ define \"grafana.link\" }}https://grafana/d/x?var-instance={{ . | urlquery }}{{ end }}",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.tmpl"),
        "{{ define \"sev\" }}{{ if gt . 1.0 }}high{{ else }}low{{ end }}{{ end }}",
    )
    .unwrap();
    let lib = Library::load(&[format!("{}/*.tmpl", dir.path().display())]).unwrap();
    assert_eq!(lib.names(), vec!["grafana.link", "sev"]);

    let labels = Labels::from_pairs([("instance", "a b:9100")]);
    let ctx = Context {
        library: Some(std::sync::Arc::new(lib)),
        ..Context::new(&labels, 2.0)
    };
    let t = Template::parse(
        "t",
        "{{ template \"grafana.link\" $labels.instance }} {{ template \"sev\" $value }}",
    )
    .unwrap();
    assert_eq!(
        t.render(&ctx),
        "https://grafana/d/x?var-instance=a+b%3A9100 high"
    );

    // Without the library the same template reports the missing definition.
    let out = t.render(&Context::new(&labels, 2.0));
    assert!(
        out.contains("template \"grafana.link\" not defined"),
        "{out}"
    );
}

#[test]
fn errors_inside_library_definitions_point_into_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.tmpl");
    std::fs::write(&path, "{{ define \"num\" }}\n  {{ humanize . }}{{ end }}").unwrap();
    let lib = Library::load(&[path.display().to_string()]).unwrap();
    let labels = Labels::empty();
    let ctx = Context {
        library: Some(std::sync::Arc::new(lib)),
        ..Context::new(&labels, 0.0)
    };
    let t = Template::parse("__alert_X", "{{ template \"num\" \"abc\" }}").unwrap();
    let out = t.render(&ctx);
    let want = format!(
        "<error expanding template: error executing template __alert_X: template: {}:2:5: executing \"num\" at <humanize .>: error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax>",
        path.display()
    );
    assert_eq!(out, want);
}

#[test]
fn library_reports_parse_errors_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.tmpl"),
        "{{ define \"x\" }}{{ nope }}{{ end }}",
    )
    .unwrap();
    let e = Library::load(&[format!("{}/bad.tmpl", dir.path().display())]).unwrap_err();
    assert!(
        e.to_string().contains("function \"nope\" not defined"),
        "{e}"
    );

    std::fs::write(dir.path().join("d1.tmpl"), "{{ define \"x\" }}1{{ end }}").unwrap();
    std::fs::write(dir.path().join("d2.tmpl"), "{{ define \"x\" }}2{{ end }}").unwrap();
    let e = Library::load(&[format!("{}/d*.tmpl", dir.path().display())]).unwrap_err();
    assert!(e.to_string().contains("defined more than once"), "{e}");
}

#[test]
fn vmalert_variables_are_available() {
    let labels = Labels::empty();
    let ctx = Context {
        expr: "up == 0",
        for_: std::time::Duration::from_secs(300),
        alert_id: u64::MAX,
        group_id: 7,
        active_at: Some(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_435_065_584_128),
        ),
        ..Context::new(&labels, 0.0)
    };
    let t = Template::parse("t", "{{ $expr }}|{{ $for }}|{{ $alertID }}|{{ $groupID }}|{{ $type }}|{{ $activeAt }}|{{ .Expr }}").unwrap();
    assert_eq!(
        t.render(&ctx),
        "up == 0|5m0s|18446744073709551615|7|prometheus|2015-06-23 13:19:44.128 +0000 UTC|up == 0"
    );
}

/// vmalert 1.145's examples: link windows around `$activeAt`, the alert's age from
/// `now`, `formatTime`, and `$isPartial`.
#[test]
fn vmalert_1_145_time_functions_and_is_partial() {
    let labels = Labels::empty();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
    let ctx = Context {
        active_at: Some(at),
        eval_time: Some(at + std::time::Duration::from_millis(90_500)),
        is_partial: true,
        ..Context::new(&labels, 0.0)
    };
    let r = |text: &str| Template::parse("t", text).expect("parses").render(&ctx);
    assert_eq!(
        r(
            r#"from={{ ($activeAt.Add (parseDurationTime "-1h")).UnixMilli }}&to={{ ($activeAt.Add (parseDurationTime "1h")).UnixMilli }}"#
        ),
        "from=1699996400123&to=1700003600123"
    );
    // `now` is whole seconds, as vmalert's.
    assert_eq!(r("{{ (now | toTime).Sub $activeAt }}"), "1m29.877s");
    assert_eq!(
        r(r#"{{ now | formatTime "2006-01-02T15:04:05Z07:00" }}"#),
        "2023-11-14T22:14:50Z"
    );
    assert_eq!(
        r(r#"{{ formatTime "Mon Jan _2 15:04:05.000 MST 2006" 1700000000.123 }}"#),
        "Tue Nov 14 22:13:20.123 UTC 2023"
    );
    assert_eq!(
        r(r#"{{ $activeAt.Format "15:04:05.999" }}"#),
        "22:13:20.123"
    );
    assert_eq!(
        r("{{ if $isPartial }}partial{{ end }}|{{ .IsPartial }}"),
        "partial|true"
    );
    // Prometheus 3: the humanize family reads a duration as seconds.
    assert_eq!(
        r("{{ humanizeDuration ((now | toTime).Sub $activeAt) }}"),
        "1m 29s"
    );
    // Wrong arguments are Go's execution errors, not panics.
    assert!(r(r#"{{ formatTime "2006" "soon" }}"#).contains("formatTime: strconv.ParseFloat"));
    assert!(r(r#"{{ $activeAt.Add "1h" }}"#).contains("expected time.Duration; got string"));
    assert!(r("{{ $labels.Add 1 }}").contains("can't give argument to non-function"));
}

/// Deterministic xorshift generator, so the fuzz corpus is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

#[test]
fn random_templates_never_panic() {
    const FRAGMENTS: &[&str] = &[
        "{{",
        "}}",
        "{{-",
        " -}}",
        "{{ ",
        " }}",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "$",
        "$x",
        "$labels",
        "$value",
        ".",
        ".Labels",
        ".Value",
        ".x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ",",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-1",
        "1.5",
        "1e9",
        "0x1f",
        "nil",
        "true",
        "and",
        "or",
        "not",
        "len",
        "index",
        "slice",
        "print",
        "printf",
        "\"%d %s %5.2f %q %x %v\"",
        "eq",
        "lt",
        "humanize",
        "humanizeDuration",
        "query",
        "first",
        "label",
        "args",
        "reReplaceAll",
        "\"(a\"",
        "match",
        "title",
        "toTime",
        "parseDuration",
        "/*",
        "*/",
        " ",
        "\n",
        "text",
        "é",
        "\"\\",
        "{{/* c */}}",
        "{{ end }}",
        "{{ else }}",
        "{{ range $i, $v := . }}",
        "{{ template \"t\" . }}",
        "\"%.70000e\"",
        "\"%*.*g\"",
        "99999",
        "1e308",
        "-0.0",
        "\"%-+# 0x\"",
        "\"%[1]d %!\"",
        "humanize1024",
        "toUpper",
        "stripDomain",
        "jsonEscape",
        "sortByLabel",
        "{{ define \"t\" }}",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let labels = Labels::from_pairs([("job", "x")]);
    let ctx = Context::new(&labels, 3.0);
    let mut parsed = 0;
    // TOCSIN_FUZZ_ITERS / TOCSIN_FUZZ_SEED allow longer or different runs locally.
    let iters: u64 = std::env::var("TOCSIN_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    if let Some(seed) = std::env::var("TOCSIN_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        rng = Rng(seed | 1);
    }
    for _ in 0..iters {
        let n = 1 + rng.next() % 14;
        let mut s = String::new();
        for _ in 0..n {
            if rng.next().is_multiple_of(10) {
                // An arbitrary byte sequence made valid UTF-8.
                let b = [rng.next() as u8, rng.next() as u8];
                s.push_str(&String::from_utf8_lossy(&b));
            } else {
                s.push_str(rng.pick(FRAGMENTS));
            }
        }
        if let Ok(t) = Template::parse("fuzz", &s) {
            parsed += 1;
            let _ = t.render(&ctx);
        }
    }
    // The generator must exercise the evaluator too, not only parse errors.
    assert!(parsed > 500, "only {parsed} random templates parsed");
}

/// Compiled templates and the library are shared across evaluation tasks and threads.
#[test]
fn templates_and_library_are_shareable_across_threads() {
    fn shareable<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    shareable::<Template>();
    shareable::<Library>();
    let t = Template::parse("t", "{{ $labels.job }}").unwrap();
    let handle = std::thread::spawn(move || {
        let labels = Labels::from_pairs([("job", "from-thread")]);
        t.render(&Context::new(&labels, 0.0))
    });
    assert_eq!(handle.join().unwrap(), "from-thread");
}
