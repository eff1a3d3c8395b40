//! vmalert flags that tocsin accepts so that a vmalert command line runs unchanged, but
//! that change nothing here: tuning knobs of VictoriaMetrics' Go runtime and HTTP stack,
//! log shaping, the service-discovery concurrency settings and VictoriaMetrics' storage
//! internals. Each one that is set is named in a start-up warning, so nobody believes a
//! setting took effect when it did not.
//!
//! Flags whose silent acceptance could mislead about security or results
//! (`-datasource.queryTimeAlignment` of 1.79.5, …) are not here:
//! they stay unknown, and tocsin refuses to start with them. `docs/migration.md` lists
//! every vmalert flag and what tocsin does with it.

use clap::Args;

use crate::bytesize::parse_size;
use crate::cli::{parse_count, parse_float, parse_go_bool, parse_go_duration};

/// Declares the accepted-but-inert flags with vmalert's value type (`bool`, `int`,
/// `float`, `duration`, `size`, `string`): a value of the wrong type is refused at start-up
/// as vmalert refuses it, even though it would change nothing. A `bool` takes Go's bool
/// forms (`-flag`, `-flag=true`, `-flag=0`); any other kind takes one value.
macro_rules! inert_flags {
    ($( $field:ident: $kind:tt = $name:literal, $why:literal; )*) => {
        /// vmalert flags accepted for compatibility; none of them has an effect.
        #[allow(missing_docs)]
        #[derive(Debug, Args, Clone, Default)]
        pub struct CompatFlags {
            $(
                #[arg(long = $name, value_name = inert_flags!(@value $kind),
                      help = concat!("vmalert's; accepted, no effect: ", $why),
                      value_parser = inert_flags!(@parser $kind),
                      num_args = inert_flags!(@nargs $kind),
                      default_missing_value = "true",
                      require_equals = inert_flags!(@eq $kind), hide_default_value = true)]
                pub $field: Option<String>,
            )*
        }

        impl CompatFlags {
            /// The flags given on the command line, with the reason each is inert.
            pub fn given(&self) -> Vec<(&'static str, &'static str)> {
                let mut out = Vec::new();
                $( if self.$field.is_some() { out.push(($name, $why)); } )*
                out
            }
        }
    };
    (@value bool) => { "BOOL" };
    (@value int) => { "INT" };
    (@value float) => { "FLOAT" };
    (@value duration) => { "DURATION" };
    (@value size) => { "SIZE" };
    (@value string) => { "VALUE" };
    (@parser bool) => { |s: &str| match parse_go_bool(s) {
        Some(b) => Ok(b.to_string()),
        None => Err(format!("invalid value {s:?}: use true or false")),
    } };
    (@parser int) => { |s: &str| parse_count(s).map(|_| s.to_string()) };
    (@parser float) => { |s: &str| parse_float(s).map(|_| s.to_string()) };
    (@parser duration) => { |s: &str| parse_go_duration(s).map(|_| s.to_string()) };
    (@parser size) => { |s: &str| parse_size(s).map(|_| s.to_string()) };
    (@parser string) => { |s: &str| Ok::<_, String>(s.to_string()) };
    (@nargs bool) => { 0..=1 };
    (@nargs $other:tt) => { 1 };
    (@eq bool) => { true };
    (@eq $other:tt) => { false };
}

