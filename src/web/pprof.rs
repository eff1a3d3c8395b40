//! `/debug/pprof/`: CPU profiles in Go's pprof format (`go tool pprof`, Grafana
//! Pyroscope, speedscope read them), sampled with the `pprof` crate's SIGPROF profiler
//! and encoded here (perftools' `profile.proto`, gzipped as Go serves it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, UNIX_EPOCH};

/// Samples per second, as Go's default.
const FREQUENCY: i32 = 100;
/// `?seconds=` when absent (Go's default), and its ceiling.
pub const DEFAULT_SECONDS: u64 = 30;
pub const MAX_SECONDS: u64 = 600;

/// One profile at a time: the profiler is process-wide.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Why no profile was produced.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("a CPU profile is already being taken; try again when it is done")]
    Busy,
    #[error("CPU profiling failed: {0}")]
    Failed(String),
}

/// The index page: what exists here.
pub fn index_html(prefix: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>/debug/pprof/</title></head><body>\n\
         <p>Profiles of this tocsin process:</p>\n<table>\n\
         <tr><td><a href=\"{prefix}/debug/pprof/profile?seconds={DEFAULT_SECONDS}\">profile</a></td>\
         <td>CPU profile in pprof format; <code>?seconds=N</code> sets the duration \
         (default {DEFAULT_SECONDS}, at most {MAX_SECONDS}). \
         Use <code>go tool pprof URL</code>.</td></tr>\n</table>\n</body></html>\n"
    )
}

/// Samples the whole process for `seconds` and returns the gzipped profile.
pub async fn cpu_profile(seconds: u64) -> Result<Vec<u8>, ProfileError> {
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Err(ProfileError::Busy);
    }
    let secs = seconds.clamp(1, MAX_SECONDS);
    let res = tokio::task::spawn_blocking(move || sample(Duration::from_secs(secs))).await;
    RUNNING.store(false, Ordering::Release);
    res.map_err(|e| ProfileError::Failed(e.to_string()))?
}

/// Runs on a blocking thread: the profiler's guard is not `Send`.
fn sample(d: Duration) -> Result<Vec<u8>, ProfileError> {
    let fail = |e: pprof::Error| ProfileError::Failed(e.to_string());
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(fail)?;
    std::thread::sleep(d);
    let report = guard.report().build().map_err(fail)?;
    drop(guard);
    let profile = encode(&report);
    let mut buf = Vec::with_capacity(prost::Message::encoded_len(&profile));
    prost::Message::encode(&profile, &mut buf).map_err(|e| ProfileError::Failed(e.to_string()))?;
    super::respond::gzip(&buf).map_err(|e| ProfileError::Failed(e.to_string()))
}

/// Strings are referenced by their index; index 0 is the empty string.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn id(&mut self, s: &str) -> i64 {
        if self.table.is_empty() {
            self.table.push(String::new());
            self.index.insert(String::new(), 0);
        }
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

fn encode(report: &pprof::Report) -> proto::Profile {
    let mut strings = Strings::default();
    let period = 1_000_000_000 / i64::from(report.timing.frequency.max(1));
    let (samples_s, count_s) = (strings.id("samples"), strings.id("count"));
    let (cpu_s, nanos_s, thread_s) = (
        strings.id("cpu"),
        strings.id("nanoseconds"),
        strings.id("thread"),
    );
    let mut functions: HashMap<String, u64> = HashMap::new();
    let mut profile = proto::Profile::default();
    for (frames, count) in &report.data {
        let mut location_id = Vec::new();
        for symbol in frames.frames.iter().flatten() {
            let name = symbol.name();
            let id = match functions.get(&name) {
                Some(&id) => id,
                None => {
                    let id = functions.len() as u64 + 1;
                    profile.function.push(proto::Function {
                        id,
                        name: strings.id(&name),
                        system_name: strings.id(&symbol.sys_name()),
                        filename: strings.id(&symbol.filename()),
                        start_line: 0,
                    });
                    profile.location.push(proto::Location {
                        id,
                        line: vec![proto::Line {
                            function_id: id,
                            line: i64::from(symbol.lineno()),
                        }],
                        ..Default::default()
                    });
                    functions.insert(name, id);
                    id
                }
            };
            location_id.push(id);
        }
        let n = *count as i64;
        profile.sample.push(proto::Sample {
            location_id,
            value: vec![n, n * period],
            label: vec![proto::Label {
                key: thread_s,
                str: strings.id(&frames.thread_name_or_id()),
                ..Default::default()
            }],
        });
    }
    profile.sample_type = vec![
        proto::ValueType {
            r#type: samples_s,
            unit: count_s,
        },
        proto::ValueType {
            r#type: cpu_s,
            unit: nanos_s,
        },
    ];
    profile.period_type = Some(proto::ValueType {
        r#type: cpu_s,
        unit: nanos_s,
    });
    profile.period = period;
    profile.time_nanos = report
        .timing
        .start_time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64;
    profile.duration_nanos = report.timing.duration.as_nanos() as i64;
    profile.string_table = std::mem::take(&mut strings.table);
    profile
}

/// The messages of perftools' `profile.proto` that a CPU profile uses.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(uint64, tag = "3")]
        pub address: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The profiler is one per process: the tests that sample take turns, or one would
    /// see the other's profile as `Busy`.
    static TAKE_TURNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn decode(gz: &[u8]) -> proto::Profile {
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut raw).unwrap();
        prost::Message::decode(&raw[..]).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_profile_at_a_time_and_well_formed() {
        let _turn = TAKE_TURNS.lock().await;
        let first = tokio::spawn(cpu_profile(1));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(matches!(cpu_profile(1).await, Err(ProfileError::Busy)));
        let p = decode(&first.await.unwrap().unwrap());
        assert_eq!(p.string_table[0], "");
        let st = |i: i64| p.string_table[i as usize].as_str();
        assert_eq!(st(p.sample_type[0].r#type), "samples");
        assert_eq!(st(p.sample_type[1].unit), "nanoseconds");
        assert_eq!(p.period, 10_000_000);
        assert!(p.duration_nanos >= 1_000_000_000);
        assert!(cpu_profile(1).await.is_ok(), "the next profile may start");
    }

    /// Spins on the profiling thread itself: some kernels deliver the process-wide
    /// SIGPROF only to the thread that armed the timer.
    #[inline(never)]
    fn spin_for_the_profiler(d: Duration) -> u64 {
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < d {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        x
    }

    #[test]
    fn samples_are_encoded_with_their_functions() {
        let _turn = TAKE_TURNS.blocking_lock();
        while RUNNING.swap(true, Ordering::AcqRel) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            .build()
            .unwrap();
        spin_for_the_profiler(Duration::from_millis(1500));
        let report = guard.report().build().unwrap();
        drop(guard);
        RUNNING.store(false, Ordering::Release);
        let mut buf = Vec::new();
        prost::Message::encode(&encode(&report), &mut buf).unwrap();
        let p = decode(&super::super::respond::gzip(&buf).unwrap());
        assert!(!p.sample.is_empty(), "a busy thread was sampled");
        for s in &p.sample {
            assert_eq!(s.value[1], s.value[0] * p.period);
            for id in &s.location_id {
                assert!(p.location.iter().any(|l| l.id == *id));
            }
        }
        let st = |i: i64| p.string_table[i as usize].as_str();
        assert!(
            p.function
                .iter()
                .any(|f| st(f.name).contains("spin_for_the_profiler")),
            "the spinning function shows by name"
        );
    }
}
