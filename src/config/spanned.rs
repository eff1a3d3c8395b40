//! [`S`]: a value of a YAML file with the line and column it was written at.
//!
//! serde-saphyr's own `Spanned<T>` receives each value as a synthesized map of the value
//! and two full locations (where the value is used and where it is defined, each with a
//! line, a column, a nested character/byte span map and a source id), and keeps both:
//! 56 bytes and some twenty serde calls per value. On a file of 100,000 groups that was
//! most of the YAML step. `S<T>` asks the deserializer for the same synthesized map, reads
//! the value and the use-site line and column (what `Spanned::referenced` holds, so every
//! position in an error stays the same), and leaves the rest unread.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// serde-saphyr's name for the newtype that asks for a value with its location.
const SPANNED_NEWTYPE: &str = "__yaml_spanned";
/// The synthesized map's fields, in the order serde-saphyr yields them.
const SPANNED_FIELDS: &[&str] = &["__serde_saphyr_private_spanned", "value", "referenced"];

/// A value with the 1-based line and column where the file uses it (for an alias, the
/// alias; for a merged key, the `<<` entry), as serde-saphyr's `Spanned::referenced`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct S<T> {
    pub value: T,
    pub line: u32,
    pub col: u32,
}

impl<T> S<T> {
    /// The same position with another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> S<U> {
        S {
            value: f(self.value),
            line: self.line,
            col: self.col,
        }
    }
}

/// 1-based line and column of a spanned value.
pub(crate) fn pos<T>(s: &S<T>) -> (usize, usize) {
    (s.line as usize, s.col as usize)
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for S<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(SPANNED_NEWTYPE, Outer(PhantomData))
    }
}

struct Outer<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Outer<T> {
    type Value = S<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value with its position")
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<S<T>, D::Error> {
        d.deserialize_struct("Spanned", SPANNED_FIELDS, Fields(PhantomData))
    }
}

/// Reads the synthesized map: the marker, the value, then the use-site location.
struct Fields<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
    type Value = S<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value with its position")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<S<T>, A::Error> {
        let unexpected = || de::Error::custom("serde-saphyr gave no position for a value");
        // Marker, then value, then referenced: the order is fixed by serde-saphyr.
        m.next_key::<IgnoredAny>()?.ok_or_else(unexpected)?;
        m.next_value::<IgnoredAny>()?;
        m.next_key::<IgnoredAny>()?.ok_or_else(unexpected)?;
        let value = m.next_value::<T>()?;
        m.next_key::<IgnoredAny>()?.ok_or_else(unexpected)?;
        let (line, col) = m.next_value_seed(LineCol)?;
        // `defined` is left unread: the synthesized map needs no draining.
        Ok(S { value, line, col })
    }
}

/// A location's `line` and `column`, its first two fields; span and source id unread.
struct LineCol;

impl<'de> DeserializeSeed<'de> for LineCol {
    type Value = (u32, u32);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(u32, u32), D::Error> {
        d.deserialize_struct("Location", &["line", "column"], self)
    }
}

impl<'de> Visitor<'de> for LineCol {
    type Value = (u32, u32);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a location")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(u32, u32), A::Error> {
        let unexpected = || de::Error::custom("serde-saphyr gave no line and column");
        m.next_key::<IgnoredAny>()?.ok_or_else(unexpected)?;
        let line = m.next_value::<u32>()?;
        m.next_key::<IgnoredAny>()?.ok_or_else(unexpected)?;
        let col = m.next_value::<u32>()?;
        Ok((line, col))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Doc {
        a: S<String>,
        list: S<Vec<S<i64>>>,
        alias: S<String>,
    }

    impl<'de> Deserialize<'de> for Doc {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Doc;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a doc")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Doc, A::Error> {
                    let (mut a, mut list, mut alias) = (None, None, None);
                    while let Some(k) = m.next_key::<String>()? {
                        match k.as_str() {
                            "a" => a = Some(m.next_value()?),
                            "list" => list = Some(m.next_value()?),
                            _ => alias = Some(m.next_value()?),
                        }
                    }
                    Ok(Doc {
                        a: a.unwrap(),
                        list: list.unwrap(),
                        alias: alias.unwrap(),
                    })
                }
            }
            d.deserialize_map(V)
        }
    }

    /// The same line and column as serde-saphyr's `Spanned::referenced`, also for an
    /// alias (the alias' position) and nested values.
    #[test]
    fn positions_are_those_of_serde_saphyrs_spanned() {
        let text = "a: &x hello\nlist:\n  - 1\n  -   22\nb:  *x\n";
        let doc: Doc = serde_saphyr::from_str(text).unwrap();
        type Theirs = std::collections::BTreeMap<String, serde_saphyr::Spanned<serde_json::Value>>;
        let theirs: Theirs = serde_saphyr::from_str(text).unwrap();
        let at = |k: &str| {
            let r = &theirs[k].referenced;
            (r.line() as usize, r.column() as usize)
        };
        assert_eq!((doc.a.value.as_str(), pos(&doc.a)), ("hello", at("a")));
        assert_eq!(pos(&doc.list), at("list"));
        assert_eq!(
            (doc.alias.value.as_str(), pos(&doc.alias)),
            ("hello", at("b"))
        );
        assert_eq!(pos(&doc.alias), (5, 5));
        let items: Vec<_> = doc.list.value.iter().map(|s| (s.value, pos(s))).collect();
        assert_eq!(items, [(1, (3, 5)), (22, (4, 7))]);
    }
}
