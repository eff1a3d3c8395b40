//! Command-line flags, under vmalert's names.
//!
//! vmalert users paste their command lines as they are, so flags are accepted in Go's
//! styles (`-flag=value`, `-flag value`) as well as `--flag=value`. Go's single-dash long
//! flags are rewritten to double-dash before clap sees them (see [`normalize_args`]);
//! clap then does the parsing, the help text and the "did you mean" suggestions.

use std::ffi::OsString;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

/// tocsin: Prometheus-compatible alerting and recording rule evaluator (vmalert flags).
#[derive(Debug, Parser)]
#[command(name = "tocsin", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check rule files like `promtool check rules`: exit 0 when all are valid, 1 if not.
    Check(CheckArgs),
    /// Evaluate rules over a past range and write what they would have produced
    /// (recorded series, `ALERTS`, `ALERTS_FOR_STATE`), or report when alerts were
    /// pending and firing (`--report`).
    Replay(Box<ReplayArgs>),
    /// Unit tests, like `promtool test`.
    Test(TestArgs),
}

/// `tocsin test`: promtool's `test` command.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Also write the results as JUnit XML to this file (promtool's `--junit`).
    #[arg(long = "junit", value_name = "FILE", global = true)]
    pub junit: Option<String>,
    #[command(subcommand)]
    pub command: TestCommand,
}

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run rule unit tests written for `promtool test rules` (or vmalert-tool's
    /// `unittest`) on tocsin's own rule evaluation and in-process PromQL engine: exit 0
    /// when every test passes, 1 if not.
    Rules(TestRulesArgs),
}

/// `tocsin test rules FILE...`, with promtool's flags.
#[derive(Debug, Args)]
pub struct TestRulesArgs {
    /// Unit-test files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Only run test groups whose `name` matches this regular expression.
    #[arg(long = "run", value_name = "REGEX")]
    pub run: Vec<String>,
    /// Print failed alert checks as a coloured JSON difference of expected and got.
    #[arg(long = "diff", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub diff: bool,
    /// Print when each test group starts and ends, and every series stored at its end.
    #[arg(long = "debug", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub debug: bool,
    /// Accept unknown fields in the rule files (the test files stay strict).
    #[arg(long = "ignore-unknown-fields", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub ignore_unknown_fields: bool,
}

/// `tocsin replay`: a friendlier spelling of vmalert's `-replay.timeFrom` mode.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Start of the range: RFC 3339, unix seconds, or relative to now (`-7d`). Defaults
    /// to `-replay.timeFrom`.
    #[arg(long = "from", allow_hyphen_values = true, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the range (same forms as `--from`); defaults to `-replay.timeTo`, else now.
    #[arg(long = "to", allow_hyphen_values = true, value_name = "TIME")]
    pub to: Option<String>,
    /// Write nothing: print, per alerting rule, when each alert was pending and firing.
    #[arg(long = "report", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub report: bool,
    /// Format of the `--report` output.
    #[arg(long = "format", default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    #[command(flatten)]
    pub run: RunFlags,
}

