//! The webhook channel: a POST of a JSON message to a gateway (an SMS or e-mail
//! provider's relay), `http://` or `https://`, through the hub's one HTTP client
//! (`crate::outbound`), in the Standard Webhooks 1.0 form:
//!
//! - `webhook-id`: one id per delivery (`msg_<assignment>_<level>_<assigned at>`, see
//!   [`super::webhook_id`]), the same on every retry, so the receiver can drop a
//!   duplicate;
//! - `webhook-timestamp`: the attempt's time, unix seconds;
//! - `webhook-signature`: `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">` with
//!   the key of `notify.webhook_secret` (`whsec_<base64>`), when one is set.
//!
//! Extra headers from `notify.webhook_headers` (a provider's `Authorization`) go on
//! every attempt, marked sensitive; neither they nor the URL reach a log or an error.
//!
//! A connect error, a timeout, `408`, `429` or `5xx` is tried again after a wait (the
//! backoff doubles from `notify.webhook_backoff_ms`, a `Retry-After` answer wins), up to
//! `notify.webhook_max_attempts` and 5 minutes of waiting in all; any other answer, and
//! a certificate the hub does not trust, is final.

use std::time::Duration;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use reqwest::Url;
use reqwest::header::HeaderMap;

use crate::config::{NotifySettings, extra_headers, parse_secret};
use crate::outbound::{self, BadUrl, NoClient};

/// The longest a delivery waits between its attempts in all: past it, it has failed.
const MAX_TOTAL_WAIT: Duration = Duration::from_secs(300);
/// The longest wait between two attempts the hub's own backoff reaches.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest `Retry-After` the hub waits for; a gateway asking for more has failed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a delivery attempt failed; the text is what the `notification.failed` event says.
/// It names the gateway's host and port, never its URL (which may carry a token).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("bad webhook URL: {0}")]
    BadUrl(#[from] BadUrl),
    #[error(transparent)]
    NoClient(#[from] NoClient),
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    #[error("talking to {0}: {1}")]
    Io(String, String),
    #[error("no answer from {0} within {1} ms")]
    Timeout(String, u128),
    #[error("the gateway answered {0}")]
    Refused(String),
}

impl WebhookError {
    /// Whether another attempt may go better: the network, not the request itself nor
    /// a certificate the hub does not trust.
    fn retryable(&self) -> bool {
        match self {
            WebhookError::Connect(_, why) => !why.to_lowercase().contains("certificate"),
            WebhookError::Io(..) | WebhookError::Timeout(..) => true,
            WebhookError::BadUrl(_) | WebhookError::NoClient(_) | WebhookError::Refused(_) => false,
        }
    }
}

/// After an attempt: done, or try again (after the wait the gateway asked for, if it
/// did).
enum Retry {
    No,
    After(Option<Duration>),
}

/// The final outcome of a delivery: what the gateway answered (`HTTP 200`) or why it
/// failed, and how many attempts it took.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<String, WebhookError>,
    pub attempts: u32,
}

