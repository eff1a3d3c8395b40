//! pending → firing → inactive with changing annotations, resends of firing and resolved
//! alerts, and a second activation while the resolved alert is still being re-sent.

use super::*;

pub fn case() -> Case {
    let group = "PendingAndFiringAndResolved";
    let name = "PendingAndFiringAndResolved_SimpleAlert";
    let samples = sample_slice(&[
        "3", "5", "0x2", "9", "0x3", "11", "0x12", "15", "0x11", "0x20", "19", "0x15", "9", "0x19",
        "15", "0x24", "0x20", "8", "0x15",
    ]);
    let test_until = samples.len() as i64 * RW_MS;
    let labels = lbl(&[("alertname", name), ("foo", "bar"), ("rulegroup", group)]);
    let ann = |v: &str| {
        lbl(&[
            ("description", "SimpleAlert is firing"),
            ("summary", &format!("The value is {v} {v}")),
        ])
    };
    let a1 = nth(8);
    let a2 = nth(89);
    let phases = vec![
        phase(
            "inactive",
            &[
                (0, nth(8) + GI_MS),
                (nth(69) - S, nth(89) + GI_MS),
                (nth(134), nth(240)),
            ],
            vec![],
        ),
        phase(
            "pending(11)",
            &[(nth(8) - S, nth(21) + GI_MS)],
            vec![alert(&labels, ann("11"), "pending", 11.0, a1)],
        ),
        phase(
            "pending(15)",
            &[(nth(21) - S, nth(32) + GI_MS)],
            vec![alert(&labels, ann("15"), "pending", 15.0, a1)],
        ),
        phase(
            "pending-again(15)",
            &[(nth(89) - S, nth(113) + GI_MS)],
            vec![alert(&labels, ann("15"), "pending", 15.0, a2)],
        ),
        phase(
            "firing(15)",
            &[(nth(32) - S, nth(53) + GI_MS)],
            vec![alert(&labels, ann("15"), "firing", 15.0, a1)],
        ),
        phase(
            "firing-again(15)",
            &[(nth(113) - S, nth(134) + GI_MS)],
            vec![alert(&labels, ann("15"), "firing", 15.0, a2)],
        ),
        phase(
            "firing(19)",
            &[(nth(53) - S, nth(69) + GI_MS)],
            vec![alert(&labels, ann("19"), "firing", 19.0, a1)],
        ),
    ];
    let train = |resolved,
                 from,
                 until,
                 ann: Labels,
                 starts_at,
                 next_state,
                 resolved_at,
                 first_is_resend| Train {
        labels: labels.clone(),
        annotations: ann,
        resolved,
        from,
        until,
        starts_at,
        next_state,
        resolved_at,
        first_is_resend,
    };
    let trains = vec![
        train(
            false,
            nth(32),
            Some(nth(53)),
            ann("15"),
            nth(32),
            Some(nth(53)),
            Some(nth(69)),
            false,
        ),
        train(
            false,
            nth(53),
            Some(nth(69)),
            ann("19"),
            nth(32),
            Some(nth(69)),
            Some(nth(69)),
            true,
        ),
        train(
            true,
            nth(69),
            Some(nth(89)),
            ann("19"),
            nth(32),
            Some(nth(89)),
            Some(nth(69)),
            false,
        ),
        train(
            false,
            nth(113),
            Some(nth(134)),
            ann("15"),
            nth(113),
            Some(nth(134)),
            Some(nth(134)),
            false,
        ),
        train(
            true,
            nth(134),
            None,
            ann("15"),
            nth(113),
            None,
            Some(nth(134)),
            false,
        ),
    ];
    Case {
        group,
        description: "pending->firing->inactive; changing annotations; firing and resolved resends; re-activation while resolved resends continue",
        series: vec![Series {
            labels: metric_labels(group, name),
            samples,
        }],
        test_until,
        phases,
        trains,
    }
}
