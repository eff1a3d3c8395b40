//! Secrets of the HTTP clients: given as values (flags) or as files that are re-read when
//! they change (cert-manager, Vault agents and Kubernetes rotate secret files in place).
//! Neither form ever prints its content: `Debug` shows where the secret comes from.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// A secret value; `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// Why a secret file could not be read: names the setting and the file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read {setting} {path}: {message}")]
pub struct ReadError {
    pub setting: String,
    pub path: PathBuf,
    pub message: String,
}

/// What identifies a version of a file without reading it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    ino: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        #[cfg(unix)]
        ino: std::os::unix::fs::MetadataExt::ino(&m),
    })
}

/// A secret from a flag value or from a file. A file is read when the source is made
/// (so a missing file stops tocsin at start-up) and again whenever its modification
/// time, size or inode changes; a file that has become unreadable fails the request
/// instead of sending it without credentials.
pub enum SecretSource {
    Value(Secret),
    File {
        setting: String,
        path: PathBuf,
        cache: Mutex<(Stamp, Secret)>,
    },
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("<secret>"),
            SecretSource::File { path, .. } => write!(f, "<secret in {}>", path.display()),
        }
    }
}

fn read_trimmed(setting: &str, path: &Path) -> Result<(Stamp, Secret), ReadError> {
    let err = |e: std::io::Error| ReadError {
        setting: setting.to_string(),
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let before = stamp(path).map_err(err)?;
    let text = std::fs::read_to_string(path).map_err(err)?;
    Ok((before, Secret(text.trim().to_string())))
}

impl SecretSource {
    pub fn value(s: impl Into<String>) -> Self {
        SecretSource::Value(Secret::new(s))
    }

    /// Reads the file now; `setting` (`-datasource.bearerTokenFile`) names it in errors.
    pub fn file(setting: impl Into<String>, path: impl Into<PathBuf>) -> Result<Self, ReadError> {
        let (setting, path) = (setting.into(), path.into());
        let first = read_trimmed(&setting, &path)?;
        Ok(SecretSource::File {
            setting,
            path,
            cache: Mutex::new(first),
        })
    }

    /// The current value: a file is re-read if it changed since the last read.
    pub fn get(&self) -> Result<Secret, ReadError> {
        match self {
            SecretSource::Value(s) => Ok(s.clone()),
            SecretSource::File {
                setting,
                path,
                cache,
            } => {
                let now = stamp(path).map_err(|e| ReadError {
                    setting: setting.clone(),
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
                if c.0 != now {
                    *c = read_trimmed(setting, path)?;
                }
                Ok(c.1.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_reread_when_they_change_and_fail_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "one\n").unwrap();
        let s = SecretSource::file("-x.bearerTokenFile", &p).unwrap();
        assert_eq!(s.get().unwrap().expose(), "one");
        // Rotation as Kubernetes does it: a new file renamed over the old one.
        let tmp = dir.path().join("token.new");
        std::fs::write(&tmp, "second").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert_eq!(s.get().unwrap().expose(), "second");
        std::fs::remove_file(&p).unwrap();
        let e = s.get().unwrap_err().to_string();
        assert!(
            e.contains("-x.bearerTokenFile") && e.contains("token"),
            "{e}"
        );
        assert!(!format!("{s:?}").contains("second"));
    }

    #[test]
    fn a_missing_file_is_an_error_at_once() {
        let e = SecretSource::file("-notifier.basicAuth.passwordFile", "/nonexistent/pw")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read -notifier.basicAuth.passwordFile /nonexistent/pw:"),
            "{e}"
        );
    }

    #[test]
    fn debug_never_shows_a_value() {
        assert_eq!(format!("{:?}", Secret::new("pw")), "<secret>");
        assert_eq!(format!("{:?}", SecretSource::value("pw")), "<secret>");
    }
}
