//! The group checksum the reload diff relies on: equal checksums mean a group can keep
//! running untouched, so every field that changes behaviour goes in, in a fixed order,
//! each one length-prefixed so that no two different groups encode the same bytes.
//! xxh3 is seeded with nothing and has a fixed algorithm, so the value is stable across
//! runs, builds and machines.

use std::time::Duration;

use xxhash_rust::xxh3::Xxh3;

use super::model::{Group, Rule, RuleKind};
use crate::template::Template;

struct Enc(Xxh3);

impl Enc {
    fn bytes(&mut self, b: &[u8]) {
        self.0.update(&(b.len() as u64).to_le_bytes());
        self.0.update(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_le_bytes());
    }
    fn opt_dur(&mut self, d: Option<Duration>) {
        match d {
            None => self.u64(0),
            Some(d) => {
                self.u64(1);
                self.u64(d.as_nanos() as u64);
            }
        }
    }
    fn pairs(&mut self, p: &[(String, String)]) {
        self.u64(p.len() as u64);
        for (k, v) in p {
            self.str(k);
            self.str(v);
        }
    }
    fn templates(&mut self, p: &[(String, Template)]) {
        self.u64(p.len() as u64);
        for (k, v) in p {
            self.str(k);
            self.str(v.source());
        }
    }
}

/// Hash of everything in `g` that affects evaluation, including its file path and rule
/// order, but not the line numbers (moving a group down a file changes nothing).
pub(crate) fn group_checksum(g: &Group) -> u64 {
    let mut e = Enc(Xxh3::new());
    e.str("tocsin-group-v1");
    e.bytes(g.file.as_os_str().as_encoded_bytes());
    settings(&mut e, g);
    e.u64(g.rules.len() as u64);
    for r in &g.rules {
        rule(&mut e, r);
    }
    e.0.digest()
}

/// Hash of everything that decides what rule `r` of `g` produces from the same
/// answers: the rule and its group's settings, but not the file, the line or the
/// other rules, so that the same rule in another copy of the file (a backtest's old
/// and new sides) hashes the same. Label templates may render the group's file
/// (`$groupID`): a rule with a templated label also hashes its file.
pub(crate) fn rule_checksum(g: &Group, r: &Rule) -> u64 {
    let mut e = Enc(Xxh3::new());
    e.str("tocsin-rule-v1");
    if r.labels.iter().any(|(_, t)| !t.is_static()) {
        e.bytes(g.file.as_os_str().as_encoded_bytes());
    }
    settings(&mut e, g);
    rule(&mut e, r);
    e.0.digest()
}

/// The group's own settings, rules left out.
fn settings(e: &mut Enc, g: &Group) {
    e.str(&g.name);
    e.opt_dur(g.interval);
    e.opt_dur(g.query_offset);
    e.u64(g.limit as u64);
    e.u64(g.labels.len() as u64);
    for l in g.labels.iter() {
        e.str(&l.name);
        e.str(&l.value);
    }
    e.opt_dur(g.eval_offset);
    e.opt_dur(g.eval_delay);
    e.u64(match g.eval_alignment {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
    e.u64(g.concurrency as u64);
    e.str(match g.datasource_type {
        super::model::DatasourceType::Prometheus => "prometheus",
    });
    e.pairs(&g.params);
    e.pairs(&g.headers);
    e.pairs(&g.notifier_headers);
    e.u64(g.debug as u64);
}

/// One rule, position and line left out.
fn rule(e: &mut Enc, r: &Rule) {
    match &r.kind {
        RuleKind::Alerting(a) => {
            e.str("alert");
            e.str(&a.name);
            e.u64(a.for_.as_nanos() as u64);
            e.u64(a.keep_firing_for.as_nanos() as u64);
            e.templates(&a.annotations);
            e.str(a.ext.recover_expr.as_deref().unwrap_or(""));
            let fc = a.ext.for_count.map_or((0, 0), |f| (f.n, f.of));
            e.u64(u64::from(fc.0) << 32 | u64::from(fc.1));
            for p in [a.ext.no_data, a.ext.on_error] {
                e.str(p.map_or("", |p| p.state.as_str()));
                e.u64(p.map_or(0, |p| p.after.as_nanos() as u64));
            }
        }
        RuleKind::Recording(rec) => {
            e.str("record");
            e.str(&rec.name);
        }
    }
    e.str(&r.expr);
    e.templates(&r.labels);
    e.u64(r.debug as u64);
    e.u64(r.update_entries_limit.map_or(0, |n| n as u64 + 1));
}
