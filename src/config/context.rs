//! Group and rule context for YAML-level errors.
//!
//! When the typed parse fails (say `alert: [1]`), serde-saphyr gives a position but no
//! idea which group or rule it is in. This second, tolerant pass reads only the
//! skeleton of the file (group names, where each group key and each rule starts, rule
//! names) and accepts any value anywhere, so it succeeds on most files the typed parse
//! rejects; the error's line is then placed within it. It runs only on failure.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::raw::S;

/// Where a failing line sits: group name, and rule index/name when inside a rule.
pub(crate) struct Context {
    pub group: String,
    pub rule: Option<(usize, String)>,
}

/// Finds the group (and rule) holding 1-based `line`, if the skeleton can be read.
pub(crate) fn locate(text: &str, line: usize) -> Option<Context> {
    let docs: Vec<Skel<SkelFile>> = serde_saphyr::from_str_multiple(text).ok()?;
    let groups: Vec<&S<SkelGroup>> = docs
        .iter()
        .filter_map(|d| d.0.as_ref())
        .flat_map(|f| f.groups.0.iter().flatten())
        .collect();
    let g = groups.iter().rev().find(|g| start(g) <= line)?;
    let group = g.value.name.clone().unwrap_or_default();
    // The group key that owns the line: the last one starting at or before it.
    let owner = g.value.keys.iter().rev().find(|(_, l)| *l <= line)?;
    if owner.0 != "rules" {
        return Some(Context { group, rule: None });
    }
    let rules: Vec<&S<SkelRule>> = g.value.rules.0.iter().flatten().collect();
    let rule = rules
        .iter()
        .enumerate()
        .rev()
        .find(|(_, r)| start(r) <= line)
        .map(|(i, r)| {
            (
                i,
                r.value
                    .alert
                    .clone()
                    .or(r.value.record.clone())
                    .unwrap_or_default(),
            )
        });
    Some(Context { group, rule })
}

fn start<T>(s: &S<T>) -> usize {
    s.line as usize
}

/// Accepts any value: `Some` when it is a `T`-shaped node, `None` otherwise.
struct Skel<T>(Option<T>);

#[derive(Default)]
struct SkelFile {
    groups: Skel<Vec<S<SkelGroup>>>,
}

#[derive(Default)]
struct SkelGroup {
    name: Option<String>,
    keys: Vec<(String, usize)>,
    rules: Skel<Vec<S<SkelRule>>>,
}

#[derive(Default)]
struct SkelRule {
    alert: Option<String>,
    record: Option<String>,
}

impl<T> Default for Skel<T> {
    fn default() -> Self {
        Skel(None)
    }
}

/// What a skeleton node makes of a mapping or a sequence; anything else is ignored.
/// The defaults skip the node, consuming it as the deserializer requires.
trait Shape: Sized {
    fn from_map<'de, A: MapAccess<'de>>(mut m: A) -> Result<Option<Self>, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn from_seq<'de, A: SeqAccess<'de>>(mut s: A) -> Result<Option<Self>, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn from_str(_s: &str) -> Option<Self> {
        None
    }
}

impl<'de, T: Shape> Deserialize<'de> for Skel<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Shape> Visitor<'de> for V<T> {
            type Value = Skel<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("anything")
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Skel<T>, A::Error> {
                T::from_map(m).map(Skel)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Skel<T>, A::Error> {
                T::from_seq(s).map(Skel)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Skel<T>, E> {
                Ok(Skel(T::from_str(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Skel<T>, E> {
                Ok(Skel(None))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Skel<T>, E> {
                Ok(Skel(None))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Skel<T>, E> {
                Ok(Skel(None))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Skel<T>, E> {
                Ok(Skel(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Skel<T>, E> {
                Ok(Skel(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Shape for String {
    fn from_str(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
}

impl<T: Shape> Shape for Vec<S<T>> {
    fn from_seq<'de, A: SeqAccess<'de>>(mut s: A) -> Result<Option<Self>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = s.next_element::<S<Skel<T>>>()? {
            if let Some(v) = item.value.0 {
                out.push(S {
                    value: v,
                    line: item.line,
                    col: item.col,
                });
            }
        }
        Ok(Some(out))
    }
}

impl Shape for SkelFile {
    fn from_map<'de, A: MapAccess<'de>>(mut m: A) -> Result<Option<Self>, A::Error> {
        let mut out = SkelFile::default();
        while let Some(k) = m.next_key::<Skel<String>>()? {
            match k.0.as_deref() {
                Some("groups") => out.groups = m.next_value()?,
                _ => drop(m.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Some(out))
    }
}

impl Shape for SkelGroup {
    fn from_map<'de, A: MapAccess<'de>>(mut m: A) -> Result<Option<Self>, A::Error> {
        let mut out = SkelGroup::default();
        while let Some(k) = m.next_key::<S<Skel<String>>>()? {
            let key = k.value.0.clone().unwrap_or_default();
            out.keys.push((key.clone(), start(&k)));
            match key.as_str() {
                "name" => out.name = m.next_value::<Skel<String>>()?.0,
                "rules" => out.rules = m.next_value()?,
                _ => drop(m.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Some(out))
    }
}

impl Shape for SkelRule {
    fn from_map<'de, A: MapAccess<'de>>(mut m: A) -> Result<Option<Self>, A::Error> {
        let mut out = SkelRule::default();
        while let Some(k) = m.next_key::<Skel<String>>()? {
            match k.0.as_deref() {
                Some("alert") => out.alert = m.next_value::<Skel<String>>()?.0,
                Some("record") => out.record = m.next_value::<Skel<String>>()?.0,
                _ => drop(m.next_value::<IgnoredAny>()?),
            }
        }
        Ok(Some(out))
    }
}
