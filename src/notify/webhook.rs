//! The webhook channel: an HTTP/1.1 POST of a JSON message to a gateway (an SMS or
//! e-mail provider's relay). Written by hand over a TCP stream because it is one
//! request with a short timeout and the crate needs no HTTP client for anything else.
//! Plain `http://` only: a gateway on the local network or behind a TLS-terminating
//! relay.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{BadWebhookUrl, NotifySettings, split_webhook_url};

/// Why a delivery attempt failed; the text is what the `notification.failed` event says.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error(transparent)]
    BadUrl(#[from] BadWebhookUrl),
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
    /// `host:port`, for connecting and the `Host` header.
    pub authority: String,
    /// The request target, starting with `/`.
    pub path: String,
    pub timeout: Duration,
}

impl Webhook {
    /// Parses `http://host[:port][/path]` (port 80 when omitted).
    pub fn parse(url: &str, timeout: Duration) -> Result<Webhook, WebhookError> {
        let (authority, path) = split_webhook_url(url)?;
        Ok(Webhook {
            authority,
            path,
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
        match tokio::time::timeout(self.timeout, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(WebhookError::Timeout(
                self.authority.clone(),
                self.timeout.as_millis(),
            )),
        }
    }

    async fn exchange(&self, body: &str) -> Result<String, WebhookError> {
        let io = |e: std::io::Error| WebhookError::Io(self.authority.clone(), e.to_string());
        let mut stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| WebhookError::Connect(self.authority.clone(), e.to_string()))?;
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: muster\r\n\r\n{}",
            self.path,
            self.authority,
            body.len(),
            body
        );
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        stream.flush().await.map_err(io)?;
        let status = read_status_line(&mut stream).await.map_err(io)?;
        let code = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| WebhookError::Refused(format!("a malformed status line {status:?}")))?;
        if (200..300).contains(&code) {
            Ok(format!("HTTP {code}"))
        } else {
            Err(WebhookError::Refused(format!("HTTP {code}")))
        }
    }
}

/// Reads up to the first CRLF (at most 1 KiB): all the sender needs of the answer.
async fn read_status_line(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(64);
    let mut byte = [0u8; 1];
    while buf.len() < 1024 {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        if byte[0] == b'\n' {
            break;
        }
        buf.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&buf).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gateway_urls() {
        let t = Duration::from_secs(1);
        let w = Webhook::parse("http://127.0.0.1:9000/sms/send", t).unwrap();
        assert_eq!(w.authority, "127.0.0.1:9000");
        assert_eq!(w.path, "/sms/send");
        assert_eq!(Webhook::parse("http://gw", t).unwrap().authority, "gw:80");
        assert!(Webhook::parse("https://gw/x", t).is_err());
        assert!(Webhook::parse("http://gw:port/x", t).is_err());
    }
}