inert_flags! {
    datasource_disable_keep_alive: bool = "datasource.disableKeepAlive",
        "tocsin keeps connections alive and reuses them";
    datasource_max_idle_connections: int = "datasource.maxIdleConnections",
        "the connection pool grows as needed";
    datasource_show_url: bool = "datasource.showURL",
        "URLs are always shown with credentials and secret query parameters masked";
    remote_read_show_url: bool = "remoteRead.showURL",
        "URLs are always shown with credentials and secret query parameters masked";
    remote_write_show_url: bool = "remoteWrite.showURL",
        "URLs are always shown with credentials and secret query parameters masked";
    enable_tcp6: bool = "enableTCP6",
        "tocsin listens and connects over IPv4 and IPv6 as the addresses say";
    fs_disable_mmap: bool = "fs.disableMmap",
        "tocsin maps no files";
    memory_allowed_bytes: size = "memory.allowedBytes",
        "tocsin has no caches sized by available memory";
    memory_allowed_percent: float = "memory.allowedPercent",
        "tocsin has no caches sized by available memory";
    http_conn_timeout: duration = "http.connTimeout",
        "connections to tocsin's HTTP server are not recycled on a timer";
    http_idle_conn_timeout: duration = "http.idleConnTimeout",
        "idle connections are closed by the client";
    http_disable_response_compression: bool = "http.disableResponseCompression",
        "responses are not compressed";
    http_max_graceful_shutdown_duration: duration = "http.maxGracefulShutdownDuration",
        "use -shutdownTimeout";
    http_shutdown_delay: duration = "http.shutdownDelay",
        "use -shutdownTimeout";
    logger_disable_timestamps: bool = "loggerDisableTimestamps",
        "log lines always carry a timestamp";
    logger_errors_per_second_limit: int = "loggerErrorsPerSecondLimit",
        "logging is not rate-limited";
    logger_warns_per_second_limit: int = "loggerWarnsPerSecondLimit",
        "logging is not rate-limited";
    logger_output: string = "loggerOutput",
        "logs go to stderr";
    logger_timezone: string = "loggerTimezone",
        "log timestamps are in UTC";
    remote_read_ignore_restore_errors: bool = "remoteRead.ignoreRestoreErrors",
        "a failed restore is always logged and evaluation starts anyway (vmalert's default)";
    promscrape_consul_wait_time: duration = "promscrape.consul.waitTime",
        "Consul is asked every -promscrape.consulSDCheckInterval, without blocking queries";
    promscrape_discovery_concurrency: int = "promscrape.discovery.concurrency",
        "discovery asks its sources one at a time";
    promscrape_discovery_concurrent_wait_time: duration = "promscrape.discovery.concurrentWaitTime",
        "discovery asks its sources one at a time";
    blockcache_misses_before_caching: int = "blockcache.missesBeforeCaching",
        "a VictoriaMetrics storage cache; tocsin stores no data blocks";
    filestream_disable_fadvise: bool = "filestream.disableFadvise",
        "VictoriaMetrics storage I/O; tocsin reads no large data files";
    fs_disable_mincore: bool = "fs.disableMincore",
        "VictoriaMetrics storage I/O; tocsin maps no files";
    fs_max_concurrency: int = "fs.maxConcurrency",
        "VictoriaMetrics storage I/O; tocsin reads only its rule and template files";
    intern_string_cache_expire_duration: duration = "internStringCacheExpireDuration",
        "VictoriaMetrics' string-interning cache; tocsin has no such cache to tune";
    intern_string_disable_cache: bool = "internStringDisableCache",
        "VictoriaMetrics' string-interning cache; tocsin has no such cache to tune";
    intern_string_max_len: int = "internStringMaxLen",
        "VictoriaMetrics' string-interning cache; tocsin has no such cache to tune";
}

#[cfg(test)]
mod tests {
    use crate::cli::tests::parse;

    #[test]
    fn inert_flags_are_accepted_in_go_forms_and_reported() {
        let cli = parse(&[
            "-fs.disableMmap",
            "-loggerTimezone=Europe/Berlin",
            "-memory.allowedPercent",
            "60",
            "-datasource.disableKeepAlive=false",
        ])
        .unwrap();
        let names: Vec<&str> = cli.run.compat.given().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "datasource.disableKeepAlive",
                "fs.disableMmap",
                "memory.allowedPercent",
                "loggerTimezone"
            ]
        );
        assert!(parse(&[]).unwrap().run.compat.given().is_empty());
    }

    #[test]
    fn security_flags_stay_unknown() {
        for flag in [
            "-datasource.queryTimeAlignment=false",
            "-datasource.queryTimeAlignment",
        ] {
            assert!(
                parse(&[flag]).is_err(),
                "{flag} must be refused, not ignored"
            );
        }
    }
}
