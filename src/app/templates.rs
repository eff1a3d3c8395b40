//! `-rule.templates` across reloads, as vmalert 1.145 handles it: read at start-up (an
//! error stops tocsin), read again by every reload before the rule files, and put in
//! use for every rule only once the rule files reloaded too. A file or URL that fails
//! (does not parse, defines a name twice, answers 404 or HTML or nothing) fails the
//! whole reload: the rules and the templates that ran before both stay.

use std::time::Duration;

use anyhow::Context as _;

use crate::template::{Library, SharedLibrary};

/// The patterns of `-rule.templates` and the library the rules render with.
pub(super) struct Templates {
    patterns: Vec<String>,
    shared: SharedLibrary,
}

impl Templates {
    /// Reads the library at start-up; an error names the file or URL.
    pub(super) fn load(patterns: Vec<String>) -> anyhow::Result<Templates> {
        let lib = if patterns.is_empty() {
            None
        } else {
            Some(Library::load(&patterns).context("-rule.templates")?)
        };
        Ok(Templates {
            patterns,
            shared: SharedLibrary::new(lib),
        })
    }

    /// The library the rules render with (clones share it).
    pub(super) fn shared(&self) -> SharedLibrary {
        self.shared.clone()
    }

    /// The flag's files and globs (not its URLs), for the file watcher.
    pub(super) fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Reads the files and URLs again, off the runtime (`None`: the flag is not set).
    /// Not in use until [`Templates::apply`].
    pub(super) async fn read(&self) -> Result<Option<Library>, String> {
        self.read_within(crate::config::remote::FETCH_TIMEOUT).await
    }

    async fn read_within(&self, timeout: Duration) -> Result<Option<Library>, String> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        let patterns = self.patterns.clone();
        tokio::task::spawn_blocking(move || Library::load_within(&patterns, timeout))
            .await
            .map_err(|e| format!("-rule.templates: reading failed: {e}"))?
            .map(Some)
            .map_err(|e| format!("-rule.templates: {e}; the previous templates stay in use"))
    }

    /// Puts `lib` (from [`Templates::read`]) in use for every rule's next render.
    pub(super) fn apply(&self, lib: Option<Library>, trigger: &str) {
        let changed = match (self.shared.current(), &lib) {
            (Some(old), Some(new)) => !old.same_sources(new),
            (old, new) => old.is_some() != new.is_some(),
        };
        if changed {
            let definitions = lib.as_ref().map_or(0, |l| l.names().len());
            tracing::info!(trigger, definitions, "-rule.templates reloaded");
        }
        self.shared.replace(lib);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, text: &str) -> String {
        let path = dir.join("t.tpl");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    #[tokio::test]
    async fn a_reread_is_put_in_use_only_when_applied_and_a_failure_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "{{ define \"a\" }}1{{ end }}");
        let t = Templates::load(vec![path.clone()]).unwrap();
        let rules_see = t.shared();
        write(dir.path(), "{{ define \"b\" }}2{{ end }}");
        let lib = t.read().await.unwrap();
        assert_eq!(rules_see.current().unwrap().names(), ["a"], "not yet");
        t.apply(lib, "test");
        assert_eq!(rules_see.current().unwrap().names(), ["b"]);

        write(dir.path(), "{{ define \"c\" }}{{ .x }{{ end }}");
        let e = t.read().await.unwrap_err();
        assert!(
            e.starts_with("-rule.templates: ") && e.contains(&format!("{path}:1:")),
            "{e}"
        );
        assert!(e.contains("previous templates stay"), "{e}");
        assert_eq!(rules_see.current().unwrap().names(), ["b"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_url_that_does_not_answer_fails_the_read_in_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/t.tpl", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let t = Templates {
            patterns: vec![url.clone()],
            shared: SharedLibrary::default(),
        };
        let e = t.read_within(Duration::from_millis(300)).await.unwrap_err();
        assert!(
            e.contains(&url) && e.contains("no answer within 0.3s"),
            "{e}"
        );
        held.abort();
    }

    #[tokio::test]
    async fn without_the_flag_nothing_is_read() {
        let t = Templates::load(Vec::new()).unwrap();
        assert!(t.read().await.unwrap().is_none());
        assert!(t.shared().current().is_none());
    }
}
