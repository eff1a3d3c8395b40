//! Times benchmarks by the CPU time of the benchmarking thread instead of wall time.
//!
//! The development machine is a 2-core VM shared by several engineers; at a load average
//! of 10, wall time measures the queue for the CPU more than the code. The kernel's
//! per-thread run time (`/proc/thread-self/schedstat`, nanoseconds) only counts the time
//! the thread actually ran. On an idle machine the two agree.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{Bencher, BenchmarkGroup, SamplingMode};

/// 20 equal samples per benchmark: each lasts a twentieth of the measurement time (at
/// least 100 ms with `--measurement-time 2`), far above the counter's resolution.
pub fn long_samples(g: &mut BenchmarkGroup<'_, WallTime>) {
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(20);
}

/// Nanoseconds this thread has run on a CPU; `None` where the kernel does not say.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Like `Bencher::iter`, measured in CPU time when the platform allows, else wall time.
pub fn iter_cpu<O>(b: &mut Bencher, mut f: impl FnMut() -> O) {
    if thread_cpu_ns().is_none() {
        return b.iter(f);
    }
    b.iter_custom(|iters| {
        let start = thread_cpu_ns().unwrap_or(0);
        for _ in 0..iters {
            std::hint::black_box(f());
        }
        Duration::from_nanos(thread_cpu_ns().unwrap_or(0).saturating_sub(start))
    });
}
