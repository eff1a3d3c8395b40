//! Rule and template files served over HTTP(S): `-rule=https://host/rules.yml` (and
//! `-rule.templates=…`), fetched whenever the files are read: at start-up, at each
//! reload, by `tocsin check` and `-dryRun`.
//!
//! As vmalert 1.145 fetches them: one GET per URL, no glob, `user:password@` in the URL
//! as basic auth, anything but 200 an error. Unlike vmalert, a fetch is bounded in time
//! ([`FETCH_TIMEOUT`]), and an answer that is HTML (a login or error page, a forge's
//! page around the file instead of the raw file) is refused as such rather than as
//! broken YAML. Errors name the URL with its credentials masked; a failed fetch on
//! reload is a failed reload, so the rules loaded before stay.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::{ClientOptions, HttpClient, Origin, error_chain, redact_url, url_credentials};

/// How long one fetch may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a `-rule` or `-rule.templates` item names an HTTP(S) URL.
pub fn is_url(item: &str) -> bool {
    let lower = item.get(..8).unwrap_or(item).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// How a rule source is shown (errors, logs, the API): a URL with its credentials and
/// secret query parameters masked, a file as it is.
pub fn shown_path(path: &Path) -> PathBuf {
    match path.to_str().filter(|p| is_url(p)) {
        Some(url) => PathBuf::from(redact_url(url)),
        None => path.to_path_buf(),
    }
}

/// Fetches `url`'s text within `timeout`. Runs on a thread of its own with its own
/// runtime, so that it can be called from any synchronous code (the loader runs on a
/// blocking thread, `tocsin check` without a runtime). The error says what happened,
/// without the URL (callers name it).
pub fn fetch_text(url: &str, timeout: Duration) -> Result<String, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the fetch: {e}"))?;
            rt.block_on(fetch(url, timeout))
        })
        .join()
        .unwrap_or_else(|_| Err("the fetch failed unexpectedly".to_string()))
    })
}

async fn fetch(url: &str, timeout: Duration) -> Result<String, String> {
    let mut auth = ClientOptions::default();
    let clean = url_credentials("rule", url, &mut auth).map_err(|e| e.to_string())?;
    let client =
        HttpClient::new(&Origin::flags("rule"), &auth, timeout).map_err(|e| e.to_string())?;
    let req = client.get(&clean).await.map_err(|e| e.to_string())?;
    let resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {}s", timeout.as_secs_f64())
        } else {
            error_chain(&e)
        }
    })?;
    let status = resp.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("answered {status}; expected 200 with the file"));
    }
    let html = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    let bytes = resp.bytes().await.map_err(|e| error_chain(&e))?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| "answered something that is not UTF-8 text".to_string())?;
    if html || looks_like_html(&text) {
        return Err(
            "answered an HTML page, not the file: use the URL of the raw file (not a page showing it, or a login page)"
                .to_string(),
        );
    }
    Ok(text)
}

fn looks_like_html(text: &str) -> bool {
    let head = text.trim_start().get(..15).unwrap_or(text.trim_start());
    let head = head.to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html")
}
