//! Reload triggers: a file watcher, SIGHUP, `/-/reload` and a periodic safety net all
//! end up as one "reload requested" signal for the manager.
//!
//! The watcher watches the *parent directories* of the rule files and of the fixed part
//! of every `-rule` glob, not the files themselves: editors save by writing a temporary
//! file and renaming it over the original, and Kubernetes ConfigMaps swap a `..data`
//! symlink, and both replace the inode a file watch would be attached to. Events are
//! debounced (a burst of thousands of events becomes one reload), and the manager
//! reloads only when the loaded content actually differs, so a spurious event costs one
//! read of the files and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Why a reload was requested (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    FileChange,
    Signal,
    Http,
    Periodic,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::FileChange => "file_change",
            Trigger::Signal => "sighup",
            Trigger::Http => "http",
            Trigger::Periodic => "periodic",
        }
    }
}

/// A request to reload, with an optional reply for callers that wait (`/-/reload`).
#[derive(Debug)]
pub struct ReloadRequest {
    pub trigger: Trigger,
    pub reply: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

impl ReloadRequest {
    /// A request nobody waits for.
    pub fn fire_and_forget(trigger: Trigger) -> Self {
        ReloadRequest {
            trigger,
            reply: None,
        }
    }
}

/// Errors starting the watcher. Not fatal for the process: the other triggers still work.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {dir}: {source}")]
    Watch {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot start the file watcher: {0}")]
    Start(#[source] notify::Error),
}

/// The directories to watch for a set of `-rule` patterns and the files they matched:
/// each file's parent, and for globs the deepest directory without glob characters
/// (watched recursively when the glob has `**` or several levels).
pub fn watch_roots(patterns: &[String], files: &[PathBuf]) -> Vec<(PathBuf, RecursiveMode)> {
    let mut dirs: BTreeSet<(PathBuf, bool)> = BTreeSet::new();
    // URLs are fetched again at each reload; there is nothing to watch.
    let is_url = |p: &Path| p.to_str().is_some_and(crate::config::remote::is_url);
    for f in files.iter().filter(|f| !is_url(f)) {
        if let Some(p) = f.parent() {
            dirs.insert((non_empty(p), false));
        }
    }
    for pat in patterns
        .iter()
        .filter(|p| !crate::config::remote::is_url(p))
    {
        let path = Path::new(pat);
        let mut base = PathBuf::new();
        let mut rest = 0;
        for c in path.components() {
            let s = c.as_os_str().to_string_lossy();
            if rest > 0 || s.contains(['*', '?', '[', '{']) {
                rest += 1;
            } else {
                base.push(c);
            }
        }
        if rest == 0 {
            // A plain path: its parent is already covered when it exists; watch the
            // parent anyway so that a file created later is noticed.
            if let Some(p) = path.parent() {
                dirs.insert((non_empty(p), false));
            }
        } else {
            dirs.insert((non_empty(&base), rest > 1 || pat.contains("**")));
        }
    }
    // A recursive watch on a directory covers its subdirectories.
    let recursive: Vec<PathBuf> = dirs
        .iter()
        .filter(|(_, r)| *r)
        .map(|(d, _)| d.clone())
        .collect();
    dirs.into_iter()
        .filter(|(d, r)| *r || !recursive.iter().any(|rd| d.starts_with(rd)))
        .map(|(d, r)| {
            (
                d,
                if r {
                    RecursiveMode::Recursive
                } else {
                    RecursiveMode::NonRecursive
                },
            )
        })
        .collect()
}

fn non_empty(p: &Path) -> PathBuf {
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p.to_path_buf()
    }
}

/// A running watcher; dropping it stops the watch.
pub struct FileWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// How long the rule directories must be quiet before a change is read. A copy that
/// is still writing a file keeps sending events, so the file is read once it settled.
pub const SETTLE: Duration = Duration::from_millis(500);

/// The longest a burst of events delays the reload: a directory that is never quiet (a
/// log written next to the rules) must not hold reloads back for ever.
pub const MAX_SETTLE: Duration = Duration::from_secs(5);

/// Watches `roots` and sends one `Trigger::FileChange` per burst of events: once no
/// event came for `settle`, or `max_settle` after the burst began (see `debounce`).
/// Directories that do not exist are skipped (and reported).
pub fn watch(
    roots: &[(PathBuf, RecursiveMode)],
    (settle, max_settle): (Duration, Duration),
    tx: mpsc::Sender<ReloadRequest>,
    cancel: CancellationToken,
) -> Result<(FileWatcher, Vec<WatchError>), WatchError> {
    let (raw_tx, raw_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            let _ = raw_tx.send(());
        }
    })
    .map_err(WatchError::Start)?;
    let mut problems = Vec::new();
    for (dir, mode) in roots {
        if let Err(source) = watcher.watch(dir, *mode) {
            problems.push(WatchError::Watch {
                dir: dir.clone(),
                source,
            });
        }
    }
    tokio::spawn(debounce(raw_rx, (settle, max_settle), tx, cancel));
    Ok((FileWatcher { _watcher: watcher }, problems))
}

