//! `/metrics`: the registry handed to the server, plus the standard `process_*`
//! metrics read from `/proc` (Linux only; elsewhere they are simply absent), so that
//! dashboards built for vmalert and Prometheus find memory and CPU without extra code.

use std::fmt::Write as _;

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The content type prometheus-client's text encoder produces.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Encodes `registry`, then the process metrics, then `# EOF`. Without `metadata`
/// (vmalert's `-metrics.exposeMetadata=false`) the `# HELP`, `# TYPE` and `# UNIT`
/// lines are left out: the samples alone.
pub fn encode(registry: &Registry, metadata: bool) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(4096);
    prometheus_client::encoding::text::encode_registry(&mut out, registry)?;
    if let Some(p) = ProcessStats::read() {
        p.write(&mut out)?;
    }
    prometheus_client::encoding::text::encode_eof(&mut out)?;
    if !metadata {
        out = out
            .lines()
            .filter(|l| {
                !["# HELP ", "# TYPE ", "# UNIT "]
                    .iter()
                    .any(|m| l.starts_with(m))
            })
            .fold(String::with_capacity(out.len()), |mut s, l| {
                s.push_str(l);
                s.push('\n');
                s
            });
    }
    Ok(out)
}

type PathCode = [(&'static str, String); 2];
type PathOnly = [(&'static str, String); 1];

/// The server's own request metrics, registered by the application into the registry
/// it hands to the server (the server cannot register into a shared `Registry`).
#[derive(Clone, Debug, Default)]
pub struct HttpMetrics {
    requests: Family<PathCode, Counter>,
    seconds: Family<PathOnly, Counter<f64, AtomicU64>>,
    renders: Family<PathOnly, Counter>,
}

impl HttpMetrics {
    /// Registers `tocsin_http_requests_total{path,code}`,
    /// `tocsin_http_request_duration_seconds_total{path}` and
    /// `tocsin_http_renders_total{path}`.
    pub fn register(registry: &mut Registry) -> HttpMetrics {
        let m = HttpMetrics::default();
        registry.register(
            "tocsin_http_requests",
            "HTTP requests served, by endpoint and status code.",
            m.requests.clone(),
        );
        registry.register(
            "tocsin_http_request_duration_seconds",
            "Total time spent serving HTTP requests, by endpoint.",
            m.seconds.clone(),
        );
        registry.register(
            "tocsin_http_renders",
            "Expensive answers rendered, by endpoint: rules and alerts answers are rendered once per status change and query, however many requests ask for them.",
            m.renders.clone(),
        );
        m
    }

    /// Counts one rendering of an expensive answer.
    pub fn rendered(&self, path: &'static str) {
        self.renders
            .get_or_create(&[("path", path.to_string())])
            .inc();
    }

    /// Counts one request; `path` is the endpoint's canonical path (or `other`).
    pub fn observe(&self, path: &'static str, code: u16, took: Duration) {
        self.requests
            .get_or_create(&[("path", path.to_string()), ("code", code.to_string())])
            .inc();
        self.seconds
            .get_or_create(&[("path", path.to_string())])
            .inc_by(took.as_secs_f64());
    }
}

/// The server's security counters: refused credentials, certificate reloads, broken
/// PROXY headers. Registered by the application like [`HttpMetrics`].
#[derive(Clone, Debug, Default)]
pub struct SecurityMetrics {
    auth_failures: Family<[(&'static str, &'static str); 1], Counter>,
    tls_reloads: Counter,
    tls_reload_errors: Counter,
    tls_last_ok: prometheus_client::metrics::gauge::Gauge,
    proxy_errors: Counter,
}

impl SecurityMetrics {
    /// Registers `tocsin_http_auth_failures_total{reason}`,
    /// `tocsin_tls_certificate_reloads_total`, `tocsin_tls_certificate_reload_errors_total`,
    /// `tocsin_tls_certificate_last_reload_successful` and
    /// `tocsin_http_proxy_protocol_errors_total`.
    pub fn register(registry: &mut Registry) -> SecurityMetrics {
        let m = SecurityMetrics::default();
        m.tls_last_ok.set(1);
        // Both reasons show from the start, at 0, so alerts and dashboards find them.
        for reason in ["wrong_basic_auth", "wrong_auth_key"] {
            drop(m.auth_failures.get_or_create(&[("reason", reason)]));
        }
        registry.register(
            "tocsin_http_auth_failures",
            "Requests refused for missing or wrong credentials, by reason (wrong_basic_auth, wrong_auth_key).",
            m.auth_failures.clone(),
        );
        registry.register(
            "tocsin_tls_certificate_reloads",
            "Times a changed -tlsCertFile/-tlsKeyFile pair was put into service.",
            m.tls_reloads.clone(),
        );
        registry.register(
            "tocsin_tls_certificate_reload_errors",
            "Times a changed -tlsCertFile/-tlsKeyFile pair was unusable (the previous one stayed in service).",
            m.tls_reload_errors.clone(),
        );
        registry.register(
            "tocsin_tls_certificate_last_reload_successful",
            "0 while the certificate files on disk hold a pair that could not be loaded, else 1.",
            m.tls_last_ok.clone(),
        );
        registry.register(
            "tocsin_http_proxy_protocol_errors",
            "Connections dropped for a missing or malformed PROXY protocol header.",
            m.proxy_errors.clone(),
        );
        m
    }

    pub fn auth_failed(&self, reason: &'static str) {
        self.auth_failures
            .get_or_create(&[("reason", reason)])
            .inc();
    }

    pub fn tls_reloaded(&self, ok: bool) {
        if ok {
            self.tls_reloads.inc();
        } else {
            self.tls_reload_errors.inc();
        }
        self.tls_last_ok.set(i64::from(ok));
    }

    pub fn proxy_protocol_error(&self) {
        self.proxy_errors.inc();
    }
}

/// A point-in-time reading of this process from `/proc/self`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub start_time_seconds: f64,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub threads: u64,
}

/// Linux reports CPU times in clock ticks; 100 per second on every architecture Linux
/// exposes to user space through `/proc` (USER_HZ), and there is no `libc` here to ask.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessStats {
    /// Reads `/proc/self/{stat,status,fd,limits}` and `/proc/stat`; `None` when `/proc`
    /// is unavailable or unreadable.
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let mut p = Self::parse(&stat, &status, &boot)?;
        p.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        p.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| parse_max_fds(&l));
        Some(p)
    }

    /// Parses the text of `/proc/self/stat`, `/proc/self/status` and `/proc/stat`.
    pub fn parse(stat: &str, status: &str, proc_stat: &str) -> Option<ProcessStats> {
        // The command name (field 2) may contain spaces and parentheses: fields after
        // the last ')' are space-separated, starting with field 3 (state).
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // Field n (1-based) of stat is f[n - 3].
        let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let utime = num(14)?;
        let stime = num(15)?;
        let threads = num(20)?;
        let start_ticks = num(22)?;
        let vsize = num(23)?;
        let rss_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())?;
        let btime = proc_stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())?;
        Some(ProcessStats {
            cpu_seconds: (utime + stime) as f64 / TICKS_PER_SECOND,
            resident_bytes: rss_kb * 1024,
            virtual_bytes: vsize,
            start_time_seconds: btime as f64 + start_ticks as f64 / TICKS_PER_SECOND,
            open_fds: None,
            max_fds: None,
            threads,
        })
    }

    /// Writes the OpenMetrics text of these readings.
    pub fn write(&self, out: &mut String) -> std::fmt::Result {
        let fam = |out: &mut String, name: &str, typ: &str, help: &str| {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} {typ}")
        };
        fam(
            out,
            "process_cpu_seconds",
            "counter",
            "Total user and system CPU time spent in seconds.",
        )?;
        writeln!(out, "process_cpu_seconds_total {}", self.cpu_seconds)?;
        fam(
            out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        )?;
        writeln!(out, "process_resident_memory_bytes {}", self.resident_bytes)?;
        fam(
            out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
        )?;
        writeln!(out, "process_virtual_memory_bytes {}", self.virtual_bytes)?;
        fam(
            out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
        )?;
        writeln!(
            out,
            "process_start_time_seconds {}",
            self.start_time_seconds
        )?;
        fam(
            out,
            "process_threads",
            "gauge",
            "Number of OS threads in the process.",
        )?;
        writeln!(out, "process_threads {}", self.threads)?;
        if let Some(n) = self.open_fds {
            fam(
                out,
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
            )?;
            writeln!(out, "process_open_fds {n}")?;
        }
        if let Some(n) = self.max_fds {
            fam(
                out,
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
            )?;
            writeln!(out, "process_max_fds {n}")?;
        }
        Ok(())
    }
}

fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_text() {
        let stat = "4242 (tocsin (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                    250 50 0 0 20 0 7 0 12345 104857600 2000 18446744073709551615";
        let status = "Name:\ttocsin\nVmRSS:\t    8192 kB\nThreads:\t7\n";
        let proc_stat = "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
        let p = ProcessStats::parse(stat, status, proc_stat).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.resident_bytes, 8192 * 1024);
        assert_eq!(p.virtual_bytes, 104_857_600);
        assert_eq!(p.threads, 7);
        assert_eq!(p.start_time_seconds, 1_700_000_123.45);
    }

    #[test]
    fn reads_this_process_on_linux() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            eprintln!("skipping: no /proc");
            return;
        }
        let p = ProcessStats::read().expect("readable /proc");
        assert!(p.resident_bytes > 0);
        assert!(p.threads >= 1);
        assert!(p.open_fds.unwrap_or(0) >= 3);
    }

    #[test]
    fn max_fds_from_limits() {
        let l = "Limit Soft Hard Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(l), Some(1024));
    }
}
