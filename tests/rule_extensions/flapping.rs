//! `flapping`: an alert that fires and resolves more than `changes` times within the
//! window is flapping until it has not changed for a whole window.

use super::*;

/// Whether instance a's alert flaps after each minute of `cpu` (`f`/`.`).
fn flaps(r: &mut AlertingRule, cpu: &[f64]) -> String {
    flaps_from(r, 0, cpu)
}

/// As [`flaps`], the first value at minute `from`.
fn flaps_from(r: &mut AlertingRule, from: i64, cpu: &[f64]) -> String {
    cpu.iter()
        .enumerate()
        .map(|(m, v)| {
            eval(r, from + m as i64, &[("a", *v)]);
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
fn when_it_settles_the_flapping_label_set_is_resolved_and_the_plain_one_sent() {
    let mut r = high("    flapping: {changes: 2, within: 5m}\n");
    // Flapping from minute 2 (changes at 0, 1, 2), firing on without change: settled at
    // minute 7, five minutes after the last change.
    let cpu = [95.0, 50.0, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0];
    let mut at_7 = Vec::new();
    for (m, v) in cpu.iter().enumerate() {
        let m = m as i64;
        eval(&mut r, m, &[("a", *v)]);
        let sent = r.alerts_to_send(T0 + m * MIN);
        if m == 7 {
            at_7 = sent;
        }
    }
    let now = T0 + 7 * MIN;
    let seen: Vec<_> = at_7
        .iter()
        .map(|n| (n.labels.get("flapping"), n.ends_at_ms == now))
        .collect();
    // Alertmanager hears at once that the flapping="true" alert ended (endsAt now), and
    // gets the plain alert, firing (endsAt in the future).
    assert_eq!(seen, [(Some("true"), true), (None, false)], "{at_7:?}");
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

#[test]
fn with_for_only_firing_changes_count_pending_ones_do_not() {
    let mut r = high("    for: 1m\n    flapping: {changes: 2, within: 5m}\n");
    // Pending 0, fires 1, resolves 2, pending 3 (a new alert: not a change), fires 4
    // (third change: flapping), resolves 5, pending 6, fires 7, then stays firing: the
    // changes of 4, 5 and 7 are within five minutes until 9, 7 alone until 12.
    let cpu = [
        95.0, 95.0, 50.0, 95.0, 95.0, 50.0, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0,
    ];
    assert_eq!(timeline(&mut high("    for: 1m\n"), &cpu), "PFRPFRPFFFFFF");
    assert_eq!(flaps(&mut r, &cpu), "....ffffffff.");
    assert_eq!(r.flapping_transitions(), 5, "changes at 1, 2, 4, 5 and 7");
    assert_eq!(r.flapping_count(), 0);
}

#[test]
fn keep_firing_for_absorbs_the_dips_so_nothing_flaps() {
    // `keep_firing_for` decides the state first: an alert it keeps firing through each
    // dip never changes state, so there is nothing to count.
    let rule = "    keep_firing_for: 2m\n    flapping: {changes: 2, within: 5m}\n";
    let cpu = [95.0, 50.0, 95.0, 50.0, 95.0, 50.0, 95.0];
    assert_eq!(timeline(&mut high(rule), &cpu), "FFFFFFF");
    let mut r = high(rule);
    assert_eq!(flaps(&mut r, &cpu), ".......");
    assert_eq!(r.flapping_transitions(), 1, "only the first firing");
}

#[test]
fn a_reload_keeps_the_history_and_applies_the_new_window() {
    let mut r = high("    flapping: {changes: 2, within: 5m}\n");
    assert_eq!(flaps(&mut r, &[95.0, 50.0, 95.0]), "..f");
    // Same identity (name, expr, labels), a changed `flapping`: the changes seen so far
    // stay, the new K and window apply from the next evaluation.
    let g = group(
        "  - alert: High\n    expr: cpu > 90\n    flapping: {changes: 3, within: 3m}\n    labels:\n      severity: page\n",
    );
    r.update(
        g.rules[0].clone(),
        Arc::new(RuleContext::for_group(&g, &settings())),
    );
    // Minute 3 resolves: changes at 0, 1, 2, 3, but within 3m only 1, 2, 3: not more
    // than 3, yet the alert flaps on until a window without change (minute 6).
    assert_eq!(flaps_from(&mut r, 3, &[50.0, 50.0, 50.0, 50.0]), "fff.");
    assert_eq!(r.flapping_transitions(), 4, "counted over the reload");
}

#[test]
fn a_restart_starts_with_an_empty_history() {
    let mut before = high("    flapping: {changes: 2, within: 5m}\n");
    assert_eq!(flaps(&mut before, &[95.0, 50.0, 95.0]), "..f");
    // The changes are not written anywhere: the alert restored from its
    // `ALERTS_FOR_STATE` is not flapping, and takes K more changes within the window to
    // be flagged again (its first firing after the restart is one of them).
    let mut after = high("    flapping: {changes: 2, within: 5m}\n");
    after.restore([(high_labels("a"), T0 + 2 * MIN)]);
    assert_eq!(flaps_from(&mut after, 3, &[95.0, 50.0, 95.0]), "..f");
    assert_eq!(after.flapping_transitions(), 3);
}

#[test]
fn alerts_carries_the_label_and_each_label_set_ends_with_a_staleness_marker() {
    let mut r = high("    flapping: {changes: 2, within: 5m}\n");
    // (minute, flapping label of the live ALERTS series, flapping labels ended).
    let mut seen = Vec::new();
    for (m, v) in [95.0, 50.0, 95.0, 95.0, 95.0, 95.0, 95.0, 95.0]
        .iter()
        .enumerate()
    {
        let out = eval(&mut r, m as i64, &[("a", *v)]);
        let alerts = |stale: bool| -> Vec<Option<String>> {
            out.series
                .iter()
                .filter(|s| s.labels.get("__name__") == Some("ALERTS"))
                .filter(|s| tocsin::rule::is_stale_nan(s.value) == stale)
                .map(|s| s.labels.get("flapping").map(str::to_string))
                .collect()
        };
        seen.push((m, alerts(false), alerts(true)));
    }
    let t = Some("true".to_string());
    // Firing at 0 (plain); resolved at 1 (its ALERTS ends); firing and flapping at 2;
    // settled at 7: the flapping series ends, the plain one is written.
    assert_eq!(seen[0], (0, vec![None], vec![]));
    assert_eq!(seen[1], (1, vec![], vec![None]));
    assert_eq!(seen[2], (2, vec![t.clone()], vec![]));
    assert_eq!(seen[6], (6, vec![t.clone()], vec![]));
    assert_eq!(seen[7], (7, vec![None], vec![t]));
}
