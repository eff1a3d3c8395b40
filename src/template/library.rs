//! vmalert's `-rule.templates`: files of `{{ define "name" }}` blocks that any rule's
//! templates can call with `{{ template "name" . }}`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::ast::Node;
use super::error::LibraryError;
use super::parse::compile;

/// Named templates shared by all rules; loaded once, swapped whole on reload.
#[derive(Debug, Default, Clone)]
pub struct Library {
    defines: HashMap<String, Def>,
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
    /// order. Text outside `define` blocks is ignored, as in vmalert.
    pub fn load(patterns: &[String]) -> Result<Library, LibraryError> {
        let mut files = Vec::new();
        let mut fetched = Vec::new();
        for p in patterns {
            if crate::config::remote::is_url(p) {
                let shown = crate::config::remote::shown_path(Path::new(p));
                let text =
                    crate::config::remote::fetch_text(p, crate::config::remote::FETCH_TIMEOUT)
                        .map_err(|message| LibraryError::Fetch {
                            url: shown.clone(),
                            message,
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
