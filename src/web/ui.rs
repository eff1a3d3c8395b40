//! The status UI: one HTML page, a stylesheet and a few script modules, compiled into the binary so
//! that tocsin needs no files next to it and fetches nothing from the internet.
//!
//! The page is a plain client of the JSON API (`/api/v1/rules`, `/api/v1/alerts`,
//! `/api/v1/rule`, `/api/v1/notifiers`, `/api/v1/status`): whatever the UI shows, a script
//! can read the same way. Routing between its pages happens in the browser (`#/groups`,
//! `#/alerts`, …), so the server only hands out the page and its static files. See `docs/ui.md`.

use super::format::html_escape;

/// One embedded file.
pub struct Asset {
    pub body: &'static [u8],
    pub content_type: &'static str,
}

/// Where the page was served from (`-http.pathPrefix`, plus `/vmalert` when the page was
/// asked for there) goes where this marker stands in `index.html`. Asset and API URLs are
/// built on it, so the page also works behind VictoriaMetrics' `-vmalert.proxyURL`, which
/// forwards only `/vmalert/…` (and the API paths) to us.
const BASE_MARKER: &str = "{{base}}";

/// `-http.pathPrefix` alone, for the links that exist only at the root (`/metrics`,
/// `/-/reload`).
const ROOT_MARKER: &str = "{{root}}";

const INDEX: &str = include_str!("ui/index.html");

const JS: &str = "text/javascript; charset=utf-8";

/// The files served under `/static/`: the page's script modules (`app.js` imports the
/// others), its stylesheet and its icon.
fn static_asset(name: &str) -> Option<Asset> {
    let (body, content_type): (&'static [u8], _) = match name {
        "app.js" => (include_bytes!("ui/app.js"), JS),
        "lib.js" => (include_bytes!("ui/lib.js"), JS),
        "groups.js" => (include_bytes!("ui/groups.js"), JS),
        "alerts.js" => (include_bytes!("ui/alerts.js"), JS),
        "status.js" => (include_bytes!("ui/status.js"), JS),
        "app.css" => (include_bytes!("ui/app.css"), "text/css; charset=utf-8"),
        "favicon.svg" => (include_bytes!("ui/favicon.svg"), "image/svg+xml"),
        _ => return None,
    };
    Some(Asset { body, content_type })
}

/// The asset at `path` (`/static/app.js`, or the same under `/vmalert`), if any.
pub fn asset_for_path(path: &str) -> Option<Asset> {
    let rest = path.strip_prefix("/vmalert").unwrap_or(path);
    static_asset(rest.strip_prefix("/static/")?)
}

/// Whether `path` names the static area at all (known file or not), so unknown files
/// get a 404 from the asset handler rather than "no such endpoint".
pub fn is_static_path(path: &str) -> bool {
    let rest = path.strip_prefix("/vmalert").unwrap_or(path);
    rest.starts_with("/static/")
}

/// The page for a request of `local_path` (the path after `prefix`).
pub fn index_html(prefix: &str, local_path: &str) -> String {
    let base = if local_path.starts_with("/vmalert") {
        format!("{prefix}/vmalert")
    } else {
        prefix.to_string()
    };
    INDEX
        .replace(BASE_MARKER, &html_escape(&base))
        .replace(ROOT_MARKER, &html_escape(prefix))
}

/// A validator for `body`: the same bytes always give the same tag, and a new build with
/// changed assets gives a new one, so browsers revalidate cheaply (304). Weak, because
/// the same tag covers the plain and the gzipped representation.
pub fn etag(body: &[u8]) -> String {
    format!("W/\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(body))
}

/// Whether an `If-None-Match` header value names `tag` (or is `*`). Weak tags match
/// too: the comparison is the weak one RFC 9110 prescribes for `If-None-Match`.
pub fn none_match(header: &str, tag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = bare(tag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_resolve_under_both_roots() {
        assert!(asset_for_path("/static/app.js").is_some());
        assert!(asset_for_path("/vmalert/static/app.css").is_some());
        assert!(asset_for_path("/static/nope.js").is_none());
        assert!(asset_for_path("/static/../Cargo.toml").is_none());
        assert!(is_static_path("/vmalert/static/x"));
        assert!(!is_static_path("/api/v1/rules"));
    }

    #[test]
    fn index_carries_the_prefix_escaped() {
        let h = index_html("/a\"b", "/");
        assert!(h.contains("\"/a&quot;b/static/app.js\""));
        assert!(!h.contains(BASE_MARKER) && !h.contains(ROOT_MARKER));
        let h = index_html("/p", "/vmalert/");
        assert!(h.contains("\"/p/vmalert/static/app.js\""));
        assert!(h.contains("\"/p/metrics\""));
    }

    #[test]
    fn etags_compare_weakly() {
        let t = etag(b"x");
        assert!(none_match(&t, &t));
        assert!(t.starts_with("W/\""));
        let strong = t.trim_start_matches("W/");
        assert!(none_match(&format!("\"other\", {strong}"), &t));
        assert!(none_match("*", &t));
        assert!(!none_match("\"other\"", &t));
        assert_ne!(etag(b"x"), etag(b"y"));
    }
}
