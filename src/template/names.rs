//! The names of the functions templates may call: Go's builtins, Prometheus' and
//! vmalert's. The parser checks calls against them at load time; `funcs` implements them.

/// All function names, for load-time "function not defined" errors.
pub const FUNCTIONS: &[&str] = &[
    // Go builtins
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "urlquery",
    "html",
    "js",
    "call",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    // Prometheus
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "sortByLabel",
    "reReplaceAll",
    "match",
    "title",
    "toUpper",
    "toLower",
    "stripPort",
    "stripDomain",
    "safeHtml",
    "urlQueryEscape",
    "graphLink",
    "tableLink",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "toTime",
    "toDuration",
    "now",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    // vmalert
    "jsonEscape",
    "quotesEscape",
    "htmlEscape",
    "pathEscape",
    "queryEscape",
    "crlfEscape",
    "parseDurationTime",
    "formatTime",
];

/// Whether `name` is a function templates may call.
pub fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}
