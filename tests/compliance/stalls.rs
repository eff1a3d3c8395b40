//! How late the machine itself was during a run. At time scale 0.1 one real second is
//! the whole `2·MaxRTT` slack of the checks, so a machine that stalled that long (a full
//! run queue, a disk busy with other builds) makes a compliant evaluator look late.
//! Two sources: a thread that sleeps in short steps and notes when it woke up much later
//! than asked (what every process on the machine, the evaluator included, suffers), and
//! the sample writer, which notes when a sample reached Prometheus late (the evaluator
//! could not see it in time).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::timebase::now_real_ms;

/// Lateness worth noting, in real ms.
pub const NOTED_MS: i64 = 100;
/// The watching thread's sleep.
const STEP: Duration = Duration::from_millis(20);

/// One stall: what was late, when it started (real unix ms), and by how much (real ms).
#[derive(Clone, Copy, Debug)]
pub struct Stall {
    pub what: &'static str,
    pub at_real_ms: i64,
    pub late_ms: i64,
}

/// The stalls of a run; clones share the list.
#[derive(Clone, Default)]
pub struct Stalls {
    list: Arc<Mutex<Vec<Stall>>>,
    stop: Arc<AtomicBool>,
}

impl Stalls {
    /// Starts the watching thread; [`Stalls::finish`] stops it.
    pub fn watch() -> Stalls {
        let s = Stalls::default();
        let watcher = s.clone();
        std::thread::spawn(move || {
            while !watcher.stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                std::thread::sleep(STEP);
                let late = asked.elapsed().saturating_sub(STEP).as_millis() as i64;
                watcher.note(
                    "the machine (a sleeping thread woke up late)",
                    now_real_ms() - late,
                    late,
                );
            }
        });
        s
    }

    /// Notes `what` being `late_ms` late from `at_real_ms` on, if that is worth noting.
    pub fn note(&self, what: &'static str, at_real_ms: i64, late_ms: i64) {
        if late_ms < NOTED_MS {
            return;
        }
        if let Ok(mut l) = self.list.lock() {
            l.push(Stall {
                what,
                at_real_ms,
                late_ms,
            });
        }
    }

    /// Stops the watching thread; the stalls noted, in order.
    pub fn finish(&self) -> Vec<Stall> {
        self.stop.store(true, Ordering::Relaxed);
        let mut l = self.list.lock().map(|l| l.clone()).unwrap_or_default();
        l.sort_by_key(|s| s.at_real_ms);
        l
    }
}
