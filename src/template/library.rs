//! vmalert's `-rule.templates`: files of `{{ define "name" }}` blocks that any rule's
//! templates can call with `{{ template "name" . }}`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::ast::Node;
use super::error::LibraryError;
use super::parse::compile;

/// Named templates shared by all rules; loaded whole, swapped whole on reload (see
/// [`SharedLibrary`]).
#[derive(Debug, Default, Clone)]
pub struct Library {
    defines: HashMap<String, Def>,
    /// Each file (or URL) read, with its text, in load order: to tell whether a reload
    /// changed anything.
    sources: Vec<(Arc<str>, Arc<str>)>,
}

/// The `-rule.templates` library every rule renders with. Clones share it: a reload
/// replaces it whole, once the new files all loaded, and every render after that uses
/// the new definitions; a render under way keeps the library it started with.
#[derive(Debug, Clone, Default)]
pub struct SharedLibrary(Arc<RwLock<Option<Arc<Library>>>>);

impl SharedLibrary {
    /// A library of its own (not shared with any other `SharedLibrary`).
    pub fn new(lib: Option<Library>) -> SharedLibrary {
        SharedLibrary(Arc::new(RwLock::new(lib.map(Arc::new))))
    }

    /// The library renders use now.
    pub fn current(&self) -> Option<Arc<Library>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes `lib` the library of every render from now on.
    pub fn replace(&self, lib: Option<Library>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = lib.map(Arc::new);
    }
}

/// One library definition, with the file it came from (for error positions).
#[derive(Debug, Clone)]
pub(crate) struct Def {
    pub body: Arc<Vec<Node>>,
    pub file: Arc<str>,
    pub text: Arc<str>,
}

impl Library {
    /// Loads every file matching the glob patterns (vmalert accepts globs), in sorted
    /// order, and every `http(s)://` URL. Text outside `define` blocks is ignored, as
    /// in vmalert.
    pub fn load(patterns: &[String]) -> Result<Library, LibraryError> {
        Self::load_within(patterns, crate::config::remote::FETCH_TIMEOUT)
    }

    /// [`Library::load`], each URL fetched within `timeout`.
    pub fn load_within(patterns: &[String], timeout: Duration) -> Result<Library, LibraryError> {
        let mut files = Vec::new();
        let mut fetched = Vec::new();
        for p in patterns {
            if crate::config::remote::is_url(p) {
                let shown = crate::config::remote::shown_path(Path::new(p));
                let text = crate::config::remote::fetch_text(p, timeout).map_err(|message| {
                    LibraryError::Fetch {
                        url: shown.clone(),
                        message,
                    }
                })?;
                fetched.push((shown, text));
                continue;
            }
            let paths = glob::glob(p).map_err(|e| LibraryError::Pattern {
                pattern: p.clone(),
                message: e.to_string(),
            })?;
            for path in paths.flatten() {
                files.push(path);
            }
        }
        files.sort();
        files.dedup();
        let mut lib = Library::default();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| LibraryError::Read {
                path: f.clone(),
                source,
            })?;
            lib.add(&f, &text)?;
        }
        for (url, text) in fetched {
            lib.add(&url, &text)?;
        }
        Ok(lib)
    }

    /// Adds the `define`s of one text (named by `path` in errors).
    pub fn add(&mut self, path: &Path, text: &str) -> Result<(), LibraryError> {
        let parsed = compile(text, &[]).map_err(|err| LibraryError::Parse {
            path: path.to_path_buf(),
            err,
        })?;
        let file: Arc<str> = Arc::from(path.display().to_string());
        let text: Arc<str> = Arc::from(text);
        self.sources.push((file.clone(), text.clone()));
        for (name, body) in parsed.defines {
            let def = Def {
                body,
                file: file.clone(),
                text: text.clone(),
            };
            if self.defines.insert(name.clone(), def).is_some() {
                return Err(LibraryError::Duplicate {
                    path: path.to_path_buf(),
                    name,
                });
            }
        }
        Ok(())
    }

    /// Whether `other` was read from the same files (or URLs) with the same texts.
    pub fn same_sources(&self, other: &Library) -> bool {
        self.sources == other.sources
    }

    /// Names of the defined templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.defines.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// A definition by name, for `{{ template }}` at render time.
    pub(crate) fn get(&self, name: &str) -> Option<&Def> {
        self.defines.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Library {
        let mut lib = Library::default();
        lib.add(Path::new("t.tpl"), text).unwrap();
        lib
    }

    #[test]
    fn clones_share_the_library_a_replace_swaps_whole() {
        let shared = SharedLibrary::new(Some(one("{{ define \"a\" }}1{{ end }}")));
        let seen_by_a_rule = shared.clone();
        let before = seen_by_a_rule.current().unwrap();
        shared.replace(Some(one("{{ define \"b\" }}2{{ end }}")));
        assert_eq!(seen_by_a_rule.current().unwrap().names(), ["b"]);
        // A render under way keeps the library it started with.
        assert_eq!(before.names(), ["a"]);
        shared.replace(None);
        assert!(seen_by_a_rule.current().is_none());
        // `new` is a library of its own.
        let other = SharedLibrary::new(None);
        other.replace(Some(one("")));
        assert!(shared.current().is_none());
    }

    #[test]
    fn same_sources_compares_files_and_texts() {
        let a = one("{{ define \"a\" }}1{{ end }}");
        assert!(a.same_sources(&one("{{ define \"a\" }}1{{ end }}")));
        assert!(!a.same_sources(&one("{{ define \"a\" }}2{{ end }}")));
        let mut elsewhere = Library::default();
        elsewhere
            .add(Path::new("u.tpl"), "{{ define \"a\" }}1{{ end }}")
            .unwrap();
        assert!(!a.same_sources(&elsewhere));
    }
}
