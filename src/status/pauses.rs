//! The pauses of a running tocsin: kept on the [`StatusBoard`] (where group tasks read
//! them and the API shows them) and, with `-rule.pausesFile`, in a JSON file written
//! at every change and read back at start-up.
//!
//! Why a state file rather than a series in the TSDB (as `ALERTS_FOR_STATE` carries
//! alert state): a pause is an operator's decision with free text (who, why, a note),
//! not a measurement. As a series, the text would have to go into labels (one new
//! series per reason), it would need both `-remoteWrite.url` and `-remoteRead.url`,
//! and a pause older than `-remoteRead.lookback` (or than the series' staleness) would
//! silently end at a restart, paging for a rule someone switched off on purpose.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::StatusBoard;
use crate::rule::pause::{Pause, PauseTarget, Pauses};

/// A `-rule.pausesFile` that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PauseFileError {
    #[error("-rule.pausesFile={path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "-rule.pausesFile={path}: not a pauses file ({source}); fix it, or remove it to start with no rule paused"
    )]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The file's form.
#[derive(Serialize, Deserialize)]
struct PausesFile {
    pauses: Vec<Pause>,
}

/// Reads the pauses in `path` (none if the file does not exist), dropping those over
/// at `now_ms`.
pub fn load(path: &Path, now_ms: i64) -> Result<Pauses, PauseFileError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Pauses::default()),
        Err(source) => {
            return Err(PauseFileError::Io {
                path: shown,
                source,
            });
        }
    };
    let file: PausesFile = serde_json::from_str(&text).map_err(|source| PauseFileError::Parse {
        path: shown,
        source,
    })?;
    let mut pauses = Pauses::default();
    for p in file.pauses {
        pauses.pause(p);
    }
    pauses.expire(now_ms);
    Ok(pauses)
}

/// Writes `pauses` to `path` atomically (a temporary file renamed over it).
pub fn save(path: &Path, pauses: &Pauses) -> Result<(), PauseFileError> {
    let io = |source| PauseFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = PausesFile {
        pauses: pauses.iter().map(|p| (**p).clone()).collect(),
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| io(std::io::Error::other(e)))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Pausing and resuming: the board's pauses, saved to the file after every change.
/// Changes are serialized, so the file always holds the latest set.
pub struct PauseBook {
    board: Arc<StatusBoard>,
    file: Option<PathBuf>,
    lock: tokio::sync::Mutex<()>,
}

impl PauseBook {
    pub fn new(board: Arc<StatusBoard>, file: Option<PathBuf>) -> Self {
        PauseBook {
            board,
            file,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Every pause.
    pub fn pauses(&self) -> Pauses {
        self.board.pauses()
    }

    /// Whether pauses survive a restart (`-rule.pausesFile` is set).
    pub fn persistent(&self) -> bool {
        self.file.is_some()
    }

    /// Adds (or replaces) a pause; saved before it takes effect, so a pause the API
    /// confirmed survives a restart. Pauses over at `p.since_ms` are dropped.
    pub async fn pause(&self, p: Pause) -> Result<Arc<Pause>, String> {
        let _one = self.lock.lock().await;
        let mut next = self.board.pauses();
        next.expire(p.since_ms);
        let added = next.pause(p);
        self.save(&next).await?;
        self.board.update_pauses(|ps| *ps = next);
        Ok(added)
    }

    /// Ends the pause of `target`; `None` if there was none.
    pub async fn resume(&self, target: &PauseTarget) -> Result<Option<Arc<Pause>>, String> {
        let _one = self.lock.lock().await;
        let mut next = self.board.pauses();
        let Some(ended) = next.resume(target) else {
            return Ok(None);
        };
        self.save(&next).await?;
        self.board.update_pauses(|ps| *ps = next);
        Ok(Some(ended))
    }

    async fn save(&self, pauses: &Pauses) -> Result<(), String> {
        let Some(path) = self.file.clone() else {
            return Ok(());
        };
        let pauses = pauses.clone();
        tokio::task::spawn_blocking(move || save(&path, &pauses))
            .await
            .map_err(|e| format!("saving the pauses failed: {e}"))?
            .map_err(|e| format!("not changed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(rule: &str, until_ms: Option<i64>) -> Pause {
        Pause {
            target: PauseTarget {
                file: "a.yml".into(),
                group: "g".into(),
                rule: Some(rule.into()),
            },
            since_ms: 1_000,
            until_ms,
            by: "ops".into(),
            reason: "maintenance".into(),
            note: "INC-1".into(),
            hold: true,
        }
    }

    #[tokio::test]
    async fn pauses_survive_in_the_file_and_expire_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pauses.json");
        assert!(load(&path, 0).unwrap().is_empty(), "no file: no pauses");
        let board = Arc::new(StatusBoard::new());
        let book = PauseBook::new(board.clone(), Some(path.clone()));
        book.pause(pause("A", None)).await.unwrap();
        book.pause(pause("B", Some(5_000))).await.unwrap();
        assert_eq!(board.pauses().len(), 2);
        let loaded = load(&path, 4_999).unwrap();
        assert_eq!(loaded, board.pauses());
        assert_eq!(load(&path, 5_000).unwrap().len(), 1, "B is over");

        let a = pause("A", None).target;
        assert!(book.resume(&a).await.unwrap().is_some());
        assert!(book.resume(&a).await.unwrap().is_none());
        assert_eq!(load(&path, 0).unwrap().len(), 1);
        assert!(board.pause_of("a.yml", "g", "A").is_none());
        assert!(board.pause_of("a.yml", "g", "B").is_some());
    }

    #[tokio::test]
    async fn a_bad_file_is_named_and_a_failed_save_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pauses.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = load(&path, 0).unwrap_err().to_string();
        assert!(e.starts_with("-rule.pausesFile="), "{e}");
        assert!(e.contains("remove it to start with no rule paused"), "{e}");

        let board = Arc::new(StatusBoard::new());
        let book = PauseBook::new(board.clone(), Some(dir.path().join("no/such/dir/p.json")));
        let e = book.pause(pause("A", None)).await.unwrap_err();
        assert!(e.starts_with("not changed: -rule.pausesFile="), "{e}");
        assert!(board.pauses().is_empty());
    }
}
