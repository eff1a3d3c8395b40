//! New alerts of a rule while others of it are active; a rule reading the `ALERTS` series
//! written earlier in the same cycle; templates see the query result's labels only.

use super::*;

pub fn case() -> Case {
    let group = "NewAlerts_OrderCheck";
    let r1 = "NewAlerts_OrderCheck_Rule1";
    let r2 = "NewAlerts_OrderCheck_Rule2";
    let variant = |v: &str| {
        let mut l = metric_labels(group, r1);
        l.insert("variant".into(), v.into());
        l
    };
    let s1 = sample_slice(&["1", "0x7", "11", "0x64", "9", "0x20"]);
    let s2 = sample_slice(&["1", "0x31", "11", "0x32", "9", "0x20"]);
    let test_until = s1.len().max(s2.len()) as i64 * RW_MS;
    let l11 = lbl(&[
        ("alertname", r1),
        ("foo", "bar"),
        ("rulegroup", group),
        ("variant", "one"),
    ]);
    let l12 = lbl(&[
        ("alertname", r1),
        ("foo", "bar"),
        ("rulegroup", group),
        ("variant", "two"),
    ]);
    let l2 = lbl(&[
        ("alertname", r2),
        ("alertstate", "firing"),
        ("ba_dum", "tss"),
        ("foo", "baz"),
        ("rulegroup", group),
    ]);
    let ann1 = lbl(&[("description", "This should produce more alerts later")]);
    let ann2 = lbl(&[(
        "description",
        &format!("Based on ALERTS. Old alertname was {r1}. foo was bar."),
    )]);
    let a11 = alert(&l11, ann1.clone(), "firing", 11.0, nth(8));
    let phases = vec![
        phase(
            "all inactive",
            &[(0, nth(8) + GI_MS), (nth(73), nth(240))],
            vec![],
        ),
        phase(
            "one pending",
            &[(nth(8) - S, nth(20) + GI_MS)],
            vec![alert(&l11, ann1.clone(), "pending", 11.0, nth(8))],
        ),
        phase(
            "one firing",
            &[(nth(20) - S, nth(32) + GI_MS), (nth(65), nth(73) + GI_MS)],
            vec![a11.clone()],
        ),
        phase(
            "one firing, two pending",
            &[(nth(32) - S, nth(44) + GI_MS)],
            vec![
                a11.clone(),
                alert(&l12, ann1.clone(), "pending", 11.0, nth(32)),
            ],
        ),
        phase(
            "one and two firing, rule 2 firing",
            &[(nth(44) - S, nth(73) + GI_MS)],
            vec![
                a11,
                alert(&l12, ann1.clone(), "firing", 11.0, nth(32)),
                alert(&l2, ann2.clone(), "firing", 2.0, nth(44)),
            ],
        ),
    ];
    let train = |labels: &Labels,
                 ann: &Labels,
                 resolved,
                 from,
                 until,
                 starts_at,
                 next_state,
                 resolved_at| Train {
        labels: labels.clone(),
        annotations: ann.clone(),
        resolved,
        from,
        until,
        starts_at,
        next_state,
        resolved_at,
        first_is_resend: false,
    };
    let trains = vec![
        train(
            &l11,
            &ann1,
            false,
            nth(20),
            Some(nth(73)),
            nth(20),
            Some(nth(73)),
            Some(nth(73)),
        ),
        train(
            &l11,
            &ann1,
            true,
            nth(73),
            None,
            nth(20),
            None,
            Some(nth(73)),
        ),
        train(
            &l12,
            &ann1,
            false,
            nth(44),
            Some(nth(65)),
            nth(44),
            Some(nth(65)),
            Some(nth(65)),
        ),
        train(
            &l2,
            &ann2,
            false,
            nth(44),
            Some(nth(65)),
            nth(44),
            Some(nth(65)),
            Some(nth(65)),
        ),
        train(
            &l12,
            &ann1,
            true,
            nth(65),
            None,
            nth(44),
            None,
            Some(nth(65)),
        ),
        train(
            &l2,
            &ann2,
            true,
            nth(65),
            None,
            nth(44),
            None,
            Some(nth(65)),
        ),
    ];
    Case {
        group,
        description: "new alerts while others are active; rule order (ALERTS of an earlier rule in the same cycle); template label source",
        series: vec![
            Series {
                labels: variant("one"),
                samples: s1,
            },
            Series {
                labels: variant("two"),
                samples: s2,
            },
        ],
        test_until,
        phases,
        trains,
    }
}
