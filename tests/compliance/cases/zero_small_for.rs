//! `for: 0` fires at once; a `for` shorter than the interval fires at the next evaluation;
//! re-activation after the resolved alert stopped; templates (including `query`).

use super::*;

pub fn case() -> Case {
    let group = "ZeroFor_SmallFor";
    let zf = "ZeroFor_SmallFor_ZeroFor";
    let sf = "ZeroFor_SmallFor_SmallFor";
    let samples = sample_slice(&[
        "3", "5", "0x2", "9", "0x3", "15", "0x12", "9", "0x71", "11", "0x12", "9",
    ]);
    // Upstream waits 20 samples more to see the alerts stay inactive.
    let test_until = (samples.len() as i64 + 20) * RW_MS;
    let zf_labels = lbl(&[("alertname", zf), ("foo", "bar"), ("rulegroup", group)]);
    let sf_labels = lbl(&[("alertname", sf), ("ba_dum", "tss"), ("rulegroup", group)]);
    let zf_ann = |q: &str| {
        lbl(&[
            ("description", "This should immediately fire"),
            (
                "template_test",
                "1.049M 1Mi 2m 15s 95.9% 2022-01-25 12:36:43 +0000 UTC",
            ),
            (
                "template_query_test",
                &format!("Args are: foo bar 99. first_id:101,{q}"),
            ),
        ])
    };
    let zf_ann1 = zf_ann("101:1,102:2,103:3,");
    let zf_ann2 = zf_ann("101:2,102:4,103:6,");
    let sf_ann = lbl(&[
        ("description", "This should fire after an interval"),
        (
            "template_test",
            "This Part IS TESTING the strings. ::1 127.0.0.1. 7815. replaced text. .",
        ),
    ]);
    let phases = vec![
        phase(
            "inactive",
            &[
                (0, nth(8) + GI_MS),
                (nth(21) - S, nth(93) + GI_MS),
                (nth(106), nth(240)),
            ],
            vec![],
        ),
        phase(
            "zero-for firing, small-for pending",
            &[(nth(8) - S, nth(8) + 2 * GI_MS)],
            vec![
                alert(&zf_labels, zf_ann1.clone(), "firing", 15.0, nth(8)),
                alert(&sf_labels, sf_ann.clone(), "pending", 15.0, nth(8)),
            ],
        ),
        phase(
            "zero-for firing, small-for firing",
            &[(nth(8) + GI_MS, nth(21) + GI_MS)],
            vec![
                alert(&zf_labels, zf_ann1.clone(), "firing", 15.0, nth(8)),
                alert(&sf_labels, sf_ann.clone(), "firing", 15.0, nth(8)),
            ],
        ),
        phase(
            "zero-for firing again",
            &[(nth(93) - S, nth(106) + GI_MS)],
            vec![alert(&zf_labels, zf_ann2.clone(), "firing", 11.0, nth(93))],
        ),
    ];
    let train = |labels: &Labels,
                 resolved,
                 from,
                 until,
                 ann: &Labels,
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
    let sf_fire = nth(8) + GI_MS;
    let trains = vec![
        train(
            &zf_labels,
            false,
            nth(8),
            Some(nth(21)),
            &zf_ann1,
            nth(8),
            Some(nth(21)),
            Some(nth(21)),
        ),
        train(
            &zf_labels,
            true,
            nth(21),
            None,
            &zf_ann1,
            nth(8),
            Some(nth(93)),
            Some(nth(21)),
        ),
        train(
            &zf_labels,
            false,
            nth(93),
            Some(nth(106)),
            &zf_ann2,
            nth(93),
            Some(nth(106)),
            Some(nth(106)),
        ),
        train(
            &zf_labels,
            true,
            nth(106),
            None,
            &zf_ann2,
            nth(93),
            None,
            Some(nth(106)),
        ),
        train(
            &sf_labels,
            false,
            sf_fire,
            Some(nth(21)),
            &sf_ann,
            sf_fire,
            Some(nth(21)),
            Some(nth(21)),
        ),
        train(
            &sf_labels,
            true,
            nth(21),
            None,
            &sf_ann,
            sf_fire,
            None,
            Some(nth(21)),
        ),
    ];
    let mut series = vec![
        Series {
            labels: metric_labels(group, zf),
            samples: samples.clone(),
        },
        Series {
            labels: metric_labels(group, sf),
            samples,
        },
    ];
    // Series read by the `query` template function.
    for i in 1..=3 {
        let id = format!("{}", 100 + i);
        let val = format!("val{i}");
        let mut labels = lbl(&[
            ("__name__", SOURCE_METRIC),
            ("rulegroup", group),
            ("for", "template"),
        ]);
        labels.insert("id".into(), id);
        labels.insert("__value__".into(), val);
        let (a, b) = (format!("{i}"), format!("{}", 2 * i));
        series.push(Series {
            labels,
            samples: sample_slice(&[&a, "0x27", &b, "0x200"]),
        });
    }
    Case {
        group,
        description: "zero 'for' fires at once; small 'for' fires one evaluation later; re-activation after resolved; template functions",
        series,
        test_until,
        phases,
        trains,
    }
}