/// vmalert's `-replay.*` flags: with `-replay.timeFrom` set, tocsin replays instead of
/// running live.
#[derive(Debug, Args, Clone)]
pub struct ReplayFlags {
    /// Replay rules from this time (RFC 3339, unix seconds or `-7d`) instead of running
    /// live, then exit.
    #[arg(
        long = "replay.timeFrom",
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub time_from: Option<String>,
    /// End of the replay range (default: now).
    #[arg(
        long = "replay.timeTo",
        allow_hyphen_values = true,
        value_name = "TIME"
    )]
    pub time_to: Option<String>,
    /// Evaluation timestamps fetched by one range query (window size).
    #[arg(long = "replay.maxDatapointsPerQuery", default_value = "1000")]
    pub max_datapoints_per_query: usize,
    /// Pause before a rule queries series that earlier rules of its group just wrote,
    /// for storages that make writes searchable with a delay.
    #[arg(long = "replay.rulesDelay", default_value = "1s", value_parser = parse_go_duration)]
    pub rules_delay: Duration,
    /// Attempts per range query and per remote-write batch before giving up on a window.
    #[arg(long = "replay.ruleRetryAttempts", default_value = "5")]
    pub rule_retry_attempts: usize,
    /// Hide the progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long = "replay.disableProgressBar", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_progress_bar: bool,
    /// Query windows evaluated at once, across rules and groups; as many more are
    /// fetched ahead.
    #[arg(long = "replay.ruleEvaluationConcurrency", default_value = "1")]
    pub rule_evaluation_concurrency: usize,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files to check (globs are expanded by the shell).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Validate `expr` as PromQL (set to false for MetricsQL rules).
    #[arg(long = "rule.validateExpressions", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub validate_expressions: bool,
    /// Validate label and annotation templates.
    #[arg(long = "rule.validateTemplates", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub validate_templates: bool,
    /// promtool's lint: `duplicate-rules` warns about rules repeated in a group, `none`
    /// turns it off.
    #[arg(long = "lint", default_value = "duplicate-rules", value_parser = ["duplicate-rules", "none"])]
    pub lint: String,
    /// Make lint findings fatal (exit code 3), as promtool's `--lint-fatal`.
    #[arg(long = "lint-fatal", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub lint_fatal: bool,
}

/// Flags of the evaluator itself (no subcommand).
#[derive(Debug, Args, Clone)]
pub struct RunFlags {
    /// Rule files, globs (`**` allowed) or comma-separated lists of them.
    #[arg(long = "rule", value_name = "PATH")]
    pub rule: Vec<String>,
    /// Files with `{{ define }}` blocks usable from every rule's templates.
    #[arg(long = "rule.templates", value_name = "PATH")]
    pub rule_templates: Vec<String>,
    /// Only load and validate the rule files and the `-cluster.*` flags, then exit (0 if
    /// valid, 1 if not).
    #[arg(long = "dryRun", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub dry_run: bool,
    /// Validate rule expressions as PromQL (turn off for MetricsQL).
    #[arg(long = "rule.validateExpressions", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub validate_expressions: bool,
    /// Validate label and annotation templates.
    #[arg(long = "rule.validateTemplates", default_value = "true", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub validate_templates: bool,
    /// Default evaluation interval for groups without `interval`.
    #[arg(long = "evaluationInterval", default_value = "1m", value_parser = parse_go_duration)]
    pub evaluation_interval: Duration,
    /// Address of the HTTP server (API, UI, /metrics). `:8880` means all interfaces.
    #[arg(long = "httpListenAddr", default_value = ":8880")]
    pub http_listen_addr: String,
    /// URL under which tocsin is reachable; used in `generatorURL` and `$externalURL`.
    #[arg(long = "external.url", value_name = "URL")]
    pub external_url: Option<String>,
    /// `name=value` label added to every alert and recorded series.
    #[arg(long = "external.label", value_name = "NAME=VALUE", value_parser = parse_label_pair)]
    pub external_label: Vec<(String, String)>,
    /// Minimum level to log: INFO, WARN, ERROR, FATAL, PANIC (vmalert's), or DEBUG.
    #[arg(long = "loggerLevel", default_value = "INFO", value_parser = parse_log_level)]
    pub logger_level: String,
    /// Log format: `default` (text) or `json`.
    #[arg(long = "loggerFormat", default_value = "default", value_parser = ["default", "json"])]
    pub logger_format: String,

    /// Prometheus-compatible query API to evaluate rules against (a path prefix such as
    /// `/select/0/prometheus` is kept).
    #[arg(long = "datasource.url", value_name = "URL")]
    pub datasource_url: Option<String>,
    /// Timeout of one datasource query.
    #[arg(long = "datasource.queryTimeout", default_value = "30s", value_parser = parse_go_duration)]
    pub datasource_query_timeout: Duration,
    /// vmalert's `-datasource.lookback`: query at `now - lookback` (0 = off).
    #[arg(long = "datasource.lookback", default_value = "0", value_parser = parse_go_duration)]
    pub datasource_lookback: Duration,
    /// vmalert's `-datasource.queryStep`, sent as the `step` parameter (0 = group interval).
    #[arg(long = "datasource.queryStep", default_value = "5m", value_parser = parse_go_duration)]
    pub datasource_query_step: Duration,
    /// How long an idle keep-alive connection to the datasource is kept.
    #[arg(long = "datasource.idleConnTimeout", default_value = "50s", value_parser = parse_go_duration)]
    pub datasource_idle_conn_timeout: Duration,
    #[command(flatten)]
    pub datasource_auth: DatasourceAuth,

