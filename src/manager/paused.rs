//! A group task's side of pausing: asks the board whether a rule is paused at an
//! evaluation and carries out what [`pause::step`] decides.

use crate::config::Group;
use crate::rule::Rule;
use crate::rule::pause::{self, PauseStep};

use super::Engine;

/// Whether `rule` is paused at `ts_ms` (and so not evaluated); `was_paused` is whether
/// it was at its previous evaluation, updated here. At its first paused evaluation its
/// firing alerts are sent resolved and its series ended, unless the pause holds them.
pub(super) fn skip(
    engine: &Engine,
    def: &Group,
    was_paused: &mut bool,
    rule: &mut Rule,
    ts_ms: i64,
) -> bool {
    let p = engine
        .board
        .pause_of(&def.shown_file, &def.name, rule.name());
    match pause::step(*was_paused, p.as_deref(), ts_ms) {
        PauseStep::Evaluate => {
            if p.is_some() {
                // Over: gone from the list at its rule's first evaluation after it.
                engine.board.update_pauses(|ps| ps.expire(ts_ms));
            }
            *was_paused = false;
            return false;
        }
        PauseStep::Skip => {}
        PauseStep::Enter { hold } => {
            let (resolved, stale) = pause::enter(rule, ts_ms, hold);
            if let Some(n) = &engine.notifier {
                n.send(&resolved, &def.notifier_headers);
            }
            if let Some(w) = &engine.writer {
                w.push(stale);
            }
            tracing::info!(group = %def.name, rule = %rule.name(), hold, "rule paused");
        }
    }
    *was_paused = true;
    true
}
