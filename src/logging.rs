//! Log set-up from `-loggerLevel`, `-loggerFormat`, `-loggerJSONFields` and
//! `-loggerMaxArgLen`.
//!
//! JSON lines have vmalert's shape, `{"ts":…,"level":…,"caller":…,"msg":…}` (keys
//! renamed by `-loggerJSONFields`), followed by the event's own fields, so that log
//! pipelines built for vmalert parse tocsin's lines unchanged. Field values longer than
//! `-loggerMaxArgLen` are cut in the middle, as vmalert cuts its arguments; fields that
//! name something (the flag of a start-up `flag` line, its environment variable) are
//! never cut, since a cut name tells nobody anything (vmalert 1.145 cuts them too:
//! `-exte..urce`).

use std::borrow::Cow;
use std::fmt;

use chrono::{SecondsFormat, Utc};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// What the log flags ask for.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// `-loggerLevel`: DEBUG, INFO, WARN, ERROR, FATAL or PANIC.
    pub level: String,
    /// `-loggerFormat`: `default` or `json`.
    pub format: String,
    /// `-loggerJSONFields`.
    pub json_fields: JsonFields,
    /// `-loggerMaxArgLen`.
    pub max_arg_len: usize,
}

/// The keys of vmalert's JSON log lines, as `-loggerJSONFields` renames them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFields {
    pub ts: String,
    pub level: String,
    pub caller: String,
    pub msg: String,
}

impl Default for JsonFields {
    fn default() -> Self {
        JsonFields {
            ts: "ts".into(),
            level: "level".into(),
            caller: "caller".into(),
            msg: "msg".into(),
        }
    }
}

/// Parses `-loggerJSONFields`: `old:new` pairs separated by commas (`ts:timestamp,
/// msg:message`), `old` one of ts, level, caller, msg. Empty: vmalert's names.
pub fn parse_json_fields(s: &str) -> Result<JsonFields, String> {
    let mut f = JsonFields::default();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((old, new)) = item.split_once(':').filter(|(_, n)| !n.contains(':')) else {
            return Err(format!(
                "invalid item {item:?}: use old:new, like ts:timestamp"
            ));
        };
        let slot = match old {
            "ts" => &mut f.ts,
            "level" => &mut f.level,
            "caller" => &mut f.caller,
            "msg" => &mut f.msg,
            _ => {
                return Err(format!(
                    "unknown field {old:?}: use ts, level, caller or msg"
                ));
            }
        };
        *slot = new.to_string();
    }
    Ok(f)
}

/// vmalert's cut of a long value: the first and last `max / 2 - 1` characters around
/// `..` (`max` at least 4).
pub fn limit_len(s: &str, max: usize) -> Cow<'_, str> {
    let max = max.max(4);
    let len = s.chars().count();
    if len <= max {
        return Cow::Borrowed(s);
    }
    let n = max / 2 - 1;
    let head: String = s.chars().take(n).collect();
    let tail: String = s.chars().skip(len - n).collect();
    Cow::Owned(format!("{head}..{tail}"))
}

/// Fields whose values are names, shown whole whatever `-loggerMaxArgLen` says.
const NAME_FIELDS: [&str; 2] = ["flag", "env"];

/// A field's value as logged: cut to `max` unless the field holds a name.
fn field_value<'a>(field: &str, value: &'a str, max: usize) -> Cow<'a, str> {
    if NAME_FIELDS.contains(&field) {
        Cow::Borrowed(value)
    } else {
        limit_len(value, max)
    }
}

/// Installs the global subscriber. vmalert's levels map onto tracing's: FATAL and PANIC
/// show errors only (tocsin never panics on purpose). `RUST_LOG`, when set, wins, for
/// debugging one module.
pub fn init(o: &LogOptions) {
    let lvl = match o.level.as_str() {
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(lvl));
    let max = o.max_arg_len;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if o.format == "json" {
        let json = VmJson {
            keys: o.json_fields.clone(),
            max_arg_len: max,
        };
        builder.event_format(json).try_init()
    } else {
        // Colours only on a terminal: log files and collectors get plain text.
        let fields = format::debug_fn(move |w, field, value| {
            let v = format!("{value:?}");
            if field.name() == "message" {
                w.write_str(&v)
            } else {
                write!(w, "{}={}", field.name(), field_value(field.name(), &v, max))
            }
        })
        .delimited(" ");
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .fmt_fields(fields)
            .try_init()
    };
}

/// vmalert's JSON lines.
struct VmJson {
    keys: JsonFields,
    max_arg_len: usize,
}

/// An event's message and its other fields, values cut to `max`.
struct Collect {
    max: usize,
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Collect {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            let v = field_value(field.name(), &value, self.max).into_owned();
            self.fields.push((field.name(), v));
        }
    }
}

impl<S, N> FormatEvent<S, N> for VmJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        // Spans are not logged: tocsin has none.
        _ctx: &FmtContext<'_, S, N>,
        mut w: format::Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut c = Collect {
            max: self.max_arg_len,
            message: String::new(),
            fields: Vec::new(),
        };
        event.record(&mut c);
        let caller = match (meta.file(), meta.line()) {
            (Some(f), Some(l)) => format!("{f}:{l}"),
            _ => meta.target().to_string(),
        };
        let ts = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let level = meta.level().as_str().to_ascii_lowercase();
        let k = &self.keys;
        let head = [
            (k.ts.as_str(), ts),
            (k.level.as_str(), level),
            (k.caller.as_str(), caller),
            (k.msg.as_str(), c.message),
        ];
        let q = |s: &str| serde_json::to_string(s).map_err(|_| fmt::Error);
        w.write_char('{')?;
        let pairs = head.iter().map(|(k, v)| (*k, v.as_str()));
        let rest = c.fields.iter().map(|(k, v)| (*k, v.as_str()));
        for (i, (key, value)) in pairs.chain(rest).enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            write!(w, "{}:{}", q(key)?, q(value)?)?;
        }
        w.write_str("}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_rename_as_vmalert() {
        let f = parse_json_fields("ts:timestamp, msg:message").unwrap();
        assert_eq!((f.ts.as_str(), f.msg.as_str()), ("timestamp", "message"));
        assert_eq!((f.level.as_str(), f.caller.as_str()), ("level", "caller"));
        assert_eq!(parse_json_fields("").unwrap(), JsonFields::default());
        assert!(parse_json_fields("ts").unwrap_err().contains("old:new"));
        assert!(parse_json_fields("a:b:c").unwrap_err().contains("old:new"));
        assert!(
            parse_json_fields("time:t")
                .unwrap_err()
                .contains("ts, level")
        );
    }

    #[test]
    fn long_values_are_cut_in_the_middle() {
        assert_eq!(limit_len("abcdefghij", 6), "ab..ij");
        assert_eq!(limit_len("abcdef", 6), "abcdef");
        assert_eq!(limit_len("abcdefghij", 1), "a..j", "at least 4");
        assert_eq!(limit_len("ääääääää", 6), "ää..ää", "characters, not bytes");
    }

    #[test]
    fn names_are_never_cut_only_values() {
        let name = "notifier.oauth2.endpointParams";
        assert_eq!(field_value("flag", name, 4), name);
        assert_eq!(
            field_value("env", "TOCSIN_notifier_url", 4),
            "TOCSIN_notifier_url"
        );
        assert_eq!(field_value("value", "abcdefghij", 6), "ab..ij");
    }
}