    /// Alertmanager URL to send alerts to; all are sent to in parallel.
    #[arg(long = "notifier.url", value_name = "URL")]
    pub notifier_url: Vec<String>,
    /// Timeout of one request to Alertmanager.
    #[arg(long = "notifier.sendTimeout", default_value = "10s", value_parser = parse_go_duration)]
    pub notifier_send_timeout: Duration,
    #[command(flatten)]
    pub notifier_auth: NotifierAuth,

    /// Remote-write endpoint for recorded series, `ALERTS` and `ALERTS_FOR_STATE`
    /// (`/api/v1/write` is appended unless `-remoteWrite.disablePathAppend`).
    #[arg(long = "remoteWrite.url", value_name = "URL")]
    pub remote_write_url: Option<String>,
    /// Do not append `/api/v1/write` to `-remoteWrite.url`.
    #[arg(long = "remoteWrite.disablePathAppend", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub remote_write_disable_path_append: bool,
    /// Samples held in memory waiting to be sent; when full, new samples are dropped and
    /// counted.
    #[arg(long = "remoteWrite.maxQueueSize", default_value = "100000")]
    pub remote_write_max_queue_size: usize,
    /// Maximum series per remote-write request.
    #[arg(long = "remoteWrite.maxBatchSize", default_value = "1000")]
    pub remote_write_max_batch_size: usize,
    /// Parallel remote-write senders.
    #[arg(long = "remoteWrite.concurrency", default_value = "1")]
    pub remote_write_concurrency: usize,
    /// Send what is queued at least this often.
    #[arg(long = "remoteWrite.flushInterval", default_value = "5s", value_parser = parse_go_duration)]
    pub remote_write_flush_interval: Duration,
    /// Timeout of one remote-write request.
    #[arg(long = "remoteWrite.sendTimeout", default_value = "30s", value_parser = parse_go_duration)]
    pub remote_write_send_timeout: Duration,
    /// First back-off after a failed remote write (doubles each retry).
    #[arg(long = "remoteWrite.retryMinInterval", default_value = "1s", value_parser = parse_go_duration)]
    pub remote_write_retry_min_interval: Duration,
    /// Give up retrying one batch after this long, dropping and counting it.
    #[arg(long = "remoteWrite.retryMaxTime", default_value = "30s", value_parser = parse_go_duration)]
    pub remote_write_retry_max_time: Duration,
    /// How long an idle keep-alive connection to the remote-write endpoint is kept.
    #[arg(long = "remoteWrite.idleConnTimeout", default_value = "50s", value_parser = parse_go_duration)]
    pub remote_write_idle_conn_timeout: Duration,
    #[command(flatten)]
    pub remote_write_auth: RemoteWriteAuth,

    /// Prometheus-compatible query API to restore alert state from `ALERTS_FOR_STATE` at
    /// start-up.
    #[arg(long = "remoteRead.url", value_name = "URL")]
    pub remote_read_url: Option<String>,
    /// How far back to look for `ALERTS_FOR_STATE` when restoring.
    #[arg(long = "remoteRead.lookback", default_value = "1h", value_parser = parse_go_duration)]
    pub remote_read_lookback: Duration,
    /// Do not append `/api/v1/query` to `-remoteRead.url`: the URL is the full query path.
    #[arg(long = "remoteRead.disablePathAppend", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub remote_read_disable_path_append: bool,
    /// How long an idle keep-alive connection to the remote-read endpoint is kept.
    #[arg(long = "remoteRead.idleConnTimeout", default_value = "50s", value_parser = parse_go_duration)]
    pub remote_read_idle_conn_timeout: Duration,
    #[command(flatten)]
    pub remote_read_auth: RemoteReadAuth,

