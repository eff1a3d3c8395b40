//! One member's view of the cluster at one moment: the members in assignment order,
//! which one is this process, whether the others agree, and which groups this member
//! runs because of it.

use std::sync::Arc;

use super::assign::{self, MemberKey, ShardKey};
use crate::config::Group;

/// A member as the assignment sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// What the hash scores: the member number (static sharding) or the address the
    /// peer list gave (dynamic membership).
    pub name: String,
    /// Where its HTTP API answers, when known (from `-cluster.peers`).
    pub addr: Option<String>,
}

/// A peer found through `-cluster.peers`, as last probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub addr: String,
    /// `/-/ready` answered 200.
    pub ready: bool,
    /// What a tocsin peer said about itself; `None` for other servers.
    pub identity: Option<super::Identity>,
    /// Why the probe failed.
    pub error: Option<String>,
}

/// What this member knows about the cluster.
#[derive(Debug, Clone)]
pub struct View {
    /// Changes whenever anything below does.
    pub version: u64,
    /// In assignment order (names sorted; member numbers in static sharding).
    pub members: Vec<Member>,
    keys: Vec<MemberKey>,
    /// This process's position in `members`; `None` while it is not a member (not
    /// ready yet, or not among the peers), when it evaluates nothing.
    pub me: Option<usize>,
    pub replication: usize,
    /// Every member reported the same member set as this one. Until they do, this
    /// member keeps evaluating the groups it is handing over.
    pub converged: bool,
    /// Hash of the member names and the replication factor; peers report theirs.
    pub hash: u64,
    /// Every peer probed in the last round, sorted by address.
    pub peers: Vec<Peer>,
    /// Disagreements found (flags that differ between members, …), for the status page
    /// and the log.
    pub problems: Vec<String>,
}

/// The hash members compare to know that they see the same member set.
pub fn view_hash(names: &[String], replication: usize) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(replication as u64).to_le_bytes());
    for n in names {
        h.update(n.as_bytes());
        h.update(&[0xff]);
    }
    h.digest()
}

impl View {
    /// A view of `members` (any order; sorted here unless `numbered`).
    pub fn new(mut members: Vec<Member>, me: Option<&str>, replication: usize) -> View {
        members.sort_by(|a, b| sort_key(&a.name).cmp(&sort_key(&b.name)));
        members.dedup_by(|a, b| a.name == b.name);
        let keys = members.iter().map(|m| MemberKey::of(&m.name)).collect();
        let names: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
        View {
            version: 0,
            me: me.and_then(|n| members.iter().position(|m| m.name == n)),
            keys,
            hash: view_hash(&names, replication),
            members,
            replication,
            converged: true,
            peers: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Not clustered: this process alone owns everything.
    pub fn single() -> View {
        View::new(
            vec![Member {
                name: "0".into(),
                addr: None,
            }],
            Some("0"),
            1,
        )
    }

    /// Whether this member owns the group with key `key`.
    pub fn owns(&self, key: ShardKey) -> bool {
        match self.me {
            Some(me) => assign::is_owner(key, &self.keys, me, self.replication),
            None => false,
        }
    }

    /// The group's owners, highest score first.
    pub fn owners(&self, key: ShardKey) -> Vec<&Member> {
        if self.members.is_empty() {
            return Vec::new();
        }
        assign::owners(key, &self.keys, self.replication)
            .into_iter()
            .map(|i| &self.members[i])
            .collect()
    }

    /// The name of this member, if it is one.
    pub fn me(&self) -> Option<&Member> {
        self.me.map(|i| &self.members[i])
    }

    /// The groups of `groups` this member should run now: the ones it owns, plus — until
    /// every member agrees on the member set — the ones it runs already
    /// (`running(id)`), so that a group is handed over only once its new owners run it
    /// (make before break: a group may run twice for a while, it is never dropped).
    pub fn to_run(&self, groups: &[Arc<Group>], running: impl Fn(u64) -> bool) -> Vec<Arc<Group>> {
        groups
            .iter()
            .filter(|g| self.owns(ShardKey::of(g)) || (!self.converged && running(g.id())))
            .cloned()
            .collect()
    }
}

/// Member numbers sort as numbers (2 before 10), addresses as text.
fn sort_key(name: &str) -> (u8, u64, &str) {
    match name.parse::<u64>() {
        Ok(n) => (0, n, name),
        Err(_) => (1, 0, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str) -> Member {
        Member {
            name: name.into(),
            addr: None,
        }
    }

    #[test]
    fn members_sort_and_me_is_found() {
        let v = View::new(vec![m("10"), m("2"), m("0")], Some("2"), 1);
        let names: Vec<&str> = v.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["0", "2", "10"]);
        assert_eq!(v.me, Some(1));
        assert!(View::new(vec![m("a")], Some("b"), 1).me.is_none());
    }

    #[test]
    fn views_of_the_same_set_agree() {
        let a = View::new(vec![m("b:1"), m("a:1"), m("c:1")], Some("a:1"), 2);
        let b = View::new(vec![m("c:1"), m("a:1"), m("b:1")], Some("c:1"), 2);
        assert_eq!(a.hash, b.hash);
        let c = View::new(vec![m("c:1"), m("a:1"), m("b:1")], Some("c:1"), 1);
        assert_ne!(a.hash, c.hash, "the replication factor is part of it");
        for g in 0..200 {
            let k = ShardKey::from_id(g);
            let oa: Vec<_> = a.owners(k).iter().map(|m| m.name.clone()).collect();
            let ob: Vec<_> = b.owners(k).iter().map(|m| m.name.clone()).collect();
            assert_eq!(oa, ob);
            assert_eq!(a.owns(k), oa.contains(&"a:1".to_string()));
        }
    }

    #[test]
    fn a_non_member_owns_nothing() {
        let v = View::new(vec![m("a:1")], None, 1);
        assert!(!v.owns(ShardKey::from_id(1)));
        assert_eq!(v.owners(ShardKey::from_id(1)).len(), 1);
    }
}
