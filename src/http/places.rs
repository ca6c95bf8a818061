//! `GET /api/places?q=` (the centre's gazetteer) and `GET /api/geocode?q=` (a
//! Nominatim-compatible search API the hub asks on the console's behalf, so the
//! browser's CSP stays `connect-src 'self'`).
//!
//! The geocoder is asked over plain HTTP/1.0 written by hand, as the notification
//! webhook is (`crate::notify::webhook`): one short GET with a timeout and a bounded
//! answer needs no HTTP client crate. Plain `http://` only: a geocoder on the local
//! network or behind a TLS-terminating relay.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::handlers::json_reply;
use crate::config::split_webhook_url;
use crate::http::App;
use crate::hub::tokens::Session;
use muster_core::domain::place::MAX_RESULTS;
use muster_core::engine::Code;

/// The query of both routes.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    /// `GET /api/places` only: the one place with this id (its premise notes, for a
    /// location that carries a `place_id`), instead of a search.
    pub id: Option<String>,
    /// At most this many (1 to 10; 10 when absent).
    pub limit: Option<usize>,
}

/// Longest query accepted.
const MAX_QUERY: usize = 200;
/// Largest geocoder answer read (headers and body).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

fn check_query(q: &SearchQuery) -> Result<(&str, usize), ApiError> {
    let text = q.q.trim();
    if text.chars().count() > MAX_QUERY {
        return Err(ApiError::new(
            Code::ValidationFailed,
            format!("q: must be at most {MAX_QUERY} characters"),
        ));
    }
    Ok((text, q.limit.unwrap_or(MAX_RESULTS).clamp(1, MAX_RESULTS)))
}

/// `GET /api/places?q=&limit=` (or `?id=`): places whose name or postcode holds `q` (case and
/// spaces ignored), with their premise notes: `{places: [{id, name, postcode, lat,
/// lon, kind, notes}], geocoder}`, at most 10; `geocoder` says whether `GET
/// /api/geocode` has a geocoder to ask.
pub async fn places(
    app: Arc<App>,
    _session: Session,
    q: SearchQuery,
) -> Result<Response, Rejection> {
    let (text, limit) = check_query(&q)?;
    let found = match &q.id {
        Some(id) => app.places.get(id).into_iter().collect(),
        None => app.places.search(text, limit),
    };
    Ok(json_reply(
        &json!({ "places": found, "geocoder": app.geocoder.is_some() }),
        StatusCode::OK,
    ))
}

/// One geocoder result as the console shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GeocodeResult {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

/// `GET /api/geocode?q=&limit=`: `{results: [{name, lat, lon}]}` from the configured
/// geocoder; `not_found` when none is configured, `geocoder_failed` (502) when it
/// cannot be reached, is slow, or answers something else than results.
pub async fn geocode(
    app: Arc<App>,
    _session: Session,
    q: SearchQuery,
) -> Result<Response, Rejection> {
    let (text, limit) = check_query(&q)?;
    let Some(geocoder) = &app.geocoder else {
        return Err(ApiError::not_found("no geocoder is configured (centre.geocoder_url)").into());
    };
    if text.is_empty() {
        return Ok(json_reply(&json!({ "results": [] }), StatusCode::OK));
    }
    match geocoder.search(text, limit).await {
        Ok(results) => Ok(json_reply(&json!({ "results": results }), StatusCode::OK)),
        Err(why) => {
            tracing::warn!(error = %why, "geocoder query failed");
            Err(ApiError::new(
                Code::GeocoderFailed,
                format!("the geocoder did not answer: {why}"),
            )
            .into())
        }
    }
}

/// A configured geocoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geocoder {
    authority: String,
    /// The base path, without a trailing `/`.
    base: String,
    timeout: Duration,
}

impl Geocoder {
    /// The geocoder `url` names (`""` = none); an invalid URL is reported when the
    /// settings are validated.
    pub fn new(url: &str, timeout_ms: u64) -> Option<Geocoder> {
        if url.is_empty() {
            return None;
        }
        let (authority, path) = split_webhook_url(url).ok()?;
        Some(Geocoder {
            authority,
            base: path.trim_end_matches('/').to_string(),
            timeout: Duration::from_millis(timeout_ms),
        })
    }

    /// `GET {base}/search?format=jsonv2&limit=&q=`.
    pub async fn search(&self, q: &str, limit: usize) -> Result<Vec<GeocodeResult>, String> {
        let target = format!(
            "{}/search?format=jsonv2&limit={limit}&q={}",
            self.base,
            percent_encode(q)
        );
        let answer = tokio::time::timeout(self.timeout, self.get(&target))
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))??;
        parse_answer(&answer, limit)
    }

    async fn get(&self, target: &str) -> Result<Vec<u8>, String> {
        let mut stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let request = format!(
            "GET {target} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: muster\r\nConnection: close\r\n\r\n",
            self.authority
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            if answer.len() + n > MAX_ANSWER_BYTES {
                return Err(format!("an answer over {} KiB", MAX_ANSWER_BYTES / 1024));
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        Ok(answer)
    }
}

/// Status line, headers, then a JSON array of Nominatim results (`display_name`,
/// `lat` and `lon` as strings or numbers).
fn parse_answer(answer: &[u8], limit: usize) -> Result<Vec<GeocodeResult>, String> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("a malformed answer")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or("a malformed status line")?;
    if !(200..300).contains(&code) {
        return Err(format!("HTTP {code}"));
    }
    let body: Vec<serde_json::Value> = serde_json::from_slice(&answer[split + 4..])
        .map_err(|_| "an answer that is not a list of results".to_string())?;
    let number = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.parse::<f64>().ok(),
        other => other.as_f64(),
    };
    Ok(body
        .iter()
        .filter_map(|r| {
            let lat = number(r.get("lat")?)?;
            let lon = number(r.get("lon")?)?;
            muster_core::domain::geo::check_coordinates("", lat, lon).ok()?;
            let name: String = r.get("display_name")?.as_str()?.chars().take(500).collect();
            Some(GeocodeResult { name, lat, lon })
        })
        .take(limit)
        .collect())
}

/// Percent-encodes everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_and_bounded() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[{\"display_name\":\"Somewhere\",\"lat\":\"51.5\",\"lon\":\"-0.12\"},{\"display_name\":\"Bad\",\"lat\":\"95\",\"lon\":\"0\"},{\"display_name\":\"Two\",\"lat\":51.6,\"lon\":-0.1}]";
        let got = parse_answer(ok, 10).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "Somewhere");
        assert_eq!(parse_answer(ok, 1).unwrap().len(), 1);
        assert_eq!(
            parse_answer(b"HTTP/1.0 500 Oops\r\n\r\n", 10).unwrap_err(),
            "HTTP 500"
        );
        assert!(parse_answer(b"HTTP/1.0 200 OK\r\n\r\n{}", 10).is_err());
        assert_eq!(percent_encode("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }
}
