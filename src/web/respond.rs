//! Turning a [`Reply`] into a hyper response: headers, and gzip when the client takes it.

use http_body_util::Full;
use hyper::Response;
use hyper::body::Bytes;
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderValue, VARY,
};

use super::api::Reply;

/// Bodies smaller than this are sent as they are: gzip would save nothing.
const MIN_GZIP_BODY: usize = 1024;

/// Bodies larger than this are compressed on a blocking thread, off the runtime.
const BLOCKING_GZIP_BODY: usize = 256 * 1024;

/// Whether an `Accept-Encoding` header value accepts gzip (with a non-zero q).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    enc.write_all(body)?;
    enc.finish()
}

/// Gzips the body when the client accepts it and it is worth it, as Prometheus and
/// vmalert do: a 20,000-rule `/api/v1/rules` shrinks from tens of megabytes to a few.
pub async fn maybe_gzip(r: Reply, accept_gzip: bool) -> (Reply, bool) {
    if accept_gzip && r.body.len() > BLOCKING_GZIP_BODY {
        let status = r.status;
        return tokio::task::spawn_blocking(move || gzip_reply(r, true))
            .await
            .unwrap_or_else(|e| {
                let msg = format!("compressing the answer ({status}) failed: {e}");
                (
                    Reply::text(hyper::StatusCode::INTERNAL_SERVER_ERROR, msg),
                    false,
                )
            });
    }
    gzip_reply(r, accept_gzip)
}

/// [`maybe_gzip`] on the current thread (already a blocking one).
pub fn gzip_reply(mut r: Reply, accept_gzip: bool) -> (Reply, bool) {
    if !accept_gzip || r.body.len() < MIN_GZIP_BODY {
        return (r, false);
    }
    match gzip(&r.body) {
        Ok(c) => {
            r.body = Bytes::from(c);
            (r, true)
        }
        Err(_) => (r, false),
    }
}

pub fn to_response(r: Reply) -> Response<Full<Bytes>> {
    to_response_enc(r, false)
}

pub fn to_response_enc(r: Reply, gzipped: bool) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = r.status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    if gzipped {
        resp.headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        resp.headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if let Some(allow) = r.allow {
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(tag) = r.etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        resp.headers_mut().insert(ETAG, tag);
        resp.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_forms() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("br, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("deflate, br"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = "x".repeat(5000);
        let z = gzip(body.as_bytes()).unwrap();
        assert!(z.len() < 200);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }
}
