//! `flapping`: an alert that fires and resolves more than `changes` times within the
//! window is flapping until it has not changed for a whole window.

use super::*;

/// Whether instance a's alert flaps after each minute of `cpu` (`f`/`.`).
fn flaps(r: &mut AlertingRule, cpu: &[f64]) -> String {
    cpu.iter()
        .enumerate()
        .map(|(m, v)| {
            eval(r, m as i64, &[("a", *v)]);
            match alert(r, "a") {
                Some(a) if r.is_flapping(&a) => 'f',
                _ => '.',
            }
        })
        .collect()
}

#[test]
fn more_than_k_changes_within_the_window_flap_until_a_window_without_change() {
    let mut r = high("    flapping: {changes: 2, within: 5m}\n");
    // Fires 0, resolves 1, fires 2 (third change: flapping), resolves 3, fires 4; no
    // change from 4 on: flapping until minute 9, five minutes after the last change.
    let cpu = [
        95.0, 50.0, 95.0, 50.0, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0,
    ];
    assert_eq!(flaps(&mut r, &cpu), "..fffffff..");
}

#[test]
fn a_flapping_alert_is_sent_with_the_label_and_its_plain_label_set_resolved() {
    let mut r = high("    flapping: {changes: 2, within: 5m}\n");
    for (m, v) in [95.0, 50.0, 95.0].iter().enumerate() {
        eval(&mut r, m as i64, &[("a", *v)]);
        let sent = r.alerts_to_send(T0 + m as i64 * MIN);
        if m == 2 {
            let labels: Vec<_> = sent.iter().map(|n| n.labels.get("flapping")).collect();
            assert_eq!(labels, [Some("true")], "{sent:?}");
        }
    }
}

#[test]
fn with_hold_nothing_is_sent_while_it_flaps() {
    let mut r = high("    flapping: {changes: 2, within: 5m, hold: true}\n");
    for (m, v) in [95.0, 50.0, 95.0, 50.0, 95.0].iter().enumerate() {
        eval(&mut r, m as i64, &[("a", *v)]);
        let sent = r.alerts_to_send(T0 + m as i64 * MIN);
        assert_eq!(sent.is_empty(), m >= 2, "minute {m}: {sent:?}");
    }
}
