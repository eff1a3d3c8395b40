//! The upstream rule file: read as-is for the rules-API expectations, and rewritten with
//! scaled `interval:`/`for:` values for the evaluator under test.

use serde::Deserialize;

use super::cases::Labels;
use super::timebase::parse_duration_ms;

/// The upstream file, with our provenance header on top.
pub const UPSTREAM: &str = include_str!("data/rules.yaml");

#[derive(Debug, Deserialize)]
struct RuleFile {
    groups: Vec<GroupDef>,
}

/// A group as the upstream file declares it.
#[derive(Clone, Debug, Deserialize)]
pub struct GroupDef {
    pub name: String,
    pub interval: String,
    pub rules: Vec<RuleDef>,
}

/// An alerting rule as the upstream file declares it; the rules API must echo it.
#[derive(Clone, Debug, Deserialize)]
pub struct RuleDef {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", default)]
    pub for_: Option<String>,
    #[serde(default)]
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
}

impl RuleDef {
    /// The `for` duration in (virtual) milliseconds.
    pub fn for_ms(&self) -> i64 {
        self.for_
            .as_deref()
            .and_then(parse_duration_ms)
            .unwrap_or(0)
    }
}

/// Parses the upstream groups.
pub fn upstream_groups() -> Result<Vec<GroupDef>, String> {
    serde_saphyr::from_str::<RuleFile>(UPSTREAM)
        .map(|f| f.groups)
        .map_err(|e| format!("upstream rules.yaml does not parse: {e}"))
}

/// The upstream file with every `interval:` and `for:` multiplied by `scale`, written in
/// milliseconds so that fractional results stay exact.
pub fn scaled_text(scale: f64) -> Result<String, String> {
    let mut out = String::with_capacity(UPSTREAM.len());
    for line in UPSTREAM.lines() {
        let trimmed = line.trim_start();
        let key = ["interval:", "for:"]
            .into_iter()
            .find(|k| trimmed.starts_with(k));
        match key {
            Some(k) => {
                let value = trimmed[k.len()..].trim();
                let ms = parse_duration_ms(value)
                    .ok_or_else(|| format!("cannot scale duration {value:?}"))?;
                let scaled = ((ms as f64 * scale).round() as i64).max(1);
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}{k} {scaled}ms\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_parses_and_scales() {
        let groups = upstream_groups().expect("parses");
        assert_eq!(groups.len(), 4);
        let text = scaled_text(0.1).expect("scales");
        assert!(text.contains("interval: 3000ms"));
        assert!(text.contains("for: 18000ms"));
        assert!(text.contains("for: 1500ms"));
        assert!(!text.contains("interval: 30s"));
    }
}