    /// Minimum time before re-sending a firing alert to Alertmanager.
    #[arg(long = "rule.resendDelay", default_value = "1m", value_parser = parse_go_duration)]
    pub rule_resend_delay: Duration,
    /// Cap on how far in the future an alert's `endsAt` may lie (0 = no cap).
    #[arg(long = "rule.maxResolveDuration", default_value = "0", value_parser = parse_go_duration)]
    pub rule_max_resolve_duration: Duration,
    /// How long resolved alerts are kept (and re-sent as resolved).
    #[arg(long = "rule.resolvedRetention", default_value = "15m", value_parser = parse_go_duration)]
    pub rule_resolved_retention: Duration,
    /// Memory guard: the most alerts all rules together may hold (pending, firing and
    /// resolved ones within `-rule.resolvedRetention`), on top of each group's `limit`.
    /// A rule that would take more fails as with `limit`: its alerts are dropped, the
    /// error shows on the rule and `tocsin_rule_max_active_alerts_exceeded_total`
    /// counts it. 0 = no limit.
    #[arg(long = "rule.maxActiveAlerts", default_value = "0")]
    pub rule_max_active_alerts: usize,
    /// Do not add the `alertgroup` label (the group name) to alerts.
    #[arg(long = "disableAlertgroupLabel", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_alertgroup_label: bool,

    /// Key required by `/-/reload` (as `?authKey=`); empty means no key.
    #[arg(long = "reloadAuthKey", default_value = "")]
    pub reload_auth_key: String,
    /// Prefix for every HTTP path served (for running behind a proxy).
    #[arg(long = "http.pathPrefix", default_value = "")]
    pub http_path_prefix: String,
    /// Re-read the rule files this often even without a change event (0 = off).
    #[arg(long = "configCheckInterval", alias = "rule.configCheckInterval", default_value = "0",
          value_parser = parse_go_duration)]
    pub config_check_interval: Duration,
    /// On SIGTERM, how long to wait for in-flight evaluations and queued alerts and
    /// samples before exiting.
    #[arg(long = "shutdownTimeout", default_value = "10s", value_parser = parse_go_duration)]
    pub shutdown_timeout: Duration,
    #[command(flatten)]
    pub limits: crate::limit_flags::LimitFlags,
    #[command(flatten)]
    pub replay: ReplayFlags,
    #[command(flatten)]
    pub cluster: crate::cluster::ClusterFlags,
    #[command(flatten)]
    pub server: ServerFlags,
    #[command(flatten)]
    pub sources: FlagSources,
    #[command(flatten)]
    pub compat: crate::compat_flags::CompatFlags,
}

/// vmalert's flags for tocsin's own HTTP server: TLS, authentication, security headers,
/// PROXY protocol.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerFlags {
    /// Serve HTTPS on `-httpListenAddr`; needs `-tlsCertFile` and `-tlsKeyFile`.
    #[arg(long = "tls", default_value = "false", action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub tls: bool,
    /// PEM certificate (chain) for `-tls`; re-read when the file changes.
    #[arg(long = "tlsCertFile", value_name = "PATH")]
    pub tls_cert_file: Option<String>,
    /// PEM private key for `-tls`; re-read when the file changes.
    #[arg(long = "tlsKeyFile", value_name = "PATH")]
    pub tls_key_file: Option<String>,
    /// Lowest TLS version accepted with `-tls`: TLS12 or TLS13 (TLS10 and TLS11 are
    /// accepted as names but mean TLS12, the lowest that tocsin speaks).
    #[arg(long = "tlsMinVersion", value_name = "VERSION", value_parser = ["TLS10", "TLS11", "TLS12", "TLS13"])]
    pub tls_min_version: Option<String>,
    /// TLS 1.2 cipher suites allowed with `-tls`, by Go's names (comma-separated); TLS 1.3
    /// suites stay enabled unless some are listed.
    #[arg(long = "tlsCipherSuites", value_name = "NAMES")]
    pub tls_cipher_suites: Vec<String>,
    /// User name for basic auth on every route but `/health`, `/-/healthy` and `/-/ready`;
    /// empty disables basic auth.
    #[arg(long = "httpAuth.username", default_value = "")]
    pub http_auth_username: String,
    /// Password for `-httpAuth.username` (or `file:///path`, re-read when it changes).
    #[arg(
        long = "httpAuth.password",
        default_value = "",
        hide_default_value = true
    )]
    pub http_auth_password: String,
    /// Key for `/metrics`, passed as `?authKey=`; replaces basic auth there.
    #[arg(long = "metricsAuthKey", default_value = "", hide_default_value = true)]
    pub metrics_auth_key: String,
    /// Key for `/flags`, passed as `?authKey=`; replaces basic auth there.
    #[arg(long = "flagsAuthKey", default_value = "", hide_default_value = true)]
    pub flags_auth_key: String,
    /// Key for `/debug/pprof/*`, passed as `?authKey=`; replaces basic auth there.
    #[arg(long = "pprofAuthKey", default_value = "", hide_default_value = true)]
    pub pprof_auth_key: String,
    /// `Strict-Transport-Security` header value, e.g. `max-age=31536000; includeSubDomains`.
    #[arg(long = "http.header.hsts", default_value = "")]
    pub header_hsts: String,
    /// `X-Frame-Options` header value, e.g. `DENY`.
    #[arg(long = "http.header.frameOptions", default_value = "")]
    pub header_frame_options: String,
    /// `Content-Security-Policy` header value, e.g. `default-src 'self'`.
    #[arg(long = "http.header.csp", default_value = "")]
    pub header_csp: String,
    /// Do not answer CORS preflights and API responses with `Access-Control-Allow-*: *`.
    #[arg(long = "http.disableCORS", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub disable_cors: bool,
    /// Expect a PROXY protocol (v1 or v2) header on every connection to `-httpListenAddr`.
    #[arg(long = "httpListenAddr.useProxyProtocol", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub use_proxy_protocol: bool,
}

