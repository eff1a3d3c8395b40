//! Test support shared by every integration test: `mod support;` at the top of a test
//! file, then `use support::…`. One place for each thing a test needs:
//!
//! - [`peers`]: finding the real peers' binaries (Debian stable's and today's from sid,
//!   [`peers::PeerSet`]), free ports, child processes killed on drop.
//! - [`servers`]: starting Prometheus, Alertmanager, VictoriaMetrics and the tocsin
//!   binary on free ports and waiting until they are ready; [`servers::Servers`], the
//!   Prometheus (and Alertmanager) most end-to-end tests start tocsin against.
//! - [`http`]: readiness, polling JSON until it reaches a state, and the alerts a real
//!   Alertmanager holds.
//! - [`web`]: the web server in-process over a fake state (`server().start()`), and the
//!   snapshot fixture the API tests read.
//! - [`engine`]: the engine in-process on paused time (`tokio::time::pause`).
//! - [`certs`]: a test CA and the TLS pairs it signs, made at test time, and a client
//!   that trusts it.
//! - [`cluster`]: several tocsin members on loopback sharing groups, with the real
//!   Prometheus and Alertmanager they evaluate against (the `cluster_*` tests).
//! - [`dns`]: a loopback DNS server answering from a zone the test changes (A, AAAA,
//!   SRV, NXDOMAIN, SERVFAIL, garbage, silence).
//! - [`fake_http`]: an in-process HTTP server answering from a script (a datasource,
//!   Alertmanager or remote-write endpoint that fails, stalls or answers garbage).
//! - [`eventually`]: wait for state a background task reaches, instead of sleeping.
//! - [`shape`], [`shape_reference`]: JSON shape comparison, and the real Prometheus the
//!   shape tests compare against.
//!
//! - [`rules`]: the rule core's builders (rules, samples, contexts without a loader).
//! - [`secrets`]: everything tocsin shows, asked with its auth, to search for secrets.
//! - [`backtest`]: the backtest tests' old and new rules, and the binary run in a
//!   directory.
//!
//! Each test binary compiles this whole module and uses part of it, hence `dead_code` is
//! allowed.
#![allow(dead_code)]

pub mod backtest;
pub mod certs;
pub mod cluster;
pub mod dns;
pub mod engine;
pub mod fake_http;
pub mod http;
pub mod live_api;
pub mod peers;
pub mod rules;
pub mod secrets;
pub mod servers;
pub mod shape;
pub mod shape_reference;
pub mod web;

use std::time::{Duration, Instant};

/// Checks `cond` every 20 ms until it holds or `timeout` passes; whether it held. For
/// state that background tasks reach in their own time (a queue drained, a log line
/// written): poll for it rather than sleep a guessed while.
pub async fn eventually(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
