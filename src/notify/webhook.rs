//! The webhook channel: a POST of a JSON message to a gateway (an SMS or e-mail
//! provider's relay), `http://` or `https://`, through the hub's one HTTP client
//! (`crate::outbound`).

use std::time::Duration;

use reqwest::Url;

use crate::config::NotifySettings;
use crate::outbound::{self, BadUrl, NoClient};

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

/// A configured gateway: where to POST and how long to wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub url: Url,
    pub timeout: Duration,
}

impl Webhook {
    /// Parses `http(s)://host[:port][/path]`.
    pub fn parse(url: &str, timeout: Duration) -> Result<Webhook, WebhookError> {
        Ok(Webhook {
            url: outbound::parse_url(url)?,
            timeout,
        })
    }

    /// The gateway the settings configure, if any (an invalid URL is reported when the
    /// settings are validated).
    pub fn from_settings(settings: &NotifySettings) -> Option<Webhook> {
        if settings.webhook_url.is_empty() {
            return None;
        }
        let timeout = Duration::from_millis(settings.webhook_timeout_ms);
        Webhook::parse(&settings.webhook_url, timeout).ok()
    }

    /// POSTs `body` (JSON). `Ok` carries the gateway's status (`HTTP 200`) when it
    /// answered 2xx; anything else is an error saying what went wrong.
    pub async fn post(&self, body: &str) -> Result<String, WebhookError> {
        let host = || outbound::host_of(&self.url);
        let response = outbound::client()?
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    WebhookError::Timeout(host(), self.timeout.as_millis())
                } else if e.is_connect() {
                    WebhookError::Connect(host(), outbound::describe(&e))
                } else {
                    WebhookError::Io(host(), outbound::describe(&e))
                }
            })?;
        let code = response.status().as_u16();
        if response.status().is_success() {
            Ok(format!("HTTP {code}"))
        } else {
            Err(WebhookError::Refused(format!("HTTP {code}")))
        }
    }
}
