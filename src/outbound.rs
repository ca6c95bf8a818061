//! Requests the hub makes to other services: the notification gateway
//! (`crate::notify::webhook`) and the geocoder (`crate::http::places`).
//!
//! One [`reqwest::Client`] for both, built on first use: HTTP/1.1 over `http://` or
//! `https://` (rustls, certificates verified against the platform's roots plus the
//! authorities of `notify.ca_file`, see [`trust`]), no
//! redirects (a 3xx is an answer, so a request never leaves the host it was configured
//! for), `User-Agent: muster`. Each request carries its own timeout from the settings.
//!
//! A URL may carry a token (in its path or query), so nothing here puts a URL into an
//! error: errors name the host and port only.

use std::path::Path;
use std::sync::OnceLock;

use reqwest::{Certificate, Url};

/// A service URL that is not `http(s)://host[:port][/path][?query]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected http://host[:port][/path] or https://host[:port][/path]: {0}")]
pub struct BadUrl(&'static str);

/// Parses and checks a configured service URL: `http` or `https`, with a host.
pub fn parse_url(url: &str) -> Result<Url, BadUrl> {
    let parsed = Url::parse(url).map_err(|_| BadUrl("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BadUrl("only http and https are supported"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(BadUrl("no host"));
    }
    Ok(parsed)
}

/// `host:port` of a URL: what errors and logs may say of it.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The client could not be built: on Linux, no CA certificates were found on the
/// system (the `ca-certificates` package), so no `https://` answer could be trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no HTTP client: {0}")]
pub struct NoClient(String);

/// Extra certificate authorities (`notify.ca_file`), set once before the client is
/// built.
static EXTRA_ROOTS: OnceLock<Vec<Certificate>> = OnceLock::new();

/// Reads a PEM file of certificate authorities: every certificate in it, at least one.
/// The error names the file, never its contents.
pub fn read_ca_file(path: &Path) -> Result<(Vec<u8>, Vec<Certificate>), String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = Certificate::from_pem_bundle(&pem)
        .map_err(|_| format!("{} is not a PEM file of certificates", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok((pem, certs))
}

/// Trusts `certs` for every request, on top of the platform's roots (the rustls
/// platform verifier takes them as extra roots). Takes effect only before the client's
/// first use, so `App::new` calls it first; `false` when it came too late (or twice).
pub fn trust(certs: Vec<Certificate>) -> bool {
    CLIENT.get().is_none() && EXTRA_ROOTS.set(certs).is_ok()
}

static CLIENT: OnceLock<Result<reqwest::Client, NoClient>> = OnceLock::new();

/// The shared client, built on first use (`App::new` asks for it at start-up when a
/// service is configured, so a failure is logged then).
pub fn client() -> Result<&'static reqwest::Client, NoClient> {
    CLIENT
        .get_or_init(|| {
            let extra = EXTRA_ROOTS.get().cloned().unwrap_or_default();
            let mut builder = reqwest::Client::builder()
                .user_agent("muster")
                .redirect(reqwest::redirect::Policy::none());
            if !extra.is_empty() {
                builder = builder.tls_certs_merge(extra);
            }
            builder.build().map_err(|e| NoClient(describe(&e)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What went wrong in a request, without its URL: the innermost cause (e.g.
/// "Connection refused (os error 111)").
pub fn describe(e: &reqwest::Error) -> String {
    let mut innermost = None;
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        innermost = Some(c);
        cause = c.source();
    }
    match innermost {
        Some(c) => c.to_string(),
        None if e.is_timeout() => "timed out".to_string(),
        None => "the request failed".to_string(),
    }
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("an answer over {} KiB", .0 / 1024)]
    TooLarge(usize),
    #[error(transparent)]
    Request(#[from] reqwest::Error),
}

/// Reads a response's body, streaming, and stops as soon as it passes `limit` bytes.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_urls_are_http_or_https_with_a_host() {
        let url = parse_url("http://127.0.0.1:9000/sms/send?key=secret").unwrap();
        assert_eq!(host_of(&url), "127.0.0.1:9000");
        assert_eq!(
            host_of(&parse_url("https://nominatim.example/").unwrap()),
            "nominatim.example:443"
        );
        assert_eq!(host_of(&parse_url("http://gw").unwrap()), "gw:80");
        for bad in ["ftp://gw/x", "gw:9000/x", "http://gw:port/x", ""] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
