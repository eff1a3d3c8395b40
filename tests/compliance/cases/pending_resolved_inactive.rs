//! pending → inactive without ever firing, and a rule that never becomes active.

use super::*;

pub fn case() -> Case {
    let group = "PendingAndResolved_AlwaysInactive";
    let pending = "PendingAndResolved_AlwaysInactive_PendingAlert";
    let inactive = "PendingAndResolved_AlwaysInactive_InactiveAlert";
    let samples = sample_slice(&["3", "5", "0x2", "9", "0x3", "11", "0x10", "9"]);
    // Upstream keeps checking 40 samples longer to see the alert stay inactive.
    let test_until = (samples.len() as i64 + 40) * RW_MS;
    let labels = lbl(&[("alertname", pending), ("foo", "bar"), ("rulegroup", group)]);
    let ann = lbl(&[("description", "SimpleAlert is firing")]);
    let phases = vec![
        phase(
            "inactive",
            &[(0, nth(8) + GI_MS), (nth(19), nth(240))],
            vec![],
        ),
        phase(
            "pending",
            &[(nth(8) - S, nth(19) + GI_MS)],
            vec![alert(&labels, ann, "pending", 11.0, nth(8))],
        ),
    ];
    Case {
        group,
        description: "pending->inactive; a rule that never becomes active; no notifications at all",
        series: vec![
            Series {
                labels: metric_labels(group, pending),
                samples: samples.clone(),
            },
            Series {
                labels: metric_labels(group, inactive),
                samples,
            },
        ],
        test_until,
        phases,
        trains: vec![],
    }
}