/// Turns file events into reload requests, one per burst: sent once `settle` passed
/// without an event (each event restarts the wait), or `max_settle` after the burst's
/// first event if they never stop. A copy in progress is thus read when it is done, not
/// half-written; a file left empty by a stalled copy is caught by the reload itself
/// ([`crate::config::RuleSet::emptied_since`]).
async fn debounce(
    mut events: mpsc::UnboundedReceiver<()>,
    (settle, max_settle): (Duration, Duration),
    tx: mpsc::Sender<ReloadRequest>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            ev = events.recv() => if ev.is_none() { return },
        }
        let cap = tokio::time::sleep(max_settle);
        tokio::pin!(cap);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = &mut cap => break,
                ev = events.recv() => if ev.is_none() { return },
                _ = tokio::time::sleep(settle) => break,
            }
        }
        if tx
            .try_send(ReloadRequest::fire_and_forget(Trigger::FileChange))
            .is_err()
        {
            // A reload is already pending; it will read the latest files.
        }
    }
}

/// Sends `Trigger::Signal` on every SIGHUP until cancelled.
pub fn on_sighup(
    tx: mpsc::Sender<ReloadRequest>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                s = hup.recv() => {
                    if s.is_none() { return; }
                    let _ = tx.try_send(ReloadRequest::fire_and_forget(Trigger::Signal));
                }
            }
        }
    });
    Ok(())
}

/// Sends `Trigger::Periodic` every `every` (vmalert's `-configCheckInterval`).
pub fn periodic(every: Duration, tx: mpsc::Sender<ReloadRequest>, cancel: CancellationToken) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut t = tokio::time::interval(every);
        t.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = t.tick() => { let _ = tx.try_send(ReloadRequest::fire_and_forget(Trigger::Periodic)); }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_cover_parents_and_glob_bases() {
        let roots = watch_roots(
            &[
                "rules/a.yml".into(),
                "conf/*.yml".into(),
                "deep/**/*.yml".into(),
            ],
            &[
                PathBuf::from("rules/a.yml"),
                PathBuf::from("conf/x.yml"),
                PathBuf::from("deep/q/z.yml"),
            ],
        );
        let names: Vec<(String, bool)> = roots
            .iter()
            .map(|(d, m)| {
                (
                    d.display().to_string(),
                    matches!(m, RecursiveMode::Recursive),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("conf".to_string(), false),
                ("deep".to_string(), true),
                ("rules".to_string(), false)
            ]
        );
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A debouncer on paused time: the sender of raw events and the reload requests.
    fn debouncer() -> (
        mpsc::UnboundedSender<()>,
        mpsc::Receiver<ReloadRequest>,
        CancellationToken,
    ) {
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (tx, rx) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        tokio::spawn(debounce(ev_rx, (ms(500), ms(5000)), tx, cancel.clone()));
        (ev_tx, rx, cancel)
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_copy_is_read_once_it_settled() {
        let (events, mut rx, cancel) = debouncer();
        // A copy that writes a little every 300 ms for 3 s: never read half-way.
        for step in 0..10 {
            events.send(()).unwrap();
            tokio::time::sleep(ms(300)).await;
            assert!(rx.try_recv().is_err(), "read during the copy (step {step})");
        }
        tokio::time::sleep(ms(150)).await;
        assert!(rx.try_recv().is_err(), "read 450 ms after the last write");
        tokio::time::sleep(ms(100)).await;
        let got = rx.try_recv().map(|r| r.trigger);
        assert_eq!(
            got.ok(),
            Some(Trigger::FileChange),
            "read once quiet for 500 ms"
        );
        tokio::time::sleep(ms(2000)).await;
        assert!(rx.try_recv().is_err(), "one copy, one reload");
        cancel.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_directory_never_quiet_still_reloads() {
        let (events, mut rx, cancel) = debouncer();
        let mut got = Vec::new();
        let start = tokio::time::Instant::now();
        // A log written next to the rules every 100 ms, for 12 s.
        for _ in 0..120 {
            events.send(()).unwrap();
            tokio::time::sleep(ms(100)).await;
            if rx.try_recv().is_ok() {
                got.push(start.elapsed().as_millis());
            }
        }
        // 5 s after each burst began (seen at the next 100 ms step): 5 s and 10 s.
        assert_eq!(got.len(), 2, "reloads at {got:?} ms");
        assert!((5000..=5100).contains(&got[0]), "reloads at {got:?} ms");
        assert!((10000..=10200).contains(&got[1]), "reloads at {got:?} ms");
        cancel.cancel();
    }

    #[tokio::test]
    async fn a_burst_of_changes_is_one_trigger() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        let (_w, problems) = watch(
            &[(dir.path().to_path_buf(), RecursiveMode::NonRecursive)],
            (Duration::from_millis(100), Duration::from_secs(5)),
            tx,
            cancel.clone(),
        )
        .unwrap();
        assert!(problems.is_empty());
        for i in 0..200 {
            std::fs::write(dir.path().join(format!("f{}.yml", i % 5)), "x").unwrap();
        }
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(got.unwrap().map(|r| r.trigger), Some(Trigger::FileChange));
        let more = tokio::time::timeout(Duration::from_millis(400), rx.recv()).await;
        assert!(more.is_err(), "one burst must give one trigger");
        cancel.cancel();
    }
}
