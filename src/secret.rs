//! Secret flag values (`-httpAuth.password`, `-*AuthKey`) as vmalert takes them: the
//! value itself, or `file:///abs/path` / `file://./relative/path`, whose file is re-read
//! when it changes (at most once a second), so a rotated secret takes effect without a
//! restart. A file that cannot be read at start-up is fatal; later, the last good value
//! is kept and the failure is logged once.
//!
//! A [`Secret`] never prints its value: `Debug` shows the flag name only, and the only
//! way to use it is [`Secret::matches`], a comparison in constant time.

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often, at most, a `file://` secret is re-read.
const REFRESH: Duration = Duration::from_secs(1);

/// Why a secret flag cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("-{flag}: cannot read {}: {source}; create the file or fix the path", path.display())]
    Read {
        flag: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("-{flag}: {} is empty; write the secret into it", path.display())]
    Empty { flag: String, path: PathBuf },
    #[error(
        "-{flag}: reading a secret from an http(s) URL is not supported; put it in a file and pass file:///path/to/file"
    )]
    Url { flag: String },
}

enum Source {
    Literal(String),
    File(PathBuf),
}

struct Cached {
    value: String,
    checked: Instant,
    /// The last re-read failure, logged once until it changes.
    last_error: Option<String>,
}

/// A secret flag value; see the module documentation.
pub struct Secret {
    flag: String,
    source: Source,
    cache: Mutex<Cached>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(-{})", self.flag)
    }
}

impl Secret {
    /// Reads the flag `flag` given as `value`; `None` when the value is empty (the
    /// feature it guards is off).
    pub fn from_flag(flag: &str, value: &str) -> Result<Option<Secret>, SecretError> {
        if value.is_empty() {
            return Ok(None);
        }
        if value.starts_with("http://") || value.starts_with("https://") {
            return Err(SecretError::Url { flag: flag.into() });
        }
        let source = match value.strip_prefix("file://") {
            Some(path) => Source::File(PathBuf::from(path)),
            None => Source::Literal(value.to_string()),
        };
        let first = match &source {
            Source::Literal(v) => v.clone(),
            Source::File(p) => read(flag, p)?,
        };
        Ok(Some(Secret {
            flag: flag.to_string(),
            source,
            cache: Mutex::new(Cached {
                value: first,
                checked: Instant::now(),
                last_error: None,
            }),
        }))
    }

    /// The flag's name, for messages.
    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// Whether `candidate` equals the current value, in time that depends only on the
    /// candidate's length.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Source::File(path) = &self.source
            && c.checked.elapsed() >= REFRESH
        {
            c.checked = Instant::now();
            match read(&self.flag, path) {
                Ok(v) => {
                    c.value = v;
                    c.last_error = None;
                }
                Err(e) => {
                    let msg = e.to_string();
                    if c.last_error.as_deref() != Some(msg.as_str()) {
                        tracing::warn!("{msg}; the previous value stays in use");
                        c.last_error = Some(msg);
                    }
                }
            }
        }
        constant_time_eq(c.value.as_bytes(), candidate)
    }
}

fn read(flag: &str, path: &PathBuf) -> Result<String, SecretError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
        flag: flag.into(),
        path: path.clone(),
        source,
    })?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(SecretError::Empty {
            flag: flag.into(),
            path: path.clone(),
        });
    }
    Ok(value.to_string())
}

/// Compares `secret` with `candidate` without an early exit: the time taken depends on
/// the candidate's length, never on where they differ or on the secret's length.
pub fn constant_time_eq(secret: &[u8], candidate: &[u8]) -> bool {
    let mut diff = (secret.len() ^ candidate.len()) as u64;
    if secret.is_empty() {
        return candidate.is_empty();
    }
    for (i, b) in candidate.iter().enumerate() {
        diff |= u64::from(secret[i % secret.len()] ^ b);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_values() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cret", b"s3cret!"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"ab", b"abab"));
        assert!(!constant_time_eq(b"x", b""));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn literal_and_empty() {
        assert!(Secret::from_flag("k", "").unwrap().is_none());
        let s = Secret::from_flag("k", "v").unwrap().unwrap();
        assert!(s.matches(b"v"));
        assert_eq!(format!("{s:?}"), "Secret(-k)");
        let e = Secret::from_flag("k", "https://vault/x").unwrap_err();
        assert!(e.to_string().contains("file:///"), "{e}");
    }

    #[test]
    fn file_is_reread_and_a_broken_file_keeps_the_old_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, "one\n").unwrap();
        let s = Secret::from_flag("reloadAuthKey", &format!("file://{}", p.display()))
            .unwrap()
            .unwrap();
        assert!(s.matches(b"one"));
        std::fs::write(&p, "two").unwrap();
        s.cache.lock().unwrap().checked -= REFRESH;
        assert!(s.matches(b"two"));
        std::fs::remove_file(&p).unwrap();
        s.cache.lock().unwrap().checked -= REFRESH;
        assert!(s.matches(b"two"), "a missing file keeps the last value");
        let missing = Secret::from_flag("reloadAuthKey", "file:///nonexistent/key").unwrap_err();
        let msg = missing.to_string();
        assert!(
            msg.starts_with("-reloadAuthKey: cannot read /nonexistent/key"),
            "{msg}"
        );
        std::fs::write(&p, "\n").unwrap();
        let empty = Secret::from_flag("k", &format!("file://{}", p.display())).unwrap_err();
        assert!(empty.to_string().contains("is empty"), "{empty}");
    }
}
