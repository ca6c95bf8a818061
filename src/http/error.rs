//! The one place where errors become HTTP responses: every refusal, ours or warp's,
//! leaves as a status plus `{"error": {"code", "message", "retryable"}}` with a code from
//! PROTOCOL.md. Handlers reject with [`ApiError`]; [`recover`] answers everything.

use std::convert::Infallible;

use serde_json::json;
use warp::http::StatusCode;
use warp::reject::Reject;
use warp::{Rejection, Reply};

use muster_core::engine::{self, Code};

/// A refusal on its way to the client: the status, the wire code and what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    /// For the user; never a dependency's internals.
    pub message: String,
}

impl Reject for ApiError {}

/// The status that goes with a wire code.
pub fn status_for(code: Code) -> StatusCode {
    StatusCode::from_u16(code.status()).expect("every code's status is an HTTP error status")
}

impl ApiError {
    /// An error whose status follows from its code.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: status_for(code),
            code,
            message: message.into(),
        }
    }

    /// The request cannot be understood (malformed JSON, unknown command kind).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Code::BadRequest, message)
    }

    /// The session is missing, expired or revoked: the client should log in again.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }

    /// The caller's role may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::Forbidden, message)
    }

    /// Nothing there, or nothing the caller may know exists.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// Too many attempts; the client should wait before trying again.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(Code::RateLimited, message)
    }

    /// The event log cannot answer now; a retry may succeed.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    /// The same error with another status (for warp's refusals that have no code of
    /// their own, e.g. 405).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// `{"error": {"code", "message", "retryable"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": {
            "code": self.code,
            "message": self.message,
            "retryable": self.code.retryable(),
        } })
    }

    /// The response this error becomes.
    pub fn to_response(&self) -> warp::reply::Response {
        warp::reply::with_status(warp::reply::json(&self.body()), self.status).into_response()
    }
}

impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// Turns any rejection into the JSON error shape. Our own errors win over warp's, and
/// warp's are mapped to the nearest wire code.
pub async fn recover(rejection: Rejection) -> Result<impl Reply, Infallible> {
    let error = classify(&rejection);
    if error.status.is_server_error() && error.status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(?rejection, "unhandled rejection");
    }
    Ok(error.to_response())
}

fn classify(r: &Rejection) -> ApiError {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };
    if let Some(e) = r.find::<ApiError>() {
        return e.clone();
    }
    if r.is_not_found() {
        return ApiError::not_found("no such path");
    }
    if let Some(e) = r.find::<warp::filters::body::BodyDeserializeError>() {
        let cause = std::error::Error::source(e).map_or_else(|| e.to_string(), |c| c.to_string());
        return ApiError::bad_request(cause);
    }
    if r.find::<PayloadTooLarge>().is_some() {
        return ApiError::new(Code::TooLarge, "the request body is too large");
    }
    if let Some(h) = r.find::<MissingHeader>() {
        return missing_header(h.name());
    }
    if let Some(h) = r.find::<InvalidHeader>() {
        return ApiError::bad_request(format!("invalid header {}", h.name()));
    }
    if r.find::<LengthRequired>().is_some() {
        return ApiError::bad_request("a Content-Length header is required")
            .with_status(StatusCode::LENGTH_REQUIRED);
    }
    if r.find::<UnsupportedMediaType>().is_some() {
        return ApiError::bad_request("send the body as application/json")
            .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    if r.find::<InvalidQuery>().is_some() {
        return ApiError::bad_request("invalid query string");
    }
    if r.find::<MethodNotAllowed>().is_some() {
        return ApiError::bad_request("this method is not allowed on this path")
            .with_status(StatusCode::METHOD_NOT_ALLOWED);
    }
    ApiError::new(Code::Unavailable, "the server could not handle the request")
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
}

fn missing_header(name: &str) -> ApiError {
    if name.eq_ignore_ascii_case("authorization") {
        ApiError::unauthorized("log in first: send Authorization: Bearer <token>")
    } else {
        ApiError::bad_request(format!("missing header {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(r: Rejection) -> (StatusCode, serde_json::Value) {
        let res = recover(r).await.unwrap().into_response();
        let status = res.status();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn engine_codes_map_to_their_statuses() {
        let cases = [
            (engine::Error::BadRequest("x".into()), 400),
            (engine::Error::Forbidden("x".into()), 403),
            (engine::Error::not_found("incident", "inc_1"), 404),
            (
                engine::Error::InvalidTransition {
                    entity: "incident",
                    from: "new".into(),
                    to: "closed".into(),
                },
                409,
            ),
            (engine::Error::validation("text", "empty"), 422),
            (
                engine::Error::ProcedureViolation {
                    rule: "r".into(),
                    message: "m".into(),
                },
                422,
            ),
            (engine::Error::Conflict("x".into()), 409),
            (engine::Error::Unavailable("x".into()), 503),
        ];
        for (e, status) in cases {
            let code = e.code();
            let api = ApiError::from(e);
            assert_eq!(api.status.as_u16(), status, "{code}");
            assert_eq!(api.code, code);
        }
        assert_eq!(status_for("rate_limited".parse().unwrap()).as_u16(), 429);
        assert_eq!(status_for("too_large".parse().unwrap()).as_u16(), 413);
        assert_eq!(status_for("unauthorized".parse().unwrap()).as_u16(), 401);
    }

    #[tokio::test]
    async fn every_rejection_becomes_the_error_shape() {
        let (s, b) = answer(warp::reject::not_found()).await;
        assert_eq!(
            (s.as_u16(), b["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        let (s, b) = answer(ApiError::rate_limited("slow down").into()).await;
        assert_eq!(s.as_u16(), 429);
        assert_eq!(b["error"]["message"], "slow down");
    }
}
