//! The evaluator's own flags (no subcommand).

use super::*;

/// Flags of the evaluator itself (no subcommand).
#[derive(Debug, Args, Clone)]
pub struct RunFlags {
    /// Rule files, globs (`**` allowed) or comma-separated lists of them, or `http(s)://`
    /// URLs of rule files (fetched at start-up and at each reload; `user:password@` in the
    /// URL is sent as basic auth; a failed fetch keeps the rules loaded before).
    #[arg(long = "rule", value_name = "PATH")]
    pub rule: Vec<String>,
    /// Files (or globs, or `http(s)://` URLs) with `{{ define }}` blocks usable from every
    /// rule's templates; read at start-up and again at each reload (a file that fails
    /// fails the reload, and the previous templates stay).
    #[arg(long = "rule.templates", value_name = "PATH")]
    pub rule_templates: Vec<String>,
    /// Only load and validate the rule files, the `-rule.templates` and the `-cluster.*`
    /// flags, then exit (0 if valid, 1 if not).
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
    /// vmalert's template of each alert's link (`generatorURL` sent to Alertmanager,
    /// `source` in the API), joined to -external.url with a `/`; it sees the alert's
    /// `$labels`, `$value`, `$activeAt`, `.Expr`, `$for`, `$alertID`, `$groupID`. For
    /// Grafana: `explore?orgId=1&left={"queries":[{"expr":{{.Expr|jsonEscape|queryEscape}}}]}`.
    /// Empty: Prometheus' link, `<-external.url>/graph?g0.expr=…&g0.tab=1`.
    #[arg(
        long = "external.alert.source",
        value_name = "TEMPLATE",
        default_value = "",
        hide_default_value = true
    )]
    pub external_alert_source: String,
    /// `name=value` label added to every alert and recorded series.
    #[arg(long = "external.label", value_name = "NAME=VALUE", value_parser = parse_label_pair)]
    pub external_label: Vec<(String, String)>,
    /// Minimum level to log: INFO, WARN, ERROR, FATAL, PANIC (vmalert's), or DEBUG.
    #[arg(long = "loggerLevel", default_value = "INFO", value_parser = parse_log_level)]
    pub logger_level: String,
    /// Log format: `default` (text) or `json` (one object a line with vmalert's keys `ts`,
    /// `level`, `caller` and `msg`, then the event's own fields).
    #[arg(long = "loggerFormat", default_value = "default", value_parser = ["default", "json"])]
    pub logger_format: String,
    /// Rename the keys of JSON log lines: `ts:timestamp,msg:message` (keys: ts, level,
    /// caller, msg).
    #[arg(long = "loggerJSONFields", default_value = "", value_parser = crate::logging::parse_json_fields,
          hide_default_value = true)]
    pub logger_json_fields: crate::logging::JsonFields,
    /// Longer field values in log lines are cut to their first and last halves around
    /// `..`.
    #[arg(long = "loggerMaxArgLen", default_value = "5000", value_parser = parse_count)]
    pub logger_max_arg_len: usize,

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
    /// Send no `step` with instant queries (for datasources that refuse it, like Google
    /// Managed Prometheus).
    #[arg(long = "datasource.disableStepParam", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub datasource_disable_step_param: bool,
    /// Send `round_digits=N` with every query: VictoriaMetrics then rounds values to N
    /// digits after the point (Prometheus ignores it). 0 = not sent.
    #[arg(long = "datasource.roundDigits", default_value = "0", value_parser = parse_count)]
    pub datasource_round_digits: usize,
    /// Query under `<-datasource.url>/prometheus/api/v1/…` (vmselect's per-language
    /// prefix), for a `-datasource.url` that names vmselect's tenant root.
    #[arg(long = "datasource.appendTypePrefix", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub datasource_append_type_prefix: bool,
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
    /// vmalert's notifier config file: Alertmanagers from static lists, DNS (SRV, A,
    /// AAAA) and Consul, with relabelling and per-group auth/TLS (see "Notifier config"
    /// below). Reloaded with the rule files; excludes -notifier.url,
    /// -notifier.blackhole and the -notifier.* auth/TLS/headers flags (their settings go
    /// in the file).
    #[arg(long = "notifier.config", value_name = "PATH")]
    pub notifier_config: Option<String>,
    /// Evaluate alerting rules but send no notifications (they are counted as sent to
    /// `blackhole`); excludes -notifier.url and -notifier.config.
    #[arg(long = "notifier.blackhole", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub notifier_blackhole: bool,
    /// Show Alertmanager URLs with their query parameters in logs, the API and
    /// `/metrics` (user:password in a URL is never shown).
    #[arg(long = "notifier.showURL", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub notifier_show_url: bool,
    /// Do not log notifier targets skipped because another one has the same URL.
    #[arg(long = "notifier.suppressDuplicateTargetErrors", default_value = "false",
          action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true",
          require_equals = true)]
    pub notifier_suppress_duplicate_target_errors: bool,
    /// How often -notifier.config's dns_sd_configs are looked up again.
    #[arg(long = "promscrape.dnsSDCheckInterval", default_value = "30s", value_parser = parse_go_duration)]
    pub dns_sd_check_interval: Duration,
    /// How often -notifier.config's consul_sd_configs ask Consul again.
    #[arg(long = "promscrape.consulSDCheckInterval", default_value = "30s", value_parser = parse_go_duration)]
    pub consul_sd_check_interval: Duration,
    /// DNS server (`host:port`) for dns_sd_configs and `-cluster.peers`, instead of
    /// those in `/etc/resolv.conf`.
    #[arg(long = "dns.server", value_name = "HOST:PORT")]
    pub dns_server: Option<std::net::SocketAddr>,

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
    #[arg(long = "remoteWrite.maxQueueSize", default_value = "100000", value_parser = parse_count)]
    pub remote_write_max_queue_size: usize,
    /// Maximum series per remote-write request.
    #[arg(long = "remoteWrite.maxBatchSize", default_value = "10000", value_parser = parse_count)]
    pub remote_write_max_batch_size: usize,
    /// Parallel remote-write senders.
    #[arg(long = "remoteWrite.concurrency", default_value = "1", value_parser = parse_count)]
    pub remote_write_concurrency: usize,
    /// Send what is queued at least this often.
    #[arg(long = "remoteWrite.flushInterval", default_value = "2s", value_parser = parse_go_duration)]
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
    /// The most alerts or recorded series one rule may produce in groups without their
    /// own `limit`; beyond it the rule fails and produces nothing. 0 = no limit.
    #[arg(long = "rule.resultsLimit", default_value = "0", value_parser = parse_count)]
    pub rule_results_limit: usize,
    /// Query this far back from the evaluation time in groups without `eval_delay`,
    /// `eval_offset` or `query_offset`, for datasources that make data searchable late.
    /// 0 (Prometheus' behaviour) here; vmalert's default is 30s.
    #[arg(long = "rule.evalDelay", default_value = "0", value_parser = parse_go_duration)]
    pub rule_eval_delay: Duration,
    /// A group's first evaluation comes at most this long after it starts (or the
    /// interval, if shorter), at a position taken from the group's hash; later ones
    /// keep that position. 0 = evaluate at once.
    #[arg(long = "group.maxStartDelay", default_value = "5m", value_parser = parse_go_duration)]
    pub group_max_start_delay: Duration,
    /// Past evaluations kept per rule for `/api/v1/rule` and the UI, unless the rule sets
    /// `update_entries_limit`.
    #[arg(long = "rule.updateEntriesLimit", default_value = "20", value_parser = parse_count)]
    pub rule_update_entries_limit: usize,
    /// The `type` of groups that set none. tocsin evaluates `prometheus` only: with
    /// `graphite` or `vlogs`, groups without `type` fail to load.
    #[arg(long = "rule.defaultRuleType", default_value = "prometheus",
          value_parser = ["prometheus", "graphite", "vlogs"])]
    pub rule_default_rule_type: String,
    /// Show rule files as `<group id>/<file name>` in logs, the API and `/metrics`,
    /// hiding their directories (which may name tenants or buckets).
    #[arg(long = "rule.stripFilePath", default_value = "false", action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub rule_strip_file_path: bool,
    /// Adds an always-firing alert with this `alertname`, sent only while tocsin's
    /// whole pipeline works (the datasource answered within the last watchdog interval,
    /// every Alertmanager target's last send succeeded), for a dead man's switch at
    /// Alertmanager; sent resolved while it does not. Empty = no watchdog.
    #[arg(long = "rule.watchdog", default_value = "", value_name = "NAME")]
    pub rule_watchdog: String,
    /// How often the watchdog checks the pipeline and is sent; a firing watchdog is
    /// valid at Alertmanager for 4 intervals. 0 = `-evaluationInterval`.
    #[arg(long = "rule.watchdog.interval", default_value = "0", value_parser = parse_go_duration)]
    pub rule_watchdog_interval: Duration,
    /// JSON file where rules paused through `POST /api/v1/rules/pause` are kept, so
    /// that they stay paused across restarts (written at every change, read at
    /// start-up). Empty: pauses end when tocsin stops.
    #[arg(long = "rule.pausesFile", value_name = "PATH")]
    pub rule_pauses_file: Option<std::path::PathBuf>,
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
    pub push: crate::pushmetrics::PushFlags,
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
