//! `GET /api/places?q=` (the centre's gazetteer) and `GET /api/geocode?q=` (a
//! Nominatim-compatible search API the hub asks on the console's behalf, so the
//! browser's CSP stays `connect-src 'self'`).
//!
//! The geocoder (`http://` or `https://`) is asked through the hub's one HTTP client
//! (`crate::outbound`), with the settings' timeout and a bounded answer.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::Rejection;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::ApiError;
use super::handlers::json_reply;
use crate::http::App;
use crate::hub::tokens::Session;
use crate::outbound;
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
/// Largest geocoder answer read (its body).
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// Geocoder queries in flight at once, for the whole hub: each one is a request to
/// another service (often with a usage policy), made on a client's say-so, so a client
/// typing fast or a hostile one must not turn the hub into a flood.
const MAX_IN_FLIGHT: usize = 4;

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
    let Ok(_permit) = geocoder.in_flight.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            Code::RateLimited,
            "the geocoder is busy with other searches; try again in a moment",
        )
        .into());
    };
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
#[derive(Clone, Debug)]
pub struct Geocoder {
    /// `{url}/search`.
    search: reqwest::Url,
    timeout: Duration,
    /// [`MAX_IN_FLIGHT`] permits; a query without one is refused at once, not queued.
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Geocoder {
    /// The geocoder `url` names (`""` = none); an invalid URL is reported when the
    /// settings are validated.
    pub fn new(url: &str, timeout_ms: u64) -> Option<Geocoder> {
        if url.is_empty() {
            return None;
        }
        let mut search = outbound::parse_url(url).ok()?;
        let path = format!("{}/search", search.path().trim_end_matches('/'));
        search.set_path(&path);
        Some(Geocoder {
            search,
            timeout: Duration::from_millis(timeout_ms),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// `GET {url}/search?format=jsonv2&limit=&q=`. Errors name the host, never the
    /// URL (it may carry a key).
    pub async fn search(&self, q: &str, limit: usize) -> Result<Vec<GeocodeResult>, String> {
        let mut url = self.search.clone();
        url.query_pairs_mut()
            .append_pair("format", "jsonv2")
            .append_pair("limit", &limit.to_string())
            .append_pair("q", q);
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                format!("no answer within {} ms", self.timeout.as_millis())
            } else {
                format!("{}: {}", outbound::host_of(&url), outbound::describe(&e))
            }
        };
        let response = outbound::client()
            .map_err(|e| e.to_string())?
            .get(url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(failed)?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let body = outbound::read_bounded(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                outbound::BodyError::Request(e) => failed(e),
                too_large => too_large.to_string(),
            })?;
        parse_results(&body, limit)
    }
}

/// A JSON array of Nominatim results (`display_name`, `lat` and `lon` as strings or
/// numbers); results without valid coordinates are skipped.
fn parse_results(body: &[u8], limit: usize) -> Result<Vec<GeocodeResult>, String> {
    let body: Vec<serde_json::Value> = serde_json::from_slice(body)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_parsed_checked_and_bounded() {
        let ok = br#"[{"display_name":"Somewhere","lat":"51.5","lon":"-0.12"},{"display_name":"Bad","lat":"95","lon":"0"},{"display_name":"Two","lat":51.6,"lon":-0.1}]"#;
        let got = parse_results(ok, 10).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "Somewhere");
        assert_eq!(parse_results(ok, 1).unwrap().len(), 1);
        assert!(parse_results(b"{}", 10).is_err());
    }

    #[test]
    fn the_search_url_is_below_the_configured_one() {
        let g = Geocoder::new("https://geo.example/nominatim/?key=k", 1000).unwrap();
        assert_eq!(
            g.search.as_str(),
            "https://geo.example/nominatim/search?key=k"
        );
        let g = Geocoder::new("http://127.0.0.1:8088", 1000).unwrap();
        assert_eq!(g.search.as_str(), "http://127.0.0.1:8088/search");
    }
}
