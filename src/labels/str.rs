//! `Str`, a shared label string in one pointer.
//!
//! A label set holds its names and values as shared strings, so that building derived
//! sets (rule labels on top of query labels) and keeping them (alerts, recorded series)
//! copies pointers, not bytes. `Arc<str>` is a fat pointer (address and length, 16
//! bytes); a label of two of them is 32 bytes, and a label set of 8 labels 256 bytes
//! before a single byte of text. With interned strings (`super::Interner`) the text is
//! shared anyway, so those pointers are most of what a label set costs. `Str` keeps the
//! length next to the text instead (`Arc<Box<str>>`: one 8-byte pointer), which halves
//! every label set; the price is a second indirection when the text is read, and a
//! second small allocation per distinct string, which interning makes rare.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A shared, immutable string in one pointer: cheap to clone, compares and hashes as its
/// text (and `Borrow<str>`, so a `HashSet<Str>` is looked up by `&str`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(Arc<Box<str>>);

impl Str {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether both are the same shared copy (not merely equal text).
    pub fn ptr_eq(a: &Str, b: &Str) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// How many holders share this copy (the interner sweeps those only it holds).
    pub(super) fn strong_count(s: &Str) -> usize {
        Arc::strong_count(&s.0)
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::from("")
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str(Arc::new(s))
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        Str::from(Box::<str>::from(s))
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str::from(s.into_boxed_str())
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str::from(s.as_str())
    }
}

impl From<Cow<'_, str>> for Str {
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Str::from(s),
            Cow::Owned(s) => Str::from(s),
        }
    }
}

/// A copy of the text: `Arc<str>` keeps it inline, `Str` behind its own box.
impl From<Arc<str>> for Str {
    fn from(s: Arc<str>) -> Self {
        Str::from(&*s)
    }
}

impl From<&Arc<str>> for Str {
    fn from(s: &Arc<str>) -> Self {
        Str::from(&**s)
    }
}

impl From<&Str> for Str {
    fn from(s: &Str) -> Self {
        s.clone()
    }
}

impl From<Str> for Arc<str> {
    fn from(s: Str) -> Self {
        Arc::from(s.as_str())
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Str {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pointer_that_reads_as_its_text() {
        assert_eq!(std::mem::size_of::<Str>(), 8);
        assert_eq!(std::mem::size_of::<super::super::Label>(), 16);
        let a = Str::from("job");
        let b = a.clone();
        assert!(Str::ptr_eq(&a, &b));
        assert_eq!(&*a, "job");
        assert_eq!(a, Str::from(String::from("job")));
        assert!(!Str::ptr_eq(&a, &Str::from("job")));
        let mut sorted = vec![Str::from("b"), Str::from("a")];
        sorted.sort();
        assert_eq!(sorted, ["a", "b"]);
        assert_eq!(format!("{a} {a:?}"), "job \"job\"");
        let set: std::collections::HashSet<Str> = [a].into();
        assert!(set.contains("job"));
    }
}
