//! Where external labels go: on what is sent always; on written series unless the
//! context keeps them off (the in-memory store of `tocsin test`, like Prometheus' TSDB).

mod support;

use support::rules::*;
use tocsin::rule::{AlertingRule, EvalTime, RecordingRule, RuleContext, RuleSettings};

fn with_external(on_series: bool) -> RuleContext {
    let base = ctx();
    RuleContext {
        settings: RuleSettings {
            external_labels: ls(&[("cluster", "eu"), ("job", "ignored")]),
            external_labels_on_series: on_series,
            ..base.settings.clone()
        },
        ..base
    }
}

#[test]
fn written_series_carry_external_labels_only_when_asked() {
    for on_series in [true, false] {
        let spec = alerting_with(
            "Down",
            "up == 0",
            0,
            0,
            &[],
            &[("where", "{{ $externalLabels.cluster }}")],
        );
        let mut r = AlertingRule::new(&spec, arc(with_external(on_series)));
        let out = step_at(&mut r, Ok(vec![sample(&[("job", "a")], 0.0)]), 0);
        let names: Vec<Option<&str>> = out.series.iter().map(|s| s.labels.get("cluster")).collect();
        let want = if on_series { Some("eu") } else { None };
        assert_eq!(names, [want, want], "on_series={on_series}");
        // An alert's own label wins over an external label of the same name.
        assert!(out.series.iter().all(|s| s.labels.get("job") == Some("a")));
        // Templates and notifications see them either way.
        let sent = r.alerts_to_send(0);
        assert_eq!(sent[0].labels.get("cluster"), Some("eu"));
        assert_eq!(sent[0].annotations.get("where"), Some("eu"));

        let spec = recording("r", "x", &[]);
        let mut r = RecordingRule::new(&spec, arc(with_external(on_series)));
        let out = r.step(Ok(vec![sample(&[("a", "1")], 1.0)]), EvalTime::at(0));
        assert_eq!(
            out.series[0].labels.get("cluster"),
            want,
            "on_series={on_series}"
        );
    }
}