/// Where flags come from besides the command line, and which are secret.
#[derive(Debug, Args, Clone, Default)]
pub struct FlagSources {
    /// Also read flags from environment variables (the flag name with dots as
    /// underscores, after `-envflag.prefix`); the command line wins.
    #[arg(long = "envflag.enable", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub envflag_enable: bool,
    /// Prefix of the environment variables read with `-envflag.enable`.
    #[arg(long = "envflag.prefix", default_value = "")]
    pub envflag_prefix: String,
    /// Flags whose values are secret (comma-separated names), masked in `/flags` and logs;
    /// names containing pass, key, secret or token always are.
    #[arg(long = "secret.flags", value_name = "NAMES")]
    pub secret_flags: Vec<String>,
}

/// Declares the auth/TLS flag family vmalert gives every HTTP endpoint
/// (`-<prefix>.basicAuth.username`, `-<prefix>.bearerToken`, `-<prefix>.tlsCAFile`, …).
/// `$t` is `String` for single-endpoint flags and `Vec<String>` for `-notifier.*`, whose
/// values pair up with the `-notifier.url` at the same position, as in vmalert.
macro_rules! endpoint_auth_flags {
    ($name:ident, $prefix:literal, $t:ty) => {
        #[doc = concat!("Authentication and TLS for `-", $prefix, ".url`.")]
        #[derive(Debug, Args, Clone, Default)]
        pub struct $name {
            /// Basic-auth user name.
            #[arg(id = concat!($prefix, ".basicAuth.username"), long = concat!($prefix, ".basicAuth.username"))]
            pub basic_auth_username: $t,
            /// File holding the basic-auth user name (re-read when it changes).
            #[arg(id = concat!($prefix, ".basicAuth.usernameFile"), long = concat!($prefix, ".basicAuth.usernameFile"))]
            pub basic_auth_username_file: $t,
            /// Basic-auth password.
            #[arg(id = concat!($prefix, ".basicAuth.password"), long = concat!($prefix, ".basicAuth.password"))]
            pub basic_auth_password: $t,
            /// File holding the basic-auth password (re-read when it changes).
            #[arg(id = concat!($prefix, ".basicAuth.passwordFile"), long = concat!($prefix, ".basicAuth.passwordFile"))]
            pub basic_auth_password_file: $t,
            /// Bearer token for the `Authorization` header.
            #[arg(id = concat!($prefix, ".bearerToken"), long = concat!($prefix, ".bearerToken"))]
            pub bearer_token: $t,
            /// File holding the bearer token (re-read when it changes).
            #[arg(id = concat!($prefix, ".bearerTokenFile"), long = concat!($prefix, ".bearerTokenFile"))]
            pub bearer_token_file: $t,
            /// OAuth2 client ID (client credentials grant; the token is renewed before it
            /// expires).
            #[arg(id = concat!($prefix, ".oauth2.clientID"), long = concat!($prefix, ".oauth2.clientID"))]
            pub oauth2_client_id: $t,
            /// OAuth2 client secret.
            #[arg(id = concat!($prefix, ".oauth2.clientSecret"), long = concat!($prefix, ".oauth2.clientSecret"))]
            pub oauth2_client_secret: $t,
            /// File holding the OAuth2 client secret (re-read when it changes).
            #[arg(id = concat!($prefix, ".oauth2.clientSecretFile"), long = concat!($prefix, ".oauth2.clientSecretFile"))]
            pub oauth2_client_secret_file: $t,
            /// OAuth2 scopes, separated by `;`.
            #[arg(id = concat!($prefix, ".oauth2.scopes"), long = concat!($prefix, ".oauth2.scopes"))]
            pub oauth2_scopes: $t,
            /// OAuth2 token endpoint.
            #[arg(id = concat!($prefix, ".oauth2.tokenUrl"), long = concat!($prefix, ".oauth2.tokenUrl"))]
            pub oauth2_token_url: $t,
            /// Extra parameters of the token request, as JSON: `{"audience":"x"}`.
            #[arg(id = concat!($prefix, ".oauth2.endpointParams"), long = concat!($prefix, ".oauth2.endpointParams"))]
            pub oauth2_endpoint_params: $t,
            /// Extra HTTP headers, `'Name: value^^Name2: value2'`.
            #[arg(id = concat!($prefix, ".headers"), long = concat!($prefix, ".headers"))]
            pub headers: $t,
            /// CA certificate file to verify the server.
            #[arg(id = concat!($prefix, ".tlsCAFile"), long = concat!($prefix, ".tlsCAFile"))]
            pub tls_ca_file: $t,
            /// Client certificate file.
            #[arg(id = concat!($prefix, ".tlsCertFile"), long = concat!($prefix, ".tlsCertFile"))]
            pub tls_cert_file: $t,
            /// Client key file.
            #[arg(id = concat!($prefix, ".tlsKeyFile"), long = concat!($prefix, ".tlsKeyFile"))]
            pub tls_key_file: $t,
            /// Name to verify the server's certificate against instead of the URL's host.
            #[arg(id = concat!($prefix, ".tlsServerName"), long = concat!($prefix, ".tlsServerName"))]
            pub tls_server_name: $t,
            /// Skip certificate verification (testing only).
            #[arg(id = concat!($prefix, ".tlsInsecureSkipVerify"), long = concat!($prefix, ".tlsInsecureSkipVerify"), default_value = "false",
                  action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true",
                  require_equals = true)]
            pub tls_insecure_skip_verify: bool,
        }

        impl $name {
            /// The value of `-<prefix>.<key>` for the `i`-th URL.
            pub fn value(&self, key: &str, i: usize) -> Option<String> {
                let v: &$t = match key {
                    "basicAuth.username" => &self.basic_auth_username,
                    "basicAuth.usernameFile" => &self.basic_auth_username_file,
                    "basicAuth.password" => &self.basic_auth_password,
                    "basicAuth.passwordFile" => &self.basic_auth_password_file,
                    "bearerToken" => &self.bearer_token,
                    "bearerTokenFile" => &self.bearer_token_file,
                    "oauth2.clientID" => &self.oauth2_client_id,
                    "oauth2.clientSecret" => &self.oauth2_client_secret,
                    "oauth2.clientSecretFile" => &self.oauth2_client_secret_file,
                    "oauth2.scopes" => &self.oauth2_scopes,
                    "oauth2.tokenUrl" => &self.oauth2_token_url,
                    "oauth2.endpointParams" => &self.oauth2_endpoint_params,
                    "headers" => &self.headers,
                    "tlsCAFile" => &self.tls_ca_file,
                    "tlsCertFile" => &self.tls_cert_file,
                    "tlsKeyFile" => &self.tls_key_file,
                    "tlsServerName" => &self.tls_server_name,
                    _ => return None,
                };
                ClientFlagValue::at(v, i)
            }
        }
    };
}

