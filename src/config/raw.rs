//! The raw YAML layer: what a rule file says, with where it says it, before any check.
//!
//! Kept apart from the validated model so that validation can see every field (and every
//! unknown key, with its position) and report all problems of a file at once, instead of
//! stopping at the first as a derived `deny_unknown_fields` would. Every value is
//! wrapped in [`S`] (see `spanned`) so messages can point at `line:col`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

pub(crate) use super::spanned::{S, pos};

/// A whole rule file.
#[derive(Debug, Default)]
pub(crate) struct RawFile {
    pub groups: Option<Vec<S<Box<RawGroup>>>>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct RawGroup {
    pub name: Option<S<String>>,
    pub interval: Option<S<String>>,
    pub query_offset: Option<S<String>>,
    pub limit: Option<S<i64>>,
    pub labels: Option<S<RawMap>>,
    pub rules: Option<Vec<S<Box<RawRule>>>>,
    pub eval_offset: Option<S<String>>,
    pub eval_delay: Option<S<String>>,
    pub eval_alignment: Option<S<bool>>,
    pub concurrency: Option<S<i64>>,
    pub type_: Option<S<String>>,
    pub params: Option<S<RawParams>>,
    pub headers: Option<S<Vec<S<String>>>>,
    pub notifier_headers: Option<S<Vec<S<String>>>>,
    pub debug: Option<S<bool>>,
    pub no_data: Option<S<RawPolicy>>,
    pub on_error: Option<S<RawPolicy>>,
    /// Where the keys `no_data` and `on_error` are written (for errors about them as a
    /// whole: they name the key, not its value, which may start on the next line).
    pub no_data_at: S<()>,
    pub on_error_at: S<()>,
    pub unknown: Vec<S<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct RawRule {
    pub record: Option<S<String>>,
    pub alert: Option<S<String>>,
    pub expr: Option<S<String>>,
    pub for_: Option<S<String>>,
    pub keep_firing_for: Option<S<String>>,
    pub labels: Option<S<RawMap>>,
    pub annotations: Option<S<RawMap>>,
    pub debug: Option<S<bool>>,
    pub update_entries_limit: Option<S<i64>>,
    pub recover_expr: Option<S<String>>,
    pub for_count: Option<S<RawForCount>>,
    pub no_data: Option<S<RawPolicy>>,
    pub on_error: Option<S<RawPolicy>>,
    pub flapping: Option<S<RawFlapping>>,
    /// Where the keys only an alerting rule takes are written, for errors about the key
    /// as a whole (on a recording rule, or a mapping missing a field).
    pub at: RuleKeysAt,
    pub unknown: Vec<S<String>>,
}

/// Where a rule writes the keys an error may be about as a whole (line and column of
/// the key; zero when absent).
#[derive(Debug, Default)]
pub(crate) struct RuleKeysAt {
    pub for_: S<()>,
    pub keep_firing_for: S<()>,
    pub annotations: S<()>,
    pub recover_expr: S<()>,
    pub for_count: S<()>,
    pub no_data: S<()>,
    pub on_error: S<()>,
    pub flapping: S<()>,
}

/// `flapping: {changes: K, within: DURATION, hold: BOOL}`.
#[derive(Debug, Default)]
pub(crate) struct RawFlapping {
    pub changes: Option<S<i64>>,
    pub within: Option<S<String>>,
    pub hold: Option<S<bool>>,
    pub unknown: Vec<S<String>>,
}

/// `no_data` or `on_error`: `{after: DURATION, state: STATE}`.
#[derive(Debug, Default)]
pub(crate) struct RawPolicy {
    pub after: Option<S<String>>,
    pub state: Option<S<String>>,
    pub unknown: Vec<S<String>>,
}

/// `for_count: {n: N, of: M}`.
#[derive(Debug, Default)]
pub(crate) struct RawForCount {
    pub n: Option<S<i64>>,
    pub of: Option<S<i64>>,
    pub unknown: Vec<S<String>>,
}

/// A string-to-string mapping in file order (labels, annotations).
#[derive(Debug, Default)]
pub(crate) struct RawMap(pub Vec<(S<String>, S<String>)>);

/// vmalert `params`: each name maps to a list of values (Go `url.Values`).
#[derive(Debug, Default)]
pub(crate) struct RawParams(pub Vec<(S<String>, Vec<String>)>);

/// Generates a map visitor that fills known keys and records unknown ones; duplicate keys
/// never reach it (serde-saphyr rejects them with a position). `"key" => field @ at`
/// also keeps where the key is written in `out.at` (a path into `out`).
macro_rules! map_visitor {
    ($ty:ident, $what:literal, { $($key:literal => $field:ident $(@ $($at:ident).+)?),* $(,)? }) => {
        impl<'de> ::serde::de::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter) -> ::std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut m: A,
                    ) -> Result<$ty, A::Error> {
                        let mut out = $ty::default();
                        while let Some(key) =
                            m.next_key::<$crate::config::raw::S<String>>()?
                        {
                            match key.value.as_str() {
                                $($key => {
                                    $(out.$($at).+ = $crate::config::raw::S {
                                        value: (),
                                        line: key.line,
                                        col: key.col,
                                    };)?
                                    out.$field = m.next_value()?;
                                })*
                                _ => {
                                    m.next_value::<::serde::de::IgnoredAny>()?;
                                    out.unknown.push(key);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

pub(crate) use map_visitor;

map_visitor!(RawFile, "a mapping with a `groups` list", {
    "groups" => groups,
});

map_visitor!(RawGroup, "a rule group (a mapping with `name` and `rules`)", {
    "name" => name,
    "interval" => interval,
    "query_offset" => query_offset,
    "limit" => limit,
    "labels" => labels,
    "rules" => rules,
    "eval_offset" => eval_offset,
    "eval_delay" => eval_delay,
    "eval_alignment" => eval_alignment,
    "concurrency" => concurrency,
    "type" => type_,
    "params" => params,
    "headers" => headers,
    "notifier_headers" => notifier_headers,
    "debug" => debug,
    "no_data" => no_data @ no_data_at,
    "on_error" => on_error @ on_error_at,
});

map_visitor!(RawRule, "a rule (a mapping with `record` or `alert`, and `expr`)", {
    "record" => record,
    "alert" => alert,
    "expr" => expr,
    "for" => for_ @ at.for_,
    "keep_firing_for" => keep_firing_for @ at.keep_firing_for,
    "labels" => labels,
    "annotations" => annotations @ at.annotations,
    "debug" => debug,
    "update_entries_limit" => update_entries_limit,
    "recover_expr" => recover_expr @ at.recover_expr,
    "for_count" => for_count @ at.for_count,
    "no_data" => no_data @ at.no_data,
    "on_error" => on_error @ at.on_error,
    "flapping" => flapping @ at.flapping,
});

map_visitor!(RawFlapping, "a mapping `{changes: K, within: DURATION}`", {
    "changes" => changes,
    "within" => within,
    "hold" => hold,
});

map_visitor!(RawPolicy, "a mapping `{after: DURATION, state: STATE}`", {
    "after" => after,
    "state" => state,
});

map_visitor!(RawForCount, "a mapping `{n: N, of: M}`", {
    "n" => n,
    "of" => of,
});

impl<'de> Deserialize<'de> for RawMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to string values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawMap, E> {
                Ok(RawMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawMap, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<S<String>>()? {
                    // A null value (`key:`) is an empty string, as in Prometheus.
                    let v: S<Option<String>> = m.next_value()?;
                    out.push((k, v.map(Option::unwrap_or_default)));
                }
                Ok(RawMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for RawParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawParams;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of parameter names to a value or a list of values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawParams, E> {
                Ok(RawParams::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<RawParams, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<S<String>>()? {
                    // Always a list, as Go's url.Values is: `name: [v1, v2]`.
                    out.push((k, m.next_value::<Vec<String>>()?));
                }
                Ok(RawParams(out))
            }
        }
        d.deserialize_map(V)
    }
}
