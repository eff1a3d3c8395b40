//! The writing end of a rule's replay: what the rule produces goes, in batches, to the
//! rule's writer task through a short queue, so a window's output is never held whole;
//! the writer says when a window of this rule is written, which releases the rules
//! that read it.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::report::{MAX_PROBLEMS, RuleReport};
use super::window::Window;
use crate::remote_write::{RemoteWriter, WriteError};
use crate::sample::Sample;

/// Batches waiting for a rule's writer: with one being written, at most this many
/// more are held, so a slow target slows evaluation instead of filling memory.
const WRITE_QUEUE: usize = 2;

/// What a rule's writer sends back.
#[derive(Default)]
struct WriteOutcome {
    written: u64,
    unwritten: u64,
    problems: Vec<String>,
}

enum ToWriter {
    Batch(Vec<Sample>, Window),
    /// Every batch of this window has been queued: acknowledge it to dependents.
    WindowDone(u64),
}

/// Where a rule's samples go: its writer task, or nowhere in report mode, where a
/// window is done once evaluated.
pub(super) struct Output {
    to_writer: Option<mpsc::Sender<ToWriter>>,
    writer: Option<JoinHandle<WriteOutcome>>,
    /// Windows done so far, in report mode (the writer holds it otherwise).
    done: Option<watch::Sender<u64>>,
}

impl Output {
    /// Starts the rule's writer on `writer`, if there is one. `done` counts the
    /// rule's windows written (acknowledged) so far.
    pub(super) fn start(
        writer: Option<&RemoteWriter>,
        done: watch::Sender<u64>,
        attempts: usize,
    ) -> Output {
        match writer {
            Some(w) => {
                let (tx, rx) = mpsc::channel(WRITE_QUEUE);
                let h = tokio::spawn(write_all(w.clone(), rx, done, attempts));
                Output {
                    to_writer: Some(tx),
                    writer: Some(h),
                    done: None,
                }
            }
            None => Output {
                to_writer: None,
                writer: None,
                done: Some(done),
            },
        }
    }

    /// Whether samples are written (not in report mode).
    pub(super) fn writes(&self) -> bool {
        self.to_writer.is_some()
    }

    /// Queues a batch of window `win` for writing.
    pub(super) async fn batch(&self, batch: Vec<Sample>, win: Window) {
        if let Some(tx) = &self.to_writer
            && !batch.is_empty()
        {
            // The writer only stops early if it panicked; its outcome says so.
            let _ = tx.send(ToWriter::Batch(batch, win)).await;
        }
    }

    /// Window `w` has been evaluated whole.
    pub(super) async fn window_done(&self, w: u64) {
        match (&self.to_writer, &self.done) {
            (Some(tx), _) => {
                let _ = tx.send(ToWriter::WindowDone(w)).await;
            }
            (None, Some(d)) => {
                let _ = d.send(w + 1);
            }
            (None, None) => {}
        }
    }

    /// Waits for the writer to write what is queued and adds its counts to `report`.
    pub(super) async fn finish(self, report: &mut RuleReport) {
        drop(self.to_writer);
        let Some(h) = self.writer else { return };
        match h.await {
            Ok(o) => {
                report.samples_written += o.written;
                report.samples_unwritten += o.unwritten;
                for p in o.problems {
                    report.problem(p);
                }
            }
            Err(e) => report.problem(format!("internal error while writing: {e}")),
        }
    }
}

/// A rule's writer: writes each batch (acknowledged, retried where a later attempt may
/// succeed), counts what could not be written, and tells dependents when a window is
/// written. After a batch that could not be written for good, the rest of its window
/// is counted as not written without trying; the next window tries again.
async fn write_all(
    writer: RemoteWriter,
    mut rx: mpsc::Receiver<ToWriter>,
    done: watch::Sender<u64>,
    attempts: usize,
) -> WriteOutcome {
    let mut out = WriteOutcome::default();
    let mut failed_window: Option<u64> = None;
    while let Some(msg) = rx.recv().await {
        let (batch, win) = match msg {
            ToWriter::Batch(b, win) => (b, win),
            ToWriter::WindowDone(w) => {
                let _ = done.send(w + 1);
                continue;
            }
        };
        if failed_window == Some(win.index) {
            out.unwritten += batch.len() as u64;
            continue;
        }
        let mut attempt = 1;
        loop {
            match writer.write_now(&batch).await {
                Ok(()) => {
                    out.written += batch.len() as u64;
                    break;
                }
                Err(e) => {
                    let gave_up = matches!(e, WriteError::GaveUp { .. });
                    if gave_up && attempt < attempts.max(1) {
                        attempt += 1;
                        continue;
                    }
                    out.unwritten += batch.len() as u64;
                    if out.problems.len() < MAX_PROBLEMS {
                        out.problems.push(format!(
                            "{}: {} samples not written: {e}",
                            win.describe(),
                            batch.len()
                        ));
                    }
                    if gave_up {
                        failed_window = Some(win.index);
                    }
                    break;
                }
            }
        }
    }
    out
}