/// A flag value of one client: a single value, or vmalert's per-URL lists.
pub trait ClientFlagValue {
    /// The value for the `i`-th URL, as vmalert's `GetOptionalArg`: a list with one value
    /// applies it to every URL; empty values count as unset.
    fn at(&self, i: usize) -> Option<String>;
}

impl ClientFlagValue for Option<String> {
    fn at(&self, _: usize) -> Option<String> {
        self.clone().filter(|v| !v.is_empty())
    }
}

impl ClientFlagValue for Vec<String> {
    fn at(&self, i: usize) -> Option<String> {
        let v = match self.len() {
            1 => self.first(),
            _ => self.get(i),
        };
        v.cloned().filter(|v| !v.is_empty())
    }
}

endpoint_auth_flags!(DatasourceAuth, "datasource", Option<String>);
endpoint_auth_flags!(RemoteWriteAuth, "remoteWrite", Option<String>);
endpoint_auth_flags!(RemoteReadAuth, "remoteRead", Option<String>);
endpoint_auth_flags!(NotifierAuth, "notifier", Vec<String>);

/// Rewrites Go-style flags (`-name`, `-name=value`) into clap's `--name` form.
///
/// A token is rewritten when it starts with a single dash followed by a letter and is
/// longer than two characters: `-rule=x` → `--rule=x`, `-dryRun` → `--dryRun`. Short
/// flags (`-h`, `-V`) and values that look negative (`-7d`, `-1`) stay as they are.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut out = Vec::new();
    let mut rest_is_positional = false;
    for (i, a) in args.into_iter().enumerate() {
        let a: OsString = a.into();
        if i == 0 || rest_is_positional {
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            rest_is_positional = true;
            out.push(a);
            continue;
        }
        let b = s.as_bytes();
        let go_long = b.len() > 2 && b[0] == b'-' && b[1].is_ascii_alphabetic();
        if go_long {
            out.push(OsString::from(format!("-{s}")));
        } else {
            out.push(a);
        }
    }
    out
}