/// A configured gateway: where to POST, how, and how often to try. Its `Debug` form
/// names the host only and hides the key and the headers' values.
#[derive(Clone)]
pub struct Webhook {
    pub url: Url,
    pub timeout: Duration,
    /// The signing key (the decoded part of `whsec_…`); `None` = unsigned.
    key: Option<Vec<u8>>,
    /// `notify.webhook_headers`, values marked sensitive.
    headers: HeaderMap,
    max_attempts: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &outbound::host_of(&self.url))
            .field("timeout", &self.timeout)
            .field("signed", &self.key.is_some())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl Webhook {
    /// Parses `http(s)://host[:port][/path]`: an unsigned gateway without extra headers,
    /// tried once.
    pub fn parse(url: &str, timeout: Duration) -> Result<Webhook, WebhookError> {
        Ok(Webhook {
            url: outbound::parse_url(url)?,
            timeout,
            key: None,
            headers: HeaderMap::new(),
            max_attempts: 1,
            backoff: Duration::from_secs(1),
        })
    }

    /// The same gateway tried up to `max_attempts` times, the first retry after
    /// `backoff`.
    pub fn with_retries(mut self, max_attempts: u32, backoff: Duration) -> Webhook {
        self.max_attempts = max_attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// The gateway the settings configure, if any (invalid settings are reported when
    /// the settings are validated, and the hub does not start).
    pub fn from_settings(settings: &NotifySettings) -> Option<Webhook> {
        if settings.webhook_url.is_empty() {
            return None;
        }
        let timeout = Duration::from_millis(settings.webhook_timeout_ms);
        let mut webhook = Webhook::parse(&settings.webhook_url, timeout).ok()?;
        if !settings.webhook_secret.is_empty() {
            webhook.key = Some(parse_secret(settings.webhook_secret.expose()).ok()?);
        }
        webhook.headers = extra_headers(settings).ok()?;
        webhook.max_attempts = settings.webhook_max_attempts.max(1);
        webhook.backoff = Duration::from_millis(settings.webhook_backoff_ms);
        Some(webhook)
    }

    /// Delivers `body` (JSON) under `id` (the `webhook-id`), retrying as the module
    /// says. Returns once: delivered (a 2xx) or failed for good.
    pub async fn deliver(&self, id: &str, body: &str) -> Outcome {
        let mut attempts = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            let (result, retry) = self.attempt(id, body).await;
            let retry_after = match retry {
                Retry::After(asked) if attempts < self.max_attempts => asked,
                _ => return Outcome { result, attempts },
            };
            let backoff = self
                .backoff
                .saturating_mul(1 << (attempts - 1).min(16))
                .min(MAX_BACKOFF);
            let wait = match retry_after {
                Some(asked) if asked > MAX_RETRY_AFTER => return Outcome { result, attempts },
                Some(asked) => asked,
                None => backoff,
            };
            waited += wait;
            if waited > MAX_TOTAL_WAIT {
                return Outcome { result, attempts };
            }
            tracing::debug!(
                webhook_id = id,
                attempts,
                wait_ms = wait.as_millis() as u64,
                "webhook delivery to retry"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One POST. `Ok` carries the gateway's status (`HTTP 200`) when it answered 2xx;
    /// `Err(Refused)` says which status. With it, whether to try again and after what
    /// wait the gateway asked for (`Retry-After`), if any.
    async fn attempt(&self, id: &str, body: &str) -> (Result<String, WebhookError>, Retry) {
        let host = || outbound::host_of(&self.url);
        let client = match outbound::client() {
            Ok(c) => c,
            Err(e) => return (Err(e.into()), Retry::No),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let mut request = client
            .post(self.url.clone())
            .timeout(self.timeout)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(key) = &self.key {
            request = request.header("webhook-signature", sign(key, id, timestamp, body));
        }
        let response = match request.body(body.to_string()).send().await {
            Ok(r) => r,
            Err(e) => {
                let error = if e.is_timeout() {
                    WebhookError::Timeout(host(), self.timeout.as_millis())
                } else if e.is_connect() {
                    WebhookError::Connect(host(), outbound::describe(&e))
                } else {
                    WebhookError::Io(host(), outbound::describe(&e))
                };
                let retry = if error.retryable() {
                    Retry::After(None)
                } else {
                    Retry::No
                };
                return (Err(error), retry);
            }
        };
        let status = response.status();
        let code = status.as_u16();
        if status.is_success() {
            return (Ok(format!("HTTP {code}")), Retry::No);
        }
        let refused = Err(WebhookError::Refused(format!("HTTP {code}")));
        if matches!(code, 408 | 429) || status.is_server_error() {
            let asked = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after);
            return (refused, Retry::After(asked));
        }
        (refused, Retry::No)
    }
}

/// The delay a `Retry-After` value asks for: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The `webhook-signature` value for one attempt: `v1,<base64 HMAC-SHA256>` over
/// `{id}.{timestamp}.{body}`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_secret;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // The specification's reference libraries' vector (standard-webhooks, and
        // svix's tests): this secret, id, timestamp and body sign to this value.
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_base64_of_24_to_64_bytes() {
        assert_eq!(
            parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap()
                .len(),
            24
        );
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_c2hvcnQ=",
            "whsec_",
        ] {
            let err = parse_secret(bad).unwrap_err();
            assert!(!err.contains("MfKQ"), "{err}");
        }
    }

    #[test]
    fn the_debug_form_shows_no_secret() {
        let mut settings = NotifySettings {
            webhook_url: "https://gw.example/sms?token=t0k3n".into(),
            webhook_secret: crate::config::Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ..NotifySettings::default()
        };
        settings.webhook_headers.insert(
            "Authorization".into(),
            crate::config::Secret::new("Bearer s3cr3t"),
        );
        let webhook = format!("{:?}", Webhook::from_settings(&settings).unwrap());
        for secret in ["t0k3n", "MfKQ9r8", "s3cr3t", "49, 242, 144"] {
            assert!(!webhook.contains(secret), "{secret} in {webhook}");
        }
        assert!(webhook.contains("gw.example:443"), "{webhook}");
        // The settings hide the secrets (a token in the URL is the operator's choice).
        let settings = format!("{settings:?}");
        for secret in ["MfKQ9r8", "s3cr3t"] {
            assert!(!settings.contains(secret), "{secret} in {settings}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn extra_headers_are_checked_and_sensitive() {
        let mut settings = NotifySettings::default();
        settings.webhook_headers.insert(
            "Authorization".into(),
            crate::config::Secret::new("Bearer abc"),
        );
        let headers = extra_headers(&settings).unwrap();
        assert!(headers["authorization"].is_sensitive());
        settings
            .webhook_headers
            .insert("webhook-id".into(), crate::config::Secret::new("x"));
        assert!(extra_headers(&settings).is_err());
        settings.webhook_headers.clear();
        settings
            .webhook_headers
            .insert("X-Key".into(), crate::config::Secret::new("a\nb"));
        let (path, message) = extra_headers(&settings).unwrap_err();
        assert_eq!(path, "notify.webhook_headers.X-Key");
        assert!(!message.contains("a\nb"));
    }
}
