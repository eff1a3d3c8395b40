//! `--junit FILE`: the results as JUnit XML, in the shape promtool writes (one
//! `testsuite` per test file, one `testcase` per test group, one `failure` per failed
//! check, `error` when the file could not be run at all).

use std::fmt::Write as _;

/// One test file's results.
#[derive(Debug, Default)]
pub struct Suite {
    pub name: String,
    pub timestamp: String,
    pub cases: Vec<Case>,
    pub failures: usize,
    pub errors: usize,
}

#[derive(Debug, Default)]
pub struct Case {
    pub name: String,
    pub failures: Vec<String>,
    pub error: Option<String>,
}

impl Suite {
    pub fn new(name: &str) -> Suite {
        Suite {
            name: name.to_string(),
            ..Suite::default()
        }
    }

    pub fn case(&mut self, name: String) {
        self.cases.push(Case {
            name,
            ..Case::default()
        });
    }

    fn last(&mut self) -> &mut Case {
        if self.cases.is_empty() {
            self.case("unknown".into());
        }
        let n = self.cases.len() - 1;
        &mut self.cases[n]
    }

    /// A failed check of the current test group.
    pub fn fail(&mut self, message: &str) {
        self.failures += 1;
        self.last().failures.push(message.to_string());
    }

    /// The file could not be run (unreadable, invalid).
    pub fn abort(&mut self, message: &str) {
        self.errors += 1;
        self.last().error = Some(message.to_string());
    }
}

/// Escapes text as Go's `encoding/xml` does: HTML's five characters, and the line
/// breaks and tabs that attributes would otherwise lose.
fn escape(s: &str) -> String {
    crate::template::html_escape(s)
        .replace('\t', "&#x9;")
        .replace('\n', "&#xA;")
        .replace('\r', "&#xD;")
}

/// The whole report.
pub fn render(suites: &[Suite]) -> String {
    let mut out = String::from("<testsuites>");
    for s in suites {
        let _ = write!(
            out,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" timestamp=\"{}\">",
            escape(&s.name),
            s.cases.len(),
            s.failures,
            s.errors,
            escape(&s.timestamp)
        );
        for c in &s.cases {
            let _ = write!(out, "<testcase name=\"{}\">", escape(&c.name));
            for f in &c.failures {
                let _ = write!(out, "<failure>{}</failure>", escape(f));
            }
            if let Some(e) = &c.error {
                let _ = write!(out, "<error>{}</error>", escape(e));
            }
            out.push_str("</testcase>");
        }
        out.push_str("</testsuite>");
    }
    out.push_str("</testsuites>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_escaping() {
        let mut s = Suite::new("t.yml");
        s.case("unnamed#0".into());
        s.fail("exp: <a & \"b\">\nx");
        s.case("ok".into());
        let xml = render(&[s]);
        assert_eq!(
            xml,
            "<testsuites><testsuite name=\"t.yml\" tests=\"2\" failures=\"1\" errors=\"0\" \
             skipped=\"0\" timestamp=\"\"><testcase name=\"unnamed#0\"><failure>exp: &lt;a \
             &amp; &#34;b&#34;&gt;&#xA;x</failure></testcase><testcase name=\"ok\"></testcase>\
             </testsuite></testsuites>"
        );
    }
}