/// Splits vmalert's comma-separated list values (`-rule=a.yml,b/*.yml`) while keeping
/// commas inside glob braces (`{a,b}.yml`) and brackets intact.
pub fn split_list(values: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        let mut depth = 0i32;
        let mut cur = String::new();
        for c in v.chars() {
            match c {
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            }
            if c == ',' && depth <= 0 {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            } else {
                cur.push(c);
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_string());
        }
    }
    out
}

/// Parses a duration as Go's `time.ParseDuration` does (`1m30s`, `1.5h`, `300ms`), plus
/// the `d`, `w` and `y` units that VictoriaMetrics flags also accept. A bare `0` is zero.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?}: use a number with a unit, like 30s, 1m or 1h30m");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(err());
    }
    let mut total = 0f64;
    let mut rest = t.strip_prefix('+').unwrap_or(t);
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => return Err(err()),
        };
        total += n * secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

fn parse_label_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, v)) if !n.is_empty() => Ok((n.to_string(), v.to_string())),
        _ => Err(format!("invalid label {s:?}: use name=value")),
    }
}

fn parse_log_level(s: &str) -> Result<String, String> {
    let up = s.to_ascii_uppercase();
    match up.as_str() {
        "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL" | "PANIC" => Ok(up),
        _ => Err(format!(
            "invalid level {s:?}: use one of DEBUG, INFO, WARN, ERROR, FATAL, PANIC"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut v = vec!["tocsin"];
        v.extend_from_slice(args);
        Cli::try_parse_from(normalize_args(v))
    }

    #[test]
    fn accepts_go_and_gnu_styles() {
        let c = parse(&[
            "-rule=a.yml",
            "-rule",
            "b.yml",
            "--rule=c.yml",
            "-dryRun",
            "-evaluationInterval=30s",
            "-external.label=cluster=eu",
            "-external.label",
            "replica=a",
        ])
        .unwrap();
        assert_eq!(c.run.rule, ["a.yml", "b.yml", "c.yml"]);
        assert!(c.run.dry_run);
        assert_eq!(c.run.evaluation_interval, Duration::from_secs(30));
        assert_eq!(
            c.run.external_label,
            [
                ("cluster".into(), "eu".into()),
                ("replica".into(), "a".into())
            ]
        );
    }

    #[test]
    fn defaults_match_vmalert() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.run.evaluation_interval, Duration::from_secs(60));
        assert_eq!(c.run.http_listen_addr, ":8880");
        assert!(!c.run.dry_run);
        assert!(c.run.validate_expressions);
    }

    #[test]
    fn bool_flags_take_explicit_values() {
        let c = parse(&["-dryRun=false", "-rule.validateExpressions=false"]).unwrap();
        assert!(!c.run.dry_run);
        assert!(!c.run.validate_expressions);
    }

    #[test]
    fn unknown_flag_suggests_the_closest() {
        let e = parse(&["-evalutionInterval=1m"]).unwrap_err().to_string();
        assert!(e.contains("evaluationInterval"), "{e}");
    }

    #[test]
    fn check_subcommand() {
        let c = parse(&["check", "a.yml", "b.yml"]).unwrap();
        match c.command {
            Some(Command::Check(a)) => assert_eq!(a.files, ["a.yml", "b.yml"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_rules_subcommand_takes_promtool_flags_in_both_places() {
        for args in [
            &[
                "test",
                "--junit=out.xml",
                "rules",
                "-run",
                "a",
                "--run=b",
                "--diff",
                "x.yml",
            ][..],
            &[
                "test", "rules", "x.yml", "--junit", "out.xml", "--run", "a", "--run", "b",
                "--diff",
            ],
        ] {
            let c = parse(args).unwrap();
            let Some(Command::Test(t)) = c.command else {
                panic!("{args:?}")
            };
            assert_eq!(t.junit.as_deref(), Some("out.xml"));
            let TestCommand::Rules(r) = t.command;
            assert_eq!(r.files, ["x.yml"]);
            assert_eq!(r.run, ["a", "b"]);
            assert!(r.diff && !r.debug && !r.ignore_unknown_fields);
        }
        assert!(parse(&["test", "rules"]).is_err());
    }

    #[test]
    fn replay_subcommand_takes_relative_times_and_run_flags() {
        let c = parse(&[
            "replay",
            "--from",
            "-7d",
            "--to=-1h",
            "-rule=a.yml",
            "-datasource.url=http://ds",
            "--report",
            "--format=json",
        ])
        .unwrap();
        match c.command {
            Some(Command::Replay(a)) => {
                assert_eq!(a.from.as_deref(), Some("-7d"));
                assert_eq!(a.to.as_deref(), Some("-1h"));
                assert!(a.report);
                assert_eq!(a.format, "json");
                assert_eq!(a.run.rule, ["a.yml"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vmalert_replay_flags() {
        let c = parse(&[
            "-replay.timeFrom=2026-11-01T00:00:00Z",
            "-replay.maxDatapointsPerQuery=500",
            "-replay.disableProgressBar",
        ])
        .unwrap();
        assert_eq!(
            c.run.replay.time_from.as_deref(),
            Some("2026-11-01T00:00:00Z")
        );
        assert_eq!(c.run.replay.max_datapoints_per_query, 500);
        assert!(c.run.replay.disable_progress_bar);
        assert_eq!(c.run.replay.rules_delay, Duration::from_secs(1));
        assert_eq!(c.run.replay.rule_retry_attempts, 5);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("300ms").unwrap(),
            Duration::from_millis(300)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("1x").is_err());
    }

    #[test]
    fn lists_split_on_commas_outside_braces() {
        let v = split_list(&["a.yml,rules/{x,y}.yml".into(), " b.yml ".into()]);
        assert_eq!(v, ["a.yml", "rules/{x,y}.yml", "b.yml"]);
    }

    #[test]
    fn negative_looking_values_are_not_flags() {
        let n = normalize_args(["tocsin", "-rule", "-7d", "-h"]);
        assert_eq!(n, ["tocsin", "--rule", "-7d", "-h"].map(OsString::from));
    }
}
