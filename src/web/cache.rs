//! Rendered answers of `/api/v1/rules` and `/api/v1/alerts`, kept for the current
//! status version.
//!
//! The status board hands out one shared snapshot per change; this is the same idea one
//! step later, for the JSON. An answer is keyed by endpoint, query and encoding and
//! belongs to one snapshot version: the first request after a change renders it (on a
//! blocking thread, holding a `-http.maxConcurrentRequests` slot), requests that arrive
//! while it renders wait for it, later ones are served the same bytes. So a storm of
//! identical requests costs one rendering per change, and every response shares one
//! buffer instead of holding its own copy. The first request of a newer version drops
//! every answer of the older one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::api::Reply;
use super::filter::Query;
use super::routes::Endpoint;

/// At most this many answers (query × encoding) are kept per version; requests beyond
/// it render for themselves, within `-http.maxConcurrentRequests`. It bounds what the
/// cache holds to a few answers, whatever clients ask for.
const MAX_ANSWERS: usize = 16;

/// A rendered reply and whether its body is gzipped.
pub type Rendered = (Reply, bool);

/// One answer's slot: empty, being filled by one request, or filled.
pub type Slot = Arc<OnceCell<Rendered>>;

/// What tells two answers apart within one version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    endpoint: Endpoint,
    /// The decoded parameters, stably sorted by name (the order of one name's values
    /// is kept: the first one wins where only one is read).
    query: Vec<(String, String)>,
    gzip: bool,
}

impl Key {
    pub fn new(endpoint: Endpoint, q: &Query, gzip: bool) -> Key {
        let mut query = q.pairs().to_vec();
        query.sort_by(|a, b| a.0.cmp(&b.0));
        Key {
            endpoint,
            query,
            gzip,
        }
    }
}

/// The answers of one status version.
#[derive(Debug, Default)]
pub struct RenderCache {
    inner: Mutex<Answers>,
}

#[derive(Debug, Default)]
struct Answers {
    version: u64,
    slots: HashMap<Key, Slot>,
}

impl RenderCache {
    /// The slot for `key` once the status is at `version`. A slot that is not yet
    /// filled is filled by the first caller (see `OnceCell::get_or_try_init`); the
    /// others wait for it. A version older than the newest seen gets the newer answers,
    /// which are at least as recent as the caller asked for.
    pub fn slot(&self, key: Key, version: u64) -> Slot {
        let mut a = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if version > a.version {
            a.slots.clear();
            a.version = version;
        }
        if let Some(s) = a.slots.get(&key) {
            return Arc::clone(s);
        }
        let s = Slot::default();
        if a.slots.len() < MAX_ANSWERS {
            a.slots.insert(key, Arc::clone(&s));
        }
        s
    }

    /// How many answers are kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map(|a| a.slots.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use hyper::StatusCode;

    use super::*;

    fn key(raw: &str, gzip: bool) -> Key {
        Key::new(Endpoint::Rules, &Query::parse(Some(raw)), gzip)
    }

    fn fill(s: &Slot, body: &str) {
        s.set((Reply::text(StatusCode::OK, body), false)).unwrap();
    }

    #[test]
    fn one_answer_per_key_and_version() {
        let c = RenderCache::default();
        let s = c.slot(key("type=alert&file[]=a", false), 1);
        fill(&s, "v1");
        // Same parameters in another order: the same answer.
        let again = c.slot(key("file[]=a&type=alert", false), 1);
        assert!(Arc::ptr_eq(&s, &again));
        // Another encoding, another query or another endpoint: another answer.
        assert!(!Arc::ptr_eq(
            &s,
            &c.slot(key("type=alert&file[]=a", true), 1)
        ));
        assert!(!Arc::ptr_eq(&s, &c.slot(key("type=record", false), 1)));
        let alerts = Key::new(
            Endpoint::Alerts,
            &Query::parse(Some("type=alert&file[]=a")),
            false,
        );
        assert!(!Arc::ptr_eq(&s, &c.slot(alerts, 1)));
        // The order of one parameter's values is kept: `type=a&type=b` reads `a`.
        assert_ne!(
            key("type=alert&type=record", false),
            key("type=record&type=alert", false)
        );
    }

    #[test]
    fn a_newer_version_drops_the_older_answers() {
        let c = RenderCache::default();
        let s = c.slot(key("", false), 1);
        fill(&s, "v1");
        let newer = c.slot(key("", false), 2);
        assert!(newer.get().is_none(), "version 2 renders again");
        assert_eq!(c.len(), 1);
        // A request that saw version 1 before the change gets version 2's answer.
        assert!(Arc::ptr_eq(&newer, &c.slot(key("", false), 1)));
    }

    #[test]
    fn at_most_max_answers_are_kept() {
        let c = RenderCache::default();
        for i in 0..MAX_ANSWERS + 10 {
            let s = c.slot(key(&format!("rule_name[]={i}"), false), 7);
            fill(&s, "x");
        }
        assert_eq!(c.len(), MAX_ANSWERS);
        // One past the bound is not kept: each request renders for itself.
        let extra = key("rule_name[]=extra", false);
        assert!(!Arc::ptr_eq(&c.slot(extra.clone(), 7), &c.slot(extra, 7)));
    }
}
