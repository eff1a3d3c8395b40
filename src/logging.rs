//! Log set-up from `-loggerLevel` and `-loggerFormat`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. vmalert's levels map onto tracing's: FATAL and PANIC
/// show errors only (tocsin never panics on purpose). `RUST_LOG`, when set, wins, for
/// debugging one module.
pub fn init(level: &str, format: &str) {
    let lvl = match level {
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(lvl));
    // Colours only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
